//! The plugin in Debian's real Mosquitto: each test starts `mosquitto` on free loopback ports
//! with a generated configuration, and talks to it with `mosquitto_pub`/`mosquitto_sub` and
//! paho-mqtt (MQTT 3.1.1 and 5).

mod support;

use std::time::{Duration, Instant};

use mqward_core::authn::registry::{CertState, Registry};
use serde_json::{json, Value};
use support::*;

/// Reason codes.
const GRANTED_QOS1: i64 = 1;
const NOT_AUTHORIZED: i64 = 0x87;
const V311_FAILURE: i64 = 0x80;
const ADMINISTRATIVE_ACTION: i64 = 0x98;

const SECONDS_10: Duration = Duration::from_secs(10);

/// The broker configuration shared by the tests: no anonymous clients, everything logged.
const HEAD: &str = "user {user}
allow_anonymous false
log_dest stderr
log_type all
";

const PLUGIN: &str = "plugin {plugin}
plugin_opt_config {dir}/config.json
";

fn plain(port: &str) -> String {
    format!("listener {{{port}}} 127.0.0.1\n")
}

fn tls(port: &str, identity: bool) -> String {
    format!(
        "listener {{{port}}} 127.0.0.1
cafile {{dir}}/ca.pem
certfile {{dir}}/server.pem
keyfile {{dir}}/server.key
require_certificate true
use_identity_as_username {identity}
"
    )
}

fn psk(port: &str, identity: bool) -> String {
    format!(
        "listener {{{port}}} 127.0.0.1
psk_hint mqward
use_identity_as_username {identity}
"
    )
}

/// Writes the test policy and a configuration with these extra members.
fn config(dir: &Dir, extra: Value) {
    dir.write("policy.json", POLICY);
    let mut config = json!({ "version": 1, "policy": "policy.json" });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    dir.write("config.json", config.to_string());
}

/// A broker on one plain listener whose clients are `alice` and `admin`, by password.
fn password_broker(name: &str, extra: &str) -> (Dir, Broker) {
    let dir = Dir::new(name);
    passwords(&dir, &[("alice", "wonderland"), ("admin", "s3cret")]);
    config(&dir, passwords_config());
    let broker = Broker::start(&dir, &format!("{HEAD}{extra}{PLUGIN}{}", plain("port0")));
    (dir, broker)
}

/// `admin` publishes one message at QoS 1.
fn admin_publish(port: u16, topic: &str, payload: &str) {
    let args = format!("-i admin-p -u admin -P s3cret -q 1 -t {topic} -m {payload}");
    let out = mosquitto_pub(port, &words(&args));
    assert!(out.status.success(), "{}", said(&out));
}

fn passwords_config() -> Value {
    json!({ "passwords": { "files": ["passwd"] } })
}

fn certificates_config() -> Value {
    json!({ "certificates": { "trustAnchors": ["ca.pem"], "registry": "registry.json",
        "mapping": { "thingName": "cert.subject.cn", "requireClientIdMatch": true } } })
}

/// `mosquitto_pub`/`mosquitto_sub` arguments for a certificate client.
fn tls_args(dir: &Dir, c: &ClientCert) -> String {
    format!(
        "--cafile {} --cert {} --key {}",
        dir.str("ca.pem"),
        c.cert,
        c.key
    )
}

fn merge(parts: &[Value]) -> Value {
    let mut out = json!({});
    for p in parts {
        for (k, v) in p.as_object().unwrap() {
            out[k] = v.clone();
        }
    }
    out
}

fn client(port: u16, id: &str, user: &str, password: &str, protocol: u8, steps: Value) -> Value {
    json!({ "port": port, "client_id": id, "username": user, "password": password,
            "protocol": protocol, "steps": steps })
}

fn codes(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

/// The topics of the messages a paho client received.
fn topics(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn passwords_with_mqtt_311_and_5_codes() {
    let (_dir, broker) = password_broker("passwords", "");
    let port = broker.port(0);

    let v5 = paho(client(
        port,
        "alice-5",
        "alice",
        "wonderland",
        5,
        json!([
            ["subscribe", [["users/alice/#", 1]]],
            ["subscribe", [["users/bob/#", 1]]],
            ["subscribe", [["$SYS/#", 0]]],
            ["subscribe", [["$share/g/users/alice/shared", 1]]],
            ["subscribe", [["$share/g/users/bob/shared", 1]]],
            ["publish", "users/alice/a", "x", 1, false],
            ["publish", "users/bob/a", "x", 1, false],
            ["publish", "$SYS/x", "x", 1, false],
            ["collect", 1, 5.0],
        ]),
    ));
    assert_eq!(v5["connack"], 0, "{v5}");
    assert_eq!(
        codes(&v5, "suback"),
        vec![
            json!([GRANTED_QOS1]),
            json!([NOT_AUTHORIZED]),
            json!([NOT_AUTHORIZED]),
            json!([GRANTED_QOS1]),
            json!([NOT_AUTHORIZED])
        ],
        "{v5}"
    );
    assert_eq!(
        codes(&v5, "puback"),
        vec![json!(0), json!(NOT_AUTHORIZED), json!(NOT_AUTHORIZED)]
    );
    assert_eq!(topics(&v5), vec!["users/alice/a"]);

    let v311 = paho(client(
        port,
        "alice-4",
        "alice",
        "wonderland",
        4,
        json!([
            ["subscribe", [["users/alice/#", 1], ["users/bob/#", 1]]],
            ["publish", "users/alice/b", "x", 1, false],
            ["collect", 1, 5.0],
        ]),
    ));
    assert_eq!(v311["connack"], 0, "{v311}");
    assert_eq!(
        codes(&v311, "suback"),
        vec![json!([GRANTED_QOS1, V311_FAILURE])]
    );
    assert_eq!(topics(&v311), vec!["users/alice/b"]);

    let wrong = paho(client(port, "alice-x", "alice", "nope", 5, json!([])));
    assert_eq!(wrong["connack"], NOT_AUTHORIZED, "{wrong}");
    // paho reports MQTT 3.1.1's CONNACK 5 as reason 0x87; mosquitto_pub below shows the
    // 3.1.1 answer in its own words.
    let wrong = paho(client(port, "alice-y", "alice", "nope", 4, json!([])));
    assert_eq!(wrong["connack"], NOT_AUTHORIZED, "{wrong}");

    let ok = mosquitto_pub(
        port,
        &words("-i alice-p -u alice -P wonderland -t users/alice/c -m 1 -q 1"),
    );
    assert!(ok.status.success(), "{}", said(&ok));
    let refused = mosquitto_pub(
        port,
        &words("-i alice-p -u alice -P x -t users/alice/c -m 1 -V 311"),
    );
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("not authorised"),
        "{}",
        said(&refused)
    );

    let log = broker.stop();
    assert!(
        log.contains("mqward: denied publish `users/bob/a` (QoS 1, retain false) for client `alice-5`: no statement matched"),
        "{log}"
    );
    assert!(
        log.contains("mqward: denied subscribe `users/bob/#` (QoS 1) for client `alice-5`"),
        "{log}"
    );
    assert!(
        log.contains("mqward: refused client `alice-x`: wrong secret"),
        "{log}"
    );
    assert!(
        !log.contains("wonderland") && !log.contains("nope"),
        "a password was logged"
    );
}

#[test]
fn denied_deliveries_sys_topics_and_retained_messages_never_arrive() {
    let (_dir, broker) = password_broker("deliveries", "sys_interval 1\n");
    let port = broker.port(0);
    // A retained message on a topic alice may not receive, published before she subscribes.
    let out = mosquitto_pub(
        port,
        &words("-i admin-r -u admin -P s3cret -t sensors/secret/r -m r -r -q 1"),
    );
    assert!(out.status.success(), "{}", said(&out));
    let sub = Sub::start(
        &broker,
        port,
        &words("-u alice -P wonderland -t sensors/# -q 1"),
        "alice-s",
    );
    let admin = Sub::start(
        &broker,
        port,
        &words("-u admin -P s3cret -t $SYS/broker/uptime"),
        "admin-s",
    );
    for (topic, payload) in [
        ("sensors/secret/x", "hidden"),
        ("sensors/s1/telemetry/t", "seen"),
    ] {
        admin_publish(port, topic, payload);
    }
    // Same publisher, same QoS: once the second arrived, the first would have.
    assert!(
        sub.wait_for("sensors/s1/telemetry/t seen", SECONDS_10),
        "{:?}",
        sub.lines()
    );
    assert_eq!(sub.lines(), vec!["sensors/s1/telemetry/t seen"]);
    assert!(
        wait_until(SECONDS_10, || admin
            .lines()
            .iter()
            .any(|l| l.starts_with("$SYS/broker/uptime "))),
        "admin got no $SYS"
    );
    let log = broker.log();
    assert!(
        log.contains("mqward: denied receive `sensors/secret/x` (QoS 1, retain false) for client `alice-s`: statement `baseline/no-secrets`"),
        "{log}"
    );
    assert!(
        log.contains("mqward: denied receive `sensors/secret/r` (QoS 1, retain true)"),
        "{log}"
    );
}

#[test]
fn adversarial_client_ids_cannot_widen_variables() {
    let dir = Dir::new("ids");
    passwords(&dir, &[("alice", "wonderland")]);
    config(&dir, passwords_config());
    let broker = Broker::start(&dir, &format!("{HEAD}{PLUGIN}{}", plain("port0")));
    let port = broker.port(0);
    for (id, filter, want) in [
        ("+", "clients/+/inbox", NOT_AUTHORIZED),
        ("#", "clients/#", NOT_AUTHORIZED),
        ("a/b", "clients/a/b/inbox", NOT_AUTHORIZED),
        ("c-1", "clients/c-1/inbox", GRANTED_QOS1),
        ("c-1", "clients/c-2/inbox", NOT_AUTHORIZED),
    ] {
        let out = paho(client(
            port,
            id,
            "alice",
            "wonderland",
            5,
            json!([["subscribe", [[filter, 1]]]]),
        ));
        assert_eq!(out["connack"], 0, "{id}: {out}");
        assert_eq!(
            codes(&out, "suback"),
            vec![json!([want])],
            "{id} {filter}: {out}"
        );
    }
}

#[test]
fn jwt_aws_signed_and_identity_tokens() {
    let dir = Dir::new("tokens");
    rsa_key(&dir, "jwt");
    rsa_key(&dir, "authorizer");
    let credentials = identity_tokens(&dir, &[("sensor-5", 3600)]);
    config(
        &dir,
        json!({
            "jwt": { "keys": [{ "kid": "k1", "alg": "RS256", "file": "jwt.pub" }] },
            "customAuthorizers": [{ "name": "fleet", "file": "authorizer.pub" }],
            "identityTokens": { "store": "tokens.json" }
        }),
    );
    let broker = Broker::start(&dir, &format!("{HEAD}{PLUGIN}{}", plain("port0")));
    let port = broker.port(0);
    let exp = now() + 600;

    // A JWT in the password: an operator by its `role` claim.
    let token = jwt(
        &dir,
        "jwt",
        json!({ "sub": "ana", "role": "ops", "exp": exp }),
    );
    let ops = paho(client(
        port,
        "ops-ana",
        "ana",
        &token,
        5,
        json!([
            [
                "subscribe",
                [["sensors/+/telemetry/#", 1], ["sensors/#", 1]]
            ],
            ["publish", "cmd/sensor-1/reboot", "now", 1, false],
            ["publish", "cmd/sensor-1/reboot", "now", 1, true],
        ]),
    ));
    assert_eq!(ops["connack"], 0, "{ops}");
    assert_eq!(
        codes(&ops, "suback"),
        vec![json!([GRANTED_QOS1, NOT_AUTHORIZED])]
    );
    assert_eq!(
        codes(&ops, "puback"),
        vec![json!(16), json!(16)],
        "no subscribers: 16 (allowed)"
    );
    let out = mosquitto_pub(
        port,
        &words(&format!(
            "-i ops-ana -u ana -P {} -t cmd/sensor-1/reboot -m 1 -q 1",
            token
        )),
    );
    assert!(out.status.success(), "{}", said(&out));
    // The wrong client id for the policy, an expired token, a token signed by another key.
    let wrong_id = paho(client(port, "mallory", "ana", &token, 5, json!([])));
    assert_eq!(wrong_id["connack"], NOT_AUTHORIZED);
    let expired = jwt(
        &dir,
        "jwt",
        json!({ "sub": "ana", "role": "ops", "exp": now() - 120 }),
    );
    assert_eq!(
        paho(client(port, "ops-ana", "ana", &expired, 5, json!([])))["connack"],
        NOT_AUTHORIZED
    );
    let forged = jwt(
        &dir,
        "authorizer",
        json!({ "sub": "ana", "role": "ops", "exp": exp }),
    );
    assert_eq!(
        paho(client(port, "ops-ana", "ana", &forged, 4, json!([])))["connack"],
        NOT_AUTHORIZED
    );

    // The AWS custom-authorizer form: token and signature in the username.
    let device = jwt(&dir, "jwt", json!({ "sub": "sensor-9", "exp": exp }));
    let username = signed_username(&dir, "authorizer", "fleet", &device);
    let signed = paho(
        json!({ "port": port, "client_id": "sensor-9", "username": username, "protocol": 5,
        "steps": [["publish", "sensors/sensor-9/telemetry/t", "1", 1, false],
                  ["publish", "sensors/sensor-8/telemetry/t", "1", 1, false]] }),
    );
    assert_eq!(signed["connack"], 0, "{signed}");
    assert_eq!(
        codes(&signed, "puback"),
        vec![json!(16), json!(NOT_AUTHORIZED)]
    );
    let tampered = signed_username(&dir, "jwt", "fleet", &device);
    let out =
        paho(json!({ "port": port, "client_id": "sensor-9", "username": tampered, "protocol": 5 }));
    assert_eq!(out["connack"], NOT_AUTHORIZED);

    // An identity token in the password.
    let token = paho(client(
        port,
        "sensor-5",
        "sensor-5",
        &credentials[0],
        5,
        json!([
            ["publish", "sensors/sensor-5/telemetry/t", "1", 1, false],
            ["publish", "sensors/sensor-6/telemetry/t", "1", 1, false],
        ]),
    ));
    assert_eq!(token["connack"], 0, "{token}");
    assert_eq!(
        codes(&token, "puback"),
        vec![json!(16), json!(NOT_AUTHORIZED)]
    );
    let bogus = "IDENTITY-TOKEN//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(
        paho(client(port, "sensor-5", "sensor-5", bogus, 5, json!([])))["connack"],
        NOT_AUTHORIZED
    );

    // Mosquitto's own lines show usernames (so the signed form); the plugin's show no credential.
    let log = broker.stop();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("mqward:")).collect();
    assert!(
        !ours
            .iter()
            .any(|l| l.contains(&credentials[0]) || l.contains(&device) || l.contains(bogus)),
        "a token was logged: {ours:?}"
    );
}

#[test]
fn mutual_tls_with_and_without_identity_as_username() {
    let dir = Dir::new("mtls");
    let pki = Pki::new(&dir);
    let s1 = pki.client(&dir, "sensor-1", "sensor-1");
    let s2 = pki.client(&dir, "sensor-2", "sensor-2");
    let s3 = pki.client(&dir, "sensor-3", "sensor-3");
    register(&dir, &[&s1, &s2]);
    config(&dir, certificates_config());
    let broker = Broker::start(
        &dir,
        &format!(
            "{HEAD}{PLUGIN}{}{}",
            tls("port0", false),
            tls("port1", true)
        ),
    );
    let tls_of = |c: &ClientCert| json!({ "ca": dir.str("ca.pem"), "cert": c.cert, "key": c.key });
    let steps = |id: &str| {
        json!([
            ["subscribe", [[format!("cmd/{id}/#"), 1], ["cmd/#", 1]]],
            [
                "publish",
                format!("sensors/{id}/telemetry/t"),
                "1",
                1,
                false
            ],
            ["publish", "sensors/other/telemetry/t", "1", 1, false],
        ])
    };

    for (port, cert, id) in [
        (broker.port(0), &s1, "sensor-1"),
        (broker.port(1), &s2, "sensor-2"),
    ] {
        let out = paho(
            json!({ "port": port, "client_id": id, "protocol": 5, "tls": tls_of(cert), "steps": steps(id) }),
        );
        assert_eq!(out["connack"], 0, "{out}");
        assert_eq!(
            codes(&out, "suback"),
            vec![json!([GRANTED_QOS1, NOT_AUTHORIZED])],
            "{id}: {out}"
        );
        assert_eq!(
            codes(&out, "puback"),
            vec![json!(16), json!(NOT_AUTHORIZED)],
            "{id}: {out}"
        );
        let out = paho(
            json!({ "port": port, "client_id": id, "protocol": 4, "tls": tls_of(cert), "steps": steps(id) }),
        );
        assert_eq!(
            codes(&out, "suback"),
            vec![json!([GRANTED_QOS1, V311_FAILURE])],
            "{id}: {out}"
        );
    }
    // Without use_identity_as_username the plugin refuses at CONNECT: an unregistered
    // certificate, and a client id that is not the certificate's name.
    let port = broker.port(0);
    let out =
        paho(json!({ "port": port, "client_id": "sensor-3", "protocol": 5, "tls": tls_of(&s3) }));
    assert_eq!(out["connack"], NOT_AUTHORIZED, "{out}");
    let out =
        paho(json!({ "port": port, "client_id": "sensor-2", "protocol": 5, "tls": tls_of(&s1) }));
    assert_eq!(out["connack"], NOT_AUTHORIZED, "{out}");
    let args = format!(
        "{} -i sensor-1 -t sensors/sensor-1/telemetry/p -m 1 -q 1",
        tls_args(&dir, &s1)
    );
    let out = mosquitto_pub(port, &words(&args));
    assert!(out.status.success(), "{}", said(&out));
    // With it, the broker connects the client without asking; its first request authenticates
    // it: refused, denied and disconnected.
    let out = paho(
        json!({ "port": broker.port(1), "client_id": "sensor-3", "protocol": 5, "tls": tls_of(&s3),
        "steps": [["ready", dir.str("s3-ready")], ["publish", "sensors/sensor-3/telemetry/t", "1", 1, false], ["wait_disconnect", 5.0]] }),
    );
    assert_eq!(out["connack"], 0, "{out}");
    assert_eq!(codes(&out, "puback"), vec![json!(NOT_AUTHORIZED)], "{out}");
    assert_eq!(out["disconnected"], ADMINISTRATIVE_ACTION, "{out}");
    assert!(out["disconnected_after"].as_f64().unwrap() < 1.0, "{out}");

    // First use activated both certificates; the worker wrote it to the registry.
    assert!(
        wait_until(SECONDS_10, || {
            let r = Registry::parse("r", dir.text("registry.json").as_bytes()).unwrap();
            r.state(&s1.fingerprint) == Some(CertState::Active)
                && r.state(&s2.fingerprint) == Some(CertState::Active)
        }),
        "{}",
        dir.text("registry.json")
    );
    // Certificate clients get their mapped name as username, so a SIGHUP keeps them connected.
    let mut sub = Sub::start(
        &broker,
        port,
        &words(&format!("{} -t cmd/sensor-1/# -V 5", tls_args(&dir, &s1))),
        "sensor-1",
    );
    broker.reload();
    // One more round trip: the broker has finished the SIGHUP (it re-authenticates every
    // client right after the plugin's reload) before it answers.
    let out = paho(
        json!({ "port": broker.port(1), "client_id": "sensor-2", "protocol": 5, "tls": tls_of(&s2), "steps": [] }),
    );
    assert_eq!(out["connack"], 0);
    assert!(
        !sub.exited(),
        "the certificate client was disconnected by the SIGHUP"
    );
    let log = broker.stop();
    assert!(
        !log.contains("Client sensor-1 disconnected, not authorised"),
        "{log}"
    );
    assert!(
        log.contains("mqward: refused client `sensor-3`: unknown identity"),
        "{log}"
    );
    assert!(
        log.contains("mqward: disconnecting client `sensor-3`: it was refused"),
        "{log}"
    );
    assert!(
        log.contains("as sensor-1 (p5, c1, k60, u'sensor-1')"),
        "{log}"
    );
}

/// The PSK identity names the client on a listener with `use_identity_as_username true`; on
/// one without it, the broker keeps the identity to itself and the client authenticates with
/// what its CONNECT carries, as on a plain listener.
#[test]
fn tls_psk_with_and_without_identity_as_username() {
    let dir = Dir::new("psk");
    let key = "00112233445566778899aabbccddeeff";
    dir.write("psk.txt", format!("sensor-7:{key}\n"));
    config(&dir, json!({ "psk": [{ "file": "psk.txt" }] }));
    let broker = Broker::start(
        &dir,
        &format!(
            "{HEAD}{PLUGIN}{}{}",
            psk("port0", false),
            psk("port1", true)
        ),
    );
    let publish = |port: u16, psk_key: &str, identity: &str, topic: &str| {
        mosquitto_pub(
            port,
            &words(&format!(
                "--psk {} --psk-identity {} -i sensor-7 -t {} -m 1 -q 1 -V 5 -d",
                psk_key, identity, topic
            )),
        )
    };
    let bare = publish(
        broker.port(0),
        key,
        "sensor-7",
        "sensors/sensor-7/telemetry/t",
    );
    assert!(said(&bare).contains("CONNACK (135)"), "{}", said(&bare));
    assert!(
        broker.wait_log("use_identity_as_username true", 1, SECONDS_10),
        "{}",
        broker.log()
    );
    let port = broker.port(1);
    let ok = publish(port, key, "sensor-7", "sensors/sensor-7/telemetry/t");
    assert!(ok.status.success(), "{}", said(&ok));
    assert!(
        said(&ok).contains("received PUBACK (Mid: 1, RC:16)"),
        "{}",
        said(&ok)
    );
    let denied = publish(port, key, "sensor-7", "sensors/sensor-8/telemetry/t");
    assert!(
        said(&denied).contains("received PUBACK (Mid: 1, RC:135)"),
        "{}",
        said(&denied)
    );
    let wrong = "ffeeddccbbaa99887766554433221100";
    let wrong_key = publish(port, wrong, "sensor-7", "sensors/sensor-7/telemetry/t");
    assert!(!wrong_key.status.success(), "{}", said(&wrong_key));
    let unknown = publish(port, key, "sensor-8", "sensors/sensor-8/telemetry/t");
    assert!(!unknown.status.success(), "{}", said(&unknown));
    // Only the hex key goes to the broker; it is never logged.
    assert!(!broker.stop().contains(key));
}

/// The broker never authenticates the clients of an identity listener again, so a reload checks
/// their PSK identities itself: one removed from the PSK file, or given another key, ends the
/// session and disconnects the client; an unchanged one keeps it connected and served.
#[test]
fn a_reload_disconnects_psk_clients_whose_identity_went_or_changed_key() {
    let dir = Dir::new("psk-reload");
    let key = "00112233445566778899aabbccddeeff";
    let ids = ["sensor-7", "sensor-8", "sensor-9"];
    dir.write(
        "psk.txt",
        ids.iter()
            .map(|id| format!("{id}:{key}\n"))
            .collect::<String>(),
    );
    passwords(&dir, &[("admin", "s3cret")]);
    config(
        &dir,
        merge(&[
            json!({ "psk": [{ "file": "psk.txt" }] }),
            passwords_config(),
        ]),
    );
    let broker = Broker::start(
        &dir,
        &format!("{HEAD}{PLUGIN}{}{}", psk("port0", true), plain("port1")),
    );
    let subs = ids.map(|id| {
        let args = format!("--psk {key} --psk-identity {id} -t cmd/{id}/# -q 1 -V 5");
        Sub::start(&broker, broker.port(0), &words(&args), id)
    });
    admin_publish(broker.port(1), "cmd/sensor-7/before", "1");
    assert!(subs[0].wait_for("cmd/sensor-7/before 1", SECONDS_10));
    // sensor-7 stays, sensor-8's key is rotated, sensor-9 is removed.
    dir.replace(
        "psk.txt",
        format!("sensor-7:{key}\nsensor-8:ffeeddccbbaa99887766554433221100\n"),
    );
    broker.reload();
    let kicked = |id: &str| broker.count(&format!("mqward: disconnecting client `{id}`")) > 0;
    assert!(
        wait_until(SECONDS_10, || kicked("sensor-8") && kicked("sensor-9")),
        "{}",
        broker.log()
    );
    admin_publish(broker.port(1), "cmd/sensor-7/after", "2");
    assert!(
        subs[0].wait_for("cmd/sensor-7/after 2", SECONDS_10),
        "{:?}",
        subs[0].lines()
    );
    drop(subs);
    let log = broker.stop();
    assert!(
        log.contains("disconnecting client `sensor-8`: the key of its PSK identity changed"),
        "{log}"
    );
    assert!(
        log.contains("disconnecting client `sensor-9`: its PSK identity was removed"),
        "{log}"
    );
    assert!(!log.contains("disconnecting client `sensor-7`"), "{log}");
    assert!(!log.contains(key), "a key was logged");
}

/// A TLS-PSK handshake that fails never reaches CONNECT, so Mosquitto sends no DISCONNECT event
/// for it, and the next connection often gets the freed client's address. Its PSK identity
/// must lend nothing to that connection: not to a plain client, not to a certificate client.
#[test]
fn a_failed_psk_handshake_lends_its_identity_to_no_later_client() {
    let dir = Dir::new("psk-reuse");
    let pki = Pki::new(&dir);
    let s1 = pki.client(&dir, "sensor-1", "sensor-1");
    register(&dir, &[&s1]);
    let key = "00112233445566778899aabbccddeeff";
    dir.write("psk.txt", format!("sensor-7:{key}\n"));
    config(
        &dir,
        merge(&[
            json!({ "psk": [{ "file": "psk.txt" }] }),
            certificates_config(),
        ]),
    );
    let broker = Broker::start(
        &dir,
        &format!(
            "{HEAD}{PLUGIN}{}{}{}{}",
            plain("port0"),
            psk("port1", false),
            psk("port2", true),
            tls("port3", true)
        ),
    );
    let wrong = "ffeeddccbbaa99887766554433221100";
    let failed_handshake = |port: u16| {
        let out = mosquitto_pub(
            port,
            &words(&format!(
                "--psk {wrong} --psk-identity sensor-7 -i sensor-7 -t x -m 1 -q 1 -V 5"
            )),
        );
        assert!(!out.status.success(), "{}", said(&out));
    };
    let telemetry = "sensors/sensor-7/telemetry/t";
    for round in 0..20 {
        failed_handshake(broker.port(if round % 2 == 0 { 1 } else { 2 }));
        // A plain client naming no credential but the client id the PSK identity maps to.
        let plain = mosquitto_pub(
            broker.port(0),
            &words(&format!(
                "-u sensor-7 -i sensor-7 -t {telemetry} -m 1 -q 1 -V 5 -d"
            )),
        );
        assert!(
            said(&plain).contains("CONNACK (135)") && !said(&plain).contains("PUBACK"),
            "round {round}: {}",
            said(&plain)
        );
        failed_handshake(broker.port(1));
        // A certificate client on an identity listener is its certificate, never sensor-7.
        let cert = mosquitto_pub(
            broker.port(3),
            &words(&format!(
                "{} -i sensor-1 -t sensors/sensor-1/telemetry/t -m 1 -q 1 -V 5 -d",
                tls_args(&dir, &s1)
            )),
        );
        assert!(
            said(&cert).contains("received PUBACK (Mid: 1, RC:16)"),
            "round {round}: {}",
            said(&cert)
        );
    }
    broker.stop();
}

#[test]
fn suspension_revocation_and_expiry_disconnect_within_a_second() {
    let dir = Dir::new("kicks");
    let pki = Pki::new(&dir);
    let s1 = pki.client(&dir, "sensor-1", "sensor-1");
    let s2 = pki.client(&dir, "sensor-2", "sensor-2");
    register(&dir, &[&s1, &s2]);
    let credentials = identity_tokens(&dir, &[("sensor-5", 5)]);
    let issued = now();
    passwords(&dir, &[("admin", "s3cret")]);
    config(
        &dir,
        merge(&[
            certificates_config(),
            passwords_config(),
            json!({ "identityTokens": { "store": "tokens.json" } }),
        ]),
    );
    let broker = Broker::start(
        &dir,
        &format!(
            "{HEAD}{PLUGIN}{}{}{}",
            tls("port0", false),
            tls("port1", true),
            plain("port2")
        ),
    );
    let tls_of = |c: &ClientCert| json!({ "ca": dir.str("ca.pem"), "cert": c.cert, "key": c.key });
    let connected = |id: &str, port: u16, tls: Option<Value>, password: Option<&str>| {
        let mut script = json!({ "port": port, "client_id": id, "protocol": 5,
            "steps": [["subscribe", [[format!("cmd/{id}/#"), 1]]], ["ready", dir.str(&format!("{id}.ready"))],
                      ["wait_disconnect", 15.0]] });
        if let Some(t) = tls {
            script["tls"] = t;
        }
        if let Some(p) = password {
            script["username"] = json!(id);
            script["password"] = json!(p);
        }
        // sensor-1 keeps a persistent session: the broker must drop its subscriptions.
        if id == "sensor-1" {
            script["clean"] = json!(false);
        }
        let child = spawn_paho(script);
        assert!(
            wait_until(SECONDS_10, || dir.join(&format!("{id}.ready")).exists()),
            "{id} not ready"
        );
        child
    };
    let c5 = connected("sensor-5", broker.port(2), None, Some(&credentials[0]));
    let c1 = connected("sensor-1", broker.port(0), Some(tls_of(&s1)), None);
    let c2 = connected("sensor-2", broker.port(1), Some(tls_of(&s2)), None);

    let kicked = |id: &str| broker.count(&format!("mqward: disconnecting client `{id}`")) > 0;
    let started = Instant::now();
    set_state(&dir, &s1, Registry::suspend);
    assert!(
        wait_until(SECONDS_10, || kicked("sensor-1")),
        "{}",
        broker.log()
    );
    let suspension = started.elapsed();
    let started = Instant::now();
    set_state(&dir, &s2, Registry::revoke);
    assert!(
        wait_until(SECONDS_10, || kicked("sensor-2")),
        "{}",
        broker.log()
    );
    let revocation = started.elapsed();
    assert!(
        wait_until(SECONDS_10, || kicked("sensor-5")),
        "{}",
        broker.log()
    );
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - (issued + 5) as f64;
    for out in [finish(c1), finish(c2), finish(c5)] {
        assert_eq!(out["disconnected"], ADMINISTRATIVE_ACTION, "{out}");
    }
    assert!(
        suspension < Duration::from_secs(1),
        "suspension took {suspension:?}"
    );
    assert!(
        revocation < Duration::from_secs(1),
        "revocation took {revocation:?}"
    );
    assert!(
        expiry < 1.0,
        "expiry kick {expiry} s after the token expired"
    );

    // They cannot come back; a reactivated certificate can.
    let again = |port: u16, c: &ClientCert, id: &str| {
        paho(
            json!({ "port": port, "client_id": id, "protocol": 5, "tls": tls_of(c),
            "steps": [["publish", format!("sensors/{id}/telemetry/t"), "1", 1, false]] }),
        )
    };
    assert_eq!(
        again(broker.port(0), &s1, "sensor-1")["connack"],
        NOT_AUTHORIZED
    );
    let out = again(broker.port(1), &s2, "sensor-2");
    assert_eq!(codes(&out, "puback"), vec![json!(NOT_AUTHORIZED)], "{out}");
    // Published while sensor-1 is suspended: its persistent subscription is gone, so nothing
    // is queued for it.
    admin_publish(broker.port(2), "cmd/sensor-1/during", "queued?");
    set_state(&dir, &s1, Registry::reactivate);
    assert!(wait_until(SECONDS_10, || broker
        .log()
        .contains("reactivated by")));
    // Back with its persistent session: queued messages would come first, before the marker
    // published once it is ready.
    let back = spawn_paho(
        json!({ "port": broker.port(0), "client_id": "sensor-1", "protocol": 5,
        "clean": false, "tls": tls_of(&s1),
        "steps": [["subscribe", [["clients/sensor-1/inbox", 1]]], ["ready", dir.str("back.ready")],
                  ["collect", 1, 10.0]] }),
    );
    assert!(wait_until(SECONDS_10, || dir.join("back.ready").exists()));
    admin_publish(broker.port(2), "clients/sensor-1/inbox", "marker");
    let back = finish(back);
    assert_eq!(back["connack"], 0, "{back}");
    assert_eq!(topics(&back), vec!["clients/sensor-1/inbox"], "{back}");
    let log = broker.stop();
    assert!(
        log.contains("mqward: disconnecting client `sensor-1`: its certificate was suspended"),
        "{log}"
    );
    assert!(
        log.contains("mqward: disconnecting client `sensor-2`: its certificate was revoked"),
        "{log}"
    );
    assert!(
        log.contains("mqward: disconnecting client `sensor-5`: its credential expired"),
        "{log}"
    );
}

fn reload_policy(dir: &Dir, watch: bool) {
    let mut policy: Value = serde_json::from_str(POLICY).unwrap();
    if !watch {
        let user = policy["policies"]["user"].as_array_mut().unwrap();
        user.retain(|s| s["id"] != "watch");
    }
    dir.replace("policy.json", policy.to_string());
}

#[test]
fn reload_applies_at_once_and_a_broken_policy_keeps_the_old_one() {
    let (dir, broker) = password_broker("reload", "");
    let port = broker.port(0);
    let sub = Sub::start(
        &broker,
        port,
        &words("-u alice -P wonderland -t sensors/# -t users/alice/# -q 1"),
        "alice-s",
    );
    let publish = |topic: &str, payload: &str| {
        admin_publish(port, topic, payload);
    };
    let round = |n: u32| {
        publish("sensors/a", &n.to_string());
        publish("users/alice/marker", &n.to_string());
        assert!(
            sub.wait_for(&format!("users/alice/marker {n}"), SECONDS_10),
            "{:?}",
            sub.lines()
        );
        sub.lines().contains(&format!("sensors/a {n}"))
    };
    assert!(round(1));
    reload_policy(&dir, false);
    broker.reload();
    assert!(
        !round(2),
        "the new policy did not apply to the connected client"
    );
    dir.replace(
        "policy.json",
        "{\"version\": 1, \"policies\": {\"p\": [{\"id\": \"x\"}]}}",
    );
    broker.reload();
    assert!(broker
        .log()
        .contains("mqward: reload failed; the previous configuration stays in force"));
    assert!(!round(3), "a broken policy changed the decisions");
    reload_policy(&dir, true);
    broker.reload();
    assert!(round(4));
}

#[test]
fn reload_under_load_never_decides_wrong() {
    let dir = Dir::new("load");
    passwords(&dir, &[("alice", "wonderland")]);
    config(&dir, passwords_config());
    let broker = Broker::start(
        &dir,
        &format!("user {{user}}\nallow_anonymous false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n{PLUGIN}{}", plain("port0")),
    );
    let load = spawn_paho(
        json!({ "load": { "port": broker.port(0), "clients": 20, "username": "alice",
        "password": "wonderland", "topics": [["users/alice/ok", true], ["users/bob/no", false]],
        "stop_file": dir.str("stop"), "ready_file": dir.str("ready") } }),
    );
    assert!(wait_until(SECONDS_10, || dir.join("ready").exists()));
    for n in 0..100 {
        // Two valid policies that decide these topics alike.
        reload_policy(&dir, n % 2 == 0);
        broker.reload();
    }
    dir.write("stop", "");
    let out = finish(load);
    assert_eq!(out["refused"], 0, "{out}");
    assert_eq!(out["disconnects"], 0, "{out}");
    let ok = out["acks"]["users/alice/ok"].as_object().unwrap();
    let no = out["acks"]["users/bob/no"].as_object().unwrap();
    assert_eq!(ok.keys().collect::<Vec<_>>(), vec!["16"], "{out}");
    assert_eq!(no.keys().collect::<Vec<_>>(), vec!["135"], "{out}");
    assert!(ok["16"].as_u64().unwrap() >= 100, "{out}");
    let log = broker.stop();
    // At least 100: a SIGHUP sent again by `reload` can add one.
    assert!(log.matches("mqward: reloaded").count() >= 100, "{log}");
    assert!(!log.contains("internal error"), "{log}");
}

#[test]
fn wills_and_persistent_sessions_keep_working() {
    let (_dir, broker) = password_broker("wills", "");
    let port = broker.port(0);
    let watcher = Sub::start(
        &broker,
        port,
        &words("-u admin -P s3cret -t users/# -q 1"),
        "admin-s",
    );
    // A will on an allowed topic is published; one on a denied topic is not.
    for (id, topic) in [
        ("alice-w1", "users/bob/will"),
        ("alice-w2", "users/alice/will"),
    ] {
        let out = paho(
            json!({ "port": port, "client_id": id, "username": "alice", "password": "wonderland",
            "protocol": 5, "will": { "topic": topic, "payload": id, "qos": 1 }, "steps": [["drop"]] }),
        );
        assert_eq!(out["connack"], 0);
    }
    assert!(
        watcher.wait_for("users/alice/will alice-w2", SECONDS_10),
        "{:?}",
        watcher.lines()
    );
    assert!(!watcher.lines().iter().any(|l| l.contains("users/bob/will")));

    // Messages queued for a persistent session while it is away are delivered.
    for protocol in [4, 5] {
        let id = format!("alice-p{protocol}");
        let away = paho(
            json!({ "port": port, "client_id": id, "username": "alice", "password": "wonderland",
            "protocol": protocol, "clean": false,
            "steps": [["subscribe", [[format!("users/alice/q{protocol}"), 1]]], ["disconnect"]] }),
        );
        assert_eq!(
            codes(&away, "suback"),
            vec![json!([GRANTED_QOS1])],
            "{away}"
        );
        admin_publish(port, &format!("users/alice/q{protocol}"), "queued");
        let back = paho(
            json!({ "port": port, "client_id": id, "username": "alice", "password": "wonderland",
            "protocol": protocol, "clean": false, "steps": [["collect", 1, 5.0]] }),
        );
        assert_eq!(
            topics(&back),
            vec![format!("users/alice/q{protocol}")],
            "{back}"
        );
    }
}

#[test]
fn per_listener_settings_keep_each_listeners_configuration() {
    let dir = Dir::new("per-listener");
    passwords(&dir, &[("alice", "wonderland"), ("admin", "s3cret")]);
    let credentials = identity_tokens(&dir, &[("sensor-5", 4)]);
    config(
        &dir,
        merge(&[
            passwords_config(),
            json!({ "identityTokens": { "store": "tokens.json" } }),
        ]),
    );
    // The second listener's policy lets users publish only under `users/<name>/b`.
    let mut narrow: Value = serde_json::from_str(POLICY).unwrap();
    narrow["policies"]["user"][1]["resources"] = json!([
        "topic:users/${username}/b/#",
        "topicfilter:users/${username}/b/#"
    ]);
    dir.write("narrow.json", narrow.to_string());
    dir.write(
        "narrow-config.json",
        json!({ "version": 1, "policy": "narrow.json", "passwords": { "files": ["passwd"] } })
            .to_string(),
    );
    let conf = format!(
        "user {{user}}\nper_listener_settings true\nlog_dest stderr\nlog_type all\n\
         {}allow_anonymous false\n{PLUGIN}\
         {}allow_anonymous false\nplugin {{plugin}}\nplugin_opt_config {{dir}}/narrow-config.json\n",
        plain("port0"),
        plain("port1")
    );
    let broker = Broker::start(&dir, &conf);
    // A client whose token expires in a few seconds (checked at the end).
    let expiring = spawn_paho(client(
        broker.port(0),
        "sensor-5",
        "sensor-5",
        &credentials[0],
        5,
        json!([["ready", dir.str("ready")], ["wait_disconnect", 20.0]]),
    ));
    let publish = |port: u16| {
        paho(client(
            port,
            "alice-1",
            "alice",
            "wonderland",
            5,
            json!([
                ["publish", "users/alice/a", "1", 1, false],
                ["publish", "users/alice/b/c", "1", 1, false],
            ]),
        ))
    };
    assert_eq!(
        codes(&publish(broker.port(0)), "puback"),
        vec![json!(16), json!(16)]
    );
    assert_eq!(
        codes(&publish(broker.port(1)), "puback"),
        vec![json!(NOT_AUTHORIZED), json!(16)]
    );
    broker.reload();
    assert!(broker.wait_log("mqward: reloaded", 2, SECONDS_10));
    assert_eq!(
        codes(&publish(broker.port(1)), "puback"),
        vec![json!(NOT_AUTHORIZED), json!(16)]
    );

    // Mosquitto 2.0.11 sends per-listener plugins no TICK: the expired token's client is
    // disconnected from the listener's next callback.
    assert!(wait_until(SECONDS_10, || dir.join("ready").exists()));
    let kicked = wait_until(Duration::from_secs(15), || {
        let out = mosquitto_pub(
            broker.port(0),
            &words("-i alice-t -u alice -P wonderland -t users/alice/tick -m 1"),
        );
        assert!(out.status.success(), "{}", said(&out));
        broker.count("mqward: disconnecting client `sensor-5`") > 0
    });
    assert!(kicked, "{}", broker.log());
    assert_eq!(finish(expiring)["disconnected"], ADMINISTRATIVE_ACTION);
    let log = broker.stop();
    assert_eq!(log.matches("mqward: loaded").count(), 2, "{log}");
}

#[test]
fn a_missing_or_invalid_configuration_stops_the_broker_from_starting() {
    let dir = Dir::new("refuse");
    let start = |plugin: &str| {
        Broker::try_start(&dir, &format!("{HEAD}{plugin}{}", plain("port0")))
            .err()
            .expect("the broker started")
    };
    let log = start("plugin {plugin}\nplugin_opt_config {dir}/missing.json\n");
    assert!(
        log.contains("mqward: cannot read the configuration"),
        "{log}"
    );
    dir.write("config.json", r#"{"version":1,"policy":"policy.json"}"#);
    dir.write("policy.json", r#"{"version":1,"policies":{"p":[{"id":"x","effect":"allow","operations":["publish"],"resources":["topic:a/#/b"]}]}}"#);
    let log = start(PLUGIN);
    assert!(
        log.contains("statement `p/x`, resource 0") && log.contains("mqward: not started"),
        "{log}"
    );
    let log = start(&format!("{PLUGIN}plugin_opt_intervall_ms 100\n"));
    assert!(
        log.contains("unknown option `plugin_opt_intervall_ms`"),
        "{log}"
    );
    let log = start("plugin {plugin}\n");
    assert!(log.contains("`plugin_opt_config` is missing"), "{log}");
}
