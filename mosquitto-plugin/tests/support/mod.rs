//! What the broker tests share: a scratch directory, a test PKI, credentials made by
//! independent tools (`mosquitto_passwd`, PyJWT, OpenSSL), Debian's `mosquitto` started on free
//! loopback ports with the built plugin, and clients (`mosquitto_pub`/`mosquitto_sub`, and
//! paho-mqtt through `paho_client.py`).
//!
//! Nothing sleeps for a fixed time: every wait polls for the condition with a deadline.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqward_core::authn::identity_token;
use mqward_core::authn::registry::Registry;
use mqward_core::authn::x509::Fingerprint;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::{json, Value};

/// The plugin this test run built: `libmqward_mosquitto.so` beside the test executable in
/// `target/<profile>/deps` (`cargo test` does not copy it up to `target/<profile>`).
pub fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join("libmqward_mosquitto.so");
    assert!(path.exists(), "no plugin at {}", path.display());
    path
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh scratch directory, removed when the test passes.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mqward-broker-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Replaces a file the way operators' tools do: a new file renamed over the old one.
    pub fn replace(&self, name: &str, contents: impl AsRef<[u8]>) {
        let temp = self.join(&format!(".{name}.new"));
        std::fs::write(&temp, contents).unwrap();
        std::fs::rename(temp, self.join(name)).unwrap();
    }

    pub fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap()
    }

    pub fn str(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A test certificate authority with a server certificate for 127.0.0.1.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
}

/// A client certificate's files and fingerprint.
pub struct ClientCert {
    pub cert: String,
    pub key: String,
    pub fingerprint: Fingerprint,
}

impl Pki {
    /// Writes `ca.pem`, `server.pem` and `server.key` into `dir`.
    pub fn new(dir: &Dir) -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mqward test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&key).unwrap();
        dir.write("ca.pem", ca.pem());
        let pki = Pki {
            issuer: Issuer::new(params, key),
        };
        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = server.signed_by(&server_key, &pki.issuer).unwrap();
        dir.write("server.pem", cert.pem());
        dir.write("server.key", server_key.serialize_pem());
        pki
    }

    /// A client certificate with this common name, written as `<file>.pem` and `<file>.key`.
    pub fn client(&self, dir: &Dir, file: &str, cn: &str) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = dir.write(&format!("{file}.pem"), cert.pem());
        let key_path = dir.write(&format!("{file}.key"), key.serialize_pem());
        ClientCert {
            cert: cert_path.display().to_string(),
            key: key_path.display().to_string(),
            fingerprint: Fingerprint::of(cert.der()),
        }
    }
}

/// Writes a registry with these certificates, all inactive (never used).
pub fn register(dir: &Dir, certs: &[&ClientCert]) {
    let mut registry = Registry::new();
    for c in certs {
        registry.register(c.fingerprint, None).unwrap();
    }
    dir.write("registry.json", registry.to_json());
}

/// Changes one certificate's state in the registry file, as `mqward cert suspend` does.
pub fn set_state(
    dir: &Dir,
    cert: &ClientCert,
    change: fn(
        &mut Registry,
        &Fingerprint,
    )
        -> Result<Option<mqward_core::authn::registry::StateChange>, mqward_core::Error>,
) {
    let mut registry =
        Registry::parse("registry.json", dir.text("registry.json").as_bytes()).unwrap();
    change(&mut registry, &cert.fingerprint).unwrap();
    dir.replace("registry.json", registry.to_json());
}

/// Runs a command that must succeed.
fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A password file made by `mosquitto_passwd`.
pub fn passwords(dir: &Dir, users: &[(&str, &str)]) {
    let file = dir.join("passwd");
    for (i, (user, password)) in users.iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        succeed(cmd.arg("-b").arg(&file).arg(user).arg(password));
    }
}

/// An RSA-2048 key pair made by OpenSSL: `<name>.key` (private) and `<name>.pub`.
pub fn rsa_key(dir: &Dir, name: &str) {
    let key = dir.join(&format!("{name}.key"));
    succeed(
        Command::new("openssl")
            .args(words(
                "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
            ))
            .arg("-out")
            .arg(&key),
    );
    succeed(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(dir.join(&format!("{name}.pub"))),
    );
}

/// Starts a Python script (relative to this crate) with `input` on its standard input.
fn python(script: &str, input: &Value) -> Child {
    let mut child = Command::new("python3")
        .arg(manifest_dir().join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    child
}

/// Runs jobs through core's PyJWT helper (`core/tests/jwt_tokens.py`): tokens and signatures.
pub fn pyjwt(jobs: Value) -> Vec<Value> {
    let out = python("../core/tests/jwt_tokens.py", &jobs)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An RS256 JWT signed with `<dir>/<key>.key`, kid `k1`.
pub fn jwt(dir: &Dir, key: &str, claims: Value) -> String {
    pyjwt(
        json!([{"op": "sign", "alg": "RS256", "key": dir.str(&format!("{key}.key")),
                  "claims": claims, "headers": {"kid": "k1"}}]),
    )[0]
    .as_str()
    .unwrap()
    .to_owned()
}

/// The AWS custom-authorizer username for a token, signed with `<dir>/<key>.key`.
pub fn signed_username(dir: &Dir, key: &str, authorizer: &str, token: &str) -> String {
    let sig =
        pyjwt(json!([{"op": "aws_sign", "key": dir.str(&format!("{key}.key")), "data": token}]))[0]
            .as_str()
            .unwrap()
            .to_owned();
    let encoded: String = sig
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            _ => (b as char).to_string(),
        })
        .collect();
    format!(
        "device?x-amz-customauthorizer-name={authorizer}&x-amz-customauthorizer-signature={encoded}&token={token}"
    )
}

/// Issues identity tokens into `tokens.json`; returns the credentials.
pub fn identity_tokens(dir: &Dir, grants: &[(&str, u64)]) -> Vec<String> {
    let mut store = identity_token::TokenStore::new();
    let now = now();
    let mut out = Vec::new();
    for (i, (name, ttl)) in grants.iter().enumerate() {
        let mut random = [0u8; 32];
        random[0] = i as u8;
        random[1..9].copy_from_slice(&now.to_le_bytes());
        random[9..17].copy_from_slice(&(std::process::id() as u64).to_le_bytes());
        let (credential, record) = identity_token::issue(name, *ttl, now, &random).unwrap();
        store.insert(record).unwrap();
        out.push(credential);
    }
    dir.write("tokens.json", store.to_json());
    out
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A free loopback port (the OS picks; the listener is closed before the broker binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `mosquitto` with the plugin; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Broker {
    child: Option<Child>,
    pub ports: Vec<u16>,
    log: PathBuf,
    pub conf: PathBuf,
}

impl Broker {
    /// Starts mosquitto with a configuration template: `{plugin}` becomes the plugin's path,
    /// `{dir}` the scratch directory, `{user}` the current user (no privilege drop), and
    /// `{port0}`, `{port1}`, ... free ports. Returns the log if it does not start.
    pub fn try_start(dir: &Dir, template: &str) -> Result<Broker, String> {
        for _attempt in 0..3 {
            let mut ports = Vec::new();
            let mut conf = template
                .replace("{plugin}", &plugin().display().to_string())
                .replace("{dir}", &dir.path.display().to_string())
                .replace("{user}", &user());
            for i in 0..4 {
                let key = format!("{{port{i}}}");
                if conf.contains(&key) {
                    let port = free_port();
                    conf = conf.replace(&key, &port.to_string());
                    ports.push(port);
                }
            }
            let conf_path = dir.write("mosquitto.conf", conf);
            let log = dir.join("broker.log");
            let err = std::fs::File::create(&log).unwrap();
            let mut child = Command::new("mosquitto")
                .arg("-c")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .unwrap();
            let mut exited = None;
            let up = wait_until(Duration::from_secs(10), || {
                if let Ok(Some(status)) = child.try_wait() {
                    exited = Some(status);
                    return true;
                }
                read(&log).contains(" running")
            });
            let text = read(&log);
            if exited.is_some() {
                if text.contains("Address already in use") {
                    continue;
                }
                return Err(text);
            }
            assert!(up, "mosquitto did not start:\n{text}");
            return Ok(Broker {
                child: Some(child),
                ports,
                log,
                conf: conf_path,
            });
        }
        Err("no free ports after three attempts".to_owned())
    }

    /// [`Broker::try_start`] that must succeed.
    pub fn start(dir: &Dir, template: &str) -> Broker {
        Broker::try_start(dir, template)
            .unwrap_or_else(|log| panic!("mosquitto did not start:\n{log}"))
    }

    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// How many log lines contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.log().lines().filter(|l| l.contains(text)).count()
    }

    /// Waits until `count` log lines contain `text`.
    pub fn wait_log(&self, text: &str, count: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.count(text) >= count)
    }

    /// Sends SIGHUP and waits until the plugin has reloaded (or refused the reload). A broker
    /// starved of CPU on a shared machine can be slow to act on it: after 10 s without a
    /// reload the signal is sent again, for 30 s in all.
    pub fn reload(&self) {
        let done = |b: &Broker| b.count("mqward: reloaded") + b.count("mqward: reload failed");
        let before = done(self);
        let reloaded = (0..3).any(|_| {
            // SAFETY: signalling the child this test started.
            unsafe { libc::kill(self.pid(), libc::SIGHUP) };
            wait_until(Duration::from_secs(10), || done(self) > before)
        });
        assert!(reloaded, "no reload:\n{}", self.log());
    }

    /// Stops the broker (SIGTERM: the plugin's cleanup runs) and returns its log.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling the child this test started.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let stopped = wait_until(Duration::from_secs(10), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs a paho-mqtt client script (see `paho_client.py`) to its end.
pub fn paho(script: Value) -> Value {
    finish(spawn_paho(script))
}

/// Starts a paho-mqtt client script in the background.
pub fn spawn_paho(script: Value) -> Child {
    python("tests/paho_client.py", &script)
}

/// Waits for a background paho client and reads what it printed.
pub fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "paho client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs `mosquitto_pub` with these arguments on `port`.
pub fn mosquitto_pub(port: u16, args: &[&str]) -> Output {
    Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap()
}

/// Starts `mosquitto_sub` with these arguments on `port` (stdout and stderr captured).
pub fn mosquitto_sub(port: u16, args: &[&str]) -> Child {
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Standard output and error of a finished command, for assertions.
pub fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The test policy: sensors by certificate or PSK, people by password or token, admins.
pub const POLICY: &str = r#"{
  "version": 1,
  "groups": [
    { "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["sensor"] },
    { "name": "admins", "selectionRule": "username: admin AND kind: password", "policies": ["admin"] },
    { "name": "users", "selectionRule": "kind: password", "policies": ["user"] },
    { "name": "operators", "selectionRule": "claim.role: ops", "policies": ["operator"] },
    { "name": "everyone", "selectionRule": "*", "policies": ["baseline"] }
  ],
  "policies": {
    "sensor": [
      { "id": "connect-own", "effect": "allow", "operations": ["connect"], "resources": ["clientId:${thingName}"] },
      { "id": "telemetry", "effect": "allow", "operations": ["publish"],
        "resources": ["topic:sensors/${thingName}/telemetry/#"], "qos": [0, 1] },
      { "id": "commands", "effect": "allow", "operations": ["subscribe", "receive", "unsubscribe"],
        "resources": ["topicfilter:cmd/${thingName}/#", "topic:cmd/${thingName}/#"] }
    ],
    "admin": [
      { "id": "everything", "effect": "allow", "operations": ["publish", "subscribe", "receive", "unsubscribe"],
        "resources": ["topic:#", "topicfilter:#"] },
      { "id": "sys", "effect": "allow", "operations": ["subscribe", "receive", "unsubscribe"],
        "resources": ["topicfilter:$SYS/#", "topic:$SYS/#"] }
    ],
    "user": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"] },
      { "id": "own", "effect": "allow", "operations": ["publish", "subscribe", "receive", "unsubscribe"],
        "resources": ["topic:users/${username}/#", "topicfilter:users/${username}/#"] },
      { "id": "watch", "effect": "allow", "operations": ["subscribe", "receive"],
        "resources": ["topicfilter:sensors/#", "topic:sensors/#"] }
    ],
    "operator": [
      { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:ops-*"], "match": "glob" },
      { "id": "dashboards", "effect": "allow", "operations": ["subscribe", "receive"],
        "resources": ["topicfilter:sensors/+/telemetry/#", "topic:sensors/+/telemetry/#"] },
      { "id": "reboot", "effect": "allow", "operations": ["publish"], "resources": ["topic:cmd/+/reboot"], "qos": [1] }
    ],
    "baseline": [
      { "id": "no-sys-writes", "effect": "deny", "operations": ["publish"], "resources": ["topic:$SYS/#"] },
      { "id": "no-secrets", "effect": "deny", "operations": ["receive"], "resources": ["topic:+/secret/#"] },
      { "id": "inbox", "effect": "allow", "operations": ["subscribe", "receive", "unsubscribe"],
        "resources": ["topicfilter:clients/${clientid}/inbox", "topic:clients/${clientid}/inbox"] },
      { "id": "connect-token", "effect": "allow", "operations": ["connect"], "resources": ["clientId:${thingName}"] }
    ]
  }
}"#;

/// A `mosquitto_sub` running in the background, its output lines collected as they come.
pub struct Sub {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sub {
    /// Starts `mosquitto_sub -v` with these arguments and waits until the broker has logged its
    /// subscription (`subscribed` log lines reach `subscriptions`).
    pub fn start(broker: &Broker, port: u16, args: &[&str], id: &str) -> Sub {
        let mut all = vec!["-v", "-i", id];
        all.extend_from_slice(args);
        let mut child = mosquitto_sub(port, &all);
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let sub = Sub {
            child,
            lines,
            reader: Some(reader),
        };
        let needle = format!("Sending SUBACK to {id}");
        assert!(
            wait_until(Duration::from_secs(10), || broker
                .log()
                .lines()
                .any(|l| l.ends_with(&needle))),
            "mosquitto_sub {id} did not subscribe:\n{}",
            broker.log()
        );
        sub
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line equal to `line` arrives.
    pub fn wait_for(&self, line: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.lines().iter().any(|l| l == line))
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Command-line arguments written as one line of words (none of which holds a space).
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}
