//! Client-certificate authentication: a cold verification (parse, pinned-key checks, webpki
//! chain, fields, mapping; the cache off) for a P-256 chain and an RSA-2048 chain, and a warm
//! one (the same bytes again: a cache hit that re-checks time, CRL and registry state).
//!
//! Each chain is root -> intermediate -> leaf, the intermediate configured, the leaf presented
//! as DER (what a broker plugin gets from the TLS library), registered active. The PKI is made
//! at start-up: rcgen for ECDSA, the OpenSSL command-line tool for the RSA keys (ring cannot
//! generate RSA keys).

use std::hint::black_box;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use mqward_core::authn::registry::Registry;
use mqward_core::authn::x509::{CertificateVerifier, Fingerprint, IdentityMapping};
use mqward_core::CertField;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// 2025-06-01T00:00:00Z; the certificates are valid 1975 to 4096 (rcgen's default).
const NOW: u64 = 1_748_736_000;

fn params(cn: &str, ca: bool) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    params
}

/// An RSA-2048 key made by OpenSSL (PKCS#8 PEM).
fn rsa_key() -> KeyPair {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("the openssl command-line tool is installed");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).expect("PEM is text");
    KeyPair::from_pem(&pem).expect("rcgen reads the RSA key")
}

/// Root, intermediate and leaf with keys from `key`: a verifier caching `cache` results, the
/// leaf DER and a registry holding the leaf as active.
fn chain(key: impl Fn() -> KeyPair, cache: usize) -> (CertificateVerifier, Vec<u8>, Registry) {
    let root_key = key();
    let root_params = params("Bench Root", true);
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let sub_key = key();
    let sub_params = params("Bench Issuing CA", true);
    let sub = sub_params
        .signed_by(&sub_key, &root_issuer)
        .expect("intermediate");
    let sub_issuer = Issuer::new(sub_params, sub_key);
    let leaf = params("sensor-1", false)
        .signed_by(&key(), &sub_issuer)
        .expect("leaf");

    let verifier = CertificateVerifier::builder()
        .trust_anchors("root.pem", root.pem().as_bytes())
        .and_then(|b| b.intermediates("sub.pem", sub.pem().as_bytes()))
        .and_then(|b| {
            b.mapping(IdentityMapping::new().thing_name(CertField::SubjectCn))
                .cache_capacity(cache)
                .build()
        })
        .expect("verifier");
    let der = leaf.der().to_vec();
    let mut registry = Registry::new();
    registry
        .register(Fingerprint::of(&der), None)
        .and_then(|_| registry.reactivate(&Fingerprint::of(&der)))
        .expect("registry");
    (verifier, der, registry)
}

fn authn_x509(c: &mut Criterion) {
    let mut group = c.benchmark_group("authn-x509");
    let ec = || KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let cold = [("p256", chain(ec, 0)), ("rsa2048", chain(rsa_key, 0))];
    for (name, (verifier, der, registry)) in cold {
        if let Err(e) = verifier.authenticate(&registry, &der, Some("sensor-1"), NOW) {
            panic!("{name}: {e}");
        }
        group.bench_function(format!("cold-{name}"), |b| {
            b.iter(|| verifier.authenticate(&registry, black_box(&der), Some("sensor-1"), NOW))
        });
    }

    // The warm path: the same P-256 leaf with the cache on.
    let (warm, der, registry) = chain(ec, 16);
    if let Err(e) = warm.authenticate(&registry, &der, Some("sensor-1"), NOW) {
        panic!("warm: {e}");
    }
    group.bench_function("warm-p256", |b| {
        b.iter(|| warm.authenticate(&registry, black_box(&der), Some("sensor-1"), NOW))
    });
    group.finish();
}

criterion_group!(benches, authn_x509);
criterion_main!(benches);
