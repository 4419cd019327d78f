//! Where a publish decision's time goes: the same request against small documents that each add
//! one kind of matcher, so differences between rows price the parts (request checks, the trie,
//! variables, the exact map, the glob set, glob templates, a second policy).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mqward_core::{Builder, Document, Identity, IdentityKind, Request, Strategy};

const TOPIC: &str = "fleet/fam-0000/fam-0000-dev-000000/telemetry/engine/temp";

/// Allows the request through a `${thingName}` MQTT pattern.
const TELEMETRY: &str = r#"{ "id": "telemetry", "effect": "allow", "operations": ["publish"],
    "resources": ["topic:fleet/fam-0000/${thingName}/telemetry/#"] }"#;

/// `(name, selection rule, extra statements of policy p, statements of a second policy q)`.
const DOCUMENTS: [(&str, &str, &str, &str); 9] = [
    ("no-policy", "thingName: nobody", "", ""),
    ("mqtt-literal", "*", "LITERAL", ""),
    ("mqtt-var", "*", "", ""),
    (
        "mqtt-var+deny",
        "*",
        r#"{ "id": "secret", "effect": "deny", "operations": ["publish"],
            "resources": ["topic:fleet/fam-0000/+/secret/#"] }"#,
        "",
    ),
    (
        "mqtt-var+exact",
        "*",
        r#"{ "id": "config", "effect": "allow", "operations": ["publish"], "match": "exact",
            "resources": ["topic:fleet/fam-0000/fam-0000-dev-000000/config"] }"#,
        "",
    ),
    (
        "mqtt-var+globset",
        "*",
        r#"{ "id": "shadow", "effect": "allow", "operations": ["publish"], "match": "glob",
            "resources": ["topic:fleet/fam-0000/shadow/*"] }"#,
        "",
    ),
    (
        "mqtt-var+glob-var",
        "*",
        r#"{ "id": "cmd", "effect": "allow", "operations": ["publish"], "match": "glob",
            "resources": ["topic:fleet/fam-0000/${thingName}/cmd/*"] }"#,
        "",
    ),
    (
        "mqtt-var+second-policy",
        "*",
        "",
        r#"{ "id": "public", "effect": "allow", "operations": ["publish"],
            "resources": ["topic:public/#"] }"#,
    ),
    ("mqtt-var+unrelated-kinds", "*", "KINDS", ""),
];

fn document(rule: &str, extra: &str, second: &str) -> Document {
    let telemetry = if extra == "LITERAL" {
        TELEMETRY.replace("${thingName}", "fam-0000-dev-000000")
    } else {
        TELEMETRY.to_string()
    };
    let extra = match extra {
        "LITERAL" => "",
        // Subscribe-side and client id patterns: other kinds, never consulted for a publish.
        "KINDS" => {
            r#"{ "id": "sub", "effect": "allow", "operations": ["subscribe"],
                "resources": ["topicfilter:fleet/fam-0000/${thingName}/cmd/#", "clientId:${thingName}"] }"#
        }
        other => other,
    };
    let statements = if extra.is_empty() {
        telemetry
    } else {
        format!("{telemetry}, {extra}")
    };
    let (attach, second_policy) = if second.is_empty() {
        (r#"["p"]"#.to_string(), String::new())
    } else {
        (r#"["p", "q"]"#.to_string(), format!(r#", "q": [{second}]"#))
    };
    let json = format!(
        r#"{{ "version": 1,
            "groups": [{{ "name": "g", "selectionRule": "{rule}", "policies": {attach} }}],
            "policies": {{ "p": [{statements}]{second_policy} }} }}"#
    );
    match Document::from_json(json.as_bytes()) {
        Ok(doc) => doc,
        Err(e) => panic!("{json}: {e}"),
    }
}

fn anatomy(c: &mut Criterion) {
    let identity = Identity::new(IdentityKind::Certificate)
        .with_thing_name("fam-0000-dev-000000")
        .with_client_id("fam-0000-dev-000000");
    let request = Request::publish(TOPIC).with_qos(1);
    let mut group = c.benchmark_group("anatomy-publish");
    for (name, rule, extra, second) in DOCUMENTS {
        let doc = document(rule, extra, second);
        for (strategy_name, strategy) in
            [("indexed", Strategy::Indexed), ("linear", Strategy::Linear)]
        {
            let snapshot = match Builder::new().strategy(strategy).build(&doc) {
                Ok(s) => Arc::new(s),
                Err(e) => panic!("{name}: {e}"),
            };
            let principal = snapshot.bind(identity.clone());
            let allowed = principal.decide(&request).is_allowed();
            assert_eq!(allowed, name != "no-policy", "{name} {strategy_name}");
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/{strategy_name}"), 1),
                &request,
                |b, request| b.iter(|| principal.decide(black_box(request))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, anatomy);
criterion_main!(benches);
