//! mqward-mosquitto: a Mosquitto 2.0/2.1 plugin (API version 5) that authenticates clients
//! (certificates, TLS-PSK, passwords, JWTs, AWS-style signed tokens, identity tokens) and
//! authorizes every publish, delivery, subscribe and unsubscribe with the mqward engine, inside
//! the broker's process.
//!
//! Mosquitto loads it with two lines:
//!
//! ```text
//! plugin /usr/lib/mqward/mqward_mosquitto.so
//! plugin_opt_config /etc/mqward/config.json
//! ```
//!
//! [`broker`] holds every raw pointer (the C entry points, the callbacks, the broker functions
//! resolved at start); [`plugin`] is what each event does, in safe Rust.

pub mod acl;
pub mod auth;
pub mod broker;
pub mod cache;
pub mod clients;
pub mod clock;
pub mod events;
pub mod load;
pub mod log;
pub mod options;
pub mod persist;
pub mod plugin;
pub mod sys;
pub mod upkeep;

pub use plugin::{Broker, Client, Plugin};
