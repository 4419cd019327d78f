//! The clients mqward authenticated, by MQTT client id: the session each holds, the connection
//! it came from, and whether that connection is up.
//!
//! EMQX names a connection only by its client id and peer, so the peer (`peerhost`,
//! `peerport`) tells a client's connections apart: when a client reconnects and takes its old
//! session over, the old connection's `client.disconnected` may arrive after the new one
//! authenticated, and must not close the new session.
//!
//! Authorizations carry the peer too: a connection other than the one that authenticated last
//! under a client id (an old connection not yet taken over, or one whose login EMQX refused
//! after mqward accepted it) gets [`Lookup::Ended`], a deny, never another connection's
//! session.
//!
//! An entry whose session the engine ended (credential expired, identity refused when verified
//! again) stays as [`Lookup::Ended`] until the client disconnects or authenticates again, so
//! that mqward goes on denying a client it owns rather than passing it on as unknown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use mqward_core::SessionToken;

/// Where a connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer<'a> {
    /// The client's address as EMQX saw it.
    pub host: &'a str,
    /// The client's port (0 when the broker does not send it).
    pub port: u32,
}

#[derive(Debug)]
struct Entry {
    /// `None` once the engine ended the session.
    session: Option<SessionToken>,
    host: String,
    port: u32,
    /// When it authenticated, seconds since the Unix epoch.
    since: u64,
    /// `client.connected` arrived, or the client asked for an authorization.
    connected: AtomicBool,
}

/// What the table knows of a client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// mqward authenticated it: decide by this session.
    Live(SessionToken),
    /// mqward authenticated it and its session ended: deny.
    Ended,
    /// mqward did not authenticate it.
    Unknown,
}

/// The clients, by client id.
#[derive(Debug, Default)]
pub struct Clients {
    map: RwLock<HashMap<String, Entry>>,
}

impl Entry {
    fn from(&self, peer: Peer<'_>) -> bool {
        self.port == peer.port && self.host == peer.host
    }
}

impl Clients {
    /// An empty table.
    pub fn new() -> Clients {
        Clients::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        // The map holds plain data; a panic elsewhere cannot leave an entry half written.
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a client's new session; returns the session it replaces, to close.
    pub fn authenticated(
        &self,
        client_id: &str,
        session: SessionToken,
        peer: Peer<'_>,
        now: u64,
    ) -> Option<SessionToken> {
        let entry = Entry {
            session: Some(session),
            host: peer.host.to_owned(),
            port: peer.port,
            since: now,
            connected: AtomicBool::new(false),
        };
        self.write()
            .insert(client_id.to_owned(), entry)
            .and_then(|old| old.session)
    }

    /// The session of the client's connection from `peer`, marking the connection up (it is
    /// asking for authorizations).
    pub fn lookup(&self, client_id: &str, peer: Peer<'_>) -> Lookup {
        match self.read().get(client_id) {
            None => Lookup::Unknown,
            Some(entry) if !entry.from(peer) => Lookup::Ended,
            Some(entry) => {
                if !entry.connected.load(Ordering::Relaxed) {
                    entry.connected.store(true, Ordering::Relaxed);
                }
                entry.session.map_or(Lookup::Ended, Lookup::Live)
            }
        }
    }

    /// `client.connected` from `peer`.
    pub fn connected(&self, client_id: &str, peer: Peer<'_>) {
        if let Some(entry) = self.read().get(client_id) {
            if entry.from(peer) {
                entry.connected.store(true, Ordering::Relaxed);
            }
        }
    }

    /// `client.disconnected` from `peer`: forgets the client if the entry is that
    /// connection's; returns the session to close.
    pub fn disconnected(&self, client_id: &str, peer: Peer<'_>) -> Option<SessionToken> {
        let mut map = self.write();
        match map.get(client_id) {
            Some(entry) if entry.from(peer) => {
                map.remove(client_id).and_then(|entry| entry.session)
            }
            _ => None,
        }
    }

    /// The engine ended `session`: the client it belonged to is denied from now on.
    pub fn ended(&self, client_id: &str, session: &SessionToken) {
        if let Some(entry) = self.write().get_mut(client_id) {
            if entry.session.as_ref() == Some(session) {
                entry.session = None;
            }
        }
    }

    /// Forgets the clients that authenticated `max_age` seconds or more before `now` and never
    /// connected (EMQX refused them after authentication, or they went away first); returns
    /// their sessions, to close.
    pub fn abandoned(&self, now: u64, max_age: u64) -> Vec<SessionToken> {
        let mut closed = Vec::new();
        self.write().retain(|_, entry| {
            let keep = entry.connected.load(Ordering::Relaxed)
                || now.saturating_sub(entry.since) < max_age;
            if !keep {
                closed.extend(entry.session);
            }
            keep
        });
        closed
    }

    /// How many clients the table holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8) -> SessionToken {
        SessionToken::from_bytes([n; 16])
    }

    fn peer(port: u32) -> Peer<'static> {
        Peer {
            host: "10.0.0.1",
            port,
        }
    }

    #[test]
    fn a_takeover_keeps_the_new_session() {
        let c = Clients::new();
        assert_eq!(c.authenticated("a", token(1), peer(1000), 0), None);
        // The client reconnects from another port: the new session replaces the old.
        assert_eq!(
            c.authenticated("a", token(2), peer(1001), 0),
            Some(token(1))
        );
        // The old connection's disconnect arrives late: it closes nothing.
        assert_eq!(c.disconnected("a", peer(1000)), None);
        assert_eq!(c.lookup("a", peer(1001)), Lookup::Live(token(2)));
        // Until then, the old connection gets no session: not even the new one.
        assert_eq!(c.lookup("a", peer(1000)), Lookup::Ended);
        let other_host = Peer {
            host: "10.0.0.2",
            port: 1001,
        };
        assert_eq!(c.lookup("a", other_host), Lookup::Ended);
        assert_eq!(c.disconnected("a", peer(1001)), Some(token(2)));
        assert_eq!(c.lookup("a", peer(1001)), Lookup::Unknown);
        assert!(c.is_empty());
    }

    #[test]
    fn ended_sessions_stay_denied_until_the_client_leaves() {
        let c = Clients::new();
        c.authenticated("a", token(1), peer(1), 0);
        c.ended("a", &token(9));
        assert_eq!(c.lookup("a", peer(1)), Lookup::Live(token(1)));
        c.ended("a", &token(1));
        assert_eq!(c.lookup("a", peer(1)), Lookup::Ended);
        assert_eq!(c.disconnected("a", peer(1)), None);
        assert_eq!(c.lookup("a", peer(1)), Lookup::Unknown);
    }

    #[test]
    fn abandoned_logins_are_closed() {
        let c = Clients::new();
        c.authenticated("quiet", token(1), peer(1), 100);
        c.authenticated("connected", token(2), peer(2), 100);
        c.authenticated("asking", token(3), peer(3), 100);
        c.connected("connected", peer(2));
        c.connected("quiet", peer(99)); // another connection's event
        assert_eq!(c.lookup("asking", peer(3)), Lookup::Live(token(3)));
        assert!(c.abandoned(159, 60).is_empty());
        assert_eq!(c.abandoned(160, 60), vec![token(1)]);
        assert_eq!(c.len(), 2);
    }
}
