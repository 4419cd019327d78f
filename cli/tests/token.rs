//! Runs `mqward token ...` on token store files in temporary directories.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{assert_refused, code, names, run, stderr, stdout, temp_dir};
use mqward_core::authn::identity_token::{TokenStore, TOKEN_LEN, TOKEN_PREFIX};
use mqward_core::{IdentityKind, Rejection};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `mqward token COMMAND --store STORE ARGS...`
fn token(command: &str, store: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "token".into(),
        command.into(),
        "--store".into(),
        store.as_os_str().to_owned(),
    ];
    all.extend(args.iter().map(Into::into));
    run(all)
}

/// Issues a token and returns the credential, checking what is printed where.
fn issue(store: &Path, name: &str, ttl: &str) -> String {
    let out = token("issue", store, &["--name", name, "--ttl", ttl]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let credential = text.strip_suffix('\n').unwrap().to_owned();
    assert!(!credential.contains('\n'), "one line: {text}");
    let token = credential.strip_prefix(TOKEN_PREFIX).unwrap();
    assert_eq!(token.len(), TOKEN_LEN);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("issued a token for `{name}`, expires 2")),
        "{err}"
    );
    assert!(!err.contains(token), "{err}");
    credential
}

fn load(store: &Path) -> TokenStore {
    TokenStore::from_json("s", &fs::read(store).unwrap()).unwrap()
}

#[test]
fn issue_creates_the_store_and_the_credential_verifies() {
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    let before = now();
    let credential = issue(&store, "sensor-1", "90m");
    let after = now();

    let text = fs::read_to_string(&store).unwrap();
    assert!(!text.contains(credential.strip_prefix(TOKEN_PREFIX).unwrap()));
    assert!(text.ends_with("}\n"), "{text}");
    let loaded = load(&store);
    let record = loaded.records().next().unwrap();
    assert!((before..=after).contains(&record.issued_at()));
    assert_eq!(record.expires_at() - record.issued_at(), 90 * 60);
    let identity = loaded.verify(&credential, after).unwrap();
    assert_eq!(identity.kind(), IdentityKind::Token);
    assert_eq!(identity.thing_name(), Some("sensor-1"));
    assert_eq!(
        loaded
            .verify(&credential, record.expires_at())
            .unwrap_err()
            .rejection(),
        Some(&Rejection::Expired)
    );

    // Each unit of the lifetime; a second token for the same name is a new credential.
    for (ttl, seconds) in [
        ("3600", 3600),
        ("45s", 45),
        ("24h", 86_400),
        ("30d", 2_592_000),
    ] {
        let again = issue(&store, "sensor-1", ttl);
        assert_ne!(again, credential);
        let loaded = load(&store);
        let grant = loaded.verify_grant(&again, now()).unwrap();
        assert!(grant.expires_at >= before + seconds && grant.expires_at <= now() + seconds);
    }
    assert_eq!(load(&store).len(), 5);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn bad_input_exits_two_and_shows_no_credential() {
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    for ttl in [
        "0",
        "0h",
        "5x",
        "-1",
        "1.5h",
        "",
        "h",
        "99999999999999999999d",
    ] {
        let out = token("issue", &store, &["--name", "s", "--ttl", ttl]);
        assert_eq!(code(&out), 2, "{ttl:?}");
        assert_eq!(stdout(&out), "", "{ttl:?}");
        assert!(stderr(&out).contains("--ttl"), "{ttl:?}: {}", stderr(&out));
    }
    let long = "n".repeat(129);
    for name in ["", "a\u{7}b", long.as_str()] {
        let out = token("issue", &store, &["--name", name, "--ttl", "60"]);
        assert_eq!(code(&out), 2, "{name:?}");
        assert_eq!(stdout(&out), "");
        assert!(
            stderr(&out).starts_with("error: token "),
            "{}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains(TOKEN_PREFIX));
    }
    assert!(!store.exists(), "nothing was issued, so no store was made");
    let out = token("issue", &store, &["--name", "s"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn a_garbage_or_missing_store_is_left_untouched() {
    let dir = temp_dir();
    let cases: [(&str, &[u8]); 3] = [
        ("garbage.json", b"{not json"),
        ("v2.json", br#"{"version":2,"tokens":[]}"#),
        (
            "bad-hash.json",
            br#"{"version":1,"tokens":[{"name":"a","sha256":"00","issued":1,"expires":2}]}"#,
        ),
    ];
    for (name, bytes) in cases {
        let store = dir.join(name);
        fs::write(&store, bytes).unwrap();
        for (command, args) in [
            ("issue", &["--name", "a", "--ttl", "60"][..]),
            ("list", &[]),
            ("revoke", &["--name", "a"]),
        ] {
            let out = token(command, &store, args);
            assert_refused(
                &out,
                &format!("error: `{}`", store.display()),
                &store,
                bytes,
            );
        }
    }
    let missing = dir.join("missing.json");
    for (command, args) in [("list", &[][..]), ("revoke", &["--name", "a"])] {
        let out = token(command, &missing, args);
        assert_eq!(code(&out), 2, "{command}");
        assert!(
            stderr(&out).starts_with("error: cannot read `"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(names(&dir), ["bad-hash.json", "garbage.json", "v2.json"]);
}

#[test]
fn list_shows_names_and_times_never_hashes() {
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    let t = 1_700_000_000u64;
    let (h1, h2) = ("ab".repeat(32), "cd".repeat(32));
    fs::write(
        &store,
        format!(
            r#"{{"version":1,"tokens":[
              {{"name":"zeta","sha256":"{h1}","issued":{t},"expires":{}}},
              {{"name":"alpha-sensor","sha256":"{h2}","issued":{t},"expires":{}}}]}}"#,
            t + 60,
            u64::MAX / 2
        ),
    )
    .unwrap();
    let out = token("list", &store, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(&h1) && !text.contains(&h2), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "NAME          ISSUED                EXPIRES                       STATUS",
            "alpha-sensor  2023-11-14T22:13:20Z  292277026596-12-04T15:30:07Z  valid",
            "zeta          2023-11-14T22:13:20Z  2023-11-14T22:14:20Z          expired",
        ]
    );

    let out = token("list", &store, &["--json"]);
    assert_eq!(code(&out), 0);
    assert!(!stdout(&out).contains(&h1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "alpha-sensor", "issued": t, "expires": u64::MAX / 2, "expired": false},
            {"name": "zeta", "issued": t, "expires": t + 60, "expired": true},
        ])
    );
}

#[test]
fn revoke_removes_every_token_of_a_name() {
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    let first = issue(&store, "s1", "1h");
    let second = issue(&store, "s1", "2h");
    let other = issue(&store, "s2", "1h");

    let out = token("revoke", &store, &["--name", "s1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "revoked 2 tokens of `s1`\n");
    let loaded = load(&store);
    for gone in [&first, &second] {
        assert_eq!(
            loaded.verify(gone, now()).unwrap_err().rejection(),
            Some(&Rejection::UnknownIdentity)
        );
    }
    assert!(loaded.verify(&other, now()).is_ok());

    let before = fs::read(&store).unwrap();
    let out = token("revoke", &store, &["--name", "s1"]);
    let want = format!("error: no token named `s1` in `{}`", store.display());
    assert_refused(&out, &want, &store, &before);

    let out = token("revoke", &store, &["--name", "s2"]);
    assert_eq!(stdout(&out), "revoked 1 token of `s2`\n");
    assert!(load(&store).is_empty());
}

#[cfg(unix)]
#[test]
fn the_store_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    issue(&store, "s1", "1h");
    fs::set_permissions(&store, fs::Permissions::from_mode(0o600)).unwrap();
    issue(&store, "s2", "1h");
    let mode = fs::metadata(&store).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    assert_eq!(names(&dir), ["tokens.json"]);
}

#[test]
fn concurrent_commands_never_lose_each_others_changes() {
    let dir = temp_dir();
    let store = dir.join("tokens.json");
    let names: Vec<String> = (0..8).map(|i| format!("dev-{i}")).collect();
    std::thread::scope(|scope| {
        for name in &names {
            let store = &store;
            scope.spawn(move || {
                let out = token("issue", store, &["--name", name, "--ttl", "3600"]);
                assert_eq!(code(&out), 0, "{}", stderr(&out));
            });
        }
    });
    let parsed = TokenStore::from_json("tokens.json", &fs::read(&store).unwrap()).unwrap();
    let mut held: Vec<&str> = parsed.records().map(|r| r.name()).collect();
    held.sort_unstable();
    assert_eq!(held, names, "every issued token is in the store");
}
