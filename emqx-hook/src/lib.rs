//! mqward-emqx: an EMQX ExHook gRPC server that authenticates MQTT clients and authorizes their
//! publish and subscribe with the mqward engine, for EMQX 5.0 to 5.8 (`emqx.exhook.v2`) and 5.9
//! and later (`emqx.exhook.v3`).
//!
//! [`Server::start`] reads a [`HookConfig`], loads the engine through a [`Backend`], and serves
//! the [`HookService`] under both protocol packages; the `mqward-exhook` binary adds signals
//! (SIGHUP reloads, SIGTERM and Ctrl-C stop).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod certificate;
pub mod clients;
pub mod config;
pub mod error;
pub mod log;
pub mod proto;
pub mod server;
pub mod service;
pub mod tls;

pub use backend::{Backend, Failure, Login, NativeBackend};
pub use config::{BackendKind, Fallback, HookConfig};
pub use error::Error;
pub use server::Server;
pub use service::{HookService, HOOKS};
