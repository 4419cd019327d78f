//! Runs `mqward cert ...` on registry files in temporary directories, with certificates made
//! at test time.

mod common;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_refused, code, names, run, stderr, stdout, temp_dir};
use mqward_core::authn::registry::{CertState, Registry};
use mqward_core::authn::x509::Fingerprint;

/// A fresh self-signed certificate: its PEM text, DER bytes and fingerprint.
struct Cert {
    pem: String,
    der: Vec<u8>,
    fingerprint: String,
}

fn cert(name: &str) -> Cert {
    let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let der = made.cert.der().to_vec();
    Cert {
        pem: made.cert.pem(),
        fingerprint: Fingerprint::of(&der).to_string(),
        der,
    }
}

/// `mqward cert COMMAND --registry REGISTRY ARGS...`
fn cert_cmd(command: &str, registry: &Path, args: &[&OsString]) -> Output {
    let mut all: Vec<OsString> = vec![
        "cert".into(),
        command.into(),
        "--registry".into(),
        registry.into(),
    ];
    all.extend(args.iter().map(|a| (*a).clone()));
    run(all)
}

fn os(text: &str) -> OsString {
    text.into()
}

fn state(registry: &Path, fingerprint: &str) -> Option<CertState> {
    let parsed = Registry::parse("r", &fs::read(registry).unwrap()).unwrap();
    parsed.state(&Fingerprint::parse(fingerprint).unwrap())
}

/// A registry with one certificate in the given state.
fn registry_with(dir: &Path, fingerprint: &str, state: &str) -> PathBuf {
    let path = dir.join("registry.json");
    let text = format!(
        r#"{{"version":1,"certificates":[{{"fingerprint":"{fingerprint}","state":"{state}"}}]}}"#
    );
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn register_creates_the_registry_from_pem_der_or_fingerprint() {
    let dir = temp_dir();
    let registry = dir.join("registry.json");
    let (a, b, c) = (cert("a"), cert("b"), cert("c"));
    let pem = dir.join("a.pem");
    fs::write(&pem, &a.pem).unwrap();
    let der = dir.join("b.der");
    fs::write(&der, &b.der).unwrap();

    let out = cert_cmd(
        "register",
        &registry,
        &[&pem.into(), &os("--name"), &os("a one")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{} unregistered -> inactive\n", a.fingerprint)
    );
    let out = cert_cmd("register", &registry, &[&der.into()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The colon form `openssl x509 -fingerprint -sha256` prints, in upper case.
    let colons = c
        .fingerprint
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8(pair.to_vec()).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let out = cert_cmd("register", &registry, &[&os(&colons), &os("--name=c")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{} unregistered -> inactive\n", c.fingerprint)
    );

    for fp in [&a.fingerprint, &b.fingerprint, &c.fingerprint] {
        assert_eq!(state(&registry, fp), Some(CertState::Inactive));
    }
    assert_eq!(names(&dir), ["a.pem", "b.der", "registry.json"]);

    // The table is sorted by fingerprint, padded, the name last.
    let out = cert_cmd("list", &registry, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut fps = [
        (&a.fingerprint, "a one"),
        (&b.fingerprint, ""),
        (&c.fingerprint, "c"),
    ];
    fps.sort();
    let mut want = format!("FINGERPRINT{}STATE     NAME\n", " ".repeat(55));
    for (fp, name) in fps {
        want.push_str(format!("{fp}  inactive  {name}").trim_end());
        want.push('\n');
    }
    assert_eq!(stdout(&out), want);

    let out = cert_cmd("list", &registry, &[&os("--json")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let first = entries.iter().find(|e| e["fingerprint"] == *a.fingerprint);
    assert_eq!(
        first.unwrap(),
        &serde_json::json!({"fingerprint": a.fingerprint, "state": "inactive", "name": "a one"})
    );
    let second = entries.iter().find(|e| e["fingerprint"] == *b.fingerprint);
    assert!(second.unwrap()["name"].is_null());
}

#[test]
fn lifecycle_and_revoked_is_final() {
    let dir = temp_dir();
    let a = cert("a");
    let registry = registry_with(&dir, &a.fingerprint, "inactive");
    let pem = dir.join("a.pem");
    fs::write(&pem, &a.pem).unwrap();
    let fp = os(&a.fingerprint);
    let pem = pem.into_os_string();

    let steps: [(&str, &OsString, String); 5] = [
        ("reactivate", &fp, "inactive -> active".into()),
        ("suspend", &pem, "active -> suspended".into()),
        (
            "suspend",
            &fp,
            "is already suspended; nothing changed".into(),
        ),
        ("reactivate", &pem, "suspended -> active".into()),
        ("revoke", &fp, "active -> revoked".into()),
    ];
    for (command, target, said) in steps {
        let out = cert_cmd(command, &registry, &[target]);
        assert_eq!(code(&out), 0, "{command}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{} {said}\n", a.fingerprint));
    }
    assert_eq!(state(&registry, &a.fingerprint), Some(CertState::Revoked));

    let before = fs::read(&registry).unwrap();
    for command in ["reactivate", "suspend"] {
        let out = cert_cmd(command, &registry, &[&fp]);
        let want = format!(
            "error: certificate `{}` is revoked; a revoked certificate cannot become",
            a.fingerprint
        );
        assert_refused(&out, &want, &registry, &before);
    }
    let out = cert_cmd("revoke", &registry, &[&pem]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        format!("{} is already revoked; nothing changed\n", a.fingerprint)
    );
    assert_eq!(fs::read(&registry).unwrap(), before);
    assert_eq!(names(&dir), ["a.pem", "registry.json"]);
}

#[test]
fn unknown_and_duplicate_certificates_are_refused() {
    let dir = temp_dir();
    let (a, b) = (cert("a"), cert("b"));
    let registry = registry_with(&dir, &a.fingerprint, "active");
    let before = fs::read(&registry).unwrap();
    for command in ["suspend", "reactivate", "revoke"] {
        let out = cert_cmd(command, &registry, &[&os(&b.fingerprint)]);
        let want = format!("error: certificate `{}` is not registered\n", b.fingerprint);
        assert_refused(&out, &want, &registry, &before);
    }
    let out = cert_cmd("register", &registry, &[&os(&a.fingerprint)]);
    assert_refused(&out, "is already registered (active)", &registry, &before);
}

#[test]
fn a_garbage_or_unreadable_registry_is_left_untouched() {
    let dir = temp_dir();
    let a = cert("a");
    let fp = os(&a.fingerprint);
    let cases: [(&str, &[u8], &str); 4] = [
        ("garbage.json", b"\x00\xffnot json", "error: `"),
        ("empty.json", b"", "error: `"),
        (
            "v2.json",
            br#"{"version":2,"certificates":[]}"#,
            "unsupported registry version `2`",
        ),
        (
            "bad-state.json",
            br#"{"version":1,"certificates":[{"fingerprint":"00","state":"gone"}]}"#,
            "is not 64 hex digits",
        ),
    ];
    for (name, bytes, said) in cases {
        let registry = dir.join(name);
        fs::write(&registry, bytes).unwrap();
        for command in ["register", "suspend", "reactivate", "revoke", "list"] {
            let args: &[&OsString] = if command == "list" { &[] } else { &[&fp] };
            let out = cert_cmd(command, &registry, args);
            assert_refused(&out, said, &registry, bytes);
        }
    }
    // A directory where the file should be: cannot be read, so nothing is written either.
    let sub = dir.join("sub");
    fs::create_dir(&sub).unwrap();
    let out = cert_cmd("register", &sub, &[&fp]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: cannot read `"),
        "{}",
        stderr(&out)
    );
    // A registry that does not exist is created by `register` only.
    let missing = dir.join("missing.json");
    for command in ["suspend", "list"] {
        let args: &[&OsString] = if command == "list" { &[] } else { &[&fp] };
        let out = cert_cmd(command, &missing, args);
        assert_eq!(code(&out), 2, "{command}");
        assert!(
            stderr(&out).starts_with("error: cannot read `"),
            "{}",
            stderr(&out)
        );
    }
    let mut expected = vec![
        "bad-state.json",
        "empty.json",
        "garbage.json",
        "sub",
        "v2.json",
    ];
    expected.sort();
    assert_eq!(names(&dir), expected);
}

#[test]
fn certificate_arguments_that_name_no_certificate() {
    let dir = temp_dir();
    let a = cert("a");
    let registry = registry_with(&dir, &a.fingerprint, "active");
    let key = dir.join("key.pem");
    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let empty = dir.join("empty.pem");
    fs::write(&empty, "\n").unwrap();
    let bad_der = dir.join("bad.der");
    fs::write(&bad_der, [0x30, 0x03, 0x02, 0x01, 0x01]).unwrap();
    let bad_pem = dir.join("bad.pem");
    fs::write(
        &bad_pem,
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cases: [(OsString, &str); 6] = [
        (
            os("abcd"),
            "error: `abcd` is neither a fingerprint (64 hex digits) nor a readable certificate \
             file: ",
        ),
        (
            os(&a.fingerprint[1..]),
            "is neither a fingerprint (64 hex digits) nor a readable certificate file",
        ),
        (
            key.into(),
            "holds no certificate: no `CERTIFICATE` PEM section",
        ),
        (empty.into(), "holds no certificate: the file is empty"),
        (bad_der.into(), "holds no certificate: not a valid X.509"),
        (
            bad_pem.into(),
            "holds no certificate: a PEM section is malformed",
        ),
    ];
    let before = fs::read(&registry).unwrap();
    for (argument, said) in &cases {
        for command in ["register", "suspend"] {
            let out = cert_cmd(command, &registry, &[argument]);
            assert_refused(&out, said, &registry, &before);
        }
    }

    // Names: no control characters, not empty.
    for name in ["", "a\nb"] {
        let out = cert_cmd(
            "register",
            &registry,
            &[&os(&a.fingerprint), &os("--name"), &os(name)],
        );
        assert_eq!(code(&out), 2, "{name:?}");
    }
}

#[test]
fn a_bundle_uses_its_first_certificate() {
    let dir = temp_dir();
    let (leaf, ca) = (cert("leaf"), cert("ca"));
    let bundle = dir.join("bundle.pem");
    fs::write(&bundle, format!("subject=CN leaf\n{}{}", leaf.pem, ca.pem)).unwrap();
    let registry = dir.join("r.json");
    let out = cert_cmd("register", &registry, &[&bundle.into()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{} unregistered -> inactive\n", leaf.fingerprint)
    );
    assert!(
        stderr(&out).contains("holds 2 certificates; using the first"),
        "{}",
        stderr(&out)
    );
    assert_eq!(state(&registry, &ca.fingerprint), None);
}

#[cfg(unix)]
#[test]
fn changes_keep_the_mode_and_no_change_writes_nothing() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = temp_dir();
    let a = cert("a");
    let registry = registry_with(&dir, &a.fingerprint, "active");
    fs::set_permissions(&registry, fs::Permissions::from_mode(0o640)).unwrap();
    let inode = fs::metadata(&registry).unwrap().ino();

    let out = cert_cmd("suspend", &registry, &[&os(&a.fingerprint)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = fs::metadata(&registry).unwrap();
    assert_eq!(after.permissions().mode() & 0o7777, 0o640);
    // Replaced by a rename, not rewritten in place.
    assert_ne!(after.ino(), inode);

    let out = cert_cmd("suspend", &registry, &[&os(&a.fingerprint)]);
    assert_eq!(code(&out), 0);
    assert_eq!(fs::metadata(&registry).unwrap().ino(), after.ino());
    assert_eq!(names(&dir), ["registry.json"]);
}

#[test]
fn names_with_control_characters_are_escaped_in_the_table() {
    let dir = temp_dir();
    let registry = dir.join("r.json");
    let fp = "ab".repeat(32);
    fs::write(
        &registry,
        format!(
            r#"{{"version":1,"certificates":[{{"fingerprint":"{fp}","state":"active","name":"a\nb\u001b[31m"}}]}}"#
        ),
    )
    .unwrap();
    let out = cert_cmd("list", &registry, &[]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out).lines().nth(1),
        Some(format!("{fp}  active  a\\nb\\u{{1b}}[31m").as_str())
    );
    let out = cert_cmd("list", &registry, &[&os("--json")]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json[0]["name"], "a\nb\u{1b}[31m");
}
