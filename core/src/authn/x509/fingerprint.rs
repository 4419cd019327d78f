//! The SHA-256 fingerprint of a DER certificate: the key of the operator registry and the
//! `cert.fingerprint` identity attribute.

use std::fmt;

/// The SHA-256 digest of a certificate's DER encoding.
///
/// Shown as 64 lowercase hex digits; [`Fingerprint::parse`] also takes upper case and the
/// colon-separated form `openssl x509 -fingerprint -sha256` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        // SHA-256 digests are always 32 bytes long, so the lengths match.
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// A fingerprint from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits, in either case, optionally with a `:` between each pair.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let digits = text.as_bytes();
        let colons = digits.len() == 32 * 3 - 1;
        if digits.len() != 64 && !colons {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let at = if colons { i * 3 } else { i * 2 };
            if colons && i > 0 && digits.get(at - 1) != Some(&b':') {
                return None;
            }
            let high = hex_value(*digits.get(at)?)?;
            let low = hex_value(*digits.get(at + 1)?)?;
            *byte = high << 4 | low;
        }
        Some(Fingerprint(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Appends `bytes` as lowercase hex to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for byte in bytes {
        // A nibble is below 16, the length of `DIGITS`.
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hex = String::with_capacity(64);
        push_hex(&mut hex, &self.0);
        f.write_str(&hex)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_text_forms() {
        // SHA-256 of the empty string.
        let empty = Fingerprint::of(b"");
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(empty.to_string(), hex);
        assert_eq!(Fingerprint::parse(hex), Some(empty));
        assert_eq!(Fingerprint::parse(&hex.to_uppercase()), Some(empty));
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(Fingerprint::parse(&colons), Some(empty));
    }

    #[test]
    fn rejects_bad_text() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Fingerprint::parse(&hex[1..]), None);
        assert_eq!(Fingerprint::parse(&format!("{hex}0")), None);
        assert_eq!(Fingerprint::parse(&hex.replace('e', "g")), None);
        assert_eq!(Fingerprint::parse(""), None);
        // Right length for the colon form, wrong separators.
        assert_eq!(Fingerprint::parse(&"ab-".repeat(32)[..95]), None);
        assert_eq!(Fingerprint::parse("é".repeat(32).as_str()), None);
    }
}
