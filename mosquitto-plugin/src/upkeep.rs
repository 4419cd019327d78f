//! When the broker thread does its upkeep: ending expired sessions, applying registry changes,
//! writing first-use activations and disconnecting clients whose sessions ended.
//!
//! Mosquitto 2.0 calls TICK on every turn of its loop, so the check must be cheap: a monotonic
//! clock read and an atomic comparison; the work itself runs once per interval
//! (`plugin_opt_interval_ms`). With `per_listener_settings true` Mosquitto before 2.0.15 calls
//! no TICK for per-listener plugins: when none has come two seconds after the start, the
//! plugin's other callbacks (BASIC_AUTH, ACL_CHECK) run the upkeep instead, so it waits for the
//! listener's traffic.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How long the plugin waits for a first TICK before its other callbacks take over.
const FIRST_TICK: Duration = Duration::from_secs(2);

const UNKNOWN: u8 = 0;
const TICKING: u8 = 1;
const NO_TICKS: u8 = 2;

/// The upkeep schedule of one plugin instance.
#[derive(Debug)]
pub struct Schedule {
    started: Instant,
    interval_ms: u64,
    /// Milliseconds after `started` when the next upkeep is due.
    due_ms: AtomicU64,
    ticks: AtomicU8,
}

impl Schedule {
    /// A schedule with this interval; the first upkeep is due at once.
    pub fn new(interval: Duration) -> Schedule {
        Schedule {
            started: Instant::now(),
            interval_ms: u64::try_from(interval.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            due_ms: AtomicU64::new(0),
            ticks: AtomicU8::new(UNKNOWN),
        }
    }

    /// Records that TICK events come.
    pub fn ticked(&self) {
        if self.ticks.load(Ordering::Relaxed) != TICKING {
            self.ticks.store(TICKING, Ordering::Relaxed);
        }
    }

    /// Whether callbacks other than TICK should look at the schedule (no TICK has come yet).
    pub fn polled(&self) -> bool {
        self.ticks.load(Ordering::Relaxed) != TICKING
    }

    /// Whether TICK events are known not to come.
    pub fn without_ticks(&self) -> bool {
        self.ticks.load(Ordering::Relaxed) == NO_TICKS
    }

    /// Whether an upkeep is due now; if so, the next one is scheduled an interval later.
    pub fn due(&self) -> bool {
        let elapsed = self.started.elapsed();
        let now_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if elapsed >= FIRST_TICK && self.ticks.load(Ordering::Relaxed) == UNKNOWN {
            self.ticks.store(NO_TICKS, Ordering::Relaxed);
        }
        let due = self.due_ms.load(Ordering::Relaxed);
        now_ms >= due
            && self
                .due_ms
                .compare_exchange(
                    due,
                    now_ms.saturating_add(self.interval_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Makes the next upkeep due at once (a client to kick, a reload done).
    pub fn hurry(&self) {
        self.due_ms.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_per_interval_and_at_once_when_hurried() {
        let s = Schedule::new(Duration::from_secs(3600));
        assert!(s.due());
        assert!(!s.due());
        s.hurry();
        assert!(s.due());
        assert!(!s.due());
    }

    #[test]
    fn ticks_are_noticed() {
        let s = Schedule::new(Duration::from_millis(100));
        assert!(s.polled());
        assert!(!s.without_ticks());
        s.ticked();
        assert!(!s.polled());
        let quiet = Schedule {
            started: Instant::now() - FIRST_TICK,
            ..Schedule::new(Duration::from_millis(100))
        };
        assert!(quiet.due());
        assert!(quiet.without_ticks());
        assert!(quiet.polled());
    }
}
