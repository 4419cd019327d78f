//! Events the host must act on: certificate state changes to persist, sessions to disconnect,
//! reloads. Delivered by polling (`mqward_engine_poll_event`) or to a callback the host
//! registers (`mqward_engine_set_event_callback`).
//!
//! The engine queues events as they happen; this module moves them into its own queue and
//! hands them out one at a time, oldest first. A callback is called on the thread of the call
//! that delivers (`mqward_engine_tick`, a reload, `mqward_session_open`,
//! `mqward_engine_authenticate`, `mqward_engine_set_certificate_state`, and the registration
//! itself), never from a decision, one event at a time: while one thread delivers, events other
//! threads queue are delivered by it, in order. The callback may call back into the library
//! (the events that causes are delivered after it returns) but must not free the engine.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void};
use std::sync::{Mutex, MutexGuard};

use mqward_core::authn::registry::CertState;
use mqward_core::{EndReason, Engine, Event};

use crate::boundary;
use crate::engine::{engine_ref, mqward_engine};
use crate::handle::{self, Handle, Magic, Opaque};
use crate::result::mqward_result;
use crate::session::mqward_session_token;
use crate::strings::Out;

/// What an event is about.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_event_kind {
    /// A certificate's operator state changed (first use, suspension, reactivation,
    /// revocation): persist the registry (`mqward_engine_registry_json`).
    StateChanged = 1,
    /// A session ended (credential expired, trust duration passed, certificate suspended or
    /// revoked): disconnect its client if it is still connected.
    Disconnect = 2,
    /// The configuration was reloaded: live sessions and identities follow the new policy from
    /// their next decision. Sessions are not ended by a reload; a host that wants clients that
    /// may no longer connect gone checks `MQWARD_OPERATION_CONNECT` for each.
    Reloaded = 3,
}

/// Why a session ended.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_end_reason {
    /// Not a `MQWARD_EVENT_KIND_DISCONNECT` event.
    None = 0,
    /// The certificate was suspended.
    Suspended = 1,
    /// The certificate was revoked.
    Revoked = 2,
    /// The credential (token, certificate) expired.
    Expired = 3,
    /// The trust duration passed and the identity must be verified again.
    TrustExpired = 4,
    /// A reason this version of the C ABI does not know.
    Other = 5,
}

impl From<EndReason> for mqward_end_reason {
    fn from(r: EndReason) -> mqward_end_reason {
        match r {
            EndReason::Suspended => Self::Suspended,
            EndReason::Revoked => Self::Revoked,
            EndReason::Expired => Self::Expired,
            EndReason::TrustExpired => Self::TrustExpired,
            _ => Self::Other,
        }
    }
}

/// A certificate's operator state.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_cert_state {
    /// Not registered (the state before a first use of an unregistered certificate), or not a
    /// `MQWARD_EVENT_KIND_STATE_CHANGED` event.
    None = 0,
    /// Registered, never used.
    Inactive = 1,
    /// In use.
    Active = 2,
    /// Refused until reactivated.
    Suspended = 3,
    /// Refused for good.
    Revoked = 4,
    /// A state this version of the C ABI does not know.
    Other = 5,
}

impl From<Option<CertState>> for mqward_cert_state {
    fn from(s: Option<CertState>) -> mqward_cert_state {
        match s {
            None => Self::None,
            Some(CertState::Inactive) => Self::Inactive,
            Some(CertState::Active) => Self::Active,
            Some(CertState::Suspended) => Self::Suspended,
            Some(CertState::Revoked) => Self::Revoked,
            Some(_) => Self::Other,
        }
    }
}

/// One event, as `mqward_event_describe` shows it. Fields that do not apply to the kind are
/// zero, NULL or empty.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqward_event_info {
    /// What the event is about.
    pub kind: mqward_event_kind,
    /// `MQWARD_EVENT_KIND_DISCONNECT`: why the session ended.
    pub reason: mqward_end_reason,
    /// `MQWARD_EVENT_KIND_DISCONNECT`: the session's token.
    pub session: mqward_session_token,
    /// `MQWARD_EVENT_KIND_DISCONNECT`: the client id the session had (UTF-8, also
    /// NUL-terminated), or NULL. Points into the event: valid until the event is freed (or the
    /// callback returns).
    pub client_id: *const c_char,
    /// The length of `client_id` in bytes, without the NUL.
    pub client_id_len: usize,
    /// `MQWARD_EVENT_KIND_STATE_CHANGED`: the certificate's SHA-256 fingerprint as 64 lowercase
    /// hex digits and a NUL, as the registry file and `mqward_engine_set_certificate_state`
    /// write it.
    pub fingerprint: [c_char; 65],
    /// `MQWARD_EVENT_KIND_STATE_CHANGED`: the state before.
    pub from_state: mqward_cert_state,
    /// `MQWARD_EVENT_KIND_STATE_CHANGED`: the state after.
    pub to_state: mqward_cert_state,
}

/// What an event holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    StateChanged {
        /// 64 hex digits.
        fingerprint: String,
        from: mqward_cert_state,
        to: mqward_cert_state,
    },
    Disconnect {
        session: mqward_session_token,
        /// The client id followed by a NUL.
        client_id: Option<String>,
        reason: mqward_end_reason,
    },
    Reloaded,
}

impl Notice {
    fn from_core(event: Event) -> Option<Notice> {
        match event {
            Event::StateChanged(change) => Some(Notice::StateChanged {
                fingerprint: change.fingerprint.to_string(),
                from: change.from.into(),
                to: Some(change.to).into(),
            }),
            Event::Disconnect {
                session,
                client_id,
                reason,
            } => Some(Notice::Disconnect {
                session: session.into(),
                client_id: client_id.map(|mut c| {
                    c.push('\0');
                    c
                }),
                reason: reason.into(),
            }),
            // An event kind this version does not know has nothing the host could act on.
            _ => None,
        }
    }

    fn info(&self) -> mqward_event_info {
        let mut info = mqward_event_info {
            kind: mqward_event_kind::Reloaded,
            reason: mqward_end_reason::None,
            session: mqward_session_token::default(),
            client_id: std::ptr::null(),
            client_id_len: 0,
            fingerprint: [0; 65],
            from_state: mqward_cert_state::None,
            to_state: mqward_cert_state::None,
        };
        match self {
            Notice::StateChanged {
                fingerprint,
                from,
                to,
            } => {
                info.kind = mqward_event_kind::StateChanged;
                for (o, b) in info
                    .fingerprint
                    .iter_mut()
                    .zip(fingerprint.bytes().take(64))
                {
                    *o = b as c_char;
                }
                info.from_state = *from;
                info.to_state = *to;
            }
            Notice::Disconnect {
                session,
                client_id,
                reason,
            } => {
                info.kind = mqward_event_kind::Disconnect;
                info.session = *session;
                info.reason = *reason;
                if let Some(c) = client_id {
                    info.client_id = c.as_ptr().cast();
                    info.client_id_len = c.len() - 1;
                }
            }
            Notice::Reloaded => {}
        }
        info
    }
}

/// One event handed to the host: owned (from `mqward_engine_poll_event`, freed with
/// `mqward_event_free`) or lent to the callback for the duration of the call.
#[allow(non_camel_case_types)]
pub struct mqward_event {
    _private: [u8; 0],
}

/// What an event handle points to.
#[repr(C)]
pub(crate) struct EventHandle {
    magic: Magic,
    notice: Notice,
}
handle::magic_first!(EventHandle);

impl Opaque for mqward_event {
    type Inner = EventHandle;
}

/// The magic of an event lent to a callback: usable, but `mqward_event_free` leaves it alone.
const LENT: u64 = 0x6d71_7761_7264_4c45; // "mqwardLE"

impl Handle for EventHandle {
    const MAGIC: u64 = 0x6d71_7761_7264_4556; // "mqwardEV"
    fn magic(&self) -> &Magic {
        &self.magic
    }
    fn usable(word: u64) -> bool {
        word == Self::MAGIC || word == LENT
    }
}

/// A callback for events: `userdata` is what was registered with it; `event` is valid only
/// during the call (copy what you need; do not free it). It must return normally (no
/// `longjmp`, no C++ exception).
#[allow(non_camel_case_types)]
pub type mqward_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const mqward_event)>;

#[derive(Clone, Copy)]
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, *const mqward_event),
    userdata: *mut c_void,
}

// SAFETY: the callback and its userdata are called from whichever thread delivers events; the
// registration's documentation makes the host promise both may be used from any thread.
unsafe impl Send for Callback {}

struct Queue {
    pending: VecDeque<Notice>,
    callback: Option<Callback>,
    /// A thread is calling the callback: others only queue.
    delivering: bool,
}

/// The engine's queue of events for the host.
pub(crate) struct EventQueue {
    queue: Mutex<Queue>,
}

impl EventQueue {
    pub fn new() -> EventQueue {
        EventQueue {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                callback: None,
                delivering: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue stays consistent across a panic: every change is a single push or pop.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event of this layer's own.
    pub fn push(&self, notice: Notice) {
        self.lock().pending.push_back(notice);
    }

    /// Moves the engine's events into the queue, then delivers to the callback (if any) until
    /// the queue is empty, unless another thread is delivering already.
    pub fn pump(&self, engine: &Engine) {
        let mut queue = self.lock();
        queue.pending.extend(
            engine
                .drain_events()
                .into_iter()
                .filter_map(Notice::from_core),
        );
        if queue.delivering {
            return;
        }
        queue.delivering = true;
        while let Some(callback) = queue.callback {
            let Some(notice) = queue.pending.pop_front() else {
                break;
            };
            drop(queue);
            let event = EventHandle {
                magic: Magic::new(LENT),
                notice,
            };
            let lent: *const EventHandle = &event;
            // SAFETY: the host registered `f` as a callback taking its `userdata` and an event
            // valid for the call; `event` lives until after the call returns and no lock is
            // held, so the callback may call back into the library.
            unsafe { (callback.f)(callback.userdata, lent.cast()) };
            queue = self.lock();
        }
        queue.delivering = false;
    }

    /// The oldest event not delivered yet.
    fn poll(&self, engine: &Engine) -> Option<Notice> {
        let mut queue = self.lock();
        queue.pending.extend(
            engine
                .drain_events()
                .into_iter()
                .filter_map(Notice::from_core),
        );
        queue.pending.pop_front()
    }

    fn set_callback(&self, callback: Option<Callback>) {
        self.lock().callback = callback;
    }
}

/// Registers the callback that receives events (NULL to go back to polling), with a
/// `userdata` pointer passed to every call. Events already queued are delivered at once, on
/// this thread. A delivery under way on another thread may still call the previous callback
/// after this returns.
///
/// Thread safety: any thread. The callback is called on the thread of the call that delivers:
/// `mqward_engine_tick`, a reload, `mqward_session_open`, `mqward_engine_authenticate`,
/// `mqward_engine_set_certificate_state` or this registration; never from a decision. One
/// event at a time, in order: while one thread delivers, the events other threads queue are
/// delivered by it. `callback` and `userdata` must be usable from any thread. The callback may
/// call into the library (events that causes are delivered after it returns) but must not
/// free the engine.
///
/// Pointers: `engine` is NULL or a live engine; `callback`, if not NULL, is a function with the
/// `mqward_event_callback` signature that stays callable, with `userdata`, until it is replaced or
/// the engine is freed.
#[no_mangle]
pub extern "C" fn mqward_engine_set_event_callback(
    engine: *const mqward_engine,
    callback: mqward_event_callback,
    userdata: *mut c_void,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine.
        let engine = unsafe { engine_ref(engine) }?;
        engine
            .events
            .set_callback(callback.map(|f| Callback { f, userdata }));
        engine.events.pump(&engine.engine);
        Ok(())
    })
}

/// Takes the oldest pending event: `*event_out` receives it (free it with `mqward_event_free`),
/// or NULL when there is none.
///
/// Thread safety: any thread; each event is handed out once.
///
/// Pointers: `engine` is NULL or a live engine; `event_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_poll_event(
    engine: *const mqward_engine,
    event_out: *mut *mut mqward_event,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine, and NULL or a writable pointer.
        let (engine, out) = unsafe { (engine_ref(engine)?, Out::new(event_out)?) };
        let event = engine.events.poll(&engine.engine).map(|notice| {
            handle::into_box_ptr(EventHandle {
                magic: Magic::new(EventHandle::MAGIC),
                notice,
            })
        });
        out.write(event.unwrap_or(std::ptr::null_mut()));
        Ok(())
    })
}

/// Describes an event: `*info_out` receives its kind and the fields that apply to it.
///
/// Thread safety: any thread, for an event no other thread frees meanwhile.
///
/// Pointers: `event` is NULL or a live event; `info_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_event_describe(
    event: *const mqward_event,
    info_out: *mut mqward_event_info,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live event, and NULL or a writable info.
        let (event, out) = unsafe { (handle::handle_ref(event)?, Out::new(info_out)?) };
        out.write(event.notice.info());
        Ok(())
    })
}

/// Frees an event from `mqward_engine_poll_event`. NULL, an event lent to a callback and an
/// event freed already (while its memory is still readable) are ignored.
///
/// Thread safety: any thread, for an event no other thread uses meanwhile.
///
/// Pointers: `event` is NULL or an event not used after this call.
#[no_mangle]
pub extern "C" fn mqward_event_free(event: *mut mqward_event) {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or an event no other thread is using.
        unsafe { handle::free_box(event) };
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::SessionToken;

    #[test]
    fn disconnects_carry_a_nul_terminated_client_id() {
        let n = Notice::from_core(Event::Disconnect {
            session: SessionToken::from_bytes([3; 16]),
            client_id: Some("gateway-1".into()),
            reason: EndReason::Revoked,
        })
        .unwrap();
        let info = n.info();
        assert_eq!(info.kind, mqward_event_kind::Disconnect);
        assert_eq!(info.reason, mqward_end_reason::Revoked);
        assert_eq!(info.session.bytes, [3; 16]);
        assert_eq!(info.client_id_len, 9);
        // SAFETY: the pointer is into `n`, alive here, and covers the id and its NUL.
        let id = unsafe { std::ffi::CStr::from_ptr(info.client_id) };
        assert_eq!(id.to_str(), Ok("gateway-1"));
    }

    #[test]
    fn state_changes_carry_the_hex_fingerprint() {
        let n = Notice::StateChanged {
            fingerprint: "ab".repeat(32),
            from: mqward_cert_state::Inactive,
            to: mqward_cert_state::Active,
        };
        let info = n.info();
        assert_eq!(info.kind, mqward_event_kind::StateChanged);
        assert_eq!(info.fingerprint[63] as u8, b'b');
        assert_eq!(info.fingerprint[64], 0);
        assert!(info.client_id.is_null());
    }

    #[test]
    fn one_thread_delivers_in_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        unsafe extern "C" fn count(userdata: *mut c_void, event: *const mqward_event) {
            // SAFETY: the queue passes a live event; userdata is the queue registered below.
            let (queue, event) = unsafe {
                (
                    &*(userdata as *const EventQueue),
                    &*event.cast::<EventHandle>(),
                )
            };
            assert_eq!(event.notice, Notice::Reloaded);
            if SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
                // Re-entrant: queued now, delivered by the outer loop after this returns.
                queue.push(Notice::Reloaded);
                let engine = Engine::from_json(br#"{"version":1,"policies":{}}"#).unwrap();
                queue.pump(&engine);
            }
        }
        let queue = EventQueue::new();
        queue.push(Notice::Reloaded);
        queue.set_callback(Some(Callback {
            f: count,
            userdata: (&queue as *const EventQueue).cast_mut().cast(),
        }));
        let engine = Engine::from_json(br#"{"version":1,"policies":{}}"#).unwrap();
        queue.pump(&engine);
        assert_eq!(SEEN.load(Ordering::SeqCst), 2);
        assert!(queue.poll(&engine).is_none());
    }
}
