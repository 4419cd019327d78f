//! Password files, TLS-PSK files, identity tokens and declared identities, checked against
//! credentials made at test time by other implementations: Debian's `mosquitto_passwd`,
//! Python's `hashlib` and `argon2-cffi`, and `openssl rand`.

use mqward_core::authn::declared::{DeclaredIdentities, DECLARED_PREFIX};
use mqward_core::authn::identity_token::{issue, TokenStore, TOKEN_PREFIX};
use mqward_core::authn::password::{PasswordFile, PasswordSettings};
use mqward_core::authn::psk::PskStore;
use mqward_core::{Error, IdentityKind, Location, Rejection};
use proptest::prelude::*;

mod password_tools;
use password_tools::*;

const KEY: [u8; 32] = [0x5a; 32];

fn load(text: &str) -> PasswordFile {
    load_with(text, &PasswordSettings::default())
}

fn load_with(text: &str, settings: &PasswordSettings) -> PasswordFile {
    PasswordFile::parse("passwd", text.as_bytes(), settings, &KEY).unwrap_or_else(|e| panic!("{e}"))
}

fn rejection(result: Result<impl std::fmt::Debug, Error>) -> Rejection {
    match result {
        Err(Error::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The problems of a failed load as `(line, message)`.
fn problems(result: Result<impl std::fmt::Debug, Error>) -> Vec<(usize, String)> {
    let err = match result {
        Err(e) => e,
        Ok(v) => panic!("loaded: {v:?}"),
    };
    err.problems()
        .iter()
        .map(|p| match &p.location {
            Location::FileLine { line, .. } => (*line, p.message.clone()),
            other => panic!("no line in {other:?}: {}", p.message),
        })
        .collect()
}

/// The hash part of a `user:hash` line.
fn hash_of(line: &str) -> &str {
    line.split_once(':').expect("user:hash").1.trim()
}

// ---------------------------------------------------------------------------------------------
// Password files
// ---------------------------------------------------------------------------------------------

#[test]
fn mosquitto_passwd_files_verify() {
    let text = mosquitto_passwd(&[
        ("alice", "correct horse"),
        ("bob", "pässwörd with spaces"),
        ("carol", "x"),
    ]);
    assert!(text.contains("alice:$7$101$"), "{text}");
    let file = load(&text);
    assert_eq!(file.len(), 3);

    let alice = file.verify("alice", b"correct horse").unwrap();
    assert_eq!(alice.kind(), IdentityKind::Password);
    assert_eq!(alice.username(), Some("alice"));
    assert_eq!(alice.thing_name(), None);
    let bob = file
        .verify("bob", "pässwörd with spaces".as_bytes())
        .unwrap();
    assert_eq!(bob.username(), Some("bob"));
    assert!(file.verify("carol", b"x").is_ok());

    for (user, password) in [
        ("alice", &b"correct horse "[..]),
        ("alice", b"Correct horse"),
        ("alice", b""),
        ("bob", b"correct horse"),
        ("carol", b"X"),
    ] {
        assert_eq!(
            rejection(file.verify(user, password)),
            Rejection::WrongSecret,
            "{user}"
        );
    }
    // HMAC pads keys with zeros, so PBKDF2 alone would take `pw\0` for `pw`: NUL is refused.
    for (user, pw) in [("alice", &b"correct horse\0"[..]), ("dave", b"\0")] {
        assert!(matches!(
            rejection(file.verify(user, pw)),
            Rejection::Malformed(_)
        ));
    }
    for user in ["dave", "Alice", "alice ", "", "alice\0"] {
        assert_eq!(
            rejection(file.verify(user, b"correct horse")),
            Rejection::UnknownIdentity,
            "{user:?}"
        );
    }
}

#[test]
fn comments_blank_lines_and_crlf_as_mosquitto_accepts() {
    let text = mosquitto_passwd(&[("alice", "a-pass"), ("bob", "b-pass")]);
    let lines: Vec<&str> = text.lines().collect();
    let edited = format!(
        "# written by mosquitto_passwd\r\n\r\n   \n{}\r\n\t\n#bob:nothing\n  {}  \n",
        lines[0], lines[1]
    );
    let file = load(&edited);
    assert_eq!(file.len(), 2);
    assert!(file.verify("alice", b"a-pass").is_ok());
    assert!(file.verify("bob", b"b-pass").is_ok());
    assert!(!file.contains("#bob"));
}

#[test]
fn every_hash_format_verifies() {
    let users: [(&str, &[u8], String); 7] = [
        // Mosquitto 1.x `$6$`.
        (
            "old",
            b"legacy pass",
            sha512_line("old", b"legacy pass", 12),
        ),
        ("long", b"long salt", sha512_line("long", b"long salt", 64)),
        // Mosquitto 2.1 `$7$` and other salt lengths and counts.
        (
            "v21",
            b"new pass",
            pbkdf2_line("v21", b"new pass", 64, 1000),
        ),
        (
            "odd",
            b"odd pass",
            pbkdf2_line("odd", b"odd pass", 12, 5_000),
        ),
        ("one", b"one pass", pbkdf2_line("one", b"one pass", 32, 1)),
        // Mosquitto 2.1's argon2id shape (64-byte salt and hash) at a memory cost a test can
        // afford, and argon2-cffi's (16-byte salt, 32-byte hash, several lanes and passes).
        (
            "m21",
            b"argon pass",
            argon2id_line("m21", b"argon pass", 64, 4096, 1, 1, 64),
        ),
        (
            "cffi",
            b"cffi pass",
            argon2id_line("cffi", b"cffi pass", 16, 1024, 3, 4, 32),
        ),
    ];
    let text: Vec<&str> = users.iter().map(|(_, _, line)| line.as_str()).collect();
    let text = text.join("\n");
    assert!(
        text.contains("m21:$argon2id$v=19$m=4096,t=1,p=1$"),
        "{text}"
    );
    let file = load(&text);
    for (user, password, _) in &users {
        let id = file
            .verify(user, password)
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(id.username(), Some(*user));
        for (_, other, _) in &users {
            if other != password {
                assert_eq!(rejection(file.verify(user, other)), Rejection::WrongSecret);
            }
        }
    }
}

#[test]
fn argon2id_memory_above_the_cap_is_a_load_error() {
    // Just above the default cap of 64 MiB.
    let big = argon2id_line("big", b"pw", 16, 64 * 1024 + 1, 1, 1, 32);
    let found = problems(PasswordFile::parse(
        "passwd",
        format!("# x\n{big}\n").as_bytes(),
        &PasswordSettings::default(),
        &KEY,
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 2);
    assert!(
        found[0]
            .1
            .contains("memory cost 65537 KiB above the limit of 65536 KiB"),
        "{}",
        found[0].1
    );
    assert!(!found[0].1.contains(hash_of(&big)));

    // A lower cap set by the operator.
    let mut settings = PasswordSettings::default();
    settings.max_argon2_memory_kib = 1024;
    let ok = argon2id_line("ok", b"pw", 16, 1024, 1, 1, 32);
    let over = argon2id_line("over", b"pw", 16, 2048, 1, 1, 32);
    assert!(load_with(&ok, &settings).verify("ok", b"pw").is_ok());
    let found = problems(PasswordFile::parse(
        "passwd",
        format!("{ok}\n{over}").as_bytes(),
        &settings,
        &KEY,
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 2);
    assert!(found[0]
        .1
        .contains("user `over`: argon2id memory cost 2048 KiB"));
}

#[test]
fn iteration_counts_are_capped() {
    let line = pbkdf2_line("slow", b"pw", 12, 250_001);
    let found = problems(PasswordFile::parse(
        "passwd",
        line.as_bytes(),
        &PasswordSettings::default(),
        &KEY,
    ));
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .1
            .contains("iteration count 250001 above the limit of 250000"),
        "{}",
        found[0].1
    );
    let mut settings = PasswordSettings::default();
    settings.max_pbkdf2_iterations = 300_000;
    assert!(load_with(&line, &settings).verify("slow", b"pw").is_ok());

    // Counts no cap can hold.
    let hash = hash_of(&line);
    let rest = hash.splitn(4, '$').nth(3).expect("salt$hash");
    let text = format!("a:$7$4294967296${rest}\nb:$7$0${rest}\nc:$7$4294967295${rest}\n");
    let found = problems(PasswordFile::parse(
        "passwd",
        text.as_bytes(),
        &PasswordSettings::default(),
        &KEY,
    ));
    let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(found.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        messages[0].contains("larger than 4294967295"),
        "{messages:?}"
    );
    assert!(messages[1].contains("iteration count is 0"), "{messages:?}");
    assert!(messages[2].contains("above the limit"), "{messages:?}");
}

#[test]
fn malformed_lines_name_file_and_line_never_the_hash() {
    let good = mosquitto_passwd(&[("alice", "pw")]);
    let good = good.trim();
    let hash = hash_of(good);
    let fields: Vec<&str> = hash.split('$').collect();
    let (salt, digest) = (fields[3], fields[4]);
    let text = [
        good.to_owned(),                              // 1 fine
        "# comment".to_owned(),                       // 2
        hash.to_owned(),                              // 3 no `:`
        format!(":{hash}"),                           // 4 empty user
        "bob:".to_owned(),                            // 5 no hash
        format!("carol:$2b$12${salt}{digest}"),       // 6 bcrypt
        format!("dave:$7$101${salt}$!!notbase64!!"),  // 7 bad base64
        format!("erin:$7$101${salt}"),                // 8 missing field
        format!("alice:{hash}"),                      // 9 duplicate
        format!("frank:$6${salt}${}", &digest[..20]), // 10 short digest
        format!("gina:{hash}:extra"),                 // 11 two colons
        "hank:$argon2id$v=19$m=64,t=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA".to_owned(), // 12
    ]
    .join("\n");
    let err = PasswordFile::parse(
        "/etc/mosquitto/passwd",
        text.as_bytes(),
        &PasswordSettings::default(),
        &KEY,
    )
    .unwrap_err();
    let display = err.to_string();
    assert!(display.starts_with("10 problems:"), "{display}");
    assert!(
        display.contains("`/etc/mosquitto/passwd`, line 3"),
        "{display}"
    );
    for secret_part in [hash, salt, digest, &digest[..20]] {
        assert!(!display.contains(secret_part), "{display}");
    }
    let found = problems(Err::<(), _>(err));
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "{found:?}");
    let expect = [
        "line is not `user:hash`",
        "empty user",
        "user `bob` has no hash",
        "user `carol`: unsupported password hash",
        "user `dave`: hash is not base64",
        "user `erin`: `$7$` hash is not",
        "duplicate user `alice` (first on line 1)",
        "user `frank`: hash of 15 bytes; expected 64",
        "more than one `:`",
        "user `hank`: argon2id parameters are not",
    ];
    for ((_, message), expected) in found.iter().zip(expect) {
        assert!(message.contains(expected), "{message} lacks {expected}");
    }
}

#[test]
fn cache_hits_misses_and_evictions() {
    let text = mosquitto_passwd(&[("a", "pa"), ("b", "pb"), ("c", "pc")]);
    let mut settings = PasswordSettings::default();
    settings.cache_capacity = 2;
    let file = load_with(&text, &settings);
    let stats = |f: &PasswordFile| {
        let s = f.cache_stats();
        (s.hits, s.misses, s.len, s.evictions)
    };

    assert!(file.verify("a", b"pa").is_ok()); // miss, remembered
    assert!(file.verify("a", b"pa").is_ok()); // hit
    assert_eq!(stats(&file), (1, 1, 1, 0));
    // A wrong password never hits the cache, and a cached login does not help it.
    assert_eq!(rejection(file.verify("a", b"pb")), Rejection::WrongSecret);
    assert_eq!(rejection(file.verify("b", b"pa")), Rejection::WrongSecret);
    assert_eq!(stats(&file), (1, 3, 1, 0));
    // Unknown users never reach the cache.
    assert_eq!(
        rejection(file.verify("z", b"pa")),
        Rejection::UnknownIdentity
    );
    assert_eq!(stats(&file), (1, 3, 1, 0));

    assert!(file.verify("b", b"pb").is_ok()); // miss, remembered: full
    assert!(file.verify("a", b"pa").is_ok()); // hit: `a` marked
    assert!(file.verify("c", b"pc").is_ok()); // miss: `b` (unmarked) evicted
    assert_eq!(stats(&file), (2, 5, 2, 1));
    assert!(file.verify("a", b"pa").is_ok()); // still cached
    assert!(file.verify("b", b"pb").is_ok()); // evicted: hashed again
    assert_eq!(stats(&file), (3, 6, 2, 2));

    // Capacity 0: no cache.
    settings.cache_capacity = 0;
    let uncached = load_with(&text, &settings);
    assert!(uncached.verify("a", b"pa").is_ok());
    assert!(uncached.verify("a", b"pa").is_ok());
    assert_eq!(stats(&uncached), (0, 0, 0, 0));
}

#[test]
fn reload_starts_a_new_cache_and_changed_passwords_take_effect() {
    let old = mosquitto_passwd(&[("a", "old pass")]);
    let file = load(&old);
    assert!(file.verify("a", b"old pass").is_ok());
    assert!(file.verify("a", b"old pass").is_ok());
    assert_eq!(file.cache_stats().hits, 1);

    let new = mosquitto_passwd(&[("a", "new pass")]);
    let reloaded = load(&new);
    assert_eq!(reloaded.cache_stats().len, 0);
    assert_eq!(
        rejection(reloaded.verify("a", b"old pass")),
        Rejection::WrongSecret
    );
    assert!(reloaded.verify("a", b"new pass").is_ok());
}

#[test]
fn expensive_entries_are_hashed_once() {
    // 200,000 iterations (about 0.2 s each): the second login must come from the cache.
    let file = load(&pbkdf2_line("slow", b"pw", 12, 200_000));
    assert!(file.verify("slow", b"pw").is_ok());
    for _ in 0..20 {
        assert!(file.verify("slow", b"pw").is_ok());
    }
    let stats = file.cache_stats();
    assert_eq!((stats.misses, stats.hits), (1, 20));
}

#[test]
fn verification_is_shared_across_threads() {
    let text = mosquitto_passwd(&[("a", "pa"), ("b", "pb")]);
    let file = std::sync::Arc::new(load(&text));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let file = file.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let (user, pw) = if i % 2 == 0 { ("a", "pa") } else { ("b", "pb") };
                    assert!(file.verify(user, pw.as_bytes()).is_ok());
                    assert!(file.verify(user, b"wrong").is_err());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(file.cache_stats().len, 2);
}

// ---------------------------------------------------------------------------------------------
// TLS-PSK
// ---------------------------------------------------------------------------------------------

#[test]
fn mosquitto_psk_files() {
    let k1 = openssl_hex(16);
    let k2 = openssl_hex(32).to_uppercase();
    let text = format!("# PSKs\n\nsensor-1:{k1}\n  sensor-2 : {k2} \r\n");
    let store = PskStore::from_mosquitto("psk_file", text.as_bytes()).unwrap();
    assert_eq!(store.len(), 2);

    let key = store.key("sensor-1").unwrap();
    assert_eq!(key.hex(), k1);
    assert_eq!(key.as_bytes().len(), 16);
    let key2 = store.key("sensor-2").unwrap();
    assert_eq!(key2.hex(), k2.to_lowercase());
    assert_eq!(key2.as_bytes().len(), 32);
    // The bytes and the hex agree (checked by Python).
    let from_python = python(
        "import sys; print(bytes.fromhex(sys.argv[1]).hex())",
        &[&k2],
        b"",
    );
    assert_eq!(key2.hex(), from_python);

    let id = store.identity("sensor-2").unwrap();
    assert_eq!(id.kind(), IdentityKind::Psk);
    assert_eq!(id.username(), Some("sensor-2"));
    assert_eq!(id.thing_name(), Some("sensor-2"));
    assert!(store.key("sensor-3").is_none());
    assert!(store.key("Sensor-1").is_none());
    assert_eq!(
        rejection(store.identity("sensor-3")),
        Rejection::UnknownIdentity
    );
}

#[test]
fn psk_file_errors_name_the_line_never_the_key() {
    let short = openssl_hex(15);
    let good = openssl_hex(16);
    let odd = format!("{good}a");
    let bad = format!("{}zz", &good[..30]);
    let text = format!("a:{good}\nb:{short}\nc:{bad}\nd:{odd}\na:{good}\nnokey\ne:\n");
    let err = PskStore::from_mosquitto("psk_file", text.as_bytes()).unwrap_err();
    let display = err.to_string();
    for key in [&short, &good, &odd, &bad] {
        assert!(!display.contains(key.as_str()), "{display}");
    }
    let found = problems(Err::<(), _>(err));
    let expect = [
        (2, "key of identity `b` is 120 bits; at least 128 needed"),
        (3, "key of identity `c` is not hexadecimal"),
        (4, "key of identity `d` has an odd number of hex digits"),
        (5, "duplicate identity `a` (first on line 1)"),
        (6, "line is not `identity:key`"),
        (7, "identity `e` has no key"),
    ];
    assert_eq!(found.len(), expect.len(), "{found:?}");
    for ((line, message), (want_line, want)) in found.iter().zip(expect) {
        assert_eq!(*line, want_line, "{message}");
        assert_eq!(message, want);
    }
}

#[test]
fn emqx_psk_files() {
    // EMQX secrets are the raw key bytes; base64 text from openssl is a typical secret.
    let s1 = python(
        "import base64, sys; print(base64.b64encode(sys.stdin.buffer.read()).decode())",
        &[],
        &openssl_bytes::<24>(),
    );
    let s2 = format!("with:colons:{}", openssl_hex(8));
    let text = format!("client-1:{s1}\r\nclient-2:{s2}\n\n");
    let store = PskStore::from_emqx("psk.txt", text.as_bytes(), ":").unwrap();
    assert_eq!(store.key("client-1").unwrap().as_bytes(), s1.as_bytes());
    // The identity ends at the first separator; the secret may hold more.
    assert_eq!(store.key("client-2").unwrap().as_bytes(), s2.as_bytes());
    let hex = python("import sys; print(sys.argv[1].encode().hex())", &[&s1], b"");
    assert_eq!(store.key("client-1").unwrap().hex(), hex);
    assert_eq!(
        store.identity("client-1").unwrap().kind(),
        IdentityKind::Psk
    );

    // A configured separator.
    let text = format!("client-1|#|{s1}\n");
    let store = PskStore::from_emqx("psk.txt", text.as_bytes(), "|#|").unwrap();
    assert_eq!(store.key("client-1").unwrap().as_bytes(), s1.as_bytes());
    // The same file read with `:` has no separator on the line.
    let found = problems(PskStore::from_emqx(
        "psk.txt",
        b"client-1|#|0123456789abcdef0",
        ":",
    ));
    assert_eq!(found, [(1, "line has no separator `:`".to_owned())]);

    // A short secret, a duplicate, a non-UTF-8 identity.
    let mut bytes = format!("a:{s1}\nb:short-secret!!\na:{s1}\n").into_bytes();
    bytes.extend_from_slice(b"\xff:");
    bytes.extend_from_slice(s1.as_bytes());
    let err = PskStore::from_emqx("psk.txt", &bytes, ":").unwrap_err();
    assert!(!err.to_string().contains("short-secret"), "{err}");
    let found = problems(Err::<(), _>(err));
    assert_eq!(
        found,
        [
            (
                2,
                "key of identity `b` is 112 bits; at least 128 needed".to_owned()
            ),
            (3, "duplicate identity `a` (first on line 1)".to_owned()),
            (4, "identity is not UTF-8".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Identity tokens
// ---------------------------------------------------------------------------------------------

const NOW: u64 = 1_700_000_000;

#[test]
fn identity_tokens_issue_verify_and_expire() {
    let random = openssl_bytes::<32>();
    let (credential, record) = issue("sensor-9", 600, NOW, &random).unwrap();
    let token = credential.strip_prefix(TOKEN_PREFIX).expect("prefix");
    // The record holds SHA-256 of the token's bytes, as Python computes it.
    assert_eq!(record.sha256_hex(), sha256_of_base64url(token));
    assert_eq!(record.expires_at(), NOW + 600);

    let mut store = TokenStore::new();
    store.insert(record.clone()).unwrap();
    assert!(store.insert(record).is_err());

    let id = store.verify(&credential, NOW).unwrap();
    assert_eq!(id.kind(), IdentityKind::Token);
    assert_eq!(id.thing_name(), Some("sensor-9"));
    let grant = store.verify_grant(&credential, NOW + 599).unwrap();
    assert_eq!(grant.expires_at, NOW + 600);
    assert_eq!(
        rejection(store.verify(&credential, NOW + 600)),
        Rejection::Expired
    );
    assert_eq!(
        rejection(store.verify(&credential, u64::MAX)),
        Rejection::Expired
    );

    // A token from other random bytes is unknown.
    let (other, _) = issue("sensor-9", 600, NOW, &openssl_bytes::<32>()).unwrap();
    assert_eq!(
        rejection(store.verify(&other, NOW)),
        Rejection::UnknownIdentity
    );

    // Revoked.
    assert_eq!(store.revoke("sensor-9"), 1);
    assert_eq!(
        rejection(store.verify(&credential, NOW)),
        Rejection::UnknownIdentity
    );
}

#[test]
fn tampered_and_malformed_tokens() {
    let (credential, record) = issue("t", 600, NOW, &openssl_bytes::<32>()).unwrap();
    let mut store = TokenStore::new();
    store.insert(record).unwrap();
    let token = credential.strip_prefix(TOKEN_PREFIX).unwrap();

    // Every single-character change is rejected, as unknown or (non-canonical last
    // character) malformed.
    for i in 0..token.len() {
        for replacement in ['A', 'z', '0', '-', '_'] {
            let mut chars: Vec<char> = token.chars().collect();
            if chars[i] == replacement {
                continue;
            }
            chars[i] = replacement;
            let tampered: String = chars.into_iter().collect();
            let r = rejection(store.verify(&format!("{TOKEN_PREFIX}{tampered}"), NOW));
            assert!(
                matches!(r, Rejection::UnknownIdentity | Rejection::Malformed(_)),
                "{r:?}"
            );
        }
    }
    let malformed = [
        token.to_owned(),
        format!("identity-token//{token}"),
        format!("IDENTITY-TOKEN/{token}"),
        format!("{DECLARED_PREFIX}{token}"),
        format!(" {credential}"),
        format!("{credential} "),
        format!("{credential}A"),
        credential[..credential.len() - 1].to_owned(),
        format!("{TOKEN_PREFIX}{}", token.replace(['-', '_'], "+")) + "+",
        format!("{TOKEN_PREFIX}{}=", &token[..42]),
        TOKEN_PREFIX.to_owned(),
        String::new(),
    ];
    for bad in malformed {
        assert!(
            matches!(rejection(store.verify(&bad, NOW)), Rejection::Malformed(m) if !m.contains(token)),
            "{bad}"
        );
    }
}

#[test]
fn token_store_round_trip() {
    let mut store = TokenStore::new();
    let mut credentials = Vec::new();
    for (name, ttl) in [("b", 60), ("a", 3600), ("a", 7200)] {
        let (credential, record) = issue(name, ttl, NOW, &openssl_bytes::<32>()).unwrap();
        store.insert(record).unwrap();
        credentials.push(credential);
    }
    let json = store.to_json();
    for c in &credentials {
        let token = c.strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!json.contains(token), "the store must not hold tokens");
    }
    // Python reads it: version, names in order, hashes.
    let summary = python(
        "import json, sys; d = json.load(sys.stdin)\n\
         print(d['version'], ' '.join(t['name'] + ':' + str(t['expires'] - t['issued']) for t in d['tokens']))",
        &[],
        json.as_bytes(),
    );
    assert_eq!(summary, "1 a:3600 a:7200 b:60");

    let read = TokenStore::from_json("tokens.json", json.as_bytes()).unwrap();
    assert_eq!(read, store);
    for c in &credentials {
        assert!(read.verify(c, NOW + 59).is_ok());
    }
    let mut pruned = read.clone();
    assert_eq!(pruned.remove_expired(NOW + 60), 1);
    assert_eq!(pruned.len(), 2);
}

#[test]
fn token_store_errors() {
    let (_, record) = issue("a", 60, NOW, &[7; 32]).unwrap();
    let sha = record.sha256_hex();
    let entry = |name: &str, sha: &str| {
        format!(r#"{{"name":"{name}","sha256":"{sha}","issued":1,"expires":2}}"#)
    };
    let cases = [
        ("{\"version\":1,\n\"tokens\":[", "invalid token store"),
        (r#"{"version":2,"tokens":[]}"#, "`version` is not 1"),
        (r#"{"tokens":[]}"#, "`version` is not 1"),
        (r#"{"version":1,"tokens":[],"extra":1}"#, "unknown field"),
        (
            &format!(r#"{{"version":1,"tokens":[{}]}}"#, entry("", &sha)),
            "empty name",
        ),
        (
            &format!(r#"{{"version":1,"tokens":[{}]}}"#, entry("a", "abc")),
            "not 64 hex digits",
        ),
        (
            &format!(
                r#"{{"version":1,"tokens":[{},{}]}}"#,
                entry("a", &sha),
                entry("b", &sha)
            ),
            "token 1: hash listed twice",
        ),
    ];
    for (json, expected) in cases {
        let err = TokenStore::from_json("tokens.json", json.as_bytes()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{json}: {text}");
        assert!(text.contains("`tokens.json`"), "{text}");
    }
    let err = TokenStore::from_json("tokens.json", b"{\"version\":1,\n\"tokens\":[").unwrap_err();
    assert!(matches!(
        &err.problems()[0].location,
        Location::FileLine { line: 2, .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Declared identities
// ---------------------------------------------------------------------------------------------

#[test]
fn declared_identities_on_and_off() {
    let off = DeclaredIdentities::new(false);
    assert_eq!(
        rejection(off.verify("SYSTEM//historian")),
        Rejection::Disabled
    );
    assert_eq!(off.warning(), None);

    let on = DeclaredIdentities::new(true);
    let id = on.verify("SYSTEM//historian").unwrap();
    assert_eq!(id.kind(), IdentityKind::Declared);
    assert_eq!(id.thing_name(), Some("historian"));
    assert!(on
        .warning()
        .unwrap()
        .starts_with("declared identities are not authentication"));
    for bad in ["SYSTEM//", "SYSTEM//a\0", "historian", "IDENTITY-TOKEN//x"] {
        assert!(
            matches!(rejection(on.verify(bad)), Rejection::Malformed(_)),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// No parser panics on any input
// ---------------------------------------------------------------------------------------------

/// Hash texts close to valid ones, so the fuzzing reaches past the prefix checks.
fn near_hash() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "$6$",
        "$7$",
        "$7$1$",
        "$7$101$",
        "$argon2id$",
        "$argon2id$v=19$",
        "$argon2id$v=19$m=8,t=1,p=1$",
        "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$",
        "$argon2i$",
        "",
    ]);
    (prefix, "[A-Za-z0-9+/=$,:.=\\-]{0,120}").prop_map(|(p, rest)| format!("{p}{rest}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut settings = PasswordSettings::default();
        settings.max_pbkdf2_iterations = 1_000;
        settings.max_argon2_memory_kib = 64;
        if let Ok(file) = PasswordFile::parse("f", &bytes, &settings, &KEY) {
            for user in file.usernames().map(str::to_owned).collect::<Vec<_>>() {
                let _ = file.verify(&user, &bytes);
            }
        }
        let _ = PskStore::from_mosquitto("f", &bytes);
        let _ = PskStore::from_emqx("f", &bytes, ":");
        let _ = TokenStore::from_json("f", &bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = TokenStore::new().verify(&text, NOW);
        let _ = DeclaredIdentities::new(true).verify(&text);
    }

    #[test]
    fn near_valid_password_lines_never_panic(hash in near_hash(), pw in ".{0,20}") {
        let mut settings = PasswordSettings::default();
        settings.max_pbkdf2_iterations = 1_000;
        settings.max_argon2_memory_kib = 64;
        let line = format!("u:{hash}\n");
        if let Ok(file) = PasswordFile::parse("f", line.as_bytes(), &settings, &KEY) {
            let _ = file.verify("u", pw.as_bytes());
            let _ = file.verify("v", pw.as_bytes());
        }
    }

    #[test]
    fn near_valid_tokens_never_panic(token in "[A-Za-z0-9_\\-+/=]{40,46}") {
        let (_, record) = issue("n", 10, NOW, &[1; 32]).unwrap();
        let mut store = TokenStore::new();
        store.insert(record).unwrap();
        let r = store.verify(&format!("{TOKEN_PREFIX}{token}"), NOW);
        prop_assert!(r.is_err());
    }
}
