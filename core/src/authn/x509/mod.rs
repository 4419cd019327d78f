//! X.509 client-certificate authentication: chain validation, revocation, operator state and
//! identity mapping, with a cache that makes a returning certificate cheap.
//!
//! ```text
//! CertificateVerifier::builder()
//!     .trust_anchors("ca.pem", ca)?        PEM bundle or DER
//!     .intermediates("sub.pem", sub)?      optional; must chain to an anchor
//!     .crl("ca.crl", crl)?                 optional; signature verified once, at build
//!     .mapping(IdentityMapping::new().thing_name(CertField::SubjectCn))
//!     .accept_unregistered(false)
//!     .build()?
//! verifier.authenticate(&registry, presented, Some(client_id), now)? -> CertAuth
//! ```
//!
//! # What is checked
//! - **Input**: PEM (a bundle: leaf first, then intermediates; text around sections ignored)
//!   or DER (one or more encodings back to back), at most 64 KiB and 8 certificates.
//! - **Chain** (rustls-webpki `verify_for_usage`, revocation off): to one of the trust anchors,
//!   through presented or configured intermediates, valid at the caller's `now` (anchors carry
//!   no validity, as in webpki).
//! - **Algorithms** are pinned (module `keys` in the source): signatures ECDSA P-256/P-384,
//!   Ed25519, RSA PKCS#1 v1.5 with 2,048 to 8,192 bits; keys of the leaf, of every presented
//!   certificate and of every configured CA of those kinds, RSA under 2,048 bits being
//!   [`Rejection::WeakKey`] (a load error for configured CAs).
//! - **Usage**: webpki rejects an extended key usage extension without `clientAuth` (on the
//!   leaf and on intermediates) and accepts a leaf without one (RFC 5280: any purpose); set
//!   [`CertificateVerifierBuilder::require_client_auth_eku`] to demand it. webpki ignores
//!   keyUsage; here a leaf whose keyUsage extension lacks `digitalSignature` is
//!   [`Rejection::WrongUsage`] (TLS client authentication is a signature).
//! - **Revocation**: the [revocation lists](crate::authn::crl) of the issuers along the
//!   verified path.
//! - **Operator state**: the [`Registry`](crate::authn::registry::Registry) entry of the leaf's
//!   SHA-256 fingerprint: active passes, inactive passes and reports its first use, suspended
//!   and revoked are refused; an unregistered certificate is
//!   [`Rejection::UnknownIdentity`] unless [`CertificateVerifierBuilder::accept_unregistered`].
//! - **Identity**: every usable [`CertField`](crate::CertField) (module `fields` in the source:
//!   a value holding `*`, `$`, `+`, `?`, `#`, a control character, or repeated in the subject, is
//!   not offered) plus the names an [`IdentityMapping`] takes from them; a mapped field that is
//!   not offered rejects with [`Rejection::MissingField`], so a name is never absent or
//!   replaced.
//!
//! # Errors
//! webpki errors map to [`Rejection`]s: expired and not-yet-valid (for any certificate of the
//! path) to [`Rejection::Expired`] and [`Rejection::NotYetValid`]; no path, a non-CA issuer,
//! path length or name constraints to [`Rejection::UnknownIssuer`]; a signature that does not
//! verify to [`Rejection::BadSignature`]; an algorithm outside the pinned set to
//! [`Rejection::WrongAlgorithm`]; missing `clientAuth` or a CA certificate used as a leaf to
//! [`Rejection::WrongUsage`]; path-building limits to [`Rejection::TooLarge`]; encoding problems
//! to [`Rejection::Malformed`] with a fixed description (never input bytes).
//!
//! # Warm path
//! The outcome of the parsing and signature checks is cached, keyed by the exact presented
//! bytes (bounded, first in first out, [`DEFAULT_CACHE_CAPACITY`] entries by default, roughly
//! the presented size each). A hit re-checks the revocation lists and the registry against the
//! caller's `now` and parses nothing; when `now` falls outside the validity window of the cached
//! path, the bytes are verified afresh (another path, through a re-issued intermediate, may be
//! valid then). Failures are not cached.
//!
//! [`Rejection`]: crate::Rejection
//! [`Rejection::WeakKey`]: crate::Rejection::WeakKey
//! [`Rejection::WrongUsage`]: crate::Rejection::WrongUsage
//! [`Rejection::UnknownIdentity`]: crate::Rejection::UnknownIdentity
//! [`Rejection::MissingField`]: crate::Rejection::MissingField
//! [`Rejection::Expired`]: crate::Rejection::Expired
//! [`Rejection::NotYetValid`]: crate::Rejection::NotYetValid
//! [`Rejection::UnknownIssuer`]: crate::Rejection::UnknownIssuer
//! [`Rejection::BadSignature`]: crate::Rejection::BadSignature
//! [`Rejection::WrongAlgorithm`]: crate::Rejection::WrongAlgorithm
//! [`Rejection::TooLarge`]: crate::Rejection::TooLarge
//! [`Rejection::Malformed`]: crate::Rejection::Malformed

mod cache;
mod fields;
mod fingerprint;
pub(crate) mod input;
pub(crate) mod keys;
mod mapping;
mod validity;
mod verifier;

pub(crate) use fields::trim_serial;
pub use fingerprint::Fingerprint;
pub use mapping::IdentityMapping;
pub use verifier::{
    CertAuth, CertificateVerifier, CertificateVerifierBuilder, DEFAULT_CACHE_CAPACITY,
};
