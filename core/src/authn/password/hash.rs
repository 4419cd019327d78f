//! The password hashes of a Mosquitto password file, parsed once at load and verified per login.
//!
//! - `$6$<salt>$<hash>` (Mosquitto 1.x): SHA-512 over the password followed by the salt, both
//!   base64. Not `sha512-crypt`, which shares the prefix.
//! - `$7$<iterations>$<salt>$<hash>` (Mosquitto 2.0 and 2.1): PBKDF2-HMAC-SHA512 with a 64-byte
//!   output; 2.0 writes 12-byte salts and 101 iterations, 2.1 64-byte salts and 1,000.
//! - `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` (Mosquitto 2.1): a PHC string,
//!   base64 without padding. Parsed here rather than by the `argon2` crate's PHC reader, which
//!   refuses the 64-byte salts Mosquitto writes.
//!
//! Every comparison is constant time. Costs are capped at load ([`PasswordSettings`]) so a file
//! entry cannot stall the thread that verifies.

use std::num::NonZeroU32;
use std::ops::RangeInclusive;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ring::{digest, pbkdf2};
use subtle::ConstantTimeEq;

use super::PasswordSettings;

/// Base64 as Mosquitto writes it (OpenSSL's encoder: standard alphabet, padded); padding is
/// optional when reading.
const MOSQUITTO_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Salt lengths accepted for `$6$` and `$7$` (Mosquitto writes 12 or 64 bytes).
const SALT_LEN: RangeInclusive<usize> = 12..=64;
/// Salt lengths accepted for argon2id (the algorithm's minimum is 8 bytes).
const ARGON2_SALT_LEN: RangeInclusive<usize> = 8..=64;
/// Output lengths accepted for argon2id.
const ARGON2_HASH_LEN: RangeInclusive<usize> = 16..=64;
/// The output length of `$6$` and `$7$` (SHA-512).
const SHA512_LEN: usize = 64;
/// The longest hash text read (an argon2id string with 64-byte salt and hash is about 230).
const MAX_TEXT_LEN: usize = 512;

/// A parsed password hash.
#[derive(Clone)]
pub(crate) enum PasswordHash {
    /// `$6$`: SHA-512(password || salt).
    Sha512 {
        salt: Box<[u8]>,
        digest: [u8; SHA512_LEN],
    },
    /// `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2 {
        iterations: NonZeroU32,
        salt: Box<[u8]>,
        digest: [u8; SHA512_LEN],
    },
    /// `$argon2id$`, version 0x13.
    Argon2id {
        params: Params,
        salt: Box<[u8]>,
        digest: Box<[u8]>,
    },
}

/// What a verification costs: hashes of one shape take the same time for any password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    Sha512 {
        salt: usize,
    },
    Pbkdf2 {
        iterations: u32,
        salt: usize,
    },
    Argon2id {
        m: u32,
        t: u32,
        p: u32,
        salt: usize,
        out: usize,
    },
}

impl PasswordHash {
    /// Parses a hash as found after `user:`. The error says what is wrong without quoting the
    /// hash.
    pub(crate) fn parse(text: &str, settings: &PasswordSettings) -> Result<PasswordHash, String> {
        if text.len() > MAX_TEXT_LEN {
            return Err(format!("hash longer than {MAX_TEXT_LEN} characters"));
        }
        let fields: Vec<&str> = match text.strip_prefix('$') {
            Some(rest) => rest.split('$').collect(),
            None => Vec::new(),
        };
        match fields.as_slice() {
            ["6", salt, digest] => Ok(PasswordHash::Sha512 {
                salt: mosquitto_salt(salt)?,
                digest: sha512_digest(digest)?,
            }),
            ["6", ..] => Err("`$6$` hash is not `$6$<salt>$<hash>`".into()),
            ["7", iterations, salt, digest] => Ok(PasswordHash::Pbkdf2 {
                iterations: iteration_count(iterations, settings.max_pbkdf2_iterations)?,
                salt: mosquitto_salt(salt)?,
                digest: sha512_digest(digest)?,
            }),
            ["7", ..] => Err("`$7$` hash is not `$7$<iterations>$<salt>$<hash>`".into()),
            ["argon2id", version, params, salt, digest] => argon2id(
                version,
                params,
                salt,
                digest,
                settings,
            ),
            ["argon2id", ..] => Err(
                "`$argon2id$` hash is not `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`"
                    .into(),
            ),
            ["argon2i" | "argon2d", ..] => {
                Err("only the argon2id variant of argon2 is supported".into())
            }
            _ => Err("unsupported password hash; expected `$6$`, `$7$` or `$argon2id$`".into()),
        }
    }

    /// Whether `password` hashes to this value, in time that depends only on the hash's
    /// parameters and the password's length.
    pub(crate) fn matches(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Sha512 { salt, digest } => {
                let mut context = digest::Context::new(&digest::SHA512);
                context.update(password);
                context.update(salt);
                let actual = context.finish();
                bool::from(actual.as_ref().ct_eq(digest.as_slice()))
            }
            PasswordHash::Pbkdf2 {
                iterations,
                salt,
                digest,
            } => pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA512,
                *iterations,
                salt,
                password,
                digest,
            )
            .is_ok(),
            PasswordHash::Argon2id {
                params,
                salt,
                digest,
            } => {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut actual = vec![0u8; digest.len()];
                // Fails only for inputs beyond argon2's limits (a password over 4 GiB): no match.
                argon2
                    .hash_password_into(password, salt, &mut actual)
                    .is_ok()
                    && bool::from(actual.as_slice().ct_eq(digest))
            }
        }
    }

    /// The cost class of this hash.
    pub(crate) fn shape(&self) -> Shape {
        match self {
            PasswordHash::Sha512 { salt, .. } => Shape::Sha512 { salt: salt.len() },
            PasswordHash::Pbkdf2 {
                iterations, salt, ..
            } => Shape::Pbkdf2 {
                iterations: iterations.get(),
                salt: salt.len(),
            },
            PasswordHash::Argon2id {
                params,
                salt,
                digest,
            } => Shape::Argon2id {
                m: params.m_cost(),
                t: params.t_cost(),
                p: params.p_cost(),
                salt: salt.len(),
                out: digest.len(),
            },
        }
    }

    /// A hash that costs the same to verify as this one and that no password is expected to
    /// match: its expected output is all zeros. Verifying unknown users against it makes them
    /// take as long as known ones.
    pub(crate) fn decoy(&self) -> PasswordHash {
        let mut decoy = self.clone();
        match &mut decoy {
            PasswordHash::Sha512 { digest, .. } | PasswordHash::Pbkdf2 { digest, .. } => {
                digest.fill(0);
            }
            PasswordHash::Argon2id { digest, .. } => digest.fill(0),
        }
        decoy
    }

    /// The decoy for a file without users: Mosquitto 2.1's default `$7$` (1,000 iterations,
    /// 64-byte salt).
    pub(crate) fn default_decoy() -> PasswordHash {
        const ITERATIONS: NonZeroU32 = match NonZeroU32::new(1_000) {
            Some(n) => n,
            None => NonZeroU32::MIN,
        };
        PasswordHash::Pbkdf2 {
            iterations: ITERATIONS,
            salt: vec![0u8; 64].into_boxed_slice(),
            digest: [0u8; SHA512_LEN],
        }
    }
}

/// Decodes a base64 field and checks its length; the error names the field, never its text.
fn decode(
    engine: &GeneralPurpose,
    text: &str,
    what: &str,
    lengths: RangeInclusive<usize>,
) -> Result<Vec<u8>, String> {
    let bytes = engine
        .decode(text)
        .map_err(|_| format!("{what} is not base64"))?;
    if lengths.contains(&bytes.len()) {
        return Ok(bytes);
    }
    let (low, high) = lengths.into_inner();
    Err(if low == high {
        format!("{what} of {} bytes; expected {low}", bytes.len())
    } else {
        format!("{what} of {} bytes; expected {low} to {high}", bytes.len())
    })
}

fn mosquitto_salt(text: &str) -> Result<Box<[u8]>, String> {
    decode(&MOSQUITTO_BASE64, text, "salt", SALT_LEN).map(Vec::into_boxed_slice)
}

fn sha512_digest(text: &str) -> Result<[u8; SHA512_LEN], String> {
    let bytes = decode(&MOSQUITTO_BASE64, text, "hash", SHA512_LEN..=SHA512_LEN)?;
    <[u8; SHA512_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| format!("hash of {} bytes; expected {SHA512_LEN}", bytes.len()))
}

/// A decimal `u32` without sign, at most `max` (`Err` names `what` and the `setting` that
/// holds the limit).
fn capped(text: &str, what: &str, unit: &str, max: u32, setting: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not a number"));
    }
    let n: u32 = text
        .parse()
        .map_err(|_| format!("{what} larger than {}", u32::MAX))?;
    if n > max {
        return Err(format!(
            "{what} {n}{unit} above the limit of {max}{unit} (setting `{setting}`)"
        ));
    }
    Ok(n)
}

fn iteration_count(text: &str, max: u32) -> Result<NonZeroU32, String> {
    let n = capped(text, "iteration count", "", max, "max_pbkdf2_iterations")?;
    NonZeroU32::new(n).ok_or_else(|| "iteration count is 0".to_owned())
}

fn argon2id(
    version: &str,
    params: &str,
    salt: &str,
    digest: &str,
    settings: &PasswordSettings,
) -> Result<PasswordHash, String> {
    if version != "v=19" {
        return Err("argon2id version is not `v=19`".into());
    }
    let mut fields = params.split(',');
    let (Some(m), Some(t), Some(p), None) = (
        fields.next().and_then(|f| f.strip_prefix("m=")),
        fields.next().and_then(|f| f.strip_prefix("t=")),
        fields.next().and_then(|f| f.strip_prefix("p=")),
        fields.next(),
    ) else {
        return Err("argon2id parameters are not `m=<KiB>,t=<passes>,p=<lanes>`".into());
    };
    let m = capped(
        m,
        "argon2id memory cost",
        " KiB",
        settings.max_argon2_memory_kib,
        "max_argon2_memory_kib",
    )?;
    let t = capped(
        t,
        "argon2id time cost",
        "",
        settings.max_argon2_passes,
        "max_argon2_passes",
    )?;
    let p = capped(p, "argon2id parallelism", "", u32::MAX, "")?;
    let salt = decode(&STANDARD_NO_PAD, salt, "salt", ARGON2_SALT_LEN)?;
    let digest = decode(&STANDARD_NO_PAD, digest, "hash", ARGON2_HASH_LEN)?;
    let params = Params::new(m, t, p, Some(digest.len()))
        .map_err(|e| format!("argon2id parameters not accepted: {e}"))?;
    Ok(PasswordHash::Argon2id {
        params,
        salt: salt.into_boxed_slice(),
        digest: digest.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PasswordSettings {
        PasswordSettings::default()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A `$7$` hash made with ring's PBKDF2 (the integration tests use mosquitto_passwd).
    fn pbkdf2_text(password: &[u8], salt: &[u8], iterations: u32) -> String {
        let mut out = [0u8; 64];
        let n = NonZeroU32::new(iterations).unwrap();
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, n, salt, password, &mut out);
        format!("$7${iterations}${}${}", b64(salt), b64(&out))
    }

    #[test]
    fn pbkdf2_round_trip_and_decoy() {
        let text = pbkdf2_text(b"pw", &[7u8; 12], 3);
        let hash = PasswordHash::parse(&text, &settings()).unwrap();
        assert!(hash.matches(b"pw"));
        assert!(!hash.matches(b"pW"));
        assert!(!hash.matches(b""));
        assert_eq!(
            hash.shape(),
            Shape::Pbkdf2 {
                iterations: 3,
                salt: 12
            }
        );
        let decoy = hash.decoy();
        assert_eq!(decoy.shape(), hash.shape());
        assert!(!decoy.matches(b"pw"));
    }

    #[test]
    fn sha512_is_password_then_salt() {
        let salt = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut ctx = digest::Context::new(&digest::SHA512);
        ctx.update(b"pw");
        ctx.update(&salt);
        let text = format!("$6${}${}", b64(&salt), b64(ctx.finish().as_ref()));
        let hash = PasswordHash::parse(&text, &settings()).unwrap();
        assert!(hash.matches(b"pw"));
        assert!(!hash.matches(b"pw\0"));
        // Unpadded base64 is read as well.
        let unpadded = text.trim_end_matches('=');
        assert!(PasswordHash::parse(unpadded, &settings())
            .unwrap()
            .matches(b"pw"));
    }

    #[test]
    fn argon2id_with_64_byte_salt() {
        let salt = [9u8; 64];
        let params = Params::new(64, 1, 1, Some(32)).unwrap();
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(b"pw", &salt, &mut out)
            .unwrap();
        let text = format!(
            "$argon2id$v=19$m=64,t=1,p=1${}${}",
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(out)
        );
        let hash = PasswordHash::parse(&text, &settings()).unwrap();
        assert!(hash.matches(b"pw"));
        assert!(!hash.matches(b"px"));
        assert!(!hash.decoy().matches(b"pw"));
    }

    #[test]
    fn rejects_and_never_quotes_the_hash() {
        let good = pbkdf2_text(b"pw", &[7u8; 12], 3);
        let fields: Vec<&str> = good.split('$').collect();
        let (salt, digest) = (fields[3], fields[4]);
        let cases = [
            ("plain".to_owned(), "unsupported password hash"),
            (format!("$5${salt}${digest}"), "unsupported password hash"),
            (format!("$6${salt}"), "is not `$6$<salt>$<hash>`"),
            (format!("$7$0${salt}${digest}"), "iteration count is 0"),
            (format!("$7$-1${salt}${digest}"), "not a number"),
            (format!("$7$+5${salt}${digest}"), "not a number"),
            (format!("$7$99999999999${salt}${digest}"), "larger than"),
            (format!("$7$4294967295${salt}${digest}"), "above the limit"),
            (format!("$7$5$!!${digest}"), "salt is not base64"),
            (format!("$7$5$QUJD${digest}"), "salt of 3 bytes"),
            (format!("$7$5${salt}$QUJD"), "hash of 3 bytes"),
            (format!("$7$5${salt}${digest}$x"), "is not `$7$"),
            (
                format!("$argon2i$v=19$m=64,t=1,p=1${salt}${digest}"),
                "only the argon2id",
            ),
            (
                format!("$argon2id$v=16$m=64,t=1,p=1${salt}${digest}"),
                "version",
            ),
            (
                format!("$argon2id$v=19$t=1,m=64,p=1${salt}${digest}"),
                "parameters are not",
            ),
            (
                format!("$argon2id$v=19$m=64,t=1,p=1,x=2${salt}${digest}"),
                "parameters are not",
            ),
            (
                format!("$argon2id$v=19$m=65537,t=1,p=1${salt}${digest}"),
                "above the limit of 65536 KiB",
            ),
            (
                format!("$argon2id$v=19$m=64,t=11,p=1${salt}${digest}"),
                "time cost 11 above",
            ),
            (
                format!("$argon2id$v=19$m=8,t=1,p=2${salt}$AAAAAAAAAAAAAAAAAAAAAA"),
                "not accepted",
            ),
            (
                format!("$argon2id$v=19$m=64,t=1,p=1${salt}$AAAA"),
                "hash of 3 bytes",
            ),
            ("$7$5$".to_owned() + &"A".repeat(600), "longer than"),
        ];
        for (text, expected) in cases {
            let err = match PasswordHash::parse(&text, &settings()) {
                Ok(_) => panic!("accepted {text}"),
                Err(e) => e,
            };
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains(digest) && !err.contains(salt), "{err}");
        }
    }
}
