//! Statements a JWT carries in its `acl` claim (EMQX's two formats and native statements),
//! decided through sessions before the operator's policy; tokens signed by PyJWT at test time.

#[allow(dead_code)]
mod jwt_support;

use std::collections::BTreeMap;

use mqward_core::{
    Config, Credentials, Effect, EndReason, Engine, Event, Rejection, Request, SessionToken,
};
use serde_json::{json, Value};

use jwt_support::{hex, python, NOW};

/// An HMAC secret written as text, so the configuration reads it as it is.
const SECRET: &str = "a shared secret of thirty-two b!";

const POLICY: &str = r#"{
  "version": 1,
  "groups": [{ "name": "devices", "selectionRule": "kind: jwt", "policies": ["dev"] }],
  "policies": { "dev": [
    { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"] },
    { "id": "own", "effect": "allow", "operations": ["publish"], "resources": ["topic:dev/${clientid}/#"] },
    { "id": "secret", "effect": "deny", "operations": ["publish"], "resources": ["topic:dev/+/secret"] }
  ] }
}"#;

fn config(policy_claim: bool) -> String {
    let claim = if policy_claim {
        r#", "policyClaim": "acl""#
    } else {
        ""
    };
    format!(
        r#"{{ "version": 1, "policy": "policy.json",
  "jwt": {{ "keys": [{{ "kid": "k1", "alg": "HS256", "file": "hs.secret" }}]{claim} }},
  "sessions": {{ "trustDurationSeconds": 100 }} }}"#
    )
}

fn files(secret: &str) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("policy.json".to_owned(), POLICY.as_bytes().to_vec()),
        ("hs.secret".to_owned(), secret.as_bytes().to_vec()),
    ])
}

fn engine(policy_claim: bool) -> Engine {
    let config = Config::from_json(config(policy_claim).as_bytes()).unwrap();
    let files = files(SECRET);
    Engine::from_config(
        &config,
        &mut |n| files.get(n).cloned().ok_or_else(|| "missing".into()),
        &[7; 32],
    )
    .unwrap()
    .0
}

/// PyJWT tokens for these ACL claims, each valid for an hour.
fn tokens(acls: &[Value]) -> Vec<String> {
    let jobs = acls
        .iter()
        .map(|acl| {
            json!({
                "op": "sign", "alg": "HS256", "secret_hex": hex(SECRET.as_bytes()),
                "claims": {"sub": "sensor-1", "exp": NOW + 3600, "acl": acl},
                "headers": {"kid": "k1"}
            })
        })
        .collect();
    python(Value::Array(jobs))
        .into_iter()
        .map(|t| t.as_str().expect("a token").to_owned())
        .collect()
}

fn open(engine: &Engine, token: &str, client_id: &str, random: u8) -> SessionToken {
    engine
        .open_session(
            &Credentials {
                client_id: Some(client_id),
                password: Some(token.as_bytes()),
                ..Credentials::default()
            },
            NOW,
            [random; 16],
        )
        .unwrap()
}

fn effect(engine: &Engine, t: &SessionToken, request: Request<'_>) -> Effect {
    engine.authorize_session(t, &request, NOW).unwrap()
}

#[test]
fn token_rules_come_first_and_each_format_keeps_its_semantics() {
    let list = json!([
        {"permission": "allow", "action": "publish", "topic": "extra/${clientid}"},
        {"permission": "deny", "action": "publish", "topic": "dev/${clientid}/blocked"},
        {"permission": "allow", "action": "subscribe", "topic": "eq cmd/#", "qos": [1]}
    ]);
    let object = json!({"pub": ["extra/%c"], "sub": ["cmd/%c/+"]});
    let native = json!([{"id": "n", "effect": "allow", "operations": ["receive"],
        "resources": ["topic:news/*"], "match": "glob"}]);
    let t = tokens(&[list, object, native]);
    let engine = engine(true);
    use Effect::{Allow, Deny};

    // EMQX's list form: its rules decide first, the rest falls through to the policy.
    let s = open(&engine, &t[0], "sensor-1", 1);
    assert_eq!(
        effect(&engine, &s, Request::publish("extra/sensor-1")),
        Allow
    );
    assert_eq!(
        effect(&engine, &s, Request::publish("extra/sensor-2")),
        Deny
    );
    assert_eq!(
        effect(&engine, &s, Request::publish("dev/sensor-1/blocked")),
        Deny
    );
    assert_eq!(
        effect(&engine, &s, Request::publish("dev/sensor-1/x")),
        Allow
    );
    assert_eq!(
        effect(&engine, &s, Request::publish("dev/sensor-1/secret")),
        Deny
    );
    // `eq` is literal, and the QoS condition holds.
    assert_eq!(
        effect(&engine, &s, Request::subscribe("cmd/#").with_qos(1)),
        Allow
    );
    assert_eq!(
        effect(&engine, &s, Request::subscribe("cmd/#").with_qos(0)),
        Deny
    );
    assert_eq!(
        effect(&engine, &s, Request::subscribe("cmd/x").with_qos(1)),
        Deny
    );
    let why = engine
        .explain_session(&s, &Request::publish("extra/sensor-1"), NOW)
        .unwrap();
    assert!(why.notes.iter().any(|n| n.contains("token")), "{why}");

    // The older object form is the whole grant for publish and subscribe.
    let s = open(&engine, &t[1], "sensor-1", 2);
    assert_eq!(
        effect(&engine, &s, Request::publish("extra/sensor-1")),
        Allow
    );
    assert_eq!(
        effect(&engine, &s, Request::publish("dev/sensor-1/x")),
        Deny
    );
    assert_eq!(
        effect(&engine, &s, Request::subscribe("cmd/sensor-1/+")),
        Allow
    );
    assert_eq!(
        effect(&engine, &s, Request::receive("cmd/sensor-1/go")),
        Allow
    );
    assert_eq!(effect(&engine, &s, Request::subscribe("cmd/#")), Deny);

    // Native statements fall through like the list form.
    let s = open(&engine, &t[2], "sensor-1", 3);
    assert_eq!(effect(&engine, &s, Request::receive("news/a/b")), Allow);
    assert_eq!(
        effect(&engine, &s, Request::publish("dev/sensor-1/x")),
        Allow
    );
}

#[test]
fn hostile_client_ids_never_widen_a_token_grant() {
    let acl = json!([
        {"permission": "allow", "action": "all", "topic": "extra/${clientid}/#"},
        {"permission": "deny", "action": "subscribe", "topic": "extra/${clientid}/private"}
    ]);
    let t = tokens(&[acl]);
    let engine = engine(true);
    for (i, id) in ["+", "#", "a/b", "+/#"].into_iter().enumerate() {
        let random = u8::try_from(i).unwrap() + 10;
        let s = open(&engine, &t[0], id, random);
        for filter in ["extra/#", "extra/+/#", "extra/a/#", "extra/+", "#"] {
            assert_eq!(
                effect(&engine, &s, Request::subscribe(filter)),
                Effect::Deny,
                "client id `{id}` subscribing to `{filter}`"
            );
        }
        for topic in ["extra/a/b", "extra/x", "extra"] {
            assert_eq!(
                effect(&engine, &s, Request::publish(topic)),
                Effect::Deny,
                "client id `{id}` publishing to `{topic}`"
            );
        }
    }
}

#[test]
fn the_claim_is_ignored_unless_configured_and_a_bad_claim_fails_authentication() {
    let good = json!([{"permission": "allow", "action": "publish", "topic": "extra/#"}]);
    let bad = json!([{"permission": "allow", "action": "connect", "topic": "x"}]);
    let unknown_variable = json!([{"permission": "allow", "action": "publish",
        "topic": "t/${peerhost}"}]);
    let t = tokens(&[good, bad, unknown_variable]);

    let plain = engine(false);
    let s = open(&plain, &t[0], "sensor-1", 1);
    assert_eq!(
        effect(&plain, &s, Request::publish("extra/x")),
        Effect::Deny
    );

    let engine = engine(true);
    for token in &t[1..] {
        let err = engine
            .open_session(
                &Credentials {
                    client_id: Some("sensor-1"),
                    password: Some(token.as_bytes()),
                    ..Credentials::default()
                },
                NOW,
                [9; 16],
            )
            .unwrap_err();
        assert!(
            matches!(err.rejection(), Some(Rejection::Malformed(m)) if m.contains("policy claim")),
            "{err}"
        );
    }
}

#[test]
fn a_rotated_key_ends_token_sessions_at_the_next_verification() {
    let acl = json!([{"permission": "allow", "action": "publish", "topic": "extra/#"}]);
    let t = tokens(&[acl]);
    let engine = engine(true);
    let s = open(&engine, &t[0], "sensor-1", 1);
    // Verified again at the end of the trust duration: same key, the session goes on.
    assert_eq!(
        engine
            .authorize_session(&s, &Request::publish("extra/x"), NOW + 100)
            .unwrap(),
        Effect::Allow
    );
    let config = Config::from_json(config(true).as_bytes()).unwrap();
    let rotated = files("another secret, thirty-two bytes");
    engine
        .reload_config(
            &config,
            &mut |n| rotated.get(n).cloned().ok_or_else(|| "missing".into()),
            &[8; 32],
        )
        .unwrap();
    engine.drain_events();
    assert_eq!(
        engine
            .authorize_session(&s, &Request::publish("extra/x"), NOW + 199)
            .unwrap(),
        Effect::Allow,
        "trusted until the next verification"
    );
    engine.tick(NOW + 200);
    assert!(matches!(
        engine.drain_events().as_slice(),
        [Event::Disconnect {
            reason: EndReason::TrustExpired,
            ..
        }]
    ));
    assert_eq!(engine.session_count(), 0);
}
