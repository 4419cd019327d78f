//! Tokens carried in the MQTT CONNECT: the AWS IoT Core custom-authorizer form in the username,
//! and the plain form where the password is the token.
//!
//! # Signed form (username)
//! ```text
//! <anything>?x-amz-customauthorizer-name=<name>&x-amz-customauthorizer-signature=<sig>&token=<token>
//! ```
//! - The part after the first `?` is a query string: `&`-separated `key=value` parameters in
//!   any order, each key and value percent-decoded (RFC 3986: `%XX`; `+` stays `+`, so an
//!   unencoded base64 signature still reads right). A parameter given twice, an empty
//!   parameter, a parameter without `=`, a bad `%` escape or text that is not UTF-8 is
//!   malformed; unknown parameters are ignored. The part before the `?` may be empty or a
//!   username; it is not authenticated and not used.
//! - `x-amz-customauthorizer-name` selects a configured authorizer; the token is the parameter
//!   named by that authorizer's token key (AWS `tokenKeyName`, often `token`).
//! - `x-amz-customauthorizer-signature` is the base64 (standard alphabet, padding optional)
//!   RSA PKCS#1 v1.5 SHA-256 signature of the token's bytes, verified with the authorizer's
//!   public key (2,048 bits or more) *before* the token itself is read. Signing cannot be
//!   turned off here.
//! - The token is then verified as a JWT by a [`JwtVerifier`]. AWS hands the token to a Lambda
//!   function and so allows opaque tokens; this crate supports JWTs only.
//!
//! # Plain form (password)
//! The MQTT password is the JWT. The username is either ignored or must equal the thing name
//! the token maps to ([`PasswordUsername`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ring::signature::RSA_PKCS1_2048_8192_SHA256;

use crate::authn::jwt::key::{public_key_from_pem, PublicKey, RsaKey};
use crate::authn::jwt::{JwtVerifier, VerifiedToken};
use crate::{Error, Location, Problem, Rejection};

/// The query parameter that names the authorizer.
pub const NAME_PARAM: &str = "x-amz-customauthorizer-name";
/// The query parameter that holds the token signature.
pub const SIGNATURE_PARAM: &str = "x-amz-customauthorizer-signature";
/// The default cap on the username's length in bytes, checked before anything is decoded.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024;
/// The most query parameters read from one username.
const MAX_PARAMS: usize = 16;

/// Standard base64, padding optional, no stray bits.
const SIGNATURE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the username must be when the token is the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PasswordUsername {
    /// Any username, or none: it is ignored (the default).
    #[default]
    Any,
    /// The thing name the token maps to, exactly; otherwise [`Rejection::WrongSecret`] (the
    /// token does not belong to that username).
    ThingName,
}

/// Collects authorizers; [`build`](CustomAuthorizerBuilder::build) returns a
/// [`CustomAuthorizer`].
#[derive(Debug)]
pub struct CustomAuthorizerBuilder {
    authorizers: BTreeMap<String, Authorizer>,
    max_len: usize,
    password_username: PasswordUsername,
}

#[derive(Clone)]
struct Authorizer {
    key: RsaKey,
    token_key: String,
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("key_bits", &self.key.bits())
            .field("token_key", &self.token_key)
            .finish()
    }
}

impl CustomAuthorizerBuilder {
    /// Adds the authorizer `name` whose token travels in the parameter `token_key` and whose
    /// signatures verify with the RSA public key in the PEM file `file` (SPKI `PUBLIC KEY` or
    /// PKCS#1 `RSA PUBLIC KEY`, 2,048 bits or more).
    pub fn authorizer_pem(
        mut self,
        name: &str,
        token_key: &str,
        file: &str,
        pem: &[u8],
    ) -> Result<CustomAuthorizerBuilder, Error> {
        let located = |m: String| {
            Error::single(
                Location::File(file.to_owned()),
                format!("authorizer `{name}`: {m}"),
            )
        };
        if name.is_empty() || token_key.is_empty() {
            return Err(located(
                "the name and the token key must not be empty".into(),
            ));
        }
        if token_key == NAME_PARAM || token_key == SIGNATURE_PARAM {
            return Err(located(format!(
                "the token key `{token_key}` is a reserved parameter"
            )));
        }
        if self.authorizers.contains_key(name) {
            return Err(located("the name is given twice".into()));
        }
        let key = match public_key_from_pem(pem).map_err(located)? {
            PublicKey::Rsa(key) => key,
            PublicKey::Ec { .. } | PublicKey::Ed25519(_) => {
                return Err(located("the signing key must be an RSA key".into()));
            }
        };
        self.authorizers.insert(
            name.to_owned(),
            Authorizer {
                key,
                token_key: token_key.to_owned(),
            },
        );
        Ok(self)
    }

    /// The longest username accepted in the signed form, in bytes (default 16 KiB); longer
    /// ones are [`Rejection::TooLarge`] before anything is decoded. The token inside is also
    /// held to the [`JwtVerifier`]'s own cap.
    pub fn max_len(mut self, bytes: usize) -> CustomAuthorizerBuilder {
        self.max_len = bytes;
        self
    }

    /// What the username must be in the plain form (default: anything).
    pub fn password_username(mut self, rule: PasswordUsername) -> CustomAuthorizerBuilder {
        self.password_username = rule;
        self
    }

    /// Checks the configuration. A builder without authorizers is valid: it accepts only the
    /// plain form.
    pub fn build(self) -> Result<CustomAuthorizer, Error> {
        if self.max_len == 0 {
            return Err(Error::from_problems(vec![Problem::new(
                Location::Document,
                "the username length cap is zero",
            )]));
        }
        Ok(CustomAuthorizer {
            authorizers: self.authorizers,
            max_len: self.max_len,
            password_username: self.password_username,
        })
    }
}

/// Verifies tokens carried in an MQTT CONNECT (see the [module documentation](self)).
/// Immutable once built.
#[derive(Debug, Clone)]
pub struct CustomAuthorizer {
    authorizers: BTreeMap<String, Authorizer>,
    max_len: usize,
    password_username: PasswordUsername,
}

impl CustomAuthorizer {
    /// A builder with no authorizers, a 16 KiB cap and any username in the plain form.
    pub fn builder() -> CustomAuthorizerBuilder {
        CustomAuthorizerBuilder {
            authorizers: BTreeMap::new(),
            max_len: DEFAULT_MAX_LEN,
            password_username: PasswordUsername::Any,
        }
    }

    /// Whether a username is in the signed form (it holds a `?`).
    pub fn is_signed_form(username: &str) -> bool {
        username.contains('?')
    }

    /// Verifies the signed form in `username`: the authorizer's signature over the token
    /// first, then the token with `jwt` at `now`.
    pub fn verify(
        &self,
        username: &str,
        now: u64,
        jwt: &JwtVerifier,
    ) -> Result<VerifiedToken, Error> {
        let token = self.signed_token(username).map_err(Error::Rejected)?;
        jwt.verify(token.as_bytes(), now)
    }

    /// Verifies the plain form: `password` is the token; `username` is checked as configured.
    pub fn verify_password(
        &self,
        username: Option<&str>,
        password: &[u8],
        now: u64,
        jwt: &JwtVerifier,
    ) -> Result<VerifiedToken, Error> {
        let verified = jwt.verify(password, now)?;
        match self.password_username {
            PasswordUsername::Any => Ok(verified),
            PasswordUsername::ThingName => {
                if username.is_some() && verified.identity().thing_name() == username {
                    Ok(verified)
                } else {
                    Err(Error::Rejected(Rejection::WrongSecret))
                }
            }
        }
    }

    /// Verifies whichever form the CONNECT uses: the signed form when the username holds a
    /// `?`, else the plain form when there is a password.
    pub fn verify_connect(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        now: u64,
        jwt: &JwtVerifier,
    ) -> Result<VerifiedToken, Error> {
        match (username, password) {
            (Some(u), _) if CustomAuthorizer::is_signed_form(u) => self.verify(u, now, jwt),
            (_, Some(p)) => self.verify_password(username, p, now, jwt),
            (_, None) => Err(Error::Rejected(Rejection::Malformed(
                "no token in the username or the password".to_owned(),
            ))),
        }
    }

    /// Checks the signed form and returns the token, not yet verified as a JWT.
    fn signed_token<'u>(&self, username: &'u str) -> Result<Cow<'u, str>, Rejection> {
        if username.len() > self.max_len {
            return Err(Rejection::TooLarge);
        }
        let (_, query) = username
            .split_once('?')
            .ok_or_else(|| malformed("the username has no `?` query"))?;
        let mut params = Query::parse(query)?;
        let name = params
            .take(NAME_PARAM)
            .ok_or_else(|| malformed("no `x-amz-customauthorizer-name` parameter"))?;
        let authorizer = self
            .authorizers
            .get(&*name)
            .ok_or(Rejection::UnknownIdentity)?;
        let signature = params
            .take(SIGNATURE_PARAM)
            .ok_or_else(|| malformed("no `x-amz-customauthorizer-signature` parameter"))?;
        let token = params.take(&authorizer.token_key).ok_or_else(|| {
            Rejection::Malformed(format!("no `{}` parameter", authorizer.token_key))
        })?;
        let signature = SIGNATURE_BASE64
            .decode(signature.as_bytes())
            .map_err(|_| malformed("the authorizer signature is not base64"))?;
        authorizer
            .key
            .verify(&RSA_PKCS1_2048_8192_SHA256, token.as_bytes(), &signature)?;
        Ok(token)
    }
}

fn malformed(what: &str) -> Rejection {
    Rejection::Malformed(what.to_owned())
}

/// Decoded query parameters, each key at most once.
struct Query<'q> {
    params: Vec<(Cow<'q, str>, Option<Cow<'q, str>>)>,
}

impl<'q> Query<'q> {
    fn parse(query: &'q str) -> Result<Query<'q>, Rejection> {
        let mut params: Vec<(Cow<'q, str>, Option<Cow<'q, str>>)> = Vec::new();
        for param in query.split('&') {
            if params.len() == MAX_PARAMS {
                return Err(malformed("the username has too many query parameters"));
            }
            let (key, value) = param
                .split_once('=')
                .ok_or_else(|| malformed("a query parameter has no `=`"))?;
            let key = percent_decode(key)?;
            if key.is_empty() {
                return Err(malformed("a query parameter has an empty name"));
            }
            if params.iter().any(|(k, _)| *k == key) {
                return Err(Rejection::Malformed(format!(
                    "query parameter `{key}` is given twice"
                )));
            }
            params.push((key, Some(percent_decode(value)?)));
        }
        Ok(Query { params })
    }

    /// Takes the value of `key`, if present.
    fn take(&mut self, key: &str) -> Option<Cow<'q, str>> {
        self.params
            .iter_mut()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.take())
    }
}

/// RFC 3986 percent-decoding: `%XX` becomes the byte, everything else stays; the result must
/// be UTF-8.
fn percent_decode(text: &str) -> Result<Cow<'_, str>, Rejection> {
    if !text.contains('%') {
        return Ok(Cow::Borrowed(text));
    }
    let bad = || malformed("a query parameter has a bad `%` escape");
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex).ok_or_else(bad)?;
            let lo = bytes.next().and_then(hex).ok_or_else(bad)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| malformed("a query parameter is not UTF-8"))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("abc").unwrap(), "abc");
        assert!(matches!(percent_decode("abc").unwrap(), Cow::Borrowed(_)));
        assert_eq!(percent_decode("a%2Bb%2fc+d%3D").unwrap(), "a+b/c+d=");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        for bad in ["%", "%4", "%zz", "a%g0", "%C3"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_parameters() {
        let mut q = Query::parse("token=a.b.c&x-amz-customauthorizer-name=n%31&sig=%2B=").unwrap();
        assert_eq!(q.take("x-amz-customauthorizer-name").unwrap(), "n1");
        assert_eq!(q.take("sig").unwrap(), "+=");
        assert_eq!(q.take("token").unwrap(), "a.b.c");
        assert_eq!(q.take("token"), None);
        assert_eq!(q.take("other"), None);
        for bad in [
            "a=1&a=2",
            "a=1&%61=2",
            "a=1&&b=2",
            "a=1&",
            "a",
            "=1",
            "a=%",
            "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17",
        ] {
            assert!(
                matches!(Query::parse(bad), Err(Rejection::Malformed(_))),
                "{bad}"
            );
        }
        assert!(Query::parse("").is_err());
    }

    #[test]
    fn builder_checks() {
        let empty = CustomAuthorizer::builder()
            .authorizer_pem("", "token", "k.pem", b"")
            .unwrap_err();
        assert!(empty.to_string().contains("must not be empty"), "{empty}");
        let reserved = CustomAuthorizer::builder()
            .authorizer_pem("a", NAME_PARAM, "k.pem", b"")
            .unwrap_err();
        assert!(reserved.to_string().contains("reserved"), "{reserved}");
        let garbage = CustomAuthorizer::builder()
            .authorizer_pem("a", "token", "k.pem", b"junk")
            .unwrap_err();
        assert!(
            garbage.to_string().starts_with("`k.pem`: authorizer `a`"),
            "{garbage}"
        );
        assert!(CustomAuthorizer::builder().max_len(0).build().is_err());
        assert!(CustomAuthorizer::builder().build().is_ok());
    }

    #[test]
    fn signed_form_refusals_before_any_key() {
        let auth = CustomAuthorizer::builder().max_len(64).build().unwrap();
        let check = |u: &str| auth.signed_token(u).unwrap_err();
        assert_eq!(check(&"a".repeat(65)), Rejection::TooLarge);
        assert!(matches!(check("user"), Rejection::Malformed(_)));
        assert!(matches!(check("user?token=x"), Rejection::Malformed(_)));
        assert_eq!(
            check("?x-amz-customauthorizer-name=nope&token=x"),
            Rejection::UnknownIdentity
        );
        assert!(CustomAuthorizer::is_signed_form("u?a=b"));
        assert!(!CustomAuthorizer::is_signed_form("u"));
    }
}
