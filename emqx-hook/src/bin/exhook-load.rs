//! `exhook-load`: load on the ExHook server's `OnClientAuthorize`. Eight tonic clients (each its
//! own HTTP/2 connection) authenticate, then make 100,000 authorize calls between them, one
//! after another per client, and the tool prints p50, p99 and the calls per second. Any failed
//! call or unexpected answer is counted and makes the exit status 1.
//!
//! Without `--addr` it starts the server in this process, on its own runtime, over a scratch
//! engine configuration (anonymous clients allowed, a policy of a few statements); with
//! `--addr` it loads a running server (plain gRPC), logging in with `--username` and
//! `--password` and asking for `--allowed-topic` and `--denied-topic`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use mqward_emqx::proto::v2::client_authorize_request::AuthorizeReqType;
use mqward_emqx::proto::v2::valued_response::{ResponsedType, Value};
use mqward_emqx::proto::v2::{
    ClientAuthenticateRequest, ClientAuthorizeRequest, ClientInfo, ValuedResponse,
};
use mqward_emqx::proto::{v2, v3};
use mqward_emqx::{HookConfig, Server};
use tonic::transport::Channel;

/// Command line.
#[derive(Parser)]
#[command(
    name = "exhook-load",
    about = "Load the mqward ExHook server's authorize calls"
)]
struct Args {
    /// A running server's address; without it the server runs in this process.
    #[arg(long)]
    addr: Option<String>,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Authorize calls in all.
    #[arg(long, default_value_t = 100_000)]
    calls: usize,
    /// Protocol package: 2 or 3.
    #[arg(long, default_value_t = 3)]
    package: u8,
    /// Username for `--addr` (the client id is `load-<n>`).
    #[arg(long)]
    username: Option<String>,
    /// Password for `--addr`.
    #[arg(long)]
    password: Option<String>,
    /// A topic the policy lets the clients publish to (`{clientid}` is replaced).
    #[arg(long, default_value = "load/{clientid}/telemetry")]
    allowed_topic: String,
    /// A topic the policy denies them.
    #[arg(long, default_value = "load/other/telemetry")]
    denied_topic: String,
    /// Run the in-process server with the WebAssembly backend on this core module
    /// (`target/mqward-wasm/mqward.wasm`).
    #[arg(long)]
    wasm: Option<PathBuf>,
}

/// The in-process server's engine: anonymous clients publish under `load/<client id>/`.
const POLICY: &str = r#"{
  "version": 1,
  "groups": [{ "name": "load", "selectionRule": "kind: anonymous", "policies": ["load"] }],
  "policies": { "load": [
    { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"] },
    { "id": "own", "effect": "allow", "operations": ["publish"], "resources": ["topic:load/${clientid}/#"] },
    { "id": "commands", "effect": "allow", "operations": ["subscribe"], "resources": ["topicfilter:cmd/${clientid}/#"] },
    { "id": "no-sys", "effect": "deny", "operations": ["*"], "resources": ["topic:$SYS/#", "topicfilter:$SYS/#"] }
  ] }
}"#;

enum Client {
    V2(v2::hook_provider_client::HookProviderClient<Channel>),
    V3(v3::hook_provider_client::HookProviderClient<Channel>),
}

impl Client {
    async fn authenticate(
        &mut self,
        request: ClientAuthenticateRequest,
    ) -> Result<ValuedResponse, tonic::Status> {
        let response = match self {
            Client::V2(c) => c.on_client_authenticate(request).await,
            Client::V3(c) => c.on_client_authenticate(request).await,
        };
        response.map(tonic::Response::into_inner)
    }

    async fn authorize(
        &mut self,
        request: ClientAuthorizeRequest,
    ) -> Result<ValuedResponse, tonic::Status> {
        let response = match self {
            Client::V2(c) => c.on_client_authorize(request).await,
            Client::V3(c) => c.on_client_authorize(request).await,
        };
        response.map(tonic::Response::into_inner)
    }
}

fn decided(response: &ValuedResponse, allow: bool) -> bool {
    response.r#type == ResponsedType::StopAndReturn as i32
        && response.value == Some(Value::BoolResult(allow))
}

/// One client's run: its call latencies, how many calls failed, and when its calls began and
/// ended (its login is not counted).
struct Run {
    latencies: Vec<Duration>,
    failed: usize,
    began: Instant,
    ended: Instant,
}

async fn run_client(
    args: Arc<Args>,
    addr: String,
    n: usize,
    calls: usize,
    ready: Arc<tokio::sync::Barrier>,
) -> Result<Run, String> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to `{addr}`: {e}"))?;
    let mut client = match args.package {
        2 => Client::V2(v2::hook_provider_client::HookProviderClient::new(channel)),
        _ => Client::V3(v3::hook_provider_client::HookProviderClient::new(channel)),
    };
    let client_id = format!("load-{n}");
    let info = ClientInfo {
        clientid: client_id.clone(),
        username: args.username.clone().unwrap_or_default(),
        password: args.password.clone().unwrap_or_default(),
        peerhost: "127.0.0.1".to_owned(),
        peerport: 40_000 + u32::try_from(n).unwrap_or(0),
        sockport: 1883,
        ..ClientInfo::default()
    };
    let login = client
        .authenticate(ClientAuthenticateRequest {
            clientinfo: Some(info.clone()),
            result: false,
            meta: None,
        })
        .await
        .map_err(|e| format!("login of `{client_id}`: {e}"))?;
    if !decided(&login, true) {
        return Err(format!("login of `{client_id}` refused: {login:?}"));
    }
    let allowed = args.allowed_topic.replace("{clientid}", &client_id);
    let subscription = format!("cmd/{client_id}/#");
    let cases: [(AuthorizeReqType, &str, bool); 3] = [
        (AuthorizeReqType::Publish, &allowed, true),
        (AuthorizeReqType::Publish, &args.denied_topic, false),
        (AuthorizeReqType::Subscribe, &subscription, true),
    ];
    let mut latencies = Vec::with_capacity(calls);
    let mut failed = 0;
    // Every client logs in first; then they all call at once.
    ready.wait().await;
    let began = Instant::now();
    for i in 0..calls {
        let (kind, topic, allow) = cases[i % cases.len()];
        let request = ClientAuthorizeRequest {
            clientinfo: Some(info.clone()),
            r#type: kind as i32,
            topic: topic.to_owned(),
            result: false,
            meta: None,
        };
        let start = Instant::now();
        let answer = client.authorize(request).await;
        latencies.push(start.elapsed());
        match answer {
            Ok(r) if decided(&r, allow) => {}
            _ => failed += 1,
        }
    }
    Ok(Run {
        latencies,
        failed,
        began,
        ended: Instant::now(),
    })
}

/// Starts the server on its own two-thread runtime; returns its address and the runtime.
fn start_in_process(
    wasm: Option<&Path>,
) -> Result<(String, tokio::runtime::Runtime, PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("mqward-exhook-load-{}", std::process::id()));
    let write = |name: &str, text: &str| {
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(name), text))
            .map_err(|e| format!("cannot write `{name}`: {e}"))
    };
    write("policy.json", POLICY)?;
    write(
        "engine.json",
        r#"{"version": 1, "policy": "policy.json", "allowAnonymous": true}"#,
    )?;
    let backend = match wasm {
        Some(module) => {
            let module = std::path::absolute(module).map_err(|e| e.to_string())?;
            let module =
                serde_json::to_string(&module.display().to_string()).map_err(|e| e.to_string())?;
            format!(r#", "backend": "wasm", "wasm": {{"module": {module}, "shards": 2}}"#)
        }
        None => String::new(),
    };
    let config = HookConfig::from_json(
        format!(r#"{{"version": 1, "listen": "127.0.0.1:0", "engine": "engine.json"{backend}}}"#)
            .as_bytes(),
        &dir,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let server = runtime
        .block_on(Server::start(&config))
        .map_err(|e| e.to_string())?
        .0;
    let addr = server.local_addr().to_string();
    // The server runs until the runtime is dropped at the end of the run.
    std::mem::forget(server);
    Ok((addr, runtime, dir))
}

/// The nearest-rank percentile of sorted latencies (zero for none).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied().unwrap_or_default()
}

fn main() -> ExitCode {
    let args = Arc::new(Args::parse());
    match run(args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("exhook-load: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Arc<Args>) -> Result<usize, String> {
    if args.clients == 0 || args.calls < args.clients {
        return Err("need at least one client and one call per client".to_owned());
    }
    let (addr, server_runtime, scratch) = match &args.addr {
        Some(addr) => (addr.clone(), None, None),
        None => {
            let (addr, runtime, dir) = start_in_process(args.wasm.as_deref())?;
            (addr, Some(runtime), Some(dir))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let per_client = args.calls / args.clients;
    let ready = Arc::new(tokio::sync::Barrier::new(args.clients));
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..args.clients)
            .map(|n| {
                let run = run_client(args.clone(), addr.clone(), n, per_client, ready.clone());
                tokio::spawn(run)
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.map_err(|e| e.to_string()).and_then(|r| r));
        }
        results
    });
    let mut latencies = Vec::with_capacity(args.calls);
    let mut failed = 0;
    let (mut began, mut ended) = (None::<Instant>, None::<Instant>);
    for result in results {
        let run = result?;
        latencies.extend(run.latencies);
        failed += run.failed;
        began = Some(began.map_or(run.began, |b| b.min(run.began)));
        ended = Some(ended.map_or(run.ended, |e| e.max(run.ended)));
    }
    let elapsed = match (began, ended) {
        (Some(b), Some(e)) => e.duration_since(b),
        _ => return Err("no client ran".to_owned()),
    };
    drop(server_runtime);
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    latencies.sort_unstable();
    let calls = latencies.len();
    println!(
        "clients {}  calls {calls}  failed {failed}  package emqx.exhook.v{}  server {}",
        args.clients,
        if args.package == 2 { 2 } else { 3 },
        match (&args.addr, &args.wasm) {
            (Some(_), _) => "remote",
            (None, Some(_)) => "in process, wasm backend",
            (None, None) => "in process",
        }
    );
    println!(
        "p50 {:.1} us  p99 {:.1} us  max {:.1} us  {:.0} calls/s ({:.2} s, logins not counted)",
        percentile(&latencies, 50.0).as_secs_f64() * 1e6,
        percentile(&latencies, 99.0).as_secs_f64() * 1e6,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e6),
        calls as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    Ok(failed)
}
