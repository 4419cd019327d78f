//! The engine: the current snapshot behind an `ArcSwap`, so decisions never wait while a new
//! document is compiled and swapped in; the authenticator, the certificate registry and the
//! session table beside it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use arc_swap::ArcSwap;

use crate::authn::authenticator::{Authenticated, Authenticator, Credentials};
use crate::authn::registry::{CertState, Registry, StateChange};
use crate::authn::x509::Fingerprint;
use crate::compile::{Builder, Snapshot};
use crate::config::{Config, SessionSettings};
use crate::decision::{Decision, Explanation};
use crate::error::{Error, Location, Rejection};
use crate::identity::Identity;
use crate::policy::token_acl;
use crate::policy::{Document, Effect};
use crate::principal::Principal;
use crate::request::{Operation, Request};
use crate::session::{EndReason, Event, Proof, Session, SessionTable, SessionToken, TokenRules};

/// What an operator does to a registered certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertAction {
    /// Reject it until reactivated; its sessions end at once.
    Suspend,
    /// Accept it again after a suspension.
    Reactivate,
    /// Reject it forever; its sessions end at once.
    Revoke,
}

/// The most sessions [`Engine::tick`] verifies again in one call.
pub const RECHECKS_PER_TICK: usize = 32;

/// What a session is made of once its credentials pass.
struct Admitted {
    principal: Principal,
    token_rules: Option<TokenRules>,
    fingerprint: Option<Fingerprint>,
    expires_at: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock left plain data behind, still consistent for our uses.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one facade every surface calls. `Send + Sync`: many threads decide while another reloads.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Snapshot>,
    generation: AtomicU64,
    /// Serializes installs so that generations and snapshots stay paired; deciders never take it.
    installing: Mutex<()>,
    builder: Builder,
    auth: ArcSwap<Authenticator>,
    registry: RwLock<Registry>,
    sessions: SessionTable,
    events: Mutex<Vec<Event>>,
}

impl Engine {
    /// An engine over a compiled snapshot.
    pub fn new(builder: Builder, mut snapshot: Snapshot) -> Engine {
        snapshot.generation = 1;
        let settings = SessionSettings::default();
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(1),
            installing: Mutex::new(()),
            builder,
            auth: ArcSwap::from_pointee(Authenticator::new()),
            registry: RwLock::new(Registry::new()),
            sessions: SessionTable::new(settings.max, settings.trust_duration_seconds),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Compiles a document with the default builder.
    pub fn from_document(doc: &Document) -> Result<Engine, Error> {
        let builder = Builder::new();
        let snapshot = builder.build(doc)?;
        Ok(Engine::new(builder, snapshot))
    }

    /// Reads and compiles a JSON document (native or Greengrass).
    pub fn from_json(bytes: &[u8]) -> Result<Engine, Error> {
        Engine::from_document(&Document::from_json(bytes)?)
    }

    /// Compiles a new document and swaps it in. On error the previous snapshot stays in force
    /// and every problem is returned.
    pub fn reload(&self, doc: &Document) -> Result<(), Error> {
        let snapshot = self.builder.build(doc)?;
        self.install(snapshot);
        Ok(())
    }

    /// [`Engine::reload`] from JSON bytes.
    pub fn reload_json(&self, bytes: &[u8]) -> Result<(), Error> {
        self.reload(&Document::from_json(bytes)?)
    }

    /// Swaps in a snapshot compiled elsewhere.
    pub fn install(&self, mut snapshot: Snapshot) {
        // A poisoned lock only means another install panicked; the pairing it guards is intact.
        let _guard = self
            .installing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generation = self.generation.load(Ordering::Acquire).wrapping_add(1);
        snapshot.generation = generation;
        self.current.store(Arc::new(snapshot));
        // Published after the store: a decider that sees the new generation loads the new
        // snapshot; one that still sees the old generation decides once more on the old one.
        self.generation.store(generation, Ordering::Release);
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Binds an identity to the snapshot in force.
    pub fn bind(&self, identity: Identity) -> Principal {
        self.snapshot().bind(identity)
    }

    /// Decides a request for a principal, first rebinding it if a reload happened since it was
    /// bound, so that live sessions follow the new policy without reconnecting.
    pub fn authorize<'p>(
        &self,
        principal: &'p mut Principal,
        request: &Request<'_>,
    ) -> Decision<'p> {
        if principal.snapshot().generation() != self.generation.load(Ordering::Acquire) {
            principal.rebind(self.snapshot());
        }
        principal.decide(request)
    }
}

/// Configuration, authentication and sessions.
impl Engine {
    /// An engine from a configuration: `read` returns the bytes of each file the configuration
    /// names; `random` keys the credential caches. Returns the warnings to log.
    pub fn from_config(
        config: &Config,
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        random: &[u8; 32],
    ) -> Result<(Engine, Vec<String>), Error> {
        let loaded = config.load(read, random)?;
        let builder = Builder::new();
        let snapshot = builder.build(&loaded.document)?;
        let mut engine = Engine::new(builder, snapshot);
        engine.auth = ArcSwap::from_pointee(loaded.authenticator);
        engine.registry = RwLock::new(loaded.registry);
        engine.sessions =
            SessionTable::new(loaded.sessions.max, loaded.sessions.trust_duration_seconds);
        Ok((engine, loaded.warnings))
    }

    /// Reloads a configuration: on any error nothing changes. Live sessions keep their
    /// identities and are decided by the new policy at once. The certificate registry follows
    /// its file, except that revocations and first uses made since it was written are kept
    /// (and reported again as [`Event::StateChanged`] to persist). Returns the warnings to log.
    pub fn reload_config(
        &self,
        config: &Config,
        read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        random: &[u8; 32],
    ) -> Result<Vec<String>, Error> {
        let loaded = config.load(read, random)?;
        let snapshot = self.builder.build(&loaded.document)?;
        self.auth.store(Arc::new(loaded.authenticator));
        let mut fresh = loaded.registry;
        {
            let mut registry = self.registry.write().unwrap_or_else(|p| p.into_inner());
            // A revocation or first use not yet in the file survives the reload; the host is
            // told to persist it again.
            let carried = fresh.carry_over(&registry);
            *registry = fresh;
            lock(&self.events).extend(carried.into_iter().map(Event::StateChanged));
        }
        self.install(snapshot);
        Ok(loaded.warnings)
    }

    /// The authenticator in force.
    pub fn authenticator(&self) -> Arc<Authenticator> {
        self.auth.load_full()
    }

    /// The PSK key for an identity as lowercase hex (what Mosquitto's handshake asks for).
    pub fn psk_key_hex(&self, identity: &str) -> Option<String> {
        self.auth
            .load()
            .psk_key(identity)
            .map(|k| k.hex().to_owned())
    }

    /// A SHA-256 digest of the key of a TLS-PSK identity: lets a host tell later (after a
    /// reload, say) whether the key a client's handshake used is still the identity's, without
    /// keeping the key itself.
    pub fn psk_key_digest(&self, identity: &str) -> Option<[u8; 32]> {
        let auth = self.auth.load();
        let key = auth.psk_key(identity)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.hex().as_bytes());
        digest.as_ref().try_into().ok()
    }

    /// Checks a certificate alone (Greengrass "verify client device identity").
    pub fn verify_certificate(&self, certificate: &[u8], now: u64) -> Result<(), Error> {
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
        self.auth
            .load()
            .verify_certificate(&registry, certificate, now)
    }

    /// Authenticates credentials at `now`. A registered certificate's first use is applied to
    /// the registry and reported as an [`Event::StateChanged`].
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        now: u64,
    ) -> Result<Authenticated, Error> {
        let result = {
            let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
            self.auth.load().authenticate(&registry, credentials, now)?
        };
        if let Some(change) = &result.first_use {
            let applied = self
                .registry
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .apply(change);
            if applied.is_ok() {
                lock(&self.events).push(Event::StateChanged(change.clone()));
            }
        }
        Ok(result)
    }

    /// Opens a session: authenticates, then requires the `connect` permission for the client id
    /// (which the credentials must carry or the credential must map). `random` is 16 random
    /// bytes from the host: the session token. The session keeps the credentials (the password
    /// wiped when it ends) to verify the identity again when the trust duration passes.
    pub fn open_session(
        &self,
        credentials: &Credentials<'_>,
        now: u64,
        random: [u8; 16],
    ) -> Result<SessionToken, Error> {
        let admitted = self.admit(credentials, now)?;
        let session = Session {
            principal: admitted.principal,
            token_rules: admitted.token_rules,
            fingerprint: admitted.fingerprint,
            expires_at: admitted.expires_at,
            trusted_until: now.saturating_add(self.sessions.trust_duration),
            proof: Proof::keep(credentials),
        };
        let token = SessionToken::from_bytes(random);
        let mut table = self.sessions.write();
        if table.len() >= self.sessions.max {
            let ended: Vec<(SessionToken, EndReason)> = table
                .iter()
                .filter_map(|(t, s)| lock(s).over(now).map(|r| (*t, r)))
                .collect();
            self.end_sessions(&mut table, ended);
        }
        if table.len() >= self.sessions.max {
            return Err(Rejection::TooManySessions.into());
        }
        if table.contains_key(&token) {
            return Err(Rejection::Malformed(
                "session token collision: use fresh random bytes".into(),
            )
            .into());
        }
        table.insert(token, Mutex::new(session));
        Ok(token)
    }

    /// Authenticates, binds the identity, requires `connect` for its client id and compiles the
    /// statements its token carries: everything a session needs, at opening and again when its
    /// trust duration passes.
    fn admit(&self, credentials: &Credentials<'_>, now: u64) -> Result<Admitted, Error> {
        let auth = self.authenticate(credentials, now)?;
        let token_rules = match &auth.token_policy {
            Some(claim) => {
                let acl = token_acl::from_claim(claim)?;
                let snapshot = self.builder.build(&acl.document).map_err(|e| {
                    Rejection::Malformed(format!("the token's policy claim does not compile: {e}"))
                })?;
                Some(TokenRules {
                    principal: Arc::new(snapshot).bind(auth.identity.clone()),
                    fallthrough: acl.fallthrough,
                })
            }
            None => None,
        };
        let mut principal = self.bind(auth.identity);
        let client_id = principal
            .identity()
            .client_id()
            .ok_or(Rejection::ConnectDenied)?
            .to_owned();
        let connect = Request::connect(&client_id);
        let allowed = match token_rules.as_ref().and_then(|r| r.decide(&connect)) {
            Some(effect) => effect == Effect::Allow,
            None => self.authorize(&mut principal, &connect).is_allowed(),
        };
        if !allowed {
            return Err(Rejection::ConnectDenied.into());
        }
        Ok(Admitted {
            principal,
            token_rules,
            fingerprint: auth.fingerprint,
            expires_at: auth.expires_at,
        })
    }

    /// Authorizes a request by session token. An ended session (closed, expired, trust duration
    /// passed, certificate suspended or revoked) is [`Rejection::UnknownSession`].
    pub fn authorize_session(
        &self,
        token: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Effect, Error> {
        self.with_session(token, now, |engine, session| {
            if let Some(effect) = session.token_rules.as_ref().and_then(|r| r.decide(request)) {
                return effect;
            }
            engine.authorize(&mut session.principal, request).effect
        })
    }

    /// Authorizes by Greengrass strings: `mqtt:publish` + `mqtt:topic:a/b`, `mqtt:subscribe` +
    /// `mqtt:topicfilter:a/+`, `mqtt:connect` + `mqtt:clientId:x` (also `mqtt:receive`,
    /// `mqtt:unsubscribe`). A resource of the wrong type for the operation is malformed.
    pub fn authorize_session_greengrass(
        &self,
        token: &SessionToken,
        operation: &str,
        resource: &str,
        now: u64,
    ) -> Result<Effect, Error> {
        let request = greengrass_request(operation, resource)?;
        self.authorize_session(token, &request, now)
    }

    /// Explains a decision by session token.
    pub fn explain_session(
        &self,
        token: &SessionToken,
        request: &Request<'_>,
        now: u64,
    ) -> Result<Explanation, Error> {
        self.with_session(token, now, |engine, session| {
            if let Some(rules) = &session.token_rules {
                if rules.decide(request).is_some() {
                    let mut e = rules.principal.explain(request);
                    e.notes
                        .push("decided by the statements the client's token carries".to_owned());
                    return e;
                }
            }
            let principal = &mut session.principal;
            if principal.snapshot().generation() != engine.generation.load(Ordering::Acquire) {
                principal.rebind(engine.snapshot());
            }
            principal.explain(request)
        })
    }

    fn with_session<T>(
        &self,
        token: &SessionToken,
        now: u64,
        f: impl FnOnce(&Engine, &mut Session) -> T,
    ) -> Result<T, Error> {
        let ended = {
            let table = self.sessions.read();
            let session = table.get(token).ok_or(Rejection::UnknownSession)?;
            let mut session = lock(session);
            match self.refresh(&mut session, now) {
                None => return Ok(f(self, &mut session)),
                Some(reason) => reason,
            }
        };
        let mut table = self.sessions.write();
        self.end_sessions(&mut table, vec![(*token, ended)]);
        Err(Rejection::UnknownSession.into())
    }

    /// Why a session must end at `now`, verifying its identity again first if its trust
    /// duration passed; a session that passes goes on with the fresh identity, token rules and
    /// expiry.
    fn refresh(&self, session: &mut Session, now: u64) -> Option<EndReason> {
        if let Some(reason) = session.over(now) {
            return Some(reason);
        }
        if !session.due(now) {
            return None;
        }
        match self.admit(&session.proof.credentials(), now) {
            Ok(admitted) => {
                session.principal = admitted.principal;
                session.token_rules = admitted.token_rules;
                session.fingerprint = admitted.fingerprint;
                session.expires_at = admitted.expires_at;
                session.trusted_until = now.saturating_add(self.sessions.trust_duration);
                None
            }
            Err(Error::Rejected(Rejection::Revoked)) => Some(EndReason::Revoked),
            Err(Error::Rejected(Rejection::Suspended)) => Some(EndReason::Suspended),
            Err(Error::Rejected(Rejection::Expired)) => Some(EndReason::Expired),
            Err(_) => Some(EndReason::TrustExpired),
        }
    }

    /// Closes a session; false if there was none.
    pub fn close_session(&self, token: &SessionToken) -> bool {
        self.sessions.write().remove(token).is_some()
    }

    /// The number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Ends every session whose credential expired at `now`, and verifies again the identities
    /// of up to [`RECHECKS_PER_TICK`] sessions whose trust duration passed (the others wait for
    /// the next tick or their next decision). Ended sessions become [`Event::Disconnect`]s.
    /// Bounded work; call it from a timer, about once a second.
    pub fn tick(&self, now: u64) {
        let due: Vec<SessionToken> = {
            let mut table = self.sessions.write();
            let ended: Vec<(SessionToken, EndReason)> = table
                .iter()
                .filter_map(|(t, s)| lock(s).over(now).map(|r| (*t, r)))
                .collect();
            self.end_sessions(&mut table, ended);
            table
                .iter()
                .filter(|(_, s)| lock(s).due(now))
                .map(|(t, _)| *t)
                .take(RECHECKS_PER_TICK)
                .collect()
        };
        // Verified one at a time under the shared lock, so decisions go on meanwhile.
        for token in due {
            let _ = self.with_session(&token, now, |_, _| ());
        }
    }

    /// Suspends, reactivates or revokes a registered certificate. Suspension and revocation end
    /// its sessions at once (as [`Event::Disconnect`]); every change is also an
    /// [`Event::StateChanged`] to persist. Revocation is final.
    pub fn set_certificate_state(
        &self,
        fingerprint: &Fingerprint,
        action: CertAction,
    ) -> Result<Option<StateChange>, Error> {
        let change = {
            let mut registry = self.registry.write().unwrap_or_else(|p| p.into_inner());
            match action {
                CertAction::Suspend => registry.suspend(fingerprint)?,
                CertAction::Reactivate => registry.reactivate(fingerprint)?,
                CertAction::Revoke => registry.revoke(fingerprint)?,
            }
        };
        if let Some(change) = &change {
            lock(&self.events).push(Event::StateChanged(change.clone()));
        }
        let reason = match action {
            CertAction::Suspend => Some(EndReason::Suspended),
            CertAction::Revoke => Some(EndReason::Revoked),
            CertAction::Reactivate => None,
        };
        if let Some(reason) = reason {
            let mut table = self.sessions.write();
            let ended: Vec<(SessionToken, EndReason)> = table
                .iter()
                .filter(|(_, s)| lock(s).fingerprint.as_ref() == Some(fingerprint))
                .map(|(t, _)| (*t, reason))
                .collect();
            self.end_sessions(&mut table, ended);
        }
        Ok(change)
    }

    /// Applies a certificate's first use (inactive -> active) that another engine reported (a
    /// host that spreads sessions over several engines keeps their registries in step), only
    /// if the certificate is still inactive; no event. Any other change is refused: a
    /// suspension or revocation must end sessions and a reactivation is an operator's act, so
    /// they go through [`Engine::set_certificate_state`].
    pub fn apply_state_change(&self, change: &StateChange) -> Result<(), Error> {
        if change.from != Some(CertState::Inactive) || change.to != CertState::Active {
            return Err(Error::single(
                Location::Document,
                format!(
                    "certificate `{}`: only a first use (inactive -> active) is applied from \
                     another engine; use set_certificate_state for operators' actions",
                    change.fingerprint
                ),
            ));
        }
        self.registry
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply(change)
    }

    /// The certificate registry as its file's bytes (persist after state changes).
    pub fn registry_json(&self) -> Vec<u8> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .to_json()
    }

    /// Takes the events the host must act on, oldest first.
    pub fn drain_events(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }

    fn end_sessions(
        &self,
        table: &mut std::collections::HashMap<SessionToken, Mutex<Session>>,
        ended: Vec<(SessionToken, EndReason)>,
    ) {
        if ended.is_empty() {
            return;
        }
        let mut events = lock(&self.events);
        for (token, reason) in ended {
            if let Some(session) = table.remove(&token) {
                let session = session.into_inner().unwrap_or_else(|p| p.into_inner());
                events.push(Event::Disconnect {
                    session: token,
                    client_id: session.principal.identity().client_id().map(str::to_owned),
                    reason,
                });
            }
        }
    }
}

/// A request from Greengrass strings.
pub fn greengrass_request<'a>(operation: &str, resource: &'a str) -> Result<Request<'a>, Error> {
    let bad = |m: String| Error::from(Rejection::Malformed(m));
    let op = operation
        .strip_prefix("mqtt:")
        .and_then(Operation::parse)
        .ok_or_else(|| bad(format!("unknown operation `{operation}`")))?;
    let want = match op {
        Operation::Connect => "mqtt:clientId:",
        Operation::Publish | Operation::Receive => "mqtt:topic:",
        Operation::Subscribe | Operation::Unsubscribe => "mqtt:topicfilter:",
    };
    let value = resource
        .strip_prefix(want)
        .ok_or_else(|| bad(format!("`{operation}` needs a `{want}` resource")))?;
    Ok(Request::new(op, value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityKind;

    fn doc(topic: &str) -> Document {
        Document::from_json(
            format!(
                r#"{{"version":1,"groups":[{{"name":"all","selectionRule":"*","policies":["p"]}}],
                "policies":{{"p":[{{"id":"s","effect":"allow","operations":["publish"],
                "resources":["topic:{topic}"]}}]}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn reload_applies_to_bound_principals_and_bad_reload_keeps_old() {
        let engine = Engine::from_document(&doc("a/#")).unwrap();
        let mut p = engine.bind(Identity::new(IdentityKind::Password).with_username("u"));
        assert!(engine
            .authorize(&mut p, &Request::publish("a/x"))
            .is_allowed());
        engine.reload(&doc("b/#")).unwrap();
        assert!(!engine
            .authorize(&mut p, &Request::publish("a/x"))
            .is_allowed());
        assert!(engine
            .authorize(&mut p, &Request::publish("b/x"))
            .is_allowed());
        assert_eq!(p.identity().username(), Some("u"));
        let err = engine.reload(&doc("c/#/d")).unwrap_err();
        assert!(err.to_string().contains("resource 0"), "{err}");
        assert!(engine
            .authorize(&mut p, &Request::publish("b/x"))
            .is_allowed());
    }

    #[test]
    fn only_first_uses_are_applied_from_another_engine() {
        let engine = Engine::from_document(&doc("a/#")).unwrap();
        let fingerprint = Fingerprint::of(b"some certificate");
        for (from, to) in [
            (Some(CertState::Active), CertState::Suspended),
            (Some(CertState::Suspended), CertState::Active),
            (Some(CertState::Revoked), CertState::Active),
            (Some(CertState::Active), CertState::Revoked),
            (None, CertState::Active),
        ] {
            let err = engine
                .apply_state_change(&StateChange {
                    fingerprint,
                    from,
                    to,
                })
                .unwrap_err();
            assert!(err.to_string().contains("only a first use"), "{err}");
        }
        // A first use still needs the certificate registered and inactive.
        let first_use = StateChange {
            fingerprint,
            from: Some(CertState::Inactive),
            to: CertState::Active,
        };
        let err = engine.apply_state_change(&first_use).unwrap_err();
        assert!(!err.to_string().contains("only a first use"), "{err}");
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
        check::<Principal>();
        check::<Snapshot>();
    }
}
