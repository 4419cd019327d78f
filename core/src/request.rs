//! What a client asks to do, and the checks that turn malformed input into a deny.

use std::fmt;

use crate::compile::levels::Levels;
use crate::policy::OperationName;

/// Longest topic, filter or client id accepted, in bytes (MQTT's two-byte length limit).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// An operation a client performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// CONNECT with a client id.
    Connect,
    /// PUBLISH to a topic.
    Publish,
    /// SUBSCRIBE to a topic filter.
    Subscribe,
    /// Delivery of a message on a topic to this client.
    Receive,
    /// UNSUBSCRIBE from a topic filter.
    Unsubscribe,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 5] = [
        Operation::Connect,
        Operation::Publish,
        Operation::Subscribe,
        Operation::Receive,
        Operation::Unsubscribe,
    ];

    /// The operation's name in documents and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::Publish => "publish",
            Operation::Subscribe => "subscribe",
            Operation::Receive => "receive",
            Operation::Unsubscribe => "unsubscribe",
        }
    }

    /// Parses an operation name.
    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Bit of this operation in an operation mask.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The operations a document name covers, as a mask.
    pub(crate) fn mask_of(name: OperationName) -> u8 {
        match name {
            OperationName::Connect => Operation::Connect.bit(),
            OperationName::Publish => Operation::Publish.bit(),
            OperationName::Subscribe => Operation::Subscribe.bit(),
            OperationName::Receive => Operation::Receive.bit(),
            OperationName::Unsubscribe => Operation::Unsubscribe.bit(),
            OperationName::All => 0b1_1111,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to decide: an operation on a resource, with the message's QoS and retain flag
/// where they are known.
///
/// The resource is raw bytes as the broker received them; a request that is not valid UTF-8 or
/// not a valid topic, filter or client id is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The operation.
    pub operation: Operation,
    /// Client id for `connect`, topic for `publish` and `receive`, filter for `subscribe` and
    /// `unsubscribe`.
    pub resource: &'a [u8],
    /// QoS of the message or the requested subscription QoS, when known.
    pub qos: Option<u8>,
    /// The retain flag of the message, when known.
    pub retain: Option<bool>,
}

impl<'a> Request<'a> {
    /// A request with no QoS and retain information.
    pub fn new(operation: Operation, resource: &'a [u8]) -> Request<'a> {
        Request {
            operation,
            resource,
            qos: None,
            retain: None,
        }
    }

    /// `connect` with a client id.
    pub fn connect(client_id: &'a str) -> Request<'a> {
        Request::new(Operation::Connect, client_id.as_bytes())
    }

    /// `publish` to a topic.
    pub fn publish(topic: &'a str) -> Request<'a> {
        Request::new(Operation::Publish, topic.as_bytes())
    }

    /// `receive` on a topic.
    pub fn receive(topic: &'a str) -> Request<'a> {
        Request::new(Operation::Receive, topic.as_bytes())
    }

    /// `subscribe` to a filter.
    pub fn subscribe(filter: &'a str) -> Request<'a> {
        Request::new(Operation::Subscribe, filter.as_bytes())
    }

    /// `unsubscribe` from a filter.
    pub fn unsubscribe(filter: &'a str) -> Request<'a> {
        Request::new(Operation::Unsubscribe, filter.as_bytes())
    }

    /// Sets the QoS.
    pub fn with_qos(mut self, qos: u8) -> Request<'a> {
        self.qos = Some(qos);
        self
    }

    /// Sets the retain flag.
    pub fn with_retain(mut self, retain: bool) -> Request<'a> {
        self.retain = Some(retain);
        self
    }
}

/// Why a request was refused before any statement was consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// The resource is empty.
    Empty,
    /// The resource is longer than 65,535 bytes.
    TooLong,
    /// The resource is not valid UTF-8.
    InvalidUtf8,
    /// The resource contains a NUL character.
    Nul,
    /// A topic name contains `+` or `#`.
    WildcardInTopic,
    /// `#` is not alone in the last level of a filter.
    MisplacedHash,
    /// `+` shares a level with other characters.
    MisplacedPlus,
    /// A `$share/<group>/<filter>` with an empty or wildcard group, or no filter.
    InvalidSharedSubscription,
    /// A QoS above 2.
    InvalidQos,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::Empty => "empty topic or client id",
            Malformed::TooLong => "longer than 65,535 bytes",
            Malformed::InvalidUtf8 => "not valid UTF-8",
            Malformed::Nul => "contains a NUL character",
            Malformed::WildcardInTopic => "`+` or `#` in a topic name",
            Malformed::MisplacedHash => "`#` is not alone in the last level",
            Malformed::MisplacedPlus => "`+` shares a level with other characters",
            Malformed::InvalidSharedSubscription => {
                "shared subscription needs `$share/<group>/<filter>` with a group free of `+` and `#`"
            }
            Malformed::InvalidQos => "QoS above 2",
        })
    }
}

fn text(bytes: &[u8]) -> Result<&str, Malformed> {
    if bytes.is_empty() {
        return Err(Malformed::Empty);
    }
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(Malformed::TooLong);
    }
    let s = std::str::from_utf8(bytes).map_err(|_| Malformed::InvalidUtf8)?;
    if memchr::memchr(0, bytes).is_some() {
        return Err(Malformed::Nul);
    }
    Ok(s)
}

/// Checks a topic name (publish, receive).
pub fn check_topic(bytes: &[u8]) -> Result<&str, Malformed> {
    if bytes.is_empty() {
        return Err(Malformed::Empty);
    }
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(Malformed::TooLong);
    }
    // One vectorized pass finds NUL and wildcards; UTF-8 is validated after.
    if let Some(i) = memchr::memchr3(0, b'+', b'#', bytes) {
        return Err(match memchr::memchr(0, bytes) {
            Some(_) => Malformed::Nul,
            None if std::str::from_utf8(&bytes[..i]).is_err() => Malformed::InvalidUtf8,
            None => Malformed::WildcardInTopic,
        });
    }
    std::str::from_utf8(bytes).map_err(|_| Malformed::InvalidUtf8)
}

/// Checks a client id.
pub fn check_client_id(bytes: &[u8]) -> Result<&str, Malformed> {
    text(bytes)
}

/// Checks a topic filter (subscribe, unsubscribe) and returns the filter to authorize: the inner
/// filter of a `$share/<group>/<filter>` or `$queue/<filter>` shared subscription.
pub fn check_filter(bytes: &[u8]) -> Result<&str, Malformed> {
    let s = text(bytes)?;
    let inner = if let Some(rest) = s.strip_prefix("$share/") {
        let (group, filter) = rest
            .split_once('/')
            .ok_or(Malformed::InvalidSharedSubscription)?;
        if group.is_empty() || group.contains(['+', '#']) || filter.is_empty() {
            return Err(Malformed::InvalidSharedSubscription);
        }
        filter
    } else if let Some(filter) = s.strip_prefix("$queue/") {
        if filter.is_empty() {
            return Err(Malformed::InvalidSharedSubscription);
        }
        filter
    } else {
        s
    };
    if inner.starts_with("$share/") || inner.starts_with("$queue/") {
        return Err(Malformed::InvalidSharedSubscription);
    }
    check_filter_levels(inner)?;
    Ok(inner)
}

fn check_filter_levels(filter: &str) -> Result<(), Malformed> {
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(Malformed::MisplacedHash);
        }
        if level.contains('+') && level != "+" {
            return Err(Malformed::MisplacedPlus);
        }
    }
    Ok(())
}

/// A request whose resource passed its checks (its levels are split alongside, in place).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked<'a> {
    pub operation: Operation,
    /// The resource to match (the inner filter for shared subscriptions): valid UTF-8.
    pub resource: &'a [u8],
    pub qos: Option<u8>,
    pub retain: Option<bool>,
}

impl<'a> Checked<'a> {
    /// The resource as text, for the paths that are not hot (the plain reference, explain).
    pub fn text(&self) -> &'a str {
        // The checks validated the UTF-8; an empty text (no match for any allow) is unreachable.
        std::str::from_utf8(self.resource).unwrap_or_default()
    }
}

impl<'a> Request<'a> {
    /// Validates the request and splits the resource to match into `levels`, in place (they
    /// are large enough that moving them costs). Topics and client ids are split and screened
    /// in one pass; only those holding a NUL, `+`, `#` or a non-ASCII byte get the detailed
    /// checks.
    #[inline]
    pub(crate) fn check(&self, levels: &mut Levels<'a>) -> Result<Checked<'a>, Malformed> {
        if self.qos.is_some_and(|q| q > 2) {
            return Err(Malformed::InvalidQos);
        }
        let resource = match self.operation {
            Operation::Connect | Operation::Publish | Operation::Receive => {
                let bytes = self.resource;
                if bytes.is_empty() {
                    return Err(Malformed::Empty);
                }
                if bytes.len() > MAX_TOPIC_LEN {
                    return Err(Malformed::TooLong);
                }
                if levels.split(bytes) {
                    match self.operation {
                        Operation::Connect => check_client_id(bytes)?,
                        _ => check_topic(bytes)?,
                    };
                }
                bytes
            }
            Operation::Subscribe | Operation::Unsubscribe => {
                let inner = check_filter(self.resource)?.as_bytes();
                levels.split(inner);
                inner
            }
        };
        Ok(Checked {
            operation: self.operation,
            resource,
            qos: self.qos,
            retain: self.retain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(check_topic(b"a/b"), Ok("a/b"));
        assert_eq!(check_topic(b"/"), Ok("/"));
        assert_eq!(check_topic(b"$SYS/x"), Ok("$SYS/x"));
        assert_eq!(check_topic(b""), Err(Malformed::Empty));
        assert_eq!(check_topic(b"a/+"), Err(Malformed::WildcardInTopic));
        assert_eq!(check_topic(b"a#"), Err(Malformed::WildcardInTopic));
        assert_eq!(check_topic(b"a\0b"), Err(Malformed::Nul));
        assert_eq!(check_topic(b"a\xff"), Err(Malformed::InvalidUtf8));
        assert_eq!(
            check_topic(&vec![b'a'; MAX_TOPIC_LEN + 1]),
            Err(Malformed::TooLong)
        );
        assert!(check_topic(&vec![b'a'; MAX_TOPIC_LEN]).is_ok());
    }

    #[test]
    fn filters() {
        assert_eq!(check_filter(b"a/+/#"), Ok("a/+/#"));
        assert_eq!(check_filter(b"#"), Ok("#"));
        assert_eq!(check_filter(b"a/#/b"), Err(Malformed::MisplacedHash));
        assert_eq!(check_filter(b"a/b#"), Err(Malformed::MisplacedHash));
        assert_eq!(check_filter(b"a/+b"), Err(Malformed::MisplacedPlus));
        assert_eq!(check_filter(b"$share/g/a/+"), Ok("a/+"));
        assert_eq!(check_filter(b"$queue/a/b"), Ok("a/b"));
        for bad in [
            &b"$share/g"[..],
            b"$share//a",
            b"$share/g/",
            b"$share/+/a",
            b"$share/#/a",
            b"$share/g+/a",
            b"$queue/",
            b"$share/g/$share/h/a",
            b"$queue/$share/h/a",
        ] {
            assert_eq!(
                check_filter(bad),
                Err(Malformed::InvalidSharedSubscription),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_filter(b"$share/g/a/#/b"),
            Err(Malformed::MisplacedHash)
        );
    }

    #[test]
    fn qos_is_checked() {
        let r = Request::publish("a").with_qos(3);
        assert_eq!(
            r.check(&mut Levels::empty()).err(),
            Some(Malformed::InvalidQos)
        );
    }

    #[test]
    fn the_one_pass_screen_agrees_with_the_detailed_checks() {
        let texts: [&[u8]; 12] = [
            b"a/b",
            b"a/+",
            b"abcdefgh/#",
            b"a\0b",
            b"abcdefgh\xff",
            b"\xc3\xa9/x",
            b"$SYS/x",
            b"+",
            b"#",
            b"abcdefghijklmnop+",
            b"\xe2\x82",
            b"x",
        ];
        for t in texts {
            let publish = Request::new(Operation::Publish, t).check(&mut Levels::empty());
            assert_eq!(
                publish.as_ref().err().copied(),
                check_topic(t).err(),
                "{t:?}"
            );
            let connect = Request::new(Operation::Connect, t).check(&mut Levels::empty());
            assert_eq!(
                connect.as_ref().err().copied(),
                check_client_id(t).err(),
                "{t:?}"
            );
            if let Ok(c) = publish {
                assert_eq!(c.text().as_bytes(), t);
            }
        }
    }
}
