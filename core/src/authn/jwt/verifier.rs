//! [`JwtVerifier`]: the immutable, cheaply cloned verifier a [`JwtVerifierBuilder`] compiles,
//! and the [`VerifiedToken`] it returns.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::algorithm::Algorithm;
use super::claims::{ClaimMapping, Claims, Rules};
use super::header::{decode_part, Compact, Header};
use super::jwks;
use super::key::{public_key_from_pem, PinnedKey};
use crate::{Error, Identity, Location, Rejection};

/// The default cap on a token's length in bytes, checked before anything is decoded.
pub const DEFAULT_MAX_LEN: usize = 8 * 1024;

/// The default clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 60;

/// Collects keys and rules; [`build`](JwtVerifierBuilder::build) checks them and returns a
/// [`JwtVerifier`]. Each key method fails at once on a bad key, naming the file or key id.
pub struct JwtVerifierBuilder {
    keys: BTreeMap<Arc<str>, PinnedKey>,
    issuer: Option<String>,
    audiences: Vec<String>,
    leeway: u64,
    max_len: usize,
    mapping: ClaimMapping,
    policy_claim: Option<String>,
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("keys", &KeyList(&self.keys))
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl JwtVerifierBuilder {
    fn new() -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            keys: BTreeMap::new(),
            issuer: None,
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            max_len: DEFAULT_MAX_LEN,
            mapping: ClaimMapping::new(),
            policy_claim: None,
        }
    }

    /// Adds a public key from a PEM file (`name` is how the configuration names the file):
    /// an SPKI `PUBLIC KEY` (RSA, P-256, P-384 or Ed25519) or a PKCS#1 `RSA PUBLIC KEY`, pinned
    /// to `alg` and selected by `kid`. RSA keys need 2,048 bits or more. An HMAC algorithm is
    /// refused here: HMAC takes a secret ([`hmac_secret`](Self::hmac_secret)), never a public key.
    pub fn key_pem(
        self,
        kid: &str,
        alg: Algorithm,
        name: &str,
        pem: &[u8],
    ) -> Result<JwtVerifierBuilder, Error> {
        let located = |m: String| Error::single(Location::File(name.to_owned()), m);
        if alg.is_hmac() {
            return Err(located(format!(
                "key `{kid}`: {alg} takes a shared secret, not a PEM public key"
            )));
        }
        let key = public_key_from_pem(pem)
            .and_then(|key| PinnedKey::public(alg, key))
            .map_err(|m| located(format!("key `{kid}`: {m}")))?;
        self.add(kid, key, located)
    }

    /// Adds every signature key of a JSON Web Key Set (`name` is how the configuration names
    /// the file): RSA (`n`, `e`), EC (`crv` P-256 or P-384, `x`, `y`), OKP (`crv` Ed25519, `x`)
    /// and oct (`k`) keys, each with a `kid` and an `alg` (required: the key is pinned to it).
    ///
    /// Keys marked for another use (`use` other than `sig`, or `key_ops` without `verify`) are
    /// skipped. Every other key must be complete and supported, or the whole set is refused, so
    /// that a bad key fails the load rather than some tokens later; a set with no signature key
    /// is refused too. Public keys that carry private members (`d`, `p`, ...) are refused.
    pub fn jwks(mut self, name: &str, json: &[u8]) -> Result<JwtVerifierBuilder, Error> {
        let located = |line: usize, m: String| {
            Error::single(
                Location::FileLine {
                    file: name.to_owned(),
                    line,
                },
                m,
            )
        };
        let keys = jwks::parse(json).map_err(|(line, m)| located(line, m))?;
        for (kid, key) in keys {
            self = self.add(&kid, key, |m| located(1, m))?;
        }
        Ok(self)
    }

    /// Adds an HMAC secret pinned to `HS256`, `HS384` or `HS512`. The secret must be at least
    /// as long as the hash (32, 48 or 64 bytes; RFC 7518 section 3.2).
    pub fn hmac_secret(
        self,
        kid: &str,
        alg: Algorithm,
        secret: &[u8],
    ) -> Result<JwtVerifierBuilder, Error> {
        let located = |m: String| Error::single(Location::Document, m);
        let key =
            PinnedKey::hmac(alg, secret).map_err(|m| located(format!("HMAC key `{kid}`: {m}")))?;
        self.add(kid, key, located)
    }

    fn add(
        mut self,
        kid: &str,
        key: PinnedKey,
        located: impl Fn(String) -> Error,
    ) -> Result<JwtVerifierBuilder, Error> {
        if kid.is_empty() {
            return Err(located("a key id is empty".to_owned()));
        }
        if self.keys.contains_key(kid) {
            return Err(located(format!("key id `{kid}` is given twice")));
        }
        self.keys.insert(Arc::from(kid), key);
        Ok(self)
    }

    /// Requires `iss` to equal `issuer` exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> JwtVerifierBuilder {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` (a string, or a list of strings) contains `audience`. Call
    /// again to accept several. With no audience configured, a token with an `aud` is refused
    /// (RFC 7519 section 4.1.3).
    pub fn audience(mut self, audience: impl Into<String>) -> JwtVerifierBuilder {
        self.audiences.push(audience.into());
        self
    }

    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (default 60).
    pub fn leeway(mut self, seconds: u64) -> JwtVerifierBuilder {
        self.leeway = seconds;
        self
    }

    /// The longest token accepted, in bytes (default 8 KiB); longer ones are
    /// [`Rejection::TooLarge`] before anything is decoded.
    pub fn max_len(mut self, bytes: usize) -> JwtVerifierBuilder {
        self.max_len = bytes;
        self
    }

    /// How claims become identity attributes (default: `sub` is the thing name).
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> JwtVerifierBuilder {
        self.mapping = mapping;
        self
    }

    /// Allows tokens to carry extra policy statements in the claim `name` (EMQX calls it `acl`):
    /// its raw JSON is then given by [`VerifiedToken::policy`] and left out of the claims and
    /// the identity. Without this call such a claim is an ordinary claim and grants nothing.
    pub fn policy_claim(mut self, name: impl Into<String>) -> JwtVerifierBuilder {
        self.policy_claim = Some(name.into());
        self
    }

    /// Checks the configuration and returns the verifier.
    pub fn build(self) -> Result<JwtVerifier, Error> {
        let mut problems = Vec::new();
        let mut problem = |m: &str| problems.push(crate::Problem::new(Location::Document, m));
        if self.keys.is_empty() {
            problem("no token keys are configured");
        }
        if self.max_len == 0 {
            problem("the token length cap is zero");
        }
        if self.issuer.as_deref() == Some("") {
            problem("the token issuer is empty");
        }
        if self.audiences.iter().any(String::is_empty) {
            problem("a token audience is empty");
        }
        if self.policy_claim.as_deref() == Some("") {
            problem("the policy claim name is empty");
        }
        if let Err(e) = self.mapping.validate() {
            problems.extend(e.problems().iter().cloned());
        }
        if !problems.is_empty() {
            return Err(Error::from_problems(problems));
        }
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                keys: self.keys,
                rules: Rules {
                    issuer: self.issuer.map(String::into_boxed_str),
                    audiences: self
                        .audiences
                        .into_iter()
                        .map(String::into_boxed_str)
                        .collect(),
                    leeway: self.leeway,
                },
                max_len: self.max_len,
                mapping: self.mapping,
                policy_claim: self.policy_claim,
            }),
        })
    }
}

/// Verifies compact JWS tokens (JWTs) against pinned keys and turns their claims into an
/// [`Identity`]. Immutable; clones share the keys.
///
/// A token passes when, in this order: it is no longer than the cap; it has three base64url
/// parts; its header names a supported algorithm (`none` never is); its `kid` names a key (a
/// verifier with exactly one key also takes tokens without `kid`); the header `alg` equals the
/// key's pinned algorithm; the header has no `crit`; the signature verifies. Only then are the
/// claims read: `exp` (required), `nbf`, `iat`, `iss`, `aud`, and the [`ClaimMapping`].
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: BTreeMap<Arc<str>, PinnedKey>,
    rules: Rules,
    max_len: usize,
    mapping: ClaimMapping,
    policy_claim: Option<String>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("JwtVerifier")
            .field("keys", &KeyList(&inner.keys))
            .field("rules", &inner.rules)
            .field("max_len", &inner.max_len)
            .field("mapping", &inner.mapping)
            .field("policy_claim", &inner.policy_claim)
            .finish()
    }
}

/// Key ids and algorithms, never key material.
struct KeyList<'k>(&'k BTreeMap<Arc<str>, PinnedKey>);

impl fmt::Debug for KeyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(kid, key)| (kid, key.algorithm().as_str())),
            )
            .finish()
    }
}

impl JwtVerifier {
    /// A builder with no keys, no issuer or audience, 60 s leeway and an 8 KiB cap.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::new()
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch). Failures are
    /// [`Error::Rejected`] with the reason; none of them quotes the token.
    pub fn verify(&self, token: impl AsRef<[u8]>, now: u64) -> Result<VerifiedToken, Error> {
        self.verify_bytes(token.as_ref(), now)
            .map_err(Error::Rejected)
    }

    /// The longest token accepted, in bytes.
    pub fn max_len(&self) -> usize {
        self.inner.max_len
    }

    /// The clock leeway in seconds: a token is accepted until `exp` plus this.
    pub fn leeway(&self) -> u64 {
        self.inner.rules.leeway
    }

    /// The key ids and their pinned algorithms.
    pub fn keys(&self) -> impl Iterator<Item = (&str, Algorithm)> {
        self.inner
            .keys
            .iter()
            .map(|(kid, key)| (&**kid, key.algorithm()))
    }

    fn verify_bytes(&self, token: &[u8], now: u64) -> Result<VerifiedToken, Rejection> {
        let inner = &*self.inner;
        if token.len() > inner.max_len {
            return Err(Rejection::TooLarge);
        }
        let parts = Compact::split(token)?;
        let mut buf = Vec::with_capacity(token.len());
        decode_part(parts.header, "header", &mut buf)?;
        let header = Header::parse(&buf)?;
        let (kid, key) = self.select(header.kid.as_deref())?;
        if header.alg != key.algorithm() {
            return Err(Rejection::WrongAlgorithm);
        }
        if header.crit {
            return Err(Rejection::UnsupportedCritical);
        }
        decode_part(parts.signature, "signature", &mut buf)?;
        key.verify(parts.signing_input, &buf)?;
        decode_part(parts.payload, "claims", &mut buf)?;
        let Claims(mut claims) = Claims::parse(&buf)?;
        let expires_at = inner.rules.check(&claims, now)?;
        let policy = inner
            .policy_claim
            .as_deref()
            .and_then(|name| claims.remove(name));
        let identity = inner.mapping.identity(&claims)?;
        Ok(VerifiedToken {
            identity,
            expires_at,
            claims,
            policy,
            key_id: Arc::clone(kid),
            algorithm: key.algorithm(),
        })
    }

    fn select(&self, kid: Option<&str>) -> Result<(&Arc<str>, &PinnedKey), Rejection> {
        let keys = &self.inner.keys;
        match kid {
            Some(kid) => keys.get_key_value(kid).ok_or(Rejection::UnknownIdentity),
            None if keys.len() == 1 => keys.iter().next().ok_or(Rejection::UnknownIdentity),
            None => Err(Rejection::Malformed(
                "token has no `kid` and several keys are configured".to_owned(),
            )),
        }
    }
}

/// What a verified token established.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    identity: Identity,
    expires_at: u64,
    claims: Map<String, Value>,
    policy: Option<Value>,
    key_id: Arc<str>,
    algorithm: Algorithm,
}

impl VerifiedToken {
    /// The identity (kind [`IdentityKind::Jwt`](crate::IdentityKind::Jwt)).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The identity, by value.
    pub fn into_identity(self) -> Identity {
        self.identity
    }

    /// The token's `exp`: the session it opened should end then (seconds since the Unix epoch).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Every claim of the token except the policy claim.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The raw JSON of the policy claim, when the verifier allows one
    /// ([`JwtVerifierBuilder::policy_claim`]) and the token has it.
    pub fn policy(&self) -> Option<&Value> {
        self.policy.as_ref()
    }

    /// The id of the key that verified the token.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The algorithm of the signature.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use ring::hmac;

    const SECRET: [u8; 32] = [7; 32];

    fn sign(header: &str, claims: &str, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::builder()
            .hmac_secret("k1", Algorithm::Hs256, &SECRET)
            .unwrap()
            .build()
            .unwrap()
    }

    fn rejection(v: &JwtVerifier, token: &str, now: u64) -> Rejection {
        v.verify(token, now)
            .unwrap_err()
            .rejection()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_valid_token() {
        let t = sign(
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"sub":"dev","exp":100}"#,
            &SECRET,
        );
        let v = verifier().verify(&t, 50).unwrap();
        assert_eq!(v.identity().thing_name(), Some("dev"));
        assert_eq!(v.expires_at(), 100);
        assert_eq!(v.key_id(), "k1");
        assert_eq!(v.algorithm(), Algorithm::Hs256);
        assert_eq!(v.claims().get("sub"), Some(&Value::from("dev")));
        assert_eq!(v.policy(), None);
    }

    #[test]
    fn a_single_key_takes_tokens_without_kid_but_several_do_not() {
        let t = sign(r#"{"alg":"HS256"}"#, r#"{"sub":"dev","exp":100}"#, &SECRET);
        assert!(verifier().verify(&t, 50).is_ok());
        let two = JwtVerifier::builder()
            .hmac_secret("k1", Algorithm::Hs256, &SECRET)
            .unwrap()
            .hmac_secret("k2", Algorithm::Hs256, &[8; 32])
            .unwrap()
            .build()
            .unwrap();
        assert!(matches!(rejection(&two, &t, 50), Rejection::Malformed(_)));
        let other = sign(r#"{"alg":"HS256","kid":"k3"}"#, r#"{"exp":100}"#, &SECRET);
        assert_eq!(rejection(&two, &other, 50), Rejection::UnknownIdentity);
    }

    #[test]
    fn claims_are_not_read_before_the_signature_verifies() {
        // A payload that is not JSON, under a bad signature: the signature is what fails.
        let good = sign(r#"{"alg":"HS256"}"#, "not json", &SECRET);
        let bad = sign(r#"{"alg":"HS256"}"#, "not json", &[9; 32]);
        assert_eq!(rejection(&verifier(), &bad, 0), Rejection::BadSignature);
        assert!(matches!(
            rejection(&verifier(), &good, 0),
            Rejection::Malformed(_)
        ));
    }

    #[test]
    fn the_cap_comes_first() {
        let v = JwtVerifier::builder()
            .hmac_secret("k1", Algorithm::Hs256, &SECRET)
            .unwrap()
            .max_len(10)
            .build()
            .unwrap();
        assert_eq!(rejection(&v, "###########", 0), Rejection::TooLarge);
        assert!(matches!(
            rejection(&v, "##########", 0),
            Rejection::Malformed(_)
        ));
    }

    #[test]
    fn the_policy_claim_is_set_apart_only_when_allowed() {
        let t = sign(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"d","exp":100,"acl":{"pub":["a/#"]}}"#,
            &SECRET,
        );
        let plain = verifier().verify(&t, 0).unwrap();
        assert_eq!(plain.policy(), None);
        assert!(plain.claims().contains_key("acl"));
        let v = JwtVerifier::builder()
            .hmac_secret("k1", Algorithm::Hs256, &SECRET)
            .unwrap()
            .policy_claim("acl")
            .build()
            .unwrap();
        let got = v.verify(&t, 0).unwrap();
        assert_eq!(got.policy(), Some(&serde_json::json!({"pub": ["a/#"]})));
        assert!(!got.claims().contains_key("acl"));
    }

    #[test]
    fn builder_problems() {
        let none = JwtVerifier::builder().build().unwrap_err();
        assert!(none.to_string().contains("no token keys"), "{none}");
        let twice = JwtVerifier::builder()
            .hmac_secret("k", Algorithm::Hs256, &SECRET)
            .unwrap()
            .hmac_secret("k", Algorithm::Hs512, &[1; 64])
            .unwrap_err();
        assert!(twice.to_string().contains("`k` is given twice"), "{twice}");
        let empty = JwtVerifier::builder()
            .hmac_secret("", Algorithm::Hs256, &SECRET)
            .unwrap_err();
        assert!(empty.to_string().contains("empty"), "{empty}");
        let pem_hmac = JwtVerifier::builder()
            .key_pem("k", Algorithm::Hs256, "k.pem", b"")
            .unwrap_err();
        assert!(
            pem_hmac.to_string().starts_with("`k.pem`: key `k`"),
            "{pem_hmac}"
        );
        let many = JwtVerifier::builder()
            .max_len(0)
            .issuer("")
            .audience("")
            .build()
            .unwrap_err();
        assert_eq!(many.problems().len(), 4, "{many}");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let text = format!("{:?}", verifier());
        assert!(text.contains(r#""k1": "HS256""#), "{text}");
        assert!(!text.contains("7, 7"), "{text}");
    }
}
