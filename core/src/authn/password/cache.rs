//! A bounded memory of successful logins, so a reconnect storm costs one hash per user.
//!
//! An entry is an HMAC-SHA256 tag over the username, the password and the stored hash text,
//! under a key made from the caller's random bytes. The cache therefore holds no password and
//! no value an attacker could compute without the key; a changed hash in a reloaded file never
//! matches an old tag, and a reload builds a new cache anyway.
//!
//! Eviction is CLOCK (second chance): a hit marks its entry, and when the cache is full a hand
//! sweeps the entries, clearing marks until it finds an unmarked one to replace. Entries used
//! since the last sweep survive, one-off logins go first, and every operation is O(1) amortised
//! without allocating once the cache has filled.

use std::sync::{Mutex, MutexGuard, PoisonError};

use ring::hmac;
use rustc_hash::FxHashMap;

/// An HMAC-SHA256 tag.
pub(crate) type Tag = [u8; 32];

/// Figures about a password file's login cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// The most logins remembered (0: caching is off).
    pub capacity: usize,
    /// Logins remembered now.
    pub len: usize,
    /// Verifications of a known user answered from the cache.
    pub hits: u64,
    /// Verifications of a known user that had to hash the password.
    pub misses: u64,
    /// Remembered logins dropped to make room.
    pub evictions: u64,
}

/// The cache: a keyed tag function and, unless the capacity is 0, the remembered tags.
pub(crate) struct LoginCache {
    key: hmac::Key,
    state: Option<Mutex<Clock>>,
}

impl LoginCache {
    /// A cache of `capacity` entries (0 turns caching off) keyed by `key`.
    pub(crate) fn new(key: &[u8; 32], capacity: usize) -> LoginCache {
        LoginCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            state: (capacity > 0).then(|| Mutex::new(Clock::new(capacity))),
        }
    }

    /// The tag of one login attempt. Username and password are length-prefixed so no two
    /// different pairs give the same input.
    pub(crate) fn tag(&self, username: &str, password: &[u8], stored: &str) -> Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(&(username.len() as u64).to_be_bytes());
        context.update(username.as_bytes());
        context.update(&(password.len() as u64).to_be_bytes());
        context.update(password);
        context.update(stored.as_bytes());
        let mut tag = [0u8; 32];
        for (out, byte) in tag.iter_mut().zip(context.sign().as_ref()) {
            *out = *byte;
        }
        tag
    }

    /// Whether this login succeeded before and is still remembered (counted as a hit or miss).
    pub(crate) fn hit(&self, tag: &Tag) -> bool {
        self.lock().is_some_and(|mut clock| clock.hit(tag))
    }

    /// Remembers a successful login.
    pub(crate) fn remember(&self, tag: Tag) {
        if let Some(mut clock) = self.lock() {
            clock.insert(tag);
        }
    }

    /// The current figures.
    pub(crate) fn stats(&self) -> CacheStats {
        self.lock()
            .map_or_else(CacheStats::default, |clock| CacheStats {
                capacity: clock.capacity,
                len: clock.slots.len(),
                hits: clock.hits,
                misses: clock.misses,
                evictions: clock.evictions,
            })
    }

    fn lock(&self) -> Option<MutexGuard<'_, Clock>> {
        // A panic while holding the lock cannot leave a half-made entry (every update is a
        // few assignments), so a poisoned cache is still sound to use.
        self.state
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Slot {
    tag: Tag,
    referenced: bool,
}

/// The CLOCK structure: slots in a ring, an index from tag to slot, and the hand.
struct Clock {
    capacity: usize,
    slots: Vec<Slot>,
    index: FxHashMap<Tag, usize>,
    hand: usize,
    hits: u64,
    misses: u64,
    evictions: u64,
}

/// Room reserved up front; a larger cache grows while it fills.
const INITIAL_ROOM: usize = 1024;

impl Clock {
    fn new(capacity: usize) -> Clock {
        let room = capacity.min(INITIAL_ROOM);
        let mut index = FxHashMap::default();
        index.reserve(room);
        Clock {
            capacity,
            slots: Vec::with_capacity(room),
            index,
            hand: 0,
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    fn hit(&mut self, tag: &Tag) -> bool {
        let slot = self
            .index
            .get(tag)
            .copied()
            .and_then(|i| self.slots.get_mut(i));
        match slot {
            Some(slot) => {
                slot.referenced = true;
                self.hits += 1;
                true
            }
            None => {
                self.misses += 1;
                false
            }
        }
    }

    fn insert(&mut self, tag: Tag) {
        if self.index.contains_key(&tag) {
            return;
        }
        if self.slots.len() < self.capacity {
            self.index.insert(tag, self.slots.len());
            self.slots.push(Slot {
                tag,
                referenced: false,
            });
            return;
        }
        // The first lap clears every mark it passes, so two laps always find a victim.
        for _ in 0..2 * self.slots.len() {
            let i = self.hand;
            self.hand = if i + 1 >= self.slots.len() { 0 } else { i + 1 };
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let old = std::mem::replace(&mut slot.tag, tag);
            self.index.remove(&old);
            self.index.insert(tag, i);
            self.evictions += 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: u8) -> Tag {
        [n; 32]
    }

    #[test]
    fn tags_separate_fields() {
        let cache = LoginCache::new(&[1; 32], 4);
        let a = cache.tag("ab", b"c", "h");
        assert_ne!(a, cache.tag("a", b"bc", "h"));
        assert_ne!(a, cache.tag("ab", b"c", "h2"));
        assert_eq!(a, cache.tag("ab", b"c", "h"));
        // Another key, other tags.
        assert_ne!(a, LoginCache::new(&[2; 32], 4).tag("ab", b"c", "h"));
    }

    #[test]
    fn second_chance_keeps_recently_used() {
        let cache = LoginCache::new(&[0; 32], 2);
        cache.remember(tag(1));
        cache.remember(tag(2));
        assert!(cache.hit(&tag(1)));
        cache.remember(tag(3)); // 1 was used: 2 goes.
        assert!(cache.hit(&tag(1)));
        assert!(!cache.hit(&tag(2)));
        assert!(cache.hit(&tag(3)));
        let stats = cache.stats();
        assert_eq!((stats.len, stats.capacity, stats.evictions), (2, 2, 1));
        assert_eq!((stats.hits, stats.misses), (3, 1));
        // Both marked: a full lap clears them and the slot under the hand goes.
        cache.remember(tag(4));
        assert_eq!(cache.stats().len, 2);
        assert!(cache.hit(&tag(4)));
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let cache = LoginCache::new(&[0; 32], 0);
        cache.remember(tag(1));
        assert!(!cache.hit(&tag(1)));
        assert_eq!(cache.stats(), CacheStats::default());
    }

    #[test]
    fn never_exceeds_capacity() {
        let cache = LoginCache::new(&[0; 32], 3);
        for n in 0..50 {
            cache.remember(tag(n));
            if n % 3 == 0 {
                cache.hit(&tag(n));
            }
            assert!(cache.stats().len <= 3);
        }
        cache.remember(tag(49));
        assert_eq!(cache.stats().evictions, 47);
    }
}
