//! The certificate registry file, kept in step with the engine from the broker thread in
//! bounded steps (see [`crate::upkeep`]): no thread of its own, because a second thread in the
//! broker's process switches glibc to its multi-threaded paths (locked `malloc`, cancellable
//! system calls), which cost Mosquitto more than the whole plugin does (measured: +10-15% CPU
//! per message for an idle thread).
//!
//! - **Watching**: when the file changes (its size, time or inode), the suspensions,
//!   reactivations and revocations an operator wrote to it (`mqward cert suspend ...`) are
//!   applied to the engine, which ends the sessions of suspended and revoked certificates.
//! - **Saving**: certificate state changes the engine reports (a first use activates a
//!   certificate) are merged into the file as it is on disk with [`Registry::apply`], which
//!   refuses a change an operator's suspension or revocation raced, so an operator's change made
//!   meanwhile is never overwritten; the file is then replaced atomically (a temporary file in
//!   the same directory, flushed, renamed over the old one, the directory flushed), keeping its
//!   mode. One small write at most per upkeep round.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use mqward_core::authn::registry::{CertState, Registry, StateChange};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{CertAction, Engine};

use crate::clock;
use crate::log::Level;

/// The most state changes kept for a registry file that cannot be written; older ones are
/// dropped (with a log line): the certificates stay active in memory either way.
const MAX_UNSAVED: usize = 10_000;

/// A log line to write.
pub type Line = (Level, String);

/// What identifies a version of a file: replacing it by rename changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        })
    }
}

/// The registry file and what is still to be written to it.
#[derive(Debug, Default)]
pub struct RegistryFile {
    path: Option<PathBuf>,
    seen: Option<Stamp>,
    unsaved: Vec<StateChange>,
}

impl RegistryFile {
    /// The registry at `path` (none when the configuration names none). The file as it is now
    /// is what the engine loaded: only later changes are applied.
    pub fn new(path: Option<PathBuf>) -> RegistryFile {
        let seen = path.as_deref().and_then(Stamp::of);
        RegistryFile {
            path,
            seen,
            unsaved: Vec::new(),
        }
    }

    /// The file after a reload (which read it).
    pub fn reloaded(&mut self, path: Option<PathBuf>) {
        self.seen = path.as_deref().and_then(Stamp::of);
        self.path = path;
    }

    /// Queues state changes to write.
    pub fn record(&mut self, changes: impl IntoIterator<Item = StateChange>) {
        if self.path.is_some() {
            self.unsaved.extend(changes);
        }
    }

    /// Applies the operator's changes in the file to the engine, if the file changed.
    pub fn watch(&mut self, engine: &Engine) -> Vec<Line> {
        let Some(path) = self.path.clone() else {
            return Vec::new();
        };
        let stamp = Stamp::of(&path);
        if stamp == self.seen {
            return Vec::new();
        }
        self.seen = stamp;
        if stamp.is_none() {
            return Vec::new();
        }
        let shown = path.display().to_string();
        let file = match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Registry::parse(&shown, &bytes).map_err(|e| e.to_string()))
        {
            Ok(file) => file,
            Err(e) => {
                return vec![(
                    Level::Warning,
                    format!("mqward: registry `{shown}` not applied: {e}"),
                )]
            }
        };
        apply(engine, &file, &shown)
    }

    /// Merges the queued changes into the file. The operator's changes in the file it merged
    /// into are applied to the engine here: the watcher will not see them, the file's new stamp
    /// being this write's.
    pub fn save(&mut self, engine: &Engine) -> Vec<Line> {
        let Some(path) = self.path.clone() else {
            self.unsaved.clear();
            return Vec::new();
        };
        if self.unsaved.is_empty() {
            return Vec::new();
        }
        match merge(&path, &self.unsaved) {
            Ok(Merged { raced: true, .. }) => {
                // The file changed while it was merged: the watcher applies that change first,
                // the next round merges again.
                Vec::new()
            }
            Ok(Merged {
                stamp,
                refused,
                before,
                raced: false,
            }) => {
                self.unsaved.clear();
                let mut lines = Vec::new();
                if stamp.is_some() {
                    // Our own write: nothing for the watcher to apply, so what the operator
                    // wrote before it is applied now.
                    self.seen = stamp;
                    lines.extend(apply(engine, &before, &path.display().to_string()));
                }
                lines.extend(refused.into_iter().map(|(change, why)| {
                    (
                        Level::Notice,
                        format!(
                            "mqward: certificate {} not recorded as {}: {why}",
                            change.fingerprint, change.to
                        ),
                    )
                }));
                lines
            }
            Err(e) => {
                if self.unsaved.len() > MAX_UNSAVED {
                    let extra = self.unsaved.len() - MAX_UNSAVED;
                    self.unsaved.drain(..extra);
                }
                vec![(
                    Level::Error,
                    format!(
                        "mqward: cannot write the registry `{}`: {e}; will try again",
                        path.display()
                    ),
                )]
            }
        }
    }
}

/// Applies to the engine the suspensions, reactivations and revocations `file` holds.
fn apply(engine: &Engine, file: &Registry, shown: &str) -> Vec<Line> {
    {
        let Ok(current) = Registry::parse("engine", &engine.registry_json()) else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for (fingerprint, action) in changes(&current, file) {
            let Some(action) = action else {
                lines.push((
                    Level::Notice,
                    format!(
                        "mqward: certificate {fingerprint} was registered in `{shown}` after the \
                         configuration was loaded; it is accepted after the next reload (SIGHUP)"
                    ),
                ));
                continue;
            };
            let what = match action {
                CertAction::Suspend => "suspended",
                CertAction::Reactivate => "reactivated",
                CertAction::Revoke => "revoked",
            };
            lines.push(match engine.set_certificate_state(&fingerprint, action) {
                Ok(_) => (
                    Level::Notice,
                    format!("mqward: certificate {fingerprint} {what} by `{shown}`"),
                ),
                Err(e) => (
                    Level::Warning,
                    format!("mqward: certificate {fingerprint} not {what}: {e}"),
                ),
            });
        }
        lines
    }
}

/// The engine actions that bring `current` (the engine's registry) to what `file` says, per
/// certificate; `None` for a certificate the engine does not know (registered after loading).
fn changes(current: &Registry, file: &Registry) -> BTreeMap<Fingerprint, Option<CertAction>> {
    let mut out = BTreeMap::new();
    for (fingerprint, entry) in file.iter() {
        let want = entry.state();
        let action = match current.state(fingerprint) {
            None => None,
            Some(have) if have == want => continue,
            Some(CertState::Revoked) => continue,
            Some(_) if want == CertState::Revoked => Some(CertAction::Revoke),
            Some(_) if want == CertState::Suspended => Some(CertAction::Suspend),
            Some(CertState::Suspended) => Some(CertAction::Reactivate),
            // Inactive and active differ only by a first use: nothing to apply.
            Some(_) => continue,
        };
        out.insert(*fingerprint, action);
    }
    out
}

/// What merging changes into the registry file did.
#[derive(Debug)]
struct Merged {
    /// The file's new stamp, if it was written.
    stamp: Option<Stamp>,
    /// The changes the file refused, and why.
    refused: Vec<(StateChange, String)>,
    /// The file as it was read, before the changes.
    before: Registry,
    /// The file changed between reading and replacing it: nothing was written.
    raced: bool,
}

/// Merges changes into the registry file.
fn merge(path: &Path, changes: &[StateChange]) -> Result<Merged, String> {
    let shown = path.display().to_string();
    let read_at = Stamp::of(path);
    let before = match fs::read(path) {
        Ok(bytes) => Registry::parse(&shown, &bytes).map_err(|e| e.to_string())?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Registry::new(),
        Err(e) => return Err(e.to_string()),
    };
    let mut after = before.clone();
    let mut refused = Vec::new();
    for change in changes {
        if let Err(e) = after.apply(change) {
            refused.push((change.clone(), e.to_string()));
        }
    }
    if after == before {
        return Ok(Merged {
            stamp: None,
            refused,
            before,
            raced: false,
        });
    }
    // An operator's write between this read and the rename would be lost: the file must still
    // be the one read (and its stamp taken before reading it, so a write during the read counts).
    let unchanged = || Stamp::of(path) == read_at;
    match replace_if(path, &after.to_json(), unchanged) {
        Ok(true) => Ok(Merged {
            stamp: Stamp::of(path),
            refused,
            before,
            raced: false,
        }),
        Ok(false) => Ok(Merged {
            stamp: None,
            refused: Vec::new(),
            before,
            raced: true,
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces a file atomically with new contents, keeping its permission bits, if `unchanged`
/// still holds just before the rename; gives whether it replaced the file.
fn replace_if(path: &Path, bytes: &[u8], unchanged: impl Fn() -> bool) -> io::Result<bool> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = fs::metadata(path).ok().map(|m| permissions(&m));
    let suffix = clock::random::<8>().map_err(io::Error::other)?;
    let temp = dir.join(format!(
        ".{name}.{}.tmp",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode.unwrap_or(0o644));
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if !unchanged() {
            return Ok(false);
        }
        fs::rename(&temp, path).map(|()| true)
    })();
    if !matches!(written, Ok(true)) {
        let _ = fs::remove_file(&temp);
        return written;
    }
    // The rename is done; flushing the directory makes it survive a crash.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .or(Ok(()))
        .map(|()| true)
}

#[cfg(unix)]
fn permissions(m: &fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn permissions(_m: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mqward-mosq-persist-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fp(n: u8) -> Fingerprint {
        Fingerprint::from_bytes([n; 32])
    }

    fn registry(entries: &[(u8, CertState)]) -> Registry {
        let mut r = Registry::new();
        for (n, state) in entries {
            r.register(fp(*n), None).unwrap();
            match state {
                CertState::Inactive => {}
                CertState::Active => {
                    r.reactivate(&fp(*n)).unwrap();
                }
                CertState::Suspended => {
                    r.suspend(&fp(*n)).unwrap();
                }
                CertState::Revoked => {
                    r.revoke(&fp(*n)).unwrap();
                }
                _ => unreachable!(),
            }
        }
        r
    }

    #[test]
    fn the_file_decides_suspension_reactivation_and_revocation() {
        use CertState::*;
        let current = registry(&[
            (1, Active),
            (2, Suspended),
            (3, Active),
            (4, Revoked),
            (5, Inactive),
        ]);
        let file = registry(&[
            (1, Suspended),
            (2, Active),
            (3, Revoked),
            (4, Active),
            (5, Active),
            (6, Inactive),
        ]);
        let got = changes(&current, &file);
        let want: BTreeMap<Fingerprint, Option<CertAction>> = [
            (fp(1), Some(CertAction::Suspend)),
            (fp(2), Some(CertAction::Reactivate)),
            (fp(3), Some(CertAction::Revoke)),
            (fp(6), None),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
        assert!(changes(&file, &file).is_empty());
    }

    #[test]
    fn without_a_file_nothing_is_kept_or_written() {
        let mut r = RegistryFile::new(None);
        r.record([StateChange {
            fingerprint: fp(1),
            from: Some(CertState::Inactive),
            to: CertState::Active,
        }]);
        assert!(r.unsaved.is_empty());
        let engine = Engine::from_json(br#"{"version": 1}"#).unwrap();
        assert!(r.save(&engine).is_empty());
    }

    #[test]
    fn merging_keeps_what_an_operator_wrote_meanwhile() {
        let dir = dir("merge");
        let path = dir.join("registry.json");
        let first_use = |n| StateChange {
            fingerprint: fp(n),
            from: Some(CertState::Inactive),
            to: CertState::Active,
        };
        // No file yet: an activation of an unregistered certificate is refused, nothing written.
        let merged = merge(&path, &[first_use(1)]).unwrap();
        assert!(merged.stamp.is_none());
        assert_eq!(merged.refused.len(), 1);
        assert!(!path.exists());

        fs::write(
            &path,
            registry(&[(1, CertState::Inactive), (2, CertState::Inactive)]).to_json(),
        )
        .unwrap();
        #[cfg(unix)]
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        // The operator suspended 2 before the plugin wrote 2's first use.
        let mut r = Registry::parse("f", &fs::read(&path).unwrap()).unwrap();
        r.suspend(&fp(2)).unwrap();
        fs::write(&path, r.to_json()).unwrap();
        let merged = merge(&path, &[first_use(1), first_use(2)]).unwrap();
        assert!(merged.stamp.is_some());
        assert_eq!(merged.refused.len(), 1, "{merged:?}");
        let r = Registry::parse("f", &fs::read(&path).unwrap()).unwrap();
        assert_eq!(r.state(&fp(1)), Some(CertState::Active));
        assert_eq!(r.state(&fp(2)), Some(CertState::Suspended));
        #[cfg(unix)]
        assert_eq!(permissions(&fs::metadata(&path).unwrap()), 0o640);
        // Applying again changes nothing and writes nothing.
        let merged = merge(&path, &[first_use(1)]).unwrap();
        assert!(merged.stamp.is_none() && merged.refused.is_empty());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A file that changes before the rename is not replaced, and no temporary is left.
        assert!(!replace_if(&path, b"{}", || false).unwrap());
        assert_ne!(fs::read(&path).unwrap(), b"{}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A broken file is never overwritten.
        fs::write(&path, b"{").unwrap();
        assert!(merge(&path, &[first_use(1)]).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"{");
    }
}
