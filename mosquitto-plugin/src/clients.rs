//! Which engine session each Mosquitto client holds.
//!
//! A connected client is known by the address of its `struct mosquitto` (its [`Key`]): that
//! is what every event carries, and the broker does not reuse it before the client's DISCONNECT
//! event. After that event the broker may still ask about the client:
//! - its will is checked (WRITE) right after the DISCONNECT event, before any other event: the
//!   session is kept in a one-place *parting* slot for that one check, for the same key and
//!   client id, until the next event about anything else (TICK, on every turn of the broker's
//!   loop, ends it too: a new connection reusing the address always comes a turn later);
//! - a persistent session (clean session / clean start off) keeps its subscriptions, and each
//!   message queued for it while it is away is checked (READ): its session is kept *offline*,
//!   under its client id and key, until the same client id authenticates again, the engine ends
//!   it (credential expiry, trust duration, suspension), or the session table needs room
//!   (oldest first). The broker frees an expired persistent session without telling plugins,
//!   and may then reuse its address: an offline session is therefore only used for a client
//!   that has subscriptions, which a new connection at a reused address never has before its
//!   first request.
//!
//! Only the broker thread uses the table, from inside callbacks, behind a mutex that is never
//! held while calling into the broker (kicks call back into the plugin).

use std::collections::{BTreeMap, HashMap};

use mqward_core::SessionToken;
use rustc_hash::FxHashMap;

use crate::cache::DecisionCache;

/// A client connection: the address of its `struct mosquitto`.
pub type Key = usize;

/// What a client may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Decide by this session.
    Session(SessionToken),
    /// Deny everything: authentication failed or the session ended; a kick is on its way.
    Refused,
    /// The plugin has not seen this client authenticate (a listener with
    /// `use_identity_as_username`, where BASIC_AUTH does not run).
    Unknown,
}

/// How a connected client was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// In BASIC_AUTH, which the broker runs again for it on every SIGHUP.
    BasicAuth,
    /// On its first ACL check or CONNECT event (no BASIC_AUTH on its listener); its
    /// certificate or PSK identity, if any, is kept to check it again at every reload.
    Lazy {
        /// The leaf certificate (DER).
        certificate: Option<Vec<u8>>,
        /// The TLS-PSK identity and the digest of the key its handshake used.
        psk: Option<Psk>,
    },
}

/// A TLS-PSK identity a handshake named, with a digest of the key it was given (the key
/// itself is not kept).
#[derive(Clone, PartialEq, Eq)]
pub struct Psk {
    /// The identity.
    pub identity: String,
    /// SHA-256 of the key's hex (`Engine::psk_key_digest`).
    pub digest: [u8; 32],
}

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psk")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// A connected client the plugin authenticated (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// Its client id when it authenticated.
    pub client_id: String,
    /// Its session; `None` when refused or ended.
    pub session: Option<SessionToken>,
    /// How it was authenticated.
    pub path: Path,
    /// Why it is refused, for the kick's log line.
    pub refusal: Option<String>,
}

#[derive(Debug)]
struct Offline {
    key: Key,
    session: SessionToken,
    seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    Live(Key),
    Offline(String),
}

/// A client to disconnect: its key, client id and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kick {
    /// The client.
    pub key: Key,
    /// Its client id.
    pub client_id: String,
    /// Why, for the log.
    pub reason: String,
}

/// Every client the plugin knows.
#[derive(Debug, Default)]
pub struct ClientTable {
    live: FxHashMap<Key, Live>,
    live_ids: HashMap<String, Key>,
    offline: HashMap<String, Offline>,
    offline_order: BTreeMap<u64, String>,
    next_seq: u64,
    holders: HashMap<SessionToken, Holder>,
    psk: FxHashMap<Key, Psk>,
    kicks: Vec<Key>,
    slot: Option<Slot>,
    caches: FxHashMap<Key, DecisionCache>,
}

/// The client that has just disconnected, for its will.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// It held a session (also kept offline when `parked`).
    Parting {
        key: Key,
        client_id: String,
        session: SessionToken,
        parked: bool,
        /// Whether its one check (the will) has been made.
        used: bool,
    },
    /// The plugin never saw it authenticate.
    Gone(Key),
}

impl ClientTable {
    /// An empty table.
    pub fn new() -> ClientTable {
        ClientTable::default()
    }

    /// What the client with this key may do. `id` gives its client id and `subscribed` whether
    /// it has subscriptions; both are asked only when it is not connected.
    pub fn access<'a>(
        &mut self,
        key: Key,
        id: impl FnOnce() -> Option<&'a str>,
        subscribed: impl FnOnce() -> bool,
    ) -> Access {
        if let Some(live) = self.live.get(&key) {
            return live.session.map_or(Access::Refused, Access::Session);
        }
        let id = id();
        if let Some(Slot::Parting {
            key: k,
            client_id,
            session,
            used,
            ..
        }) = &mut self.slot
        {
            if *k == key && !*used && id == Some(client_id.as_str()) {
                *used = true;
                return Access::Session(*session);
            }
        }
        if !self.offline.is_empty() {
            if let Some(offline) = id.and_then(|id| self.offline.get(id)) {
                if offline.key == key && subscribed() {
                    return Access::Session(offline.session);
                }
            }
        }
        Access::Unknown
    }

    /// Ends the moment after a disconnect (the broker has moved on to another event): returns
    /// the parting session to close unless it is kept offline. `except` keeps the slot for that
    /// client (its will is being checked).
    pub fn settle(&mut self, except: Option<Key>) -> Option<SessionToken> {
        let key = match &self.slot {
            None => return None,
            Some(Slot::Parting { key, .. }) | Some(Slot::Gone(key)) => *key,
        };
        if Some(key) == except {
            return None;
        }
        match self.slot.take() {
            Some(Slot::Parting {
                session,
                parked: false,
                ..
            }) => Some(session),
            _ => None,
        }
    }

    /// Whether the connected client with this key was allowed this exact request in this epoch
    /// by the session it still holds.
    pub fn allowed_before(
        &self,
        key: Key,
        epoch: u64,
        access: i32,
        topic: &[u8],
        qos: u8,
        retain: bool,
    ) -> bool {
        let Some(cache) = self.caches.get(&key) else {
            return false;
        };
        match self.live.get(&key).and_then(|l| l.session) {
            Some(session) => cache.allows(epoch, &session, access, topic, qos, retain),
            None => false,
        }
    }

    /// Records an allowed request of a connected client, if it still holds `session`.
    #[allow(clippy::too_many_arguments)]
    pub fn remember_allowed(
        &mut self,
        key: Key,
        session: SessionToken,
        epoch: u64,
        access: i32,
        topic: &[u8],
        qos: u8,
        retain: bool,
        capacity: usize,
    ) {
        if self.live.get(&key).and_then(|l| l.session) != Some(session) {
            return;
        }
        self.caches
            .entry(key)
            .or_insert_with(|| DecisionCache::new(epoch, session))
            .remember(epoch, session, access, topic, qos, retain, capacity);
    }

    /// The connected client with this key, if the plugin authenticated or refused it.
    pub fn live(&self, key: Key) -> Option<&Live> {
        self.live.get(&key)
    }

    /// Whether the offline session of `id` belongs to this key (the broker asks again about a
    /// client that is away, on SIGHUP; the caller checks that it has subscriptions).
    pub fn is_offline(&self, key: Key, id: &str) -> bool {
        self.offline.get(id).is_some_and(|o| o.key == key)
    }

    /// Records the TLS-PSK identity of a client's handshake, for its authentication.
    pub fn remember_psk(&mut self, key: Key, identity: &str, digest: [u8; 32]) {
        self.psk.insert(
            key,
            Psk {
                identity: identity.to_owned(),
                digest,
            },
        );
    }

    /// Forgets the TLS-PSK identity remembered for this key, returning it.
    pub fn forget_psk(&mut self, key: Key) -> Option<Psk> {
        self.psk.remove(&key)
    }

    /// The TLS-PSK identity remembered from a client's handshake, until it is admitted or
    /// leaves. It may be a stale one: a handshake that fails gets no DISCONNECT event, and the
    /// next client may get the same key.
    pub fn psk_identity(&self, key: Key) -> Option<Psk> {
        self.psk.get(&key).cloned()
    }

    /// Whether this key is the client that has just disconnected before the plugin knew it
    /// (its will is being checked: a session for it must not be taken for a connected one).
    pub fn just_gone(&self, key: Key) -> bool {
        self.slot == Some(Slot::Gone(key))
    }

    /// Admits a connected client with a session (or refused, `session: None`). Returns the
    /// sessions to close: this key's previous one (a SIGHUP re-authentication) and the offline
    /// session of the same client id. A connected client with the same id (being taken over)
    /// becomes the parting client: the broker checks its will next.
    pub fn admit(&mut self, key: Key, live: Live) -> Vec<SessionToken> {
        let mut close: Vec<SessionToken> = self.settle(None).into_iter().collect();
        self.psk.remove(&key);
        if let Some(old) = self.remove_live(key) {
            close.extend(old.session);
        }
        close.extend(self.remove_offline(&live.client_id));
        if let Some(other) = self.live_ids.get(&live.client_id).copied() {
            if let Some(old) = self.remove_live(other) {
                if let Some(session) = old.session {
                    self.slot = Some(Slot::Parting {
                        key: other,
                        client_id: old.client_id,
                        session,
                        parked: false,
                        used: false,
                    });
                }
            }
        }
        if live.session.is_none() {
            self.kicks.push(key);
        }
        if let Some(session) = live.session {
            self.holders.insert(session, Holder::Live(key));
        }
        self.live_ids.insert(live.client_id.clone(), key);
        self.live.insert(key, live);
        close
    }

    /// Records the session of a client that has already disconnected, opened for its one
    /// check (its will): never kicked, closed with the slot. Returns the session to close, if
    /// `key` is not the client that has just gone.
    pub fn admit_gone(
        &mut self,
        key: Key,
        client_id: &str,
        session: SessionToken,
    ) -> Option<SessionToken> {
        if !self.just_gone(key) {
            return Some(session);
        }
        self.slot = Some(Slot::Parting {
            key,
            client_id: client_id.to_owned(),
            session,
            parked: false,
            used: true,
        });
        None
    }

    /// A client went away; `persistent` when its session stays in the broker (clean session or
    /// clean start off). Returns the sessions to close.
    pub fn disconnect(
        &mut self,
        key: Key,
        id: Option<&str>,
        persistent: bool,
    ) -> Vec<SessionToken> {
        self.psk.remove(&key);
        // The previous parting client (or this one, taken over a moment ago) is done.
        let mut close: Vec<SessionToken> = self.settle(None).into_iter().collect();
        if let Some(live) = self.remove_live(key) {
            if let Some(session) = live.session {
                if persistent {
                    close.extend(self.park(live.client_id.clone(), key, session));
                }
                self.slot = Some(Slot::Parting {
                    key,
                    client_id: live.client_id,
                    session,
                    parked: persistent,
                    used: false,
                });
            }
            return close;
        }
        // A taken-over client, or (Mosquitto 2.1) the end of a persistent session.
        if let Some(id) = id {
            if self.is_offline(key, id) {
                close.extend(self.remove_offline(id));
                return close;
            }
        }
        self.slot = Some(Slot::Gone(key));
        close
    }

    /// The engine ended a session (it is closed already). A connected client holding it is
    /// refused from now on and queued for a kick; an offline one is forgotten.
    pub fn end(&mut self, session: &SessionToken, reason: &str) {
        match self.holders.remove(session) {
            Some(Holder::Live(key)) => {
                self.caches.remove(&key);
                if let Some(live) = self.live.get_mut(&key) {
                    live.session = None;
                    live.refusal = Some(reason.to_owned());
                    self.kicks.push(key);
                }
            }
            Some(Holder::Offline(id)) => {
                if let Some(offline) = self.offline.remove(&id) {
                    self.offline_order.remove(&offline.seq);
                }
            }
            None => {}
        }
    }

    /// Refuses a connected client from now on (its credential no longer verifies) and queues a
    /// kick. Returns its session to close.
    pub fn refuse(&mut self, key: Key, reason: &str) -> Option<SessionToken> {
        self.caches.remove(&key);
        let live = self.live.get_mut(&key)?;
        let session = live.session.take();
        live.refusal = Some(reason.to_owned());
        if let Some(s) = &session {
            self.holders.remove(s);
        }
        self.kicks.push(key);
        session
    }

    /// Takes the clients to disconnect now: queued, still connected and still refused. The
    /// client `keep` (the one whose callback is running) stays queued.
    pub fn take_kicks(&mut self, keep: Option<Key>) -> Vec<Kick> {
        let mut out: Vec<Kick> = Vec::new();
        let mut kept = Vec::new();
        for key in std::mem::take(&mut self.kicks) {
            let Some(live) = self.live.get(&key) else {
                continue;
            };
            if live.session.is_some() || out.iter().any(|k| k.key == key) {
                continue;
            }
            if Some(key) == keep {
                kept.push(key);
                continue;
            }
            out.push(Kick {
                key,
                client_id: live.client_id.clone(),
                reason: live.refusal.clone().unwrap_or_default(),
            });
        }
        self.kicks = kept;
        out
    }

    /// Whether kicks are still queued.
    pub fn kicks_queued(&self) -> bool {
        !self.kicks.is_empty()
    }

    /// Takes the oldest offline session out, to make room in the session table.
    pub fn evict_offline(&mut self) -> Option<SessionToken> {
        let (_, id) = self.offline_order.pop_first()?;
        let offline = self.offline.remove(&id)?;
        self.holders.remove(&offline.session);
        Some(offline.session)
    }

    /// The connected clients authenticated without BASIC_AUTH that presented a certificate,
    /// with their sessions: a reload checks them again.
    pub fn lazy_certificates(&self) -> Vec<(Key, Vec<u8>)> {
        self.live
            .iter()
            .filter(|(_, l)| l.session.is_some())
            .filter_map(|(key, l)| match &l.path {
                Path::Lazy {
                    certificate: Some(der),
                    ..
                } => Some((*key, der.clone())),
                _ => None,
            })
            .collect()
    }

    /// The connected clients authenticated without BASIC_AUTH by a TLS-PSK identity, with
    /// their sessions: a reload checks that the identity still has the key they used.
    pub fn lazy_psk(&self) -> Vec<(Key, Psk)> {
        self.live
            .iter()
            .filter(|(_, l)| l.session.is_some())
            .filter_map(|(key, l)| match &l.path {
                Path::Lazy { psk: Some(psk), .. } => Some((*key, psk.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many connected and offline clients hold a session.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.live.values().filter(|l| l.session.is_some()).count(),
            self.offline.len(),
        )
    }

    fn remove_live(&mut self, key: Key) -> Option<Live> {
        self.caches.remove(&key);
        let live = self.live.remove(&key)?;
        if self.live_ids.get(&live.client_id) == Some(&key) {
            self.live_ids.remove(&live.client_id);
        }
        if let Some(s) = &live.session {
            self.holders.remove(s);
        }
        Some(live)
    }

    fn remove_offline(&mut self, id: &str) -> Option<SessionToken> {
        let offline = self.offline.remove(id)?;
        self.offline_order.remove(&offline.seq);
        self.holders.remove(&offline.session);
        Some(offline.session)
    }

    /// Keeps a session offline under its client id; returns the one it replaces.
    fn park(&mut self, id: String, key: Key, session: SessionToken) -> Vec<SessionToken> {
        let replaced = self.remove_offline(&id);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.offline_order.insert(seq, id.clone());
        self.holders.insert(session, Holder::Offline(id.clone()));
        self.offline.insert(id, Offline { key, session, seq });
        replaced.into_iter().filter(|r| *r != session).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8) -> SessionToken {
        SessionToken::from_bytes([n; 16])
    }

    fn live(id: &str, session: Option<SessionToken>) -> Live {
        Live {
            client_id: id.to_owned(),
            session,
            path: Path::BasicAuth,
            refusal: None,
        }
    }

    fn access(t: &mut ClientTable, key: Key, id: &str, subscribed: bool) -> Access {
        t.access(key, || Some(id), || subscribed)
    }

    #[test]
    fn a_connected_client_is_found_by_key() {
        let mut t = ClientTable::new();
        assert_eq!(access(&mut t, 1, "a", true), Access::Unknown);
        assert!(t.admit(1, live("a", Some(token(1)))).is_empty());
        assert_eq!(
            t.access(1, || panic!("not asked"), || panic!("not asked")),
            Access::Session(token(1))
        );
        assert_eq!(access(&mut t, 2, "a", true), Access::Unknown);
        // SIGHUP: the same key authenticates again; the old session is closed.
        assert_eq!(t.admit(1, live("a", Some(token(2)))), vec![token(1)]);
        assert_eq!(access(&mut t, 1, "a", false), Access::Session(token(2)));
        assert_eq!(t.counts(), (1, 0));
    }

    #[test]
    fn a_clean_client_is_kept_for_its_will_only() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", Some(token(1))));
        assert!(t.disconnect(1, Some("a"), false).is_empty());
        // The will check comes next: once, for the same client id.
        assert_eq!(access(&mut t, 1, "b", false), Access::Unknown);
        assert_eq!(access(&mut t, 1, "a", false), Access::Session(token(1)));
        assert_eq!(access(&mut t, 1, "a", false), Access::Unknown);
        assert_eq!(t.settle(Some(1)), None);
        // Anything else: the session closes.
        assert_eq!(t.settle(None), Some(token(1)));
        assert_eq!(access(&mut t, 1, "a", false), Access::Unknown);
        assert_eq!(t.counts(), (0, 0));
    }

    #[test]
    fn a_persistent_client_stays_offline_until_its_id_comes_back() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", Some(token(1))));
        assert!(t.disconnect(1, Some("a"), true).is_empty());
        assert_eq!(t.settle(None), None);
        // Its queued messages: same key, same id, still subscribed.
        assert_eq!(access(&mut t, 1, "a", true), Access::Session(token(1)));
        assert!(t.is_offline(1, "a"));
        // A new client at a reused address: another id, or no subscriptions yet.
        assert_eq!(access(&mut t, 1, "b", true), Access::Unknown);
        assert_eq!(access(&mut t, 1, "a", false), Access::Unknown);
        assert_eq!(t.counts(), (0, 1));
        // The id comes back on a new connection: the offline session is closed.
        assert_eq!(t.admit(2, live("a", Some(token(2)))), vec![token(1)]);
        assert_eq!(access(&mut t, 1, "a", true), Access::Unknown);
        assert_eq!(t.counts(), (1, 0));
    }

    #[test]
    fn a_taken_over_connection_keeps_its_session_for_its_will() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", Some(token(1))));
        assert!(t.admit(2, live("a", Some(token(2)))).is_empty());
        assert_eq!(access(&mut t, 2, "a", false), Access::Session(token(2)));
        assert_eq!(access(&mut t, 1, "a", false), Access::Session(token(1)));
        // Then the broker disconnects the old one: its session ends.
        assert_eq!(t.disconnect(1, Some("a"), false), vec![token(1)]);
        assert_eq!(t.settle(None), None);
        assert_eq!(access(&mut t, 1, "a", true), Access::Unknown);
        assert_eq!(access(&mut t, 2, "a", false), Access::Session(token(2)));
    }

    #[test]
    fn ended_sessions_are_refused_and_kicked_once() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", Some(token(1))));
        t.admit(2, live("b", Some(token(2))));
        t.disconnect(2, Some("b"), true);
        t.end(&token(1), "certificate suspended");
        t.end(&token(2), "expired");
        t.end(&token(9), "unknown");
        assert_eq!(access(&mut t, 1, "a", true), Access::Refused);
        assert_eq!(t.counts(), (0, 0));
        assert!(t.take_kicks(Some(1)).is_empty());
        assert!(t.kicks_queued());
        let kicks = t.take_kicks(None);
        assert_eq!(
            kicks,
            vec![Kick {
                key: 1,
                client_id: "a".to_owned(),
                reason: "certificate suspended".to_owned()
            }]
        );
        assert!(t.take_kicks(None).is_empty());
        // Kicked: the broker reports the disconnect.
        assert!(t.disconnect(1, Some("a"), false).is_empty());
        assert_eq!(t.settle(None), None);
    }

    #[test]
    fn a_refused_client_that_left_is_not_kicked() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", None));
        t.disconnect(1, Some("a"), false);
        assert!(t.take_kicks(None).is_empty());
        // A new connection with the same id at the same address is a new client.
        t.admit(1, live("a", Some(token(3))));
        assert!(t.take_kicks(None).is_empty());
    }

    #[test]
    fn refusing_a_connected_client_returns_its_session() {
        let mut t = ClientTable::new();
        t.admit(
            1,
            Live {
                path: Path::Lazy {
                    certificate: Some(vec![1, 2]),
                    psk: None,
                },
                ..live("a", Some(token(1)))
            },
        );
        let psk = Psk {
            identity: "dev-2".into(),
            digest: [7; 32],
        };
        t.admit(
            2,
            Live {
                path: Path::Lazy {
                    certificate: None,
                    psk: Some(psk.clone()),
                },
                ..live("b", Some(token(2)))
            },
        );
        assert_eq!(t.lazy_certificates(), vec![(1, vec![1, 2])]);
        assert_eq!(t.lazy_psk(), vec![(2, psk)]);
        assert_eq!(t.refuse(2, "its key changed"), Some(token(2)));
        assert!(t.lazy_psk().is_empty());
        assert_eq!(t.take_kicks(None).len(), 1);
        assert_eq!(t.refuse(1, "revoked"), Some(token(1)));
        assert_eq!(access(&mut t, 1, "a", true), Access::Refused);
        assert!(t.lazy_certificates().is_empty());
        assert_eq!(t.take_kicks(None).len(), 1);
        assert_eq!(t.refuse(7, "x"), None);
    }

    #[test]
    fn psk_identities_and_clients_that_left_unknown() {
        let mut t = ClientTable::new();
        t.remember_psk(1, "dev-1", [1; 32]);
        assert_eq!(
            t.psk_identity(1).map(|p| p.identity).as_deref(),
            Some("dev-1")
        );
        // Admitted: the handshake's identity is the session's now.
        t.admit(1, live("a", Some(token(1))));
        assert_eq!(t.psk_identity(1), None);
        // A handshake whose client leaves with an id.
        t.remember_psk(2, "dev-2", [2; 32]);
        t.disconnect(2, Some("b"), false);
        assert_eq!(t.psk_identity(2), None);
        t.disconnect(1, Some("a"), false);
        // A client the plugin never saw authenticate leaves: its will may still be checked.
        assert_eq!(t.disconnect(5, Some("z"), false), vec![token(1)]);
        assert!(t.just_gone(5));
        assert_eq!(t.admit_gone(6, "y", token(6)), Some(token(6)));
        assert_eq!(t.admit_gone(5, "z", token(5)), None);
        // Opened for the one check already made: not found again, closed with the slot.
        assert_eq!(access(&mut t, 5, "z", false), Access::Unknown);
        assert_eq!(t.settle(None), Some(token(5)));
        assert!(!t.just_gone(5));
    }

    #[test]
    fn cached_allows_end_with_the_session() {
        let mut t = ClientTable::new();
        t.admit(1, live("a", Some(token(1))));
        assert!(!t.allowed_before(1, 0, 2, b"t", 0, false));
        t.remember_allowed(1, token(1), 0, 2, b"t", 0, false, 4);
        assert!(t.allowed_before(1, 0, 2, b"t", 0, false));
        assert!(!t.allowed_before(1, 1, 2, b"t", 0, false));
        // A session the client no longer holds is not remembered.
        t.remember_allowed(1, token(9), 0, 2, b"u", 0, false, 4);
        assert!(!t.allowed_before(1, 0, 2, b"u", 0, false));
        t.end(&token(1), "expired");
        assert!(!t.allowed_before(1, 0, 2, b"t", 0, false));
        t.admit(2, live("b", Some(token(2))));
        t.remember_allowed(2, token(2), 0, 2, b"t", 0, false, 4);
        t.refuse(2, "revoked");
        assert!(!t.allowed_before(2, 0, 2, b"t", 0, false));
        t.admit(3, live("c", Some(token(3))));
        t.remember_allowed(3, token(3), 0, 2, b"t", 0, false, 4);
        t.disconnect(3, Some("c"), false);
        assert!(!t.allowed_before(3, 0, 2, b"t", 0, false));
    }

    #[test]
    fn the_oldest_offline_session_is_evicted_first() {
        let mut t = ClientTable::new();
        for (key, id) in [(1, "a"), (2, "b"), (3, "c")] {
            t.admit(key, live(id, Some(token(key as u8))));
        }
        t.disconnect(2, Some("b"), true);
        t.disconnect(1, Some("a"), true);
        assert_eq!(t.evict_offline(), Some(token(2)));
        assert_eq!(t.evict_offline(), Some(token(1)));
        assert_eq!(t.evict_offline(), None);
        t.settle(None);
        // An evicted session is no longer found, and its end is ignored.
        assert_eq!(access(&mut t, 1, "a", true), Access::Unknown);
        t.end(&token(1), "trust");
        assert_eq!(t.counts(), (1, 0));
    }
}
