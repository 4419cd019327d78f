//! Token claims: the JSON object itself (a repeated member is refused), the registered time,
//! issuer and audience checks, and the mapping of claims to identity attributes.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::map::Entry;
use serde_json::{Map, Value};

use crate::identity::valid_claim_name;
use crate::{Error, Identity, IdentityKind, Location, Rejection};

/// The claims object. Unlike `serde_json::Map`'s own parser, a member given twice is an error:
/// two `exp` or `sub` members must not be read one way here and another way elsewhere.
pub(crate) struct Claims(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Claims, D::Error> {
        struct ClaimsVisitor;

        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = Claims;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Claims, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    match map.entry(name) {
                        Entry::Vacant(slot) => {
                            slot.insert(value);
                        }
                        Entry::Occupied(_) => return Err(de::Error::custom("repeated claim")),
                    }
                }
                Ok(Claims(map))
            }
        }

        d.deserialize_map(ClaimsVisitor)
    }
}

impl Claims {
    /// Parses the decoded payload.
    pub(crate) fn parse(json: &[u8]) -> Result<Claims, Rejection> {
        // The messages of serde_json may quote the payload; say only what is wrong.
        serde_json::from_slice(json).map_err(|_| {
            Rejection::Malformed("token claims are not a JSON object with unique names".to_owned())
        })
    }
}

/// The issuer, audience and time rules every token must meet.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Required exact `iss`, if configured.
    pub(crate) issuer: Option<Box<str>>,
    /// Accepted audiences; a token's `aud` must contain one. Empty: tokens must have no `aud`.
    pub(crate) audiences: Box<[Box<str>]>,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub(crate) leeway: u64,
}

impl Rules {
    /// Checks `exp` (required), `nbf`, `iat`, `iss` and `aud` at `now`; returns `exp`.
    pub(crate) fn check(&self, claims: &Map<String, Value>, now: u64) -> Result<u64, Rejection> {
        let exp = seconds(claims, "exp")?.ok_or(Rejection::MissingClaim("exp".to_owned()))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(Rejection::Expired);
        }
        if let Some(nbf) = seconds(claims, "nbf")? {
            if now.saturating_add(self.leeway) < nbf {
                return Err(Rejection::NotYetValid);
            }
        }
        if let Some(iat) = seconds(claims, "iat")? {
            if now.saturating_add(self.leeway) < iat {
                return Err(Rejection::NotYetValid);
            }
        }
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                Some(Value::String(iss)) if iss == &**issuer => {}
                Some(Value::String(_)) => return Err(Rejection::WrongIssuer),
                _ => return Err(Rejection::MissingClaim("iss".to_owned())),
            }
        }
        self.check_audience(claims.get("aud"))?;
        Ok(exp)
    }

    /// RFC 7519 section 4.1.3: a token with an `aud` the verifier does not identify with is
    /// refused, so an `aud` is refused when no audience is configured.
    fn check_audience(&self, aud: Option<&Value>) -> Result<(), Rejection> {
        let accepted = |a: &str| self.audiences.iter().any(|want| &**want == a);
        match aud {
            None if self.audiences.is_empty() => Ok(()),
            None => Err(Rejection::MissingClaim("aud".to_owned())),
            Some(Value::String(a)) if accepted(a) => Ok(()),
            Some(Value::String(_)) => Err(Rejection::WrongAudience),
            Some(Value::Array(list)) => {
                let mut found = false;
                for item in list {
                    let Value::String(a) = item else {
                        return Err(Rejection::Malformed(
                            "claim `aud` is not a string or a list of strings".to_owned(),
                        ));
                    };
                    found |= accepted(a);
                }
                if found {
                    Ok(())
                } else {
                    Err(Rejection::WrongAudience)
                }
            }
            Some(_) => Err(Rejection::Malformed(
                "claim `aud` is not a string or a list of strings".to_owned(),
            )),
        }
    }
}

/// A NumericDate claim as whole seconds. Absent is `None`; a string, a fraction, a negative
/// number or `null` is an error, never "absent" (CVE-2026-25537 in another library).
fn seconds(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(Rejection::Malformed(format!(
            "claim `{name}` is not a whole number of seconds"
        ))),
    }
}

/// How claims become identity attributes.
///
/// By default `sub` becomes the thing name and nothing maps to the client id or username.
/// A mapped claim must be a non-empty string, or the token is refused
/// ([`Rejection::MissingClaim`]). Independently, every scalar claim (string, number, boolean)
/// whose name is usable in a variable (ASCII letters, digits, `_`, `-`, `.`) becomes the
/// attribute `claim.<name>` (`${claim.<name>}` in policies), numbers and booleans as their JSON
/// text; objects, arrays and `null` are skipped. A claim with another name (a namespaced claim
/// such as `https://example.com/role`) is offered only under an alias given with
/// [`ClaimMapping::alias`]. Values are data: one holding `*`, `+`, `#`, `/` or `$` is substituted
/// literally by the policy engine, never as a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    thing_name: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    aliases: BTreeMap<String, String>,
}

impl Default for ClaimMapping {
    fn default() -> ClaimMapping {
        ClaimMapping::new()
    }
}

impl ClaimMapping {
    /// The default mapping: `sub` is the thing name.
    pub fn new() -> ClaimMapping {
        ClaimMapping {
            thing_name: Some("sub".to_owned()),
            client_id: None,
            username: None,
            aliases: BTreeMap::new(),
        }
    }

    /// The claim that names the thing, or `None` for no thing name.
    pub fn thing_name(mut self, claim: Option<&str>) -> ClaimMapping {
        self.thing_name = claim.map(str::to_owned);
        self
    }

    /// The claim that gives the MQTT client id, or `None` (the default) for none.
    pub fn client_id(mut self, claim: Option<&str>) -> ClaimMapping {
        self.client_id = claim.map(str::to_owned);
        self
    }

    /// The claim that gives the username, or `None` (the default) for none.
    pub fn username(mut self, claim: Option<&str>) -> ClaimMapping {
        self.username = claim.map(str::to_owned);
        self
    }

    /// Offers the scalar claim `claim` as `claim.<name>` as well. `name` must be usable in a
    /// variable; [`JwtVerifierBuilder::build`](super::JwtVerifierBuilder::build) checks it.
    pub fn alias(mut self, claim: &str, name: &str) -> ClaimMapping {
        self.aliases.insert(claim.to_owned(), name.to_owned());
        self
    }

    /// Checks the mapping when the verifier is built.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (what, claim) in [
            ("thing name", &self.thing_name),
            ("client id", &self.client_id),
            ("username", &self.username),
        ] {
            if claim.as_deref() == Some("") {
                problems.push(format!("the {what} claim name is empty"));
            }
        }
        for (claim, name) in &self.aliases {
            if !valid_claim_name(name) {
                problems.push(format!(
                    "alias `{name}` for claim `{claim}` is not usable in a variable \
                     (ASCII letters, digits, `_`, `-`, `.`; at most 128)"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::from_problems(
                problems
                    .into_iter()
                    .map(|m| crate::Problem::new(Location::Document, m))
                    .collect(),
            ))
        }
    }

    /// Builds the identity of a verified token.
    pub(crate) fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, Rejection> {
        let mut identity = Identity::new(IdentityKind::Jwt);
        if let Some(claim) = &self.thing_name {
            identity = identity.with_thing_name(mapped(claims, claim)?);
        }
        if let Some(claim) = &self.client_id {
            identity = identity.with_client_id(mapped(claims, claim)?);
        }
        if let Some(claim) = &self.username {
            identity = identity.with_username(mapped(claims, claim)?);
        }
        for (name, value) in claims {
            let Some(text) = scalar_text(value) else {
                continue;
            };
            if let Some(alias) = self.aliases.get(name) {
                identity = identity.with_claim(alias.as_str(), text.clone());
            }
            if valid_claim_name(name) {
                identity = identity.with_claim(name.as_str(), text);
            }
        }
        Ok(identity)
    }
}

/// A mapped claim: a non-empty string.
fn mapped<'c>(claims: &'c Map<String, Value>, claim: &str) -> Result<&'c str, Rejection> {
    match claims.get(claim) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Rejection::MissingClaim(claim.to_owned())),
    }
}

/// The text of a string, number or boolean claim.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Map<String, Value> {
        Claims::parse(json.as_bytes()).unwrap().0
    }

    fn rules() -> Rules {
        Rules {
            issuer: None,
            audiences: Box::new([]),
            leeway: 60,
        }
    }

    #[test]
    fn repeated_and_non_object_claims_are_malformed() {
        for json in [r#"{"exp":1,"exp":2}"#, "[1]", "1", "", r#"{"a":1"#, "\u{0}"] {
            assert!(
                matches!(Claims::parse(json.as_bytes()), Err(Rejection::Malformed(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn exp_is_required_and_whole() {
        let r = rules();
        assert_eq!(r.check(&claims(r#"{"exp":1000}"#), 999), Ok(1000));
        assert_eq!(r.check(&claims(r#"{"exp":1000}"#), 1059), Ok(1000));
        assert_eq!(
            r.check(&claims(r#"{"exp":1000}"#), 1060),
            Err(Rejection::Expired)
        );
        assert_eq!(
            r.check(&claims(r#"{"sub":"a"}"#), 0),
            Err(Rejection::MissingClaim("exp".into()))
        );
        for exp in [r#""2000""#, "2000.0", "2e3", "-1", "null", "true", "[2000]"] {
            let json = format!(r#"{{"exp":{exp}}}"#);
            assert!(
                matches!(r.check(&claims(&json), 0), Err(Rejection::Malformed(_))),
                "{exp}"
            );
        }
        assert_eq!(
            r.check(&claims(&format!(r#"{{"exp":{}}}"#, u64::MAX)), u64::MAX - 1),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn nbf_and_iat_respect_leeway() {
        let r = rules();
        let c = claims(r#"{"exp":5000,"nbf":1000}"#);
        assert_eq!(r.check(&c, 939), Err(Rejection::NotYetValid));
        assert_eq!(r.check(&c, 940), Ok(5000));
        let c = claims(r#"{"exp":5000,"iat":1000}"#);
        assert_eq!(r.check(&c, 939), Err(Rejection::NotYetValid));
        assert_eq!(r.check(&c, 940), Ok(5000));
        assert!(matches!(
            r.check(&claims(r#"{"exp":5000,"nbf":"1"}"#), 2000),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn issuer_and_audience() {
        let r = Rules {
            issuer: Some("https://idp".into()),
            audiences: Box::new(["mqtt".into(), "broker".into()]),
            leeway: 0,
        };
        let check = |json: &str| r.check(&claims(json), 0);
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp","aud":"mqtt"}"#),
            Ok(9)
        );
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp","aud":["x","broker"]}"#),
            Ok(9)
        );
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp/","aud":"mqtt"}"#),
            Err(Rejection::WrongIssuer)
        );
        assert_eq!(
            check(r#"{"exp":9,"aud":"mqtt"}"#),
            Err(Rejection::MissingClaim("iss".into()))
        );
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp","aud":["x"]}"#),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp","aud":[]}"#),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            check(r#"{"exp":9,"iss":"https://idp"}"#),
            Err(Rejection::MissingClaim("aud".into()))
        );
        assert!(matches!(
            check(r#"{"exp":9,"iss":"https://idp","aud":["mqtt",1]}"#),
            Err(Rejection::Malformed(_))
        ));
        // No audience configured: a token addressed to someone is not for us.
        assert_eq!(
            rules().check(&claims(r#"{"exp":9,"aud":"mqtt"}"#), 0),
            Err(Rejection::WrongAudience)
        );
    }

    #[test]
    fn identity_from_claims() {
        let mapping = ClaimMapping::new()
            .client_id(Some("cid"))
            .username(Some("user"))
            .alias("https://example.com/role", "role");
        mapping.validate().unwrap();
        let c = claims(
            r#"{"sub":"sensor/+#","cid":"c-1","user":"u","n":42,"f":1.5,"b":true,
                "o":{"a":1},"l":[1],"z":null,"https://example.com/role":"admin","a b":"x"}"#,
        );
        let id = mapping.identity(&c).unwrap();
        assert_eq!(id.kind(), IdentityKind::Jwt);
        assert_eq!(id.thing_name(), Some("sensor/+#"));
        assert_eq!(id.client_id(), Some("c-1"));
        assert_eq!(id.username(), Some("u"));
        assert_eq!(id.claim("n"), Some("42"));
        assert_eq!(id.claim("f"), Some("1.5"));
        assert_eq!(id.claim("b"), Some("true"));
        assert_eq!(id.claim("role"), Some("admin"));
        assert_eq!(id.claim("sub"), Some("sensor/+#"));
        for skipped in ["o", "l", "z", "a b", "https://example.com/role"] {
            assert_eq!(id.claim(skipped), None, "{skipped}");
        }
    }

    #[test]
    fn mapped_claims_must_be_non_empty_strings() {
        let mapping = ClaimMapping::new().client_id(Some("cid"));
        for json in [
            r#"{"cid":"c"}"#,
            r#"{"sub":"","cid":"c"}"#,
            r#"{"sub":7,"cid":"c"}"#,
        ] {
            assert_eq!(
                mapping.identity(&claims(json)),
                Err(Rejection::MissingClaim("sub".into())),
                "{json}"
            );
        }
        assert_eq!(
            mapping.identity(&claims(r#"{"sub":"s","cid":""}"#)),
            Err(Rejection::MissingClaim("cid".into()))
        );
        let none = ClaimMapping::new().thing_name(None);
        assert_eq!(none.identity(&claims("{}")).unwrap().thing_name(), None);
    }

    #[test]
    fn mapping_validation() {
        assert!(ClaimMapping::new()
            .alias("x", "bad name")
            .validate()
            .is_err());
        assert!(ClaimMapping::new().client_id(Some("")).validate().is_err());
        assert!(ClaimMapping::default().validate().is_ok());
    }
}
