//! TLS pre-shared keys: identity-to-key files, the key lookup a TLS handshake needs, and the
//! identity of a client that completed one.
//!
//! Two file formats:
//! - Mosquitto's `psk_file`: `identity:hexkey` lines, with Mosquitto's comments and blank lines
//!   ([`PskStore::from_mosquitto`]).
//! - EMQX's PSK file: `identity<separator>secret` lines where the secret is the raw key bytes,
//!   not hex, running to the end of the line; the separator is configurable in EMQX and `:` by
//!   default ([`PskStore::from_emqx`]).
//!
//! Keys shorter than 128 bits are a load error naming the line (never the key). The key is kept
//! as bytes and as the lowercase hex text Mosquitto's `PSK_KEY` callback copies into its buffer,
//! so a handshake's lookup allocates nothing.
//!
//! ```
//! use mqward_core::authn::psk::PskStore;
//!
//! let store = PskStore::from_mosquitto("psk", b"# devices\nsensor-1:00112233445566778899AABBCCDDEEFF\n")?;
//! let key = store.key("sensor-1").expect("known identity");
//! assert_eq!(key.as_bytes().len(), 16);
//! assert_eq!(key.hex(), "00112233445566778899aabbccddeeff");
//! assert_eq!(store.identity("sensor-1")?.thing_name(), Some("sensor-1"));
//! assert!(store.key("sensor-2").is_none());
//! # Ok::<(), mqward_core::Error>(())
//! ```

use std::fmt;

use rustc_hash::FxHashMap;

use crate::authn::password::lines;
use crate::error::{Error, Problem, Rejection};
use crate::identity::{Identity, IdentityKind};

/// The shortest key accepted, in bytes (128 bits).
pub const MIN_KEY_LEN: usize = 16;
/// The longest key accepted, in bytes (OpenSSL's `PSK_MAX_PSK_LEN` is 512; TLS keys are rarely
/// over 64).
pub const MAX_KEY_LEN: usize = 256;
/// The longest PSK identity accepted, in bytes (OpenSSL's `PSK_MAX_IDENTITY_LEN`).
pub const MAX_IDENTITY_LEN: usize = 256;
/// EMQX's default separator between identity and secret.
pub const EMQX_DEFAULT_SEPARATOR: &str = ":";

/// A pre-shared key. Its `Debug` output shows the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct PskKey {
    bytes: Box<[u8]>,
    hex: Box<str>,
}

impl PskKey {
    fn new(bytes: Vec<u8>) -> PskKey {
        let hex = encode_hex(&bytes).into_boxed_str();
        PskKey {
            bytes: bytes.into_boxed_slice(),
            hex,
        }
    }

    /// The key bytes, as a TLS library takes them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key as lowercase hex, two digits per byte, without a terminating NUL: what
    /// Mosquitto's `PSK_KEY` event expects in its `key` buffer. The plugin copies it and adds
    /// the NUL, and refuses the key if `max_key_len` is too small.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for PskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskKey")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Loaded PSK identities and their keys. Immutable; load a new one on reload.
#[derive(Clone, Default)]
pub struct PskStore {
    keys: FxHashMap<Box<str>, PskKey>,
}

impl PskStore {
    /// Reads a Mosquitto `psk_file`: `identity:hexkey` lines (hex digits in either case), blank
    /// lines and `#` comments skipped, white space around identity and key trimmed. `file`
    /// names the file in errors; every bad line is reported.
    pub fn from_mosquitto(file: &str, bytes: &[u8]) -> Result<PskStore, Error> {
        let mut problems = Vec::new();
        let labels = lines::Labels {
            name: "identity",
            value: "key",
        };
        let mut store = PskStore::default();
        for line in lines::entries(file, bytes, labels, &mut problems) {
            let key = decode_hex(line.value)
                .ok_or("is not hexadecimal")
                .and_then(|key| {
                    if line.value.len() % 2 == 1 {
                        Err("has an odd number of hex digits")
                    } else {
                        Ok(key)
                    }
                })
                .map_err(|e| format!("key of identity `{}` {e}", line.name))
                .and_then(|key| check(line.name, key));
            match key {
                Ok(key) => {
                    store.keys.insert(line.name.into(), key);
                }
                Err(message) => problems.push(Problem::new(lines::at(file, line.number), message)),
            }
        }
        store.finish(problems)
    }

    /// Reads an EMQX PSK file: `identity<separator>secret` lines, the secret being the key's
    /// raw bytes up to the end of the line (a final `\r` is dropped). The identity ends at the
    /// first separator, so the secret may contain it. Empty lines are skipped; EMQX has no
    /// comments, so a `#` line is an entry. `separator` is EMQX's `psk_authentication.separator`
    /// ([`EMQX_DEFAULT_SEPARATOR`] unless configured) and may not be empty.
    pub fn from_emqx(file: &str, bytes: &[u8], separator: &str) -> Result<PskStore, Error> {
        if separator.is_empty() {
            return Err(Error::single(
                crate::error::Location::File(file.to_owned()),
                "empty separator",
            ));
        }
        let mut problems = Vec::new();
        let mut store = PskStore::default();
        let mut first_seen: FxHashMap<&str, usize> = FxHashMap::default();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            let at = || lines::at(file, number);
            let Some(split) = memchr::memmem::find(raw, separator.as_bytes()) else {
                problems.push(Problem::new(
                    at(),
                    format!("line has no separator `{separator}`"),
                ));
                continue;
            };
            let (identity, secret) = raw.split_at(split);
            let secret = secret.get(separator.len()..).unwrap_or_default();
            let Ok(identity) = std::str::from_utf8(identity) else {
                problems.push(Problem::new(at(), "identity is not UTF-8"));
                continue;
            };
            if let Some(first) = first_seen.get(identity) {
                problems.push(Problem::new(
                    at(),
                    format!("duplicate identity `{identity}` (first on line {first})"),
                ));
                continue;
            }
            first_seen.insert(identity, number);
            match check(identity, secret.to_vec()) {
                Ok(key) => {
                    store.keys.insert(identity.into(), key);
                }
                Err(message) => problems.push(Problem::new(at(), message)),
            }
        }
        store.finish(problems)
    }

    fn finish(self, mut problems: Vec<Problem>) -> Result<PskStore, Error> {
        if problems.is_empty() {
            Ok(self)
        } else {
            lines::sort_by_line(&mut problems);
            Err(Error::from_problems(problems))
        }
    }

    /// The key of a PSK identity, or `None` for an identity not in the file (the handshake
    /// then fails).
    pub fn key(&self, identity: &str) -> Option<&PskKey> {
        self.keys.get(identity)
    }

    /// The identity of a client whose TLS-PSK handshake completed with `identity`: kind
    /// [`IdentityKind::Psk`], username and thing name both the PSK identity. Building it proves
    /// nothing by itself; call it only after the handshake succeeded with [`PskStore::key`]'s
    /// key. An identity not in the file is [`Rejection::UnknownIdentity`].
    pub fn identity(&self, identity: &str) -> Result<Identity, Error> {
        if !self.keys.contains_key(identity) {
            return Err(Rejection::UnknownIdentity.into());
        }
        Ok(Identity::new(IdentityKind::Psk)
            .with_username(identity)
            .with_thing_name(identity))
    }

    /// The number of identities.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no identities.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The identities, in no particular order.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(|name| &**name)
    }
}

impl fmt::Debug for PskStore {
    /// Shows the number of identities, never a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskStore")
            .field("identities", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Checks an identity and its key's length; the message names the identity only.
fn check(identity: &str, key: Vec<u8>) -> Result<PskKey, String> {
    if identity.is_empty() {
        return Err("empty identity".into());
    }
    if identity.len() > MAX_IDENTITY_LEN {
        return Err(format!("identity longer than {MAX_IDENTITY_LEN} bytes"));
    }
    if key.len() < MIN_KEY_LEN {
        return Err(format!(
            "key of identity `{identity}` is {} bits; at least {} needed",
            key.len() * 8,
            MIN_KEY_LEN * 8
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(format!(
            "key of identity `{identity}` longer than {MAX_KEY_LEN} bytes"
        ));
    }
    Ok(PskKey::new(key))
}

/// Lowercase hex, two digits per byte. Also used for token hashes in identity token stores.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        // Both indexes are below 16: a high nibble and a masked low nibble.
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex digits in either case; `None` for any other character. An odd final digit is
/// ignored, so callers check the length when it matters.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !text.bytes().all(|c| nibble(c).is_some()) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let hex = encode_hex(&bytes);
        assert_eq!(decode_hex(&hex), Some(bytes.clone()));
        assert_eq!(decode_hex(&hex.to_uppercase()), Some(bytes));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex(""), Some(vec![]));
    }

    #[test]
    fn debug_never_shows_keys() {
        let store = PskStore::from_emqx("psk", b"a:0123456789abcdefXYZ", ":").unwrap();
        let key = store.key("a").unwrap();
        assert_eq!(key.as_bytes(), b"0123456789abcdefXYZ");
        let debug = format!("{store:?} {key:?}");
        assert!(
            !debug.contains("0123") && !debug.contains("3031"),
            "{debug}"
        );
    }

    #[test]
    fn empty_separator_is_an_error() {
        assert!(PskStore::from_emqx("psk", b"a:b", "").is_err());
    }
}
