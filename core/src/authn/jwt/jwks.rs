//! JSON Web Key Sets (RFC 7517): RSA (`n`, `e`), EC (`crv` P-256/P-384, `x`, `y`), OKP
//! (`crv` Ed25519, `x`) and oct (`k`) keys, each with a required `kid` and `alg`.
//!
//! Keys marked for another use (`use` other than `sig`, or `key_ops` without `verify`) are
//! skipped. Every other key must be complete and supported, or the whole set is refused: a
//! half-loaded set would fail some tokens at run time instead of at load. Public keys that carry
//! private members (`d`, `p`, ...) are refused so that private keys are not left in
//! configuration. Messages name the key by `kid` (or position) and never quote key material:
//! serde_json's own messages are not used because they may quote a value.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};

use super::algorithm::{Algorithm, Family};
use super::key::{PinnedKey, PublicKey, RsaKey};

/// base64url as JWK members use it; padding is tolerated, stray bits are not.
const JWK_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Members that only private keys have.
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// One problem in a key set: the line (1 for problems with a key) and the message.
pub(crate) type JwksProblem = (usize, String);

/// Reads a key set into `(kid, key)` pairs, in document order.
pub(crate) fn parse(json: &[u8]) -> Result<Vec<(String, PinnedKey)>, JwksProblem> {
    let doc: Value = serde_json::from_slice(json)
        .map_err(|e| (e.line(), format!("not valid JSON (column {})", e.column())))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or((1, "a key set is an object with a `keys` list".to_owned()))?;
    let mut out = Vec::with_capacity(keys.len());
    for (index, jwk) in keys.iter().enumerate() {
        let Some(jwk) = jwk.as_object() else {
            return Err((1, format!("key #{index} is not a JSON object")));
        };
        let name = match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => format!("key `{kid}`"),
            None => format!("key #{index}"),
        };
        if !for_signatures(jwk) {
            continue;
        }
        let key = one_key(jwk).map_err(|m| (1, format!("{name}: {m}")))?;
        out.push(key);
    }
    if out.is_empty() {
        return Err((1, "the key set holds no signature keys".to_owned()));
    }
    Ok(out)
}

/// Whether `use` and `key_ops` allow verifying signatures.
fn for_signatures(jwk: &Map<String, Value>) -> bool {
    let use_ok = jwk.get("use").is_none_or(|u| u.as_str() == Some("sig"));
    let ops_ok = jwk.get("key_ops").is_none_or(|ops| {
        ops.as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")))
    });
    use_ok && ops_ok
}

fn one_key(jwk: &Map<String, Value>) -> Result<(String, PinnedKey), String> {
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        Some(_) => return Err("`kid` is not a non-empty string".to_owned()),
        None => return Err("has no `kid`: keys are selected by key id".to_owned()),
    };
    let alg_name = text(jwk, "alg").map_err(|_| {
        "has no `alg`: every key is pinned to one algorithm, so `alg` is required".to_owned()
    })?;
    let alg = Algorithm::parse(alg_name)
        .ok_or_else(|| format!("algorithm `{alg_name}` is not supported"))?;
    let kty = text(jwk, "kty")?;
    if kty != "oct" {
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(format!(
                "holds the private member `{member}`; give only public keys"
            ));
        }
    }
    let key = match (kty, alg.family()) {
        ("oct", Family::Hmac(_)) => PinnedKey::hmac(alg, &bytes(jwk, "k")?)?,
        ("RSA", Family::Rsa(_)) => {
            let rsa = RsaKey::new(&bytes(jwk, "n")?, &bytes(jwk, "e")?)?;
            PinnedKey::public(alg, PublicKey::Rsa(rsa))?
        }
        ("EC", Family::Ec(curve, _)) => {
            let crv = text(jwk, "crv")?;
            if crv != curve.jwk_name() {
                return Err(format!(
                    "{alg} needs curve `{}`, the key is on `{crv}`",
                    curve.jwk_name()
                ));
            }
            let point = PublicKey::ec(curve, &bytes(jwk, "x")?, &bytes(jwk, "y")?)?;
            PinnedKey::public(alg, point)?
        }
        ("OKP", Family::Ed25519) => {
            let crv = text(jwk, "crv")?;
            if crv != "Ed25519" {
                return Err(format!("OKP curve `{crv}` is not supported (Ed25519)"));
            }
            PinnedKey::public(alg, PublicKey::ed25519(&bytes(jwk, "x")?)?)?
        }
        ("oct" | "RSA" | "EC" | "OKP", _) => {
            return Err(format!("key type `{kty}` cannot be used with {alg}"));
        }
        _ => return Err(format!("key type `{kty}` is not supported")),
    };
    Ok((kid, key))
}

fn text<'j>(jwk: &'j Map<String, Value>, member: &str) -> Result<&'j str, String> {
    jwk.get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{member}` is missing or not a string"))
}

fn bytes(jwk: &Map<String, Value>, member: &str) -> Result<Vec<u8>, String> {
    let encoded = text(jwk, member)?;
    JWK_BASE64
        .decode(encoded)
        .map_err(|_| format!("`{member}` is not base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        JWK_BASE64.encode(bytes)
    }

    fn oct(kid: &str, alg: &str, secret: &[u8]) -> String {
        format!(
            r#"{{"kty":"oct","kid":"{kid}","alg":"{alg}","k":"{}"}}"#,
            b64(secret)
        )
    }

    fn err(json: &str) -> String {
        parse(json.as_bytes()).err().unwrap().1
    }

    #[test]
    fn reads_keys_in_order() {
        let json = format!(
            r#"{{"keys":[{},{},{{"kty":"OKP","crv":"Ed25519","kid":"e","alg":"EdDSA","x":"{}"}},
              {{"kty":"EC","crv":"P-256","kid":"p","alg":"ES256","x":"{}","y":"{}"}}]}}"#,
            oct("a", "HS256", &[1; 32]),
            oct("b", "HS512", &[2; 64]),
            b64(&[3; 32]),
            b64(&[4; 32]),
            b64(&[5; 32]),
        );
        let keys = parse(json.as_bytes()).unwrap();
        let names: Vec<_> = keys
            .iter()
            .map(|(kid, key)| (kid.as_str(), key.algorithm()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", Algorithm::Hs256),
                ("b", Algorithm::Hs512),
                ("e", Algorithm::EdDsa),
                ("p", Algorithm::Es256)
            ]
        );
    }

    #[test]
    fn alg_and_kid_are_required() {
        let no_alg = format!(
            r#"{{"keys":[{{"kty":"oct","kid":"a","k":"{}"}}]}}"#,
            b64(&[1; 32])
        );
        assert!(err(&no_alg).contains("key `a`: has no `alg`"));
        let no_kid = format!(
            r#"{{"keys":[{{"kty":"oct","alg":"HS256","k":"{}"}}]}}"#,
            b64(&[1; 32])
        );
        assert!(err(&no_kid).contains("key #0: has no `kid`"));
    }

    #[test]
    fn mismatches_and_private_members_are_refused() {
        let secret = b64(&[1; 32]);
        for (json, want) in [
            (
                format!(r#"{{"keys":[{{"kty":"oct","kid":"a","alg":"RS256","k":"{secret}"}}]}}"#),
                "cannot be used with RS256",
            ),
            (
                format!(
                    r#"{{"keys":[{{"kty":"EC","crv":"P-384","kid":"a","alg":"ES256","x":"{secret}","y":"{secret}"}}]}}"#
                ),
                "needs curve `P-256`",
            ),
            (
                format!(
                    r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"a","alg":"EdDSA","x":"{secret}","d":"{secret}"}}]}}"#
                ),
                "private member `d`",
            ),
            (
                format!(r#"{{"keys":[{{"kty":"oct","kid":"a","alg":"none","k":"{secret}"}}]}}"#),
                "algorithm `none` is not supported",
            ),
            (
                format!(r#"{{"keys":[{{"kty":"XYZ","kid":"a","alg":"HS256","k":"{secret}"}}]}}"#),
                "key type `XYZ` is not supported",
            ),
            (
                r#"{"keys":[{"kty":"oct","kid":"a","alg":"HS256","k":"@@@"}]}"#.to_owned(),
                "`k` is not base64url",
            ),
        ] {
            let got = err(&json);
            assert!(got.contains(want), "{got} / {want}");
            assert!(!got.contains(&secret), "{got}");
        }
    }

    #[test]
    fn encryption_keys_are_skipped_but_a_set_needs_one_signature_key() {
        let enc = format!(
            r#"{{"kty":"oct","kid":"x","alg":"A256KW","use":"enc","k":"{}"}}"#,
            b64(&[1; 32])
        );
        let ops = format!(
            r#"{{"kty":"oct","kid":"y","alg":"HS256","key_ops":["sign"],"k":"{}"}}"#,
            b64(&[1; 32])
        );
        assert!(err(&format!(r#"{{"keys":[{enc},{ops}]}}"#)).contains("no signature keys"));
        let json = format!(r#"{{"keys":[{enc},{}]}}"#, oct("s", "HS256", &[2; 32]));
        assert_eq!(parse(json.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn syntax_errors_give_a_line() {
        let (line, msg) = parse(b"{\n\"keys\": [\n,]}").err().unwrap();
        assert_eq!(line, 3);
        assert!(msg.starts_with("not valid JSON"), "{msg}");
        assert!(err("[]").contains("`keys` list"));
        assert!(err(r#"{"keys":[1]}"#).contains("key #0 is not a JSON object"));
    }
}
