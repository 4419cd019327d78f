//! mqward-wasmtime: runs `mqward.wasm` in-process on wasmtime, with the native engine's API.
//!
//! ```no_run
//! use std::sync::Arc;
//! use mqward_core::{Effect, Identity, IdentityKind, Request};
//! use mqward_wasmtime::{Limits, Runtime, WasmEngine};
//!
//! # fn main() -> Result<(), mqward_wasmtime::Error> {
//! // Compiled once (or loaded from the cache directory), shared by every engine and thread.
//! let runtime = Arc::new(Runtime::from_file(
//!     "target/mqward-wasm/mqward.wasm".as_ref(),
//!     Limits::default(),
//!     Some("/var/cache/mqward".as_ref()),
//! )?);
//! let policy = br#"{"version":1,"policies":{"p":[{"id":"t","effect":"allow",
//!   "operations":["publish"],"resources":["topic:sensors/${thingName}/#"]}]},
//!   "groups":[{"name":"all","selectionRule":"*","policies":["p"]}]}"#;
//! let engine = WasmEngine::from_json(runtime, 4, policy)?;
//! let sensor = engine.bind(Identity::new(IdentityKind::Certificate).with_thing_name("s-7"))?;
//! let effect = engine.authorize_bound(&sensor, &Request::publish("sensors/s-7/t"))?;
//! assert_eq!(effect, Effect::Allow);
//! # Ok(()) }
//! ```
//!
//! - [`Runtime`]: the wasmtime engine and the compiled core module, pre-linked (it imports
//!   nothing), instances from a pooling allocator, compiled code cached on disk; [`guest`]
//!   speaks the WIT's canonical ABI to it.
//! - [`WasmEngine`]: the engine's calls ([`mqward_core::Engine`]'s names and types) over a
//!   set of instances, one store each behind a mutex, so that many threads decide at once.
//! - [`Limits`]: a time limit per call class and memory per instance. A guest stopped by them, or
//!   trapping, answers [`Error::Stopped`]: a denial. Its instance is replaced.

pub mod convert;
pub mod engine;
pub mod error;
pub mod runtime;

pub mod guest;
pub mod wit;

pub use engine::{Bound, WasmEngine};
pub use error::Error;
pub use runtime::{Call, Limits, Runtime};

use mqward_core::authn::x509::Fingerprint;
use mqward_core::{Effect, Identity};

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The identity.
    pub identity: Identity,
    /// When the credential stops being valid.
    pub expires_at: Option<u64>,
    /// The certificate's fingerprint, for certificate clients.
    pub fingerprint: Option<Fingerprint>,
}

/// A decision with its reasoning, as the guest explained it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Allow or deny.
    pub effect: Effect,
    /// The deciding statement as `policy/id`.
    pub deciding: Option<String>,
    /// Why the request was malformed, when it was.
    pub malformed: Option<String>,
    /// The groups of the identity.
    pub groups: Vec<String>,
    /// Every matching statement, in document order.
    pub matched: Vec<(Effect, String)>,
    /// Remarks.
    pub notes: Vec<String>,
    /// All of it as `mqward explain` prints it (the same text as native
    /// [`mqward_core::Explanation`]'s `Display`).
    pub text: String,
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
