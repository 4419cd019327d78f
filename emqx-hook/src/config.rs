//! The hook's configuration: a small JSON file beside the engine configuration it names.
//!
//! ```json
//! {
//!   "version": 1,
//!   "listen": "127.0.0.1:9000",
//!   "backend": "native",
//!   "engine": "mqward.json",
//!   "wasm": { "module": "mqward.wasm", "cache": "/var/cache/mqward", "shards": 4 },
//!   "tls": { "cert": "exhook.pem", "key": "exhook.key", "clientCa": "emqx-ca.pem" },
//!   "onRefusedLogin": "deny",
//!   "onUnknownClient": "deny",
//!   "certificateListeners": { "ports": [8883], "requireClientIdMatch": true }
//! }
//! ```
//!
//! Relative file names are read from the configuration file's directory, as the `mqward` CLI
//! does; the engine configuration's own file names are relative to its directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The configuration format version this build reads.
pub const HOOK_CONFIG_VERSION: u32 = 1;

/// The hook's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookConfig {
    /// Must be [`HOOK_CONFIG_VERSION`].
    pub version: u32,
    /// The gRPC listen address (`127.0.0.1:9000`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Which engine decides.
    #[serde(default)]
    pub backend: BackendKind,
    /// The engine configuration file (policy, password files, keys, sessions).
    pub engine: PathBuf,
    /// The WebAssembly module and how to run it; required with `"backend": "wasm"`.
    #[serde(default)]
    pub wasm: Option<WasmSettings>,
    /// TLS for the gRPC listener; required off loopback unless `insecure`.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Serve plain gRPC off loopback (passwords then cross the network in clear).
    #[serde(default)]
    pub insecure: bool,
    /// The answer when mqward refuses a client's credentials.
    #[serde(default)]
    pub on_refused_login: Fallback,
    /// The answer to an authorization for a client mqward holds no session for (one another
    /// authenticator let in).
    #[serde(default)]
    pub on_unknown_client: Fallback,
    /// EMQX listeners whose client certificates EMQX verified: there the ClientInfo `cn` is
    /// trusted as a certificate identity. Off unless configured.
    #[serde(default)]
    pub certificate_listeners: Option<CertificateListeners>,
    /// Seconds a session may wait between authentication and `client.connected` (or the
    /// client's first authorization) before it is closed as abandoned.
    #[serde(default = "default_pending_seconds")]
    pub pending_seconds: u64,
    /// Authentications verified at the same time (password hashing and signature checks run
    /// on blocking threads, never on the gRPC reactor); the others wait their turn.
    #[serde(default = "default_authentication_workers")]
    pub authentication_workers: usize,
}

/// Which engine decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// `mqward-core` in this process.
    #[default]
    Native,
    /// The WebAssembly module (`mqward.wasm`) through the wasmtime host library.
    Wasm,
}

/// The WebAssembly backend's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmSettings {
    /// The core module (`scripts/build-wasm.sh` writes `target/mqward-wasm/mqward.wasm`).
    pub module: PathBuf,
    /// A directory for the compiled code, so that a restart does not compile again; writable
    /// only by the hook's user (its files are machine code that is run).
    #[serde(default)]
    pub cache: Option<PathBuf>,
    /// Instances deciding in parallel (default: the number of CPUs).
    #[serde(default = "default_shards")]
    pub shards: usize,
    /// The most memory one instance may use, in MiB (default 256).
    #[serde(default = "default_memory_mib")]
    pub memory_mib: usize,
}

fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn default_memory_mib() -> usize {
    256
}

/// The answer for a request mqward does not own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// `STOP_AND_RETURN` with `false`: refused, and nothing after the hook is asked.
    #[default]
    Deny,
    /// `IGNORE`: EMQX goes on with the result of its chain so far.
    Ignore,
}

/// Certificate and key for the gRPC listener, and optionally the CA that EMQX's client
/// certificate must chain to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsFiles {
    /// The server certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The server's private key, PEM.
    pub key: PathBuf,
    /// When set, EMQX must present a client certificate chaining to this CA (PEM).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// The mode in which a ClientInfo `cn` is trusted as a certificate identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateListeners {
    /// The ports (ClientInfo `sockport`) of EMQX listeners configured with `verify_peer` and
    /// `fail_if_no_peer_cert`, on every node that calls this hook.
    pub ports: Vec<u16>,
    /// Refuse a client whose client id differs from its certificate's common name.
    #[serde(default)]
    pub require_client_id_match: bool,
    /// Most certificate sessions at once.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

fn default_pending_seconds() -> u64 {
    60
}

fn default_authentication_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

fn default_max_sessions() -> usize {
    2_500
}

impl HookConfig {
    /// Reads a configuration file; relative names in it become relative to its directory.
    pub fn from_file(path: &Path) -> Result<HookConfig, Error> {
        let bytes = read(path)?;
        HookConfig::from_json(&bytes, path.parent().unwrap_or(Path::new(""))).map_err(|message| {
            Error::Config {
                path: path.to_owned(),
                message,
            }
        })
    }

    /// Parses a configuration; relative file names are joined to `base`.
    pub fn from_json(bytes: &[u8], base: &Path) -> Result<HookConfig, String> {
        let mut c: HookConfig = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if c.version != HOOK_CONFIG_VERSION {
            return Err(format!(
                "configuration version {} is not supported (this build reads \
                 {HOOK_CONFIG_VERSION})",
                c.version
            ));
        }
        c.engine = base.join(&c.engine);
        if let Some(w) = &mut c.wasm {
            w.module = base.join(&w.module);
            w.cache = w.cache.as_ref().map(|d| base.join(d));
            if w.shards == 0 || w.memory_mib == 0 {
                return Err("`wasm.shards` and `wasm.memoryMib` must be at least 1".to_owned());
            }
        }
        if c.backend == BackendKind::Wasm && c.wasm.is_none() {
            return Err(
                "`\"backend\": \"wasm\"` needs a `wasm` section naming the module".to_owned(),
            );
        }
        if let Some(tls) = &mut c.tls {
            tls.cert = base.join(&tls.cert);
            tls.key = base.join(&tls.key);
            tls.client_ca = tls.client_ca.as_ref().map(|ca| base.join(ca));
        }
        if let Some(l) = &c.certificate_listeners {
            if l.ports.is_empty() {
                return Err("`certificateListeners.ports` names no port".to_owned());
            }
            if l.max_sessions == 0 {
                return Err("`certificateListeners.maxSessions` must be at least 1".to_owned());
            }
        }
        if c.authentication_workers == 0 {
            return Err("`authenticationWorkers` must be at least 1".to_owned());
        }
        if c.pending_seconds == 0 {
            return Err("`pendingSeconds` must be at least 1".to_owned());
        }
        Ok(c)
    }

    /// Whether the listener is reachable only from this host.
    pub fn is_loopback(&self) -> bool {
        self.listen.ip().is_loopback()
    }
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// An engine configuration and the directory its file names are relative to.
#[derive(Debug)]
pub struct EngineFiles {
    /// The parsed configuration.
    pub config: mqward_core::Config,
    /// Its bytes (the WebAssembly backend passes them to the module).
    pub bytes: Vec<u8>,
    base: PathBuf,
}

impl EngineFiles {
    /// Reads and parses the engine configuration at `path`.
    pub fn read(path: &Path) -> Result<EngineFiles, Error> {
        let bytes = read(path)?;
        let config = mqward_core::Config::from_json(&bytes).map_err(|e| Error::Engine {
            path: path.to_owned(),
            problems: e.problems().to_vec(),
        })?;
        Ok(EngineFiles {
            config,
            bytes,
            base: path.parent().unwrap_or(Path::new("")).to_owned(),
        })
    }

    /// The bytes of a file the configuration names, read from the configuration's directory
    /// (the `mqward` CLI's rule), or why not.
    pub fn file(&self, name: &str) -> Result<Vec<u8>, String> {
        let file = self.base.join(name);
        std::fs::read(&file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<HookConfig, String> {
        HookConfig::from_json(json.as_bytes(), Path::new("/etc/mqward"))
    }

    #[test]
    fn defaults_and_relative_names() {
        let c = parse(
            r#"{"version":1,"listen":"127.0.0.1:9000","engine":"mqward.json",
                "tls":{"cert":"s.pem","key":"/abs/s.key"}}"#,
        )
        .unwrap();
        assert_eq!(c.backend, BackendKind::Native);
        assert_eq!(c.engine, Path::new("/etc/mqward/mqward.json"));
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(tls.cert, Path::new("/etc/mqward/s.pem"));
        assert_eq!(tls.key, Path::new("/abs/s.key"));
        assert_eq!(c.on_refused_login, Fallback::Deny);
        assert_eq!(c.on_unknown_client, Fallback::Deny);
        assert!(c.certificate_listeners.is_none());
        assert!(c.is_loopback());
        assert!(c.authentication_workers >= 1);
    }

    #[test]
    fn every_option_parses() {
        let c = parse(
            r#"{"version":1,"listen":"[::]:9000","backend":"wasm","engine":"e.json",
                "wasm":{"module":"m.wasm","cache":"c","shards":3,"memoryMib":64},
                "insecure":true,"onRefusedLogin":"ignore","onUnknownClient":"ignore",
                "certificateListeners":{"ports":[8883],"requireClientIdMatch":true,"maxSessions":9},
                "pendingSeconds":5,"authenticationWorkers":3}"#,
        )
        .unwrap();
        assert_eq!(c.backend, BackendKind::Wasm);
        let w = c.wasm.as_ref().unwrap();
        assert_eq!(w.module, Path::new("/etc/mqward/m.wasm"));
        assert_eq!(w.cache.as_deref(), Some(Path::new("/etc/mqward/c")));
        assert_eq!((w.shards, w.memory_mib), (3, 64));
        assert!(
            parse(r#"{"version":1,"listen":"127.0.0.1:1","engine":"e","backend":"wasm"}"#)
                .unwrap_err()
                .contains("needs a `wasm` section")
        );
        assert!(!c.is_loopback());
        assert_eq!(c.on_refused_login, Fallback::Ignore);
        let l = c.certificate_listeners.unwrap();
        assert_eq!(
            (l.ports, l.require_client_id_match, l.max_sessions),
            (vec![8883], true, 9)
        );
        assert_eq!((c.pending_seconds, c.authentication_workers), (5, 3));
    }

    #[test]
    fn mistakes_are_refused() {
        for (json, needle) in [
            (
                r#"{"version":2,"listen":"127.0.0.1:1","engine":"e"}"#,
                "version 2",
            ),
            (
                r#"{"version":1,"listen":"127.0.0.1:1","engine":"e","tsl":{}}"#,
                "unknown field",
            ),
            (
                r#"{"version":1,"listen":"localhost","engine":"e"}"#,
                "socket address",
            ),
            (
                r#"{"version":1,"listen":"127.0.0.1:1","engine":"e","backend":"lua"}"#,
                "lua",
            ),
            (
                r#"{"version":1,"listen":"127.0.0.1:1","engine":"e","certificateListeners":{"ports":[]}}"#,
                "names no port",
            ),
            (
                r#"{"version":1,"listen":"127.0.0.1:1","engine":"e","pendingSeconds":0}"#,
                "pendingSeconds",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
