//! Identity tokens (Arrowhead's "outsourced" style): an opaque bearer credential
//! `IDENTITY-TOKEN//<token>` that an operator issues to a named thing, with an expiry.
//!
//! The token is the base64url text (no padding) of 32 random bytes from the caller. The store
//! keeps only its SHA-256 with the name and the times, so a leaked store file grants nothing. A
//! client sends the credential as its MQTT password or username; [`TokenStore::verify`] finds
//! the record by hash, compares in constant time and checks the expiry.
//!
//! The store is a versioned JSON file the CLI writes ([`TokenStore::to_json`]) and the engine
//! reads ([`TokenStore::from_json`]):
//!
//! ```json
//! { "version": 1,
//!   "tokens": [ { "name": "sensor-1", "sha256": "<64 hex digits>", "issued": 1700000000, "expires": 1700086400 } ] }
//! ```
//!
//! ```
//! use mqward_core::authn::identity_token::{issue, TokenStore};
//! use mqward_core::{IdentityKind, Rejection};
//!
//! let now = 1_700_000_000;
//! let random = [42u8; 32]; // from the caller's random source
//! let (credential, record) = issue("sensor-1", 3600, now, &random)?;
//! let mut store = TokenStore::new();
//! store.insert(record)?;
//! let store = TokenStore::from_json("tokens.json", store.to_json().as_bytes())?;
//! let grant = store.verify_grant(&credential, now + 10)?;
//! assert_eq!(grant.identity.kind(), IdentityKind::Token);
//! assert_eq!(grant.identity.thing_name(), Some("sensor-1"));
//! assert_eq!(grant.expires_at, now + 3600);
//! assert_eq!(store.verify(&credential, now + 3600).unwrap_err().rejection(), Some(&Rejection::Expired));
//! # Ok::<(), mqward_core::Error>(())
//! ```

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::authn::declared::check_name;
use crate::authn::psk::{decode_hex, encode_hex};
use crate::error::{Error, Location, Problem, Rejection};
use crate::identity::{Identity, IdentityKind};

/// The prefix of an identity token credential.
pub const TOKEN_PREFIX: &str = "IDENTITY-TOKEN//";
/// The store file format version this crate reads and writes.
pub const STORE_VERSION: u64 = 1;
/// The length of a token (base64url of 32 bytes, no padding), after the prefix.
pub const TOKEN_LEN: usize = 43;

/// A SHA-256 hash of a token's bytes.
type TokenHash = [u8; 32];

/// What the store remembers of one token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    name: String,
    sha256: TokenHash,
    issued_at: u64,
    expires_at: u64,
}

impl TokenRecord {
    /// The thing name the token stands for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it was issued (seconds since the Unix epoch).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// When it expires (seconds since the Unix epoch): it is valid while `now < expires_at`.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The SHA-256 of the token's 32 bytes, as lowercase hex (as the store file holds it).
    pub fn sha256_hex(&self) -> String {
        encode_hex(&self.sha256)
    }
}

/// Makes a token for `name`, valid for `ttl_seconds` from `now`, from 32 random bytes the
/// caller supplies. Returns the credential to hand to the device (`IDENTITY-TOKEN//<token>`,
/// shown once) and the record to store.
///
/// Fails for a name that is empty, longer than 128 bytes or holds a control character, for a
/// `ttl_seconds` of 0, and for an expiry past the end of `u64`.
pub fn issue(
    name: &str,
    ttl_seconds: u64,
    now: u64,
    random: &[u8; 32],
) -> Result<(String, TokenRecord), Error> {
    check_name(name).map_err(|e| Error::single(Location::Document, format!("token {e}")))?;
    if ttl_seconds == 0 {
        return Err(Error::single(
            Location::Document,
            "token lifetime must be at least one second",
        ));
    }
    let Some(expires_at) = now.checked_add(ttl_seconds) else {
        return Err(Error::single(
            Location::Document,
            "token expiry out of range",
        ));
    };
    let credential = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    let record = TokenRecord {
        name: name.to_owned(),
        sha256: sha256(random),
        issued_at: now,
        expires_at,
    };
    Ok((credential, record))
}

/// A verified token: who it is and when the session must end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenGrant {
    /// Kind [`IdentityKind::Token`], thing name the token's name.
    pub identity: Identity,
    /// When the token expires (seconds since the Unix epoch); end the session then.
    pub expires_at: u64,
}

/// The issued tokens, by hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenStore {
    by_hash: BTreeMap<TokenHash, TokenRecord>,
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> TokenStore {
        TokenStore::default()
    }

    /// Reads a store file. `file` names it in errors. Fails on a version other than
    /// [`STORE_VERSION`], unknown fields, a bad name or hash, an expiry not after the issue
    /// time, and a hash listed twice.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<TokenStore, Error> {
        let json_error = |e: serde_json::Error| {
            Error::single(
                Location::FileLine {
                    file: file.to_owned(),
                    line: e.line(),
                },
                format!("invalid token store: {e}"),
            )
        };
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_error)?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(STORE_VERSION) {
            return Err(Error::single(
                Location::File(file.to_owned()),
                format!("token store `version` is not {STORE_VERSION}"),
            ));
        }
        let parsed: StoreFile = serde_json::from_slice(bytes).map_err(json_error)?;
        let mut problems = Vec::new();
        let mut store = TokenStore::new();
        for (index, entry) in parsed.tokens.into_iter().enumerate() {
            let problem = |message: String| {
                Problem::new(
                    Location::File(file.to_owned()),
                    format!("token {index}: {message}"),
                )
            };
            match entry.into_record() {
                Ok(record) => {
                    if store.insert(record).is_err() {
                        problems.push(problem("hash listed twice".into()));
                    }
                }
                Err(message) => problems.push(problem(message)),
            }
        }
        if problems.is_empty() {
            Ok(store)
        } else {
            Err(Error::from_problems(problems))
        }
    }

    /// The store as pretty JSON, records ordered by name, issue time, expiry, then hash.
    pub fn to_json(&self) -> String {
        let mut tokens: Vec<StoreEntry> = self.by_hash.values().map(StoreEntry::from).collect();
        tokens.sort_by(|a, b| {
            (&a.name, a.issued, a.expires, &a.sha256)
                .cmp(&(&b.name, b.issued, b.expires, &b.sha256))
        });
        let file = StoreFile {
            version: STORE_VERSION,
            tokens,
        };
        // Serializing strings and integers into a String cannot fail.
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Adds a record. Fails if a record with the same hash is already there (the same random
    /// bytes were used twice).
    pub fn insert(&mut self, record: TokenRecord) -> Result<(), Error> {
        match self.by_hash.entry(record.sha256) {
            Entry::Vacant(slot) => {
                slot.insert(record);
                Ok(())
            }
            Entry::Occupied(_) => Err(Error::single(
                Location::Document,
                "token already in the store (random bytes reused)",
            )),
        }
    }

    /// Removes every token of `name`; returns how many.
    pub fn revoke(&mut self, name: &str) -> usize {
        let before = self.by_hash.len();
        self.by_hash.retain(|_, record| record.name != name);
        before - self.by_hash.len()
    }

    /// Removes the tokens expired at `now`; returns how many.
    pub fn remove_expired(&mut self, now: u64) -> usize {
        let before = self.by_hash.len();
        self.by_hash.retain(|_, record| !record.is_expired(now));
        before - self.by_hash.len()
    }

    /// The records, in hash order.
    pub fn records(&self) -> impl Iterator<Item = &TokenRecord> {
        self.by_hash.values()
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the store holds no token.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Checks a credential `IDENTITY-TOKEN//<token>` at `now`; the identity has kind
    /// [`IdentityKind::Token`] and the token's name as thing name. See
    /// [`TokenStore::verify_grant`] for the expiry and the rejections.
    pub fn verify(&self, credential: &str, now: u64) -> Result<Identity, Error> {
        self.verify_grant(credential, now)
            .map(|grant| grant.identity)
    }

    /// Checks a credential `IDENTITY-TOKEN//<token>` at `now` and returns the identity with the
    /// token's expiry, at which the session must end.
    ///
    /// Rejections: [`Rejection::Malformed`] without the prefix or when the token is not 43
    /// base64url characters; [`Rejection::UnknownIdentity`] for a token not in the store
    /// (never issued, revoked or altered); [`Rejection::Expired`] at or after its expiry.
    pub fn verify_grant(&self, credential: &str, now: u64) -> Result<TokenGrant, Error> {
        let Some(token) = credential.strip_prefix(TOKEN_PREFIX) else {
            return Err(Rejection::Malformed(format!(
                "credential does not start with `{TOKEN_PREFIX}`"
            ))
            .into());
        };
        let mut bytes = [0u8; 32];
        let decoded = (token.len() == TOKEN_LEN)
            .then(|| URL_SAFE_NO_PAD.decode_slice(token, &mut bytes).ok())
            .flatten();
        if decoded != Some(bytes.len()) {
            return Err(Rejection::Malformed(format!(
                "token is not {TOKEN_LEN} base64url characters"
            ))
            .into());
        }
        let hash = sha256(&bytes);
        let Some(record) = self.by_hash.get(&hash) else {
            return Err(Rejection::UnknownIdentity.into());
        };
        // The map compared hashes already; this comparison is the one that decides, and it
        // takes the same time wherever the hashes differ.
        if !bool::from(record.sha256.ct_eq(&hash)) {
            return Err(Rejection::UnknownIdentity.into());
        }
        if record.is_expired(now) {
            return Err(Rejection::Expired.into());
        }
        Ok(TokenGrant {
            identity: Identity::new(IdentityKind::Token).with_thing_name(record.name.as_str()),
            expires_at: record.expires_at,
        })
    }
}

fn sha256(bytes: &[u8]) -> TokenHash {
    let mut out = [0u8; 32];
    for (o, b) in out
        .iter_mut()
        .zip(digest::digest(&digest::SHA256, bytes).as_ref())
    {
        *o = *b;
    }
    out
}

/// The store file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u64,
    tokens: Vec<StoreEntry>,
}

/// One token in the store file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreEntry {
    name: String,
    sha256: String,
    issued: u64,
    expires: u64,
}

impl StoreEntry {
    fn into_record(self) -> Result<TokenRecord, String> {
        check_name(&self.name)?;
        let sha256 = decode_hex(&self.sha256)
            .filter(|_| self.sha256.len() == 64)
            .and_then(|bytes| TokenHash::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| format!("`{}`: `sha256` is not 64 hex digits", self.name))?;
        if self.expires <= self.issued {
            return Err(format!("`{}`: `expires` is not after `issued`", self.name));
        }
        Ok(TokenRecord {
            name: self.name,
            sha256,
            issued_at: self.issued,
            expires_at: self.expires,
        })
    }
}

impl From<&TokenRecord> for StoreEntry {
    fn from(record: &TokenRecord) -> StoreEntry {
        StoreEntry {
            name: record.name.clone(),
            sha256: record.sha256_hex(),
            issued: record.issued_at,
            expires: record.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_is_base64url_of_the_random_bytes() {
        let random: [u8; 32] = std::array::from_fn(|i| (i * 8) as u8 | 3);
        let (credential, record) = issue("n", 1, 0, &random).unwrap();
        let token = credential.strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(token).unwrap(), random);
        assert_eq!(record.sha256, sha256(&random));
        assert!(!format!("{record:?}").contains(token));
    }

    #[test]
    fn issue_checks_its_inputs() {
        let r = [1u8; 32];
        assert!(issue("", 10, 0, &r).is_err());
        assert!(issue("a\0", 10, 0, &r).is_err());
        assert!(issue("a", 0, 0, &r).is_err());
        assert!(issue("a", u64::MAX, 1, &r).is_err());
        assert!(issue("a", u64::MAX, 0, &r).is_ok());
    }

    #[test]
    fn store_entry_checks() {
        let entry = |name: &str, sha: &str, issued: u64, expires: u64| StoreEntry {
            name: name.into(),
            sha256: sha.into(),
            issued,
            expires,
        };
        let hex = "ab".repeat(32);
        assert!(entry("a", &hex, 1, 2).into_record().is_ok());
        assert!(entry("", &hex, 1, 2).into_record().is_err());
        assert!(entry("a", &hex[1..], 1, 2).into_record().is_err());
        assert!(entry("a", &"ab".repeat(33), 1, 2).into_record().is_err());
        assert!(entry("a", &"zz".repeat(32), 1, 2).into_record().is_err());
        assert!(entry("a", &hex, 2, 2).into_record().is_err());
    }
}
