//! What the pure engine leaves to its host, taken here on the C caller's behalf: the clock,
//! random bytes and files.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::result::{mqward_result, Result};

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> Result<u64> {
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
        assert!(now().unwrap() > 1_600_000_000);
        assert_ne!(random::<16>().unwrap(), random::<16>().unwrap());
    }

    #[test]
    fn unreadable_files_are_named() {
        let e = read_named(Path::new("/nonexistent-dir"), "p.json").unwrap_err();
        assert!(e.contains("`/nonexistent-dir/p.json`"), "{e}");
    }
}
