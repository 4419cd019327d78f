//! The background worker of one plugin instance: everything that may wait on the disk or scan
//! every session runs here, never on the broker thread.
//!
//! Every interval (`plugin_opt_interval_ms`, 250 ms by default) it
//! 1. stores the time for the broker thread and, once a second, ends the sessions whose
//!    credential expired or whose trust duration passed ([`Engine::tick`]);
//! 2. looks at the certificate registry file and applies the suspensions, reactivations and
//!    revocations an operator wrote to it (`mqward cert suspend ...`): their sessions end at
//!    once;
//! 3. takes the engine's events: ended sessions go to the broker thread, which disconnects
//!    their clients at its next tick; certificate state changes (a first use activates a
//!    certificate) are written to the registry file.
//!
//! The registry file is written by merging: read the file as it is now, apply the engine's
//! changes with [`Registry::apply`] (which refuses a change an operator's suspension or
//! revocation raced), and replace the file atomically (a temporary file in the same directory,
//! flushed, renamed over the old one, and the directory flushed), keeping the file's mode.
//! So an operator's change made meanwhile is never overwritten, and a reader never sees half a
//! file.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mqward_core::authn::registry::{CertState, Registry, StateChange};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{CertAction, Engine, Event};

use crate::clock;
use crate::events::Shared;
use crate::log::Level;

/// The most state changes kept for a registry file that cannot be written; older ones are
/// dropped (with a log line): the certificates stay active in memory either way.
const MAX_UNSAVED: usize = 10_000;

/// The worker thread; stopped and joined when dropped.
#[derive(Debug)]
pub struct Worker {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker.
    pub fn spawn(
        engine: Arc<Engine>,
        shared: Arc<Shared>,
        interval: Duration,
        watch: bool,
    ) -> Result<Worker, String> {
        let (stop, stopped) = mpsc::channel();
        let mut state = Round::new(engine, shared, watch);
        let handle = std::thread::Builder::new()
            .name("mqward-worker".to_owned())
            .spawn(move || {
                loop {
                    let last = match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => false,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                    };
                    // A panic in one round is logged and the next round runs.
                    if catch_unwind(AssertUnwindSafe(|| state.run())).is_err() {
                        state.shared.log(
                            Level::Error,
                            "mqward: internal error in the background worker; continuing"
                                .to_owned(),
                        );
                    }
                    if last {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the background worker: {e}"))?;
        Ok(Worker {
            stop: Some(stop),
            handle: Some(handle),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The last round persists what is left.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

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

/// One worker's state between rounds.
struct Round {
    engine: Arc<Engine>,
    shared: Arc<Shared>,
    watch: bool,
    last_second: u64,
    last_ticks: u64,
    seen: Option<Stamp>,
    unsaved: Vec<StateChange>,
}

impl Round {
    fn new(engine: Arc<Engine>, shared: Arc<Shared>, watch: bool) -> Round {
        Round {
            engine,
            shared,
            watch,
            last_second: 0,
            last_ticks: 0,
            seen: None,
            unsaved: Vec::new(),
        }
    }

    fn run(&mut self) {
        let now = clock::now();
        self.shared.set_now(now);
        if now != self.last_second {
            self.last_second = now;
            self.engine.tick(now);
        }
        let ticks = self.shared.ticks();
        self.shared.set_ticking(ticks != self.last_ticks);
        self.last_ticks = ticks;

        let registry = self.shared.registry();
        if self.watch {
            if let Some(path) = &registry {
                self.watch(path);
            }
        }
        let mut ended = Vec::new();
        for event in self.engine.drain_events() {
            match event {
                Event::Disconnect {
                    session, reason, ..
                } => ended.push((session, reason)),
                Event::StateChanged(change) => self.unsaved.push(change),
                _ => {}
            }
        }
        self.shared.push_ended(ended);
        match &registry {
            Some(path) if !self.unsaved.is_empty() => self.save(path),
            Some(_) => {}
            // Nowhere to persist: the changes live in memory only.
            None => self.unsaved.clear(),
        }
    }

    /// Applies the operator's changes in the registry file to the engine.
    fn watch(&mut self, path: &Path) {
        let stamp = Stamp::of(path);
        if stamp == self.seen {
            return;
        }
        self.seen = stamp;
        if stamp.is_none() {
            return;
        }
        let shown = path.display().to_string();
        let file = match fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Registry::parse(&shown, &bytes).map_err(|e| e.to_string()))
        {
            Ok(file) => file,
            Err(e) => {
                self.shared.log(
                    Level::Warning,
                    format!("mqward: registry `{shown}` not applied: {e}"),
                );
                return;
            }
        };
        let current = match Registry::parse("engine", &self.engine.registry_json()) {
            Ok(r) => r,
            Err(_) => return,
        };
        for (fingerprint, action) in changes(&current, &file) {
            let Some(action) = action else {
                self.shared.log(
                    Level::Notice,
                    format!(
                        "mqward: certificate {fingerprint} was registered in `{shown}` after the \
                         configuration was loaded; it is accepted after the next reload (SIGHUP)"
                    ),
                );
                continue;
            };
            let what = match action {
                CertAction::Suspend => "suspended",
                CertAction::Reactivate => "reactivated",
                CertAction::Revoke => "revoked",
            };
            match self.engine.set_certificate_state(&fingerprint, action) {
                Ok(_) => self.shared.log(
                    Level::Notice,
                    format!("mqward: certificate {fingerprint} {what} by `{shown}`"),
                ),
                Err(e) => self.shared.log(
                    Level::Warning,
                    format!("mqward: certificate {fingerprint} not {what}: {e}"),
                ),
            }
        }
    }

    /// Merges the unsaved changes into the registry file.
    fn save(&mut self, path: &Path) {
        match merge(path, &self.unsaved) {
            Ok(Merged { stamp, refused }) => {
                for (change, why) in refused {
                    self.shared.log(
                        Level::Notice,
                        format!(
                            "mqward: certificate {} not recorded as {}: {why}",
                            change.fingerprint, change.to
                        ),
                    );
                }
                self.unsaved.clear();
                if stamp.is_some() {
                    // Our own write: nothing for the watcher to apply.
                    self.seen = stamp;
                }
            }
            Err(e) => {
                self.shared.log(
                    Level::Error,
                    format!(
                        "mqward: cannot write the registry `{}`: {e}; will try again",
                        path.display()
                    ),
                );
                if self.unsaved.len() > MAX_UNSAVED {
                    let extra = self.unsaved.len() - MAX_UNSAVED;
                    self.unsaved.drain(..extra);
                }
            }
        }
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
}

/// Merges changes into the registry file.
fn merge(path: &Path, changes: &[StateChange]) -> Result<Merged, String> {
    let shown = path.display().to_string();
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
        });
    }
    replace(path, &after.to_json()).map_err(|e| e.to_string())?;
    Ok(Merged {
        stamp: Stamp::of(path),
        refused,
    })
}

/// Replaces a file atomically with new contents, keeping its permission bits.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
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
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
        return written;
    }
    // The rename is done; flushing the directory makes it survive a crash.
    File::open(&dir).and_then(|d| d.sync_all()).or(Ok(()))
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
        // The operator suspended 2 before the worker wrote 2's first use.
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
        // A broken file is never overwritten.
        fs::write(&path, b"{").unwrap();
        assert!(merge(&path, &[first_use(1)]).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"{");
    }
}
