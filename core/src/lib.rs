//! mqward-core: the pure engine behind mqward's MQTT authentication and per-topic authorization.
//!
//! Policy documents are validated and compiled into immutable snapshots of matchers; an
//! [`Engine`] swaps snapshots atomically and decides requests for identities.
//! No I/O, no clock, no unchecked code (`forbid(unsafe_code)`): callers pass bytes and time, so the
//! crate runs on wasm32 too.
//!
//! ```
//! use mqward_core::{Engine, Identity, IdentityKind, Request};
//!
//! let policy = br#"{
//!   "version": 1,
//!   "groups": [{ "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["own"] }],
//!   "policies": { "own": [
//!     { "id": "telemetry", "effect": "allow", "operations": ["publish"],
//!       "resources": ["topic:sensors/${thingName}/#"] }
//!   ] }
//! }"#;
//! let engine = Engine::from_json(policy).unwrap();
//! let mut sensor = engine.bind(Identity::new(IdentityKind::Certificate).with_thing_name("sensor-7"));
//! assert!(engine.authorize(&mut sensor, &Request::publish("sensors/sensor-7/temp")).is_allowed());
//! assert!(!engine.authorize(&mut sensor, &Request::publish("sensors/sensor-8/temp")).is_allowed());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authn;
pub mod compile;
pub mod config;
pub mod decision;
pub mod engine;
pub mod error;
pub mod identity;
pub mod policy;
pub mod principal;
pub mod request;
pub mod session;

pub use authn::authenticator::{Authenticated, Authenticator, Credentials};
pub use compile::{Builder, Snapshot, StatementInfo, Strategy};
pub use config::Config;
pub use decision::{Decision, Explanation, Reason};
pub use engine::{CertAction, Engine};
pub use error::{Error, Location, Problem, Rejection};
pub use identity::{Attribute, CertField, Identity, IdentityKind};
pub use policy::{Document, Effect, MatchMode};
pub use principal::Principal;
pub use request::{Malformed, Operation, Request};
pub use session::{EndReason, Event, SessionToken};

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
