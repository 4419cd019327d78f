//! Decisions through the WebAssembly module give the native engine's answers: the decision
//! corpus of `mqward-core` (`core/tests/data/corpus/*.json`) and random documents, identities
//! and requests (the generators of core's own differential test).

mod common;
#[path = "../../../core/tests/generators/mod.rs"]
mod generators;

use std::path::Path;

use mqward_core::{CertField, Effect, Engine, Identity, IdentityKind, Operation, Request};
use mqward_wasmtime::WasmEngine;
use proptest::prelude::*;
use serde_json::Value;

fn identity(spec: &Value) -> Identity {
    let kind = IdentityKind::parse(spec["kind"].as_str().expect("a kind")).expect("a known kind");
    let mut id = Identity::new(kind);
    if let Some(v) = spec["clientId"].as_str() {
        id = id.with_client_id(v);
    }
    if let Some(v) = spec["username"].as_str() {
        id = id.with_username(v);
    }
    if let Some(v) = spec["thingName"].as_str() {
        id = id.with_thing_name(v);
    }
    for (field, v) in spec["cert"].as_object().into_iter().flatten() {
        let field = CertField::parse(field).expect("a known certificate field");
        id = id.with_cert_field(field, v.as_str().expect("text"));
    }
    for (name, v) in spec["claims"].as_object().into_iter().flatten() {
        id = id.with_claim(name.as_str(), v.as_str().expect("text"));
    }
    id
}

fn resource(request: &Value) -> Vec<u8> {
    if let Some(r) = request["resource"].as_str() {
        return r.as_bytes().to_vec();
    }
    let hex: String = request["resourceHex"]
        .as_str()
        .expect("resource or resourceHex")
        .split_whitespace()
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_decision_corpus_decides_as_native() {
    let runtime = common::runtime();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../core/tests/data/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut cases, mut load_errors, mut failures) = (0, 0, Vec::new());
    for file in &files {
        let data: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for suite in data["suites"].as_array().unwrap() {
            let policy = serde_json::to_vec(&suite["policy"]).unwrap();
            let native = Engine::from_json(&policy);
            let wasm = WasmEngine::from_json(runtime.clone(), 1, &policy);
            let (native, wasm) = match (native, wasm) {
                (Ok(n), Ok(w)) => (n, w),
                (Err(n), Err(w)) => {
                    load_errors += 1;
                    if n.to_string() != w.to_string() {
                        failures.push(format!("{name}: load errors differ:\n{n}\n{w}"));
                    }
                    continue;
                }
                (n, w) => {
                    failures.push(format!("{name}: native {:?}, wasm {:?}", n.err(), w.err()));
                    continue;
                }
            };
            for case in suite["cases"].as_array().into_iter().flatten() {
                cases += 1;
                let spec = match &case["identity"] {
                    Value::String(named) => &data["identities"][named.as_str()],
                    inline => inline,
                };
                let id = identity(spec);
                let r = &case["request"];
                let bytes = resource(r);
                let op = Operation::parse(r["operation"].as_str().unwrap()).unwrap();
                let mut request = Request::new(op, &bytes);
                request.qos = r["qos"].as_u64().map(|q| q as u8);
                request.retain = r["retain"].as_bool();

                let mut principal = native.bind(id.clone());
                let expected = native.authorize(&mut principal, &request).effect;
                let explained = principal.explain(&request).to_string();
                let bound = wasm.bind(id).unwrap();
                let effect = wasm.authorize_bound(&bound, &request).unwrap();
                let text = wasm.explain_bound(&bound, &request).unwrap().text;
                let want = if case["expect"] == "allow" {
                    Effect::Allow
                } else {
                    Effect::Deny
                };
                if effect != expected || effect != want || text != explained {
                    failures.push(format!(
                        "{name} / {}: expected {want}, native {expected}, wasm {effect}\n{explained}\n{text}",
                        case["name"]
                    ));
                }
            }
        }
    }
    assert!(
        cases >= 150,
        "only {cases} cases: corpus files went missing"
    );
    assert!(load_errors > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_documents_decide_as_native(
        doc in generators::document(),
        ids in prop::collection::vec(generators::identity(), 1..4),
        reqs in prop::collection::vec(generators::request(), 1..12),
    ) {
        let json = doc.to_json_pretty();
        let native = Engine::from_json(json.as_bytes());
        let wasm = WasmEngine::from_json(common::runtime(), 1, json.as_bytes());
        let (native, wasm) = match (native, wasm) {
            (Ok(n), Ok(w)) => (n, w),
            (Err(n), Err(w)) => {
                prop_assert_eq!(n.to_string(), w.to_string());
                return Ok(());
            }
            (n, w) => {
                return Err(TestCaseError::fail(format!("native {:?}, wasm {:?}\n{json}", n.err(), w.err())));
            }
        };
        for id in ids {
            let mut principal = native.bind(id.clone());
            let bound = wasm.bind(id.clone()).unwrap();
            for (op, res, qos, retain) in &reqs {
                let mut req = Request::new(*op, res.as_bytes());
                req.qos = *qos;
                req.retain = *retain;
                let n = native.authorize(&mut principal, &req).effect;
                let w = wasm.authorize_bound(&bound, &req).unwrap();
                prop_assert_eq!(n, w, "identity {:?}, request {:?} {:?}\n{}", id, op, res, json);
                let ne = principal.explain(&req).to_string();
                let we = wasm.explain_bound(&bound, &req).unwrap().text;
                prop_assert_eq!(ne, we);
            }
        }
    }
}
