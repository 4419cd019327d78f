//! A guest that loops, grows its memory without bound or traps is stopped by the limits; the
//! call answers an error (a denial), the instance is replaced, the sessions it held end with
//! `EndReason::Failed`, and the other shards go on untouched. Uses the hostile test build of
//! the module (`mqward-hostile.wasm`), whose `authorize` misbehaves on the topics
//! `hostile/loop`, `hostile/grow` and `hostile/trap`.

mod common;
#[path = "../../../core/tests/password_tools/mod.rs"]
#[allow(dead_code)]
mod password_tools;

use std::time::{Duration, Instant};

use mqward_core::{Credentials, Effect, EndReason, Event, Rejection, Request, SessionToken};
use mqward_wasmtime::{Error, WasmEngine};

const POLICY: &str = r#"{"version": 1,
  "groups": [{ "name": "all", "selectionRule": "*", "policies": ["p"] }],
  "policies": { "p": [
    { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:#"] },
    { "id": "all", "effect": "allow", "operations": ["publish"], "resources": ["topic:#"] }
  ] } }"#;

fn engine() -> WasmEngine {
    let passwd = password_tools::mosquitto_passwd(&[("bob", "hunter2")]);
    let config = br#"{"version": 1, "policy": "policy.json", "passwords": {"files": ["passwd"]}}"#;
    let (engine, _) = WasmEngine::from_config(
        common::hostile(),
        2,
        config,
        &mut |name| match name {
            "policy.json" => Ok(POLICY.as_bytes().to_vec()),
            "passwd" => Ok(passwd.as_bytes().to_vec()),
            _ => Err("missing".into()),
        },
        &[3; 32],
    )
    .expect("the hostile build loads like the real one");
    engine
}

fn open(engine: &WasmEngine, r: u8) -> SessionToken {
    let c = Credentials {
        client_id: Some("bob-1"),
        username: Some("bob"),
        password: Some(b"hunter2"),
        ..Credentials::default()
    };
    engine
        .open_session(&c, 1_000, [r; 16])
        .expect("bob logs in")
}

fn publish(engine: &WasmEngine, t: &SessionToken, topic: &str) -> Result<Effect, Error> {
    engine.authorize_session(t, &Request::publish(topic), 1_001)
}

#[test]
fn loops_memory_hogs_and_traps_are_stopped_and_answer_deny() {
    let engine = engine();
    // [1; 16] and [2; 16] land on different shards (the token's first 8 bytes, odd and even).
    let victim = open(&engine, 1);
    let bystander = open(&engine, 2);
    assert_eq!(publish(&engine, &victim, "x/y").unwrap(), Effect::Allow);

    for (topic, said) in [
        ("hostile/loop", "time limit"),
        ("hostile/grow", "trapped"),
        ("hostile/trap", "trapped"),
    ] {
        let started = Instant::now();
        let answer = publish(&engine, &victim, topic);
        assert!(
            matches!(&answer, Err(Error::Stopped(why)) if why.contains(said)),
            "{topic}: {answer:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{topic} took {:?}",
            started.elapsed()
        );

        // The victim's session went with its instance, and the host is told.
        let events = engine.drain_events();
        assert!(
            events.iter().any(|e| matches!(e, Event::Disconnect { session, reason: EndReason::Failed, .. } if *session == victim)),
            "{topic}: {events:?}"
        );
        let gone = publish(&engine, &victim, "x/y").unwrap_err();
        assert_eq!(
            gone.rejection(),
            Some(&Rejection::UnknownSession),
            "{topic}"
        );

        // The other shard never noticed; the replaced one works again.
        assert_eq!(publish(&engine, &bystander, "x/y").unwrap(), Effect::Allow);
        let again = open(&engine, 1);
        assert_eq!(again, victim);
        assert_eq!(publish(&engine, &again, "x/y").unwrap(), Effect::Allow);
    }
    assert_eq!(engine.session_count().unwrap(), 2);
}
