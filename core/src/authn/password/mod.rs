//! Mosquitto password files: `user:hash` lines checked against MQTT usernames and passwords.
//!
//! The hashes Mosquitto writes are all read: `$6$` (1.x), `$7$` PBKDF2-HMAC-SHA512 with 12- or
//! 64-byte salts (2.0, 2.1) and `$argon2id$` PHC strings (2.1). Costs are capped at load by
//! [`PasswordSettings`], because every verification runs on the broker's thread.
//!
//! ```
//! use mqward_core::authn::password::{PasswordFile, PasswordSettings};
//! use mqward_core::{IdentityKind, Rejection};
//!
//! // Made by `mosquitto_passwd -b file alice 'secret pass'` (Mosquitto 2.0).
//! let file = b"# operators\n\
//!     alice:$7$101$CcZdneyym/dg+XKE$yrna6Z6cLk+uBuSGB6hjjVmAnlFzFkoVkCIl4w6Zi+K/SQXHBxypClsL5hjBPUcyEac+0AhGF/3tIvzMUg7HuQ==\n";
//! let cache_key = [7u8; 32]; // random bytes from the caller
//! let users = PasswordFile::parse("passwd", file, &PasswordSettings::default(), &cache_key)?;
//! let alice = users.verify("alice", b"secret pass")?;
//! assert_eq!(alice.kind(), IdentityKind::Password);
//! assert_eq!(alice.username(), Some("alice"));
//! assert_eq!(users.verify("alice", b"guess").unwrap_err().rejection(), Some(&Rejection::WrongSecret));
//! assert_eq!(users.verify("bob", b"guess").unwrap_err().rejection(), Some(&Rejection::UnknownIdentity));
//! # Ok::<(), mqward_core::Error>(())
//! ```
//!
//! Unlike Mosquitto, which skips lines it cannot read, loading fails on any bad line (with the
//! file and line, never the hash), on a duplicate user, and on a hash whose cost is above the
//! limits: a typo should be an error at load, not a device that cannot log in.

mod cache;
mod hash;
pub(crate) mod lines;

use std::fmt;
use std::hint::black_box;

use rustc_hash::FxHashMap;

pub use cache::CacheStats;
use cache::LoginCache;
use hash::{PasswordHash, Shape};

use crate::error::{Error, Problem, Rejection};
use crate::identity::{Identity, IdentityKind};

/// The default cap on `$7$` iterations: above OWASP's 210,000 for PBKDF2-HMAC-SHA512 (about
/// 0.3 s per check on a small server), far below a count that would stall a broker for minutes.
pub const DEFAULT_MAX_PBKDF2_ITERATIONS: u32 = 250_000;
/// The default cap on argon2id memory: 64 MiB, in KiB (Mosquitto 2.1 writes 46 MiB).
pub const DEFAULT_MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// The default cap on argon2id passes (`t`; Mosquitto 2.1 writes 1, RFC 9106 suggests up to 3).
pub const DEFAULT_MAX_ARGON2_PASSES: u32 = 10;
/// The default number of successful logins remembered.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
/// The longest password verified: an MQTT password is at most 65,535 bytes.
pub const MAX_PASSWORD_LEN: usize = 65_535;

/// Limits and cache size for loading a password file.
///
/// A file entry above a limit is a load error naming the line and the setting, so the limits
/// bound how long one verification can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordSettings {
    /// The most `$7$` (PBKDF2) iterations an entry may ask for.
    pub max_pbkdf2_iterations: u32,
    /// The most memory an argon2id entry may ask for, in KiB (`m=`).
    pub max_argon2_memory_kib: u32,
    /// The most passes an argon2id entry may ask for (`t=`).
    pub max_argon2_passes: u32,
    /// How many successful logins to remember; 0 turns the cache off.
    pub cache_capacity: usize,
}

impl Default for PasswordSettings {
    fn default() -> PasswordSettings {
        PasswordSettings {
            max_pbkdf2_iterations: DEFAULT_MAX_PBKDF2_ITERATIONS,
            max_argon2_memory_kib: DEFAULT_MAX_ARGON2_MEMORY_KIB,
            max_argon2_passes: DEFAULT_MAX_ARGON2_PASSES,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }
}

/// One user's entry: the hash as written (part of the cache tag) and parsed.
struct Entry {
    text: Box<str>,
    hash: PasswordHash,
}

/// A loaded password file. Immutable except for its login cache; share it behind an `Arc` and
/// load a new one on reload (which also starts a new cache).
pub struct PasswordFile {
    users: FxHashMap<Box<str>, Entry>,
    decoy: PasswordHash,
    cache: LoginCache,
}

impl PasswordFile {
    /// Reads a Mosquitto password file. `file` names it in errors; `cache_key` must be random
    /// bytes (the login cache's tags are keyed with it).
    ///
    /// Blank lines and lines starting with `#` are skipped; names and hashes are trimmed of
    /// white space. Every problem is reported, each with its line.
    pub fn parse(
        file: &str,
        bytes: &[u8],
        settings: &PasswordSettings,
        cache_key: &[u8; 32],
    ) -> Result<PasswordFile, Error> {
        let mut problems = Vec::new();
        let labels = lines::Labels {
            name: "user",
            value: "hash",
        };
        let entries = lines::entries(file, bytes, labels, &mut problems);
        let mut users = FxHashMap::default();
        users.reserve(entries.len());
        for line in entries {
            match PasswordHash::parse(line.value, settings) {
                Ok(hash) => {
                    let entry = Entry {
                        text: line.value.into(),
                        hash,
                    };
                    users.insert(Box::from(line.name), entry);
                }
                Err(message) => problems.push(Problem::new(
                    lines::at(file, line.number),
                    format!("user `{}`: {message}", line.name),
                )),
            }
        }
        if !problems.is_empty() {
            lines::sort_by_line(&mut problems);
            return Err(Error::from_problems(problems));
        }
        let decoy = decoy(&users);
        Ok(PasswordFile {
            users,
            decoy,
            cache: LoginCache::new(cache_key, settings.cache_capacity),
        })
    }

    /// Checks a username and password. A known user with the right password gets an identity
    /// of kind [`IdentityKind::Password`] with that username.
    ///
    /// Fails with [`Rejection::UnknownIdentity`] for a user not in the file and
    /// [`Rejection::WrongSecret`] for a wrong password; both take about as long (an unknown
    /// user is checked against a decoy hash like the file's common entries), so usernames
    /// cannot be probed by timing. A password longer than an MQTT password can be is
    /// [`Rejection::TooLarge`], one holding a NUL byte (which no Mosquitto password file can
    /// hold) [`Rejection::Malformed`]; both are refused before the user is looked up. A login
    /// that succeeded before is answered from the cache without hashing.
    pub fn verify(&self, username: &str, password: &[u8]) -> Result<Identity, Error> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(Rejection::TooLarge.into());
        }
        // Mosquitto reads passwords as C strings, so no password it stores holds a NUL; and
        // PBKDF2 (HMAC) pads short keys with zeros, so `pw\0` would pass for `pw`.
        if password.contains(&0) {
            return Err(Rejection::Malformed("password contains a NUL byte".into()).into());
        }
        let Some(entry) = self.users.get(username) else {
            // The result is discarded; black_box keeps the work from being optimised away.
            black_box(self.decoy.matches(black_box(password)));
            return Err(Rejection::UnknownIdentity.into());
        };
        let tag = self.cache.tag(username, password, &entry.text);
        if !self.cache.hit(&tag) {
            if !entry.hash.matches(password) {
                return Err(Rejection::WrongSecret.into());
            }
            self.cache.remember(tag);
        }
        Ok(Identity::new(IdentityKind::Password).with_username(username))
    }

    /// Whether the file has an entry for `username`.
    pub fn contains(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The usernames, in no particular order.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(|name| &**name)
    }

    /// Figures about the login cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

impl fmt::Debug for PasswordFile {
    /// Shows the number of users and the cache figures, never a hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordFile")
            .field("users", &self.users.len())
            .field("cache", &self.cache.stats())
            .finish_non_exhaustive()
    }
}

/// A decoy shaped like the most common entry (the first such entry in hash-map order on a tie
/// is as good as any): unknown users then cost what most known users cost.
fn decoy(users: &FxHashMap<Box<str>, Entry>) -> PasswordHash {
    let mut counts: FxHashMap<Shape, (usize, &PasswordHash)> = FxHashMap::default();
    for entry in users.values() {
        counts
            .entry(entry.hash.shape())
            .or_insert((0, &entry.hash))
            .0 += 1;
    }
    counts
        .values()
        .max_by_key(|(count, _)| *count)
        .map_or_else(PasswordHash::default_decoy, |(_, hash)| hash.decoy())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use ring::pbkdf2;

    use super::*;

    const KEY: [u8; 32] = [5; 32];

    fn line(user: &str, password: &[u8], iterations: u32) -> String {
        let salt = [3u8; 12];
        let mut out = [0u8; 64];
        let n = NonZeroU32::new(iterations).unwrap();
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, n, &salt, password, &mut out);
        format!(
            "{user}:$7${iterations}${}${}\n",
            STANDARD.encode(salt),
            STANDARD.encode(out)
        )
    }

    #[test]
    fn decoy_follows_the_common_shape() {
        let text = line("a", b"1", 2) + &line("b", b"2", 3) + &line("c", b"3", 3);
        let file =
            PasswordFile::parse("pw", text.as_bytes(), &PasswordSettings::default(), &KEY).unwrap();
        assert_eq!(
            file.decoy.shape(),
            Shape::Pbkdf2 {
                iterations: 3,
                salt: 12
            }
        );
        let empty = PasswordFile::parse("pw", b"", &PasswordSettings::default(), &KEY).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            empty.decoy.shape(),
            Shape::Pbkdf2 {
                iterations: 1000,
                salt: 64
            }
        );
    }

    #[test]
    fn cache_hits_only_the_same_password() {
        let text = line("a", b"right", 5);
        let file =
            PasswordFile::parse("pw", text.as_bytes(), &PasswordSettings::default(), &KEY).unwrap();
        assert!(file.verify("a", b"right").is_ok());
        assert!(file.verify("a", b"right").is_ok());
        assert_eq!(
            file.verify("a", b"wrong"),
            Err(Error::Rejected(Rejection::WrongSecret))
        );
        let stats = file.cache_stats();
        assert_eq!((stats.hits, stats.misses, stats.len), (1, 2, 1));
    }

    #[test]
    fn oversized_password_and_debug() {
        let text = line("a", b"right", 5);
        let file =
            PasswordFile::parse("pw", text.as_bytes(), &PasswordSettings::default(), &KEY).unwrap();
        let long = vec![b'x'; MAX_PASSWORD_LEN + 1];
        assert_eq!(
            file.verify("a", &long),
            Err(Error::Rejected(Rejection::TooLarge))
        );
        let debug = format!("{file:?}");
        assert!(
            debug.contains("users: 1") && !debug.contains("$7$"),
            "{debug}"
        );
    }
}
