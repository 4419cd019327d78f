//! Many threads decide at once while another reloads: four threads decide for their own bound
//! identities and sessions across four shards while a fifth swaps between two policies 100
//! times, with a broken document between each. The topics both policies agree on must always
//! get that answer; no call fails.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use mqward_core::{Effect, Identity, IdentityKind, Request};
use mqward_wasmtime::WasmEngine;

fn policy(variant: &str) -> String {
    format!(
        r#"{{"version": 1,
  "groups": [{{ "name": "all", "selectionRule": "thingName: dev-*", "policies": ["p"] }}],
  "policies": {{ "p": [
    {{ "id": "own", "effect": "allow", "operations": ["publish"], "resources": ["topic:own/${{thingName}}/#"] }},
    {{ "id": "variant", "effect": "allow", "operations": ["publish"], "resources": ["topic:{variant}/#"] }},
    {{ "id": "never", "effect": "deny", "operations": ["publish"], "resources": ["topic:own/+/secret"] }}
  ] }} }}"#
    )
}

#[test]
fn four_threads_decide_while_a_fifth_reloads_100_times() {
    let a = policy("a");
    let b = policy("b");
    let engine = Arc::new(WasmEngine::from_json(common::runtime(), 4, a.as_bytes()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let deciders: Vec<_> = (0..4)
        .map(|n| {
            let engine = engine.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let me = format!("dev-{n}");
                let bound = engine
                    .bind(Identity::new(IdentityKind::Certificate).with_thing_name(me.as_str()))
                    .unwrap();
                let mut decided = 0u64;
                let (mut saw_a, mut saw_b) = (false, false);
                while !stop.load(Ordering::Relaxed) || decided < 2_000 {
                    let ask = |topic: &str| {
                        engine
                            .authorize_bound(&bound, &Request::publish(topic))
                            .unwrap()
                    };
                    assert_eq!(ask(&format!("own/{me}/t")), Effect::Allow);
                    assert_eq!(ask(&format!("own/{me}/secret")), Effect::Deny);
                    assert_eq!(ask("own/dev-x/t"), Effect::Deny);
                    // Each of these follows whichever policy is in force at that moment.
                    let (in_a, in_b) = (ask("a/t"), ask("b/t"));
                    saw_a |= in_a == Effect::Allow;
                    saw_b |= in_b == Effect::Allow;
                    decided += 5;
                }
                (decided, saw_a, saw_b)
            })
        })
        .collect();
    for i in 0..100 {
        let next = if i % 2 == 0 { &b } else { &a };
        engine.reload_json(next.as_bytes()).unwrap();
        // A broken document in between changes nothing.
        assert!(engine
            .reload_json(b"{\"version\": 1, \"policies\": 3}")
            .is_err());
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for d in deciders {
        let (decided, saw_a, saw_b) = d.join().expect("no decider panicked");
        total += decided;
        assert!(saw_a || saw_b);
    }
    assert!(total >= 8_000, "{total}");
    // 100 reloads end on policy `a`.
    let probe = engine
        .bind(Identity::new(IdentityKind::Certificate).with_thing_name("dev-9"))
        .unwrap();
    assert_eq!(
        engine
            .authorize_bound(&probe, &Request::publish("a/t"))
            .unwrap(),
        Effect::Allow
    );
}
