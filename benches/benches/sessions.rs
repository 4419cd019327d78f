//! Sessions (the Greengrass client device auth model): opening a session from an identity
//! token, and authorizing a publish by session token among 2,500 live sessions. The policy is
//! the fleet workload's at 1,000 statements plus a connect statement.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use mqward_benches::SESSION_POLICY;
use mqward_core::authn::identity_token::{issue, TokenStore};
use mqward_core::{Config, Credentials, Engine, Request, SessionToken};

const NOW: u64 = 1_700_000_000;
const SESSIONS: usize = 2_500;

fn bench(c: &mut Criterion) {
    let mut store = TokenStore::new();
    let mut tokens = Vec::new();
    for i in 0..SESSIONS {
        let mut random = [0u8; 32];
        random[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let (token, record) = issue(&format!("dev-{i}"), 86_400, NOW, &random).expect("issue");
        store.insert(record).expect("insert");
        tokens.push(token);
    }
    let store_json = store.to_json().into_bytes();
    let config = Config::from_json(
        br#"{"version":1,"policy":"p.json","identityTokens":{"store":"t.json"},
             "sessions":{"max":3000,"trustDurationSeconds":86400}}"#,
    )
    .expect("config");
    let (engine, _) = Engine::from_config(
        &config,
        &mut |name| match name {
            "p.json" => Ok(SESSION_POLICY.as_bytes().to_vec()),
            "t.json" => Ok(store_json.clone()),
            _ => Err("missing".into()),
        },
        &[1; 32],
    )
    .expect("engine");
    let mut handles: Vec<SessionToken> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let client_id = format!("dev-{i}");
        let creds = Credentials {
            client_id: Some(&client_id),
            password: Some(token.as_bytes()),
            ..Credentials::default()
        };
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(&(i as u64).to_le_bytes());
        handles.push(engine.open_session(&creds, NOW, random).expect("open"));
    }
    let last = handles[SESSIONS - 1];
    let topic = format!("fleet/dev-{}/telemetry/engine/temp", SESSIONS - 1);
    let request = Request::publish(&topic);
    assert!(engine.authorize_session(&last, &request, NOW).is_ok());

    c.bench_function("sessions/authorize-by-token/2500", |b| {
        b.iter(|| engine.authorize_session(black_box(&last), black_box(&request), NOW))
    });
    let client_id = "dev-7".to_owned();
    let creds = Credentials {
        client_id: Some(&client_id),
        password: Some(tokens[7].as_bytes()),
        ..Credentials::default()
    };
    let mut n: u64 = 1 << 40;
    c.bench_function("sessions/open-close-identity-token", |b| {
        b.iter(|| {
            n += 1;
            let mut random = [0u8; 16];
            random[..8].copy_from_slice(&n.to_le_bytes());
            let t = engine
                .open_session(black_box(&creds), NOW, random)
                .expect("open");
            engine.close_session(&t)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
