//! Mosquitto's ACL checks as engine requests.
//!
//! | Mosquitto access | engine operation | QoS | retain |
//! | --- | --- | --- | --- |
//! | `MOSQ_ACL_WRITE` (PUBLISH, and a will) | `publish` topic | the message's | the message's |
//! | `MOSQ_ACL_READ` (delivery to a subscriber) | `receive` topic | the message's | the message's |
//! | `MOSQ_ACL_SUBSCRIBE` | `subscribe` filter (`$share/g/f` as sent) | the requested | unknown |
//! | `MOSQ_ACL_UNSUBSCRIBE` | `unsubscribe` filter | unknown | unknown |
//!
//! An access value not in this table is no request at all, and is denied.

use std::ffi::c_int;

use mqward_core::{Operation, Request};

use crate::sys::{MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_UNSUBSCRIBE, MOSQ_ACL_WRITE};

/// The engine operation for a Mosquitto access value.
pub fn operation(access: c_int) -> Option<Operation> {
    match access {
        MOSQ_ACL_WRITE => Some(Operation::Publish),
        MOSQ_ACL_READ => Some(Operation::Receive),
        MOSQ_ACL_SUBSCRIBE => Some(Operation::Subscribe),
        MOSQ_ACL_UNSUBSCRIBE => Some(Operation::Unsubscribe),
        _ => None,
    }
}

/// The request for an ACL check; `None` for an unknown access value.
pub fn request(access: c_int, topic: &[u8], qos: u8, retain: bool) -> Option<Request<'_>> {
    let op = operation(access)?;
    let request = Request::new(op, topic);
    Some(match op {
        Operation::Publish | Operation::Receive => request.with_qos(qos).with_retain(retain),
        Operation::Subscribe => request.with_qos(qos),
        Operation::Unsubscribe | Operation::Connect => request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_access_maps_to_its_request() {
        let r = request(MOSQ_ACL_WRITE, b"a/b", 1, true).unwrap();
        assert_eq!(r, Request::publish("a/b").with_qos(1).with_retain(true));
        let r = request(MOSQ_ACL_READ, b"a/b", 2, false).unwrap();
        assert_eq!(r, Request::receive("a/b").with_qos(2).with_retain(false));
        let r = request(MOSQ_ACL_SUBSCRIBE, b"$share/g/a/#", 1, false).unwrap();
        assert_eq!(r, Request::subscribe("$share/g/a/#").with_qos(1));
        let r = request(MOSQ_ACL_UNSUBSCRIBE, b"a/#", 0, false).unwrap();
        assert_eq!(r, Request::unsubscribe("a/#"));
        for access in [0, 3, 5, 16, -1] {
            assert!(request(access, b"a", 0, false).is_none(), "{access}");
        }
    }
}
