//! [`CertificateVerifier`]: the configured trust, built once, and the per-connection checks.

use std::sync::Arc;
use std::time::Duration;

use der::Decode;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage as KeyUsageExt};
use x509_cert::Certificate;

use super::cache::Cache;
use super::fingerprint::Fingerprint;
use super::input::{self, MAX_CERTIFICATES, MAX_PRESENTED};
use super::keys::{self, SignerKey};
use super::mapping::IdentityMapping;
use super::{fields, validity};
use crate::authn::crl::{self, CrlSigner, IssuerIndex, LoadedCrl, RevocationLists, StaleCrl};
use crate::authn::registry::{CertState, Registry, StateChange};
use crate::{Error, Identity, Location, Problem, Rejection};

/// How many verified certificates the cache holds unless configured otherwise.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// A successful certificate authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertAuth {
    /// The identity (kind certificate): every usable certificate field, the mapped thing name
    /// and client id, or the client id the client sent when none is mapped.
    pub identity: Identity,
    /// The SHA-256 fingerprint of the leaf certificate.
    pub fingerprint: Fingerprint,
    /// When the first certificate of the verified path expires (seconds since the Unix epoch):
    /// a session should not outlive it.
    pub not_after: u64,
    /// `Some` when the certificate was registered but never used (inactive): the change to
    /// active the host should apply ([`Registry::apply`]) and persist.
    pub first_use: Option<StateChange>,
}

/// What verifying presented bytes established, independent of time and operator state.
#[derive(Debug)]
struct Verified {
    identity: Identity,
    fingerprint: Fingerprint,
    /// The latest notBefore and earliest notAfter along the verified path.
    not_before: u64,
    not_after: u64,
    /// The certificates of the path whose issuer has a revocation list: that list and the
    /// certificate's trimmed serial.
    revocation: Vec<(IssuerIndex, Box<[u8]>)>,
}

/// Verifies client certificates against configured trust anchors, revocation lists and the
/// operator registry, and maps them to identities. Immutable once built; the cache inside is
/// behind a lock, so one verifier serves every connection (`&self`).
///
/// See the [module documentation](super) for what is checked and why.
#[derive(Debug)]
pub struct CertificateVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    revocation: RevocationLists,
    mapping: IdentityMapping,
    accept_unregistered: bool,
    require_eku: bool,
    stale_crl: StaleCrl,
    cache: Cache<Verified>,
}

/// A CA certificate from the configuration (trust anchor or intermediate).
#[derive(Debug, Clone)]
struct CaCert {
    /// The file it came from and its place there, for messages.
    file: String,
    label: String,
    der: CertificateDer<'static>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    key: SignerKey,
    may_sign_crls: bool,
}

/// Collects the configuration of a [`CertificateVerifier`]; [`build`](Self::build) checks it as
/// a whole. Files are named as the configuration names them, and every error says which.
#[derive(Debug, Clone)]
pub struct CertificateVerifierBuilder {
    anchors: Vec<CaCert>,
    intermediates: Vec<CaCert>,
    crls: Vec<LoadedCrl>,
    mapping: IdentityMapping,
    accept_unregistered: bool,
    require_eku: bool,
    stale_crl: StaleCrl,
    cache_capacity: usize,
}

impl CertificateVerifier {
    /// A builder with no trust anchors, no mapping, unregistered certificates rejected,
    /// stale revocation lists rejected, and a cache of [`DEFAULT_CACHE_CAPACITY`] entries.
    pub fn builder() -> CertificateVerifierBuilder {
        CertificateVerifierBuilder {
            anchors: Vec::new(),
            intermediates: Vec::new(),
            crls: Vec::new(),
            mapping: IdentityMapping::default(),
            accept_unregistered: false,
            require_eku: false,
            stale_crl: StaleCrl::default(),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }

    /// Authenticates a client by the certificate it presented: the leaf first, then any
    /// intermediates, as PEM (a bundle) or DER (one or more encodings back to back).
    ///
    /// `client_id` is the MQTT client id, if known; `now` is the time in seconds since the Unix
    /// epoch. Checks, in order: size and encoding, key algorithms, the chain to a trust anchor
    /// for client authentication at `now`, key usage, the identity mapping, the validity window
    /// of the whole path, revocation lists, the registry state, and the client id rule.
    pub fn authenticate(
        &self,
        registry: &Registry,
        certificate: &[u8],
        client_id: Option<&str>,
        now: u64,
    ) -> Result<CertAuth, Error> {
        let verified = self.verified(certificate, now)?;
        let first_use = self.admit(&verified, registry, client_id, now)?;
        let mut identity = verified.identity.clone();
        if let (None, Some(sent)) = (self.mapping.client_id_field(), client_id) {
            identity = identity.with_client_id(sent);
        }
        Ok(CertAuth {
            identity,
            fingerprint: verified.fingerprint,
            not_after: verified.not_after,
            first_use,
        })
    }

    /// Whether a certificate alone is a valid client device identity now: the chain, the
    /// revocation lists, the registry state (an inactive certificate is valid; verifying is not
    /// using it) and the identity mapping, without any session or client id.
    pub fn verify(&self, registry: &Registry, certificate: &[u8], now: u64) -> Result<(), Error> {
        let verified = self.verified(certificate, now)?;
        self.admit(&verified, registry, None, now)?;
        Ok(())
    }

    /// How many verified certificates the cache holds (for diagnostics).
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The static outcome for presented bytes: from the cache, or verified now and cached.
    fn verified(&self, presented: &[u8], now: u64) -> Result<Arc<Verified>, Rejection> {
        if presented.len() > MAX_PRESENTED {
            return Err(Rejection::TooLarge);
        }
        if let Some(hit) = self.cache.get(presented) {
            if (hit.not_before..=hit.not_after).contains(&now) {
                return Ok(hit);
            }
            // Outside the cached path's window another path may be valid (a re-issued
            // intermediate, say): verify afresh, which also gives the precise rejection.
        }
        let verified = Arc::new(self.verify_chain(presented, now)?);
        self.cache.insert(presented, Arc::clone(&verified));
        Ok(verified)
    }

    /// The checks that depend on time and operator state, run on every authentication.
    fn admit(
        &self,
        verified: &Verified,
        registry: &Registry,
        client_id: Option<&str>,
        now: u64,
    ) -> Result<Option<StateChange>, Rejection> {
        if now < verified.not_before {
            return Err(Rejection::NotYetValid);
        }
        if now > verified.not_after {
            return Err(Rejection::Expired);
        }
        for (issuer, serial) in &verified.revocation {
            self.revocation
                .check(*issuer, serial, now, self.stale_crl)?;
        }
        let first_use = match registry.state(&verified.fingerprint) {
            Some(CertState::Active) => None,
            Some(CertState::Inactive) => Some(StateChange {
                fingerprint: verified.fingerprint,
                from: Some(CertState::Inactive),
                to: CertState::Active,
            }),
            Some(CertState::Suspended) => return Err(Rejection::Suspended),
            Some(CertState::Revoked) => return Err(Rejection::Revoked),
            None if self.accept_unregistered => None,
            None => return Err(Rejection::UnknownIdentity),
        };
        if let (Some(required), Some(sent)) = (
            self.mapping.required_client_id(&verified.identity),
            client_id,
        ) {
            if required != sent {
                return Err(Rejection::ClientIdMismatch);
            }
        }
        Ok(first_use)
    }

    /// The cold path: parse, check keys, build and verify the chain, read the fields.
    fn verify_chain(&self, presented: &[u8], now: u64) -> Result<Verified, Rejection> {
        let mut certs = input::certificates(presented)
            .map_err(|e| Rejection::Malformed(format!("certificate: {}", e.message())))?;
        if certs.len() > MAX_CERTIFICATES {
            return Err(Rejection::TooLarge);
        }
        if certs.is_empty() {
            return Err(Rejection::Malformed(
                "certificate: none presented".to_owned(),
            ));
        }
        // The leaf comes first; the rest, then the configured intermediates, may build the path.
        // `certs` is not empty (checked above), so `remove(0)` cannot panic.
        let leaf_der = certs.remove(0);
        let leaf = decode(&leaf_der)?;
        keys::check_key(leaf.tbs_certificate().subject_public_key_info())?;
        for cert in &certs {
            keys::check_key(decode(cert)?.tbs_certificate().subject_public_key_info())?;
        }

        let end_entity = EndEntityCert::try_from(&leaf_der).map_err(rejection)?;
        let mut intermediates = certs;
        intermediates.extend(
            self.intermediates
                .iter()
                .map(|c| CertificateDer::from(c.as_ref())),
        );
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now));
        let path = end_entity
            .verify_for_usage(
                keys::ALGORITHMS,
                &self.anchors,
                &intermediates,
                time,
                KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(rejection)?;
        self.check_usage(&leaf)?;

        let mut window = validity::Window::of(&leaf);
        let mut revocation = Vec::new();
        self.note_revocation(&leaf, &mut revocation)?;
        for cert in path.intermediate_certificates() {
            let parsed = decode(&cert.der())?;
            window.narrow(&parsed);
            self.note_revocation(&parsed, &mut revocation)?;
        }

        let fingerprint = Fingerprint::of(&leaf_der);
        let identity = self.mapping.apply(fields::identity(&leaf, &fingerprint))?;
        Ok(Verified {
            identity,
            fingerprint,
            not_before: window.not_before,
            not_after: window.not_after,
            revocation,
        })
    }

    /// What webpki leaves to the caller: keyUsage on the leaf, and EKU presence if required.
    fn check_usage(&self, leaf: &Certificate) -> Result<(), Rejection> {
        let tbs = leaf.tbs_certificate();
        let malformed = |_| Rejection::Malformed("certificate: bad key usage extension".to_owned());
        if let Some((_, usage)) = tbs.get_extension::<KeyUsageExt>().map_err(malformed)? {
            if !usage.digital_signature() {
                return Err(Rejection::WrongUsage);
            }
        }
        if self.require_eku
            && tbs
                .get_extension::<ExtendedKeyUsage>()
                .map_err(malformed)?
                .is_none()
        {
            return Err(Rejection::WrongUsage);
        }
        Ok(())
    }

    /// Remembers `cert` for the revocation check if its issuer has a list.
    fn note_revocation(
        &self,
        cert: &Certificate,
        out: &mut Vec<(IssuerIndex, Box<[u8]>)>,
    ) -> Result<(), Rejection> {
        if self.revocation.is_empty() {
            return Ok(());
        }
        let tbs = cert.tbs_certificate();
        // A decoded name always encodes again; if it ever did not, the certificate could not be
        // matched to its issuer's list, so it is refused rather than let through unchecked.
        let issuer =
            input::to_der(tbs.issuer()).ok_or_else(|| malformed("issuer name does not encode"))?;
        if let Some(index) = self.revocation.issuer(&issuer) {
            let serial = fields::trim_serial(tbs.serial_number().as_bytes());
            out.push((index, Box::from(serial)));
        }
        Ok(())
    }
}

fn decode(der: &[u8]) -> Result<Certificate, Rejection> {
    Certificate::from_der(der)
        .map_err(|_| Rejection::Malformed("certificate: does not decode".to_owned()))
}

/// The rejection for a webpki error.
fn rejection(error: webpki::Error) -> Rejection {
    use webpki::Error as E;
    #[allow(deprecated)]
    match error {
        E::CertExpired { .. } => Rejection::Expired,
        E::CertNotValidYet { .. } => Rejection::NotYetValid,
        E::UnknownIssuer
        | E::CertDistrusted
        | E::EndEntityUsedAsCa
        | E::PathLenConstraintViolated
        | E::NameConstraintViolation => Rejection::UnknownIssuer,
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => Rejection::BadSignature,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Rejection::WrongAlgorithm,
        E::RequiredEkuNotFound
        | E::RequiredEkuNotFoundContext(_)
        | E::EmptyEkuExtension
        | E::CaUsedAsEndEntity => Rejection::WrongUsage,
        E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumPathDepthExceeded
        | E::MaximumNameConstraintComparisonsExceeded => Rejection::TooLarge,
        E::CertRevoked => Rejection::Revoked,
        E::UnsupportedCertVersion => malformed("not an X.509 v3 certificate"),
        E::UnsupportedCriticalExtension => malformed("unsupported critical extension"),
        E::InvalidCertValidity => malformed("validity period ends before it starts"),
        E::InvalidSerialNumber => malformed("bad serial number"),
        E::BadDerTime => malformed("bad time encoding"),
        E::MalformedExtensions | E::ExtensionValueInvalid => malformed("malformed extension"),
        _ => malformed("does not decode"),
    }
}

fn malformed(what: &str) -> Rejection {
    Rejection::Malformed(format!("certificate: {what}"))
}

impl CertificateVerifierBuilder {
    /// Adds the trust anchors in a PEM bundle or DER file. Each must decode, hold a pinned key
    /// kind (RSA at least 2,048 bits) and be usable as a webpki trust anchor.
    pub fn trust_anchors(mut self, file: &str, bytes: &[u8]) -> Result<Self, Error> {
        let certs = read_ca_certs(file, bytes)?;
        for cert in &certs {
            webpki::anchor_from_trusted_cert(&cert.der).map_err(|_| {
                cert.problem("cannot serve as a trust anchor (webpki refuses its encoding)")
            })?;
        }
        self.anchors.extend(certs);
        Ok(self)
    }

    /// Adds intermediate CA certificates (PEM bundle or DER file) used to build chains for
    /// clients that present only their leaf, and to verify revocation lists. Each must chain to
    /// a trust anchor (checked by [`build`](Self::build)).
    pub fn intermediates(mut self, file: &str, bytes: &[u8]) -> Result<Self, Error> {
        self.intermediates.extend(read_ca_certs(file, bytes)?);
        Ok(self)
    }

    /// Adds the revocation lists in a PEM or DER file. The structure is checked now, the
    /// signature by [`build`](Self::build), against the trust anchors and intermediates.
    pub fn crl(mut self, file: &str, bytes: &[u8]) -> Result<Self, Error> {
        self.crls.extend(crl::parse(file, bytes)?);
        Ok(self)
    }

    /// Sets how certificates map to thing names and client ids.
    pub fn mapping(mut self, mapping: IdentityMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Whether certificates that chain correctly but are not in the registry are accepted
    /// (default: rejected with [`Rejection::UnknownIdentity`]).
    pub fn accept_unregistered(mut self, accept: bool) -> Self {
        self.accept_unregistered = accept;
        self
    }

    /// Whether a leaf must carry an extended key usage extension (with `clientAuth`). By
    /// default a leaf without one is accepted, as RFC 5280 reads an absent extension as "any
    /// purpose" (webpki and OpenSSL agree); an extension without `clientAuth` is always
    /// rejected.
    pub fn require_client_auth_eku(mut self, require: bool) -> Self {
        self.require_eku = require;
        self
    }

    /// What to do when a revocation list is past its `nextUpdate` (default
    /// [`StaleCrl::Reject`]).
    pub fn stale_crl(mut self, stale: StaleCrl) -> Self {
        self.stale_crl = stale;
        self
    }

    /// How many verified certificates to cache (0 turns the cache off).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Checks the configuration as a whole and builds the verifier: at least one trust anchor,
    /// every intermediate chains to an anchor, every revocation list was signed by a
    /// configured CA allowed to sign lists, and the mapping is consistent.
    pub fn build(self) -> Result<CertificateVerifier, Error> {
        if self.anchors.is_empty() {
            return Err(Error::single(
                Location::Document,
                "no trust anchors configured for client certificates",
            ));
        }
        self.mapping.validate()?;
        check_intermediates_chain(&self.anchors, &self.intermediates)?;
        let signers: Vec<CrlSigner> = self
            .anchors
            .iter()
            .chain(&self.intermediates)
            .map(|ca| CrlSigner {
                subject: ca.subject.clone(),
                key: ca.key.clone(),
                may_sign_crls: ca.may_sign_crls,
            })
            .collect();
        let revocation = RevocationLists::build(self.crls, &signers)?;
        let mut anchors = Vec::with_capacity(self.anchors.len());
        for cert in &self.anchors {
            let anchor = webpki::anchor_from_trusted_cert(&cert.der)
                .map_err(|_| cert.problem("cannot serve as a trust anchor"))?;
            anchors.push(anchor.to_owned());
        }
        Ok(CertificateVerifier {
            anchors,
            intermediates: self.intermediates.into_iter().map(|c| c.der).collect(),
            revocation,
            mapping: self.mapping,
            accept_unregistered: self.accept_unregistered,
            require_eku: self.require_eku,
            stale_crl: self.stale_crl,
            cache: Cache::new(self.cache_capacity),
        })
    }
}

impl CaCert {
    fn problem(&self, message: &str) -> Error {
        Error::single(
            Location::File(self.file.clone()),
            format!("{}: {message}", self.label),
        )
    }
}

/// Reads CA certificates from a PEM bundle or DER file.
fn read_ca_certs(file: &str, bytes: &[u8]) -> Result<Vec<CaCert>, Error> {
    let at_file = |message: String| Error::single(Location::File(file.to_owned()), message);
    let certs = input::certificates(bytes).map_err(|e| at_file(e.message()))?;
    let mut out = Vec::with_capacity(certs.len());
    for (i, der) in certs.into_iter().enumerate() {
        let number = i + 1;
        let cert = Certificate::from_der(der.as_ref())
            .map_err(|e| at_file(format!("certificate {number}: does not decode: {e}")))?;
        let tbs = cert.tbs_certificate();
        let label = match fields::common_name(tbs.subject()) {
            Some(cn) => format!("certificate {number} (`{cn}`)"),
            None => format!("certificate {number}"),
        };
        let spki = tbs.subject_public_key_info();
        keys::check_key(spki).map_err(|r| {
            at_file(format!(
                "{label}: {}",
                match r {
                    Rejection::WeakKey => "RSA key under 2048 bits",
                    _ => "key algorithm not allowed (EC P-256, P-384, Ed25519 or RSA 2048-8192)",
                }
            ))
        })?;
        let encoded = |value| {
            input::to_der(value).ok_or_else(|| at_file(format!("{label}: name does not encode")))
        };
        let subject = encoded(tbs.subject())?;
        let issuer = encoded(tbs.issuer())?;
        let key = SignerKey::new(spki)
            .ok_or_else(|| at_file(format!("{label}: public key does not encode")))?;
        let may_sign_crls = match tbs.get_extension::<KeyUsageExt>() {
            Ok(Some((_, usage))) => usage.crl_sign(),
            Ok(None) => true,
            Err(_) => return Err(at_file(format!("{label}: bad key usage extension"))),
        };
        out.push(CaCert {
            file: file.to_owned(),
            label,
            der: der.into_owned(),
            subject,
            issuer,
            key,
            may_sign_crls,
        });
    }
    Ok(out)
}

/// Checks that every configured intermediate is signed by a trust anchor or by an intermediate
/// that is, so a stray CA certificate can neither help build chains nor sign revocation lists.
fn check_intermediates_chain(anchors: &[CaCert], intermediates: &[CaCert]) -> Result<(), Error> {
    let mut trusted: Vec<&CaCert> = anchors.iter().collect();
    let mut pending: Vec<&CaCert> = intermediates.iter().collect();
    loop {
        let before = pending.len();
        let mut still = Vec::new();
        for cert in pending {
            let signed_by_trusted = input::Signed::parse(cert.der.as_ref()).is_some_and(|s| {
                trusted.iter().any(|ca| {
                    ca.subject == cert.issuer
                        && ca.key.verify(s.algorithm, s.message, s.signature).is_ok()
                })
            });
            if signed_by_trusted {
                trusted.push(cert);
            } else {
                still.push(cert);
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if pending.len() == before {
            let problems = pending
                .iter()
                .map(|cert| {
                    Problem::new(
                        Location::File(cert.file.clone()),
                        format!(
                            "{}: intermediate not signed by a trust anchor or chained intermediate",
                            cert.label
                        ),
                    )
                })
                .collect();
            return Err(Error::from_problems(problems));
        }
    }
}
