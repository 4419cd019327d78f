//! One plugin instance and what it does for each broker event, in safe Rust over two small
//! traits ([`Broker`], [`Client`]) that [`crate::broker`] implements over the C API and tests
//! implement in memory.
//!
//! Every piece of state lives in the instance (Mosquitto's `userdata`): with
//! `per_listener_settings true` the broker starts one instance per listener from the same
//! loaded library, each with its own configuration, engine, clients and worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mqward_core::authn::registry::{CertState, Registry};
use mqward_core::{CertAction, Effect, Engine, Error, Operation, Request, SessionToken};

use crate::acl;
use crate::auth::{self, Presented};
use crate::clients::{Access, ClientTable, Key, Live, Path};
use crate::clock;
use crate::events::{end_reason, lock, Limiter, Shared};
use crate::load;
use crate::log::{self, Level};
use crate::options::Options;
use crate::persist::Worker;

/// The broker as the plugin uses it.
pub trait Broker {
    /// Writes a log line through the broker's log.
    fn log(&self, level: Level, message: &str);
    /// Disconnects the client with this id (without its will).
    fn kick(&self, client_id: &str);
}

/// One client, for the duration of a callback.
pub trait Client {
    /// The client's key (the address of its `struct mosquitto`).
    fn key(&self) -> Key;
    /// Its client id, if it has one yet.
    fn id(&self) -> Option<&str>;
    /// Its username now.
    fn username(&self) -> Option<String>;
    /// Its TLS client certificate (DER), when the listener requires one.
    fn certificate(&self) -> Result<Option<Vec<u8>>, String>;
    /// Sets the username the broker knows it by; false if the broker refused.
    fn set_username(&self, name: &str) -> bool;
    /// How many subscriptions it has.
    fn subscriptions(&self) -> usize;
    /// Whether its session ends when it disconnects (clean session, or clean start in MQTT 5).
    fn clean_session(&self) -> bool;
}

/// Lines per second that clients can cause (denials, refused connections); the rest are
/// counted and reported.
const CLIENT_LINES_PER_SECOND: u32 = 200;

/// One plugin instance.
#[derive(Debug)]
pub struct Plugin {
    options: Options,
    engine: Arc<Engine>,
    clients: Mutex<ClientTable>,
    shared: Arc<Shared>,
    limiter: Limiter,
    housekeeping: AtomicBool,
    worker: Option<Worker>,
}

impl Plugin {
    /// Starts an instance from the `plugin_opt_*` pairs: reads the configuration and every file
    /// it names, builds the engine and starts the worker. Errors are the lines to log; the
    /// broker must not start.
    pub fn start(pairs: &[(String, String)], broker: &dyn Broker) -> Result<Plugin, Vec<String>> {
        let options = Options::parse(pairs).map_err(|e| vec![e])?;
        let loaded = load::load(&options.config)?;
        for w in &loaded.warnings {
            broker.log(Level::Warning, &format!("mqward: {w}"));
        }
        let engine = Arc::new(loaded.engine);
        let shared = Arc::new(Shared::new(clock::now(), loaded.registry));
        let worker = Worker::spawn(
            Arc::clone(&engine),
            Arc::clone(&shared),
            options.interval,
            options.watch_registry,
        )
        .map_err(|e| vec![e])?;
        broker.log(
            Level::Info,
            &format!(
                "mqward: loaded `{}` ({} statements)",
                options.config.display(),
                engine.snapshot().statement_count()
            ),
        );
        Ok(Plugin {
            options,
            engine,
            clients: Mutex::new(ClientTable::new()),
            shared,
            limiter: Limiter::new(CLIENT_LINES_PER_SECOND),
            housekeeping: AtomicBool::new(false),
            worker: Some(worker),
        })
    }

    /// Stops the worker (it writes what is left to the registry) and drops everything.
    pub fn stop(mut self) {
        drop(self.worker.take());
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many connected and offline clients hold a session.
    pub fn client_counts(&self) -> (usize, usize) {
        lock(&self.clients).counts()
    }

    /// BASIC_AUTH: authenticates a connecting client (and every client again on SIGHUP).
    pub fn basic_auth(
        &self,
        broker: &dyn Broker,
        client: &dyn Client,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> bool {
        self.poll_housekeeping(broker, Some(client.key()));
        self.settle(None);
        let key = client.key();
        let Some(id) = client.id() else {
            self.client_line(broker, Level::Notice, || {
                "mqward: refused a connection without a client id".to_owned()
            });
            return false;
        };
        let (psk_identity, offline) = {
            let table = lock(&self.clients);
            (table.psk_identity(key), table.is_offline(key, id))
        };
        if offline && client.subscriptions() > 0 {
            // SIGHUP asks again about a persistent session that is away: its session already
            // follows the new policy, and a suspension or revocation ended it. (A new
            // connection at a reused address has no subscriptions yet.)
            return true;
        }
        let Ok(username) = username.map(std::str::from_utf8).transpose() else {
            self.refused(broker, Some(id), "the username is not UTF-8");
            lock(&self.clients).refuse(key, "its username is not UTF-8");
            return false;
        };
        let certificate = match client.certificate() {
            Ok(c) => c,
            Err(e) => {
                self.refused(broker, Some(id), &e);
                return false;
            }
        };
        let presented = Presented {
            client_id: id,
            username,
            password,
            certificate: certificate.as_deref(),
            psk_identity: psk_identity.as_deref(),
        };
        let now = clock::now();
        match auth::open(&self.engine, &presented, now, || {
            lock(&self.clients).evict_offline()
        }) {
            Ok(session) => {
                let name = auth::mapped_name(&self.engine, &presented, now);
                let live = Live {
                    client_id: id.to_owned(),
                    session: Some(session),
                    path: Path::BasicAuth,
                    psk_identity,
                    refusal: None,
                };
                self.admit(broker, client, live, name);
                true
            }
            Err(e) => {
                self.refused(broker, Some(id), &reason(&e));
                // A SIGHUP re-authentication that fails: the old session ends too.
                let old = lock(&self.clients).refuse(key, "its credential no longer verifies");
                self.close(&old.into_iter().collect::<Vec<_>>());
                false
            }
        }
    }

    /// PSK_KEY: the hex key for a TLS-PSK identity, or `None` to let the broker's other key
    /// sources answer (the handshake fails if none does).
    pub fn psk_key(&self, client: &dyn Client, identity: &str, max_hex: usize) -> Option<String> {
        self.settle(None);
        let hex = self.engine.psk_key_hex(identity)?;
        if hex.len() >= max_hex {
            return None;
        }
        lock(&self.clients).remember_psk(client.key(), identity);
        Some(hex)
    }

    /// ACL_CHECK: whether a client may publish, receive, subscribe or unsubscribe.
    pub fn acl_check(
        &self,
        broker: &dyn Broker,
        client: &dyn Client,
        access: i32,
        topic: &[u8],
        qos: u8,
        retain: bool,
    ) -> bool {
        let key = client.key();
        self.poll_housekeeping(broker, Some(key));
        let Some(request) = acl::request(access, topic, qos, retain) else {
            self.client_line(broker, Level::Warning, || {
                format!(
                    "mqward: denied an unknown access ({access}) for client {}",
                    log::client(client.id())
                )
            });
            return false;
        };
        let now = self.shared.now();
        let epoch = self.shared.epoch();
        let (found, parted) = {
            let mut table = lock(&self.clients);
            let parted = table.settle(Some(key));
            let found = if table.allowed_before(key, epoch, access, topic, qos, retain) {
                None
            } else {
                Some(table.access(key, || client.id(), || client.subscriptions() > 0))
            };
            (found, parted)
        };
        if let Some(s) = parted {
            self.engine.close_session(&s);
        }
        let Some(found) = found else {
            return true;
        };
        let session = match found {
            Access::Session(s) => s,
            Access::Refused => return false,
            Access::Unknown => match self.authenticate_late(broker, client) {
                Some(s) => s,
                None => return false,
            },
        };
        match self.engine.authorize_session(&session, &request, now) {
            Ok(Effect::Allow) => {
                lock(&self.clients).remember_allowed(
                    key,
                    session,
                    epoch,
                    access,
                    topic,
                    qos,
                    retain,
                    self.options.decision_cache,
                );
                true
            }
            Ok(Effect::Deny) => {
                self.denied(broker, client, &session, &request, now);
                false
            }
            // The session ended (expiry, suspension): the worker hands the end over and the
            // client is disconnected at the next tick.
            Err(_) => false,
        }
    }

    /// CONNECT (Mosquitto 2.1): authenticates a client that BASIC_AUTH did not see.
    pub fn connected(&self, broker: &dyn Broker, client: &dyn Client) {
        self.settle(None);
        let known = lock(&self.clients).access(client.key(), || client.id(), || false);
        if known == Access::Unknown {
            self.authenticate_late(broker, client);
        }
    }

    /// DISCONNECT: the client's session is kept offline for its will and queued messages.
    pub fn disconnect(&self, broker: &dyn Broker, client: &dyn Client) {
        self.poll_housekeeping(broker, None);
        let persistent = !client.clean_session();
        let close = lock(&self.clients).disconnect(client.key(), client.id(), persistent);
        self.close(&close);
    }

    /// TICK: the broker thread's housekeeping (kicks, the worker's log lines). Mosquitto 2.0
    /// calls it on every turn of its loop, so it does nothing unless the worker left work.
    pub fn tick(&self, broker: &dyn Broker) {
        self.shared.tick();
        if self.shared.pending() {
            self.settle(None);
            self.housekeeping(broker, None);
        }
    }

    /// RELOAD (SIGHUP): reads the configuration and its files again. A valid new one applies to
    /// connected clients at once; an invalid one is logged and the old one stays.
    pub fn reload(&self, broker: &dyn Broker) {
        self.settle(None);
        // Decisions cached before the reload are void, whatever it brings.
        self.shared.bump_epoch();
        let before = registry(&self.engine);
        match load::reload(&self.engine, &self.options.config) {
            Ok((warnings, registry)) => {
                for w in warnings {
                    broker.log(Level::Warning, &format!("mqward: {w}"));
                }
                self.shared.set_registry(registry);
                broker.log(
                    Level::Info,
                    &format!(
                        "mqward: reloaded `{}` ({} statements)",
                        self.options.config.display(),
                        self.engine.snapshot().statement_count()
                    ),
                );
            }
            Err(problems) => {
                for p in problems {
                    broker.log(Level::Error, &format!("mqward: {p}"));
                }
                broker.log(
                    Level::Error,
                    "mqward: reload failed; the previous configuration stays in force",
                );
                return;
            }
        }
        // The reload replaced the registry: end the sessions of certificates it suspends or
        // revokes.
        let after = registry(&self.engine);
        for (fingerprint, entry) in after.iter() {
            let action = match entry.state() {
                CertState::Suspended => CertAction::Suspend,
                CertState::Revoked => CertAction::Revoke,
                _ => continue,
            };
            if before.state(fingerprint) != Some(entry.state()) {
                let _ = self.engine.set_certificate_state(fingerprint, action);
            }
        }
        // Clients of listeners with `use_identity_as_username` are not authenticated again by
        // the broker: check their certificates against the new trust anchors and CRLs here.
        let now = clock::now();
        let lazy = lock(&self.clients).lazy_certificates();
        for (key, der) in lazy {
            if let Err(e) = self.engine.verify_certificate(&der, now) {
                let why = format!("its certificate no longer verifies: {}", reason(&e));
                let old = lock(&self.clients).refuse(key, &why);
                self.close(&old.into_iter().collect::<Vec<_>>());
                self.shared.set_pending();
            }
        }
    }

    /// Authenticates a client on its first ACL check or CONNECT event: a listener with
    /// `use_identity_as_username` skips BASIC_AUTH, so the certificate or PSK identity of the
    /// TLS handshake is all there is. A refused client is denied everything and disconnected.
    fn authenticate_late(&self, broker: &dyn Broker, client: &dyn Client) -> Option<SessionToken> {
        let key = client.key();
        let id = client.id()?;
        let (psk_identity, gone) = {
            let table = lock(&self.clients);
            (table.psk_identity(key), table.just_gone(key))
        };
        let certificate = if psk_identity.is_none() {
            match client.certificate() {
                Ok(c) => c,
                Err(e) => {
                    self.refused(broker, Some(id), &e);
                    None
                }
            }
        } else {
            None
        };
        if psk_identity.is_none() && certificate.is_none() {
            self.client_line(broker, Level::Notice, || {
                format!(
                    "mqward: denied client {}: it did not authenticate through the plugin and \
                     presented no certificate or PSK identity",
                    log::shown(id)
                )
            });
            return None;
        }
        let presented = Presented {
            client_id: id,
            username: None,
            password: None,
            certificate: certificate.as_deref(),
            psk_identity: psk_identity.as_deref(),
        };
        let now = clock::now();
        let opened = auth::open(&self.engine, &presented, now, || {
            lock(&self.clients).evict_offline()
        });
        match opened {
            Ok(session) if gone => {
                // The client has disconnected already (its will is being checked).
                let close = lock(&self.clients).admit_gone(key, session);
                self.close(&close.into_iter().collect::<Vec<_>>());
                Some(session)
            }
            Ok(session) => {
                let name = auth::mapped_name(&self.engine, &presented, now);
                let live = Live {
                    client_id: id.to_owned(),
                    session: Some(session),
                    path: Path::Lazy { certificate },
                    psk_identity,
                    refusal: None,
                };
                self.admit(broker, client, live, name);
                Some(session)
            }
            Err(e) => {
                let why = reason(&e);
                self.refused(broker, Some(id), &why);
                if !gone {
                    let live = Live {
                        client_id: id.to_owned(),
                        session: None,
                        path: Path::Lazy { certificate: None },
                        psk_identity,
                        refusal: Some(format!("it was refused: {why}")),
                    };
                    let close = lock(&self.clients).admit(key, live);
                    self.close(&close);
                    self.shared.set_pending();
                }
                None
            }
        }
    }

    /// Runs the housekeeping from a callback other than TICK when work waits and ticks do not
    /// come (`per_listener_settings true` before Mosquitto 2.0.15 has no TICK for plugins).
    fn poll_housekeeping(&self, broker: &dyn Broker, current: Option<Key>) {
        if self.shared.pending() && !self.shared.ticking() {
            self.housekeeping(broker, current);
        }
    }

    /// Writes the worker's log lines and disconnects the clients whose sessions ended or were
    /// refused. `current` (the client whose callback is running) is left for later.
    fn housekeeping(&self, broker: &dyn Broker, current: Option<Key>) {
        // Kicks call back into the plugin (DISCONNECT, ACL checks of the kicked client's
        // subscriptions): never run twice at once.
        if self.housekeeping.swap(true, Ordering::Acquire) {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if !self.shared.take_pending() {
                return;
            }
            for (level, line) in self.shared.take_logs() {
                broker.log(level, &line);
            }
            let ended = self.shared.take_ended();
            let kicks = {
                let mut table = lock(&self.clients);
                for (session, why) in &ended {
                    table.end(session, end_reason(*why));
                }
                let kicks = table.take_kicks(current);
                if table.kicks_queued() {
                    self.shared.set_pending();
                }
                kicks
            };
            for kick in kicks {
                broker.log(
                    Level::Notice,
                    &format!(
                        "mqward: disconnecting client {}: {}",
                        log::shown(&kick.client_id),
                        kick.reason
                    ),
                );
                broker.kick(&kick.client_id);
            }
        }));
        self.housekeeping.store(false, Ordering::Release);
        if outcome.is_err() {
            broker.log(Level::Error, "mqward: internal error in housekeeping");
        }
    }

    /// Records an authenticated client and gives it its mapped name.
    fn admit(&self, broker: &dyn Broker, client: &dyn Client, live: Live, name: Option<String>) {
        let close = lock(&self.clients).admit(client.key(), live);
        self.close(&close);
        if let Some(name) = name {
            self.set_username(broker, client, &name);
        }
    }

    /// Ends the moment after a disconnect: the parting client's session closes unless it is
    /// kept offline.
    fn settle(&self, except: Option<Key>) {
        let parted = lock(&self.clients).settle(except);
        if let Some(s) = parted {
            self.engine.close_session(&s);
        }
    }

    fn close(&self, sessions: &[SessionToken]) {
        for s in sessions {
            self.engine.close_session(s);
        }
    }

    fn set_username(&self, broker: &dyn Broker, client: &dyn Client, name: &str) {
        if client.username().as_deref() == Some(name) {
            return;
        }
        if !client.set_username(name) {
            broker.log(
                Level::Warning,
                &format!(
                    "mqward: could not set the username of client {} to {}",
                    log::client(client.id()),
                    log::shown(name)
                ),
            );
        }
    }

    fn refused(&self, broker: &dyn Broker, id: Option<&str>, why: &str) {
        self.client_line(broker, Level::Notice, || {
            format!("mqward: refused client {}: {why}", log::client(id))
        });
    }

    fn denied(
        &self,
        broker: &dyn Broker,
        client: &dyn Client,
        session: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) {
        // Deliveries are filtered all the time on wide subscriptions: debug level.
        let level = if request.operation == Operation::Receive {
            Level::Debug
        } else {
            Level::Notice
        };
        self.client_line(broker, level, || {
            let why = match self.engine.explain_session(session, request, now) {
                Ok(x) => match (&x.deciding, &x.malformed) {
                    (Some(s), _) => format!("statement `{s}`"),
                    (None, Some(m)) => format!("malformed request: {m}"),
                    (None, None) => "no statement matched".to_owned(),
                },
                Err(_) => "session ended".to_owned(),
            };
            let conditions = match (request.qos, request.retain) {
                (Some(q), Some(r)) => format!(" (QoS {q}, retain {r})"),
                (Some(q), None) => format!(" (QoS {q})"),
                _ => String::new(),
            };
            format!(
                "mqward: denied {} {}{conditions} for client {}: {why}",
                request.operation,
                log::shown_bytes(request.resource),
                log::client(client.id()),
            )
        });
    }

    /// Writes a line that a client caused, within the per-second budget.
    fn client_line(&self, broker: &dyn Broker, level: Level, line: impl FnOnce() -> String) {
        let (write, suppressed) = self.limiter.admit(self.shared.now());
        if suppressed > 0 {
            broker.log(
                Level::Notice,
                &format!("mqward: {suppressed} more denial and refusal lines were suppressed"),
            );
        }
        if write {
            broker.log(level, &line());
        }
    }
}

/// Why authentication failed, for the log: the rejection (core's texts carry no secret).
fn reason(e: &Error) -> String {
    match e.rejection() {
        Some(r) => r.to_string(),
        None => e.to_string(),
    }
}

/// The engine's registry now.
fn registry(engine: &Engine) -> Registry {
    Registry::parse("registry", &engine.registry_json()).unwrap_or_default()
}
