//! A client's recent allowed requests, so that the next identical request is answered without
//! the engine.
//!
//! Devices repeat themselves: the same telemetry topic, the same subscription's deliveries.
//! A decision depends only on the session's identity, the policy snapshot and the request, so
//! an allow can be reused exactly as long as none of them changes. An entry is valid for one
//! session and one *epoch*; the epoch moves on every reload and whenever the engine ends any
//! session (suspension, revocation, expiry, trust duration), which the upkeep sees within its
//! interval. Only allows are kept: a denial is decided (and logged) every time.
//!
//! What this trades: the engine ends an expired session at its expiry second, the cache at the
//! next upkeep (`plugin_opt_interval_ms`, 250 ms by default), the same moment the client is
//! queued for its kick. `plugin_opt_decision_cache 0` turns the cache off.

use mqward_core::SessionToken;

/// Longest topic or filter kept, in bytes; longer ones are decided every time.
pub const MAX_CACHED_TOPIC: usize = 256;

/// One allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    access: i32,
    qos: u8,
    retain: bool,
    topic: Box<[u8]>,
}

/// A client's recent allowed requests.
#[derive(Debug, Clone)]
pub struct DecisionCache {
    epoch: u64,
    session: SessionToken,
    entries: Vec<Entry>,
    next: usize,
}

impl DecisionCache {
    /// An empty cache for a session in an epoch.
    pub fn new(epoch: u64, session: SessionToken) -> DecisionCache {
        DecisionCache {
            epoch,
            session,
            entries: Vec::new(),
            next: 0,
        }
    }

    /// Whether this exact request was allowed for this session in this epoch.
    pub fn allows(
        &self,
        epoch: u64,
        session: &SessionToken,
        access: i32,
        topic: &[u8],
        qos: u8,
        retain: bool,
    ) -> bool {
        self.epoch == epoch
            && self.session == *session
            && self.entries.iter().any(|e| {
                e.access == access && e.qos == qos && e.retain == retain && *e.topic == *topic
            })
    }

    /// Records an allowed request, replacing the oldest entry when `capacity` are held. A new
    /// epoch or session empties the cache first.
    #[allow(clippy::too_many_arguments)]
    pub fn remember(
        &mut self,
        epoch: u64,
        session: SessionToken,
        access: i32,
        topic: &[u8],
        qos: u8,
        retain: bool,
        capacity: usize,
    ) {
        if capacity == 0 || topic.len() > MAX_CACHED_TOPIC {
            return;
        }
        if self.epoch != epoch || self.session != session {
            *self = DecisionCache::new(epoch, session);
        }
        let entry = Entry {
            access,
            qos,
            retain,
            topic: topic.into(),
        };
        if self.entries.len() < capacity {
            self.entries.push(entry);
        } else {
            let at = self.next % capacity;
            if let Some(slot) = self.entries.get_mut(at) {
                *slot = entry;
            }
            self.next = (at + 1) % capacity;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_request_session_and_epoch_hit() {
        let s = SessionToken::from_bytes([1; 16]);
        let other = SessionToken::from_bytes([2; 16]);
        let mut c = DecisionCache::new(0, s);
        assert!(!c.allows(0, &s, 2, b"a/b", 1, false));
        c.remember(0, s, 2, b"a/b", 1, false, 4);
        assert!(c.allows(0, &s, 2, b"a/b", 1, false));
        for (epoch, session, access, topic, qos, retain) in [
            (1, s, 2, &b"a/b"[..], 1, false),
            (0, other, 2, b"a/b", 1, false),
            (0, s, 1, b"a/b", 1, false),
            (0, s, 2, b"a/c", 1, false),
            (0, s, 2, b"a/b", 0, false),
            (0, s, 2, b"a/b", 1, true),
        ] {
            assert!(!c.allows(epoch, &session, access, topic, qos, retain));
        }
        // A new epoch starts over.
        c.remember(1, s, 2, b"x", 0, false, 4);
        assert!(!c.allows(0, &s, 2, b"a/b", 1, false));
        assert!(c.allows(1, &s, 2, b"x", 0, false));
    }

    #[test]
    fn capacity_and_long_topics() {
        let s = SessionToken::from_bytes([1; 16]);
        let mut c = DecisionCache::new(0, s);
        for t in [b"a", b"b", b"c"] {
            c.remember(0, s, 2, t, 0, false, 2);
        }
        assert!(!c.allows(0, &s, 2, b"a", 0, false));
        assert!(c.allows(0, &s, 2, b"b", 0, false));
        assert!(c.allows(0, &s, 2, b"c", 0, false));
        let long = vec![b'x'; MAX_CACHED_TOPIC + 1];
        c.remember(0, s, 2, &long, 0, false, 2);
        assert!(!c.allows(0, &s, 2, &long, 0, false));
        c.remember(0, s, 2, b"d", 0, false, 0);
        assert!(!c.allows(0, &s, 2, b"d", 0, false));
    }
}
