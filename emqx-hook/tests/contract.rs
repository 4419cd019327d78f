//! The ExHook contract, checked with a Rust tonic client generated from the repository's
//! `.proto` files, over both `emqx.exhook.v2` and `emqx.exhook.v3` paths, against the server
//! started in process on 127.0.0.1:0 with a password file made by `mosquitto_passwd`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mqward_emqx::proto::v2::client_authorize_request::AuthorizeReqType;
use mqward_emqx::proto::v2::{
    ClientAuthenticateRequest, ClientAuthorizeRequest, ClientInfo, MessagePublishRequest,
};
use mqward_emqx::HOOKS;

#[tokio::test]
async fn provider_loaded_announces_the_served_hooks() {
    let s = setup("");
    let server = start(&s).await;
    for version in VERSIONS {
        let hooks = Client::connect(&server, version).await.loaded().await.hooks;
        let names: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, HOOKS, "{version:?}");
        assert!(hooks.iter().all(|h| h.topics.is_empty()));
    }
}

#[tokio::test]
async fn passwords_authenticate_and_sessions_decide() {
    let s = setup("");
    let server = start(&s).await;
    for version in VERSIONS {
        let mut c = Client::connect(&server, version).await;
        let id = format!("alice-{version:?}");
        let alice = client(&id, "alice", "correct horse");
        assert_eq!(
            c.authenticate(alice.clone()).await,
            stop(true),
            "{version:?}"
        );
        c.connected(&alice).await;
        assert_eq!(c.publish(&alice, "devices/alice/temp").await, stop(true));
        assert_eq!(c.publish(&alice, "devices/bob/temp").await, stop(false));
        assert_eq!(c.publish(&alice, "devices/alice/secret").await, stop(false));
        assert_eq!(c.subscribe(&alice, "cmd/alice/#").await, stop(true));
        assert_eq!(c.subscribe(&alice, "cmd/#").await, stop(false));
        assert_eq!(
            c.subscribe(&alice, "$share/g/cmd/alice/reboot").await,
            stop(true)
        );

        for (user, password) in [
            ("bob", "correct horse"),
            ("bob", ""),
            ("mallory", "battery staple"),
            ("", "battery staple"),
        ] {
            let refused = client(&format!("{user}-{version:?}"), user, password);
            assert_eq!(
                c.authenticate(refused.clone()).await,
                stop(false),
                "{user}/{password}"
            );
            // Refused, so unknown: its authorizations are denied.
            assert_eq!(
                c.publish(&refused, &format!("devices/{user}/t")).await,
                stop(false)
            );
        }
        let bob = client(&format!("bob-{version:?}"), "bob", "battery staple");
        assert_eq!(c.authenticate(bob.clone()).await, stop(true));
        assert_eq!(c.publish(&bob, "devices/bob/temp").await, stop(true));
        // A client mqward never saw is denied.
        let stranger = client("stranger", "alice", "correct horse");
        assert_eq!(
            c.publish(&stranger, "devices/alice/temp").await,
            stop(false)
        );
        assert_eq!(c.subscribe(&stranger, "cmd/alice/#").await, stop(false));
    }
}

#[tokio::test]
async fn both_packages_share_the_sessions() {
    let s = setup("");
    let server = start(&s).await;
    let mut v2 = Client::connect(&server, Version::V2).await;
    let mut v3 = Client::connect(&server, Version::V3).await;
    let alice = client("alice", "alice", "correct horse");
    assert_eq!(v2.authenticate(alice.clone()).await, stop(true));
    assert_eq!(v3.publish(&alice, "devices/alice/t").await, stop(true));
    v3.disconnected(&alice).await;
    assert_eq!(v2.publish(&alice, "devices/alice/t").await, stop(false));
}

#[tokio::test]
async fn requests_mqward_does_not_own_pass_through_when_configured() {
    let s = setup(r#", "onRefusedLogin": "ignore", "onUnknownClient": "ignore""#);
    let server = start(&s).await;
    for version in VERSIONS {
        let mut c = Client::connect(&server, version).await;
        // Refused credentials: the chain's result stands, whichever it was.
        for chain_result in [false, true] {
            let request = ClientAuthenticateRequest {
                clientinfo: Some(client("m", "mallory", "guess")),
                result: chain_result,
                meta: None,
            };
            assert_eq!(c.authenticate_raw(request).await, ignore(chain_result));
        }
        // A client another authenticator let in: EMQX's next source decides.
        let other = client("other", "x", "");
        for chain_result in [false, true] {
            let request = ClientAuthorizeRequest {
                clientinfo: Some(other.clone()),
                r#type: AuthorizeReqType::Publish as i32,
                topic: "a/b".to_owned(),
                result: chain_result,
                meta: None,
            };
            assert_eq!(c.authorize_raw(request).await, ignore(chain_result));
        }
        // What mqward owns it still decides.
        let alice = client(&format!("a-{version:?}"), "alice", "correct horse");
        assert_eq!(c.authenticate(alice.clone()).await, stop(true));
        assert_eq!(c.publish(&alice, "devices/bob/t").await, stop(false));
        // Malformed requests are never passed on.
        let mut nameless = other.clone();
        nameless.clientid.clear();
        assert_eq!(c.publish(&nameless, "a/b").await, stop(false));
    }
}

#[tokio::test]
async fn malformed_requests_are_denied() {
    let s = setup(r#", "onRefusedLogin": "ignore", "onUnknownClient": "ignore""#);
    let server = start(&s).await;
    for version in VERSIONS {
        let mut c = Client::connect(&server, version).await;
        let empty = ClientAuthenticateRequest::default();
        assert_eq!(c.authenticate_raw(empty).await, stop(false));
        assert_eq!(
            c.authenticate(client("", "alice", "correct horse")).await,
            stop(false)
        );

        let alice = client(&format!("alice-{version:?}"), "alice", "correct horse");
        assert_eq!(c.authenticate(alice.clone()).await, stop(true));
        assert_eq!(
            c.authorize_raw(ClientAuthorizeRequest::default()).await,
            stop(false)
        );
        let unknown_type = ClientAuthorizeRequest {
            clientinfo: Some(alice.clone()),
            r#type: 7,
            topic: "devices/alice/t".to_owned(),
            result: true,
            meta: None,
        };
        assert_eq!(c.authorize_raw(unknown_type).await, stop(false));
        for topic in [
            "",
            "devices/alice/+",
            "devices/alice/#",
            "devices/alice/a\u{0}b",
        ] {
            assert_eq!(c.publish(&alice, topic).await, stop(false), "{topic:?}");
        }
        for filter in ["", "cmd/alice/#/x", "cmd/alice/a+", "$share//cmd/alice/x"] {
            assert_eq!(c.subscribe(&alice, filter).await, stop(false), "{filter:?}");
        }
        // The session is still there after all that.
        assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(true));
    }
}

#[tokio::test]
async fn reload_changes_decisions_and_a_bad_reload_keeps_the_old() {
    let s = setup("");
    let server = start(&s).await;
    let mut c = Client::connect(&server, Version::V3).await;
    let alice = client("alice", "alice", "correct horse");
    assert_eq!(c.authenticate(alice.clone()).await, stop(true));
    assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(true));
    assert_eq!(c.publish(&alice, "telemetry/alice/t").await, stop(false));

    s.write("policy.json", RELOADED_POLICY);
    mosquitto_passwd(&s.path("passwd"), &USERS[..1]);
    server.reload().await.unwrap();
    // The live session follows the new policy at once.
    assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(false));
    assert_eq!(c.publish(&alice, "telemetry/alice/t").await, stop(true));
    // bob left the password file.
    let bob = client("bob", "bob", "battery staple");
    assert_eq!(c.authenticate(bob).await, stop(false));

    // A broken policy is refused, naming the file; the previous one stays in force.
    s.write(
        "policy.json",
        r#"{"version": 1, "policies": {"p": [{"id": "x"}]}}"#,
    );
    let err = server.reload().await.unwrap_err().to_string();
    assert!(err.contains("policy.json"), "{err}");
    std::fs::remove_file(s.path("passwd")).unwrap();
    let err = server.reload().await.unwrap_err().to_string();
    assert!(err.contains("passwd"), "{err}");
    assert_eq!(c.publish(&alice, "telemetry/alice/t").await, stop(true));
    let again = client("alice-2", "alice", "correct horse");
    assert_eq!(c.authenticate(again.clone()).await, stop(true));
    assert_eq!(c.publish(&again, "telemetry/alice/t").await, stop(true));
}

#[tokio::test]
async fn disconnect_closes_only_that_connections_session() {
    let s = setup("");
    let server = start(&s).await;
    let mut c = Client::connect(&server, Version::V2).await;
    let first = client("alice", "alice", "correct horse");
    let mut second = first.clone();
    second.peerport += 1;
    assert_eq!(c.authenticate(first.clone()).await, stop(true));
    c.connected(&first).await;
    // The client reconnects and takes its session over; the old connection's disconnect
    // arrives after the new login.
    assert_eq!(c.authenticate(second.clone()).await, stop(true));
    assert_eq!(c.publish(&first, "devices/alice/t").await, stop(false));
    c.disconnected(&first).await;
    assert_eq!(c.publish(&second, "devices/alice/t").await, stop(true));
    assert_eq!(server.service().client_count(), 1);
    c.disconnected(&second).await;
    assert_eq!(server.service().client_count(), 0);
    assert_eq!(c.publish(&second, "devices/alice/t").await, stop(false));
}

fn certificate_client(client_id: &str, cn: &str, sockport: u32) -> ClientInfo {
    ClientInfo {
        sockport,
        cn: cn.to_owned(),
        dn: format!("C=SE,O=Acme,CN={cn}"),
        ..client(client_id, "", "")
    }
}

#[tokio::test]
async fn certificate_names_are_trusted_only_on_declared_listeners() {
    let s = setup(r#", "certificateListeners": {"ports": [8883]}"#);
    let server = start(&s).await;
    for version in VERSIONS {
        let mut c = Client::connect(&server, version).await;
        let sensor = certificate_client("sensor-1", "sensor-1", 8883);
        assert_eq!(
            c.authenticate(sensor.clone()).await,
            stop(true),
            "{version:?}"
        );
        assert_eq!(c.publish(&sensor, "devices/sensor-1/t").await, stop(true));
        assert_eq!(c.publish(&sensor, "devices/sensor-2/t").await, stop(false));
        // The policy lets a certificate connect only as its own client id.
        let borrowed = certificate_client("sensor-2", "sensor-1", 8883);
        assert_eq!(c.authenticate(borrowed).await, stop(false));
        // On a listener not declared mTLS, `cn` is not trusted.
        let plain = certificate_client("sensor-3", "sensor-3", 1883);
        assert_eq!(c.authenticate(plain.clone()).await, stop(false));
        assert_eq!(c.publish(&plain, "devices/sensor-3/t").await, stop(false));
        // A password on the mTLS listener is a password login.
        let mut alice = certificate_client("alice", "sensor-4", 8883);
        alice.username = "alice".to_owned();
        alice.password = "correct horse".to_owned();
        assert_eq!(c.authenticate(alice.clone()).await, stop(true));
        assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(true));
        assert_eq!(c.publish(&alice, "devices/sensor-4/t").await, stop(false));
        // A name that could act as a wildcard is refused.
        let wild = certificate_client("+", "+", 8883);
        assert_eq!(c.authenticate(wild).await, stop(false));
        c.disconnected(&sensor).await;
    }
    drop(server);

    let s = setup("");
    let server = start(&s).await;
    let mut c = Client::connect(&server, Version::V3).await;
    let sensor = certificate_client("sensor-1", "sensor-1", 8883);
    assert_eq!(c.authenticate(sensor).await, stop(false));
}

#[tokio::test]
async fn unserved_rpcs_answer_unimplemented() {
    let s = setup("");
    let server = start(&s).await;
    for version in VERSIONS {
        let mut c = Client::connect(&server, version).await;
        let status = match &mut c {
            Client::V2(c) => c.on_message_publish(MessagePublishRequest::default()).await,
            Client::V3(c) => c.on_message_publish(MessagePublishRequest::default()).await,
        }
        .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    }
}

#[tokio::test]
async fn logins_that_never_connect_are_closed() {
    let s = setup(r#", "pendingSeconds": 1"#);
    let server = start(&s).await;
    let mut c = Client::connect(&server, Version::V2).await;
    let quiet = client("quiet", "alice", "correct horse");
    let active = client("active", "bob", "battery staple");
    assert_eq!(c.authenticate(quiet.clone()).await, stop(true));
    assert_eq!(c.authenticate(active.clone()).await, stop(true));
    c.connected(&active).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.service().client_count() > 1 {
        assert!(Instant::now() < deadline, "the abandoned login stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.publish(&quiet, "devices/alice/t").await, stop(false));
    assert_eq!(c.publish(&active, "devices/bob/t").await, stop(true));
}

/// An HS256 token for `sub`, expiring at `exp`, signed by PyJWT (independent of mqward).
fn pyjwt(secret: &str, sub: &str, exp: u64) -> String {
    let script = "import jwt, sys\n\
                  print(jwt.encode({'sub': sys.argv[2], 'exp': int(sys.argv[3])}, sys.argv[1],\n\
                  algorithm='HS256', headers={'kid': 'k1'}))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, secret, sub, &exp.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_session_whose_token_expires_stays_denied() {
    let s = setup(r#", "onUnknownClient": "ignore""#);
    let secret = "a 32-byte HMAC secret for tests!";
    // No leeway: the engine accepts a token up to `leewaySeconds` past `exp` but ends its
    // session at `exp`, so with the default 60 s a second login would pass here.
    s.write("hs.key", secret);
    s.write(
        "engine.json",
        r#"{"version": 1, "policy": "policy.json",
            "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "file": "hs.key"}],
                    "leewaySeconds": 0}}"#,
    );
    s.write(
        "policy.json",
        r#"{"version": 1,
            "groups": [{"name": "jwt", "selectionRule": "kind: jwt", "policies": ["p"]}],
            "policies": {"p": [
              {"id": "c", "effect": "allow", "operations": ["connect"], "resources": ["*"]},
              {"id": "t", "effect": "allow", "operations": ["publish"],
               "resources": ["topic:devices/${thingName}/#"]}]}}"#,
    );
    let server = start(&s).await;
    let mut c = Client::connect(&server, Version::V3).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sensor = client("sensor-7", "", &pyjwt(secret, "sensor-7", now + 2));
    assert_eq!(c.authenticate(sensor.clone()).await, stop(true));
    c.connected(&sensor).await;
    assert_eq!(c.publish(&sensor, "devices/sensor-7/t").await, stop(true));
    assert_eq!(c.publish(&sensor, "devices/sensor-8/t").await, stop(false));
    // Once the token expires the session ends; mqward owns the client, so its requests are
    // denied, never passed on as an unknown client's.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = c.publish(&sensor, "devices/sensor-7/t").await;
        if answer == stop(false) {
            break;
        }
        assert_eq!(answer, stop(true));
        assert!(Instant::now() < deadline, "the expired session went on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.subscribe(&sensor, "devices/sensor-7/#").await,
        stop(false)
    );
    assert_eq!(server.service().client_count(), 1);
    // An expired token cannot log in again.
    assert_eq!(c.authenticate(sensor.clone()).await, stop(false));
    c.disconnected(&sensor).await;
    assert_eq!(c.publish(&sensor, "devices/sensor-7/t").await, ignore(true));
}

#[tokio::test]
async fn the_wasm_backend_answers_as_the_native_one() {
    let listeners = r#", "certificateListeners": {"ports": [8883]}"#;
    let mut answers = Vec::new();
    for backend in [String::new(), wasm_backend()] {
        let s = setup(&format!("{listeners}{backend}"));
        let server = start(&s).await;
        let mut got = Vec::new();
        for version in VERSIONS {
            let mut c = Client::connect(&server, version).await;
            let alice = client(&format!("alice-{version:?}"), "alice", "correct horse");
            got.push(c.authenticate(alice.clone()).await);
            for topic in [
                "devices/alice/t",
                "devices/bob/t",
                "devices/alice/secret",
                "#",
                "",
            ] {
                got.push(c.publish(&alice, topic).await);
            }
            got.push(c.subscribe(&alice, "cmd/alice/#").await);
            got.push(c.subscribe(&alice, "cmd/+/#").await);
            let wrong = client(&format!("mallory-{version:?}"), "alice", "wrong");
            got.push(c.authenticate(wrong.clone()).await);
            got.push(c.publish(&wrong, "devices/alice/t").await);
            let thing = certificate_client("sensor-1", "sensor-1", 8883);
            got.push(c.authenticate(thing.clone()).await);
            got.push(c.publish(&thing, "devices/sensor-1/t").await);
            got.push(c.publish(&thing, "devices/sensor-2/t").await);
            let impostor = certificate_client("sensor-1", "sensor-1", 1883);
            got.push(c.authenticate(impostor).await);
            c.disconnected(&alice).await;
            got.push(c.publish(&alice, "devices/alice/t").await);
        }
        answers.push(got);
    }
    assert_eq!(answers[0], answers[1]);
    // Not agreement on nonsense: allowed and denied answers both occur.
    assert!(answers[0].contains(&stop(true)) && answers[0].contains(&stop(false)));
}
