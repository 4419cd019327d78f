//! X.509 client-certificate authentication end to end: chains made at test time by rcgen and by
//! the OpenSSL command-line tool, CRLs, the operator registry, identity mapping, the cache, and
//! hostile input.

use mqward_core::authn::crl::StaleCrl;
use mqward_core::authn::registry::{CertState, Registry, StateChange};
use mqward_core::authn::x509::{
    CertAuth, CertificateVerifier, CertificateVerifierBuilder, Fingerprint, IdentityMapping,
};
use mqward_core::{CertField, Error, IdentityKind, Location, Rejection};
use proptest::prelude::*;
use rcgen::{DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose};

mod x509_pki;
use x509_pki::{dns, email, uri, Ca, Leaf, Scratch, NOW, Y2020, Y2030, Y2040};

/// 2026-01-01T00:00:00Z.
const Y2026: u64 = 1_767_225_600;
/// 2027-06-01T00:00:00Z.
const MID_2027: u64 = 1_811_808_000;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A root and an intermediate (P-256), the usual device PKI.
struct Pki {
    root: Ca,
    sub: Ca,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::root("Test Root");
        let sub = root.intermediate("Test Issuing CA");
        Pki { root, sub }
    }

    /// A builder trusting the root, accepting unregistered certificates.
    fn builder(&self) -> CertificateVerifierBuilder {
        CertificateVerifier::builder()
            .trust_anchors("root.pem", self.root.pem().as_bytes())
            .unwrap()
            .accept_unregistered(true)
    }

    /// The same, with the intermediate configured (it then may sign CRLs).
    fn builder_with_sub(&self) -> CertificateVerifierBuilder {
        self.builder()
            .intermediates("sub.pem", self.sub.pem().as_bytes())
            .unwrap()
    }

    fn verifier(&self) -> CertificateVerifier {
        self.builder().build().unwrap()
    }

    /// A leaf from the intermediate, as a PEM bundle with the intermediate.
    fn bundle(&self, leaf: &Leaf) -> (Vec<u8>, Vec<u8>) {
        let cert = self.sub.leaf(leaf);
        let bundle = format!("{}{}", cert.pem(), self.sub.pem()).into_bytes();
        (bundle, cert.der().to_vec())
    }
}

fn rejection(result: Result<CertAuth, Error>) -> Rejection {
    match result {
        Ok(auth) => panic!("accepted: {:?}", auth.identity),
        Err(Error::Rejected(r)) => r,
        Err(other) => panic!("not a rejection: {other}"),
    }
}

fn auth(verifier: &CertificateVerifier, cert: &[u8]) -> Result<CertAuth, Error> {
    verifier.authenticate(&Registry::new(), cert, Some("client-1"), NOW)
}

fn load_error(result: Result<CertificateVerifier, Error>) -> Error {
    match result {
        Ok(_) => panic!("built"),
        Err(e) => e,
    }
}

/// Builds with one more revocation list.
fn with_crl(
    builder: CertificateVerifierBuilder,
    file: &str,
    crl: &[u8],
) -> Result<CertificateVerifier, Error> {
    builder.crl(file, crl)?.build()
}

fn file_of(error: &Error) -> String {
    match &error.problems()[0].location {
        Location::File(f) | Location::FileLine { file: f, .. } => f.clone(),
        other => panic!("no file in {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_chain_with_intermediate_in_the_bundle() {
    let pki = Pki::new();
    let leaf = Leaf::new("sensor-1", 0x1001)
        .subject(DnType::OrganizationName, "Acme")
        .subject(DnType::OrganizationalUnitName, "Sensors")
        .subject(DnType::CustomDnType(vec![2, 5, 4, 5]), "SN-77")
        .san(dns("sensor-1.acme.example"))
        .san(dns("second.acme.example"))
        .san(uri("spiffe://acme/sensor-1"))
        .san(email("ops@acme.example"));
    let (bundle, der) = pki.bundle(&leaf);
    let result = auth(&pki.verifier(), &bundle).unwrap();
    let id = &result.identity;
    assert_eq!(id.kind(), IdentityKind::Certificate);
    assert_eq!(id.client_id(), Some("client-1"));
    assert_eq!(id.thing_name(), None);
    assert_eq!(result.fingerprint, Fingerprint::of(&der));
    assert_eq!(result.not_after, Y2040);
    assert_eq!(result.first_use, None);
    let expected = [
        (CertField::SubjectCn, "sensor-1"),
        (CertField::SubjectO, "Acme"),
        (CertField::SubjectOu, "Sensors"),
        (CertField::SubjectSerialNumber, "SN-77"),
        (CertField::IssuerCn, "Test Issuing CA"),
        (CertField::SanDns, "sensor-1.acme.example"),
        (CertField::SanUri, "spiffe://acme/sensor-1"),
        (CertField::SanEmail, "ops@acme.example"),
        (CertField::Serial, "1001"),
    ];
    for (field, value) in expected {
        assert_eq!(id.cert_field(field), Some(value), "{field:?}");
    }
    let fingerprint = result.fingerprint.to_string();
    assert_eq!(
        id.cert_field(CertField::Fingerprint),
        Some(fingerprint.as_str())
    );
}

#[test]
fn leaf_alone_chains_through_configured_intermediates() {
    let pki = Pki::new();
    let cert = pki.sub.leaf(&Leaf::new("sensor-2", 2));
    // Without the intermediate the leaf does not chain.
    assert_eq!(
        rejection(auth(&pki.verifier(), cert.der())),
        Rejection::UnknownIssuer
    );
    let verifier = pki
        .builder()
        .intermediates("sub.pem", pki.sub.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    assert!(auth(&verifier, cert.der()).is_ok());
    assert!(auth(&verifier, cert.pem().as_bytes()).is_ok());
}

#[test]
fn pem_and_der_input_give_the_same_identity() {
    let pki = Pki::new();
    let cert = pki.sub.leaf(&Leaf::new("sensor-3", 3));
    let verifier = pki
        .builder()
        .intermediates("sub.pem", pki.sub.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let from_der = auth(&verifier, cert.der()).unwrap();
    let from_pem = auth(&verifier, cert.pem().as_bytes()).unwrap();
    assert_eq!(from_der, from_pem);
    // DER chain: leaf then intermediate, back to back.
    let mut chain = cert.der().to_vec();
    chain.extend_from_slice(pki.sub.cert.der());
    let from_chain = auth(&pki.verifier(), &chain).unwrap();
    assert_eq!(from_chain.fingerprint, from_der.fingerprint);
    // PEM with text around the sections, as `openssl` bundles carry.
    let noisy = format!(
        "subject=CN = sensor-3\n{}\nissuer=CN = Test Root\n{}",
        cert.pem(),
        pki.sub.pem()
    );
    assert!(auth(&pki.verifier(), noisy.as_bytes()).is_ok());
}

#[test]
fn other_key_algorithms() {
    let pki = Pki::new();
    let verifier = pki.verifier();
    for alg in [&rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
        let (bundle, _) = pki.bundle(&Leaf::new("sensor", 4).alg(alg));
        assert!(auth(&verifier, &bundle).is_ok(), "{alg:?}");
    }
    let p384_root = Ca::root_with(
        "P-384 Root",
        &rcgen::PKCS_ECDSA_P384_SHA384,
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
    );
    let verifier = CertificateVerifier::builder()
        .trust_anchors("p384.pem", p384_root.pem().as_bytes())
        .unwrap()
        .accept_unregistered(true)
        .build()
        .unwrap();
    let cert = p384_root.leaf(&Leaf::new("direct", 5));
    assert!(auth(&verifier, cert.der()).is_ok());
}

#[test]
fn expired_and_not_yet_valid() {
    let pki = Pki::new();
    let verifier = pki.verifier();
    let (old, _) = pki.bundle(&Leaf::new("old", 6).valid((2020, 1, 1), (2021, 1, 1)));
    assert_eq!(rejection(auth(&verifier, &old)), Rejection::Expired);
    let (early, _) = pki.bundle(&Leaf::new("early", 7).valid((2030, 1, 1), (2031, 1, 1)));
    assert_eq!(rejection(auth(&verifier, &early)), Rejection::NotYetValid);

    // An expired intermediate expires the leaf it issued.
    let old_sub = pki
        .root
        .intermediate_with("Old CA", (2020, 1, 1), (2024, 1, 1));
    let cert = old_sub.leaf(&Leaf::new("orphan", 8));
    let bundle = format!("{}{}", cert.pem(), old_sub.pem());
    assert_eq!(
        rejection(auth(&verifier, bundle.as_bytes())),
        Rejection::Expired
    );
}

#[test]
fn untrusted_issuer() {
    let pki = Pki::new();
    let stranger = Ca::root("Stranger Root");
    let cert = stranger.leaf(&Leaf::new("intruder", 9));
    assert_eq!(
        rejection(auth(&pki.verifier(), cert.der())),
        Rejection::UnknownIssuer
    );
    // A stranger's intermediate with the trusted intermediate's name does not help.
    let impostor = stranger.intermediate("Test Issuing CA");
    let cert = impostor.leaf(&Leaf::new("intruder", 10));
    let bundle = format!("{}{}", cert.pem(), impostor.pem());
    assert_eq!(
        rejection(auth(&pki.verifier(), bundle.as_bytes())),
        Rejection::UnknownIssuer
    );
}

#[test]
fn usage_rules() {
    let pki = Pki::new();
    let verifier = pki.verifier();
    let server_only = Leaf::new("server", 11).eku(vec![ExtendedKeyUsagePurpose::ServerAuth]);
    assert_eq!(
        rejection(auth(&verifier, &pki.bundle(&server_only).0)),
        Rejection::WrongUsage
    );
    let both = Leaf::new("both", 12).eku(vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ]);
    assert!(auth(&verifier, &pki.bundle(&both).0).is_ok());

    // keyUsage present without digitalSignature.
    let encipher_only =
        Leaf::new("encipher", 13).key_usages(vec![KeyUsagePurpose::KeyEncipherment]);
    assert_eq!(
        rejection(auth(&verifier, &pki.bundle(&encipher_only).0)),
        Rejection::WrongUsage
    );
    // No keyUsage at all is fine.
    assert!(auth(
        &verifier,
        &pki.bundle(&Leaf::new("no-ku", 14).key_usages(vec![])).0
    )
    .is_ok());

    // No EKU: accepted by default, rejected when required.
    let (no_eku, _) = pki.bundle(&Leaf::new("no-eku", 15).eku(vec![]));
    assert!(auth(&verifier, &no_eku).is_ok());
    let strict = pki.builder().require_client_auth_eku(true).build().unwrap();
    assert_eq!(rejection(auth(&strict, &no_eku)), Rejection::WrongUsage);
    assert!(auth(&strict, &pki.bundle(&Leaf::new("eku", 16)).0).is_ok());

    // A CA certificate presented as a client certificate.
    let mut ca_leaf = Leaf::new("ca-as-leaf", 17);
    ca_leaf.is_ca = true;
    assert_eq!(
        rejection(auth(&verifier, &pki.bundle(&ca_leaf).0)),
        Rejection::WrongUsage
    );
}

// ---------------------------------------------------------------------------------------------
// Keys (RSA through the OpenSSL command-line tool: ring cannot generate RSA keys)
// ---------------------------------------------------------------------------------------------

fn rsa_spki(scratch: &Scratch, bits: u32) -> Vec<u8> {
    scratch.run(&format!(
        "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:{bits} -out rsa{bits}.key"
    ));
    scratch.run(&format!(
        "pkey -in rsa{bits}.key -pubout -outform DER -out rsa{bits}.spki"
    ));
    scratch.read(&format!("rsa{bits}.spki"))
}

#[test]
fn rsa_keys_under_2048_bits_are_weak() {
    let scratch = Scratch::new("rsa");
    let pki = Pki::new();
    let verifier = pki.verifier();
    let weak = Leaf::new("rsa-1024", 20).public_key(rsa_spki(&scratch, 1024));
    assert_eq!(
        rejection(auth(&verifier, &pki.bundle(&weak).0)),
        Rejection::WeakKey
    );
    let strong = Leaf::new("rsa-2048", 21).public_key(rsa_spki(&scratch, 2048));
    assert!(auth(&verifier, &pki.bundle(&strong).0).is_ok());

    // A 1,024-bit RSA trust anchor is refused at load, naming the file and the certificate.
    scratch.run(
        "req -x509 -newkey rsa:1024 -nodes -keyout weak.key -out weak.pem -days 30 \
         -subj /CN=Weak-Root",
    );
    let err = CertificateVerifier::builder()
        .trust_anchors("weak.pem", &scratch.read("weak.pem"))
        .unwrap_err();
    assert_eq!(file_of(&err), "weak.pem");
    assert!(err.to_string().contains("`Weak-Root`"), "{err}");
    assert!(err.to_string().contains("2048"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Revocation lists
// ---------------------------------------------------------------------------------------------

#[test]
fn revoked_by_crl() {
    let pki = Pki::new();
    let crl = pki.sub.crl(&[31, 33], (2025, 1, 1), (2026, 1, 1));
    // The list's issuer must be configured: its signature is verified at load.
    let err = load_error(with_crl(pki.builder(), "sub.crl", crl.as_bytes()));
    assert!(err.to_string().contains("no configured"), "{err}");
    let verifier = with_crl(pki.builder_with_sub(), "sub.crl", crl.as_bytes()).unwrap();
    let (revoked, _) = pki.bundle(&Leaf::new("revoked", 31));
    let (good, _) = pki.bundle(&Leaf::new("good", 32));
    assert_eq!(rejection(auth(&verifier, &revoked)), Rejection::Revoked);
    assert!(auth(&verifier, &good).is_ok());
    // Again, from the cache.
    assert_eq!(rejection(auth(&verifier, &revoked)), Rejection::Revoked);

    // A revoked intermediate takes its leaves with it.
    let root_crl = pki.root.crl(&[], (2025, 1, 1), (2026, 1, 1));
    let sub_serial = {
        use der::Decode;
        let sub = x509_cert::Certificate::from_der(pki.sub.cert.der()).unwrap();
        sub.tbs_certificate().serial_number().as_bytes().to_vec()
    };
    let with_sub_revoked = pki.root.crl_with_raw_serial(&sub_serial);
    let verifier = pki
        .builder()
        .crl("root.crl", root_crl.as_bytes())
        .unwrap()
        .crl("root-2.crl", with_sub_revoked.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rejection(auth(&verifier, &good)), Rejection::Revoked);
}

#[test]
fn stale_crl_setting() {
    let pki = Pki::new();
    let crl = pki.sub.crl(&[41], (2025, 1, 1), (2025, 3, 1));
    let (revoked, _) = pki.bundle(&Leaf::new("revoked", 41));
    let (good, _) = pki.bundle(&Leaf::new("good", 42));

    let strict = with_crl(pki.builder_with_sub(), "sub.crl", crl.as_bytes()).unwrap();
    assert_eq!(
        rejection(auth(&strict, &good)),
        Rejection::StaleRevocationList
    );
    assert_eq!(rejection(auth(&strict, &revoked)), Rejection::Revoked);
    // Before nextUpdate the same list is fresh (time is re-checked on cache hits).
    let before = strict.authenticate(&Registry::new(), &good, None, NOW - 200 * 86_400);
    assert!(before.is_ok());

    let lenient = pki
        .builder_with_sub()
        .crl("sub.crl", crl.as_bytes())
        .unwrap()
        .stale_crl(StaleCrl::Accept)
        .build()
        .unwrap();
    assert!(auth(&lenient, &good).is_ok());
    assert_eq!(rejection(auth(&lenient, &revoked)), Rejection::Revoked);

    // Certificates of an issuer without a list are not affected.
    let other = pki.root.leaf(&Leaf::new("direct", 43));
    assert!(auth(&strict, other.der()).is_ok());
}

#[test]
fn crl_signature_is_checked_at_load() {
    let pki = Pki::new();
    // Same issuer name, another key.
    let impostor = Ca::root("Test Issuing CA");
    let forged = impostor.crl(&[1], (2025, 1, 1), (2026, 1, 1));
    let err = load_error(with_crl(
        pki.builder_with_sub(),
        "forged.crl",
        forged.as_bytes(),
    ));
    assert_eq!(file_of(&err), "forged.crl");
    assert!(err.to_string().contains("does not verify"), "{err}");

    // A flipped bit in the signed part.
    let good = pki.sub.crl(&[1], (2025, 1, 1), (2026, 1, 1));
    let mut der = pem_body(&good);
    let at = der.len() / 3;
    der[at] ^= 0x01;
    let result = pki
        .builder_with_sub()
        .crl("tampered.crl", &der)
        .and_then(|b| b.build());
    let err = load_error(result);
    assert_eq!(file_of(&err), "tampered.crl");

    // A list from a CA that is not configured.
    let stranger = Ca::root("Stranger");
    let foreign = stranger.crl(&[], (2025, 1, 1), (2026, 1, 1));
    let err = load_error(with_crl(pki.builder(), "foreign.crl", foreign.as_bytes()));
    assert!(err.to_string().contains("no configured"), "{err}");

    // A CA whose key usage does not allow signing lists.
    let no_crl_sign = Ca::root_with(
        "No CRL Sign",
        &rcgen::PKCS_ECDSA_P256_SHA256,
        vec![KeyUsagePurpose::KeyCertSign],
    );
    let list = x509_pki::crl_params(&[], (2025, 1, 1), (2026, 1, 1));
    // rcgen refuses to sign with such an issuer, so sign with a twin that may.
    let twin = rcgen::Issuer::new(
        {
            let mut p = rcgen::CertificateParams::default();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name.push(DnType::CommonName, "No CRL Sign");
            p
        },
        rcgen::KeyPair::from_pem(&no_crl_sign.issuer.key().serialize_pem()).unwrap(),
    );
    let crl = list.signed_by(&twin).unwrap().pem().unwrap();
    let err = load_error(
        CertificateVerifier::builder()
            .trust_anchors("ca.pem", no_crl_sign.pem().as_bytes())
            .unwrap()
            .crl("ca.crl", crl.as_bytes())
            .unwrap()
            .build(),
    );
    assert!(err.to_string().contains("key usage"), "{err}");

    // Garbage and truncation name the file at once.
    for (name, bytes) in [
        ("empty.crl", Vec::new()),
        ("text.crl", b"hello".to_vec()),
        ("cut.crl", good.as_bytes()[..good.len() / 2].to_vec()),
        ("cut.der", pem_body(&good)[..40].to_vec()),
    ] {
        let err = pki.builder().crl(name, &bytes).unwrap_err();
        assert_eq!(file_of(&err), name, "{err}");
    }
}

/// The DER body of the first PEM section.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Registry states
// ---------------------------------------------------------------------------------------------

/// A leaf bundle, its fingerprint, and a registry holding it as inactive (named after its CN).
fn registered(pki: &Pki, cn: &str, serial: u64) -> (Vec<u8>, Fingerprint, Registry) {
    let (bundle, der) = pki.bundle(&Leaf::new(cn, serial));
    let fingerprint = Fingerprint::of(&der);
    let mut registry = Registry::new();
    registry.register(fingerprint, Some(cn.into())).unwrap();
    (bundle, fingerprint, registry)
}

#[test]
fn first_use_is_reported_once() {
    let pki = Pki::new();
    let verifier = pki.builder().accept_unregistered(false).build().unwrap();
    let (bundle, fingerprint, mut registry) = registered(&pki, "new", 50);

    // Verifying is not using.
    verifier.verify(&registry, &bundle, NOW).unwrap();
    assert_eq!(registry.state(&fingerprint), Some(CertState::Inactive));

    let first = verifier
        .authenticate(&registry, &bundle, None, NOW)
        .unwrap();
    let change = first.first_use.expect("first use reported");
    assert_eq!(
        change,
        StateChange {
            fingerprint,
            from: Some(CertState::Inactive),
            to: CertState::Active
        }
    );
    registry.apply(&change).unwrap();
    assert_eq!(registry.state(&fingerprint), Some(CertState::Active));
    let second = verifier
        .authenticate(&registry, &bundle, None, NOW)
        .unwrap();
    assert_eq!(second.first_use, None);
}

#[test]
fn suspended_then_reactivated() {
    let pki = Pki::new();
    let verifier = pki.builder().accept_unregistered(false).build().unwrap();
    let (bundle, fingerprint, mut registry) = registered(&pki, "dev", 51);
    registry.reactivate(&fingerprint).unwrap();
    assert!(verifier.authenticate(&registry, &bundle, None, NOW).is_ok());

    registry.suspend(&fingerprint).unwrap();
    // The cache holds the chain result; the state is checked on the hit.
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, None, NOW)),
        Rejection::Suspended
    );
    assert!(verifier.verify(&registry, &bundle, NOW).is_err());
    let change = registry.reactivate(&fingerprint).unwrap().unwrap();
    assert_eq!(change.from, Some(CertState::Suspended));
    assert!(verifier.authenticate(&registry, &bundle, None, NOW).is_ok());
}

#[test]
fn revoked_forever() {
    let pki = Pki::new();
    // Even with unregistered certificates accepted, a revoked entry stays refused.
    let verifier = pki.verifier();
    let (bundle, fingerprint, mut registry) = registered(&pki, "lost", 52);
    registry.revoke(&fingerprint).unwrap();
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, None, NOW)),
        Rejection::Revoked
    );
    let err = registry.reactivate(&fingerprint).unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    assert!(registry.suspend(&fingerprint).is_err());
    assert_eq!(registry.revoke(&fingerprint).unwrap(), None);
    assert_eq!(registry.state(&fingerprint), Some(CertState::Revoked));
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, None, NOW)),
        Rejection::Revoked
    );
}

#[test]
fn unregistered_certificates() {
    let pki = Pki::new();
    let (bundle, _) = pki.bundle(&Leaf::new("walk-in", 53));
    let closed = pki.builder().accept_unregistered(false).build().unwrap();
    assert_eq!(
        rejection(closed.authenticate(&Registry::new(), &bundle, None, NOW)),
        Rejection::UnknownIdentity
    );
    // Default is closed too.
    let default = CertificateVerifier::builder()
        .trust_anchors("root.pem", pki.root.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        rejection(default.authenticate(&Registry::new(), &bundle, None, NOW)),
        Rejection::UnknownIdentity
    );
    let open = pki.verifier();
    let result = open
        .authenticate(&Registry::new(), &bundle, None, NOW)
        .unwrap();
    assert_eq!(result.first_use, None);
}

// ---------------------------------------------------------------------------------------------
// Identity mapping
// ---------------------------------------------------------------------------------------------

#[test]
fn mapped_names_and_client_id_rule() {
    let pki = Pki::new();
    let leaf = Leaf::new("thermo-7", 60).san(uri("spiffe://acme/thermo-7"));
    let (bundle, der) = pki.bundle(&leaf);
    let mapping = IdentityMapping::new()
        .thing_name(CertField::SubjectCn)
        .require_client_id_match(true);
    let verifier = pki.builder().mapping(mapping).build().unwrap();
    let registry = Registry::new();
    let ok = verifier
        .authenticate(&registry, &bundle, Some("thermo-7"), NOW)
        .unwrap();
    assert_eq!(ok.identity.thing_name(), Some("thermo-7"));
    assert_eq!(ok.identity.client_id(), Some("thermo-7"));
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, Some("thermo-8"), NOW)),
        Rejection::ClientIdMismatch
    );
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, Some("thermo-7 "), NOW)),
        Rejection::ClientIdMismatch
    );
    // Without a client id (verify only) there is nothing to compare.
    verifier.verify(&registry, &bundle, NOW).unwrap();

    // The client id mapped from the fingerprint replaces the one sent.
    let by_fingerprint = pki
        .builder()
        .mapping(
            IdentityMapping::new()
                .thing_name(CertField::SanUri)
                .client_id(CertField::Fingerprint),
        )
        .build()
        .unwrap();
    let result = by_fingerprint
        .authenticate(&registry, &bundle, Some("whatever"), NOW)
        .unwrap();
    let fingerprint = Fingerprint::of(&der).to_string();
    assert_eq!(result.identity.client_id(), Some(fingerprint.as_str()));
    assert_eq!(result.identity.thing_name(), Some("spiffe://acme/thermo-7"));

    // A rule with nothing to compare with is a configuration error.
    let err = load_error(
        pki.builder()
            .mapping(IdentityMapping::new().require_client_id_match(true))
            .build(),
    );
    assert!(err.to_string().contains("client id"), "{err}");
}

#[test]
fn wildcard_values_are_not_offered() {
    let pki = Pki::new();
    let leaf = Leaf::new("sensor+1", 61)
        .subject(DnType::OrganizationName, "Acme#1")
        .subject(DnType::OrganizationalUnitName, "fleet")
        .san(dns("*.acme.example"))
        .san(uri("urn:dev:$x"))
        .san(email("who?@acme.example"));
    let (bundle, _) = pki.bundle(&leaf);
    let plain = pki.verifier();
    let result = auth(&plain, &bundle).unwrap();
    for field in [
        CertField::SubjectCn,
        CertField::SubjectO,
        CertField::SanDns,
        CertField::SanUri,
        CertField::SanEmail,
    ] {
        assert_eq!(result.identity.cert_field(field), None, "{field:?}");
    }
    assert_eq!(
        result.identity.cert_field(CertField::SubjectOu),
        Some("fleet")
    );

    // Mapping a name from such a field rejects rather than leaving the name out.
    for field in [CertField::SubjectCn, CertField::SanDns] {
        let mapped = pki
            .builder()
            .mapping(IdentityMapping::new().thing_name(field))
            .build()
            .unwrap();
        assert_eq!(
            rejection(auth(&mapped, &bundle)),
            Rejection::MissingField(format!("cert.{}", field.as_str()))
        );
    }
    // So does a mapped field the certificate lacks.
    let mut no_cn = Leaf::new("x", 62);
    no_cn.cn = None;
    let (bundle, _) = pki.bundle(&no_cn);
    let mapped = pki
        .builder()
        .mapping(IdentityMapping::new().client_id(CertField::SubjectCn))
        .build()
        .unwrap();
    assert_eq!(
        rejection(auth(&mapped, &bundle)),
        Rejection::MissingField("cert.subject.cn".to_owned())
    );
    // A repeated CN is ambiguous: see `openssl_chain_and_crl` (rcgen cannot write one).
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

#[test]
fn cache_hits_recheck_time_and_state() {
    let pki = Pki::new();
    let verifier = pki.builder().cache_capacity(2).build().unwrap();
    let (bundle, der) = pki.bundle(&Leaf::new("warm", 70).valid((2025, 1, 1), (2025, 12, 31)));
    assert!(auth(&verifier, &bundle).is_ok());
    assert_eq!(verifier.cached(), 1);
    assert!(auth(&verifier, &bundle).is_ok());
    assert_eq!(verifier.cached(), 1);
    // Later than the leaf's notAfter, and before its notBefore: the cached window misses,
    // the fresh verification rejects, and the entry stays.
    let registry = Registry::new();
    let late = verifier.authenticate(&registry, &bundle, None, Y2030);
    assert_eq!(rejection(late), Rejection::Expired);
    let early = verifier.authenticate(&registry, &bundle, None, Y2020);
    assert_eq!(rejection(early), Rejection::NotYetValid);
    assert_eq!(verifier.cached(), 1);
    // Registry state on a hit.
    let mut registry = Registry::new();
    registry.register(Fingerprint::of(&der), None).unwrap();
    registry.revoke(&Fingerprint::of(&der)).unwrap();
    assert_eq!(
        rejection(verifier.authenticate(&registry, &bundle, None, NOW)),
        Rejection::Revoked
    );
    // Bounded.
    for serial in 71..75 {
        assert!(auth(&verifier, &pki.bundle(&Leaf::new("more", serial)).0).is_ok());
    }
    assert_eq!(verifier.cached(), 2);
    // Failures are not cached.
    let stranger = Ca::root("Stranger").leaf(&Leaf::new("x", 76));
    let off = pki.builder().cache_capacity(0).build().unwrap();
    assert!(auth(&off, &bundle).is_ok());
    assert_eq!(off.cached(), 0);
    let before = verifier.cached();
    assert!(auth(&verifier, stranger.der()).is_err());
    assert_eq!(verifier.cached(), before);
}

#[test]
fn cached_path_out_of_its_window_is_verified_afresh() {
    let root = Ca::root("Root");
    let (sub, reissued) = root.intermediate_twice("Issuing CA", (2026, 1, 1), (2040, 1, 1));
    let leaf = sub.leaf(&Leaf::new("long-lived", 77));
    // The older intermediate first: webpki takes it while it is valid.
    let bundle = format!("{}{}{}", leaf.pem(), sub.pem(), reissued.pem());
    let verifier = CertificateVerifier::builder()
        .trust_anchors("root.pem", root.pem().as_bytes())
        .unwrap()
        .accept_unregistered(true)
        .build()
        .unwrap();
    let registry = Registry::new();
    let now = verifier
        .authenticate(&registry, bundle.as_bytes(), None, NOW)
        .unwrap();
    assert_eq!(now.not_after, Y2026);
    // In mid-2027 the cached path has expired, the one through the re-issued certificate not.
    let later = verifier
        .authenticate(&registry, bundle.as_bytes(), None, MID_2027)
        .unwrap();
    assert_eq!(later.not_after, Y2040);
    assert_eq!(verifier.cached(), 1);
    // Expired for real once every path has.
    let err = verifier.authenticate(&registry, bundle.as_bytes(), None, Y2040 + 1);
    assert_eq!(rejection(err), Rejection::Expired);
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

#[test]
fn garbage_and_truncated_input() {
    let pki = Pki::new();
    let verifier = pki.verifier();
    let (bundle, der) = pki.bundle(&Leaf::new("ok", 80));
    let text = String::from_utf8(bundle.clone()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("blank", b"\n\n  ".to_vec()),
        ("text", b"hello world".to_vec()),
        ("truncated pem", bundle[..bundle.len() / 3].to_vec()),
        (
            "no end line",
            text.replacen("-----END CERTIFICATE-----", "", 1)
                .into_bytes(),
        ),
        ("bad base64", text.replacen("MII", "M@I", 1).into_bytes()),
        (
            "key only",
            b"-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
        ("truncated der", der[..der.len() - 10].to_vec()),
        ("der with trailing byte", [der.as_slice(), &[0x00]].concat()),
        ("not a certificate", vec![0x30, 0x03, 0x02, 0x01, 0x05]),
    ];
    for (what, bytes) in cases {
        match rejection(auth(&verifier, &bytes)) {
            Rejection::Malformed(message) => {
                assert!(!message.is_empty(), "{what}");
                assert!(!message.contains("MII"), "{what}: {message}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    let huge = vec![b'A'; 64 * 1024 + 1];
    assert_eq!(rejection(auth(&verifier, &huge)), Rejection::TooLarge);
    let many = text.repeat(5);
    assert_eq!(
        rejection(auth(&verifier, many.as_bytes())),
        Rejection::TooLarge
    );
    // A private key section alongside the certificate is ignored.
    let with_key =
        format!("{text}-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n");
    assert!(auth(&verifier, with_key.as_bytes()).is_ok());
}

#[test]
fn bad_configuration_names_the_file() {
    let pki = Pki::new();
    let err = load_error(CertificateVerifier::builder().build());
    assert!(err.to_string().contains("no trust anchors"), "{err}");
    for bytes in [
        &b""[..],
        b"nonsense",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n",
    ] {
        let err = CertificateVerifier::builder()
            .trust_anchors("anchors.pem", bytes)
            .unwrap_err();
        assert_eq!(file_of(&err), "anchors.pem");
    }
    // An intermediate that does not chain to an anchor.
    let stray = Ca::root("Elsewhere").intermediate("Stray CA");
    let err = load_error(
        pki.builder()
            .intermediates("stray.pem", stray.pem().as_bytes())
            .unwrap()
            .build(),
    );
    assert_eq!(file_of(&err), "stray.pem");
    assert!(err.to_string().contains("`Stray CA`"), "{err}");
    // Intermediates given in any order chain through each other.
    let deeper = pki.sub.intermediate("Deeper CA");
    let both = format!("{}{}", deeper.pem(), pki.sub.pem());
    let verifier = pki
        .builder()
        .intermediates("chain.pem", both.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    assert!(auth(&verifier, deeper.leaf(&Leaf::new("deep", 90)).der()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let pki = shared_pki();
        prop_assert!(auth(&pki.1, &bytes).is_err());
    }

    #[test]
    fn mutated_certificates_never_panic(at in 0usize..4096, bit in 0u8..8, cut in 0usize..4096) {
        let pki = shared_pki();
        let mut der = pki.2.clone();
        let at = at % der.len();
        der[at] ^= 1 << bit;
        // Every byte of a certificate is either signed or part of the signature's encoding.
        prop_assert!(auth(&pki.1, &der).is_err());
        let cut = cut % der.len();
        prop_assert!(auth(&pki.1, &pki.2[..cut]).is_err());
        // The cut falls inside the leaf's PEM section (shorter than its base64 text).
        let pem = &pki.3;
        prop_assert!(auth(&pki.1, &pem[..cut.min(pem.len() - 1)]).is_err());
    }
}

/// One PKI, verifier, leaf DER and PEM bundle for the property tests.
fn shared_pki() -> &'static (Pki, CertificateVerifier, Vec<u8>, Vec<u8>) {
    static SHARED: std::sync::OnceLock<(Pki, CertificateVerifier, Vec<u8>, Vec<u8>)> =
        std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let pki = Pki::new();
        let verifier = pki
            .builder()
            .intermediates("sub.pem", pki.sub.pem().as_bytes())
            .unwrap()
            .cache_capacity(0)
            .build()
            .unwrap();
        let (bundle, der) = pki.bundle(&Leaf::new("prop", 99));
        (pki, verifier, der, bundle)
    })
}

// ---------------------------------------------------------------------------------------------
// An independent implementation: a chain and a CRL made by the OpenSSL command-line tool
// ---------------------------------------------------------------------------------------------

/// Issues an Ed25519 client certificate `<name>.pem` from the OpenSSL intermediate, with the
/// key `<key>.key` (made if missing) and `subject`.
fn openssl_leaf(s: &Scratch, name: &str, key: &str, subject: &str) {
    if !s.path().join(format!("{key}.key")).exists() {
        s.run(&format!("genpkey -algorithm ED25519 -out {key}.key"));
    }
    s.run(&format!(
        "req -new -key {key}.key -subj {subject} -out {name}.csr"
    ));
    s.run(&format!(
        "x509 -req -in {name}.csr -CA int.pem -CAkey int.key -CAcreateserial -days 30 \
         -sha384 -extfile leaf.ext -out {name}.pem"
    ));
}

#[test]
fn openssl_chain_and_crl() {
    let s = Scratch::new("openssl");
    // RSA-2048 root, P-384 intermediate, Ed25519 leaves.
    s.run(
        "req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 365 \
         -subj /CN=OpenSSL-Root -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    s.run("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out int.key");
    s.run("req -new -key int.key -subj /CN=OpenSSL-Issuing-CA -out int.csr");
    s.write(
        "int.ext",
        b"basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    s.run(
        "x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 365 \
         -sha256 -extfile int.ext -out int.pem",
    );
    s.write(
        "leaf.ext",
        b"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
          extendedKeyUsage=clientAuth\n\
          subjectAltName=URI:spiffe://acme/thermo-42,DNS:thermo-42.acme.example\n",
    );
    openssl_leaf(&s, "leaf", "leaf", "/O=Acme/OU=Sensors/CN=leaf");
    openssl_leaf(&s, "gone", "gone", "/O=Acme/OU=Sensors/CN=gone");
    s.write(
        "ca.cnf",
        b"[ca]\ndefault_ca = CA_default\n[CA_default]\ndatabase = index.txt\n\
          crlnumber = crlnumber\ndefault_md = sha384\ndefault_crl_days = 7\n",
    );
    s.write("index.txt", b"");
    s.write("crlnumber", b"01\n");
    s.run("ca -config ca.cnf -keyfile int.key -cert int.pem -revoke gone.pem");
    s.run("ca -config ca.cnf -keyfile int.key -cert int.pem -gencrl -out int.crl");
    s.run("crl -in int.crl -outform DER -out int.crl.der");

    // The certificates are valid from the real current time, so authenticate at it.
    let now = wall_clock();
    let verifier = CertificateVerifier::builder()
        .trust_anchors("root.pem", &s.read("root.pem"))
        .unwrap()
        .intermediates("int.pem", &s.read("int.pem"))
        .unwrap()
        .crl("int.crl.der", &s.read("int.crl.der"))
        .unwrap()
        .mapping(IdentityMapping::new().thing_name(CertField::SubjectCn))
        .accept_unregistered(true)
        .build()
        .unwrap();
    let registry = Registry::new();
    let leaf_pem = s.read("leaf.pem");
    let result = verifier
        .authenticate(&registry, &leaf_pem, Some("leaf"), now)
        .unwrap();
    let id = &result.identity;
    assert_eq!(id.thing_name(), Some("leaf"));
    assert_eq!(id.cert_field(CertField::SubjectO), Some("Acme"));
    assert_eq!(
        id.cert_field(CertField::IssuerCn),
        Some("OpenSSL-Issuing-CA")
    );
    assert_eq!(
        id.cert_field(CertField::SanUri),
        Some("spiffe://acme/thermo-42")
    );
    assert_eq!(
        id.cert_field(CertField::SanDns),
        Some("thermo-42.acme.example")
    );

    // Fingerprint and serial agree with OpenSSL's.
    let printed = s.run("x509 -in leaf.pem -noout -fingerprint -sha256");
    let theirs = printed.trim().rsplit('=').next().unwrap();
    assert_eq!(Fingerprint::parse(theirs), Some(result.fingerprint));
    let serial = s.run("x509 -in leaf.pem -noout -serial");
    let serial = serial.trim().trim_start_matches("serial=").to_lowercase();
    let ours = id.cert_field(CertField::Serial).unwrap();
    assert_eq!(ours.trim_start_matches('0'), serial.trim_start_matches('0'));

    // Revoked by OpenSSL's CRL; with the bundle form too.
    assert_eq!(
        rejection(verifier.authenticate(&registry, &s.read("gone.pem"), None, now)),
        Rejection::Revoked
    );
    let bundle = [s.read("leaf.pem"), s.read("int.pem"), s.read("root.pem")].concat();
    assert!(verifier
        .authenticate(&registry, &bundle, Some("leaf"), now)
        .is_ok());
    // OpenSSL agrees about the chain.
    s.run("verify -CAfile root.pem -untrusted int.pem leaf.pem");

    // A subject with two CNs offers none (ambiguous), so a CN mapping rejects it.
    openssl_leaf(&s, "twice", "leaf", "/CN=a/CN=b");
    assert_eq!(
        rejection(verifier.authenticate(&registry, &s.read("twice.pem"), None, wall_clock())),
        Rejection::MissingField("cert.subject.cn".to_owned())
    );

    // Its CRL with one byte of the signature changed no longer loads.
    let mut crl = s.read("int.crl.der");
    let last = crl.len() - 1;
    crl[last] ^= 0x01;
    let builder = CertificateVerifier::builder()
        .trust_anchors("root.pem", &s.read("root.pem"))
        .unwrap()
        .intermediates("int.pem", &s.read("int.pem"))
        .unwrap();
    let err = load_error(with_crl(builder, "int.crl.der", &crl));
    assert_eq!(file_of(&err), "int.crl.der");
}

/// The real time: OpenSSL dates its certificates from it.
fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// Registry file
// ---------------------------------------------------------------------------------------------

#[test]
fn registry_file_round_trip() {
    let mut registry = Registry::new();
    let a = Fingerprint::from_bytes([0xab; 32]);
    let b = Fingerprint::from_bytes([0x01; 32]);
    registry.register(a, Some("sensor \"A\"".into())).unwrap();
    registry.register(b, None).unwrap();
    registry.reactivate(&b).unwrap();
    let bytes = registry.to_json();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.ends_with('\n'));
    // Sorted by fingerprint: b (01..) before a (ab..).
    assert!(text.find(&b.to_string()).unwrap() < text.find(&a.to_string()).unwrap());
    let back = Registry::parse("registry.json", &bytes).unwrap();
    assert_eq!(back, registry);
    assert_eq!(back.entry(&a).unwrap().name(), Some("sensor \"A\""));
    assert_eq!(back.state(&b), Some(CertState::Active));
    assert_eq!(
        Registry::parse("r.json", &back.to_json())
            .unwrap()
            .to_json(),
        bytes
    );

    // Upper case and colons are read; written back in lowercase hex.
    let colons = a
        .to_string()
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(":");
    let json = format!(
        r#"{{"version":1,"certificates":[{{"fingerprint":"{colons}","state":"suspended"}}]}}"#
    );
    let parsed = Registry::parse("r.json", json.as_bytes()).unwrap();
    assert_eq!(parsed.state(&a), Some(CertState::Suspended));
    assert!(String::from_utf8(parsed.to_json())
        .unwrap()
        .contains(&a.to_string()));
}

#[test]
fn bad_registry_files() {
    let good = "ab".repeat(32);
    let cases = [
        ("not json", "{".to_owned(), "registry.json"),
        (
            "wrong type",
            r#"{"version":1,"certificates":{}}"#.to_owned(),
            "registry.json",
        ),
        (
            "version",
            r#"{"version":2,"certificates":[]}"#.to_owned(),
            "version `2`",
        ),
        (
            "unknown field",
            r#"{"version":1,"certificates":[],"extra":1}"#.to_owned(),
            "extra",
        ),
        (
            "bad fingerprint",
            r#"{"version":1,"certificates":[{"fingerprint":"abc","state":"active"}]}"#.to_owned(),
            "certificate 1: fingerprint `abc`",
        ),
        (
            "bad state",
            format!(r#"{{"version":1,"certificates":[{{"fingerprint":"{good}","state":"on"}}]}}"#),
            "certificate 1 (`",
        ),
        (
            "duplicate",
            format!(
                r#"{{"version":1,"certificates":[{{"fingerprint":"{good}","state":"active"}},
                   {{"fingerprint":"{}","state":"revoked"}}]}}"#,
                good.to_uppercase()
            ),
            "certificate 2 (`",
        ),
        (
            "unknown entry field",
            format!(
                r#"{{"version":1,"certificates":[{{"fingerprint":"{good}","state":"active","x":1}}]}}"#
            ),
            "`x`",
        ),
    ];
    for (what, json, needle) in cases {
        let err = Registry::parse("registry.json", json.as_bytes()).unwrap_err();
        assert_eq!(file_of(&err), "registry.json", "{what}");
        let text = err.to_string();
        assert!(text.contains(needle), "{what}: {text}");
    }
    // A syntax error says which line.
    let err = Registry::parse(
        "registry.json",
        b"{\n\"version\": 1,\n\"certificates\": [,]\n}",
    )
    .unwrap_err();
    assert!(matches!(
        err.problems()[0].location,
        Location::FileLine { line: 3, .. }
    ));
    // Every bad entry is reported.
    let json = r#"{"version":1,"certificates":[{"fingerprint":"x","state":"active"},
        {"fingerprint":"y","state":"active"}]}"#;
    let err = Registry::parse("registry.json", json.as_bytes()).unwrap_err();
    assert_eq!(err.problems().len(), 2);
}
