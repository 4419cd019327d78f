//! One plugin instance and what it does for each broker event, in safe Rust over two small
//! traits ([`Broker`], [`Client`]) that [`crate::broker`] implements over the C API and tests
//! implement in memory.
//!
//! Every piece of state lives in the instance (Mosquitto's `userdata`): with
//! `per_listener_settings true` the broker starts one instance per listener from the same
//! loaded library, each with its own configuration, engine, clients and registry file. All of
//! it runs on the broker thread: the plugin starts no thread (see [`crate::persist`] for why).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use mqward_core::authn::registry::{CertState, Registry};
use mqward_core::{CertAction, Effect, Engine, Error, Event, Operation, Request, SessionToken};

use crate::acl;
use crate::auth::{self, Presented};
use crate::clients::{Access, ClientTable, Key, Live, Path};
use crate::clock;
use crate::events::{end_reason, lock, Limiter};
use crate::load;
use crate::log::{self, Level};
use crate::options::Options;
use crate::persist::RegistryFile;
use crate::upkeep::Schedule;

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
    engine: Engine,
    clients: Mutex<ClientTable>,
    registry: Mutex<RegistryFile>,
    schedule: Schedule,
    /// Seconds since the Unix epoch at the last upkeep: the time decisions are made at.
    now: AtomicU64,
    /// The second the engine last ended expired sessions at.
    ticked_at: AtomicU64,
    /// Cached allows are valid within one epoch; it moves on every reload and ended session.
    epoch: AtomicU64,
    limiter: Limiter,
    housekeeping: AtomicBool,
}

impl Plugin {
    /// Starts an instance from the `plugin_opt_*` pairs: reads the configuration and every file
    /// it names and builds the engine. Errors are the lines to log; the broker must not start.
    pub fn start(pairs: &[(String, String)], broker: &dyn Broker) -> Result<Plugin, Vec<String>> {
        let options = Options::parse(pairs).map_err(|e| vec![e])?;
        let loaded = load::load(&options.config)?;
        for w in &loaded.warnings {
            broker.log(Level::Warning, &format!("mqward: {w}"));
        }
        let engine = loaded.engine;
        broker.log(
            Level::Info,
            &format!(
                "mqward: loaded `{}` ({} statements)",
                options.config.display(),
                engine.snapshot().statement_count()
            ),
        );
        let now = clock::now();
        Ok(Plugin {
            schedule: Schedule::new(options.interval),
            options,
            engine,
            clients: Mutex::new(ClientTable::new()),
            registry: Mutex::new(RegistryFile::new(loaded.registry)),
            now: AtomicU64::new(now),
            ticked_at: AtomicU64::new(now),
            epoch: AtomicU64::new(0),
            limiter: Limiter::new(CLIENT_LINES_PER_SECOND),
            housekeeping: AtomicBool::new(false),
        })
    }

    /// Stops the instance: writes what is left to the registry file, and logs what it says.
    pub fn stop(self, broker: &dyn Broker) {
        let mut registry = lock(&self.registry);
        for event in self.engine.drain_events() {
            if let Event::StateChanged(change) = event {
                registry.record([change]);
            }
        }
        for (level, line) in registry.save(&self.engine) {
            broker.log(level, &line);
        }
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
        // A TLS-PSK identity never counts here. The plugin API does not say which listener a
        // client is on, and a handshake that fails gets no DISCONNECT event, so an identity
        // remembered for this address may belong to a client that is gone. Only a listener with
        // `use_identity_as_username` binds the identity to the connection (see
        // `authenticate_late`); on any other the client authenticates with what CONNECT carries.
        let (handshake, offline) = {
            let mut table = lock(&self.clients);
            (table.forget_psk(key), table.is_offline(key, id))
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
            psk_identity: None,
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
                    refusal: None,
                };
                self.admit(broker, client, live, name);
                true
            }
            Err(e) => {
                let mut why = reason(&e);
                if handshake.is_some() && password.is_none() && certificate.is_none() {
                    why.push_str(
                        " (a TLS-PSK identity names the client only on a listener with \
                         use_identity_as_username true)",
                    );
                }
                self.refused(broker, Some(id), &why);
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
        let digest = self.engine.psk_key_digest(identity)?;
        if hex.len() >= max_hex {
            return None;
        }
        lock(&self.clients).remember_psk(client.key(), identity, digest);
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
        let now = self.now.load(Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Acquire);
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
            // The session ended (expiry, suspension): the next upkeep hands the end over and the
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
    pub fn disconnect(&self, _broker: &dyn Broker, client: &dyn Client) {
        let persistent = !client.clean_session();
        let close = lock(&self.clients).disconnect(client.key(), client.id(), persistent);
        self.close(&close);
    }

    /// TICK: the upkeep, once per interval. Mosquitto 2.0 calls it on every turn of its loop,
    /// so between upkeeps it only reads the monotonic clock.
    pub fn tick(&self, broker: &dyn Broker) {
        self.schedule.ticked();
        // A turn of the loop ends the moment after a disconnect (see `clients`).
        self.settle(None);
        if self.schedule.due() {
            self.housekeeping(broker, None);
        }
    }

    /// RELOAD (SIGHUP): reads the configuration and its files again. A valid new one applies to
    /// connected clients at once; an invalid one is logged and the old one stays.
    pub fn reload(&self, broker: &dyn Broker) {
        self.settle(None);
        // Decisions cached before the reload are void, whatever it brings.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let before = registry(&self.engine);
        match load::reload(&self.engine, &self.options.config) {
            Ok((warnings, registry)) => {
                for w in warnings {
                    broker.log(Level::Warning, &format!("mqward: {w}"));
                }
                lock(&self.registry).reloaded(registry);
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
            }
        }
        // Nor are its TLS-PSK clients: their identity must still have the key their handshake
        // used (a removed identity, or a rotated key, ends the session).
        let lazy = lock(&self.clients).lazy_psk();
        for (key, psk) in lazy {
            let why = match self.engine.psk_key_digest(&psk.identity) {
                Some(digest) if digest == psk.digest => continue,
                Some(_) => "the key of its PSK identity changed",
                None => "its PSK identity was removed",
            };
            let old = lock(&self.clients).refuse(key, why);
            self.close(&old.into_iter().collect::<Vec<_>>());
        }
        // Sessions the reload ended are handed over, and their clients kicked, at once.
        self.schedule.hurry();
    }

    /// Authenticates a client on its first ACL check or CONNECT event: a listener with
    /// `use_identity_as_username` skips BASIC_AUTH, so the certificate or PSK identity of the
    /// TLS handshake is all there is. A refused client is denied everything and disconnected.
    fn authenticate_late(&self, broker: &dyn Broker, client: &dyn Client) -> Option<SessionToken> {
        let key = client.key();
        let id = client.id()?;
        let (remembered, gone) = {
            let table = lock(&self.clients);
            (table.psk_identity(key), table.just_gone(key))
        };
        // The certificate comes first: an identity remembered for this address may be a stale
        // one of a failed handshake (no DISCONNECT event comes for it). A certificate the broker
        // holds but cannot hand over denies; it never falls back to a PSK identity.
        let certificate = match client.certificate() {
            Ok(c) => c,
            Err(e) => {
                self.refused(broker, Some(id), &e);
                return None;
            }
        };
        // Without a certificate, the client of an identity listener is a TLS-PSK client whose
        // handshake succeeded: the broker set its username to the identity during that
        // handshake. The identity counts only when it is the one this address remembers, the
        // handshake's own.
        let psk = match (&certificate, remembered) {
            (None, Some(psk)) if client.username().as_deref() == Some(psk.identity.as_str()) => {
                Some(psk)
            }
            _ => None,
        };
        let psk_identity = psk.as_ref().map(|p| p.identity.clone());
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
                let close = lock(&self.clients).admit_gone(key, id, session);
                self.close(&close.into_iter().collect::<Vec<_>>());
                Some(session)
            }
            Ok(session) => {
                let name = auth::mapped_name(&self.engine, &presented, now);
                let live = Live {
                    client_id: id.to_owned(),
                    session: Some(session),
                    path: Path::Lazy { certificate, psk },
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
                        path: Path::Lazy {
                            certificate: None,
                            psk: None,
                        },
                        refusal: Some(format!("it was refused: {why}")),
                    };
                    let close = lock(&self.clients).admit(key, live);
                    self.close(&close);
                    self.schedule.hurry();
                }
                None
            }
        }
    }

    /// Runs the upkeep from a callback other than TICK when no TICK comes
    /// (`per_listener_settings true` before Mosquitto 2.0.15 calls none for plugins).
    fn poll_housekeeping(&self, broker: &dyn Broker, current: Option<Key>) {
        if self.schedule.polled() && self.schedule.due() {
            self.housekeeping(broker, current);
        }
    }

    /// The upkeep, in bounded steps on the broker thread: the time for decisions; once a
    /// second, the sessions whose credential expired or whose trust duration passed are ended;
    /// registry file changes are applied; the engine's events are taken (ended sessions void the
    /// decision cache and queue kicks; certificate state changes are merged into the registry
    /// file, one small write at most); then the queued kicks. `current` (the client whose
    /// callback is running) is left for a later upkeep.
    fn housekeeping(&self, broker: &dyn Broker, current: Option<Key>) {
        // Kicks call back into the plugin (DISCONNECT, ACL checks of the kicked client's
        // subscriptions): never run twice at once.
        if self.housekeeping.swap(true, Ordering::Acquire) {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let now = clock::now();
            self.now.store(now, Ordering::Relaxed);
            if self.ticked_at.swap(now, Ordering::Relaxed) != now {
                self.engine.tick(now);
            }
            let mut lines = Vec::new();
            let mut ended = Vec::new();
            {
                let mut registry = lock(&self.registry);
                if self.options.watch_registry {
                    lines.extend(registry.watch(&self.engine));
                }
                for event in self.engine.drain_events() {
                    match event {
                        Event::Disconnect {
                            session, reason, ..
                        } => ended.push((session, reason)),
                        Event::StateChanged(change) => registry.record([change]),
                        _ => {}
                    }
                }
                lines.extend(registry.save(&self.engine));
            }
            if !ended.is_empty() {
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
            let kicks = {
                let mut table = lock(&self.clients);
                for (session, why) in &ended {
                    table.end(session, end_reason(*why));
                }
                let kicks = table.take_kicks(current);
                if table.kicks_queued() {
                    self.schedule.hurry();
                }
                kicks
            };
            for (level, line) in lines {
                broker.log(level, &line);
            }
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
        let (write, suppressed) = self.limiter.admit(self.now.load(Ordering::Relaxed));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    use crate::sys::{MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_WRITE};

    /// A broker that records what the plugin logs and whom it kicks.
    #[derive(Default)]
    struct FakeBroker {
        lines: RefCell<Vec<(Level, String)>>,
        kicked: RefCell<Vec<String>>,
    }

    impl Broker for FakeBroker {
        fn log(&self, level: Level, message: &str) {
            self.lines.borrow_mut().push((level, message.to_owned()));
        }
        fn kick(&self, client_id: &str) {
            self.kicked.borrow_mut().push(client_id.to_owned());
        }
    }

    impl FakeBroker {
        fn said(&self, text: &str) -> bool {
            self.lines.borrow().iter().any(|(_, l)| l.contains(text))
        }
    }

    struct FakeClient {
        key: Key,
        id: &'static str,
        username: RefCell<Option<String>>,
        /// The broker holds a certificate it cannot hand over.
        unreadable_certificate: bool,
    }

    impl FakeClient {
        fn new(key: Key, id: &'static str) -> FakeClient {
            FakeClient {
                key,
                id,
                username: RefCell::new(None),
                unreadable_certificate: false,
            }
        }
    }

    impl Client for FakeClient {
        fn key(&self) -> Key {
            self.key
        }
        fn id(&self) -> Option<&str> {
            Some(self.id)
        }
        fn username(&self) -> Option<String> {
            self.username.borrow().clone()
        }
        fn certificate(&self) -> Result<Option<Vec<u8>>, String> {
            if self.unreadable_certificate {
                return Err("the certificate could not be encoded".to_owned());
            }
            Ok(None)
        }
        fn set_username(&self, name: &str) -> bool {
            *self.username.borrow_mut() = Some(name.to_owned());
            true
        }
        fn subscriptions(&self) -> usize {
            0
        }
        fn clean_session(&self) -> bool {
            true
        }
    }

    const PSK: &str = "00112233445566778899aabbccddeeff";

    fn policy(own: &str) -> String {
        format!(
            r#"{{"version":1,"groups":[{{"name":"all","selectionRule":"*","policies":["p"]}}],
            "policies":{{"p":[
              {{"id":"connect","effect":"allow","operations":["connect"],"resources":["*"]}},
              {{"id":"own","effect":"allow","operations":["publish","subscribe","receive"],
                "resources":["topic:{own}/${{thingName}}/#","topicfilter:{own}/${{thingName}}/#"]}}
            ]}}}}"#
        )
    }

    /// A plugin over a configuration with one PSK identity, `dev-1`.
    fn plugin(name: &str) -> (Plugin, PathBuf, FakeBroker) {
        let dir =
            std::env::temp_dir().join(format!("mqward-mosq-plugin-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.json"), policy("own")).unwrap();
        std::fs::write(dir.join("psk.txt"), format!("dev-1:{PSK}\n")).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"version":1,"policy":"policy.json","psk":[{"file":"psk.txt"}]}"#,
        )
        .unwrap();
        let broker = FakeBroker::default();
        let pairs = [(
            "config".to_owned(),
            dir.join("config.json").display().to_string(),
        )];
        let plugin = Plugin::start(&pairs, &broker).unwrap();
        (plugin, dir, broker)
    }

    /// A TLS-PSK handshake on a listener with `use_identity_as_username`: the broker asks for
    /// the key, then sets the username to the identity.
    fn handshake(p: &Plugin, c: &FakeClient, identity: &str) {
        assert_eq!(p.psk_key(c, identity, 64).as_deref(), Some(PSK));
        c.set_username(identity);
    }

    #[test]
    fn a_psk_client_is_authenticated_by_its_identity_and_decided() {
        let (p, _dir, broker) = plugin("psk");
        let c = FakeClient::new(1, "dev-1");
        assert_eq!(
            p.psk_key(&c, "dev-1", 32),
            None,
            "the key and its NUL must fit"
        );
        assert_eq!(p.psk_key(&c, "nobody", 64), None);
        handshake(&p, &c, "dev-1");
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/t", 1, false));
        // Again: from the cache.
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/t", 1, false));
        assert!(!p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-2/t", 1, false));
        assert!(!p.acl_check(&broker, &c, 0x40, b"own/dev-1/t", 0, false));
        assert!(broker.said(
            "mqward: denied publish `own/dev-2/t` (QoS 1, retain false) for client `dev-1`: \
             no statement matched"
        ));
        assert_eq!(p.client_counts(), (1, 0));
        p.stop(&broker);
    }

    #[test]
    fn a_remembered_psk_identity_never_authenticates_a_connect() {
        let (p, _dir, broker) = plugin("psk-connect");
        // A handshake on a listener without `use_identity_as_username` (or a failed one whose
        // client is gone, leaving its address to this one): CONNECT carries no credential.
        let c = FakeClient::new(2, "dev-1");
        assert!(p.psk_key(&c, "dev-1", 64).is_some());
        assert!(!p.basic_auth(&broker, &c, Some(b"dev-1"), None));
        assert!(broker.said("use_identity_as_username true"));
        assert!(!p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/t", 0, false));
        // A later client without BASIC_AUTH at an address whose handshake named another
        // identity than the broker's username for it: nothing to authenticate.
        let stale = FakeClient::new(3, "dev-1");
        assert!(p.psk_key(&stale, "dev-1", 64).is_some());
        stale.set_username("dev-2");
        assert!(!p.acl_check(&broker, &stale, MOSQ_ACL_WRITE, b"own/dev-1/t", 0, false));
        assert!(broker.said("presented no certificate or PSK identity"));
        // A certificate the broker cannot hand over denies, even beside a handshake whose
        // identity is the client's username.
        let unreadable = FakeClient {
            unreadable_certificate: true,
            ..FakeClient::new(4, "dev-1")
        };
        handshake(&p, &unreadable, "dev-1");
        assert!(!p.acl_check(
            &broker,
            &unreadable,
            MOSQ_ACL_WRITE,
            b"own/dev-1/t",
            0,
            false
        ));
        assert!(broker.said("the certificate could not be encoded"));
        assert_eq!(p.engine().session_count(), 0);
    }

    #[test]
    fn a_client_without_basic_auth_is_authenticated_on_its_first_request() {
        let (p, _dir, broker) = plugin("late");
        let c = FakeClient::new(7, "dev-1");
        handshake(&p, &c, "dev-1");
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_SUBSCRIBE, b"own/dev-1/#", 1, false));
        // Without a PSK identity or certificate there is nothing to authenticate: denied.
        let stranger = FakeClient::new(8, "dev-2");
        assert!(!p.acl_check(&broker, &stranger, MOSQ_ACL_WRITE, b"own/dev-2/t", 0, false));
        assert!(broker.said("presented no certificate or PSK identity"));
        // A refused one is denied and kicked at the next upkeep.
        let wrong = FakeClient::new(9, "dev-9");
        p.psk_key(&wrong, "dev-1", 64);
        lock(&p.clients).remember_psk(9, "dev-unknown", [0; 32]);
        wrong.set_username("dev-unknown");
        assert!(!p.acl_check(&broker, &wrong, MOSQ_ACL_WRITE, b"own/dev-9/t", 0, false));
        assert!(!p.acl_check(&broker, &wrong, MOSQ_ACL_WRITE, b"own/dev-9/t", 0, false));
        p.tick(&broker);
        assert_eq!(*broker.kicked.borrow(), vec!["dev-9".to_owned()]);
        assert!(broker.said("mqward: disconnecting client `dev-9`: it was refused"));
    }

    #[test]
    fn the_will_is_checked_once_after_the_disconnect() {
        let (p, _dir, broker) = plugin("will");
        let c = FakeClient::new(3, "dev-1");
        handshake(&p, &c, "dev-1");
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_SUBSCRIBE, b"own/dev-1/#", 1, false));
        p.disconnect(&broker, &c);
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/will", 1, false));
        // A later request at the same address is a new client: it must authenticate.
        assert!(!p.acl_check(&broker, &c, MOSQ_ACL_READ, b"own/dev-1/x", 0, false));
        p.tick(&broker);
        assert_eq!(p.client_counts(), (0, 0));
        assert_eq!(p.engine().session_count(), 0);
    }

    #[test]
    fn a_reload_ends_the_sessions_of_removed_or_rekeyed_psk_identities() {
        let (p, dir, broker) = plugin("psk-reload");
        let psk_file =
            |lines: &[String]| std::fs::write(dir.join("psk.txt"), lines.concat()).unwrap();
        psk_file(&["dev-1", "dev-2", "dev-3"].map(|id| format!("{id}:{PSK}\n")));
        p.reload(&broker);
        let clients =
            [(21, "dev-1"), (22, "dev-2"), (23, "dev-3")].map(|(k, id)| FakeClient::new(k, id));
        let writes = |c: &FakeClient| {
            let topic = format!("own/{}/t", c.id);
            p.acl_check(&broker, c, MOSQ_ACL_WRITE, topic.as_bytes(), 0, false)
        };
        for c in &clients {
            handshake(&p, c, c.id);
            assert!(writes(c), "{}", c.id);
        }
        // dev-1 stays, dev-2's key is rotated, dev-3 is removed.
        psk_file(&[
            format!("dev-1:{PSK}\n"),
            "dev-2:ffeeddccbbaa99887766554433221100\n".to_owned(),
        ]);
        p.reload(&broker);
        assert_eq!(clients.each_ref().map(writes), [true, false, false]);
        let mut kicked = broker.kicked.borrow().clone();
        kicked.sort();
        assert_eq!(kicked, vec!["dev-2".to_owned(), "dev-3".to_owned()]);
        assert!(broker.said("the key of its PSK identity changed"));
        assert!(broker.said("its PSK identity was removed"));
        assert_eq!(p.engine().session_count(), 1);
        // An unchanged file ends nothing.
        p.reload(&broker);
        assert!(writes(&clients[0]));
        assert_eq!(broker.kicked.borrow().len(), 2);
    }

    #[test]
    fn a_reload_applies_at_once_and_a_broken_one_keeps_the_old() {
        let (p, dir, broker) = plugin("reload");
        let c = FakeClient::new(4, "dev-1");
        handshake(&p, &c, "dev-1");
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/t", 0, false));
        std::fs::write(dir.join("policy.json"), policy("other")).unwrap();
        p.reload(&broker);
        // The cached allow went with the old policy.
        assert!(!p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"own/dev-1/t", 0, false));
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"other/dev-1/t", 0, false));
        std::fs::write(dir.join("policy.json"), "{").unwrap();
        p.reload(&broker);
        assert!(broker.said("reload failed; the previous configuration stays in force"));
        assert!(p.acl_check(&broker, &c, MOSQ_ACL_WRITE, b"other/dev-1/t", 0, false));
    }
}
