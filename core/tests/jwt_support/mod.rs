//! Fixture for the JWT tests: keys made with openssl when the tests start, tokens, JWKs and
//! authorizer signatures made by PyJWT and pyca/cryptography (`jwt_tokens.py`), so nothing the
//! tests accept was produced by mqward itself.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

/// The time the tests verify at.
pub const NOW: u64 = 1_700_000_000;

/// Key files made once per test run: `<name>.key` (private PEM), `<name>.pub` (SPKI PEM),
/// `rsa.pkcs1.pub` (PKCS#1 PEM), `hs<bits>.secret` (random bytes).
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    /// The path of a key file.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The bytes of a key file.
    pub fn read(&self, file: &str) -> Vec<u8> {
        fs::read(self.path(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"))
    }

    /// The path of a key file as text, for the Python jobs.
    pub fn arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes key directories left by earlier test processes that have ended.
fn remove_stale(tmp: &std::path::Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("jwt-keys-")) else {
            continue;
        };
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The keys, made on first use.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        remove_stale(&tmp);
        let dir = tmp.join(format!("jwt-keys-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("key directory");
        let at = |f: &str| dir.join(f).display().to_string();
        for (name, bits) in [("rsa", "2048"), ("rsa2", "2048"), ("rsa1024", "1024")] {
            let bits = format!("rsa_keygen_bits:{bits}");
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &bits,
                "-out",
                &at(&format!("{name}.key")),
            ]);
        }
        for (name, curve) in [("p256", "P-256"), ("p384", "P-384")] {
            let curve = format!("ec_paramgen_curve:{curve}");
            openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &curve,
                "-out",
                &at(&format!("{name}.key")),
            ]);
        }
        openssl(&[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            &at("ed25519.key"),
        ]);
        for name in ["rsa", "rsa2", "rsa1024", "p256", "p384", "ed25519"] {
            openssl(&[
                "pkey",
                "-in",
                &at(&format!("{name}.key")),
                "-pubout",
                "-out",
                &at(&format!("{name}.pub")),
            ]);
        }
        openssl(&[
            "rsa",
            "-in",
            &at("rsa.key"),
            "-RSAPublicKey_out",
            "-out",
            &at("rsa.pkcs1.pub"),
        ]);
        for (name, len) in [("hs256", "32"), ("hs384", "48"), ("hs512", "64")] {
            openssl(&["rand", "-out", &at(&format!("{name}.secret")), len]);
        }
        Keys { dir }
    })
}

/// Runs `jwt_tokens.py` on a list of jobs and returns its results.
pub fn python(jobs: Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jwt_tokens.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(jobs.to_string().as_bytes())
        .expect("jobs written");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "jwt_tokens.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key file (without extension) that signs for an algorithm.
pub fn key_name(alg: &str) -> &'static str {
    match alg {
        "HS256" => "hs256",
        "HS384" => "hs384",
        "HS512" => "hs512",
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => "rsa",
        "ES256" => "p256",
        "ES384" => "p384",
        "EdDSA" => "ed25519",
        other => panic!("no key for {other}"),
    }
}

/// A PyJWT signing job with the key that fits `alg` (HMAC secrets by value, others by file).
pub fn sign_job(alg: &str, key: &str, claims: &Value, headers: &Value) -> Value {
    let keys = keys();
    let mut job = json!({"op": "sign", "alg": alg, "claims": claims, "headers": headers});
    if key.starts_with("hs") {
        job["secret_hex"] = json!(hex(&keys.read(&format!("{key}.secret"))));
    } else {
        job["key"] = json!(keys.arg(&format!("{key}.key")));
    }
    job
}

/// One PyJWT token.
pub fn sign(alg: &str, claims: &Value, headers: &Value) -> String {
    token(sign_job(alg, key_name(alg), claims, headers))
}

/// Runs one job that returns a string.
pub fn token(job: Value) -> String {
    let out = python(json!([job]));
    out[0].as_str().expect("a token").to_owned()
}

/// Claims valid at [`NOW`] for an hour, with `extra` added (a `null` in `extra` removes).
pub fn claims(extra: Value) -> Value {
    let mut c = json!({"sub": "sensor-1", "iat": NOW - 10, "exp": NOW + 3600});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    c
}
