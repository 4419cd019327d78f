//! The one error type of `mqward-wasmtime`.

use std::fmt;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The engine's own answer, exactly as native `mqward-core` gives it: an invalid
    /// configuration or policy (nothing changed), or a refused credential or session.
    Engine(mqward_core::Error),
    /// The guest was stopped: it ran out of fuel, passed its memory limit or trapped. The call
    /// counts as a denial; the instance was replaced and its sessions ended
    /// ([`mqward_core::EndReason::Failed`]).
    Stopped(String),
    /// An argument the guest refused (an unknown handle, a malformed fingerprint).
    InvalidArgument(String),
    /// Nothing is loaded in the guest.
    NotLoaded,
    /// The module could not be compiled, instantiated or read, or the guest reported a bug.
    Wasm(String),
}

impl Error {
    /// The engine's refusal, if this is one.
    pub fn rejection(&self) -> Option<&mqward_core::Rejection> {
        match self {
            Error::Engine(e) => e.rejection(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine(e) => fmt::Display::fmt(e, f),
            Error::Stopped(why) => write!(f, "the WebAssembly engine was stopped: {why}"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::NotLoaded => f.write_str("no configuration or policy is loaded"),
            Error::Wasm(why) => write!(f, "WebAssembly: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<mqward_core::Error> for Error {
    fn from(e: mqward_core::Error) -> Error {
        Error::Engine(e)
    }
}

impl From<mqward_core::Rejection> for Error {
    fn from(r: mqward_core::Rejection) -> Error {
        Error::Engine(r.into())
    }
}
