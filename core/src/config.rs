//! The engine configuration: one JSON document naming the policy, the trust anchors, CRLs,
//! certificate registry, PSK files, password files, token keys and sessions settings.
//!
//! Core reads no files: [`Config::files`] lists the files a configuration names, the host reads
//! them, and [`Config::load`] builds everything from their bytes. Every problem names the file
//! (or the configuration field) and never shows a secret.
//!
//! ```json
//! {
//!   "version": 1,
//!   "policy": "policy.json",
//!   "certificates": {
//!     "trustAnchors": ["ca.pem"], "intermediates": [], "crls": ["ca.crl"],
//!     "registry": "registry.json", "acceptUnregistered": false,
//!     "mapping": { "thingName": "cert.subject.cn", "requireClientIdMatch": true }
//!   },
//!   "psk": [{ "file": "psk.txt", "format": "mosquitto" }],
//!   "passwords": { "files": ["passwd"] },
//!   "jwt": { "keys": [{ "kid": "k1", "alg": "RS256", "file": "k1.pem" }], "audience": ["mqtt"] },
//!   "identityTokens": { "store": "tokens.json" },
//!   "declaredIdentities": false,
//!   "sessions": { "max": 2500, "trustDurationSeconds": 3600 }
//! }
//! ```

use serde::Deserialize;

use crate::authn::authenticator::Authenticator;
use crate::authn::crl::StaleCrl;
use crate::authn::custom_authorizer::{CustomAuthorizer, PasswordUsername};
use crate::authn::declared::DeclaredIdentities;
use crate::authn::identity_token::TokenStore;
use crate::authn::jwt::{Algorithm, ClaimMapping, JwtVerifier};
use crate::authn::password::{PasswordFile, PasswordSettings};
use crate::authn::psk::PskStore;
use crate::authn::registry::Registry;
use crate::authn::x509::{CertificateVerifier, IdentityMapping};
use crate::error::{Error, Location, Problem};
use crate::identity::{Attribute, CertField};
use crate::policy::Document;

/// The configuration format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// A parsed engine configuration: settings and the names of the files it needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    version: u32,
    policy: String,
    #[serde(default)]
    certificates: Option<Certificates>,
    #[serde(default)]
    psk: Vec<PskSource>,
    #[serde(default)]
    passwords: Option<Passwords>,
    #[serde(default)]
    jwt: Option<Jwt>,
    #[serde(default)]
    custom_authorizers: Vec<AuthorizerSource>,
    #[serde(default)]
    identity_tokens: Option<IdentityTokens>,
    #[serde(default)]
    declared_identities: bool,
    #[serde(default)]
    allow_anonymous: bool,
    #[serde(default)]
    sessions: SessionSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Certificates {
    trust_anchors: Vec<String>,
    #[serde(default)]
    intermediates: Vec<String>,
    #[serde(default)]
    crls: Vec<String>,
    #[serde(default)]
    registry: Option<String>,
    #[serde(default)]
    accept_unregistered: bool,
    #[serde(default)]
    require_client_auth_eku: bool,
    #[serde(default)]
    accept_stale_crls: bool,
    #[serde(default)]
    mapping: Mapping,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Mapping {
    #[serde(default)]
    thing_name: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    require_client_id_match: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PskSource {
    file: String,
    #[serde(default)]
    format: PskFormat,
    #[serde(default)]
    separator: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PskFormat {
    #[default]
    Mosquitto,
    Emqx,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Passwords {
    files: Vec<String>,
    #[serde(default)]
    max_pbkdf2_iterations: Option<u32>,
    #[serde(default)]
    max_argon2_memory_kib: Option<u32>,
    #[serde(default)]
    cache_capacity: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Jwt {
    #[serde(default)]
    keys: Vec<JwtKey>,
    #[serde(default)]
    jwks: Vec<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Vec<String>,
    #[serde(default)]
    leeway_seconds: Option<u64>,
    #[serde(default)]
    max_length: Option<usize>,
    #[serde(default)]
    claims: Option<JwtClaims>,
    /// A claim holding extra statements (EMQX's `acl`); off unless named.
    #[serde(default)]
    policy_claim: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JwtKey {
    kid: String,
    alg: String,
    /// A PEM public key file, or for HMAC algorithms a file holding the secret.
    file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JwtClaims {
    #[serde(default = "default_sub")]
    thing_name: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

fn default_sub() -> Option<String> {
    Some("sub".to_owned())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuthorizerSource {
    name: String,
    #[serde(default = "default_token_key")]
    token_key: String,
    file: String,
}

fn default_token_key() -> String {
    "token".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IdentityTokens {
    store: String,
}

/// Session settings (the Greengrass client device auth model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionSettings {
    /// Most live sessions (Greengrass's default: 2,500).
    #[serde(default = "default_max_sessions")]
    pub max: usize,
    /// Seconds a verified identity is trusted before it is checked again.
    #[serde(default = "default_trust")]
    pub trust_duration_seconds: u64,
}

fn default_max_sessions() -> usize {
    2_500
}

fn default_trust() -> u64 {
    3_600
}

impl Default for SessionSettings {
    fn default() -> SessionSettings {
        SessionSettings {
            max: default_max_sessions(),
            trust_duration_seconds: default_trust(),
        }
    }
}

/// Everything a configuration builds: the authenticator, the policy document, the registry
/// (empty when none is configured), the sessions settings and the warnings to log.
#[derive(Debug)]
pub struct Loaded {
    /// Turns credentials into identities.
    pub authenticator: Authenticator,
    /// The policy document.
    pub document: Document,
    /// The certificate registry, with the file it came from.
    pub registry: Registry,
    /// The registry's file name, if the configuration names one.
    pub registry_file: Option<String>,
    /// The identity-token store's file name, if any.
    pub token_store_file: Option<String>,
    /// Session settings.
    pub sessions: SessionSettings,
    /// Warnings the host must log at every load (declared identities, anonymous access).
    pub warnings: Vec<String>,
}

fn field_problem(field: &str, message: impl Into<String>) -> Problem {
    Problem::new(
        Location::File(format!("configuration: {field}")),
        message.into(),
    )
}

fn cert_field(field: &str, value: &str) -> Result<CertField, Problem> {
    match Attribute::parse(value) {
        Some(Attribute::Cert(f)) => Ok(f),
        _ => Err(field_problem(
            field,
            format!(
                "`{value}` is not a certificate field (`cert.subject.cn`, `cert.san.uri`, ...)"
            ),
        )),
    }
}

impl Config {
    /// Parses a configuration. Unknown fields are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Config, Error> {
        let config: Config = serde_json::from_slice(bytes).map_err(|e| {
            Error::single(
                Location::Json {
                    line: e.line(),
                    column: e.column(),
                },
                // serde's text names the field or the expected shape; values never appear in
                // it for this schema's errors except unknown enum names, which are not secret.
                e.to_string(),
            )
        })?;
        if config.version != CONFIG_VERSION {
            return Err(Error::single(
                Location::Document,
                format!(
                    "configuration version {} is not supported (this build reads {CONFIG_VERSION})",
                    config.version
                ),
            ));
        }
        Ok(config)
    }

    /// Every file the configuration names, in a stable order, each once.
    pub fn files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = vec![&self.policy];
        if let Some(c) = &self.certificates {
            files.extend(c.trust_anchors.iter().map(String::as_str));
            files.extend(c.intermediates.iter().map(String::as_str));
            files.extend(c.crls.iter().map(String::as_str));
            files.extend(c.registry.as_deref());
        }
        files.extend(self.psk.iter().map(|p| p.file.as_str()));
        if let Some(p) = &self.passwords {
            files.extend(p.files.iter().map(String::as_str));
        }
        if let Some(j) = &self.jwt {
            files.extend(j.keys.iter().map(|k| k.file.as_str()));
            files.extend(j.jwks.iter().map(String::as_str));
        }
        files.extend(self.custom_authorizers.iter().map(|a| a.file.as_str()));
        if let Some(t) = &self.identity_tokens {
            files.push(&t.store);
        }
        let mut seen = std::collections::BTreeSet::new();
        files.retain(|f| seen.insert(*f));
        files
    }

    /// The session settings (a host that spreads sessions over several engines enforces `max`
    /// across them).
    pub fn sessions(&self) -> SessionSettings {
        self.sessions
    }

    /// The certificate registry's file name, if configured (the CLI and hosts persist to it).
    pub fn registry_file(&self) -> Option<&str> {
        self.certificates.as_ref()?.registry.as_deref()
    }

    /// Builds everything from the files' bytes. `read` returns a file's bytes by the name the
    /// configuration gives it (or why it cannot); `random` keys the password cache and the
    /// certificate cache. Every problem in every file is reported together.
    pub fn load(
        &self,
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        random: &[u8; 32],
    ) -> Result<Loaded, Error> {
        let mut problems = Vec::new();
        let mut file = |name: &str, problems: &mut Vec<Problem>| match read(name) {
            Ok(bytes) => Some(bytes),
            Err(why) => {
                problems.push(Problem::new(Location::File(name.to_owned()), why));
                None
            }
        };

        let document =
            file(&self.policy, &mut problems).and_then(|bytes| match Document::from_json(&bytes) {
                Ok(d) => Some(d),
                Err(e) => {
                    problems.extend(e.problems().iter().map(|p| {
                        Problem::new(
                            Location::File(self.policy.clone()),
                            format!("{}: {}", p.location, p.message),
                        )
                    }));
                    None
                }
            });

        let mut auth = Authenticator::new();
        let mut registry = Registry::new();
        if let Some(c) = &self.certificates {
            let mut b = CertificateVerifier::builder()
                .accept_unregistered(c.accept_unregistered)
                .require_client_auth_eku(c.require_client_auth_eku)
                .stale_crl(if c.accept_stale_crls {
                    StaleCrl::Accept
                } else {
                    StaleCrl::Reject
                });
            let mut mapping =
                IdentityMapping::new().require_client_id_match(c.mapping.require_client_id_match);
            match c
                .mapping
                .thing_name
                .as_deref()
                .map(|v| cert_field("certificates.mapping.thingName", v))
            {
                Some(Ok(f)) => mapping = mapping.thing_name(f),
                Some(Err(p)) => problems.push(p),
                None => {}
            }
            match c
                .mapping
                .client_id
                .as_deref()
                .map(|v| cert_field("certificates.mapping.clientId", v))
            {
                Some(Ok(f)) => mapping = mapping.client_id(f),
                Some(Err(p)) => problems.push(p),
                None => {}
            }
            b = b.mapping(mapping);
            let mut ok = true;
            for (names, kind) in [(&c.trust_anchors, 0), (&c.intermediates, 1), (&c.crls, 2)] {
                for name in names {
                    let Some(bytes) = file(name, &mut problems) else {
                        ok = false;
                        continue;
                    };
                    let next = match kind {
                        0 => b.trust_anchors(name, &bytes),
                        1 => b.intermediates(name, &bytes),
                        _ => b.crl(name, &bytes),
                    };
                    // A builder step that fails consumes the builder: start over so that the
                    // remaining files are still checked, and fail the load.
                    b = match next {
                        Ok(b) => b,
                        Err(e) => {
                            problems.extend(e.problems().iter().cloned());
                            ok = false;
                            CertificateVerifier::builder()
                        }
                    };
                }
            }
            if c.trust_anchors.is_empty() {
                problems.push(field_problem(
                    "certificates.trustAnchors",
                    "at least one trust anchor is needed",
                ));
            } else if ok {
                match b.build() {
                    Ok(v) => auth.certificates = Some(v),
                    Err(e) => problems.extend(e.problems().iter().cloned()),
                }
            }
            if let Some(name) = &c.registry {
                if let Some(bytes) = file(name, &mut problems) {
                    match Registry::parse(name, &bytes) {
                        Ok(r) => registry = r,
                        Err(e) => problems.extend(e.problems().iter().cloned()),
                    }
                }
            }
        }

        for source in &self.psk {
            let Some(bytes) = file(&source.file, &mut problems) else {
                continue;
            };
            let store = match source.format {
                PskFormat::Mosquitto => PskStore::from_mosquitto(&source.file, &bytes),
                PskFormat::Emqx => PskStore::from_emqx(
                    &source.file,
                    &bytes,
                    source.separator.as_deref().unwrap_or(":"),
                ),
            };
            match store {
                Ok(s) => auth.psk.push(s),
                Err(e) => problems.extend(e.problems().iter().cloned()),
            }
        }

        if let Some(p) = &self.passwords {
            let mut settings = PasswordSettings::default();
            if let Some(n) = p.max_pbkdf2_iterations {
                settings.max_pbkdf2_iterations = n;
            }
            if let Some(m) = p.max_argon2_memory_kib {
                settings.max_argon2_memory_kib = m;
            }
            if let Some(c) = p.cache_capacity {
                settings.cache_capacity = c;
            }
            for name in &p.files {
                let Some(bytes) = file(name, &mut problems) else {
                    continue;
                };
                match PasswordFile::parse(name, &bytes, &settings, random) {
                    Ok(f) => auth.passwords.push(f),
                    Err(e) => problems.extend(e.problems().iter().cloned()),
                }
            }
        }

        if let Some(j) = &self.jwt {
            let mut b = JwtVerifier::builder();
            let mut ok = true;
            for key in &j.keys {
                let Some(alg) = Algorithm::parse(&key.alg) else {
                    problems.push(field_problem(
                        "jwt.keys",
                        format!("key `{}`: unknown algorithm `{}`", key.kid, key.alg),
                    ));
                    ok = false;
                    continue;
                };
                let Some(bytes) = file(&key.file, &mut problems) else {
                    ok = false;
                    continue;
                };
                let next = if alg.is_hmac() {
                    b.hmac_secret(&key.kid, alg, trim_secret(&bytes))
                } else {
                    b.key_pem(&key.kid, alg, &key.file, &bytes)
                };
                b = match next {
                    Ok(b) => b,
                    Err(e) => {
                        problems.extend(e.problems().iter().cloned());
                        ok = false;
                        JwtVerifier::builder()
                    }
                };
            }
            for name in &j.jwks {
                let Some(bytes) = file(name, &mut problems) else {
                    ok = false;
                    continue;
                };
                b = match b.jwks(name, &bytes) {
                    Ok(b) => b,
                    Err(e) => {
                        problems.extend(e.problems().iter().cloned());
                        ok = false;
                        JwtVerifier::builder()
                    }
                };
            }
            if let Some(iss) = &j.issuer {
                b = b.issuer(iss.clone());
            }
            for aud in &j.audience {
                b = b.audience(aud.clone());
            }
            if let Some(l) = j.leeway_seconds {
                b = b.leeway(l);
            }
            if let Some(m) = j.max_length {
                b = b.max_len(m);
            }
            if let Some(c) = &j.claims {
                b = b.claim_mapping(
                    ClaimMapping::new()
                        .thing_name(c.thing_name.as_deref())
                        .client_id(c.client_id.as_deref())
                        .username(c.username.as_deref()),
                );
            }
            if let Some(pc) = &j.policy_claim {
                b = b.policy_claim(pc.clone());
            }
            if ok {
                match b.build() {
                    Ok(v) => auth.jwt = Some(v),
                    Err(e) => problems.extend(e.problems().iter().cloned()),
                }
            }
        }

        if !self.custom_authorizers.is_empty() {
            if self.jwt.is_none() {
                problems.push(field_problem(
                    "customAuthorizers",
                    "custom authorizers carry JWTs: configure `jwt` keys too",
                ));
            }
            let mut b = CustomAuthorizer::builder().password_username(PasswordUsername::Any);
            let mut ok = true;
            for a in &self.custom_authorizers {
                let Some(bytes) = file(&a.file, &mut problems) else {
                    ok = false;
                    continue;
                };
                b = match b.authorizer_pem(&a.name, &a.token_key, &a.file, &bytes) {
                    Ok(b) => b,
                    Err(e) => {
                        problems.extend(e.problems().iter().cloned());
                        ok = false;
                        CustomAuthorizer::builder()
                    }
                };
            }
            if ok {
                match b.build() {
                    Ok(v) => auth.custom = Some(v),
                    Err(e) => problems.extend(e.problems().iter().cloned()),
                }
            }
        }

        if let Some(t) = &self.identity_tokens {
            if let Some(bytes) = file(&t.store, &mut problems) {
                match TokenStore::from_json(&t.store, &bytes) {
                    Ok(s) => auth.tokens = Some(s),
                    Err(e) => problems.extend(e.problems().iter().cloned()),
                }
            }
        }

        auth.declared = DeclaredIdentities::new(self.declared_identities);
        auth.allow_anonymous = self.allow_anonymous;
        let mut warnings = Vec::new();
        if let Some(w) = auth.declared.warning() {
            warnings.push(w.to_owned());
        }
        if self.allow_anonymous {
            warnings.push(
                "anonymous clients are allowed: they get the identity kind `anonymous` and only \
                 what policies grant to it"
                    .to_owned(),
            );
        }
        if self.sessions.max == 0 {
            problems.push(field_problem("sessions.max", "must be at least 1"));
        }
        match document {
            Some(document) if problems.is_empty() => Ok(Loaded {
                authenticator: auth,
                document,
                registry,
                registry_file: self.registry_file().map(str::to_owned),
                token_store_file: self.identity_tokens.as_ref().map(|t| t.store.clone()),
                sessions: self.sessions,
                warnings,
            }),
            _ => Err(Error::from_problems(problems)),
        }
    }
}

/// An HMAC secret file's bytes without one trailing newline (as editors and `echo` leave).
fn trim_secret(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const POLICY: &str = r#"{"version":1,"groups":[{"name":"all","selectionRule":"*","policies":["p"]}],
        "policies":{"p":[{"id":"s","effect":"allow","operations":["publish"],"resources":["topic:a/#"]}]}}"#;

    fn load(config: &str, files: &[(&str, &[u8])]) -> Result<Loaded, Error> {
        let files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .map(|(n, b)| ((*n).to_owned(), b.to_vec()))
            .collect();
        Config::from_json(config.as_bytes())?.load(
            &mut |name| {
                files
                    .get(name)
                    .cloned()
                    .ok_or_else(|| "not found".to_owned())
            },
            &[7; 32],
        )
    }

    #[test]
    fn minimal_configuration_loads() {
        let l = load(
            r#"{"version":1,"policy":"p.json"}"#,
            &[("p.json", POLICY.as_bytes())],
        )
        .unwrap();
        assert!(l.warnings.is_empty());
        assert_eq!(l.sessions, SessionSettings::default());
    }

    #[test]
    fn every_missing_file_and_bad_field_is_named() {
        let err = load(
            r#"{"version":1,"policy":"p.json","passwords":{"files":["pw"]},
                "certificates":{"trustAnchors":["ca.pem"],"mapping":{"thingName":"username"}}}"#,
            &[],
        )
        .unwrap_err();
        let text = err.to_string();
        for needle in ["`p.json`", "`pw`", "`ca.pem`", "thingName"] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        assert!(Config::from_json(br#"{"version":1,"policy":"p","polcy":1}"#).is_err());
        assert!(Config::from_json(br#"{"version":2,"policy":"p"}"#).is_err());
        assert!(Config::from_json(b"not json").is_err());
    }

    #[test]
    fn declared_identities_warn_at_every_load() {
        let l = load(
            r#"{"version":1,"policy":"p.json","declaredIdentities":true}"#,
            &[("p.json", POLICY.as_bytes())],
        )
        .unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert!(
            l.warnings[0].contains("not authentication"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn files_are_listed_once() {
        let c = Config::from_json(
            br#"{"version":1,"policy":"p.json","psk":[{"file":"k"},{"file":"k","format":"emqx"}]}"#,
        )
        .unwrap();
        assert_eq!(c.files(), vec!["p.json", "k"]);
    }
}
