//! What the ExHook tests share: scratch directories with a policy, a password file made by
//! Debian's `mosquitto_passwd` and configurations naming them; the server started in process on
//! 127.0.0.1:0; and a tonic client over either protocol package.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqward_emqx::proto::v2::client_authorize_request::AuthorizeReqType;
use mqward_emqx::proto::v2::valued_response::{ResponsedType, Value};
use mqward_emqx::proto::v2::{
    ClientAuthenticateRequest, ClientAuthorizeRequest, ClientConnectedRequest,
    ClientDisconnectedRequest, ClientInfo, LoadedResponse, ProviderLoadedRequest, ValuedResponse,
};
use mqward_emqx::proto::{v2, v3};
use mqward_emqx::{HookConfig, Server};
use tonic::transport::Channel;

/// The policy the tests start with: password clients publish under `devices/<username>/`
/// (not `.../secret`) and subscribe under `cmd/<username>/`; certificate clients publish
/// under `devices/<thing name>/`.
pub const POLICY: &str = r#"{
  "version": 1,
  "groups": [
    { "name": "users", "selectionRule": "kind: password", "policies": ["users"] },
    { "name": "things", "selectionRule": "kind: certificate", "policies": ["things"] }
  ],
  "policies": {
    "users": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"] },
      { "id": "telemetry", "effect": "allow", "operations": ["publish"],
        "resources": ["topic:devices/${username}/#"] },
      { "id": "commands", "effect": "allow", "operations": ["subscribe"],
        "resources": ["topicfilter:cmd/${username}/#"] },
      { "id": "no-secrets", "effect": "deny", "operations": ["publish"],
        "resources": ["topic:devices/+/secret"] }
    ],
    "things": [
      { "id": "connect", "effect": "allow", "operations": ["connect"],
        "resources": ["clientId:${thingName}"] },
      { "id": "telemetry", "effect": "allow", "operations": ["publish"],
        "resources": ["topic:devices/${thingName}/#"] }
    ]
  }
}"#;

/// The policy after the reload: telemetry moves from `devices/` to `telemetry/`.
pub const RELOADED_POLICY: &str = r#"{
  "version": 1,
  "groups": [ { "name": "users", "selectionRule": "kind: password", "policies": ["users"] } ],
  "policies": {
    "users": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"] },
      { "id": "telemetry", "effect": "allow", "operations": ["publish"],
        "resources": ["topic:telemetry/${username}/#"] },
      { "id": "commands", "effect": "allow", "operations": ["subscribe"],
        "resources": ["topicfilter:cmd/${username}/#"] }
    ]
  }
}"#;

/// The users in the password file, with their passwords.
pub const USERS: [(&str, &str); 2] = [("alice", "correct horse"), ("bob", "battery staple")];

/// A fresh directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqward-emqx-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `passwd` with `mosquitto_passwd -b` (Mosquitto 2.0, `$7$`), one user after another.
pub fn mosquitto_passwd(file: &Path, users: &[(&str, &str)]) {
    for (i, (user, password)) in users.iter().enumerate() {
        let mut command = Command::new("mosquitto_passwd");
        if i == 0 {
            command.arg("-c");
        }
        let out = command
            .arg("-b")
            .arg(file)
            .arg(user)
            .arg(password)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mosquitto_passwd ({e}); run scripts/setup.sh"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The members that select the WebAssembly backend: the module `scripts/build-wasm.sh` made,
/// its compiled code cached beside it.
pub fn wasm_backend() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/mqward-wasm");
    format!(
        r#", "backend": "wasm", "wasm": {{"module": "{dir}/mqward.wasm", "cache": "{dir}/cache", "shards": 2}}"#
    )
}

/// A directory holding the policy, the password file, the engine configuration and a hook
/// configuration (`exhook.json`) with `extra` JSON members added. With
/// `MQWARD_EXHOOK_BACKEND=wasm` in the environment the hook runs the WebAssembly backend
/// (`scripts/test.sh` runs the contract tests both ways).
pub fn setup(extra: &str) -> Scratch {
    let extra = match std::env::var("MQWARD_EXHOOK_BACKEND").as_deref() {
        Ok("wasm") if !extra.contains("\"backend\"") => format!("{extra}{}", wasm_backend()),
        _ => extra.to_owned(),
    };
    let s = Scratch::new();
    s.write("policy.json", POLICY);
    mosquitto_passwd(&s.path("passwd"), &USERS);
    s.write(
        "engine.json",
        r#"{"version": 1, "policy": "policy.json", "passwords": {"files": ["passwd"]}}"#,
    );
    s.write(
        "exhook.json",
        &format!(r#"{{"version": 1, "listen": "127.0.0.1:0", "engine": "engine.json"{extra}}}"#),
    );
    s
}

/// The hook configuration of a setup.
pub fn config(s: &Scratch) -> HookConfig {
    HookConfig::from_file(&s.path("exhook.json")).unwrap()
}

/// Starts the server of a setup in this process.
pub async fn start(s: &Scratch) -> Server {
    Server::start(&config(s)).await.unwrap().0
}

/// Which protocol package a client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

pub const VERSIONS: [Version; 2] = [Version::V2, Version::V3];

/// A generated tonic client of either package.
pub enum Client {
    V2(v2::hook_provider_client::HookProviderClient<Channel>),
    V3(v3::hook_provider_client::HookProviderClient<Channel>),
}

/// Calls the same RPC whichever package the client speaks.
macro_rules! call {
    ($client:expr, $rpc:ident, $request:expr) => {
        match $client {
            Client::V2(c) => c.$rpc($request).await,
            Client::V3(c) => c.$rpc($request).await,
        }
    };
}

impl Client {
    pub fn over(channel: Channel, version: Version) -> Client {
        match version {
            Version::V2 => Client::V2(v2::hook_provider_client::HookProviderClient::new(channel)),
            Version::V3 => Client::V3(v3::hook_provider_client::HookProviderClient::new(channel)),
        }
    }

    pub async fn connect(server: &Server, version: Version) -> Client {
        let url = format!("http://{}", server.local_addr());
        let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
        Client::over(channel, version)
    }

    pub async fn loaded(&mut self) -> LoadedResponse {
        self.try_loaded().await.unwrap()
    }

    pub async fn try_loaded(&mut self) -> Result<LoadedResponse, tonic::Status> {
        call!(self, on_provider_loaded, ProviderLoadedRequest::default())
            .map(tonic::Response::into_inner)
    }

    pub async fn authenticate(&mut self, info: ClientInfo) -> ValuedResponse {
        let request = ClientAuthenticateRequest {
            clientinfo: Some(info),
            result: false,
            meta: None,
        };
        self.authenticate_raw(request).await
    }

    pub async fn authenticate_raw(&mut self, request: ClientAuthenticateRequest) -> ValuedResponse {
        call!(self, on_client_authenticate, request)
            .unwrap()
            .into_inner()
    }

    pub async fn authorize(
        &mut self,
        info: &ClientInfo,
        kind: AuthorizeReqType,
        topic: &str,
    ) -> ValuedResponse {
        self.authorize_raw(ClientAuthorizeRequest {
            clientinfo: Some(info.clone()),
            r#type: kind as i32,
            topic: topic.to_owned(),
            result: true,
            meta: None,
        })
        .await
    }

    pub async fn authorize_raw(&mut self, request: ClientAuthorizeRequest) -> ValuedResponse {
        call!(self, on_client_authorize, request)
            .unwrap()
            .into_inner()
    }

    pub async fn connected(&mut self, info: &ClientInfo) {
        let request = ClientConnectedRequest {
            clientinfo: Some(info.clone()),
            meta: None,
        };
        call!(self, on_client_connected, request).unwrap();
    }

    pub async fn disconnected(&mut self, info: &ClientInfo) {
        let request = ClientDisconnectedRequest {
            clientinfo: Some(info.clone()),
            reason: "normal".to_owned(),
            meta: None,
        };
        call!(self, on_client_disconnected, request).unwrap();
    }

    pub async fn publish(&mut self, info: &ClientInfo, topic: &str) -> ValuedResponse {
        self.authorize(info, AuthorizeReqType::Publish, topic).await
    }

    pub async fn subscribe(&mut self, info: &ClientInfo, filter: &str) -> ValuedResponse {
        self.authorize(info, AuthorizeReqType::Subscribe, filter)
            .await
    }
}

/// A ClientInfo as EMQX sends it for a password client on a plain listener.
pub fn client(client_id: &str, username: &str, password: &str) -> ClientInfo {
    ClientInfo {
        node: "emqx@127.0.0.1".to_owned(),
        clientid: client_id.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
        peerhost: "10.0.0.7".to_owned(),
        peerport: 50_000,
        sockport: 1883,
        protocol: "mqtt".to_owned(),
        ..ClientInfo::default()
    }
}

/// `STOP_AND_RETURN` with this result: mqward decided.
pub fn stop(result: bool) -> ValuedResponse {
    ValuedResponse {
        r#type: ResponsedType::StopAndReturn as i32,
        value: Some(Value::BoolResult(result)),
    }
}

/// `IGNORE`, the chain's result echoed: passed on.
pub fn ignore(result: bool) -> ValuedResponse {
    ValuedResponse {
        r#type: ResponsedType::Ignore as i32,
        value: Some(Value::BoolResult(result)),
    }
}
