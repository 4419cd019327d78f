//! The WebAssembly module through `mqward-wasmtime` against the native engine, on the same
//! configuration and requests: a publish decision by session token (the Greengrass model, as
//! the EMQX hook decides), a publish decision for a bound identity on the 1,000-statement
//! fleet policy, an HS256 JWT authentication, and instantiating the module from precompiled
//! code (a replaced shard's cost). Needs `scripts/build-wasm.sh` first.

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use mqward_benches::{Workload, SESSION_POLICY};
use mqward_core::{Config, Credentials, Effect, Engine, Request};
use mqward_wasmtime::{Limits, Runtime, WasmEngine};
use ring::hmac;

const NOW: u64 = 1_700_000_000;

const CONFIG: &[u8] = br#"{"version": 1, "policy": "p.json",
  "jwt": { "keys": [{ "kid": "k1", "alg": "HS256", "file": "hs256.secret" }] },
  "sessions": { "max": 3000, "trustDurationSeconds": 86400 }}"#;

/// An HS256 token for `dev-1`, signed with ring.
fn token(secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        format!(
            r#"{{"sub":"dev-1","iat":{},"exp":{},"iss":"bench"}}"#,
            NOW - 10,
            NOW + 86_400
        )
        .as_bytes(),
    );
    let signing_input = format!("{header}.{claims}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn bench(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/mqward-wasm/mqward.wasm"
    );
    let cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/mqward-wasm/cache");
    let runtime = Arc::new(
        Runtime::from_file(path.as_ref(), Limits::default(), Some(cache.as_ref()))
            .expect("run scripts/build-wasm.sh first"),
    );
    let secret = [9u8; 32];
    let mut read = |name: &str| match name {
        "p.json" => Ok(SESSION_POLICY.as_bytes().to_vec()),
        "hs256.secret" => Ok(secret.to_vec()),
        _ => Err("missing".to_owned()),
    };
    let config = Config::from_json(CONFIG).expect("config");
    let (native, _) = Engine::from_config(&config, &mut read, &[1; 32]).expect("native");
    let (wasm, _) =
        WasmEngine::from_config(runtime.clone(), 2, CONFIG, &mut read, &[1; 32]).expect("wasm");
    let jwt = token(&secret);
    let creds = Credentials {
        client_id: Some("dev-1"),
        password: Some(jwt.as_bytes()),
        ..Credentials::default()
    };
    let native_session = native
        .open_session(&creds, NOW, [1; 16])
        .expect("native session");
    let wasm_session = wasm
        .open_session(&creds, NOW, [1; 16])
        .expect("wasm session");
    let publish = Request::publish("fleet/dev-1/telemetry/temp").with_qos(1);
    assert_eq!(
        native
            .authorize_session(&native_session, &publish, NOW)
            .unwrap(),
        Effect::Allow
    );
    assert_eq!(
        wasm.authorize_session(&wasm_session, &publish, NOW)
            .unwrap(),
        Effect::Allow
    );

    let mut g = c.benchmark_group("wasm/publish-by-session");
    g.bench_function("native", |b| {
        b.iter(|| native.authorize_session(black_box(&native_session), black_box(&publish), NOW))
    });
    g.bench_function("wasm", |b| {
        b.iter(|| wasm.authorize_session(black_box(&wasm_session), black_box(&publish), NOW))
    });
    g.finish();

    // The fleet policy at 1,000 statements: an allow deep in the device's own statements.
    let workload = Workload::new(1_000);
    let fleet = workload.fleet().to_json_pretty();
    let fleet_native = Engine::from_json(fleet.as_bytes()).expect("fleet");
    let fleet_wasm = WasmEngine::from_json(runtime.clone(), 1, fleet.as_bytes()).expect("fleet");
    let cases = workload.cases();
    let case = cases.iter().find(|c| c.allowed).expect("an allowed case");
    let request = case.request();
    let mut principal = fleet_native.bind(workload.identity());
    let bound = fleet_wasm.bind(workload.identity()).expect("bind");
    assert_eq!(
        fleet_native.authorize(&mut principal, &request).effect,
        Effect::Allow
    );
    assert_eq!(
        fleet_wasm.authorize_bound(&bound, &request).unwrap(),
        Effect::Allow
    );
    let mut g = c.benchmark_group(format!("wasm/publish-identity-{}", workload.statements()));
    g.bench_function("native", |b| {
        b.iter(|| {
            fleet_native
                .authorize(&mut principal, black_box(&request))
                .effect
        })
    });
    g.bench_function("wasm", |b| {
        b.iter(|| fleet_wasm.authorize_bound(&bound, black_box(&request)))
    });
    g.finish();

    let mut g = c.benchmark_group("wasm/authenticate-hs256");
    g.bench_function("native", |b| {
        b.iter(|| native.authenticate(black_box(&creds), NOW))
    });
    g.bench_function("wasm", |b| {
        b.iter(|| wasm.authenticate(black_box(&creds), NOW))
    });
    g.finish();

    c.bench_function("wasm/instantiate-precompiled", |b| {
        b.iter(|| runtime.instantiate().expect("an instance"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
