//! What the host's tests share: the built modules, compiled once per test process.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use mqward_wasmtime::{Limits, Runtime};

/// `target/mqward-wasm/`, where `scripts/build-wasm.sh` writes the modules.
pub fn modules() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    dir.join("mqward-wasm")
}

fn load(name: &str, limits: Limits) -> Arc<Runtime> {
    let path = modules().join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-wasm.sh first",
        path.display()
    );
    let cache = modules().join("cache");
    Arc::new(Runtime::from_file(&path, limits, Some(&cache)).expect("the module compiles"))
}

/// The release component with the default limits.
pub fn runtime() -> Arc<Runtime> {
    static R: OnceLock<Arc<Runtime>> = OnceLock::new();
    R.get_or_init(|| load("mqward.wasm", Limits::default()))
        .clone()
}

/// The hostile test component (`authorize` on `hostile/loop`, `hostile/grow`, `hostile/trap`
/// misbehaves) with small limits, so that the tests stop it quickly.
pub fn hostile() -> Arc<Runtime> {
    static R: OnceLock<Arc<Runtime>> = OnceLock::new();
    R.get_or_init(|| {
        load(
            "mqward-hostile.wasm",
            Limits {
                memory_bytes: 32 << 20,
                decision: std::time::Duration::from_millis(50),
                ..Limits::default()
            },
        )
    })
    .clone()
}
