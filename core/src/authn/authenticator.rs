//! One entry point for every credential a client presents at CONNECT: it picks the method from
//! the credential's form, runs it, and returns the identity with what the host must know (when
//! the credential expires, a certificate's first use, a token's extra statements).

use serde_json::Value;

use crate::authn::custom_authorizer::CustomAuthorizer;
use crate::authn::declared::{DeclaredIdentities, DECLARED_PREFIX};
use crate::authn::identity_token::{TokenStore, TOKEN_PREFIX};
use crate::authn::jwt::JwtVerifier;
use crate::authn::password::PasswordFile;
use crate::authn::psk::PskStore;
use crate::authn::registry::{Registry, StateChange};
use crate::authn::x509::{CertificateVerifier, Fingerprint};
use crate::error::{Error, Rejection};
use crate::identity::{Identity, IdentityKind};

/// What a client presented. Every field is optional; the form decides the method:
///
/// 1. a certificate (the TLS layer verified possession of its key): X.509;
/// 2. a PSK identity (the TLS handshake proved the key): PSK;
/// 3. a password or username starting `IDENTITY-TOKEN//`: identity token;
/// 4. a password or username starting `SYSTEM//`: declared identity (when switched on);
/// 5. a username in the AWS custom-authorizer form (`...?x-amz-customauthorizer-name=...`), or a
///    password that is a JWT: token;
/// 6. a username and password: password files;
/// 7. nothing: anonymous, when allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The MQTT client id.
    pub client_id: Option<&'a str>,
    /// The MQTT username.
    pub username: Option<&'a str>,
    /// The MQTT password (binary in MQTT 5).
    pub password: Option<&'a [u8]>,
    /// The client certificate chain, PEM or DER, leaf first.
    pub certificate: Option<&'a [u8]>,
    /// The TLS-PSK identity the handshake used.
    pub psk_identity: Option<&'a str>,
}

/// A successful authentication.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The identity, with the client id the client sent unless the credential maps one. The
    /// username is set only when it was verified (password files) or mapped from the credential.
    pub identity: Identity,
    /// When the credential stops being valid (token `exp`, certificate `notAfter`): the session
    /// ends then.
    pub expires_at: Option<u64>,
    /// The certificate's fingerprint, for certificate clients.
    pub fingerprint: Option<Fingerprint>,
    /// A registered certificate's first use: persist it.
    pub first_use: Option<StateChange>,
    /// Extra statements a token carried in the configured claim (EMQX's `acl`).
    pub token_policy: Option<Value>,
}

impl Authenticated {
    fn new(identity: Identity) -> Authenticated {
        Authenticated {
            identity,
            expires_at: None,
            fingerprint: None,
            first_use: None,
            token_policy: None,
        }
    }
}

/// Every configured way to authenticate. Built by [`Config::load`](crate::config::Config::load).
#[derive(Debug, Default)]
pub struct Authenticator {
    /// X.509 client certificates.
    pub certificates: Option<CertificateVerifier>,
    /// PSK files, searched in order.
    pub psk: Vec<PskStore>,
    /// Password files, searched in order (the first that knows the user decides).
    pub passwords: Vec<PasswordFile>,
    /// JWT keys.
    pub jwt: Option<JwtVerifier>,
    /// AWS IoT custom authorizers (token plus signature in the username).
    pub custom: Option<CustomAuthorizer>,
    /// Identity tokens issued by `mqward token issue`.
    pub tokens: Option<TokenStore>,
    /// `SYSTEM//<name>` declared identities (off unless configured).
    pub declared: DeclaredIdentities,
    /// Whether clients without credentials are let in as `anonymous`.
    pub allow_anonymous: bool,
}

fn text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes)
        .map_err(|_| Rejection::Malformed("the password is not UTF-8 text".to_owned()).into())
}

/// Whether bytes have the shape of a compact JWS (three base64url parts).
fn looks_like_jwt(bytes: &[u8]) -> bool {
    bytes.iter().filter(|b| **b == b'.').count() == 2
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

impl Authenticator {
    /// An authenticator that accepts nothing (configure its fields).
    pub fn new() -> Authenticator {
        Authenticator::default()
    }

    /// The PSK key for an identity, for the TLS handshake (Mosquitto wants it as hex).
    pub fn psk_key(&self, identity: &str) -> Option<&crate::authn::psk::PskKey> {
        self.psk.iter().find_map(|s| s.key(identity))
    }

    /// Checks a certificate alone: chain, validity, CRLs and operator state (the Greengrass
    /// "verify client device identity" call).
    pub fn verify_certificate(
        &self,
        registry: &Registry,
        certificate: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        match &self.certificates {
            Some(v) => v.verify(registry, certificate, now),
            None => Err(Rejection::Disabled.into()),
        }
    }

    /// Authenticates a client at `now`.
    pub fn authenticate(
        &self,
        registry: &Registry,
        c: &Credentials<'_>,
        now: u64,
    ) -> Result<Authenticated, Error> {
        let mut out = self.dispatch(registry, c, now)?;
        if out.identity.client_id().is_none() {
            if let Some(id) = c.client_id {
                out.identity = out.identity.with_client_id(id);
            }
        }
        // The username is attached only where it was verified (password files) or mapped
        // from the credential: a free username next to a token or certificate proves nothing,
        // and `${username}` must not be the client's to choose.
        Ok(out)
    }

    fn dispatch(
        &self,
        registry: &Registry,
        c: &Credentials<'_>,
        now: u64,
    ) -> Result<Authenticated, Error> {
        if let Some(cert) = c.certificate {
            let v = self.certificates.as_ref().ok_or(Rejection::Disabled)?;
            let auth = v.authenticate(registry, cert, c.client_id, now)?;
            return Ok(Authenticated {
                identity: auth.identity,
                expires_at: Some(auth.not_after),
                fingerprint: Some(auth.fingerprint),
                first_use: auth.first_use,
                token_policy: None,
            });
        }
        if let Some(id) = c.psk_identity {
            for store in &self.psk {
                if store.key(id).is_some() {
                    return store.identity(id).map(Authenticated::new);
                }
            }
            return Err(Rejection::UnknownIdentity.into());
        }
        let password = c.password.map(text).transpose();
        let special = |prefix: &str| {
            let in_password = password
                .as_ref()
                .ok()
                .and_then(|p| *p)
                .filter(|p| p.starts_with(prefix));
            in_password.or(c.username.filter(|u| u.starts_with(prefix)))
        };
        if let Some(cred) = special(TOKEN_PREFIX) {
            let store = self.tokens.as_ref().ok_or(Rejection::Disabled)?;
            let grant = store.verify_grant(cred, now)?;
            let mut out = Authenticated::new(grant.identity);
            out.expires_at = Some(grant.expires_at);
            return Ok(out);
        }
        if let Some(cred) = special(DECLARED_PREFIX) {
            return self.declared.verify(cred).map(Authenticated::new);
        }
        let signed = c.username.is_some_and(CustomAuthorizer::is_signed_form);
        let jwt_password = c.password.is_some_and(looks_like_jwt);
        if signed || jwt_password {
            let jwt = self.jwt.as_ref().ok_or(Rejection::Disabled)?;
            let token = match (&self.custom, signed) {
                (Some(custom), true) => custom.verify_connect(c.username, c.password, now, jwt)?,
                (None, true) => return Err(Rejection::Disabled.into()),
                (_, false) => jwt.verify(c.password.unwrap_or_default(), now)?,
            };
            let mut out = Authenticated::new(token.identity().clone());
            // Accepted until `exp` plus the leeway, so the session lasts as long: ending it at
            // `exp` would let a login inside the leeway in only to deny its first request.
            out.expires_at = Some(token.expires_at().saturating_add(jwt.leeway()));
            out.token_policy = token.policy().cloned();
            return Ok(out);
        }
        match (c.username, c.password) {
            (Some(user), Some(pw)) => {
                if self.passwords.is_empty() {
                    return Err(Rejection::Disabled.into());
                }
                // The first file that knows the user decides; an unknown user still costs a
                // verification (the files do that themselves) so names cannot be probed.
                let file = self
                    .passwords
                    .iter()
                    .find(|f| f.contains(user))
                    .or(self.passwords.first());
                match file {
                    Some(f) => f.verify(user, pw).map(Authenticated::new),
                    None => Err(Rejection::UnknownIdentity.into()),
                }
            }
            // No password: anonymous when allowed (a bare username proves nothing).
            (_, None) if self.allow_anonymous => {
                Ok(Authenticated::new(Identity::new(IdentityKind::Anonymous)))
            }
            _ => Err(Rejection::UnknownIdentity.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt(b"eyJh.eyJz.c2ln"));
        assert!(!looks_like_jwt(b"password"));
        assert!(!looks_like_jwt(b"a.b.c.d"));
        assert!(!looks_like_jwt(b"a b.c.d"));
    }

    #[test]
    fn nothing_configured_rejects_everything() {
        let a = Authenticator::new();
        let r = Registry::new();
        let creds = [
            Credentials::default(),
            Credentials {
                username: Some("u"),
                password: Some(b"p"),
                ..Credentials::default()
            },
            Credentials {
                password: Some(b"IDENTITY-TOKEN//abc"),
                ..Credentials::default()
            },
            Credentials {
                username: Some("SYSTEM//x"),
                ..Credentials::default()
            },
            Credentials {
                password: Some(b"eyJh.eyJz.c2ln"),
                ..Credentials::default()
            },
            Credentials {
                certificate: Some(b"garbage"),
                ..Credentials::default()
            },
            Credentials {
                psk_identity: Some("dev"),
                ..Credentials::default()
            },
        ];
        for c in creds {
            assert!(a.authenticate(&r, &c, 0).is_err(), "{c:?}");
        }
    }

    #[test]
    fn anonymous_only_when_allowed() {
        let mut a = Authenticator::new();
        let r = Registry::new();
        let c = Credentials {
            client_id: Some("c1"),
            ..Credentials::default()
        };
        assert!(a.authenticate(&r, &c, 0).is_err());
        a.allow_anonymous = true;
        let id = a.authenticate(&r, &c, 0).unwrap().identity;
        assert_eq!(id.kind(), IdentityKind::Anonymous);
        assert_eq!(id.client_id(), Some("c1"));
    }
}
