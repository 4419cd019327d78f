//! The one error type of `mqward-core`: every problem found while loading, with its location.

use std::fmt;

/// Where in a document a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The document as a whole.
    Document,
    /// A file named in a configuration (trust anchor, CRL, key, password or PSK file), by the
    /// name the configuration gives it.
    File(String),
    /// A line of a named file, counting from 1.
    FileLine {
        /// The file's name as the configuration gives it.
        file: String,
        /// The line, counting from 1.
        line: usize,
    },
    /// A position in the JSON text (1-based line and column).
    Json {
        /// Line, counting from 1.
        line: usize,
        /// Column, counting from 1.
        column: usize,
    },
    /// A line of a text file (Mosquitto acl_file), counting from 1.
    Line(usize),
    /// A group, by name.
    Group(String),
    /// A policy, by name.
    Policy(String),
    /// A statement, by policy name and statement id.
    Statement {
        /// The policy holding the statement.
        policy: String,
        /// The statement id.
        statement: String,
    },
    /// One resource of a statement.
    Resource {
        /// The policy holding the statement.
        policy: String,
        /// The statement id.
        statement: String,
        /// Index of the resource in the statement's `resources` list, from 0.
        index: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Document => f.write_str("document"),
            Location::File(file) => write!(f, "`{file}`"),
            Location::FileLine { file, line } => write!(f, "`{file}`, line {line}"),
            Location::Json { line, column } => write!(f, "line {line}, column {column}"),
            Location::Line(line) => write!(f, "line {line}"),
            Location::Group(name) => write!(f, "group `{name}`"),
            Location::Policy(name) => write!(f, "policy `{name}`"),
            Location::Statement { policy, statement } => {
                write!(f, "statement `{policy}/{statement}`")
            }
            Location::Resource {
                policy,
                statement,
                index,
            } => write!(f, "statement `{policy}/{statement}`, resource {index}"),
        }
    }
}

/// One problem with its location, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is.
    pub location: Location,
    /// What is wrong, lowercase, user input in backticks.
    pub message: String,
}

impl Problem {
    /// A problem at a location.
    pub fn new(location: Location, message: impl Into<String>) -> Problem {
        Problem {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why a credential was not accepted. Messages say what failed without repeating the credential:
/// no secret, token or password ever appears in one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The credential could not be read (bad PEM, DER, base64, JSON or token layout); the text
    /// says which part.
    Malformed(String),
    /// Larger than the configured cap.
    TooLarge,
    /// No user, PSK identity, key id or registered certificate by that name.
    UnknownIdentity,
    /// The password, key or token secret does not match.
    WrongSecret,
    /// A signature (certificate chain, token, custom authorizer) does not verify.
    BadSignature,
    /// The certificate does not chain to a configured trust anchor.
    UnknownIssuer,
    /// The certificate is not valid for client authentication (extended key usage).
    WrongUsage,
    /// The signature or token algorithm is not the one pinned for the key, or not allowed.
    WrongAlgorithm,
    /// The key is too weak (an RSA modulus under 2,048 bits).
    WeakKey,
    /// The certificate or token has expired (at the time the caller passed).
    Expired,
    /// The certificate or token is not valid yet.
    NotYetValid,
    /// The certificate is on a CRL or was revoked by the operator.
    Revoked,
    /// The certificate is suspended by the operator.
    Suspended,
    /// A token's issuer is not the configured one.
    WrongIssuer,
    /// A token's audience does not include the configured one.
    WrongAudience,
    /// A token marks an extension as critical that is not understood.
    UnsupportedCritical,
    /// A claim needed to build the identity is missing or not a string.
    MissingClaim(String),
    /// The MQTT client id differs from the name the credential maps to.
    ClientIdMismatch,
    /// This way of authenticating is switched off in the configuration.
    Disabled,
    /// No session with that token (closed, expired, revoked or never opened).
    UnknownSession,
    /// The session table is full.
    TooManySessions,
    /// The identity may not connect with that client id.
    ConnectDenied,
    /// A certificate field the identity mapping needs (`cert.subject.cn`...) is absent, repeated,
    /// or holds a character that may not appear in a name (`*`, `$`, `+`, `?`, `#`, a control
    /// character).
    MissingField(String),
    /// The revocation list of an issuer in the chain is past its next update, so whether the
    /// certificate was revoked since is unknown.
    StaleRevocationList,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(what) => write!(f, "malformed credential: {what}"),
            Rejection::TooLarge => f.write_str("credential larger than allowed"),
            Rejection::UnknownIdentity => f.write_str("unknown identity"),
            Rejection::WrongSecret => f.write_str("wrong secret"),
            Rejection::BadSignature => f.write_str("signature does not verify"),
            Rejection::UnknownIssuer => f.write_str("certificate issuer not trusted"),
            Rejection::WrongUsage => f.write_str("certificate not valid for client authentication"),
            Rejection::WrongAlgorithm => f.write_str("algorithm not allowed for this key"),
            Rejection::WeakKey => f.write_str("key too weak"),
            Rejection::Expired => f.write_str("expired"),
            Rejection::NotYetValid => f.write_str("not valid yet"),
            Rejection::Revoked => f.write_str("revoked"),
            Rejection::Suspended => f.write_str("suspended"),
            Rejection::WrongIssuer => f.write_str("token issuer not accepted"),
            Rejection::WrongAudience => f.write_str("token audience not accepted"),
            Rejection::UnsupportedCritical => {
                f.write_str("token has an unsupported critical header")
            }
            Rejection::MissingClaim(name) => {
                write!(f, "token claim `{name}` missing or not a string")
            }
            Rejection::ClientIdMismatch => {
                f.write_str("client id differs from the name the credential maps to")
            }
            Rejection::Disabled => f.write_str("this authentication method is disabled"),
            Rejection::UnknownSession => f.write_str("unknown or expired session"),
            Rejection::TooManySessions => f.write_str("session table full"),
            Rejection::ConnectDenied => f.write_str("connect not allowed for this client id"),
            Rejection::MissingField(name) => {
                write!(
                    f,
                    "certificate field `{name}` missing or not usable as a name"
                )
            }
            Rejection::StaleRevocationList => f.write_str("revocation list out of date"),
        }
    }
}

/// The one error type of `mqward-core`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The document, configuration or credential file is invalid; nothing was loaded.
    Invalid(Vec<Problem>),
    /// A credential was not accepted (authentication failed).
    Rejected(Rejection),
}

impl Error {
    /// An error from a list of problems (an empty list still means failure).
    pub fn from_problems(problems: Vec<Problem>) -> Error {
        Error::Invalid(problems)
    }

    /// A single problem.
    pub fn single(location: Location, message: impl Into<String>) -> Error {
        Error::Invalid(vec![Problem::new(location, message)])
    }

    /// The problems, in the order found (none for a rejected credential).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(problems) => problems,
            Error::Rejected(_) => &[],
        }
    }

    /// The rejection, if a credential was not accepted.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Invalid(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Error::Rejected(r) = self {
            return write!(f, "rejected: {r}");
        }
        let problems = self.problems();
        match problems {
            [] => f.write_str("invalid policy"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Error {
        Error::Rejected(r)
    }
}
