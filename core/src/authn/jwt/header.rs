//! The compact JWS layout (`header.payload.signature`, each base64url without padding) and the
//! protected header: `alg`, `kid` and whether `crit` is present. Other header members (`typ`,
//! `cty`, and the key-carrying `jwk`, `jku`, `x5u`, `x5c`) are ignored: keys come only from the
//! verifier's configuration, never from the token.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer};

use super::algorithm::Algorithm;
use crate::Rejection;

/// The three parts of a compact JWS, still encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'t> {
    /// The encoded protected header.
    pub(crate) header: &'t [u8],
    /// The encoded payload (the claims).
    pub(crate) payload: &'t [u8],
    /// The encoded signature.
    pub(crate) signature: &'t [u8],
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'t [u8],
}

impl<'t> Compact<'t> {
    /// Splits a token at its two dots. JWE's five parts and other layouts are refused here;
    /// every other byte is checked when the parts are decoded (base64url, no padding), and the
    /// signing input is the header and payload, so it holds only checked bytes.
    pub(crate) fn split(token: &'t [u8]) -> Result<Compact<'t>, Rejection> {
        let mut dots = memchr::memchr_iter(b'.', token);
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(Rejection::Malformed(
                "token is not three dot-separated parts".to_owned(),
            ));
        };
        // `first < second < token.len()`: both are positions of dots inside `token`.
        let part = |range: std::ops::Range<usize>| token.get(range).unwrap_or_default();
        Ok(Compact {
            header: part(0..first),
            payload: part(first + 1..second),
            signature: part(second + 1..token.len()),
            signing_input: part(0..second),
        })
    }
}

/// Decodes one base64url part (no padding, no stray bits) into `out`, replacing its contents.
pub(crate) fn decode_part(encoded: &[u8], what: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
    out.clear();
    URL_SAFE_NO_PAD
        .decode_vec(encoded, out)
        .map_err(|_| Rejection::Malformed(format!("token {what} is not base64url")))
}

/// What the verifier needs from the protected header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'h> {
    /// The algorithm the token claims.
    pub(crate) alg: Algorithm,
    /// The key id, if any.
    pub(crate) kid: Option<Cow<'h, str>>,
    /// Whether a `crit` member is present (no extension is understood, so any is refused).
    pub(crate) crit: bool,
}

#[derive(Deserialize)]
struct RawHeader<'h> {
    #[serde(borrow)]
    alg: Option<Cow<'h, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'h, str>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// True for any value, `null` included: a `crit` member of any shape is refused.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl<'h> Header<'h> {
    /// Parses the decoded header JSON. `alg: none` and unknown algorithms are
    /// [`Rejection::WrongAlgorithm`]; a header that is not a JSON object, has no string `alg`,
    /// has a `kid` that is not a string, or repeats a member is [`Rejection::Malformed`].
    pub(crate) fn parse(json: &'h [u8]) -> Result<Header<'h>, Rejection> {
        let malformed = || Rejection::Malformed("token header is not a valid JSON object".into());
        // serde would also read a struct from a JSON array; a JOSE header is an object.
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(malformed());
        }
        let raw: RawHeader<'h> = serde_json::from_slice(json).map_err(|_| malformed())?;
        let alg = raw
            .alg
            .ok_or_else(|| Rejection::Malformed("token header has no `alg`".to_owned()))?;
        let alg = Algorithm::parse(&alg).ok_or(Rejection::WrongAlgorithm)?;
        Ok(Header {
            alg,
            kid: raw.kid,
            crit: raw.crit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_finds_three_parts() {
        let c = Compact::split(b"aGk.eyJ9.c2ln").unwrap();
        assert_eq!(c.header, b"aGk");
        assert_eq!(c.payload, b"eyJ9");
        assert_eq!(c.signature, b"c2ln");
        assert_eq!(c.signing_input, b"aGk.eyJ9");
        let c = Compact::split(b"..").unwrap();
        assert_eq!(
            (c.header, c.payload, c.signature),
            (&b""[..], &b""[..], &b""[..])
        );
    }

    #[test]
    fn split_refuses_other_layouts() {
        for bad in [&b""[..], b"a.b", b"abc", b"a.b.c.d", b"a.b.c.d.e"] {
            assert!(
                matches!(Compact::split(bad), Err(Rejection::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn decode_part_is_strict() {
        let mut out = Vec::new();
        decode_part(b"aGk", "header", &mut out).unwrap();
        assert_eq!(out, b"hi");
        assert!(decode_part(b"aGk=", "header", &mut out).is_err());
        // `aGl` carries non-zero trailing bits: not the canonical encoding of `hi`.
        assert!(decode_part(b"aGl", "header", &mut out).is_err());
        for bad in [
            &b"a"[..],
            b"aGk ",
            b" aGk",
            b"aG+k",
            b"aG/k",
            b"aGk\xff",
            b"aG\0k",
        ] {
            assert!(decode_part(bad, "header", &mut out).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_fields() {
        let h = Header::parse(br#"{"alg":"ES256","kid":"k\u0031","typ":"JWT"}"#).unwrap();
        assert_eq!(h.alg, Algorithm::Es256);
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert!(!h.crit);
        let h = Header::parse(br#" {"alg":"HS256","crit":null}"#).unwrap();
        assert!(h.crit);
        assert!(Header::parse(br#"{"alg":"HS256"}"#).unwrap().kid.is_none());
    }

    #[test]
    fn header_refusals() {
        for (json, want) in [
            (&br#"{"alg":"none"}"#[..], Rejection::WrongAlgorithm),
            (br#"{"alg":"hs256"}"#, Rejection::WrongAlgorithm),
            (br#"{"alg":"ES512"}"#, Rejection::WrongAlgorithm),
        ] {
            assert_eq!(Header::parse(json), Err(want), "{json:?}");
        }
        for json in [
            &br#"{"kid":"a"}"#[..],
            br#"{"alg":5}"#,
            br#"{"alg":"HS256","kid":7}"#,
            br#"{"alg":"HS256","alg":"RS256"}"#,
            br#"["HS256","k"]"#,
            br#"{"alg":"HS256""#,
            b"",
            b"\xff",
        ] {
            assert!(
                matches!(Header::parse(json), Err(Rejection::Malformed(_))),
                "{json:?}"
            );
        }
    }
}
