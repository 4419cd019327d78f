//! End to end through the engine configuration: certificates made at test time, a registry,
//! identity tokens and declared identities; sessions opened, authorized by token (and by
//! Greengrass strings), ended by suspension, revocation, expiry and trust duration.

mod x509_pki;

use std::collections::BTreeMap;

use mqward_core::authn::identity_token::{issue, TokenStore};
use mqward_core::authn::registry::{CertState, Registry};
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{
    CertAction, Config, Credentials, Effect, EndReason, Engine, Error, Event, Rejection, Request,
    SessionToken,
};
use x509_pki::{Ca, Leaf, NOW};

const POLICY: &str = r#"{
  "version": 1,
  "groups": [{ "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["own"] }],
  "policies": { "own": [
    { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:${thingName}"] },
    { "id": "telemetry", "effect": "allow", "operations": ["publish"], "resources": ["topic:sensors/${thingName}/#"] },
    { "id": "cmd", "effect": "allow", "operations": ["subscribe"], "resources": ["topicfilter:cmd/${thingName}/+"] }
  ] }
}"#;

struct Setup {
    files: BTreeMap<String, Vec<u8>>,
    leaf_der: Vec<u8>,
    other_der: Vec<u8>,
    token: String,
}

fn setup() -> Setup {
    let root = Ca::root("mqward test root");
    let leaf = root.leaf(&Leaf::new("sensor-1", 1)).der().to_vec();
    let other = root.leaf(&Leaf::new("sensor-2", 2)).der().to_vec();
    let mut registry = Registry::new();
    registry
        .register(Fingerprint::of(&leaf), Some("sensor-1".into()))
        .unwrap();
    registry
        .register(Fingerprint::of(&other), Some("sensor-2".into()))
        .unwrap();
    let mut store = TokenStore::new();
    let (token, record) = issue("sensor-9", 600, NOW, &[42; 32]).unwrap();
    store.insert(record).unwrap();
    let mut files = BTreeMap::new();
    files.insert("policy.json".to_owned(), POLICY.as_bytes().to_vec());
    files.insert("ca.pem".to_owned(), root.pem().into_bytes());
    files.insert("registry.json".to_owned(), registry.to_json());
    files.insert("tokens.json".to_owned(), store.to_json().into_bytes());
    Setup {
        files,
        leaf_der: leaf,
        other_der: other,
        token,
    }
}

const CONFIG: &str = r#"{
  "version": 1,
  "policy": "policy.json",
  "certificates": {
    "trustAnchors": ["ca.pem"], "registry": "registry.json",
    "mapping": { "thingName": "cert.subject.cn" }
  },
  "identityTokens": { "store": "tokens.json" },
  "sessions": { "max": 3, "trustDurationSeconds": 100 }
}"#;

fn engine(s: &Setup, config: &str) -> Engine {
    let config = Config::from_json(config.as_bytes()).unwrap();
    let (engine, warnings) = Engine::from_config(
        &config,
        &mut |name| s.files.get(name).cloned().ok_or_else(|| "missing".into()),
        &[1; 32],
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    engine
}

fn cert<'a>(der: &'a [u8], client_id: &'a str) -> Credentials<'a> {
    Credentials {
        client_id: Some(client_id),
        certificate: Some(der),
        ..Credentials::default()
    }
}

fn rejection(e: Error) -> Rejection {
    e.rejection().cloned().expect("a rejection")
}

#[test]
fn certificate_session_lifecycle() {
    let s = setup();
    let engine = engine(&s, CONFIG);
    engine.verify_certificate(&s.leaf_der, NOW).unwrap();
    assert!(
        engine.drain_events().is_empty(),
        "verify alone changes nothing"
    );

    let token = engine
        .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [1; 16])
        .unwrap();
    // First use: inactive -> active, reported once for the host to persist.
    let events = engine.drain_events();
    assert!(
        matches!(&events[..], [Event::StateChanged(c)] if c.to == CertState::Active),
        "{events:?}"
    );
    let reopened = engine
        .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [2; 16])
        .unwrap();
    assert!(engine.drain_events().is_empty());
    assert!(engine.close_session(&reopened));

    let allow =
        |t: &SessionToken, r: Request<'_>| engine.authorize_session(t, &r, NOW + 1).unwrap();
    assert_eq!(
        allow(&token, Request::publish("sensors/sensor-1/t")),
        Effect::Allow
    );
    assert_eq!(
        allow(&token, Request::publish("sensors/sensor-2/t")),
        Effect::Deny
    );
    assert_eq!(
        allow(&token, Request::subscribe("cmd/sensor-1/+")),
        Effect::Allow
    );
    assert_eq!(
        allow(&token, Request::subscribe("cmd/sensor-1/#")),
        Effect::Deny
    );
    assert_eq!(allow(&token, Request::publish("$SYS/x")), Effect::Deny);
    assert_eq!(
        engine
            .authorize_session_greengrass(
                &token,
                "mqtt:publish",
                "mqtt:topic:sensors/sensor-1/a",
                NOW
            )
            .unwrap(),
        Effect::Allow
    );
    assert_eq!(
        engine
            .authorize_session_greengrass(
                &token,
                "mqtt:subscribe",
                "mqtt:topicfilter:cmd/sensor-1/+",
                NOW
            )
            .unwrap(),
        Effect::Allow
    );
    assert!(engine
        .authorize_session_greengrass(&token, "mqtt:publish", "mqtt:topicfilter:a", NOW)
        .is_err());
    assert!(engine
        .authorize_session_greengrass(&token, "iot:publish", "mqtt:topic:a", NOW)
        .is_err());

    // Suspension ends the session at once, with an event naming the client.
    let fp = Fingerprint::of(&s.leaf_der);
    engine
        .set_certificate_state(&fp, CertAction::Suspend)
        .unwrap();
    let events = engine.drain_events();
    assert!(
        events.iter().any(|e| matches!(e,
        Event::Disconnect { session, client_id: Some(c), reason: EndReason::Suspended }
            if *session == token && c == "sensor-1")),
        "{events:?}"
    );
    assert_eq!(
        rejection(
            engine
                .authorize_session(&token, &Request::publish("sensors/sensor-1/t"), NOW)
                .unwrap_err()
        ),
        Rejection::UnknownSession
    );
    assert_eq!(
        rejection(
            engine
                .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [3; 16])
                .unwrap_err()
        ),
        Rejection::Suspended
    );
    // Reactivated: accepted again. Revoked: final.
    engine
        .set_certificate_state(&fp, CertAction::Reactivate)
        .unwrap();
    let again = engine
        .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [4; 16])
        .unwrap();
    engine
        .set_certificate_state(&fp, CertAction::Revoke)
        .unwrap();
    assert!(engine
        .authorize_session(&again, &Request::publish("sensors/sensor-1/t"), NOW)
        .is_err());
    assert!(engine
        .set_certificate_state(&fp, CertAction::Reactivate)
        .is_err());
    assert_eq!(
        rejection(
            engine
                .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [5; 16])
                .unwrap_err()
        ),
        Rejection::Revoked
    );
    let persisted = Registry::parse("registry.json", &engine.registry_json()).unwrap();
    assert_eq!(persisted.state(&fp), Some(CertState::Revoked));
}

#[test]
fn connect_permission_is_required_for_the_client_id() {
    let s = setup();
    let engine = engine(&s, CONFIG);
    // The certificate maps sensor-1, which may only connect as sensor-1.
    assert_eq!(
        rejection(
            engine
                .open_session(&cert(&s.leaf_der, "sensor-2"), NOW, [1; 16])
                .unwrap_err()
        ),
        Rejection::ConnectDenied
    );
    for hostile in ["+", "#", "sensor-1/x", ""] {
        assert!(
            engine
                .open_session(&cert(&s.leaf_der, hostile), NOW, [1; 16])
                .is_err(),
            "{hostile}"
        );
    }
}

fn reload(engine: &Engine, s: &Setup) {
    let config = Config::from_json(CONFIG.as_bytes()).unwrap();
    engine
        .reload_config(
            &config,
            &mut |n| s.files.get(n).cloned().ok_or_else(|| "missing".into()),
            &[2; 32],
        )
        .unwrap();
}

fn disconnects(engine: &Engine) -> Vec<(SessionToken, EndReason)> {
    engine
        .drain_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Disconnect {
                session, reason, ..
            } => Some((session, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn trust_duration_verifies_the_identity_again_and_the_table_is_bounded() {
    let mut s = setup();
    let engine = engine(&s, CONFIG);
    let t1 = engine
        .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [1; 16])
        .unwrap();
    let t2 = engine
        .open_session(&cert(&s.other_der, "sensor-2"), NOW, [2; 16])
        .unwrap();
    let t3 = engine
        .open_session(&cert(&s.other_der, "sensor-2"), NOW, [3; 16])
        .unwrap();
    assert_eq!(
        rejection(
            engine
                .open_session(&cert(&s.other_der, "sensor-2"), NOW, [4; 16])
                .unwrap_err()
        ),
        Rejection::TooManySessions
    );
    // The trust duration passes: the certificate is verified again, still good, so the session
    // goes on (trusted for another 100 s).
    let publish = Request::publish("sensors/sensor-1/a");
    assert_eq!(
        engine.authorize_session(&t1, &publish, NOW + 100).unwrap(),
        Effect::Allow
    );
    // The operator revokes sensor-2 in the registry file and reloads: its sessions end as
    // revoked when their identity is verified again (here by the timer).
    let mut registry = Registry::parse("registry.json", &s.files["registry.json"]).unwrap();
    registry.revoke(&Fingerprint::of(&s.other_der)).unwrap();
    s.files.insert("registry.json".into(), registry.to_json());
    reload(&engine, &s);
    engine.drain_events();
    engine.tick(NOW + 99);
    assert!(disconnects(&engine).is_empty(), "nothing is due yet");
    engine.tick(NOW + 150);
    let mut ended = disconnects(&engine);
    ended.sort_by_key(|(t, _)| t.to_string());
    assert_eq!(ended, [(t2, EndReason::Revoked), (t3, EndReason::Revoked)]);
    assert_eq!(engine.session_count(), 1);
    // A policy that withdraws sensor-1's connect permission ends its session at its next
    // verification, not before.
    s.files.insert(
        "policy.json".into(),
        POLICY
            .replace("clientId:${thingName}", "clientId:nobody")
            .into_bytes(),
    );
    reload(&engine, &s);
    assert_eq!(
        engine.authorize_session(&t1, &publish, NOW + 199).unwrap(),
        Effect::Allow
    );
    assert_eq!(
        rejection(
            engine
                .authorize_session(&t1, &publish, NOW + 200)
                .unwrap_err()
        ),
        Rejection::UnknownSession
    );
    assert_eq!(disconnects(&engine), [(t1, EndReason::TrustExpired)]);
    assert_eq!(engine.session_count(), 0);
}

#[test]
fn identity_token_sessions_end_when_the_token_expires() {
    let s = setup();
    let engine = engine(&s, CONFIG);
    let creds = Credentials {
        client_id: Some("sensor-9"),
        password: Some(s.token.as_bytes()),
        ..Credentials::default()
    };
    let t = engine.open_session(&creds, NOW, [9; 16]).unwrap();
    assert_eq!(
        engine
            .authorize_session(&t, &Request::publish("sensors/sensor-9/a"), NOW + 50)
            .unwrap(),
        Effect::Allow
    );
    // The token lives 600 s, the trust duration 100 s: verified again at 100 s, it goes on
    // until the token expires.
    assert_eq!(
        engine
            .authorize_session(&t, &Request::publish("sensors/sensor-9/a"), NOW + 100)
            .unwrap(),
        Effect::Allow
    );
    engine.drain_events();
    engine.tick(NOW + 600);
    assert_eq!(disconnects(&engine), [(t, EndReason::Expired)]);
    // A token taken out of the store ends its session at the next verification.
    let t = engine.open_session(&creds, NOW, [6; 16]).unwrap();
    let mut emptied = Setup {
        files: s.files.clone(),
        leaf_der: Vec::new(),
        other_der: Vec::new(),
        token: String::new(),
    };
    emptied.files.insert(
        "tokens.json".into(),
        TokenStore::new().to_json().into_bytes(),
    );
    reload(&engine, &emptied);
    assert!(engine
        .authorize_session(&t, &Request::publish("sensors/sensor-9/a"), NOW + 100)
        .is_err());
    assert_eq!(disconnects(&engine), [(t, EndReason::TrustExpired)]);
    let forged = s.token.replace('A', "B").replace('a', "b");
    let forged = Credentials {
        password: Some(forged.as_bytes()),
        ..creds
    };
    if forged.password != creds.password {
        assert!(engine.open_session(&forged, NOW, [8; 16]).is_err());
    }
    assert!(
        engine.open_session(&creds, NOW + 600, [7; 16]).is_err(),
        "expired token"
    );
}

#[test]
fn declared_identities_are_off_unless_configured_and_warned_about() {
    let s = setup();
    let creds = Credentials {
        client_id: Some("sensor-5"),
        username: Some("SYSTEM//sensor-5"),
        ..Credentials::default()
    };
    let off = engine(&s, CONFIG);
    assert_eq!(
        rejection(off.open_session(&creds, NOW, [1; 16]).unwrap_err()),
        Rejection::Disabled
    );
    let on_config = CONFIG.replace("\"sessions\"", "\"declaredIdentities\": true, \"sessions\"");
    let config = Config::from_json(on_config.as_bytes()).unwrap();
    let (on, warnings) = Engine::from_config(
        &config,
        &mut |name| s.files.get(name).cloned().ok_or_else(|| "missing".into()),
        &[1; 32],
    )
    .unwrap();
    assert_eq!(warnings.len(), 1);
    let t = on.open_session(&creds, NOW, [1; 16]).unwrap();
    assert_eq!(
        on.authorize_session(&t, &Request::publish("sensors/sensor-5/x"), NOW)
            .unwrap(),
        Effect::Allow
    );
}

#[test]
fn reload_applies_to_live_sessions_and_a_bad_reload_keeps_everything() {
    let mut s = setup();
    let engine = engine(&s, CONFIG);
    let t = engine
        .open_session(&cert(&s.leaf_der, "sensor-1"), NOW, [1; 16])
        .unwrap();
    let publish = Request::publish("sensors/sensor-1/a");
    assert_eq!(
        engine.authorize_session(&t, &publish, NOW).unwrap(),
        Effect::Allow
    );
    s.files.insert(
        "policy.json".into(),
        POLICY
            .replace("sensors/${thingName}/#", "other/#")
            .into_bytes(),
    );
    reload(&engine, &s);
    let config = Config::from_json(CONFIG.as_bytes()).unwrap();
    assert_eq!(
        engine.authorize_session(&t, &publish, NOW).unwrap(),
        Effect::Deny
    );
    s.files.insert("policy.json".into(), b"{ not json".to_vec());
    let err = engine
        .reload_config(
            &config,
            &mut |n| s.files.get(n).cloned().ok_or_else(|| "missing".into()),
            &[3; 32],
        )
        .unwrap_err();
    assert!(err.to_string().contains("policy.json"), "{err}");
    assert_eq!(
        engine
            .authorize_session(&t, &Request::publish("other/x"), NOW)
            .unwrap(),
        Effect::Allow
    );
}
