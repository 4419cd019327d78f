//! mqward-wasm: the mqward engine as one WebAssembly module.
//!
//! Built for `wasm32-unknown-unknown` (`scripts/build-wasm.sh`), this crate is `mqward.wasm`:
//! a core module whose exports are the canonical ABI of `wit/mqward.wit` (flat functions plus
//! `cabi_realloc`), so a host with only core WebAssembly (Node.js, Python's `wasmtime`, wasmex)
//! calls it directly and a component host loads the same code wrapped by wit-component
//! (`mqward.component.wasm`).
//!
//! The module imports nothing: the host passes the time, the files a configuration names and
//! random bytes. Every failure is an `error` value; a panic (a bug) aborts the call with a trap,
//! which hosts count as a denial, dropping the instance.
//!
//! [`instance::Instance`] holds the state and does the work; the exports below only reach it.

pub mod convert;
pub mod instance;

/// The code wit-bindgen generates from `wit/mqward.wit`.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "mqward" });
}

use std::sync::{Mutex, MutexGuard};

use bindings::exports::mqward::engine::engine as wit;
use instance::Instance;

/// The instance's state. A WebAssembly instance runs one call at a time; the mutex only
/// satisfies `static`.
static STATE: Mutex<Instance> = Mutex::new(Instance::new());

fn state() -> MutexGuard<'static, Instance> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The type the exports are implemented on.
pub struct Component;

impl wit::Guest for Component {
    fn abi_version() -> u32 {
        convert::ABI_VERSION
    }

    fn engine_version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_files(config: Vec<u8>) -> Result<Vec<String>, wit::Error> {
        Instance::config_files(&config)
    }

    fn load(
        config: Vec<u8>,
        files: Vec<wit::File>,
        random: Vec<u8>,
    ) -> Result<Vec<String>, wit::Error> {
        state().load(&config, &files, &random)
    }

    fn load_policy(policy: Vec<u8>) -> Result<(), wit::Error> {
        state().load_policy(&policy)
    }

    fn reload(
        config: Vec<u8>,
        files: Vec<wit::File>,
        random: Vec<u8>,
    ) -> Result<Vec<String>, wit::Error> {
        state().reload(&config, &files, &random)
    }

    fn reload_policy(policy: Vec<u8>) -> Result<(), wit::Error> {
        state().reload_policy(&policy)
    }

    fn authenticate(
        credentials: wit::Credentials,
        now: u64,
    ) -> Result<wit::Authenticated, wit::Error> {
        state().authenticate(&credentials, now)
    }

    fn verify_certificate(certificate: Vec<u8>, now: u64) -> Result<(), wit::Error> {
        state().verify_certificate(&certificate, now)
    }

    fn psk_key(identity: String) -> Option<String> {
        state().psk_key(&identity)
    }

    fn open_session(
        credentials: wit::Credentials,
        now: u64,
        random: wit::Token,
    ) -> Result<wit::Token, wit::Error> {
        state().open_session(&credentials, now, random)
    }

    fn close_session(session: wit::Token) -> bool {
        state().close_session(session)
    }

    fn session_count() -> u32 {
        state().session_count()
    }

    fn authorize(
        session: wit::Token,
        operation: wit::Operation,
        target: Vec<u8>,
        qos: Option<u8>,
        retain: Option<bool>,
        now: u64,
    ) -> wit::Verdict {
        #[cfg(feature = "hostile")]
        hostile(&target);
        state().authorize(
            session,
            &convert::request(operation, &target, qos, retain),
            now,
        )
    }

    fn authorize_greengrass(
        session: wit::Token,
        operation: String,
        resource: String,
        now: u64,
    ) -> Result<bool, wit::Error> {
        state().authorize_greengrass(session, &operation, &resource, now)
    }

    fn explain(
        session: wit::Token,
        operation: wit::Operation,
        target: Vec<u8>,
        qos: Option<u8>,
        retain: Option<bool>,
        now: u64,
    ) -> Result<wit::Explanation, wit::Error> {
        state().explain(
            session,
            &convert::request(operation, &target, qos, retain),
            now,
        )
    }

    fn bind(identity: wit::Identity) -> Result<u64, wit::Error> {
        state().bind(&identity)
    }

    fn authorize_identity(
        handle: u64,
        operation: wit::Operation,
        target: Vec<u8>,
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> wit::Verdict {
        state().authorize_identity(handle, &convert::request(operation, &target, qos, retain))
    }

    fn explain_identity(
        handle: u64,
        operation: wit::Operation,
        target: Vec<u8>,
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> Result<wit::Explanation, wit::Error> {
        state().explain_identity(handle, &convert::request(operation, &target, qos, retain))
    }

    fn unbind(handle: u64) -> bool {
        state().unbind(handle)
    }

    fn set_certificate_state(
        fingerprint: String,
        action: wit::CertAction,
    ) -> Result<Option<wit::StateChange>, wit::Error> {
        state().set_certificate_state(&fingerprint, action)
    }

    fn apply_state_change(change: wit::StateChange) -> Result<(), wit::Error> {
        state().apply_state_change(&change)
    }

    fn registry_json() -> Vec<u8> {
        state().registry_json()
    }

    fn tick(now: u64) {
        state().tick(now)
    }

    fn drain_events() -> Vec<wit::Event> {
        state().drain_events()
    }
}

/// The misbehaviour of the hostile test guest, chosen by the request's topic.
#[cfg(feature = "hostile")]
fn hostile(target: &[u8]) {
    match target {
        b"hostile/loop" => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        b"hostile/grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Reserved, not written: the memory limit stops it, not the fuel.
                let mut block = Vec::<u8>::with_capacity(16 << 20);
                block.push(1);
                hoard.push(block);
                std::hint::black_box(&hoard);
            }
        }
        b"hostile/trap" => panic!("the hostile guest traps on purpose"),
        _ => {}
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);

/// ring links getrandom; the guest has no random source of its own, so asking fails (no
/// import is made). mqward's code never asks: hosts pass random bytes.
#[cfg(target_arch = "wasm32")]
fn no_random(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}
#[cfg(target_arch = "wasm32")]
getrandom::register_custom_getrandom!(no_random);
