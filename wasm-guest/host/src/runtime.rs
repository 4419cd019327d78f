//! The compiled module and the instances made from it: one wasmtime engine and the core module
//! (`mqward.wasm`), pre-linked once (it imports nothing), instantiated from a pooling
//! allocator; every call bounded in time (wasmtime epochs) and every instance's memory by a
//! limit. See [`crate::guest`] for why the core module and not the component.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
};

use crate::error::Error;
use crate::guest::Guest;
use crate::wit::Error as WitError;

/// The interface contract this host speaks (`abi-version`).
pub const ABI_VERSION: u32 = 1;

/// What bounds the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory one instance may have, in bytes (default 256 MiB). Growing past it
    /// fails inside the guest, which then traps.
    pub memory_bytes: usize,
    /// The longest one decision, explanation or other small call may run (default 100 ms: a
    /// decision takes under a microsecond).
    pub decision: Duration,
    /// The longest one authentication or session opening may run (default 10 s: argon2id and
    /// RSA take milliseconds).
    pub authentication: Duration,
    /// The longest loading or reloading a configuration or policy may run (default 120 s).
    pub load: Duration,
    /// The most instances alive at once in the pool (default 64): shards, their replacements
    /// and spares.
    pub instances: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 256 << 20,
            decision: Duration::from_millis(100),
            authentication: Duration::from_secs(10),
            load: Duration::from_secs(120),
            instances: 64,
        }
    }
}

/// A class of call, for its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// [`Limits::decision`].
    Decision,
    /// [`Limits::authentication`].
    Authentication,
    /// [`Limits::load`].
    Load,
}

/// How often the epoch moves on: the resolution of the time limits.
pub const TICK: Duration = Duration::from_millis(10);

/// What a store carries: its resource limits.
pub struct Host {
    limits: StoreLimits,
}

/// The compiled module, shared by every instance and thread.
///
/// Time limits are wasmtime epochs: a thread started with the runtime moves the epoch on every
/// [`TICK`], and every call may run for its limit's number of ticks (epoch checks cost far
/// less in the guest's code than fuel counting). The thread stops when the runtime is dropped.
pub struct Runtime {
    engine: Engine,
    pre: InstancePre<Host>,
    limits: Limits,
    ticking: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn wasm(e: impl std::fmt::Display) -> Error {
    Error::Wasm(e.to_string())
}

impl Runtime {
    /// Compiles the core module (`mqward.wasm`). With `cache`, the compiled code is kept in
    /// that directory, named by the module's SHA-256 and the compiler's settings, and loaded
    /// from there next time instead of compiling again. The directory must be writable only by
    /// the host's own user: its files are machine code that is run.
    pub fn new(module: &[u8], limits: Limits, cache: Option<&Path>) -> Result<Runtime, Error> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(limits.instances)
            .total_memories(limits.instances)
            .total_tables(limits.instances)
            .max_memory_size(limits.memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(wasm)?;
        let compiled = match cache {
            Some(dir) => cached(&engine, module, dir)?,
            None => Module::new(&engine, module).map_err(|e| wasm(format!("{e:#}")))?,
        };
        let linker = Linker::<Host>::new(&engine);
        let pre = linker.instantiate_pre(&compiled).map_err(|e| {
            wasm(format!(
                "the module needs imports this host does not give: {e:#}"
            ))
        })?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (clock, on) = (engine.clone(), ticking.clone());
        std::thread::Builder::new()
            .name("mqward-wasm-epoch".into())
            .spawn(move || {
                while on.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    clock.increment_epoch();
                }
            })
            .map_err(|e| wasm(format!("starting the epoch thread: {e}")))?;
        let runtime = Runtime {
            engine,
            pre,
            limits,
            ticking,
        };
        let mut probe = runtime.instantiate()?;
        let abi = probe.call(runtime.budget(Call::Decision), |g, s| {
            g.call_abi_version(s).map(Ok)
        })?;
        if abi != ABI_VERSION {
            return Err(Error::Wasm(format!(
                "the module speaks interface version {abi}; this host speaks {ABI_VERSION}"
            )));
        }
        Ok(runtime)
    }

    /// [`Runtime::new`] from a file.
    pub fn from_file(path: &Path, limits: Limits, cache: Option<&Path>) -> Result<Runtime, Error> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::Wasm(format!("{}: {e}", path.display())))?;
        Runtime::new(&bytes, limits, cache)
    }

    /// The limits every instance runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A call class's time limit in epoch ticks (at least two: a call that starts just before
    /// a tick still gets one whole tick).
    pub fn budget(&self, call: Call) -> u64 {
        let limit = match call {
            Call::Decision => self.limits.decision,
            Call::Authentication => self.limits.authentication,
            Call::Load => self.limits.load,
        };
        u64::try_from(limit.as_millis() / TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
            + 1
    }

    /// A fresh instance with nothing loaded.
    pub fn instantiate(&self) -> Result<Instance, Error> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(1)
            .build();
        let mut store = Store::new(&self.engine, Host { limits });
        store.limiter(|h| &mut h.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.budget(Call::Load));
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| wasm(format!("instantiating: {e:#}")))?;
        let api = Guest::new(&instance, &mut store)
            .map_err(|e| wasm(format!("not the mqward module: {e:#}")))?;
        Ok(Instance {
            store,
            api,
            stopped: false,
        })
    }
}

/// Compiles through the cache directory.
fn cached(engine: &Engine, module: &[u8], dir: &Path) -> Result<Module, Error> {
    let path = cache_path(engine, module, dir);
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: `Module::deserialize` runs the machine code in `bytes` as it is. The file
        // is one this function wrote with `Engine::precompile_module` for this module and
        // this engine's settings (both are in its name), in a directory the caller keeps
        // writable only by its own user (see `Runtime::new`). wasmtime still checks the
        // header, version and settings and refuses a file made by another build, which is
        // then compiled again below.
        if let Ok(c) = unsafe { Module::deserialize(engine, &bytes) } {
            return Ok(c);
        }
    }
    let bytes = engine
        .precompile_module(module)
        .map_err(|e| wasm(format!("{e:#}")))?;
    let _ = std::fs::create_dir_all(dir);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // The cache is an optimization: a failed write only means compiling again next time.
    if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    // SAFETY: `bytes` was made by `precompile_module` on this engine just now.
    unsafe { Module::deserialize(engine, &bytes) }.map_err(|e| wasm(format!("{e:#}")))
}

/// The cache file for a module: its SHA-256 and the hash of the settings compiled code
/// depends on (wasmtime's version, the target, the compiler's flags).
pub fn cache_path(engine: &Engine, module: &[u8], dir: &Path) -> PathBuf {
    let digest = ring::digest::digest(&ring::digest::SHA256, module);
    let mut hex = String::with_capacity(80);
    for b in digest.as_ref() {
        hex.push_str(&format!("{b:02x}"));
    }
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    dir.join(format!("mqward-{hex}-{:016x}.cwasm", settings.finish()))
}

/// One instance of the module in its own store: calls one at a time.
pub struct Instance {
    store: Store<Host>,
    api: Guest,
    stopped: bool,
}

impl Instance {
    /// Calls the guest, allowed `ticks` epoch ticks ([`Runtime::budget`]). A trap (the time
    /// limit, the memory limit, a guest bug) is [`Error::Stopped`] and leaves the instance
    /// stopped: it must be replaced.
    pub fn call<R>(
        &mut self,
        ticks: u64,
        f: impl FnOnce(&Guest, &mut Store<Host>) -> wasmtime::Result<Result<R, WitError>>,
    ) -> Result<R, Error> {
        if self.stopped {
            return Err(Error::Stopped(
                "the instance was stopped by an earlier call".into(),
            ));
        }
        self.store.set_epoch_deadline(ticks);
        match f(&self.api, &mut self.store) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(crate::convert::error(e)),
            Err(trap) => {
                self.stopped = true;
                let why = match trap.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::Interrupt) => "it ran past its time limit".to_owned(),
                    Some(t) => format!("it trapped: {t}"),
                    None => format!("{trap:#}"),
                };
                Err(Error::Stopped(why))
            }
        }
    }

    /// Whether a call trapped in this instance.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
}
