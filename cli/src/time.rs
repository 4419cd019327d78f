//! Time for the credential commands: the clock, UTC dates, and token lifetimes as typed
//! (`3600`, `90m`, `24h`, `30d`). Core takes times as seconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// Seconds since the Unix epoch, now.
pub fn now() -> Result<u64, Error> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::Clock)
}

/// A lifetime: a whole number of seconds, or a number followed by `s`, `m`, `h` or `d`.
/// Zero, signs, spaces, fractions and other units are refused.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().last() {
        Some((at, last)) if last.is_ascii_alphabetic() => (text.get(..at).unwrap_or(""), last),
        _ => (text, 's'),
    };
    let scale: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => return Err(ttl_error(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ttl_error(text));
    }
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("lifetime `{text}` is too long"))?;
    if seconds == 0 {
        return Err(format!(
            "lifetime `{text}` is zero; a token must live at least one second"
        ));
    }
    Ok(seconds)
}

fn ttl_error(text: &str) -> String {
    format!(
        "invalid lifetime `{text}`: expected whole seconds or a whole number followed by s, m, \
         h or d (`3600`, `90m`, `24h`, `30d`)"
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (proleptic Gregorian calendar).
pub fn utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`, for days not before
/// the epoch, so every step stays unsigned).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, the start of a 400-year era whose leap day ends each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("45s"), Ok(45));
        assert_eq!(parse_ttl("90m"), Ok(5400));
        assert_eq!(parse_ttl("24h"), Ok(86_400));
        assert_eq!(parse_ttl("30d"), Ok(2_592_000));
        assert_eq!(parse_ttl("007m"), Ok(420));
        for bad in [
            "", "m", "-5", "+5", "1.5h", "5 m", " 5", "5x", "5mm", "5M", "h5", "5é", "١",
        ] {
            assert!(
                parse_ttl(bad).unwrap_err().starts_with("invalid lifetime"),
                "{bad:?}"
            );
        }
        assert!(parse_ttl("0").unwrap_err().contains("is zero"));
        assert!(parse_ttl("0d").unwrap_err().contains("is zero"));
        assert!(parse_ttl("99999999999999999999")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_ttl("999999999999999999d")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(utc(u64::MAX), "584554051223-11-09T07:00:15Z");
    }

    #[test]
    fn dates_agree_with_a_day_by_day_walk() {
        let (mut year, mut month, mut day) = (1970u64, 1u64, 1u64);
        for days in 0..200_000u64 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let length = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > length {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }
}
