//! The component (`mqward.component.wasm`, the core module wrapped by wit-component) runs in a
//! component host: wasmtime's component model with bindings generated from the WIT, as any
//! component host (wasmtime's C and Python APIs, jco, wasmex) would load it. It imports
//! nothing, and decides as the core module does.

mod common;

use mqward_core::{Effect, Identity, IdentityKind, Operation as Op, Request};
use mqward_wasmtime::WasmEngine;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({ path: "../wit", world: "mqward" });
}

use bindings::exports::mqward::engine::engine::{Identity as WitIdentity, Operation, Verdict};

const POLICY: &str = r#"{"version": 1,
  "groups": [{ "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["own"] }],
  "policies": { "own": [
    { "id": "telemetry", "effect": "allow", "operations": ["publish"], "resources": ["topic:sensors/${thingName}/#"] },
    { "id": "no-secrets", "effect": "deny", "operations": ["publish"], "resources": ["topic:sensors/+/secret"] }
  ] } }"#;

#[test]
fn the_component_runs_in_a_component_host_and_decides_as_the_core_module() {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).unwrap();
    let component =
        Component::from_file(&engine, common::modules().join("mqward.component.wasm")).unwrap();
    assert_eq!(component.component_type().imports(&engine).count(), 0);
    let mut store = Store::new(&engine, ());
    let mqward =
        bindings::Mqward::instantiate(&mut store, &component, &Linker::new(&engine)).unwrap();
    let api = mqward.mqward_engine_engine();
    assert_eq!(api.call_abi_version(&mut store).unwrap(), 1);
    assert!(api.call_load_policy(&mut store, b"{").unwrap().is_err());
    api.call_load_policy(&mut store, POLICY.as_bytes())
        .unwrap()
        .unwrap();
    let sensor = WitIdentity {
        kind: "certificate".into(),
        attributes: vec![
            ("thingName".into(), "sensor-7".into()),
            ("clientId".into(), "+".into()),
        ],
    };
    let handle = api.call_bind(&mut store, &sensor).unwrap().unwrap();

    // The same decisions through the core module and the host library.
    let core = WasmEngine::from_json(common::runtime(), 1, POLICY.as_bytes()).unwrap();
    let bound = core
        .bind(
            Identity::new(IdentityKind::Certificate)
                .with_thing_name("sensor-7")
                .with_client_id("+"),
        )
        .unwrap();
    for topic in [
        &b"sensors/sensor-7/t"[..],
        b"sensors/sensor-8/t",
        b"sensors/sensor-7/secret",
        b"sensors/#",
        b"",
        b"\xff\xfe",
        b"$SYS/x",
    ] {
        let verdict = api
            .call_authorize_identity(&mut store, handle, Operation::Publish, topic, None, None)
            .unwrap();
        let native = core
            .authorize_bound(&bound, &Request::new(Op::Publish, topic))
            .unwrap();
        let expected = if native == Effect::Allow {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        assert_eq!(verdict, expected, "{}", String::from_utf8_lossy(topic));
        let explained = api
            .call_explain_identity(&mut store, handle, Operation::Publish, topic, None, None)
            .unwrap()
            .unwrap();
        let text = core
            .explain_bound(&bound, &Request::new(Op::Publish, topic))
            .unwrap()
            .text;
        assert_eq!(explained.text, text);
    }
    assert!(api.call_unbind(&mut store, handle).unwrap());
}
