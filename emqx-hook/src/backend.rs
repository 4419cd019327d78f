//! The seam between the gRPC service and the engine that decides: [`Backend`] opens a session
//! from what a client presented, authorizes by session, closes it, reloads, and reports the
//! sessions the engine ended.
//!
//! [`NativeBackend`] runs `mqward-core` in this process; [`WasmBackend`] runs the same engine
//! as the WebAssembly module (`mqward.wasm`) through `mqward-wasmtime`. The
//! configuration's `"backend": "native" | "wasm"` picks one; both answer alike (the host's
//! tests show the module deciding as native does).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use mqward_core::{
    Credentials, Effect, Engine, Error as CoreError, Event, Principal, Rejection, Request,
    SessionToken,
};
use mqward_wasmtime::{Bound, Limits, Runtime, WasmEngine};

use crate::certificate;
use crate::config::{BackendKind, CertificateListeners, EngineFiles, HookConfig, WasmSettings};
use crate::error::Error;

/// What a client presented at CONNECT, as ExHook's ClientInfo carries it.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The MQTT client id (never empty).
    pub client_id: &'a str,
    /// The MQTT username, if any.
    pub username: Option<&'a str>,
    /// The MQTT password, if any.
    pub password: Option<&'a [u8]>,
    /// The certificate names EMQX verified, on a listener declared mTLS; `None` elsewhere.
    pub certificate: Option<CertificateName<'a>>,
}

/// The names of a client certificate EMQX verified.
#[derive(Debug, Clone, Copy)]
pub struct CertificateName<'a> {
    /// The subject's common name.
    pub cn: &'a str,
    /// The subject, if EMQX sent one.
    pub dn: Option<&'a str>,
}

/// Why a backend call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The engine refused: the credentials, the `connect` permission, or an ended session.
    Refused(Rejection),
    /// Something failed inside (no random bytes, a full session table, an engine error): the
    /// client is denied and the failure logged.
    Internal(String),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Failure {
        match e {
            CoreError::Rejected(Rejection::TooManySessions) => {
                Failure::Internal(Rejection::TooManySessions.to_string())
            }
            CoreError::Rejected(r) => Failure::Refused(r),
            other => Failure::Internal(other.to_string()),
        }
    }
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Failure {
        CoreError::Rejected(r).into()
    }
}

/// An engine behind the ExHook service. Calls may block (password hashing, signature checks):
/// the service runs [`Backend::open_session`], [`Backend::reload`] and [`Backend::tick`] on
/// blocking threads.
pub trait Backend: Send + Sync {
    /// Authenticates a client and opens its session; the token identifies it from then on.
    fn open_session(&self, login: &Login<'_>, now: u64) -> Result<SessionToken, Failure>;

    /// Decides a request for a session. An ended session is `Refused(UnknownSession)`.
    fn authorize(
        &self,
        session: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Effect, Failure>;

    /// Closes a session (nothing happens if it already ended).
    fn close_session(&self, session: &SessionToken);

    /// Reads the engine configuration and its files again and swaps them in; on any error the
    /// previous ones stay in force. Returns the warnings to log.
    fn reload(&self) -> Result<Vec<String>, Error>;

    /// Ends the sessions whose credentials expired and verifies again the identities whose
    /// trust duration passed; returns what the host must act on (the sessions that ended).
    fn tick(&self, now: u64) -> Vec<Event>;
}

/// The backend the configuration names, and the warnings its first load gave.
pub fn open(config: &HookConfig) -> Result<(Arc<dyn Backend>, Vec<String>), Error> {
    match config.backend {
        BackendKind::Native => {
            let (backend, warnings) =
                NativeBackend::load(&config.engine, config.certificate_listeners.as_ref())?;
            Ok((Arc::new(backend), warnings))
        }
        BackendKind::Wasm => {
            let settings = config.wasm.as_ref().ok_or_else(|| Error::Config {
                path: config.engine.clone(),
                message: "`\"backend\": \"wasm\"` needs a `wasm` section".to_owned(),
            })?;
            let (backend, warnings) = WasmBackend::load(
                &config.engine,
                settings,
                config.certificate_listeners.as_ref(),
            )?;
            Ok((Arc::new(backend), warnings))
        }
    }
}

/// `N` random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|e| Error::Random(e.to_string()))?;
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a principal that is still whole: go on with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `mqward-core` in this process.
///
/// Credentials (passwords, tokens) open engine sessions ([`Engine::open_session`]): the engine
/// keeps them to verify the identity again when the trust duration passes. A certificate name
/// from a declared mTLS listener has no certificate to keep (ExHook carries none), so its
/// identity is built here ([`certificate::identity`]), bound with [`Engine::bind`], required to
/// hold the `connect` permission, and decided with [`Engine::authorize`]; such a session lasts
/// until the client disconnects, since EMQX holds the verified connection.
#[derive(Debug)]
pub struct NativeBackend {
    engine: Engine,
    engine_path: PathBuf,
    certificates: Option<CertificateSessions<Mutex<Principal>>>,
}

/// The sessions of certificate names from declared mTLS listeners, each holding what decides
/// for it (a principal natively, a bound identity in WebAssembly).
#[derive(Debug)]
struct CertificateSessions<V> {
    require_client_id_match: bool,
    max: usize,
    table: RwLock<HashMap<SessionToken, V>>,
}

impl<V> CertificateSessions<V> {
    fn new(c: &CertificateListeners) -> CertificateSessions<V> {
        CertificateSessions {
            require_client_id_match: c.require_client_id_match,
            max: c.max_sessions,
            table: RwLock::new(HashMap::new()),
        }
    }

    /// The identity of a certificate name, or why it is refused.
    fn identity(
        &self,
        login: &Login<'_>,
        name: CertificateName<'_>,
    ) -> Result<mqward_core::Identity, Failure> {
        Ok(certificate::identity(
            name.cn,
            name.dn,
            login.client_id,
            self.require_client_id_match,
        )?)
    }

    /// Keeps a new session's decider under a fresh token; `Err` gives the decider back when
    /// the table is full.
    fn insert(&self, v: V) -> Result<SessionToken, (Failure, V)> {
        let token = match random::<16>() {
            Ok(r) => SessionToken::from_bytes(r),
            Err(e) => return Err((internal(e), v)),
        };
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        if table.len() >= self.max {
            return Err((Rejection::TooManySessions.into(), v));
        }
        table.insert(token, v);
        Ok(token)
    }

    fn remove(&self, token: &SessionToken) -> Option<V> {
        self.table
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token)
    }
}

/// What a password or token client presented, as credentials.
fn login_credentials<'a>(login: &Login<'a>) -> Credentials<'a> {
    Credentials {
        client_id: Some(login.client_id),
        username: login.username,
        password: login.password,
        certificate: None,
        psk_identity: None,
    }
}

impl NativeBackend {
    /// Loads the engine configuration at `path` and every file it names.
    pub fn load(
        path: &Path,
        certificates: Option<&CertificateListeners>,
    ) -> Result<(NativeBackend, Vec<String>), Error> {
        let files = EngineFiles::read(path)?;
        let (engine, warnings) = Engine::from_config(
            &files.config,
            &mut |name| files.file(name),
            &random::<32>()?,
        )
        .map_err(|e| engine_error(path, &e))?;
        let certificates = certificates.map(CertificateSessions::new);
        Ok((
            NativeBackend {
                engine,
                engine_path: path.to_owned(),
                certificates,
            },
            warnings,
        ))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn open_certificate_session(
        &self,
        login: &Login<'_>,
        name: CertificateName<'_>,
    ) -> Result<SessionToken, Failure> {
        let sessions = self.certificates.as_ref().ok_or(Rejection::Disabled)?;
        let mut principal = self.engine.bind(sessions.identity(login, name)?);
        let connect = Request::connect(login.client_id);
        if !self.engine.authorize(&mut principal, &connect).is_allowed() {
            return Err(Rejection::ConnectDenied.into());
        }
        sessions
            .insert(Mutex::new(principal))
            .map_err(|(failure, _)| failure)
    }
}

fn internal(e: Error) -> Failure {
    Failure::Internal(e.to_string())
}

fn engine_error(path: &Path, e: &CoreError) -> Error {
    Error::Engine {
        path: path.to_owned(),
        problems: e.problems().to_vec(),
    }
}

impl Backend for NativeBackend {
    fn open_session(&self, login: &Login<'_>, now: u64) -> Result<SessionToken, Failure> {
        if let Some(name) = login.certificate {
            return self.open_certificate_session(login, name);
        }
        let random = random::<16>().map_err(internal)?;
        Ok(self
            .engine
            .open_session(&login_credentials(login), now, random)?)
    }

    fn authorize(
        &self,
        session: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Effect, Failure> {
        if let Some(sessions) = &self.certificates {
            let table = sessions.table.read().unwrap_or_else(|p| p.into_inner());
            if let Some(principal) = table.get(session) {
                let mut principal = lock(principal);
                return Ok(self.engine.authorize(&mut principal, request).effect);
            }
        }
        Ok(self.engine.authorize_session(session, request, now)?)
    }

    fn close_session(&self, session: &SessionToken) {
        if let Some(sessions) = &self.certificates {
            if sessions.remove(session).is_some() {
                return;
            }
        }
        self.engine.close_session(session);
    }

    fn reload(&self) -> Result<Vec<String>, Error> {
        let files = EngineFiles::read(&self.engine_path)?;
        self.engine
            .reload_config(
                &files.config,
                &mut |name| files.file(name),
                &random::<32>()?,
            )
            .map_err(|e| engine_error(&self.engine_path, &e))
    }

    fn tick(&self, now: u64) -> Vec<Event> {
        self.engine.tick(now);
        self.engine.drain_events()
    }
}

/// The WebAssembly module through `mqward-wasmtime`: the engine in instances bounded in time
/// and memory, a trap answering deny. Certificate names are bound as identities in the
/// module, as [`NativeBackend`] binds them natively.
#[derive(Debug)]
pub struct WasmBackend {
    engine: WasmEngine,
    engine_path: PathBuf,
    certificates: Option<CertificateSessions<Bound>>,
}

/// A host error as the service's failure: refusals stay refusals, the rest is internal.
fn wasm_failure(e: mqward_wasmtime::Error) -> Failure {
    match e {
        mqward_wasmtime::Error::Engine(e) => e.into(),
        other => Failure::Internal(other.to_string()),
    }
}

fn wasm_error(path: &Path, e: mqward_wasmtime::Error) -> Error {
    match e {
        mqward_wasmtime::Error::Engine(e) => engine_error(path, &e),
        other => Error::Wasm {
            path: path.to_owned(),
            message: other.to_string(),
        },
    }
}

impl WasmBackend {
    /// Compiles (or loads from the cache) the module and loads the engine configuration at
    /// `path` and every file it names into it.
    pub fn load(
        path: &Path,
        settings: &WasmSettings,
        certificates: Option<&CertificateListeners>,
    ) -> Result<(WasmBackend, Vec<String>), Error> {
        let limits = Limits {
            memory_bytes: settings.memory_mib.saturating_mul(1 << 20),
            instances: u32::try_from(settings.shards.saturating_mul(2).saturating_add(2))
                .unwrap_or(u32::MAX),
            ..Limits::default()
        };
        let runtime = Runtime::from_file(&settings.module, limits, settings.cache.as_deref())
            .map_err(|e| wasm_error(&settings.module, e))?;
        let files = EngineFiles::read(path)?;
        let (engine, warnings) = WasmEngine::from_config(
            Arc::new(runtime),
            settings.shards,
            &files.bytes,
            &mut |name| files.file(name),
            &random::<32>()?,
        )
        .map_err(|e| wasm_error(path, e))?;
        let certificates = certificates.map(CertificateSessions::new);
        Ok((
            WasmBackend {
                engine,
                engine_path: path.to_owned(),
                certificates,
            },
            warnings,
        ))
    }

    fn open_certificate_session(
        &self,
        login: &Login<'_>,
        name: CertificateName<'_>,
    ) -> Result<SessionToken, Failure> {
        let sessions = self.certificates.as_ref().ok_or(Rejection::Disabled)?;
        let bound = self
            .engine
            .bind(sessions.identity(login, name)?)
            .map_err(wasm_failure)?;
        let connect = Request::connect(login.client_id);
        let allowed = self.engine.authorize_bound(&bound, &connect);
        if allowed != Ok(Effect::Allow) {
            self.engine.unbind(&bound);
            return Err(allowed
                .err()
                .map_or(Rejection::ConnectDenied.into(), wasm_failure));
        }
        sessions.insert(bound).map_err(|(failure, bound)| {
            self.engine.unbind(&bound);
            failure
        })
    }
}

impl Backend for WasmBackend {
    fn open_session(&self, login: &Login<'_>, now: u64) -> Result<SessionToken, Failure> {
        if let Some(name) = login.certificate {
            return self.open_certificate_session(login, name);
        }
        let random = random::<16>().map_err(internal)?;
        self.engine
            .open_session(&login_credentials(login), now, random)
            .map_err(wasm_failure)
    }

    fn authorize(
        &self,
        session: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Effect, Failure> {
        if let Some(sessions) = &self.certificates {
            let bound = sessions
                .table
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(session)
                .copied();
            if let Some(bound) = bound {
                return self
                    .engine
                    .authorize_bound(&bound, request)
                    .map_err(wasm_failure);
            }
        }
        self.engine
            .authorize_session(session, request, now)
            .map_err(wasm_failure)
    }

    fn close_session(&self, session: &SessionToken) {
        if let Some(sessions) = &self.certificates {
            if let Some(bound) = sessions.remove(session) {
                self.engine.unbind(&bound);
                return;
            }
        }
        self.engine.close_session(session);
    }

    fn reload(&self) -> Result<Vec<String>, Error> {
        let files = EngineFiles::read(&self.engine_path)?;
        self.engine
            .reload_config(&files.bytes, &mut |name| files.file(name), &random::<32>()?)
            .map_err(|e| wasm_error(&self.engine_path, e))
    }

    fn tick(&self, now: u64) -> Vec<Event> {
        self.engine.tick(now);
        self.engine.drain_events()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"version":1,
        "groups":[{"name":"fleet","selectionRule":"kind: certificate","policies":["own"]}],
        "policies":{"own":[
          {"id":"connect","effect":"allow","operations":["connect"],"resources":["clientId:${thingName}"]},
          {"id":"telemetry","effect":"allow","operations":["publish"],"resources":["topic:t/${thingName}/#"]}]}}"#;

    fn backend(certificates: bool) -> (NativeBackend, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "mqward-emqx-backend-{}-{certificates}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.json"), POLICY).unwrap();
        std::fs::write(
            dir.join("engine.json"),
            r#"{"version":1,"policy":"policy.json"}"#,
        )
        .unwrap();
        let listeners = CertificateListeners {
            ports: vec![8883],
            require_client_id_match: false,
            max_sessions: 1,
        };
        let (b, _) =
            NativeBackend::load(&dir.join("engine.json"), certificates.then_some(&listeners))
                .unwrap();
        (b, dir)
    }

    fn login<'a>(client_id: &'a str, cn: &'a str) -> Login<'a> {
        Login {
            client_id,
            username: None,
            password: None,
            certificate: Some(CertificateName { cn, dn: None }),
        }
    }

    #[test]
    fn certificate_sessions_decide_and_close() {
        let (b, dir) = backend(true);
        let token = b.open_session(&login("sensor-1", "sensor-1"), 0).unwrap();
        let allowed = b.authorize(&token, &Request::publish("t/sensor-1/x"), 0);
        assert_eq!(allowed, Ok(Effect::Allow));
        let denied = b.authorize(&token, &Request::publish("t/sensor-2/x"), 0);
        assert_eq!(denied, Ok(Effect::Deny));
        // The table holds one session: a second is an internal failure, not a refusal.
        assert!(matches!(
            b.open_session(&login("sensor-2", "sensor-2"), 0),
            Err(Failure::Internal(_))
        ));
        b.close_session(&token);
        assert_eq!(
            b.authorize(&token, &Request::publish("t/sensor-1/x"), 0),
            Err(Failure::Refused(Rejection::UnknownSession))
        );
        // `connect` is checked against the client id: `clientId:${thingName}`.
        assert_eq!(
            b.open_session(&login("other", "sensor-1"), 0),
            Err(Failure::Refused(Rejection::ConnectDenied))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn certificate_names_need_the_mode() {
        let (b, dir) = backend(false);
        assert_eq!(
            b.open_session(&login("sensor-1", "sensor-1"), 0),
            Err(Failure::Refused(Rejection::Disabled))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn full_tables_are_internal_failures() {
        assert_eq!(
            Failure::from(Rejection::WrongSecret),
            Failure::Refused(Rejection::WrongSecret)
        );
        assert!(matches!(
            Failure::from(Rejection::TooManySessions),
            Failure::Internal(_)
        ));
    }
}
