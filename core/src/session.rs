//! Sessions, the AWS Greengrass client device auth model: verify an identity once, open a
//! session for it, then authorize every action by the session's opaque token.
//!
//! The table is bounded; a session ends when it is closed, when its credential expires, or when
//! its certificate is suspended or revoked. When its trust duration passes, the identity is
//! verified again from the credentials the session kept (chain, revocation lists and operator
//! state for a certificate, the password files, keys and token store for the others, and the
//! `connect` permission): the session goes on if that succeeds and ends otherwise. Ended sessions
//! become [`Event`]s for the host.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use zeroize::Zeroizing;

use crate::authn::authenticator::Credentials;
use crate::authn::registry::StateChange;
use crate::authn::x509::Fingerprint;
use crate::decision::Reason;
use crate::policy::Effect;
use crate::principal::Principal;
use crate::request::{Operation, Request};

/// An opaque session token: 128 random bits from the caller, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionToken([u8; 16]);

impl SessionToken {
    /// A token from 16 random bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> SessionToken {
        SessionToken(bytes)
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The token as two numbers, bytes 0-7 and 8-15 little-endian (how it crosses the
    /// WebAssembly boundary without an allocation).
    pub fn halves(&self) -> (u64, u64) {
        let mut first = [0u8; 8];
        let mut last = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        last.copy_from_slice(&self.0[8..]);
        (u64::from_le_bytes(first), u64::from_le_bytes(last))
    }

    /// The token from [`SessionToken::halves`].
    pub fn from_halves(first: u64, last: u64) -> SessionToken {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&first.to_le_bytes());
        bytes[8..].copy_from_slice(&last.to_le_bytes());
        SessionToken(bytes)
    }

    /// Parses 32 hex digits.
    pub fn parse(text: &str) -> Option<SessionToken> {
        let bytes = text.as_bytes();
        if bytes.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            *o = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(SessionToken(out))
    }
}

impl fmt::Display for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A live token is a bearer credential: debug output shows only its start.
        write!(f, "SessionToken({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// Why a session ended or a client must be disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The certificate was suspended.
    Suspended,
    /// The certificate was revoked.
    Revoked,
    /// The token or certificate expired.
    Expired,
    /// The trust duration passed and the identity, verified again, was refused (a credential
    /// no longer accepted, or the `connect` permission withdrawn).
    TrustExpired,
    /// What held the session failed and was replaced (a WebAssembly instance that trapped):
    /// the client must connect again.
    Failed,
}

/// Something the host must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A certificate's operator state changed (first use, suspension...): persist it.
    StateChanged(StateChange),
    /// A session ended: disconnect the client if it is still connected.
    Disconnect {
        /// The session's token.
        session: SessionToken,
        /// The client id the session was opened with, if any.
        client_id: Option<String>,
        /// Why.
        reason: EndReason,
    },
}

/// The credentials a session was opened with, kept to verify the identity again when the
/// trust duration passes. The password is wiped from memory when the session ends.
pub(crate) struct Proof {
    client_id: Option<String>,
    username: Option<String>,
    password: Option<Zeroizing<Vec<u8>>>,
    certificate: Option<Vec<u8>>,
    psk_identity: Option<String>,
}

impl Proof {
    /// Keeps a copy of the credentials.
    pub fn keep(c: &Credentials<'_>) -> Proof {
        Proof {
            client_id: c.client_id.map(str::to_owned),
            username: c.username.map(str::to_owned),
            password: c.password.map(|p| Zeroizing::new(p.to_vec())),
            certificate: c.certificate.map(<[u8]>::to_vec),
            psk_identity: c.psk_identity.map(str::to_owned),
        }
    }

    /// The credentials again.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            client_id: self.client_id.as_deref(),
            username: self.username.as_deref(),
            password: self.password.as_deref().map(Vec::as_slice),
            certificate: self.certificate.as_deref(),
            psk_identity: self.psk_identity.as_deref(),
        }
    }
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password; the rest only as presence.
        f.debug_struct("Proof")
            .field("client_id", &self.client_id)
            .field("password", &self.password.as_ref().map(|_| "..."))
            .field("certificate", &self.certificate.as_ref().map(Vec::len))
            .field("psk_identity", &self.psk_identity)
            .finish_non_exhaustive()
    }
}

/// Statements a token carried (EMQX's `acl` claim), consulted before the operator's policy.
#[derive(Debug)]
pub(crate) struct TokenRules {
    /// The identity bound to the token's own small snapshot (a reload does not touch it).
    pub principal: Principal,
    /// Whether a request no token rule matches goes on to the operator's policy.
    pub fallthrough: bool,
}

impl TokenRules {
    /// The token's answer, if its rules settle the request: a matching statement or a malformed
    /// request decides. When no rule matches, publish, subscribe and receive are denied unless
    /// the rules fall through; connect and unsubscribe, which EMQX's lists never cover, always
    /// go on to the operator's policy.
    pub fn decide(&self, request: &Request<'_>) -> Option<Effect> {
        let d = self.principal.decide(request);
        match d.reason {
            Reason::NoMatch
                if self.fallthrough
                    || matches!(
                        request.operation,
                        Operation::Connect | Operation::Unsubscribe
                    ) =>
            {
                None
            }
            _ => Some(d.effect),
        }
    }
}

/// One live session.
#[derive(Debug)]
pub(crate) struct Session {
    pub principal: Principal,
    pub token_rules: Option<TokenRules>,
    pub fingerprint: Option<Fingerprint>,
    /// When the credential expires (token `exp`, certificate `notAfter`).
    pub expires_at: Option<u64>,
    /// When the identity must be verified again.
    pub trusted_until: u64,
    /// What to verify it with.
    pub proof: Proof,
}

impl Session {
    /// Why the session is over at `now`, if it is (its credential expired).
    pub fn over(&self, now: u64) -> Option<EndReason> {
        self.expires_at
            .is_some_and(|e| now >= e)
            .then_some(EndReason::Expired)
    }

    /// Whether the identity must be verified again before the next decision.
    pub fn due(&self, now: u64) -> bool {
        now >= self.trusted_until
    }
}

/// The bounded session table. Reads (authorize) take a shared lock on the table and the
/// session's own lock; opening and closing take the table's exclusive lock.
#[derive(Debug)]
pub(crate) struct SessionTable {
    pub max: usize,
    pub trust_duration: u64,
    pub sessions: RwLock<HashMap<SessionToken, Mutex<Session>>>,
}

impl SessionTable {
    pub fn new(max: usize, trust_duration: u64) -> SessionTable {
        SessionTable {
            max,
            trust_duration,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// The table for deciding (shared).
    pub fn read(&self) -> RwLockReadGuard<'_, HashMap<SessionToken, Mutex<Session>>> {
        // A panic while holding the lock left the map consistent: entries are inserted and
        // removed whole.
        self.sessions.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The table for opening and ending sessions (exclusive).
    pub fn write(&self) -> RwLockWriteGuard<'_, HashMap<SessionToken, Mutex<Session>>> {
        self.sessions.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_print_and_parse() {
        let t = SessionToken::from_bytes([0xab; 16]);
        assert_eq!(t.to_string(), "ab".repeat(16));
        assert_eq!(SessionToken::parse(&t.to_string()), Some(t));
        assert_eq!(SessionToken::parse("ab"), None);
        assert_eq!(SessionToken::parse(&"zz".repeat(16)), None);
        assert_eq!(SessionToken::parse(&"é".repeat(16)), None);
        assert!(!format!("{t:?}").contains(&"ab".repeat(4)));
    }
}
