//! Sessions, the AWS Greengrass client device auth model: verify an identity once, open a
//! session for it, then authorize every action by the session's opaque token.
//!
//! The table is bounded; a session ends when it is closed, when its credential expires, when
//! its trust duration passes (the identity must be verified again: open a new session), or when
//! its certificate is suspended or revoked. Ended sessions become [`Event`]s for the host.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, RwLock};

use crate::authn::registry::StateChange;
use crate::authn::x509::Fingerprint;
use crate::principal::Principal;

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
    /// The trust duration passed; the identity must be verified again.
    TrustExpired,
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

/// One live session.
#[derive(Debug)]
pub(crate) struct Session {
    pub principal: Principal,
    pub fingerprint: Option<Fingerprint>,
    /// When the credential expires (token `exp`, certificate `notAfter`).
    pub expires_at: Option<u64>,
    /// When the identity must be verified again.
    pub trusted_until: u64,
}

impl Session {
    /// Why the session is over at `now`, if it is.
    pub fn over(&self, now: u64) -> Option<EndReason> {
        if self.expires_at.is_some_and(|e| now >= e) {
            Some(EndReason::Expired)
        } else if now >= self.trusted_until {
            Some(EndReason::TrustExpired)
        } else {
            None
        }
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
