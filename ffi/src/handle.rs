//! Handles: how Rust values cross the boundary as opaque pointers, and the one place that turns
//! such a pointer back into a reference.
//!
//! Every handle type starts life with a magic word of its own, checked on every entry and
//! swapped for a dead value by its `*_free` (atomically, so only one of two racing frees
//! proceeds). That turns the common mistakes into `MQWARD_RESULT_INVALID_HANDLE` where the memory
//! is still readable: passing one kind of handle for another, a stray pointer into mapped
//! memory, a second free or a use after free while the allocator has not yet handed the memory
//! out again. It cannot catch everything: reading freed memory is itself undefined in C, the
//! allocator may have reused it for a new handle of the same type (whose magic is live), or
//! unmapped it (a crash). Memory checkers (AddressSanitizer, valgrind) report such reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::result::{mqward_result, Result};

/// The word a handle's magic holds after it is freed.
const DEAD: u64 = 0xdead_dead_dead_dead;

/// A handle's magic word.
#[derive(Debug)]
pub(crate) struct Magic(AtomicU64);

impl Magic {
    /// A live magic word.
    pub const fn new(word: u64) -> Magic {
        Magic(AtomicU64::new(word))
    }

    fn word(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Marks the handle dead if it holds `word`; false if it did not (freed already, another
    /// type, or borrowed).
    fn kill(&self, word: u64) -> bool {
        self.0
            .compare_exchange(word, DEAD, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The Rust value behind a handle: `#[repr(C)]` with its [`Magic`] as the first field, so that
/// the magic of any handle is at offset 0 and can be read before the pointer's type is trusted.
pub(crate) trait Handle: Sized {
    /// The magic word of a live, owned handle of this type.
    const MAGIC: u64;

    /// The handle's magic word.
    fn magic(&self) -> &Magic;

    /// Whether a magic word marks a handle functions may use (an owned one, or for events one
    /// lent to a callback).
    fn usable(word: u64) -> bool {
        word == Self::MAGIC
    }
}

/// The opaque type C sees for a handle (`typedef struct mqward_engine mqward_engine;`), and
/// the Rust value behind it.
pub(crate) trait Opaque {
    /// The Rust value.
    type Inner: Handle;
}

/// Checks at compile time that a handle's magic is its first field.
macro_rules! magic_first {
    ($inner:ty) => {
        const _: () = assert!(std::mem::offset_of!($inner, magic) == 0);
    };
}
pub(crate) use magic_first;

/// A reference to a live handle, checked for NULL, alignment and magic.
///
/// # Safety
///
/// `ptr` is NULL or was returned by this library as a handle (of any type: the magic tells them
/// apart) and is not used after its last `*_free` returns (the magic check catches that mistake
/// only where it can).
pub(crate) unsafe fn handle_ref<'a, C: Opaque>(ptr: *const C) -> Result<&'a C::Inner> {
    let ptr = ptr.cast::<C::Inner>();
    if ptr.is_null() {
        return Err(mqward_result::NullParameter);
    }
    if !ptr.is_aligned() {
        return Err(mqward_result::InvalidHandle);
    }
    // SAFETY: not NULL and aligned (every handle type has at least the magic's alignment); by
    // the caller's guarantee it points to a handle still allocated, and every handle starts
    // with its magic (`magic_first!`), so the first 8 bytes are a `Magic` whatever its type.
    let magic = unsafe { &*ptr.cast::<Magic>() };
    if !C::Inner::usable(magic.word()) {
        return Err(mqward_result::InvalidHandle);
    }
    // SAFETY: the magic says this is a live `C::Inner` made by `into_box_ptr` or
    // `into_arc_ptr`, which only shared references are taken to.
    Ok(unsafe { &*ptr })
}

/// Boxes a value for C; the caller frees it with [`free_box`].
pub(crate) fn into_box_ptr<C: Opaque>(value: C::Inner) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Frees a boxed handle. NULL, a handle freed already (while its memory is still readable) or
/// one that is not an owned handle of this type is left alone.
///
/// # Safety
///
/// As for [`handle_ref`]; no other thread uses the handle while it is freed.
pub(crate) unsafe fn free_box<C: Opaque>(ptr: *mut C) {
    // SAFETY: the caller's guarantee is the one `handle_ref` needs.
    let Ok(handle) = (unsafe { handle_ref(ptr.cast_const()) }) else {
        return;
    };
    if handle.magic().kill(C::Inner::MAGIC) {
        // SAFETY: the pointer came from `Box::into_raw` in `into_box_ptr` (the owned magic says
        // so) and this call won the only transition out of the live state, so it is freed once.
        drop(unsafe { Box::from_raw(ptr.cast::<C::Inner>()) });
    }
}

/// Shares a value with C; every pointer handed out is one strong count, released by
/// [`free_arc`].
pub(crate) fn into_arc_ptr<C: Opaque>(value: Arc<C::Inner>) -> *const C {
    Arc::into_raw(value).cast()
}

/// A new strong count on a shared handle, for Rust values that keep it (identities keep their
/// engine).
///
/// # Safety
///
/// As for [`handle_ref`]; a pointer of this type came from [`into_arc_ptr`].
pub(crate) unsafe fn clone_arc<C: Opaque>(ptr: *const C) -> Result<Arc<C::Inner>> {
    // SAFETY: the caller's guarantee is the one `handle_ref` needs.
    unsafe { handle_ref(ptr) }?;
    let ptr = ptr.cast::<C::Inner>();
    // SAFETY: the pointer came from `Arc::into_raw` and the C side still holds its count (the
    // magic is live), so the count is at least one while we add ours.
    unsafe {
        Arc::increment_strong_count(ptr);
        Ok(Arc::from_raw(ptr))
    }
}

/// Releases the strong count a shared handle's pointer holds; the value is dropped when no
/// Rust value keeps it either. NULL and dead handles are left alone.
///
/// # Safety
///
/// As for [`clone_arc`]; no other thread uses the handle while it is freed.
pub(crate) unsafe fn free_arc<C: Opaque>(ptr: *const C) {
    // SAFETY: the caller's guarantee is the one `handle_ref` needs.
    let Ok(handle) = (unsafe { handle_ref(ptr) }) else {
        return;
    };
    if handle.magic().kill(C::Inner::MAGIC) {
        // SAFETY: the pointer came from `Arc::into_raw` and holds one strong count, released
        // once: this call won the only transition out of the live state.
        drop(unsafe { Arc::from_raw(ptr.cast::<C::Inner>()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[repr(C)]
    struct Thing {
        magic: Magic,
        value: u32,
    }
    magic_first!(Thing);

    impl Handle for Thing {
        const MAGIC: u64 = 0x1234;
        fn magic(&self) -> &Magic {
            &self.magic
        }
    }

    struct OpaqueThing;

    impl Opaque for OpaqueThing {
        type Inner = Thing;
    }

    #[test]
    fn boxes_are_checked_and_freed_once() {
        let p: *mut OpaqueThing = into_box_ptr(Thing {
            magic: Magic::new(Thing::MAGIC),
            value: 7,
        });
        // SAFETY: `p` is a live handle until the free below; NULL is allowed.
        unsafe {
            assert_eq!(handle_ref(p).map(|t| t.value), Ok(7));
            assert_eq!(
                handle_ref::<OpaqueThing>(std::ptr::null()).err(),
                Some(mqward_result::NullParameter)
            );
            assert_eq!(
                handle_ref::<OpaqueThing>(p.cast::<u8>().add(1).cast()).err(),
                Some(mqward_result::InvalidHandle)
            );
            free_box::<OpaqueThing>(std::ptr::null_mut());
            free_box(p);
        }
    }

    #[test]
    fn a_dead_shared_handle_is_refused_while_others_keep_it() {
        let p: *const OpaqueThing = into_arc_ptr(Arc::new(Thing {
            magic: Magic::new(Thing::MAGIC),
            value: 1,
        }));
        // SAFETY: `p` stays allocated while `kept` holds a count, so the reads after the free
        // are of live memory.
        unsafe {
            let kept = clone_arc(p).unwrap();
            free_arc(p);
            assert_eq!(handle_ref(p).err(), Some(mqward_result::InvalidHandle));
            assert!(clone_arc(p).is_err());
            free_arc(p);
            assert_eq!(Arc::strong_count(&kept), 1);
            assert_eq!(kept.value, 1);
        }
    }
}
