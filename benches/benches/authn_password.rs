//! Password, PSK, identity-token and declared-identity authentication: the cost of one check.
//!
//! `$7$` (PBKDF2-HMAC-SHA512) verification with the cache off at Mosquitto 2.0's 101 and 2.1's
//! 1,000 iterations, a wrong password and an unknown user at 1,000 (they should cost the same
//! as a right one: the unknown user is checked against a decoy), a cache hit, a PSK key lookup
//! in 10,000 identities, and an identity-token check in 10,000 tokens.
//!
//! The `$7$` entries are derived here with ring's PBKDF2 (the tests check against
//! `mosquitto_passwd` and Python); benchmarks only need well-formed entries.

use std::hint::black_box;
use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mqward_core::authn::declared::DeclaredIdentities;
use mqward_core::authn::identity_token::{issue, TokenStore};
use mqward_core::authn::password::{PasswordFile, PasswordSettings};
use mqward_core::authn::psk::PskStore;
use ring::pbkdf2;

const KEY: [u8; 32] = [0x42; 32];
const NOW: u64 = 1_700_000_000;
const IDENTITIES: usize = 10_000;

/// A `$7$` line for `user` with a salt of `salt_len` bytes.
fn pbkdf2_line(user: &str, password: &[u8], salt_len: usize, iterations: u32) -> String {
    let salt: Vec<u8> = (0..salt_len).map(|i| (i * 31 + user.len()) as u8).collect();
    let mut out = [0u8; 64];
    let Some(n) = NonZeroU32::new(iterations) else {
        panic!("0 iterations");
    };
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, n, &salt, password, &mut out);
    format!(
        "{user}:$7${iterations}${}${}\n",
        STANDARD.encode(&salt),
        STANDARD.encode(out)
    )
}

fn password_file(iterations: u32, salt_len: usize, cache_capacity: usize) -> PasswordFile {
    let text: String = (0..100)
        .map(|i| {
            pbkdf2_line(
                &format!("user-{i}"),
                b"device password 1",
                salt_len,
                iterations,
            )
        })
        .collect();
    let mut settings = PasswordSettings::default();
    settings.cache_capacity = cache_capacity;
    match PasswordFile::parse("passwd", text.as_bytes(), &settings, &KEY) {
        Ok(file) => file,
        Err(e) => panic!("{e}"),
    }
}

fn passwords(c: &mut Criterion) {
    let mut group = c.benchmark_group("password");
    for (iterations, salt_len) in [(101, 12), (1_000, 64)] {
        let file = password_file(iterations, salt_len, 0);
        assert!(file.verify("user-7", b"device password 1").is_ok());
        group.bench_function(BenchmarkId::new("verify-7", iterations), |b| {
            b.iter(|| file.verify(black_box("user-7"), black_box(b"device password 1")))
        });
        if iterations == 1_000 {
            assert!(file.verify("user-7", b"device password 2").is_err());
            group.bench_function(BenchmarkId::new("wrong-7", iterations), |b| {
                b.iter(|| file.verify(black_box("user-7"), black_box(b"device password 2")))
            });
            assert!(file.verify("nobody", b"device password 1").is_err());
            group.bench_function(BenchmarkId::new("unknown-7", iterations), |b| {
                b.iter(|| file.verify(black_box("nobody"), black_box(b"device password 1")))
            });
        }
    }
    let cached = password_file(1_000, 64, 1_000);
    assert!(cached.verify("user-7", b"device password 1").is_ok());
    group.bench_function(BenchmarkId::new("cache-hit-7", 1_000), |b| {
        b.iter(|| cached.verify(black_box("user-7"), black_box(b"device password 1")))
    });
    assert!(cached.cache_stats().hits > 0);
    group.finish();
}

fn psk(c: &mut Criterion) {
    let text: String = (0..IDENTITIES)
        .map(|i| format!("sensor-{i}:{:032x}\n", (i as u128) << 64 | 0xfeed))
        .collect();
    let store = match PskStore::from_mosquitto("psk_file", text.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let mut group = c.benchmark_group("psk");
    group.bench_function(BenchmarkId::new("key", IDENTITIES), |b| {
        b.iter(|| store.key(black_box("sensor-4242")).map(|k| k.hex().len()))
    });
    group.bench_function(BenchmarkId::new("identity", IDENTITIES), |b| {
        b.iter(|| store.identity(black_box("sensor-4242")))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let mut store = TokenStore::new();
    let mut credential = String::new();
    for i in 0..IDENTITIES {
        let mut random = [0u8; 32];
        random[..8].copy_from_slice(&(i as u64).to_le_bytes());
        random[31] = 0x5c;
        let (c, record) = match issue(&format!("thing-{i}"), 3_600, NOW, &random) {
            Ok(issued) => issued,
            Err(e) => panic!("{e}"),
        };
        if let Err(e) = store.insert(record) {
            panic!("{e}");
        }
        if i == 4_242 {
            credential = c;
        }
    }
    assert!(store.verify(&credential, NOW).is_ok());
    let declared = DeclaredIdentities::new(true);
    let mut group = c.benchmark_group("token");
    group.bench_function(BenchmarkId::new("verify", IDENTITIES), |b| {
        b.iter(|| store.verify_grant(black_box(&credential), black_box(NOW)))
    });
    group.bench_function("declared", |b| {
        b.iter(|| declared.verify(black_box("SYSTEM//historian-1")))
    });
    group.finish();
}

criterion_group!(benches, passwords, psk, tokens);
criterion_main!(benches);
