//! The cost of the C ABI: the same decision made through `Engine` in Rust and through the
//! exported C functions (called from Rust, as a C host calls them), on the example policy with
//! a PSK client. The difference is what the boundary adds: argument checks, the UTF-8 check of
//! the topic, the clock, the panic boundary and the fail-closed write (target: under 50 ns).
//!
//! Both engines are built from the same files; each holds one session for the same client. On a
//! shared machine the separate Rust and C figures drift with the load between their runs, so the
//! `overhead` rows measure the difference directly: batches of 100 C calls and 100 Rust calls
//! alternate, and each sample is the C time minus the Rust time.

use std::ffi::CString;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use mqward::{
    mqward_credentials, mqward_effect, mqward_engine, mqward_engine_authenticate,
    mqward_engine_free, mqward_engine_new_from_file, mqward_identity, mqward_identity_authorize,
    mqward_identity_free, mqward_operation, mqward_request, mqward_result,
    mqward_session_authorize, mqward_session_open, mqward_session_token, MQWARD_RETAIN_UNKNOWN,
};
use mqward_core::{Config, Credentials, Engine, Request};

const CLIENT: &str = "gateway-1";
const TOPIC: &str = "sensors/sensor-9/telemetry/temp";

/// A directory with the example policy, a PSK file and a configuration naming them.
fn configuration() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mqward-bench-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.json");
    std::fs::copy(policy, dir.join("policy.json")).expect("policy");
    std::fs::write(
        dir.join("psk.txt"),
        format!("{CLIENT}:00112233445566778899aabbccddeeff\n"),
    )
    .expect("psk");
    std::fs::write(
        dir.join("mqward.json"),
        r#"{"version":1,"policy":"policy.json","psk":[{"file":"psk.txt"}]}"#,
    )
    .expect("config");
    dir
}

fn bench(c: &mut Criterion) {
    let dir = configuration();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let credentials = Credentials {
        client_id: Some(CLIENT),
        psk_identity: Some(CLIENT),
        ..Credentials::default()
    };
    let request = Request::publish(TOPIC).with_qos(1);

    // Rust: the engine itself.
    let config =
        Config::from_json(&std::fs::read(dir.join("mqward.json")).expect("read")).expect("config");
    let (engine, _) = Engine::from_config(
        &config,
        &mut |name| std::fs::read(dir.join(name)).map_err(|e| e.to_string()),
        &[7; 32],
    )
    .expect("engine");
    let token = engine
        .open_session(&credentials, now, [1; 16])
        .expect("open");
    let mut principal = engine.bind(
        engine
            .authenticate(&credentials, now)
            .expect("authenticate")
            .identity,
    );

    // C: the same configuration through the exported functions.
    let path = CString::new(dir.join("mqward.json").to_str().expect("utf-8")).expect("path");
    let c_credentials = mqward_credentials {
        client_id: CLIENT.as_ptr().cast(),
        client_id_len: CLIENT.len(),
        psk_identity: CLIENT.as_ptr().cast(),
        psk_identity_len: CLIENT.len(),
        ..mqward_credentials::default()
    };
    let c_request = mqward_request {
        operation: mqward_operation::Publish as u32,
        resource: TOPIC.as_ptr().cast(),
        resource_len: TOPIC.len(),
        qos: 1,
        retain: MQWARD_RETAIN_UNKNOWN,
    };
    let mut c_engine: *const mqward_engine = ptr::null();
    let mut c_token = mqward_session_token::default();
    let mut c_identity: *mut mqward_identity = ptr::null_mut();
    let no_report = ptr::null_mut();
    let rc =
        mqward_engine_new_from_file(path.as_ptr(), no_report, 0, ptr::null_mut(), &mut c_engine);
    assert_eq!(rc, mqward_result::Ok);
    assert_eq!(
        mqward_session_open(c_engine, &c_credentials, &mut c_token),
        mqward_result::Ok
    );
    let rc = mqward_engine_authenticate(c_engine, &c_credentials, &mut c_identity);
    assert_eq!(rc, mqward_result::Ok);
    let c_decide = |effect: &mut mqward_effect| {
        mqward_session_authorize(
            black_box(c_engine),
            black_box(&c_token),
            black_box(&c_request),
            effect,
        )
    };
    let c_decide_identity = |effect: &mut mqward_effect| {
        mqward_identity_authorize(black_box(c_identity), black_box(&c_request), effect)
    };
    let mut effect = mqward_effect::Deny;
    assert_eq!(c_decide(&mut effect), mqward_result::Ok);
    assert_eq!(effect, mqward_effect::Allow);
    assert_eq!(c_decide_identity(&mut effect), mqward_result::Ok);
    assert_eq!(effect, mqward_effect::Allow);
    assert!(engine
        .authorize_session(&token, &request, now)
        .is_ok_and(|e| e == mqward_core::Effect::Allow));

    let mut group = c.benchmark_group("ffi");
    group.bench_function("session/rust", |b| {
        b.iter(|| engine.authorize_session(black_box(&token), black_box(&request), now))
    });
    group.bench_function("session/c-abi", |b| b.iter(|| c_decide(&mut effect)));
    group.bench_function("identity/rust", |b| {
        b.iter(|| engine.authorize(&mut principal, black_box(&request)).effect)
    });
    group.bench_function("identity/c-abi", |b| {
        b.iter(|| c_decide_identity(&mut effect))
    });
    group.bench_function("session/overhead", |b| {
        b.iter_custom(|iters| {
            paired(
                iters,
                || {
                    c_decide(&mut effect);
                },
                || {
                    let _ = engine.authorize_session(black_box(&token), black_box(&request), now);
                },
            )
        })
    });
    group.bench_function("identity/overhead", |b| {
        b.iter_custom(|iters| {
            paired(
                iters,
                || {
                    c_decide_identity(&mut effect);
                },
                || {
                    black_box(engine.authorize(&mut principal, black_box(&request)).effect);
                },
            )
        })
    });
    group.finish();

    mqward_identity_free(c_identity);
    mqward_engine_free(c_engine);
    let _ = std::fs::remove_dir_all(&dir);
}

/// How much longer `iters` calls of `c` take than `iters` calls of `rust`, timed in alternating
/// batches so that both see the same load. A sample where noise made the C calls faster counts
/// as one nanosecond (criterion refuses zero), which errs on the side of a larger overhead.
fn paired(iters: u64, mut c: impl FnMut(), mut rust: impl FnMut()) -> Duration {
    const BATCH: u64 = 100;
    let (mut c_time, mut rust_time) = (Duration::ZERO, Duration::ZERO);
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let start = Instant::now();
        for _ in 0..n {
            c();
        }
        c_time += start.elapsed();
        let start = Instant::now();
        for _ in 0..n {
            rust();
        }
        rust_time += start.elapsed();
        left -= n;
    }
    c_time
        .saturating_sub(rust_time)
        .max(Duration::from_nanos(1))
}

criterion_group!(benches, bench);
criterion_main!(benches);
