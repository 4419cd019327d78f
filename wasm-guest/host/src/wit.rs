//! The values of `wasm-guest/wit/mqward.wit`'s `engine` interface, as the host reads and
//! writes them (see [`crate::guest`] for their canonical-ABI layouts). Names and cases follow
//! the WIT one for one.

#![allow(missing_docs)]

/// `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Document,
    File(String),
    FileLine((String, u32)),
    Json((u32, u32)),
    Line(u32),
    Group(String),
    Policy(String),
    Statement((String, String)),
    Resource((String, String, u32)),
}

/// `problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub message: String,
}

/// `rejection`, in WIT order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(String),
    TooLarge,
    UnknownIdentity,
    WrongSecret,
    BadSignature,
    UnknownIssuer,
    WrongUsage,
    WrongAlgorithm,
    WeakKey,
    Expired,
    NotYetValid,
    Revoked,
    Suspended,
    WrongIssuer,
    WrongAudience,
    UnsupportedCritical,
    MissingClaim(String),
    ClientIdMismatch,
    Disabled,
    UnknownSession,
    TooManySessions,
    ConnectDenied,
    MissingField(String),
    StaleRevocationList,
}

/// `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Invalid(Vec<Problem>),
    Rejected(Rejection),
    InvalidArgument(String),
    NotLoaded,
    Internal(String),
}

/// `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub contents: Result<Vec<u8>, String>,
}

/// `credentials`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub certificate: Option<Vec<u8>>,
    pub psk_identity: Option<String>,
}

/// `identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

/// `authenticated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub identity: Identity,
    pub expires_at: Option<u64>,
    pub fingerprint: Option<String>,
}

/// `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub first: u64,
    pub last: u64,
}

/// `verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    UnknownSession,
    Failed,
}

/// `operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Connect,
    Publish,
    Subscribe,
    Receive,
    Unsubscribe,
}

/// `explanation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub allowed: bool,
    pub deciding: Option<String>,
    pub malformed: Option<String>,
    pub groups: Vec<String>,
    pub matched: Vec<(bool, String)>,
    pub notes: Vec<String>,
    pub text: String,
}

/// `end-reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Suspended,
    Revoked,
    Expired,
    TrustExpired,
}

/// `disconnect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub session: Token,
    pub client_id: Option<String>,
    pub reason: EndReason,
}

/// `state-change`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub fingerprint: String,
    pub from: Option<String>,
    pub to: String,
}

/// `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Disconnect(Disconnect),
    StateChanged(StateChange),
}

/// `cert-action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertAction {
    Suspend,
    Reactivate,
    Revoke,
}
