//! Test PKI for the X.509 tests: CAs, intermediates, leaves and CRLs made at test time with
//! rcgen (ring), and an OpenSSL command-line helper for an independent implementation.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams,
    CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PublicKeyData, RevokedCertParams, SanType, SerialNumber,
    SignatureAlgorithm,
};

/// The time the tests authenticate at: 2025-06-01T00:00:00Z.
pub const NOW: u64 = 1_748_736_000;
/// 2020-01-01T00:00:00Z.
pub const Y2020: u64 = 1_577_836_800;
/// 2030-01-01T00:00:00Z.
pub const Y2030: u64 = 1_893_456_000;
/// 2040-01-01T00:00:00Z.
pub const Y2040: u64 = 2_208_988_800;

/// A calendar day.
pub type Day = (i32, u8, u8);

/// A certificate authority: its certificate and what it needs to sign.
pub struct Ca {
    pub cert: Certificate,
    pub issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed P-256 root CA that may sign certificates and CRLs.
    pub fn root(cn: &str) -> Ca {
        Ca::root_with(cn, &rcgen::PKCS_ECDSA_P256_SHA256, ca_usages())
    }

    /// A self-signed root with the given key algorithm and key usages.
    pub fn root_with(
        cn: &str,
        alg: &'static SignatureAlgorithm,
        usages: Vec<KeyUsagePurpose>,
    ) -> Ca {
        let key = KeyPair::generate_for(alg).unwrap();
        let params = ca_params(cn, usages);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    /// A P-256 intermediate CA signed by this CA.
    pub fn intermediate(&self, cn: &str) -> Ca {
        self.intermediate_with(cn, (2020, 1, 1), (2040, 1, 1))
    }

    /// A P-256 intermediate CA valid between two days.
    pub fn intermediate_with(&self, cn: &str, from: Day, to: Day) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = ca_params(cn, ca_usages());
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA certified twice with one key: the first certificate valid until `first`,
    /// the second until `second` (as when an intermediate is re-issued before it expires).
    pub fn intermediate_twice(&self, cn: &str, first: Day, second: Day) -> (Ca, Certificate) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = ca_params(cn, ca_usages());
        params.not_after = date_time_ymd(second.0, second.1, second.2);
        let later = params.signed_by(&key, &self.issuer).unwrap();
        params.not_after = date_time_ymd(first.0, first.1, first.2);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let ca = Ca {
            cert,
            issuer: Issuer::new(params, key),
        };
        (ca, later)
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf certificate signed by this CA.
    pub fn leaf(&self, spec: &Leaf) -> Certificate {
        let params = spec.params();
        match &spec.public_key {
            Some(spki) => params
                .signed_by(&RsaPublicKey::from_spki(spki), &self.issuer)
                .unwrap(),
            None => {
                let key = KeyPair::generate_for(spec.alg).unwrap();
                params.signed_by(&key, &self.issuer).unwrap()
            }
        }
    }

    /// A CRL signed by this CA listing `revoked` serials.
    pub fn crl(&self, revoked: &[u64], this_update: Day, next_update: Day) -> String {
        crl_params(revoked, this_update, next_update)
            .signed_by(&self.issuer)
            .unwrap()
            .pem()
            .unwrap()
    }
}

impl Ca {
    /// A CRL (2025 to 2026) listing one serial given as raw INTEGER bytes.
    pub fn crl_with_raw_serial(&self, serial: &[u8]) -> String {
        let mut params = crl_params(&[], (2025, 1, 1), (2026, 1, 1));
        params.revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(serial),
            revocation_time: date_time_ymd(2024, 1, 1),
            reason_code: None,
            invalidity_date: None,
        });
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }
}

fn ca_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ]
}

fn ca_params(cn: &str, usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = usages;
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    params
}

/// CRL parameters (usable with any issuer, including an impostor).
pub fn crl_params(
    revoked: &[u64],
    this_update: Day,
    next_update: Day,
) -> CertificateRevocationListParams {
    CertificateRevocationListParams {
        this_update: date_time_ymd(this_update.0, this_update.1, this_update.2),
        next_update: date_time_ymd(next_update.0, next_update.1, next_update.2),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from(*serial),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
}

/// What a leaf certificate holds; `Leaf::new` is a valid client certificate.
#[derive(Clone)]
pub struct Leaf {
    pub cn: Option<String>,
    pub subject: Vec<(DnType, String)>,
    pub sans: Vec<SanType>,
    pub eku: Vec<ExtendedKeyUsagePurpose>,
    pub key_usages: Vec<KeyUsagePurpose>,
    pub from: Day,
    pub to: Day,
    pub serial: u64,
    pub alg: &'static SignatureAlgorithm,
    pub is_ca: bool,
    /// An RSA SubjectPublicKeyInfo (DER) to certify instead of a fresh key.
    pub public_key: Option<Vec<u8>>,
}

impl Leaf {
    /// CN `cn`, clientAuth, digitalSignature, 2020 to 2040, P-256.
    pub fn new(cn: &str, serial: u64) -> Leaf {
        Leaf {
            cn: Some(cn.to_owned()),
            subject: Vec::new(),
            sans: Vec::new(),
            eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            from: (2020, 1, 1),
            to: (2040, 1, 1),
            serial,
            alg: &rcgen::PKCS_ECDSA_P256_SHA256,
            is_ca: false,
            public_key: None,
        }
    }

    pub fn valid(mut self, from: Day, to: Day) -> Leaf {
        self.from = from;
        self.to = to;
        self
    }

    pub fn eku(mut self, eku: Vec<ExtendedKeyUsagePurpose>) -> Leaf {
        self.eku = eku;
        self
    }

    pub fn key_usages(mut self, usages: Vec<KeyUsagePurpose>) -> Leaf {
        self.key_usages = usages;
        self
    }

    pub fn san(mut self, san: SanType) -> Leaf {
        self.sans.push(san);
        self
    }

    pub fn subject(mut self, ty: DnType, value: &str) -> Leaf {
        self.subject.push((ty, value.to_owned()));
        self
    }

    pub fn alg(mut self, alg: &'static SignatureAlgorithm) -> Leaf {
        self.alg = alg;
        self
    }

    pub fn public_key(mut self, spki_der: Vec<u8>) -> Leaf {
        self.public_key = Some(spki_der);
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in &self.subject {
            params.distinguished_name.push(ty.clone(), value.as_str());
        }
        if let Some(cn) = &self.cn {
            params
                .distinguished_name
                .push(DnType::CommonName, cn.as_str());
        }
        params.subject_alt_names = self.sans.clone();
        params.extended_key_usages = self.eku.clone();
        params.key_usages = self.key_usages.clone();
        params.not_before = date_time_ymd(self.from.0, self.from.1, self.from.2);
        params.not_after = date_time_ymd(self.to.0, self.to.1, self.to.2);
        params.serial_number = Some(SerialNumber::from(self.serial));
        if self.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params
    }
}

/// A DNS SAN.
pub fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

/// A URI SAN.
pub fn uri(name: &str) -> SanType {
    SanType::URI(name.try_into().unwrap())
}

/// An e-mail SAN.
pub fn email(name: &str) -> SanType {
    SanType::Rfc822Name(name.try_into().unwrap())
}

/// An RSA public key made elsewhere (OpenSSL), for rcgen to certify: ring cannot generate RSA
/// keys, and rcgen reads SubjectPublicKeyInfo only with its x509-parser feature.
struct RsaPublicKey(Vec<u8>);

impl RsaPublicKey {
    fn from_spki(der: &[u8]) -> RsaPublicKey {
        use der::Decode;
        let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(der).unwrap();
        RsaPublicKey(spki.subject_public_key.raw_bytes().to_vec())
    }
}

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// A scratch directory removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqward-x509-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).unwrap();
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }

    /// Runs `openssl` with the whitespace-separated arguments of `line` in this directory.
    pub fn run(&self, line: &str) -> String {
        self.openssl(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// Runs `openssl` with `args` in this directory; panics with its stderr on failure.
    pub fn openssl(&self, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .output()
            .expect("the openssl command-line tool is installed");
        assert!(
            out.status.success(),
            "openssl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
