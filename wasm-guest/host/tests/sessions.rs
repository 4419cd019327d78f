//! Authentication and sessions through the WebAssembly module give the native engine's
//! answers: one scenario (certificates made at test time, a registry, `mosquitto_passwd`
//! passwords, HS256 JWTs signed by PyJWT, identity tokens; sessions opened, decided, suspended,
//! reactivated, revoked, expired, reloaded) runs on `mqward_core::Engine` and on a
//! three-shard `WasmEngine`, and the two transcripts must be equal line for line.

mod common;
#[path = "../../../core/tests/password_tools/mod.rs"]
#[allow(dead_code)]
mod password_tools;
#[path = "../../../core/tests/x509_pki/mod.rs"]
mod x509_pki;

use std::collections::BTreeMap;
use std::process::Command;

use mqward_core::authn::identity_token::{issue, TokenStore};
use mqward_core::authn::registry::Registry;
use mqward_core::authn::x509::Fingerprint;
use mqward_core::{CertAction, Config, Credentials, Engine, Event, Request, SessionToken};
use mqward_wasmtime::WasmEngine;
use x509_pki::{Ca, Leaf, NOW};

const POLICY: &str = r#"{
  "version": 1,
  "groups": [
    { "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["own"] },
    { "name": "users", "selectionRule": "kind: password OR kind: jwt", "policies": ["users"] }
  ],
  "policies": {
    "own": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:${thingName}"] },
      { "id": "telemetry", "effect": "allow", "operations": ["publish"], "resources": ["topic:sensors/${thingName}/#"] },
      { "id": "cmd", "effect": "allow", "operations": ["subscribe"], "resources": ["topicfilter:cmd/${thingName}/+"] }
    ],
    "users": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:#"] },
      { "id": "home", "effect": "allow", "operations": ["publish", "subscribe"],
        "resources": ["topic:users/${username}/#", "topicfilter:users/${username}/#"] }
    ]
  }
}"#;

const CONFIG: &str = r#"{
  "version": 1,
  "policy": "policy.json",
  "certificates": {
    "trustAnchors": ["ca.pem"], "registry": "registry.json",
    "mapping": { "thingName": "cert.subject.cn" }
  },
  "passwords": { "files": ["passwd"] },
  "psk": [{ "file": "psk.txt" }],
  "jwt": { "keys": [{ "kid": "k1", "alg": "HS256", "file": "hs256.secret" },
                    { "kid": "k2", "alg": "RS256", "file": "rsa.pub" },
                    { "kid": "k3", "alg": "ES256", "file": "p256.pub" }],
           "claims": { "username": "sub" } },
  "identityTokens": { "store": "tokens.json" },
  "sessions": { "max": 6, "trustDurationSeconds": 100 }
}"#;

/// A token signed by PyJWT: `key` is an HMAC secret or a PEM private key.
fn jwt(key: &[u8], kid: &str, claims: &str, alg: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            // PyJWT refuses an HMAC keyed with a public key: that token is made by hand.
            "import base64, hashlib, hmac, json, sys, jwt\n\
             key, kid, claims, alg = bytes.fromhex(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]\n\
             b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n\
             if alg == 'HS256' and key.startswith(b'-----BEGIN PUBLIC KEY'):\n\
             \x20   head = b64(json.dumps({'alg': alg, 'kid': kid}).encode()) + '.' + b64(json.dumps(claims).encode())\n\
             \x20   print(head + '.' + b64(hmac.new(key, head.encode(), hashlib.sha256).digest()))\n\
             else:\n\
             \x20   print(jwt.encode(claims, key, algorithm=alg, headers={'kid': kid}))",
            &key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            kid,
            claims,
            alg,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A private key made by openssl (`genpkey` arguments), and its public half, both PEM.
fn openssl_key(args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(key.status.success());
    let mut public = Command::new("openssl")
        .args(["pkey", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    public.stdin.take().unwrap().write_all(&key.stdout).unwrap();
    let out = public.wait_with_output().unwrap();
    assert!(out.status.success());
    (key.stdout, out.stdout)
}

struct Setup {
    files: BTreeMap<String, Vec<u8>>,
    /// name -> (token, what it is).
    tokens: Vec<(String, String)>,
    leaf: Vec<u8>,
    other: Vec<u8>,
    token: String,
    jwt: String,
    expired_jwt: String,
    forged_jwt: String,
}

fn setup() -> Setup {
    let root = Ca::root("mqward wasm test root");
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
    let secret = [7u8; 32];
    let claims = |exp: u64| format!(r#"{{"sub": "alice", "exp": {exp}, "iat": {}}}"#, NOW - 5);
    let (rsa, rsa_pub) = openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let (p256, p256_pub) =
        openssl_key(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let good = claims(NOW + 50);
    let tokens = vec![
        ("rs256".to_owned(), jwt(&rsa, "k2", &good, "RS256")),
        ("es256".to_owned(), jwt(&p256, "k3", &good, "ES256")),
        // The RSA key's kid with an HMAC over the public key: the algorithm confusion attack.
        (
            "hs256 under the rsa kid".to_owned(),
            jwt(&rsa_pub, "k2", &good, "HS256"),
        ),
        (
            "es256 under the rsa kid".to_owned(),
            jwt(&p256, "k2", &good, "ES256"),
        ),
        (
            "unsigned".to_owned(),
            format!(
                "{}.",
                jwt(&secret, "k1", &good, "HS256")
                    .rsplit_once('.')
                    .unwrap()
                    .0
                    .replacen("eyJhbGciOiJIUzI1NiIs", "eyJhbGciOiJub25lIiwi", 1)
            ),
        ),
    ];
    let mut files = BTreeMap::new();
    files.insert("policy.json".to_owned(), POLICY.as_bytes().to_vec());
    files.insert("ca.pem".to_owned(), root.pem().into_bytes());
    files.insert("registry.json".to_owned(), registry.to_json());
    files.insert("tokens.json".to_owned(), store.to_json().into_bytes());
    files.insert(
        "passwd".to_owned(),
        password_tools::mosquitto_passwd(&[("bob", "hunter2")]).into_bytes(),
    );
    files.insert("hs256.secret".to_owned(), secret.to_vec());
    files.insert("rsa.pub".to_owned(), rsa_pub);
    files.insert("p256.pub".to_owned(), p256_pub);
    files.insert(
        "psk.txt".to_owned(),
        b"gateway-1:00112233445566778899aabbccddeeff\n".to_vec(),
    );
    Setup {
        files,
        tokens,
        jwt: jwt(&secret, "k1", &claims(NOW + 50), "HS256"),
        expired_jwt: jwt(&secret, "k1", &claims(NOW - 100), "HS256"),
        forged_jwt: jwt(&[8u8; 32], "k1", &claims(NOW + 50), "HS256"),
        leaf,
        other,
        token,
    }
}

/// The calls the scenario makes, on either engine; errors as their text.
trait Api {
    fn open(&self, c: &Credentials<'_>, now: u64, r: u8) -> Result<SessionToken, String>;
    fn decide(&self, t: &SessionToken, r: &Request<'_>, now: u64) -> String;
    fn greengrass(&self, t: &SessionToken, op: &str, res: &str, now: u64) -> String;
    fn close(&self, t: &SessionToken) -> bool;
    fn count(&self) -> usize;
    fn state(&self, f: &Fingerprint, a: CertAction) -> String;
    /// Events sorted: shards report in their own order.
    fn events(&self) -> Vec<String>;
    fn tick(&self, now: u64);
    fn registry(&self) -> String;
    fn authenticate(&self, c: &Credentials<'_>, now: u64) -> String;
    fn reload(&self, s: &Setup, policy: &str) -> String;
    fn psk(&self, identity: &str) -> Option<String>;
}

fn sorted(events: Vec<Event>) -> Vec<String> {
    let mut v: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    v.sort();
    v
}

fn read(s: &Setup) -> impl FnMut(&str) -> Result<Vec<u8>, String> + '_ {
    |name| s.files.get(name).cloned().ok_or_else(|| "missing".into())
}

fn read_with<'a>(
    s: &'a Setup,
    policy: &'a str,
) -> impl FnMut(&str) -> Result<Vec<u8>, String> + 'a {
    move |name| {
        if name == "policy.json" {
            Ok(policy.as_bytes().to_vec())
        } else {
            s.files.get(name).cloned().ok_or_else(|| "missing".into())
        }
    }
}

/// The calls both engines spell the same way (the host mirrors the native API).
macro_rules! same_calls {
    () => {
        fn open(&self, c: &Credentials<'_>, now: u64, r: u8) -> Result<SessionToken, String> {
            self.open_session(c, now, [r; 16])
                .map_err(|e| e.to_string())
        }
        fn decide(&self, t: &SessionToken, r: &Request<'_>, now: u64) -> String {
            format!(
                "{:?}",
                self.authorize_session(t, r, now).map_err(|e| e.to_string())
            )
        }
        fn greengrass(&self, t: &SessionToken, op: &str, res: &str, now: u64) -> String {
            format!(
                "{:?}",
                self.authorize_session_greengrass(t, op, res, now)
                    .map_err(|e| e.to_string())
            )
        }
        fn close(&self, t: &SessionToken) -> bool {
            self.close_session(t)
        }
        fn state(&self, f: &Fingerprint, a: CertAction) -> String {
            format!(
                "{:?}",
                self.set_certificate_state(f, a).map_err(|e| e.to_string())
            )
        }
        fn events(&self) -> Vec<String> {
            sorted(self.drain_events())
        }
        fn authenticate(&self, c: &Credentials<'_>, now: u64) -> String {
            match Self::authenticate(self, c, now) {
                Ok(a) => format!("{:?} until {:?}", a.identity, a.expires_at),
                Err(e) => e.to_string(),
            }
        }
    };
}

impl Api for Engine {
    same_calls!();
    fn psk(&self, identity: &str) -> Option<String> {
        self.psk_key_hex(identity)
    }
    fn count(&self) -> usize {
        self.session_count()
    }
    fn tick(&self, now: u64) {
        Engine::tick(self, now)
    }
    fn registry(&self) -> String {
        String::from_utf8(self.registry_json()).unwrap()
    }
    fn reload(&self, s: &Setup, policy: &str) -> String {
        let config = Config::from_json(CONFIG.as_bytes()).unwrap();
        format!(
            "{:?}",
            self.reload_config(&config, &mut read_with(s, policy), &[1; 32])
                .map_err(|e| e.to_string())
        )
    }
}

impl Api for WasmEngine {
    same_calls!();
    fn psk(&self, identity: &str) -> Option<String> {
        self.psk_key_hex(identity).unwrap()
    }
    fn count(&self) -> usize {
        self.session_count().unwrap()
    }
    fn tick(&self, now: u64) {
        WasmEngine::tick(self, now)
    }
    fn registry(&self) -> String {
        String::from_utf8(self.registry_json().unwrap()).unwrap()
    }
    fn reload(&self, s: &Setup, policy: &str) -> String {
        format!(
            "{:?}",
            self.reload_config(CONFIG.as_bytes(), &mut read_with(s, policy), &[1; 32])
                .map_err(|e| e.to_string())
        )
    }
}

fn cert<'a>(der: &'a [u8], client_id: &'a str) -> Credentials<'a> {
    Credentials {
        client_id: Some(client_id),
        certificate: Some(der),
        ..Credentials::default()
    }
}

fn login<'a>(client_id: &'a str, user: Option<&'a str>, password: &'a str) -> Credentials<'a> {
    Credentials {
        client_id: Some(client_id),
        username: user,
        password: Some(password.as_bytes()),
        ..Credentials::default()
    }
}

/// The scenario; every answer goes into the transcript.
fn scenario(api: &dyn Api, s: &Setup) -> Vec<String> {
    let mut t = Vec::new();
    let mut say = |what: &str, answer: String| t.push(format!("{what}: {answer}"));
    let fp = Fingerprint::of(&s.leaf);

    // Authentication alone, every method, good and bad.
    for (what, c) in [
        ("certificate", cert(&s.leaf, "sensor-1")),
        (
            "certificate of another CA's shape: garbage",
            cert(b"not a certificate", "x"),
        ),
        ("password", login("b1", Some("bob"), "hunter2")),
        ("wrong password", login("b2", Some("bob"), "hunter3")),
        ("unknown user", login("b3", Some("mallory"), "hunter2")),
        ("jwt", login("a1", None, &s.jwt)),
        ("expired jwt", login("a2", None, &s.expired_jwt)),
        ("forged jwt", login("a3", None, &s.forged_jwt)),
        (
            "identity token",
            login("sensor-9", Some("sensor-9"), &s.token),
        ),
        ("user `#` with a password", login("c", Some("#"), "hunter2")),
    ] {
        say(what, api.authenticate(&c, NOW));
    }
    for (what, token) in &s.tokens {
        say(what, api.authenticate(&login("a9", None, token), NOW));
    }
    let psk = |id: &'static str| Credentials {
        client_id: Some("gw"),
        psk_identity: Some(id),
        ..Credentials::default()
    };
    say("psk", api.authenticate(&psk("gateway-1"), NOW));
    say("unknown psk", api.authenticate(&psk("gateway-2"), NOW));
    say("psk key", format!("{:?}", api.psk("gateway-1")));
    say("unknown psk key", format!("{:?}", api.psk("gateway-2")));
    say("first use", format!("{:?}", api.events()));

    // Sessions.
    let sensor = api.open(&cert(&s.leaf, "sensor-1"), NOW, 1).unwrap();
    let bob = api
        .open(&login("b1", Some("bob"), "hunter2"), NOW, 2)
        .unwrap();
    let alice = api.open(&login("a1", None, &s.jwt), NOW, 3).unwrap();
    say(
        "other open",
        format!("{:?}", api.open(&cert(&s.other, "sensor-1"), NOW, 4)),
    );
    say("sessions", api.count().to_string());
    for (who, token, requests) in [
        (
            "sensor",
            &sensor,
            vec![
                Request::publish("sensors/sensor-1/t"),
                Request::publish("sensors/sensor-2/t"),
                Request::subscribe("cmd/sensor-1/+"),
                Request::subscribe("cmd/sensor-1/#"),
                Request::publish("$SYS/x"),
                Request::subscribe("$share/g/cmd/sensor-1/+"),
                Request::publish(""),
                Request::publish("sensors/sensor-1/#"),
            ],
        ),
        (
            "bob",
            &bob,
            vec![
                Request::publish("users/bob/a"),
                Request::publish("users/alice/a"),
                Request::subscribe("users/+/a"),
                Request::connect("b1"),
            ],
        ),
        (
            "alice",
            &alice,
            vec![
                Request::publish("users/alice/a").with_qos(1),
                Request::subscribe("users/alice/#"),
            ],
        ),
    ] {
        for r in requests {
            say(
                &format!(
                    "{who} {:?} {}",
                    r.operation,
                    String::from_utf8_lossy(r.resource)
                ),
                api.decide(token, &r, NOW + 1),
            );
        }
    }
    say(
        "greengrass",
        api.greengrass(
            &sensor,
            "mqtt:publish",
            "mqtt:topic:sensors/sensor-1/a",
            NOW,
        ),
    );
    say(
        "greengrass wrong type",
        api.greengrass(&sensor, "mqtt:publish", "mqtt:topicfilter:a", NOW),
    );
    say(
        "greengrass unknown operation",
        api.greengrass(&sensor, "iot:publish", "mqtt:topic:a", NOW),
    );

    // Certificate states end sessions everywhere.
    say("suspend", api.state(&fp, CertAction::Suspend));
    say("suspend events", format!("{:?}", api.events()));
    say(
        "suspended decides",
        api.decide(&sensor, &Request::publish("sensors/sensor-1/t"), NOW),
    );
    say(
        "suspended opens",
        format!("{:?}", api.open(&cert(&s.leaf, "sensor-1"), NOW, 5)),
    );
    say("reactivate", api.state(&fp, CertAction::Reactivate));
    let again = api.open(&cert(&s.leaf, "sensor-1"), NOW, 6);
    say("reactivated opens", format!("{again:?}"));
    say("revoke", api.state(&fp, CertAction::Revoke));
    say(
        "revoked decides",
        api.decide(
            &again.unwrap(),
            &Request::publish("sensors/sensor-1/t"),
            NOW,
        ),
    );
    say(
        "revoked reactivates",
        api.state(&fp, CertAction::Reactivate),
    );
    say("revoke events", format!("{:?}", api.events()));
    say("registry", api.registry());

    // Reloads: a broken policy keeps the old; a new one applies to live sessions.
    say(
        "broken reload",
        api.reload(s, "{\"version\":1,\"policies\":{\"p\":[{\"efect\":1}]}}"),
    );
    say(
        "bob after broken reload",
        api.decide(&bob, &Request::publish("users/bob/a"), NOW + 2),
    );
    let narrower = POLICY.replace(
        "users/${username}/#\", \"topicfilter",
        "users/${username}/own\", \"topicfilter",
    );
    say("reload", api.reload(s, &narrower));
    say(
        "bob after reload",
        api.decide(&bob, &Request::publish("users/bob/a"), NOW + 2),
    );
    say(
        "bob own after reload",
        api.decide(&bob, &Request::publish("users/bob/own"), NOW + 2),
    );

    // Expiry: alice's token ends at NOW + 50, plus the leeway.
    api.tick(NOW + 400);
    say("expiry events", format!("{:?}", api.events()));
    say(
        "alice after expiry",
        api.decide(&alice, &Request::publish("users/alice/a"), NOW + 401),
    );
    say("close bob", api.close(&bob).to_string());
    say("close bob again", api.close(&bob).to_string());
    say("sessions at the end", api.count().to_string());
    t
}

#[test]
fn authentication_and_sessions_answer_as_native() {
    let s = setup();
    let config = Config::from_json(CONFIG.as_bytes()).unwrap();
    let (native, warnings) = Engine::from_config(&config, &mut read(&s), &[1; 32]).unwrap();
    let (wasm, wasm_warnings) = WasmEngine::from_config(
        common::runtime(),
        3,
        CONFIG.as_bytes(),
        &mut read(&s),
        &[1; 32],
    )
    .unwrap();
    assert_eq!(warnings, wasm_warnings);
    assert_eq!(wasm.shard_count(), 3);

    let expected = scenario(&native, &s);
    let got = scenario(&wasm, &s);
    for (n, w) in expected.iter().zip(&got) {
        assert_eq!(n, w);
    }
    assert_eq!(expected.len(), got.len());

    // The transcript says what it should, so equality is not agreement on nonsense.
    let line = |prefix: &str| {
        expected
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .clone()
    };
    assert!(
        line("password:").contains("Password"),
        "{}",
        line("password:")
    );
    assert!(
        line("wrong password:").contains("wrong secret"),
        "{}",
        line("wrong password:")
    );
    assert!(
        line("expired jwt:").contains("expired"),
        "{}",
        line("expired jwt:")
    );
    assert!(
        line("forged jwt:").contains("signature"),
        "{}",
        line("forged jwt:")
    );
    assert!(line("sensor Publish sensors/sensor-1/t:").ends_with("Ok(Allow)"));
    assert!(line("sensor Publish sensors/sensor-2/t:").ends_with("Ok(Deny)"));
    assert!(line("sensor Publish $SYS/x:").ends_with("Ok(Deny)"));
    assert!(line("suspend events:").contains("Suspended"));
    assert!(line("suspended decides:").contains("Err"));
    assert!(line("revoked reactivates:").contains("Err"));
    assert!(line("broken reload:").contains("Err"));
    assert!(line("bob after broken reload:").ends_with("Ok(Allow)"));
    assert!(line("bob after reload:").ends_with("Ok(Deny)"));
    assert!(line("bob own after reload:").ends_with("Ok(Allow)"));
    assert!(
        line("expiry events:").contains("Expired"),
        "{}",
        line("expiry events:")
    );
    assert!(line("registry:").contains("revoked"));
}

#[test]
fn the_session_limit_holds_across_shards() {
    let s = setup();
    let (wasm, _) = WasmEngine::from_config(
        common::runtime(),
        4,
        CONFIG.as_bytes(),
        &mut read(&s),
        &[1; 32],
    )
    .unwrap();
    let creds = login("b", Some("bob"), "hunter2");
    for r in 0..6u8 {
        wasm.open_session(&creds, NOW, [r; 16]).unwrap();
    }
    let refused = wasm.open_session(&creds, NOW, [9; 16]).unwrap_err();
    assert_eq!(
        refused.rejection(),
        Some(&mqward_core::Rejection::TooManySessions)
    );
    assert_eq!(wasm.session_count().unwrap(), 6);
}
