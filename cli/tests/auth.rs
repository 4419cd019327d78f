//! Runs `mqward verify-cert` and `mqward authenticate` against engine configurations in
//! temporary directories, with a CA and client certificates made at test time.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, run, stderr, stdout, temp_dir, BIN};
use mqward_core::authn::identity_token::{issue, TokenStore};
use mqward_core::authn::x509::Fingerprint;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Made by `mosquitto_passwd -b file alice 'secret pass'` (Mosquitto 2.0).
const PASSWD: &str = "alice:$7$101$CcZdneyym/dg+XKE$yrna6Z6cLk+uBuSGB6hjjVmAnlFzFkoVkCIl4w6Zi+K/\
                      SQXHBxypClsL5hjBPUcyEac+0AhGF/3tIvzMUg7HuQ==\n";

/// A CA that signs client certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A client certificate for `cn` signed by `ca`: its PEM text and fingerprint.
fn leaf(ca: &Ca, cn: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), Fingerprint::of(cert.der()).to_string())
}

/// A directory with a policy, a CA, a password file, a registry holding `registered` in the
/// given states, an empty token store and a configuration naming them all by relative names.
struct Setup {
    dir: PathBuf,
    config: PathBuf,
    registry: PathBuf,
}

fn setup(ca: &Ca, registered: &[(&str, &str)]) -> Setup {
    let dir = temp_dir();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.json");
    fs::copy(policy, dir.join("policy.json")).unwrap();
    fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    fs::write(dir.join("passwd"), PASSWD).unwrap();
    let entries: Vec<String> = registered
        .iter()
        .map(|(fp, state)| format!(r#"{{"fingerprint":"{fp}","state":"{state}"}}"#))
        .collect();
    let registry = dir.join("registry.json");
    fs::write(
        &registry,
        format!(r#"{{"version":1,"certificates":[{}]}}"#, entries.join(",")),
    )
    .unwrap();
    fs::write(dir.join("tokens.json"), r#"{"version":1,"tokens":[]}"#).unwrap();
    let config = dir.join("mqward.json");
    fs::write(
        &config,
        r#"{"version":1,"policy":"policy.json",
            "certificates":{"trustAnchors":["ca.pem"],"registry":"registry.json",
                            "mapping":{"thingName":"cert.subject.cn"}},
            "passwords":{"files":["passwd"]},
            "identityTokens":{"store":"tokens.json"}}"#,
    )
    .unwrap();
    Setup {
        dir,
        config,
        registry,
    }
}

/// Writes `text` to `name` in the setup's directory and returns the path.
fn file(setup: &Setup, name: &str, text: &str) -> PathBuf {
    let path = setup.dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn verify(config: &Path, cert: &Path) -> Output {
    run([
        "verify-cert".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        cert.as_os_str(),
    ])
}

/// `mqward authenticate --config CONFIG ARGS...`
fn authenticate(config: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "authenticate".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
    ];
    all.extend(args.iter().map(Into::into));
    run(all)
}

#[test]
fn verify_cert_follows_chain_and_registry_state() {
    let ca = ca("ca");
    let (good, good_fp) = leaf(&ca, "sensor-1");
    let (suspended, suspended_fp) = leaf(&ca, "sensor-2");
    let (revoked, revoked_fp) = leaf(&ca, "sensor-3");
    let (unregistered, unregistered_fp) = leaf(&ca, "sensor-4");
    let (stranger, stranger_fp) = leaf(&self::ca("other"), "sensor-1");
    let s = setup(
        &ca,
        &[
            (&good_fp, "inactive"),
            (&suspended_fp, "suspended"),
            (&revoked_fp, "revoked"),
            (&stranger_fp, "active"),
        ],
    );
    let registry = fs::read(&s.registry).unwrap();
    let cases = [
        (&good, &good_fp, 0, "valid"),
        (&suspended, &suspended_fp, 1, "rejected: suspended"),
        (&revoked, &revoked_fp, 1, "rejected: revoked"),
        (
            &unregistered,
            &unregistered_fp,
            1,
            "rejected: unknown identity",
        ),
        (
            &stranger,
            &stranger_fp,
            1,
            "rejected: certificate issuer not trusted",
        ),
    ];
    for (pem, fp, want, first) in cases {
        let cert = file(&s, "client.pem", pem);
        let out = verify(&s.config, &cert);
        assert_eq!(code(&out), want, "{first}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{first}\nfingerprint: {fp}\n"));
    }
    // An inactive certificate's first use is the broker's to record, not this command's.
    assert_eq!(fs::read(&s.registry).unwrap(), registry);
}

#[test]
fn verify_cert_bad_input_exits_two() {
    let ca = ca("ca");
    let (pem, fp) = leaf(&ca, "sensor-1");
    let s = setup(&ca, &[(&fp, "active")]);
    let cert = file(&s, "client.pem", &pem);
    let no_certs = file(&s, "plain.json", r#"{"version":1,"policy":"policy.json"}"#);
    let typo = file(
        &s,
        "typo.json",
        r#"{"version":1,"policy":"policy.json","polcy":1}"#,
    );
    let missing = file(
        &s,
        "missing.json",
        r#"{"version":1,"policy":"policy.json","certificates":{"trustAnchors":["gone.pem"]}}"#,
    );
    let key = file(
        &s,
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let cases: [(&Path, &Path, &str); 5] = [
        (&no_certs, &cert, "configures no certificate authentication"),
        (&typo, &cert, "polcy"),
        (&missing, &cert, "gone.pem"),
        (&s.config, &key, "holds no certificate"),
        (&s.config, &s.dir.join("absent.pem"), "cannot read `"),
    ];
    for (config, cert, said) in cases {
        let out = verify(config, cert);
        assert_eq!(code(&out), 2, "{said}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert!(stderr(&out).contains(said), "{said}: {}", stderr(&out));
    }
}

#[test]
fn authenticate_a_certificate_prints_every_attribute() {
    let ca = ca("ca");
    let (pem, fp) = leaf(&ca, "sensor-1");
    let s = setup(&ca, &[(&fp, "inactive")]);
    let registry = fs::read(&s.registry).unwrap();
    let cert = file(&s, "client.pem", &pem);
    let out = authenticate(
        &s.config,
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--client-id",
            "sensor-1",
            "--username",
            "ignored",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "kind: certificate",
            "clientId: sensor-1",
            "thingName: sensor-1",
            "cert.subject.cn: sensor-1"
        ]
    );
    assert!(lines.contains(&"cert.issuer.cn: ca"), "{text}");
    assert!(
        lines.contains(&format!("cert.fingerprint: {fp}").as_str()),
        "{text}"
    );
    // A username next to a certificate proves nothing, so it is not part of the identity.
    assert!(!text.contains("username"), "{text}");
    let err = stderr(&out);
    assert!(err.contains("expires "), "{err}");
    assert!(
        err.contains(&format!(
            "first use of certificate {fp} (inactive -> active)"
        )),
        "{err}"
    );
    assert_eq!(fs::read(&s.registry).unwrap(), registry);

    let text = String::from_utf8(registry).unwrap();
    fs::write(&s.registry, text.replacen("inactive", "suspended", 1)).unwrap();
    let out = authenticate(&s.config, &["--cert", cert.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "rejected: suspended\n");
}

#[test]
fn authenticate_passwords_without_showing_them() {
    let ca = ca("ca");
    let s = setup(&ca, &[]);
    let out = authenticate(
        &s.config,
        &["--username", "alice", "--password", "secret pass"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "kind: password\nusername: alice\n");

    let wrong = file(&s, "wrong", "not the secret\n");
    let out = authenticate(
        &s.config,
        &[
            "--username",
            "alice",
            "--password-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "rejected: wrong secret\n");
    assert!(!stderr(&out).contains("not the secret"));

    // One trailing newline (or CR LF) is not part of the password; standard input works too.
    let right = file(&s, "right", "secret pass\r\n");
    let out = authenticate(
        &s.config,
        &[
            "--username",
            "alice",
            "--password-file",
            right.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = with_stdin(
        &[
            "authenticate",
            "--config",
            s.config.to_str().unwrap(),
            "--username",
            "alice",
            "--password-file",
            "-",
        ],
        b"secret pass\n",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "kind: password\nusername: alice\n");
}

#[test]
fn authenticate_identity_tokens_issued_by_the_cli() {
    let ca = ca("ca");
    let s = setup(&ca, &[]);
    let store = s.dir.join("tokens.json");
    let store_arg = store.to_str().unwrap();
    let out = run([
        "token",
        "issue",
        "--store",
        store_arg,
        "--name=sensor-9",
        "--ttl=1h",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let credential = stdout(&out);
    let credential_file = file(&s, "cred", &credential);
    let out = authenticate(
        &s.config,
        &[
            "--client-id",
            "c9",
            "--password-file",
            credential_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "kind: token\nclientId: c9\nthingName: sensor-9\n"
    );
    assert!(stderr(&out).starts_with("expires "), "{}", stderr(&out));

    // Revoked, then expired: rejected, and the credential is never repeated.
    let out = run(["token", "revoke", "--store", store_arg, "--name=sensor-9"]);
    assert_eq!(code(&out), 0);
    let out = authenticate(&s.config, &["--password", credential.trim_end()]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "rejected: unknown identity\n");

    let (old, record) = issue("old", 60, 1_000_000, &[9; 32]).unwrap();
    let mut expired = TokenStore::new();
    expired.insert(record).unwrap();
    fs::write(&store, expired.to_json()).unwrap();
    let out = authenticate(&s.config, &["--username", &old]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "rejected: expired\n");
    assert!(!stderr(&out).contains(&old));
}

#[test]
fn authenticate_bad_input_exits_two_and_nothing_is_anonymous() {
    let ca = ca("ca");
    let s = setup(&ca, &[]);
    let out = authenticate(&s.config, &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "rejected: unknown identity\n");

    let pw = file(&s, "pw", "x");
    for args in [
        &["--password", "x", "--password-file", pw.to_str().unwrap()][..],
        &["--password-file", s.dir.join("absent").to_str().unwrap()],
        &["--cert", s.dir.join("absent.pem").to_str().unwrap()],
        &["--cert", pw.to_str().unwrap()],
        &["--bogus"],
    ] {
        let out = authenticate(&s.config, args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
    let out = authenticate(
        &s.dir.join("absent.json"),
        &["--username", "alice", "--password", "p"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: cannot read `"),
        "{}",
        stderr(&out)
    );
}

/// Runs `mqward ARGS...` with `input` on standard input.
fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
