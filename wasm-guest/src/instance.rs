//! What one guest instance holds (its engine and the identities bound by handle) and what each
//! export does with it. Plain Rust over the WIT types, so native tests run it too.

use std::collections::BTreeMap;

use mqward_core::authn::registry::{CertState, StateChange};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{CertAction, Config, Effect, Engine, Principal, Rejection, Request};

use crate::bindings::exports::mqward::engine::engine as wit;
use crate::convert;

/// The most identities bound at once: beyond it `bind` refuses, as a full session table does.
pub const MAX_BOUND: usize = 1 << 20;

/// One instance's state.
#[derive(Default)]
pub struct Instance {
    engine: Option<Engine>,
    bound: BTreeMap<u64, Principal>,
    next_handle: u64,
}

impl Instance {
    /// An instance with nothing loaded.
    pub const fn new() -> Instance {
        Instance {
            engine: None,
            bound: BTreeMap::new(),
            next_handle: 0,
        }
    }
}

fn core(e: mqward_core::Error) -> wit::Error {
    convert::error(&e)
}

fn random32(random: &[u8]) -> Result<[u8; 32], wit::Error> {
    random.try_into().map_err(|_| {
        wit::Error::InvalidArgument(format!("32 random bytes are needed, not {}", random.len()))
    })
}

/// Loads a configuration with the files the host read for it.
fn configure(
    config: &[u8],
    files: &[wit::File],
    random: &[u8],
    apply: impl FnOnce(
        &Config,
        &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
        &[u8; 32],
    ) -> Result<Vec<String>, mqward_core::Error>,
) -> Result<Vec<String>, wit::Error> {
    let random = random32(random)?;
    let config = Config::from_json(config).map_err(core)?;
    let mut read = |name: &str| {
        files
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| "the host did not pass this file".to_owned())
            .and_then(|f| f.contents.clone())
    };
    apply(&config, &mut read, &random).map_err(core)
}

impl Instance {
    fn engine(&self) -> Result<&Engine, wit::Error> {
        self.engine.as_ref().ok_or(wit::Error::NotLoaded)
    }

    /// `config-files`.
    pub fn config_files(config: &[u8]) -> Result<Vec<String>, wit::Error> {
        let config = Config::from_json(config).map_err(core)?;
        Ok(config.files().into_iter().map(str::to_owned).collect())
    }

    /// `load`: a new engine; identities bound to the old one are forgotten.
    pub fn load(
        &mut self,
        config: &[u8],
        files: &[wit::File],
        random: &[u8],
    ) -> Result<Vec<String>, wit::Error> {
        let mut engine = None;
        let warnings = configure(config, files, random, |c, read, random| {
            let (e, warnings) = Engine::from_config(c, read, random)?;
            engine = Some(e);
            Ok(warnings)
        })?;
        self.engine = engine;
        self.bound.clear();
        Ok(warnings)
    }

    /// `load-policy`.
    pub fn load_policy(&mut self, policy: &[u8]) -> Result<(), wit::Error> {
        self.engine = Some(Engine::from_json(policy).map_err(core)?);
        self.bound.clear();
        Ok(())
    }

    /// `reload`: on error nothing changes.
    pub fn reload(
        &self,
        config: &[u8],
        files: &[wit::File],
        random: &[u8],
    ) -> Result<Vec<String>, wit::Error> {
        let engine = self.engine()?;
        configure(config, files, random, |c, read, random| {
            engine.reload_config(c, read, random)
        })
    }

    /// `reload-policy`: on error the previous policy stays.
    pub fn reload_policy(&self, policy: &[u8]) -> Result<(), wit::Error> {
        self.engine()?.reload_json(policy).map_err(core)
    }

    /// `authenticate`.
    pub fn authenticate(
        &self,
        credentials: &wit::Credentials,
        now: u64,
    ) -> Result<wit::Authenticated, wit::Error> {
        let a = self
            .engine()?
            .authenticate(&convert::credentials(credentials), now)
            .map_err(core)?;
        Ok(convert::authenticated(&a))
    }

    /// `verify-certificate`.
    pub fn verify_certificate(&self, certificate: &[u8], now: u64) -> Result<(), wit::Error> {
        self.engine()?
            .verify_certificate(certificate, now)
            .map_err(core)
    }

    /// `psk-key`.
    pub fn psk_key(&self, identity: &str) -> Option<String> {
        self.engine.as_ref()?.psk_key_hex(identity)
    }

    /// `open-session`.
    pub fn open_session(
        &self,
        credentials: &wit::Credentials,
        now: u64,
        random: wit::Token,
    ) -> Result<wit::Token, wit::Error> {
        let random = convert::token_in(random);
        let t = self
            .engine()?
            .open_session(&convert::credentials(credentials), now, *random.as_bytes())
            .map_err(core)?;
        Ok(convert::token_out(&t))
    }

    /// `close-session`.
    pub fn close_session(&self, session: wit::Token) -> bool {
        self.engine
            .as_ref()
            .is_some_and(|e| e.close_session(&convert::token_in(session)))
    }

    /// `session-count`.
    pub fn session_count(&self) -> u32 {
        self.engine
            .as_ref()
            .map_or(0, |e| u32::try_from(e.session_count()).unwrap_or(u32::MAX))
    }

    /// `authorize`.
    pub fn authorize(&self, session: wit::Token, request: &Request<'_>, now: u64) -> wit::Verdict {
        match &self.engine {
            Some(e) => {
                convert::verdict(e.authorize_session(&convert::token_in(session), request, now))
            }
            None => wit::Verdict::Failed,
        }
    }

    /// `authorize-greengrass`.
    pub fn authorize_greengrass(
        &self,
        session: wit::Token,
        operation: &str,
        resource: &str,
        now: u64,
    ) -> Result<bool, wit::Error> {
        let t = convert::token_in(session);
        let effect = self
            .engine()?
            .authorize_session_greengrass(&t, operation, resource, now)
            .map_err(core)?;
        Ok(effect == Effect::Allow)
    }

    /// `explain`.
    pub fn explain(
        &self,
        session: wit::Token,
        request: &Request<'_>,
        now: u64,
    ) -> Result<wit::Explanation, wit::Error> {
        let t = convert::token_in(session);
        let e = self
            .engine()?
            .explain_session(&t, request, now)
            .map_err(core)?;
        Ok(convert::explanation(&e))
    }

    /// `bind`.
    pub fn bind(&mut self, identity: &wit::Identity) -> Result<u64, wit::Error> {
        let identity = convert::identity_in(identity)?;
        let engine = self.engine()?;
        if self.bound.len() >= MAX_BOUND {
            return Err(convert::error(&Rejection::TooManySessions.into()));
        }
        let principal = engine.bind(identity);
        self.next_handle += 1;
        let handle = self.next_handle;
        self.bound.insert(handle, principal);
        Ok(handle)
    }

    fn bound(&mut self, handle: u64) -> Result<(&Engine, &mut Principal), wit::Error> {
        let engine = self.engine.as_ref().ok_or(wit::Error::NotLoaded)?;
        let principal = self
            .bound
            .get_mut(&handle)
            .ok_or_else(|| wit::Error::InvalidArgument(format!("no identity bound as {handle}")))?;
        Ok((engine, principal))
    }

    /// `authorize-identity`.
    pub fn authorize_identity(&mut self, handle: u64, request: &Request<'_>) -> wit::Verdict {
        match self.bound(handle) {
            Ok((engine, principal)) => {
                convert::verdict(Ok(engine.authorize(principal, request).effect))
            }
            Err(_) => wit::Verdict::Failed,
        }
    }

    /// `explain-identity`.
    pub fn explain_identity(
        &mut self,
        handle: u64,
        request: &Request<'_>,
    ) -> Result<wit::Explanation, wit::Error> {
        let (engine, principal) = self.bound(handle)?;
        // Deciding first rebinds the principal to the snapshot in force.
        let _ = engine.authorize(principal, request);
        Ok(convert::explanation(&principal.explain(request)))
    }

    /// `unbind`.
    pub fn unbind(&mut self, handle: u64) -> bool {
        self.bound.remove(&handle).is_some()
    }

    /// `set-certificate-state`.
    pub fn set_certificate_state(
        &self,
        fingerprint: &str,
        action: wit::CertAction,
    ) -> Result<Option<wit::StateChange>, wit::Error> {
        let f = Fingerprint::parse(fingerprint).ok_or_else(|| {
            wit::Error::InvalidArgument("a fingerprint is 64 hex digits (SHA-256)".to_owned())
        })?;
        let action = match action {
            wit::CertAction::Suspend => CertAction::Suspend,
            wit::CertAction::Reactivate => CertAction::Reactivate,
            wit::CertAction::Revoke => CertAction::Revoke,
        };
        let change = self
            .engine()?
            .set_certificate_state(&f, action)
            .map_err(core)?;
        Ok(change.as_ref().map(convert::state_change))
    }

    /// `apply-state-change`.
    pub fn apply_state_change(&self, change: &wit::StateChange) -> Result<(), wit::Error> {
        let bad = |what: &str| wit::Error::InvalidArgument(format!("not a {what}"));
        let state = |name: &str| CertState::parse(name).ok_or_else(|| bad("certificate state"));
        let change = StateChange {
            fingerprint: Fingerprint::parse(&change.fingerprint)
                .ok_or_else(|| bad("fingerprint"))?,
            from: change.from.as_deref().map(state).transpose()?,
            to: state(&change.to)?,
        };
        self.engine()?.apply_state_change(&change).map_err(core)
    }

    /// `registry-json`.
    pub fn registry_json(&self) -> Vec<u8> {
        self.engine
            .as_ref()
            .map_or_else(Vec::new, Engine::registry_json)
    }

    /// `tick`.
    pub fn tick(&self, now: u64) {
        if let Some(e) = &self.engine {
            e.tick(now);
        }
    }

    /// `drain-events`.
    pub fn drain_events(&self) -> Vec<wit::Event> {
        self.engine.as_ref().map_or_else(Vec::new, |e| {
            e.drain_events().iter().filter_map(convert::event).collect()
        })
    }
}
