//! What the pure engine leaves to its host, taken here on the C caller's behalf: the clock,
//! random bytes and files.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::result::{mqward_result, Result};

/// Seconds since the Unix epoch, now: on Linux from the coarse real-time clock, which the
/// kernel updates every tick (1 to 4 ms behind the precise clock) and which costs a few
/// nanoseconds where the precise one costs 20 to 30 on the hot path of every decision. Expiry
/// is counted in whole seconds, so a tick's lag does not matter.
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn now() -> Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the call writes only it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc != 0 {
        return precise_now();
    }
    u64::try_from(ts.tv_sec).map_err(|_| mqward_result::Clock)
}

/// Seconds since the Unix epoch, now.
#[cfg(not(target_os = "linux"))]
pub(crate) fn now() -> Result<u64> {
    precise_now()
}

fn precise_now() -> Result<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| mqward_result::Clock)
}

/// `N` bytes from the operating system's random number generator.
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|_| mqward_result::Random)?;
    Ok(out)
}

/// Reads a file a configuration names, relative to `base` unless absolute; the error says
/// which file and why, for the report.
pub(crate) fn read_named(base: &Path, name: &str) -> std::result::Result<Vec<u8>, String> {
    let path = base.join(name);
    std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_randomness_work() {
        let (coarse, precise) = (now().unwrap(), precise_now().unwrap());
        assert!(coarse > 1_600_000_000);
        assert!(coarse.abs_diff(precise) <= 1, "{coarse} {precise}");
        assert_ne!(random::<16>().unwrap(), random::<16>().unwrap());
    }

    #[test]
    fn unreadable_files_are_named() {
        let e = read_named(Path::new("/nonexistent-dir"), "p.json").unwrap_err();
        assert!(e.contains("`/nonexistent-dir/p.json`"), "{e}");
    }
}
