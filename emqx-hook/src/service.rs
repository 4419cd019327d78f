//! The `HookProvider` service, served under both `emqx.exhook.v2` and `emqx.exhook.v3`.
//!
//! - `OnProviderLoaded` announces [`HOOKS`]: EMQX then calls nothing else.
//! - `OnClientAuthenticate` opens a session from the ClientInfo (client id, username, password;
//!   `cn` and `dn` on a listener declared mTLS) on a blocking thread, at most
//!   `authenticationWorkers` at a time.
//! - `OnClientAuthorize` decides a publish or subscribe by the session of that client's
//!   connection. A decision is a few hundred nanoseconds and runs on the gRPC thread.
//! - `client.connected` and `client.disconnected` keep the client table: a session whose client
//!   never connects is closed after `pendingSeconds`, and one whose connection ends is closed.
//!
//! Every valued answer carries `bool_result`: `STOP_AND_RETURN` for what mqward decides,
//! `IGNORE` (with the chain's result echoed) where the configuration passes a request on, and
//! `STOP_AND_RETURN` with `false` for a malformed request or an internal failure, which is also
//! logged with the client id.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mqward_core::{Effect, Event, Rejection, Request};
use tokio::sync::Semaphore;
use tonic::{Response, Status};

use crate::backend::{Backend, CertificateName, Failure, Login};
use crate::clients::{Clients, Lookup, Peer};
use crate::config::{Fallback, HookConfig};
use crate::log::{self, ClientId};
use crate::proto::v2::client_authorize_request::AuthorizeReqType;
use crate::proto::v2::valued_response::{ResponsedType, Value};
use crate::proto::v2::{
    ClientAuthenticateRequest, ClientAuthorizeRequest, ClientConnectedRequest,
    ClientDisconnectedRequest, ClientInfo, EmptySuccess, HookSpec, LoadedResponse,
    ProviderLoadedRequest, ProviderUnloadedRequest, ValuedResponse,
};

/// The hooks mqward serves, as announced to EMQX.
pub const HOOKS: [&str; 4] = [
    "client.authenticate",
    "client.authorize",
    "client.connected",
    "client.disconnected",
];

/// What the service needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The answer when mqward refuses a client's credentials.
    pub on_refused_login: Fallback,
    /// The answer to an authorization for a client mqward did not authenticate.
    pub on_unknown_client: Fallback,
    /// EMQX listener ports where a ClientInfo `cn` is a verified certificate name.
    pub certificate_ports: Vec<u16>,
    /// Seconds an authenticated client may take to connect.
    pub pending_seconds: u64,
    /// Authentications verified at the same time.
    pub authentication_workers: usize,
}

impl Settings {
    /// The service settings of a hook configuration.
    pub fn from_config(config: &HookConfig) -> Settings {
        Settings {
            on_refused_login: config.on_refused_login,
            on_unknown_client: config.on_unknown_client,
            certificate_ports: config
                .certificate_listeners
                .as_ref()
                .map(|l| l.ports.clone())
                .unwrap_or_default(),
            pending_seconds: config.pending_seconds,
            authentication_workers: config.authentication_workers,
        }
    }
}

/// The ExHook service over a backend. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct HookService {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    clients: Clients,
    settings: Settings,
    logins: Arc<Semaphore>,
}

/// Seconds since the Unix epoch; `None` if the clock is before it (then nothing is trusted).
fn now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

fn answer(kind: ResponsedType, result: bool) -> ValuedResponse {
    ValuedResponse {
        r#type: kind as i32,
        value: Some(Value::BoolResult(result)),
    }
}

/// mqward's own decision: the chain stops here.
fn decided(allow: bool) -> ValuedResponse {
    answer(ResponsedType::StopAndReturn, allow)
}

/// A request mqward does not own: denied, or passed on with the chain's result unchanged.
fn fallback(f: Fallback, chain_result: bool) -> ValuedResponse {
    match f {
        Fallback::Deny => decided(false),
        Fallback::Ignore => answer(ResponsedType::Ignore, chain_result),
    }
}

fn peer(info: &ClientInfo) -> Peer<'_> {
    Peer {
        host: &info.peerhost,
        port: info.peerport,
    }
}

fn present(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

impl HookService {
    /// A service over a backend.
    pub fn new(backend: Arc<dyn Backend>, settings: Settings) -> HookService {
        let logins = Arc::new(Semaphore::new(settings.authentication_workers));
        HookService {
            inner: Arc::new(Inner {
                backend,
                clients: Clients::new(),
                settings,
                logins,
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// How many clients the table holds (live sessions and ended ones not yet disconnected).
    pub fn client_count(&self) -> usize {
        self.inner.clients.len()
    }

    /// `OnProviderLoaded`: the hooks served.
    pub fn provider_loaded(&self, request: &ProviderLoadedRequest) -> LoadedResponse {
        let version = request.broker.as_ref().map_or("", |b| b.version.as_str());
        log::line(format_args!(
            "provider loaded by EMQX `{}`",
            version.escape_debug()
        ));
        LoadedResponse {
            hooks: HOOKS
                .iter()
                .map(|name| HookSpec {
                    name: (*name).to_owned(),
                    topics: Vec::new(),
                })
                .collect(),
        }
    }

    /// `OnClientAuthenticate`.
    pub async fn authenticate(&self, request: ClientAuthenticateRequest) -> ValuedResponse {
        let chain_result = request.result;
        let Some(info) = request.clientinfo else {
            log::line(format_args!("authenticate without clientinfo: denied"));
            return decided(false);
        };
        if info.clientid.is_empty() {
            log::line(format_args!("authenticate without a client id: denied"));
            return decided(false);
        }
        let Some(now) = now() else {
            return self.internal(&info.clientid, "the clock is before 1970");
        };
        let Ok(permit) = self.inner.logins.clone().acquire_owned().await else {
            return self.internal(&info.clientid, "the login queue is closed");
        };
        let client_id = info.clientid.clone();
        let inner = self.inner.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = inner.backend.open_session(&inner.login(&info), now);
            (info, result)
        })
        .await;
        let (info, result) = match verified {
            Ok(done) => done,
            Err(e) => return self.internal(&client_id, &format!("the verification stopped: {e}")),
        };
        match result {
            Ok(session) => {
                let old =
                    self.inner
                        .clients
                        .authenticated(&info.clientid, session, peer(&info), now);
                if let Some(old) = old {
                    self.inner.backend.close_session(&old);
                }
                decided(true)
            }
            Err(Failure::Refused(why)) => {
                log::line(format_args!(
                    "login refused for client {}: {why}",
                    ClientId(&info.clientid)
                ));
                fallback(self.inner.settings.on_refused_login, chain_result)
            }
            Err(Failure::Internal(why)) => self.internal(&info.clientid, &why),
        }
    }

    /// `OnClientAuthorize`.
    pub fn authorize(&self, request: &ClientAuthorizeRequest) -> ValuedResponse {
        let Some(info) = &request.clientinfo else {
            log::line(format_args!("authorize without clientinfo: denied"));
            return decided(false);
        };
        if info.clientid.is_empty() {
            log::line(format_args!("authorize without a client id: denied"));
            return decided(false);
        }
        let Ok(kind) = AuthorizeReqType::try_from(request.r#type) else {
            log::line(format_args!(
                "authorize of unknown type {} for client {}: denied",
                request.r#type,
                ClientId(&info.clientid)
            ));
            return decided(false);
        };
        let session = match self.inner.clients.lookup(&info.clientid, peer(info)) {
            Lookup::Live(session) => session,
            Lookup::Ended => return decided(false),
            Lookup::Unknown => {
                return fallback(self.inner.settings.on_unknown_client, request.result)
            }
        };
        let Some(now) = now() else {
            return self.internal(&info.clientid, "the clock is before 1970");
        };
        let mqtt = match kind {
            AuthorizeReqType::Publish => Request::publish(&request.topic),
            AuthorizeReqType::Subscribe => Request::subscribe(&request.topic),
        };
        match self.inner.backend.authorize(&session, &mqtt, now) {
            Ok(effect) => decided(effect == Effect::Allow),
            Err(Failure::Refused(why)) => {
                self.inner.clients.ended(&info.clientid, &session);
                if why != Rejection::UnknownSession {
                    log::line(format_args!(
                        "session of client {} ended: {why}",
                        ClientId(&info.clientid)
                    ));
                }
                decided(false)
            }
            Err(Failure::Internal(why)) => self.internal(&info.clientid, &why),
        }
    }

    /// `OnClientConnected`.
    pub fn connected(&self, request: &ClientConnectedRequest) {
        if let Some(info) = &request.clientinfo {
            self.inner.clients.connected(&info.clientid, peer(info));
        }
    }

    /// `OnClientDisconnected`: closes the session of that connection.
    pub fn disconnected(&self, request: &ClientDisconnectedRequest) {
        if let Some(info) = &request.clientinfo {
            if let Some(session) = self.inner.clients.disconnected(&info.clientid, peer(info)) {
                self.inner.backend.close_session(&session);
            }
        }
    }

    /// One round of housekeeping, about once a second: the engine's expiries and
    /// re-verifications (on a blocking thread), then the sessions whose clients never
    /// connected.
    pub async fn tick(&self) {
        let Some(now) = now() else {
            log::line(format_args!(
                "the clock is before 1970: housekeeping skipped"
            ));
            return;
        };
        let inner = self.inner.clone();
        let events = tokio::task::spawn_blocking(move || inner.backend.tick(now)).await;
        for event in events.unwrap_or_default() {
            if let Event::Disconnect {
                session,
                client_id: Some(client_id),
                reason,
            } = event
            {
                log::line(format_args!(
                    "session of client {} ended: {reason:?}",
                    ClientId(&client_id)
                ));
                self.inner.clients.ended(&client_id, &session);
            }
        }
        let abandoned = self
            .inner
            .clients
            .abandoned(now, self.inner.settings.pending_seconds);
        for session in abandoned {
            self.inner.backend.close_session(&session);
        }
    }

    fn internal(&self, client_id: &str, why: &str) -> ValuedResponse {
        log::line(format_args!(
            "internal error for client {}: {why}: denied",
            ClientId(client_id)
        ));
        decided(false)
    }
}

impl Inner {
    fn login<'a>(&self, info: &'a ClientInfo) -> Login<'a> {
        let port = u16::try_from(info.sockport).ok();
        let on_mtls_listener = port.is_some_and(|p| self.settings.certificate_ports.contains(&p));
        let password = present(&info.password).map(str::as_bytes);
        // A password, when presented, is what the client chose to be known by.
        let certificate = present(&info.cn)
            .filter(|_| on_mtls_listener && password.is_none())
            .map(|cn| CertificateName {
                cn,
                dn: present(&info.dn),
            });
        Login {
            client_id: &info.clientid,
            username: present(&info.username),
            password,
            certificate,
        }
    }
}

/// Implements a package's generated `HookProvider` trait by the shared methods.
macro_rules! hook_provider {
    ($package:ident) => {
        #[tonic::async_trait]
        impl crate::proto::$package::hook_provider_server::HookProvider for HookService {
            async fn on_provider_loaded(
                &self,
                request: tonic::Request<ProviderLoadedRequest>,
            ) -> Result<Response<LoadedResponse>, Status> {
                Ok(Response::new(self.provider_loaded(request.get_ref())))
            }

            async fn on_provider_unloaded(
                &self,
                _request: tonic::Request<ProviderUnloadedRequest>,
            ) -> Result<Response<EmptySuccess>, Status> {
                log::line(format_args!("provider unloaded"));
                Ok(Response::new(EmptySuccess {}))
            }

            async fn on_client_authenticate(
                &self,
                request: tonic::Request<ClientAuthenticateRequest>,
            ) -> Result<Response<ValuedResponse>, Status> {
                Ok(Response::new(self.authenticate(request.into_inner()).await))
            }

            async fn on_client_authorize(
                &self,
                request: tonic::Request<ClientAuthorizeRequest>,
            ) -> Result<Response<ValuedResponse>, Status> {
                Ok(Response::new(self.authorize(request.get_ref())))
            }

            async fn on_client_connected(
                &self,
                request: tonic::Request<ClientConnectedRequest>,
            ) -> Result<Response<EmptySuccess>, Status> {
                self.connected(request.get_ref());
                Ok(Response::new(EmptySuccess {}))
            }

            async fn on_client_disconnected(
                &self,
                request: tonic::Request<ClientDisconnectedRequest>,
            ) -> Result<Response<EmptySuccess>, Status> {
                self.disconnected(request.get_ref());
                Ok(Response::new(EmptySuccess {}))
            }
        }
    };
}

hook_provider!(v2);
hook_provider!(v3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_always_carry_a_bool() {
        for r in [
            decided(true),
            decided(false),
            fallback(Fallback::Deny, true),
            fallback(Fallback::Ignore, true),
        ] {
            assert!(matches!(r.value, Some(Value::BoolResult(_))), "{r:?}");
        }
        assert_eq!(
            fallback(Fallback::Deny, true),
            answer(ResponsedType::StopAndReturn, false)
        );
        assert_eq!(
            fallback(Fallback::Ignore, true),
            answer(ResponsedType::Ignore, true)
        );
    }

    #[test]
    fn hooks_are_the_four_served() {
        assert_eq!(HOOKS.len(), 4);
        assert!(HOOKS.contains(&"client.authenticate") && HOOKS.contains(&"client.authorize"));
    }
}
