//! A bounded map from presented certificate bytes to the outcome of verifying them, behind
//! `&self`.
//!
//! The key is the exact bytes the client presented (leaf and intermediates, PEM or DER): equal
//! bytes verify the same way against the same immutable verifier, so a hit can skip parsing and
//! the signature checks without any chance of confusing two certificates. Only what does not
//! depend on time or operator state is cached; the verifier re-checks the validity window, the
//! revocation lists and the registry on every hit.
//!
//! Keys are hashed with std's randomly keyed SipHash: only certificates that chained to a trust
//! anchor are inserted, but a device holding one valid certificate can still present it with
//! chosen extra bytes, and a keyed hash keeps such keys from piling into one bucket. When full,
//! the oldest entry goes (first in, first out); a device churning the cache this way only makes
//! other devices pay a cold verification again.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A bounded first-in-first-out cache keyed by byte strings.
#[derive(Debug)]
pub(crate) struct Cache<V> {
    capacity: usize,
    inner: Mutex<Inner<V>>,
}

#[derive(Debug)]
struct Inner<V> {
    map: HashMap<Arc<[u8]>, Arc<V>, RandomState>,
    order: VecDeque<Arc<[u8]>>,
}

impl<V> Cache<V> {
    /// A cache holding at most `capacity` entries; 0 turns caching off.
    pub(crate) fn new(capacity: usize) -> Cache<V> {
        Cache {
            capacity,
            inner: Mutex::new(Inner {
                map: HashMap::with_hasher(RandomState::new()),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock cannot leave a half-made entry: each operation below
        // completes the map change before touching the order queue, and a key missing from one
        // of the two is tolerated. So a poisoned lock still guards a usable cache.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value cached for `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<V>> {
        if self.capacity == 0 {
            return None;
        }
        self.lock().map.get(key).cloned()
    }

    /// Caches `value` for `key`, evicting the oldest entries beyond capacity.
    pub(crate) fn insert(&self, key: &[u8], value: Arc<V>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if let Some(slot) = inner.map.get_mut(key) {
            *slot = value;
            return;
        }
        while inner.map.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                // The queue lost track of entries (only after a panic): start afresh.
                inner.map.clear();
                break;
            };
            inner.map.remove(&oldest);
        }
        let key: Arc<[u8]> = Arc::from(key);
        inner.map.insert(Arc::clone(&key), value);
        inner.order.push_back(key);
    }

    /// How many entries are cached.
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_first_in_first_out() {
        let cache = Cache::new(2);
        cache.insert(b"a", Arc::new(1));
        cache.insert(b"b", Arc::new(2));
        cache.insert(b"a", Arc::new(3));
        assert_eq!(cache.get(b"a").as_deref(), Some(&3));
        cache.insert(b"c", Arc::new(4));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(b"a"), None);
        assert_eq!(cache.get(b"b").as_deref(), Some(&2));
        assert_eq!(cache.get(b"c").as_deref(), Some(&4));
        assert_eq!(cache.get(b"ab"), None);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = Cache::new(0);
        cache.insert(b"a", Arc::new(1));
        assert_eq!(cache.get(b"a"), None);
        assert_eq!(cache.len(), 0);
    }
}
