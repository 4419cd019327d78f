//! What the background worker hands to the broker thread: sessions the engine ended (to kick),
//! log lines (only the broker thread may log), the time, and whether the broker ticks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use mqward_core::{EndReason, SessionToken};

use crate::log::Level;

/// Takes a lock even if a panic poisoned it: everything behind these locks is plain data that
/// a panic cannot leave half-changed in a way that matters (lists that are only pushed to and
/// taken whole).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State shared by the broker thread and the worker of one plugin instance.
#[derive(Debug)]
pub struct Shared {
    now: AtomicU64,
    epoch: AtomicU64,
    pending: AtomicBool,
    ticks: AtomicU64,
    ticking: AtomicBool,
    ended: Mutex<Vec<(SessionToken, EndReason)>>,
    logs: Mutex<Vec<(Level, String)>>,
    registry: Mutex<Option<PathBuf>>,
}

impl Shared {
    /// Shared state at `now`, with the registry file to persist to and watch.
    pub fn new(now: u64, registry: Option<PathBuf>) -> Shared {
        Shared {
            now: AtomicU64::new(now),
            epoch: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            ticks: AtomicU64::new(0),
            // Until the worker has watched for a while, assume ticks come (they do unless
            // `per_listener_settings` is on in Mosquitto before 2.0.15).
            ticking: AtomicBool::new(true),
            ended: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            registry: Mutex::new(registry),
        }
    }

    /// The time the worker last stored (seconds since the Unix epoch).
    pub fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }

    /// Stores the time.
    pub fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::Relaxed);
    }

    /// The decision epoch: cached allows are valid within one epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Starts a new decision epoch (a reload, an ended session): cached allows are void.
    pub fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether the broker thread has work waiting (kicks, log lines).
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes the pending flag.
    pub fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// Marks work as waiting for the broker thread.
    pub fn set_pending(&self) {
        self.pending.store(true, Ordering::Release);
    }

    /// Counts a TICK event.
    pub fn tick(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// The number of TICK events so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Whether TICK events arrive; when they do not, other callbacks do the broker thread's
    /// housekeeping.
    pub fn ticking(&self) -> bool {
        self.ticking.load(Ordering::Relaxed)
    }

    /// Records whether TICK events arrive.
    pub fn set_ticking(&self, ticking: bool) {
        self.ticking.store(ticking, Ordering::Relaxed);
    }

    /// Hands over sessions the engine ended; their cached allows are void from now on.
    pub fn push_ended(&self, ended: impl IntoIterator<Item = (SessionToken, EndReason)>) {
        let mut list = lock(&self.ended);
        let before = list.len();
        list.extend(ended);
        if list.len() > before {
            drop(list);
            self.bump_epoch();
            self.set_pending();
        }
    }

    /// Takes the sessions the engine ended.
    pub fn take_ended(&self) -> Vec<(SessionToken, EndReason)> {
        std::mem::take(&mut *lock(&self.ended))
    }

    /// Queues a log line for the broker thread.
    pub fn log(&self, level: Level, message: String) {
        lock(&self.logs).push((level, message));
        self.set_pending();
    }

    /// Takes the queued log lines.
    pub fn take_logs(&self) -> Vec<(Level, String)> {
        std::mem::take(&mut *lock(&self.logs))
    }

    /// The registry file in force.
    pub fn registry(&self) -> Option<PathBuf> {
        lock(&self.registry).clone()
    }

    /// Sets the registry file (after a reload).
    pub fn set_registry(&self, registry: Option<PathBuf>) {
        *lock(&self.registry) = registry;
    }
}

/// Why a session ended, for the kick's log line.
pub fn end_reason(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Suspended => "its certificate was suspended",
        EndReason::Revoked => "its certificate was revoked",
        EndReason::Expired => "its credential expired",
        EndReason::TrustExpired => "its trust duration passed (it must authenticate again)",
        _ => "its session ended",
    }
}

/// A budget for log lines that clients cause (denials, refused connections): at most
/// `per_second` lines in a second; the rest are counted and reported in one line after.
#[derive(Debug)]
pub struct Limiter {
    per_second: u32,
    state: Mutex<(u64, u32, u64)>,
}

impl Limiter {
    /// A budget of `per_second` lines.
    pub fn new(per_second: u32) -> Limiter {
        Limiter {
            per_second,
            state: Mutex::new((0, 0, 0)),
        }
    }

    /// Whether a line may be written at `now`; the second value is the number of lines
    /// suppressed in earlier seconds, to report first.
    pub fn admit(&self, now: u64) -> (bool, u64) {
        let mut state = lock(&self.state);
        let (second, count, suppressed) = &mut *state;
        let mut report = 0;
        if *second != now {
            *second = now;
            *count = 0;
            report = std::mem::take(suppressed);
        }
        if *count < self.per_second {
            *count += 1;
            (true, report)
        } else {
            *suppressed += 1;
            (false, report)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_work_is_flagged() {
        let shared = Shared::new(5, None);
        assert_eq!(shared.now(), 5);
        assert!(!shared.pending());
        shared.push_ended([]);
        assert!(!shared.pending());
        assert_eq!(shared.epoch(), 0);
        shared.push_ended([(SessionToken::from_bytes([1; 16]), EndReason::Expired)]);
        assert_eq!(shared.epoch(), 1);
        assert!(shared.take_pending());
        assert!(!shared.pending());
        assert_eq!(shared.take_ended().len(), 1);
        shared.log(Level::Info, "x".to_owned());
        assert!(shared.pending());
        assert_eq!(shared.take_logs(), vec![(Level::Info, "x".to_owned())]);
        assert!(shared.take_logs().is_empty());
    }

    #[test]
    fn the_limiter_counts_what_it_suppresses() {
        let l = Limiter::new(2);
        assert_eq!(l.admit(10), (true, 0));
        assert_eq!(l.admit(10), (true, 0));
        assert_eq!(l.admit(10), (false, 0));
        assert_eq!(l.admit(10), (false, 0));
        assert_eq!(l.admit(11), (true, 2));
        assert_eq!(l.admit(11), (true, 0));
    }
}
