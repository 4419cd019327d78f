//! Requests and decisions across the boundary: `mqward_request`, the operation and effect
//! enums, and the fail-closed way every decision is written.

use std::ffi::c_char;

use mqward_core::{Effect, Operation, Request};

use crate::result::{mqward_result, Result};
use crate::strings::{self, Out};

/// The QoS value that says the QoS is not known: an allow with a `qos` condition does not
/// match, a deny with one does.
pub const MQWARD_QOS_UNKNOWN: i32 = -1;

/// The retain value that says the retain flag is not known: an allow with a `retain` condition
/// does not match, a deny with one does.
pub const MQWARD_RETAIN_UNKNOWN: i32 = -1;

/// What a client asks to do. Passed as a `uint32_t` in `mqward_request`: any other value is
/// `MQWARD_RESULT_INVALID_ARGUMENT` (and a deny).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_operation {
    /// CONNECT with a client id.
    Connect = 1,
    /// PUBLISH to a topic.
    Publish = 2,
    /// SUBSCRIBE to a topic filter.
    Subscribe = 3,
    /// Delivery of a message on a topic to the client.
    Receive = 4,
    /// UNSUBSCRIBE from a topic filter.
    Unsubscribe = 5,
}

impl mqward_operation {
    fn from_u32(value: u32) -> Result<Operation> {
        const CONNECT: u32 = mqward_operation::Connect as u32;
        const PUBLISH: u32 = mqward_operation::Publish as u32;
        const SUBSCRIBE: u32 = mqward_operation::Subscribe as u32;
        const RECEIVE: u32 = mqward_operation::Receive as u32;
        const UNSUBSCRIBE: u32 = mqward_operation::Unsubscribe as u32;
        Ok(match value {
            CONNECT => Operation::Connect,
            PUBLISH => Operation::Publish,
            SUBSCRIBE => Operation::Subscribe,
            RECEIVE => Operation::Receive,
            UNSUBSCRIBE => Operation::Unsubscribe,
            _ => return Err(mqward_result::InvalidArgument),
        })
    }
}

/// The outcome of a decision. Deny is 0, so a zeroed `mqward_effect` denies.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_effect {
    /// The request is refused.
    Deny = 0,
    /// The request is allowed.
    Allow = 1,
}

/// One request to decide. Initialize every field; `{0}` is not a valid request (operation 0).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqward_request {
    /// One of `mqward_operation`.
    pub operation: u32,
    /// The client id (connect), topic (publish, receive) or topic filter (subscribe,
    /// unsubscribe): `resource_len` bytes of UTF-8, no NUL needed. Shared subscriptions
    /// (`$share/group/filter`) are decided on their inner filter.
    pub resource: *const c_char,
    /// The length of `resource` in bytes.
    pub resource_len: usize,
    /// The message's QoS or the requested subscription QoS (0, 1 or 2), or
    /// `MQWARD_QOS_UNKNOWN`.
    pub qos: i32,
    /// The message's retain flag (0 or 1), or `MQWARD_RETAIN_UNKNOWN`.
    pub retain: i32,
}

/// Reads a request. Its resource's UTF-8 is checked after the decision, by [`settle`], or before
/// it, by [`require_utf8`]; a resource that is UTF-8 but not a valid topic, filter or client id
/// (wildcards in a topic, `#` not last, NUL, too long) is decided by the engine as a deny.
///
/// # Safety
///
/// `ptr` is NULL or points to a `mqward_request` whose `resource` points to `resource_len`
/// readable bytes, all valid for `'a`.
pub(crate) unsafe fn request<'a>(ptr: *const mqward_request) -> Result<Request<'a>> {
    if ptr.is_null() {
        return Err(mqward_result::NullParameter);
    }
    if !ptr.is_aligned() {
        return Err(mqward_result::InvalidArgument);
    }
    // SAFETY: not NULL, aligned, and readable by the caller's guarantee. Read by value, so the
    // caller's struct is not borrowed past this line.
    let r = unsafe { ptr.read() };
    let operation = mqward_operation::from_u32(r.operation)?;
    // SAFETY: the caller guarantees `resource_len` readable bytes at `resource`.
    let resource = unsafe { strings::bytes(r.resource.cast(), r.resource_len) }?;
    let qos = match r.qos {
        MQWARD_QOS_UNKNOWN => None,
        0..=2 => Some(r.qos as u8),
        _ => return Err(mqward_result::InvalidArgument),
    };
    let retain = match r.retain {
        MQWARD_RETAIN_UNKNOWN => None,
        0 => Some(false),
        1 => Some(true),
        _ => return Err(mqward_result::InvalidArgument),
    };
    Ok(Request {
        operation,
        resource,
        qos,
        retain,
    })
}

/// A resource that is not UTF-8 is an error (`MQWARD_RESULT_INVALID_UTF8`).
pub(crate) fn require_utf8(request: &Request<'_>) -> Result<()> {
    match std::str::from_utf8(request.resource) {
        Ok(_) => Ok(()),
        Err(_) => Err(mqward_result::InvalidUtf8),
    }
}

/// The engine's effect for a request as the C ABI reports it. The engine denies every resource
/// that is not UTF-8 (as all malformed input), so an allow needs no check and the hot path
/// skips it; a deny becomes `MQWARD_RESULT_INVALID_UTF8` when the resource is not UTF-8.
pub(crate) fn settle(effect: Effect, request: &Request<'_>) -> Result<Effect> {
    if effect == Effect::Deny {
        require_utf8(request)?;
    }
    Ok(effect)
}

/// Runs a decision fail-closed: `*effect_out` is set to deny before anything else, so that a
/// failed call (bad argument, unknown session, internal error, panic) leaves a deny behind, and
/// becomes allow only when the decision allows.
pub(crate) fn decide(
    effect_out: Out<mqward_effect>,
    decision: impl FnOnce() -> Result<Effect>,
) -> Result<()> {
    // Written twice on purpose: deny first, before anything can fail.
    effect_out.write(mqward_effect::Deny);
    if decision()? == Effect::Allow {
        effect_out.write(mqward_effect::Allow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(operation: u32, resource: &[u8], qos: i32, retain: i32) -> mqward_request {
        mqward_request {
            operation,
            resource: resource.as_ptr().cast(),
            resource_len: resource.len(),
            qos,
            retain,
        }
    }

    #[test]
    fn requests_are_read_and_checked() {
        let ok = req(2, b"a/b", 1, MQWARD_RETAIN_UNKNOWN);
        // SAFETY: every request points to a live literal of the given length.
        unsafe {
            let r = request(&ok).unwrap();
            assert_eq!(r, Request::publish("a/b").with_qos(1));
            assert_eq!(settle(Effect::Allow, &r), Ok(Effect::Allow));
            let not_utf8 = Request::new(Operation::Publish, b"a\xff");
            assert_eq!(
                settle(Effect::Deny, &not_utf8),
                Err(mqward_result::InvalidUtf8)
            );
            assert_eq!(settle(Effect::Deny, &r), Ok(Effect::Deny));
            for (bad, why) in [
                (req(0, b"a", 0, 0), mqward_result::InvalidArgument),
                (req(6, b"a", 0, 0), mqward_result::InvalidArgument),
                (req(2, b"a", 3, 0), mqward_result::InvalidArgument),
                (req(2, b"a", -2, 0), mqward_result::InvalidArgument),
                (req(2, b"a", 0, 2), mqward_result::InvalidArgument),
            ] {
                assert_eq!(request(&bad).err(), Some(why));
            }
            let mut null = ok;
            null.resource = std::ptr::null();
            assert_eq!(request(&null).err(), Some(mqward_result::NullParameter));
            assert_eq!(
                request(std::ptr::null()).err(),
                Some(mqward_result::NullParameter)
            );
        }
    }

    #[test]
    fn failed_decisions_leave_a_deny() {
        let mut effect = mqward_effect::Allow;
        let p: *mut mqward_effect = &mut effect;
        let out = || {
            // SAFETY: `effect` is a live local; it is read only between the calls that write it.
            unsafe { Out::new(p) }.unwrap()
        };
        assert_eq!(
            decide(out(), || Err(mqward_result::UnknownSession)),
            Err(mqward_result::UnknownSession)
        );
        assert_eq!(effect, mqward_effect::Deny);
        assert_eq!(decide(out(), || Ok(Effect::Allow)), Ok(()));
        assert_eq!(effect, mqward_effect::Allow);
        assert_eq!(decide(out(), || Ok(Effect::Deny)), Ok(()));
        assert_eq!(effect, mqward_effect::Deny);
    }
}
