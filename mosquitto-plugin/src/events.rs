//! Small pieces the broker-thread code shares: taking a lock, the words for why a session
//! ended, and the budget for log lines clients cause.

use std::sync::{Mutex, MutexGuard};

use mqward_core::EndReason;

/// Takes a lock even if a panic poisoned it: everything behind the plugin's locks is plain
/// data that a panic cannot leave half-changed in a way that matters (tables updated by single
/// inserts and removals, lists taken whole).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why a session ended, for the kick's log line.
pub fn end_reason(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Suspended => "its certificate was suspended",
        EndReason::Revoked => "its certificate was revoked",
        EndReason::Expired => "its credential expired",
        EndReason::TrustExpired => "its trust duration passed (it must authenticate again)",
        EndReason::Failed => "the engine holding its session failed",
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
