//! Time and randomness: core takes both from its host. Decisions use the time the last upkeep
//! stored (a relaxed atomic load) instead of asking the system every time; connects and the
//! upkeep read the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now (0 if the clock is set before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `N` random bytes from the operating system, or why there are none.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|e| format!("no random bytes: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_past_2020_and_random_bytes_differ() {
        assert!(now() > 1_577_836_800);
        assert_ne!(random::<16>().unwrap(), random::<16>().unwrap());
    }
}
