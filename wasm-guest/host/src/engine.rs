//! [`WasmEngine`]: the native engine's API over a set of WebAssembly instances (shards), so
//! that many threads decide at once.
//!
//! - A session lives in one shard, chosen from its token's bytes; a bound identity in the shard
//!   it was bound in. Each shard is a store and an instance behind a mutex: threads deciding for
//!   sessions of different shards never wait for each other.
//! - Every shard is loaded with the same inputs (configuration, files, random bytes). A reload
//!   is tried on the first shard; only when it succeeds there are the others reloaded (the guest
//!   reload is all-or-nothing and the guest deterministic), so an invalid reload changes
//!   nothing anywhere.
//! - Certificate suspensions, reactivations and revocations go to every shard (each has its own
//!   copy of the registry) and are kept, so that a replaced shard gets them again.
//! - A call that traps (budget, memory, a guest bug) is a denial. The shard is replaced by a fresh
//!   instance loaded with the current inputs; its sessions end with
//!   [`EndReason::Failed`] events (their clients must connect again) and its bound identities
//!   are bound again.
//! - The configuration's `sessions.max` holds across shards.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mqward_core::authn::registry::{CertState, StateChange};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{
    CertAction, Config, Credentials, Effect, EndReason, Event, Identity, Rejection, Request,
    SessionToken,
};

use crate::convert;
use crate::error::Error;
use crate::runtime::{Call, Instance, Runtime};
use crate::wit;
use crate::{Authenticated, Explanation};

/// An identity bound with [`WasmEngine::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bound {
    shard: usize,
    id: u64,
}

/// What every shard is loaded with.
#[derive(Clone)]
enum Inputs {
    Policy(Vec<u8>),
    Config {
        config: Vec<u8>,
        files: Vec<wit::File>,
        random: [u8; 32],
    },
}

struct Shard {
    instance: Instance,
    /// Open sessions, with the client id each was opened with.
    sessions: HashMap<SessionToken, Option<String>>,
    /// Bound identities: the host's id -> (the guest's handle, the identity).
    bound: HashMap<u64, (u64, Identity)>,
}

/// The mqward engine running in WebAssembly instances.
pub struct WasmEngine {
    runtime: Arc<Runtime>,
    shards: Box<[Mutex<Shard>]>,
    /// The inputs in force and the certificate actions applied since they were loaded. Held
    /// while loading, reloading and replacing a shard.
    state: Mutex<(Inputs, Vec<(Fingerprint, CertAction)>)>,
    max_sessions: AtomicUsize,
    next_bind: AtomicU64,
    next_authentication: AtomicUsize,
    /// Events taken from shards early (a first use, spread to the other shards at once) and
    /// the ended sessions of replaced shards, for the next [`WasmEngine::drain_events`].
    pending: Mutex<Vec<Event>>,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn files(
    config: &[u8],
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<(Config, Vec<wit::File>), Error> {
    let parsed = Config::from_json(config)?;
    let files = parsed
        .files()
        .into_iter()
        .map(|name| wit::File {
            name: name.to_owned(),
            contents: read(name),
        })
        .collect();
    Ok((parsed, files))
}

impl Inputs {
    /// Loads these inputs into a fresh instance; returns the warnings.
    fn load(&self, instance: &mut Instance, budget: u64) -> Result<Vec<String>, Error> {
        match self {
            Inputs::Policy(p) => instance
                .call(budget, |g, s| g.call_load_policy(s, p))
                .map(|()| Vec::new()),
            Inputs::Config {
                config,
                files,
                random,
            } => instance.call(budget, |g, s| g.call_load(s, config, files, random)),
        }
    }

    /// Reloads an instance with these inputs; on error it keeps what it had.
    fn reload(&self, instance: &mut Instance, budget: u64) -> Result<Vec<String>, Error> {
        match self {
            Inputs::Policy(p) => instance
                .call(budget, |g, s| g.call_reload_policy(s, p))
                .map(|()| Vec::new()),
            Inputs::Config {
                config,
                files,
                random,
            } => instance.call(budget, |g, s| g.call_reload(s, config, files, random)),
        }
    }
}

fn action(a: CertAction) -> wit::CertAction {
    match a {
        CertAction::Suspend => wit::CertAction::Suspend,
        CertAction::Reactivate => wit::CertAction::Reactivate,
        CertAction::Revoke => wit::CertAction::Revoke,
    }
}

impl WasmEngine {
    fn start(
        runtime: Arc<Runtime>,
        shards: usize,
        inputs: Inputs,
        max_sessions: usize,
    ) -> Result<(WasmEngine, Vec<String>), Error> {
        let budget = runtime.budget(Call::Load);
        let mut warnings = Vec::new();
        let mut made = Vec::with_capacity(shards.max(1));
        for i in 0..shards.max(1) {
            let mut instance = runtime.instantiate()?;
            let w = inputs.load(&mut instance, budget)?;
            if i == 0 {
                warnings = w;
            }
            made.push(Mutex::new(Shard {
                instance,
                sessions: HashMap::new(),
                bound: HashMap::new(),
            }));
        }
        let engine = WasmEngine {
            runtime,
            shards: made.into_boxed_slice(),
            state: Mutex::new((inputs, Vec::new())),
            max_sessions: AtomicUsize::new(max_sessions),
            next_bind: AtomicU64::new(0),
            next_authentication: AtomicUsize::new(0),
            pending: Mutex::new(Vec::new()),
        };
        Ok((engine, warnings))
    }

    /// An engine over a policy document alone (decisions for bound identities), in `shards`
    /// instances (at least one).
    pub fn from_json(
        runtime: Arc<Runtime>,
        shards: usize,
        policy: &[u8],
    ) -> Result<WasmEngine, Error> {
        let (engine, _) =
            WasmEngine::start(runtime, shards, Inputs::Policy(policy.to_vec()), usize::MAX)?;
        Ok(engine)
    }

    /// An engine from a configuration, as [`mqward_core::Engine::from_config`]: `read` returns
    /// the bytes of each file the configuration names (it runs here, in the host; the guest
    /// reads nothing); `random` keys the credential caches. Returns the warnings to log.
    pub fn from_config(
        runtime: Arc<Runtime>,
        shards: usize,
        config: &[u8],
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        random: &[u8; 32],
    ) -> Result<(WasmEngine, Vec<String>), Error> {
        let (parsed, files) = files(config, read)?;
        let inputs = Inputs::Config {
            config: config.to_vec(),
            files,
            random: *random,
        };
        WasmEngine::start(runtime, shards, inputs, parsed.sessions().max)
    }

    /// How many instances decide.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    fn shard_of(&self, token: &SessionToken) -> usize {
        let b = token.as_bytes();
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n % self.shards.len() as u64).unwrap_or(0)
    }

    /// Runs `f` on a shard; a trap replaces the shard before the error is returned.
    fn on<R>(
        &self,
        shard: usize,
        f: impl FnOnce(&mut Shard) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut guard = lock(&self.shards[shard]);
        if guard.instance.is_stopped() {
            self.replace(&mut guard)?;
        }
        let result = f(&mut guard);
        if guard.instance.is_stopped() {
            // The call's answer stays the error (a denial); the replacement's own failure
            // leaves the shard stopped, and the next call tries again.
            let _ = self.replace(&mut guard);
        }
        result
    }

    /// Replaces a stopped shard's instance with a fresh one loaded with the current inputs.
    fn replace(&self, shard: &mut Shard) -> Result<(), Error> {
        let state = lock(&self.state);
        let mut instance = self.runtime.instantiate()?;
        state
            .0
            .load(&mut instance, self.runtime.budget(Call::Load))?;
        for (fingerprint, a) in &state.1 {
            let hex = fingerprint.to_string();
            // An action the fresh registry refuses (a revoked certificate reactivated) was
            // refused the first time too.
            let _ = instance.call(self.runtime.budget(Call::Decision), |g, s| {
                g.call_set_certificate_state(s, &hex, action(*a))
            });
        }
        drop(state);
        let mut bound = HashMap::with_capacity(shard.bound.len());
        for (id, (_, identity)) in shard.bound.drain() {
            let wit_identity = convert::identity(&identity);
            if let Ok(h) = instance.call(self.runtime.budget(Call::Decision), |g, s| {
                g.call_bind(s, &wit_identity)
            }) {
                bound.insert(id, (h, identity));
            }
        }
        let ended: Vec<Event> = shard
            .sessions
            .drain()
            .map(|(session, client_id)| Event::Disconnect {
                session,
                client_id,
                reason: EndReason::Failed,
            })
            .collect();
        lock(&self.pending).extend(ended);
        shard.instance = instance;
        shard.bound = bound;
        Ok(())
    }

    /// Reloads a configuration, as [`mqward_core::Engine::reload_config`]: on any error nothing
    /// changes in any shard. Returns the warnings to log.
    pub fn reload_config(
        &self,
        config: &[u8],
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        random: &[u8; 32],
    ) -> Result<Vec<String>, Error> {
        let (parsed, files) = files(config, read)?;
        let inputs = Inputs::Config {
            config: config.to_vec(),
            files,
            random: *random,
        };
        let warnings = self.reload(inputs)?;
        self.max_sessions
            .store(parsed.sessions().max, Ordering::Relaxed);
        Ok(warnings)
    }

    /// Reloads the policy document, as [`mqward_core::Engine::reload_json`]; on error the
    /// previous policy stays in every shard.
    pub fn reload_json(&self, policy: &[u8]) -> Result<(), Error> {
        {
            let state = lock(&self.state);
            if let Inputs::Config { .. } = state.0 {
                return Err(Error::InvalidArgument(
                    "this engine was loaded from a configuration: reload the configuration".into(),
                ));
            }
        }
        self.reload(Inputs::Policy(policy.to_vec())).map(|_| ())
    }

    fn reload(&self, inputs: Inputs) -> Result<Vec<String>, Error> {
        let budget = self.runtime.budget(Call::Load);
        // The first shard decides whether the new inputs are valid.
        let warnings = self.on(0, |shard| inputs.reload(&mut shard.instance, budget))?;
        let mut state = lock(&self.state);
        state.0 = inputs.clone();
        drop(state);
        for i in 1..self.shards.len() {
            // Valid on the first shard, so valid here; a trap replaces the shard, which then
            // loads the new inputs.
            let _ = self.on(i, |shard| inputs.reload(&mut shard.instance, budget));
        }
        Ok(warnings)
    }

    /// Authenticates credentials at `now`.
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        now: u64,
    ) -> Result<Authenticated, Error> {
        let budget = self.runtime.budget(Call::Authentication);
        let c = convert::credentials(credentials);
        // Any shard answers the same: take them in turn.
        let shard = self.next_authentication.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let a = self.on(shard, |s| {
            s.instance
                .call(budget, |g, st| g.call_authenticate(st, &c, now))
        });
        self.spread(shard);
        let a = a?;
        Ok(Authenticated {
            identity: convert::identity_in(&a.identity).ok_or_else(|| {
                Error::Wasm("the guest sent an identity this host cannot read".into())
            })?,
            expires_at: a.expires_at,
            fingerprint: a
                .fingerprint
                .as_deref()
                .map(convert::fingerprint)
                .transpose()?,
        })
    }

    /// Checks a certificate chain alone.
    pub fn verify_certificate(&self, certificate: &[u8], now: u64) -> Result<(), Error> {
        let budget = self.runtime.budget(Call::Authentication);
        self.on(0, |s| {
            s.instance.call(budget, |g, st| {
                g.call_verify_certificate(st, certificate, now)
            })
        })
    }

    /// The PSK key of an identity as lowercase hex.
    pub fn psk_key_hex(&self, identity: &str) -> Result<Option<String>, Error> {
        let budget = self.runtime.budget(Call::Decision);
        self.on(0, |s| {
            s.instance
                .call(budget, |g, st| g.call_psk_key(st, identity).map(Ok))
        })
    }

    /// Opens a session, as [`mqward_core::Engine::open_session`]; `random` is the token.
    pub fn open_session(
        &self,
        credentials: &Credentials<'_>,
        now: u64,
        random: [u8; 16],
    ) -> Result<SessionToken, Error> {
        let token = SessionToken::from_bytes(random);
        if self.session_count()? >= self.max_sessions.load(Ordering::Relaxed) {
            return Err(Rejection::TooManySessions.into());
        }
        let budget = self.runtime.budget(Call::Authentication);
        let c = convert::credentials(credentials);
        let client_id = credentials.client_id.map(str::to_owned);
        let opened = self.on(self.shard_of(&token), |shard| {
            let random = convert::token_out(&token);
            let opened = shard
                .instance
                .call(budget, |g, s| g.call_open_session(s, &c, now, random))?;
            let opened = convert::token_in(opened);
            shard.sessions.insert(opened, client_id);
            Ok(opened)
        });
        self.spread(self.shard_of(&token));
        opened
    }

    /// Closes a session; false if there was none.
    pub fn close_session(&self, token: &SessionToken) -> bool {
        let budget = self.runtime.budget(Call::Decision);
        self.on(self.shard_of(token), |shard| {
            shard.sessions.remove(token);
            shard.instance.call(budget, |g, s| {
                g.call_close_session(s, convert::token_out(token)).map(Ok)
            })
        })
        .unwrap_or(false)
    }

    /// The number of live sessions in every shard.
    pub fn session_count(&self) -> Result<usize, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let mut n = 0usize;
        for i in 0..self.shards.len() {
            let c = self.on(i, |s| {
                s.instance
                    .call(budget, |g, st| g.call_session_count(st).map(Ok))
            })?;
            n = n.saturating_add(usize::try_from(c).unwrap_or(usize::MAX));
        }
        Ok(n)
    }

    /// Decides a request by session, as [`mqward_core::Engine::authorize_session`]. Any error
    /// (an ended session, a stopped guest) is a denial.
    pub fn authorize_session(
        &self,
        token: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Effect, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let op = convert::operation(request.operation);
        let t = convert::token_out(token);
        let verdict = self.on(self.shard_of(token), |shard| {
            shard.instance.call(budget, |g, s| {
                g.call_authorize(s, t, op, request.resource, request.qos, request.retain, now)
                    .map(Ok)
            })
        })?;
        match verdict {
            wit::Verdict::Allow => Ok(Effect::Allow),
            wit::Verdict::Deny => Ok(Effect::Deny),
            wit::Verdict::UnknownSession => Err(Rejection::UnknownSession.into()),
            // The slow path says why.
            wit::Verdict::Failed => Err(self
                .explain_session(token, request, now)
                .err()
                .unwrap_or_else(|| Error::Wasm("the guest did not decide".into()))),
        }
    }

    /// Decides by Greengrass strings (`mqtt:publish`, `mqtt:topic:a/b`).
    pub fn authorize_session_greengrass(
        &self,
        token: &SessionToken,
        operation: &str,
        resource: &str,
        now: u64,
    ) -> Result<Effect, Error> {
        let budget = self.runtime.budget(Call::Decision);
        self.on(self.shard_of(token), |shard| {
            shard.instance.call(budget, |g, s| {
                g.call_authorize_greengrass(s, convert::token_out(token), operation, resource, now)
            })
        })
        .map(|allowed| if allowed { Effect::Allow } else { Effect::Deny })
    }

    /// Explains a decision by session.
    pub fn explain_session(
        &self,
        token: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Explanation, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let op = convert::operation(request.operation);
        self.on(self.shard_of(token), |shard| {
            shard.instance.call(budget, |g, s| {
                g.call_explain(
                    s,
                    convert::token_out(token),
                    op,
                    request.resource,
                    request.qos,
                    request.retain,
                    now,
                )
            })
        })
        .map(convert::explanation)
    }

    /// Binds an identity the host built (a certificate name its broker verified) to the policy.
    pub fn bind(&self, identity: Identity) -> Result<Bound, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let id = self.next_bind.fetch_add(1, Ordering::Relaxed);
        let shard = usize::try_from(id % self.shards.len() as u64).unwrap_or(0);
        let wit_identity = convert::identity(&identity);
        self.on(shard, |s| {
            let handle = s
                .instance
                .call(budget, |g, st| g.call_bind(st, &wit_identity))?;
            s.bound.insert(id, (handle, identity));
            Ok(Bound { shard, id })
        })
    }

    fn handle(shard: &Shard, bound: &Bound) -> Result<u64, Error> {
        shard
            .bound
            .get(&bound.id)
            .map(|(h, _)| *h)
            .ok_or_else(|| Error::InvalidArgument("this identity is not bound".into()))
    }

    /// Decides a request for a bound identity, as [`mqward_core::Engine::authorize`].
    pub fn authorize_bound(&self, bound: &Bound, request: &Request<'_>) -> Result<Effect, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let op = convert::operation(request.operation);
        let verdict = self.on(bound.shard, |shard| {
            let h = WasmEngine::handle(shard, bound)?;
            shard.instance.call(budget, |g, s| {
                g.call_authorize_identity(s, h, op, request.resource, request.qos, request.retain)
                    .map(Ok)
            })
        })?;
        match verdict {
            wit::Verdict::Allow => Ok(Effect::Allow),
            wit::Verdict::Deny => Ok(Effect::Deny),
            _ => Err(self
                .explain_bound(bound, request)
                .err()
                .unwrap_or_else(|| Error::Wasm("the guest did not decide".into()))),
        }
    }

    /// Explains a decision for a bound identity.
    pub fn explain_bound(
        &self,
        bound: &Bound,
        request: &Request<'_>,
    ) -> Result<Explanation, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let op = convert::operation(request.operation);
        self.on(bound.shard, |shard| {
            let h = WasmEngine::handle(shard, bound)?;
            shard.instance.call(budget, |g, s| {
                g.call_explain_identity(s, h, op, request.resource, request.qos, request.retain)
            })
        })
        .map(convert::explanation)
    }

    /// Forgets a bound identity; false if it was not bound.
    pub fn unbind(&self, bound: &Bound) -> bool {
        let budget = self.runtime.budget(Call::Decision);
        self.on(bound.shard, |shard| match shard.bound.remove(&bound.id) {
            Some((h, _)) => shard
                .instance
                .call(budget, |g, s| g.call_unbind(s, h).map(Ok)),
            None => Ok(false),
        })
        .unwrap_or(false)
    }

    /// Suspends, reactivates or revokes a registered certificate in every shard; the sessions of
    /// a suspended or revoked certificate end (as events).
    pub fn set_certificate_state(
        &self,
        fingerprint: &Fingerprint,
        a: CertAction,
    ) -> Result<Option<StateChange>, Error> {
        let budget = self.runtime.budget(Call::Decision);
        let hex = fingerprint.to_string();
        let mut state = lock(&self.state);
        let mut first = None;
        for i in 0..self.shards.len() {
            let r = self.on_locked(i, |shard| {
                shard.instance.call(budget, |g, s| {
                    g.call_set_certificate_state(s, &hex, action(a))
                })
            });
            if i == 0 {
                // The first shard's answer is the answer; an action it refuses changes nothing.
                first = Some(r?);
            }
        }
        state.1.push((*fingerprint, a));
        drop(state);
        first
            .flatten()
            .map(|c| convert::state_change(&c))
            .transpose()
    }

    /// Like [`WasmEngine::on`] for a caller that holds the state lock: a trap marks the shard
    /// for replacement by the next call instead of replacing it here.
    fn on_locked<R>(
        &self,
        shard: usize,
        f: impl FnOnce(&mut Shard) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut guard = lock(&self.shards[shard]);
        if guard.instance.is_stopped() {
            return Err(Error::Stopped("the instance is being replaced".into()));
        }
        f(&mut guard)
    }

    /// The certificate registry as its file's bytes (every shard holds the same registry).
    pub fn registry_json(&self) -> Result<Vec<u8>, Error> {
        let budget = self.runtime.budget(Call::Decision);
        self.on(0, |s| {
            s.instance
                .call(budget, |g, st| g.call_registry_json(st).map(Ok))
        })
    }

    /// Ends expired sessions and verifies again those whose trust duration passed, in every
    /// shard.
    pub fn tick(&self, now: u64) {
        let budget = self.runtime.budget(Call::Authentication);
        for i in 0..self.shards.len() {
            let _ = self.on(i, |s| {
                s.instance
                    .call(budget, |g, st| g.call_tick(st, now).map(Ok))
            });
        }
    }

    /// Takes a shard's events now: its first uses are applied to the other shards at once,
    /// so that every shard's registry stays the same. Call without holding a shard's lock.
    fn spread(&self, from: usize) {
        let Ok(events) = self.take(from) else {
            return;
        };
        let budget = self.runtime.budget(Call::Decision);
        for e in &events {
            // Only first uses: every other change reached every shard through the host.
            let Event::StateChanged(c) = e else { continue };
            if c.from != Some(CertState::Inactive) || c.to != CertState::Active {
                continue;
            }
            let change = wit::StateChange {
                fingerprint: c.fingerprint.to_string(),
                from: c.from.map(|s| s.as_str().to_owned()),
                to: c.to.as_str().to_owned(),
            };
            for i in (0..self.shards.len()).filter(|i| *i != from) {
                // A shard that refuses (an operator's action raced) keeps its own state.
                let _ = self.on(i, |s| {
                    s.instance
                        .call(budget, |g, st| g.call_apply_state_change(st, &change))
                });
            }
        }
        lock(&self.pending).extend(events);
    }

    /// A shard's events, its ended sessions forgotten.
    fn take(&self, shard: usize) -> Result<Vec<Event>, Error> {
        let budget = self.runtime.budget(Call::Decision);
        self.on(shard, |shard| {
            let raw = shard
                .instance
                .call(budget, |g, s| g.call_drain_events(s).map(Ok))?;
            let mut events = Vec::with_capacity(raw.len());
            for e in &raw {
                let e = convert::event(e)?;
                if let Event::Disconnect { session, .. } = &e {
                    shard.sessions.remove(session);
                }
                events.push(e);
            }
            Ok(events)
        })
    }

    /// Takes the events the host must act on: ended sessions (those of replaced shards
    /// included) and certificate state changes. A change every shard made (an operator's
    /// action, a reload's carried-over states) is reported once: as many times as the shard
    /// that made it most often.
    pub fn drain_events(&self) -> Vec<Event> {
        let mut out = std::mem::take(&mut *lock(&self.pending));
        let mut emitted: HashMap<StateChange, usize> = HashMap::new();
        for e in &out {
            if let Event::StateChanged(c) = e {
                *emitted.entry(c.clone()).or_default() += 1;
            }
        }
        for i in 0..self.shards.len() {
            let mut here: HashMap<StateChange, usize> = HashMap::new();
            for e in self.take(i).unwrap_or_default() {
                match e {
                    Event::StateChanged(c) => {
                        let k = here.entry(c.clone()).or_default();
                        *k += 1;
                        let done = emitted.entry(c.clone()).or_default();
                        if *k > *done {
                            *done = *k;
                            out.push(Event::StateChanged(c));
                        }
                    }
                    other => out.push(other),
                }
            }
        }
        out
    }
}
