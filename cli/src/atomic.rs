//! Replacing a file atomically: a reader (the broker, another command) sees the old contents or
//! the new, never a mix, and a crash or a full disk leaves the old contents in place.
//!
//! The bytes go to a temporary file beside the target (same directory, so the same file
//! system), which is flushed to disk and renamed over the target; the directory is flushed after
//! that so the rename itself survives a crash. The target keeps its permission bits and, on Unix,
//! its owner and group. A target that is a symbolic link is followed: the file it points to is
//! replaced and the link stays a link. A failure before the rename removes the temporary file.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// How many temporary names to try before giving up (each try fails only when a file of that
/// name exists already, such as one left by a process killed mid-write).
const NAME_TRIES: u32 = 64;

/// Replaces the file at `path` with `bytes`, or creates it.
///
/// An error before the rename leaves `path` as it was. An error from flushing the directory
/// after the rename says so: the new contents are in place but may not survive a crash.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |file| file.write_all(bytes))
}

/// [`write`] with the temporary file's contents written by `fill`.
fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let target = resolve(path)?;
    let existing = match fs::metadata(&target) {
        Ok(metadata) => Some(metadata),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let dir = directory(&target);
    let mut temp = Temp::create(&dir, &target, existing.is_some())?;
    if let Some(metadata) = &existing {
        keep_owner_and_mode(&temp.file, metadata)?;
    }
    fill(&mut temp.file)?;
    temp.file.sync_all()?;
    fs::rename(&temp.path, &target)?;
    temp.renamed = true;
    sync_directory(&dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("replaced, but the directory could not be flushed to disk: {e}"),
        )
    })
}

/// The file to replace: `path`, or where it leads when it is a symbolic link.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_owned()),
    }
}

/// The directory holding `target` (`.` for a bare file name).
fn directory(target: &Path) -> PathBuf {
    match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A temporary file that removes itself unless it was renamed.
struct Temp {
    path: PathBuf,
    file: File,
    renamed: bool,
}

impl Temp {
    /// Creates `.<name>.<pid>.<n>.tmp` in `dir`, never opening a file that exists already.
    ///
    /// A file that will replace an existing one starts readable by its owner only and gets the
    /// target's mode before anything is written; a new file gets the usual mode for new files
    /// (read and write for all, less the umask).
    fn create(dir: &Path, target: &Path, replacing: bool) -> io::Result<Temp> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut last = None;
        for _ in 0..NAME_TRIES {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(if replacing { 0o600 } else { 0o666 });
            }
            #[cfg(not(unix))]
            let _ = replacing;
            match options.open(&path) {
                Ok(file) => {
                    return Ok(Temp {
                        path,
                        file,
                        renamed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.renamed {
            // Best effort: the error that got us here is the one to report.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Gives the temporary file the target's owner, group and permission bits.
#[cfg(unix)]
fn keep_owner_and_mode(file: &File, target: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::{fchown, MetadataExt, PermissionsExt};
    let temp = file.metadata()?;
    if (temp.uid(), temp.gid()) != (target.uid(), target.gid()) {
        fchown(file, Some(target.uid()), Some(target.gid()))?;
    }
    file.set_permissions(fs::Permissions::from_mode(target.mode() & 0o7777))
}

/// Gives the temporary file the target's permissions.
#[cfg(not(unix))]
fn keep_owner_and_mode(file: &File, target: &Metadata) -> io::Result<()> {
    file.set_permissions(target.permissions())
}

/// Flushes a directory's entries (the rename) to disk.
#[cfg(unix)]
fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened as files here; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_directory(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory.
    fn scratch() -> PathBuf {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqward-atomic-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_and_replaces() {
        let dir = scratch();
        let path = dir.join("registry.json");
        write(&path, b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write(&path, b"two, longer").unwrap();
        write(&path, b"3").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"3");
        assert_eq!(names(&dir), ["registry.json"]);
    }

    #[test]
    fn a_failed_write_keeps_the_target_and_leaves_no_temporary_file() {
        let dir = scratch();
        let path = dir.join("store.json");
        fs::write(&path, b"original").unwrap();
        let err = write_with(&path, |file| {
            file.write_all(b"half a ")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"original");
        assert_eq!(names(&dir), ["store.json"]);

        // The same for a file that did not exist: nothing is left behind.
        let new = dir.join("new.json");
        assert!(write_with(&new, |_| Err(io::Error::other("no"))).is_err());
        assert_eq!(names(&dir), ["store.json"]);
    }

    #[test]
    fn a_missing_directory_or_a_directory_target_is_an_error() {
        let dir = scratch();
        assert!(write(&dir.join("absent").join("f.json"), b"x").is_err());
        fs::create_dir(dir.join("sub")).unwrap();
        let err = write(&dir.join("sub"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(names(&dir), ["sub"]);
    }

    #[cfg(unix)]
    #[test]
    fn mode_is_preserved() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch();
        let path = dir.join("registry.json");
        for mode in [0o640, 0o600, 0o604] {
            fs::write(&path, b"old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            write(&path, b"new").unwrap();
            let after = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(after, mode, "{mode:o}");
            assert_eq!(fs::read(&path).unwrap(), b"new");
        }
    }

    #[cfg(unix)]
    #[test]
    fn owner_is_preserved_where_it_can_be_set() {
        use std::os::unix::fs::{chown, MetadataExt};
        let dir = scratch();
        let path = dir.join("registry.json");
        fs::write(&path, b"old").unwrap();
        // Only the superuser may give a file away; elsewhere the owner is the writer anyway.
        if chown(&path, Some(4242), Some(4343)).is_err() {
            return;
        }
        write(&path, b"new").unwrap();
        let metadata = fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (4242, 4343));
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = scratch();
        let real = dir.join("real.json");
        let link = dir.join("link.json");
        fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(names(&dir), ["link.json", "real.json"]);
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(directory(Path::new("r.json")), PathBuf::from("."));
        assert_eq!(directory(Path::new("a/r.json")), PathBuf::from("a"));
    }
}
