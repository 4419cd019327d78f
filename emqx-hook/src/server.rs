//! The running server: the gRPC listener serving both protocol packages, and the once-a-second
//! housekeeping task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::ServerTlsConfig;

use crate::backend::{self, Backend};
use crate::config::HookConfig;
use crate::error::Error;
use crate::proto::{v2, v3};
use crate::service::{HookService, Settings};
use crate::tls;

/// A server started by [`Server::start`]; it stops when shut down or dropped.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    service: HookService,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<(), tonic::transport::Error>>,
    housekeeping: JoinHandle<()>,
}

impl Server {
    /// Loads the backend the configuration names, binds the listener and starts serving.
    /// Returns the server and the warnings the engine's first load gave.
    pub async fn start(config: &HookConfig) -> Result<(Server, Vec<String>), Error> {
        let tls = tls::listener(config)?;
        let (backend, warnings) = backend::open(config)?;
        let server = Server::with_backend(config, backend, tls).await?;
        Ok((server, warnings))
    }

    /// Starts serving a backend already loaded (tests use this to pick their own).
    pub async fn with_backend(
        config: &HookConfig,
        backend: Arc<dyn Backend>,
        tls: Option<ServerTlsConfig>,
    ) -> Result<Server, Error> {
        let bind = |source| Error::Bind {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = HookService::new(backend, Settings::from_config(config));
        let has_tls = tls.is_some();
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder
                .tls_config(tls)
                .map_err(|e| Error::Transport(e.to_string()))?;
        }
        let router = builder
            .add_service(v2::hook_provider_server::HookProviderServer::new(
                service.clone(),
            ))
            .add_service(v3::hook_provider_server::HookProviderServer::new(
                service.clone(),
            ));
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        }));
        let housekeeping = tokio::spawn({
            let service = service.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    service.tick().await;
                }
            }
        });
        Ok(Server {
            addr,
            tls: has_tls,
            service,
            stop: Some(stop),
            serving,
            housekeeping,
        })
    }

    /// The address the listener is bound to (the port chosen when the configuration says 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the listener speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The service.
    pub fn service(&self) -> &HookService {
        &self.service
    }

    /// Reads the engine configuration and its files again (on a blocking thread) and swaps
    /// them in; on any error the previous ones stay in force. Returns the warnings to log.
    /// Listener settings (address, TLS) take a restart.
    pub async fn reload(&self) -> Result<Vec<String>, Error> {
        let backend = self.service.backend().clone();
        tokio::task::spawn_blocking(move || backend.reload())
            .await
            .map_err(|e| Error::Transport(format!("the reload stopped: {e}")))?
    }

    /// Stops accepting calls, lets the calls under way finish, and stops housekeeping.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.housekeeping.abort();
        match (&mut self.serving).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Transport(e.to_string())),
            Err(e) => Err(Error::Transport(e.to_string())),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.housekeeping.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
