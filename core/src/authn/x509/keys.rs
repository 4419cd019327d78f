//! The pinned algorithms: which signatures a chain may use and which public keys a
//! certificate may hold.
//!
//! Signatures: ECDSA with P-256 or P-384 (SHA-256 or SHA-384), Ed25519, and RSA PKCS#1 v1.5
//! with SHA-256/384/512 and a 2,048 to 8,192-bit modulus. Keys: EC P-256, EC P-384, Ed25519, RSA
//! of 2,048 to 8,192 bits. webpki checks the signatures along a chain against
//! [`ALGORITHMS`] but never looks at the end-entity key, so [`check_key`] does that, and also
//! runs over presented intermediates so that a 1,024-bit RSA issuer is reported as
//! [`Rejection::WeakKey`] rather than as an issuer that did not verify.

use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::asn1::UintRef;
use der::{Decode, Reader, SliceReader};
use rustls_pki_types::SignatureVerificationAlgorithm;
use webpki::ring as algs;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::Rejection;

/// The signature algorithms accepted anywhere in a chain and on revocation lists.
pub(crate) static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algs::ECDSA_P256_SHA256,
    algs::ECDSA_P256_SHA384,
    algs::ECDSA_P384_SHA256,
    algs::ECDSA_P384_SHA384,
    algs::ED25519,
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA512,
];

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits (ring's limit for verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// Checks that a public key is of a pinned kind and strong enough.
///
/// RSA under 2,048 bits is [`Rejection::WeakKey`]; any other kind of key, curve or an RSA
/// modulus over 8,192 bits is [`Rejection::WrongAlgorithm`]; an RSA key that does not decode is
/// [`Rejection::Malformed`].
pub(crate) fn check_key(spki: &SubjectPublicKeyInfoOwned) -> Result<(), Rejection> {
    let algorithm = &spki.algorithm;
    let parameter = algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match algorithm.oid {
        rfc5912::ID_EC_PUBLIC_KEY
            if parameter == Some(rfc5912::SECP_256_R_1)
                || parameter == Some(rfc5912::SECP_384_R_1) =>
        {
            Ok(())
        }
        rfc8410::ID_ED_25519 if algorithm.parameters.is_none() => Ok(()),
        rfc5912::RSA_ENCRYPTION => {
            let key = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| Rejection::Malformed("rsa public key bits".to_owned()))?;
            let bits = rsa_modulus_bits(key)
                .ok_or_else(|| Rejection::Malformed("rsa public key".to_owned()))?;
            if bits < MIN_RSA_BITS {
                Err(Rejection::WeakKey)
            } else if bits > MAX_RSA_BITS {
                Err(Rejection::WrongAlgorithm)
            } else {
                Ok(())
            }
        }
        _ => Err(Rejection::WrongAlgorithm),
    }
}

/// The size in bits of the modulus of a DER `RSAPublicKey`.
fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(key).ok()?;
    let modulus = reader
        .sequence(|inner: &mut SliceReader<'_>| {
            let modulus = UintRef::decode(inner)?;
            let _exponent = UintRef::decode(inner)?;
            Ok::<_, der::Error>(modulus)
        })
        .ok()?;
    reader.finish().ok()?;
    // `UintRef` strips leading zero bytes, so the first byte is the most significant one.
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    let leading = usize::try_from(first.leading_zeros()).ok()?;
    Some(bytes.len() * 8 - leading)
}

/// Why a signature made outside webpki (on a CRL or a configured intermediate) did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureProblem {
    /// The signature algorithm is not one of [`ALGORITHMS`].
    Unsupported,
    /// The algorithm does not fit the signer's key (an ECDSA signature from an RSA key).
    WrongKey,
    /// The signature does not verify.
    Invalid,
}

impl SignatureProblem {
    /// The problem in plain words.
    pub(crate) fn message(self) -> &'static str {
        match self {
            SignatureProblem::Unsupported => "signature algorithm not allowed",
            SignatureProblem::WrongKey => "signature algorithm does not fit the issuer's key",
            SignatureProblem::Invalid => "signature does not verify",
        }
    }
}

/// A signer's key in the form the pinned algorithms take it.
#[derive(Debug, Clone)]
pub(crate) struct SignerKey {
    /// The contents of the key's AlgorithmIdentifier.
    algorithm: Vec<u8>,
    /// The subjectPublicKey bits.
    key: Vec<u8>,
}

impl SignerKey {
    /// The key of a parsed SubjectPublicKeyInfo; `None` if it does not re-encode (never for a
    /// key that was decoded) or has a partial last byte.
    pub(crate) fn new(spki: &SubjectPublicKeyInfoOwned) -> Option<SignerKey> {
        let algorithm = super::input::to_der(&spki.algorithm)?;
        let algorithm = super::input::contents(&algorithm)?.to_vec();
        let key = spki.subject_public_key.as_bytes()?.to_vec();
        Some(SignerKey { algorithm, key })
    }

    /// Verifies `signature` over `message` made with the algorithm whose identifier contents are
    /// `algorithm`.
    pub(crate) fn verify(
        &self,
        algorithm: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureProblem> {
        let mut known = false;
        for alg in ALGORITHMS {
            if alg.signature_alg_id().as_ref() != algorithm {
                continue;
            }
            known = true;
            if alg.public_key_alg_id().as_ref() != self.algorithm.as_slice() {
                continue;
            }
            return alg
                .verify_signature(&self.key, message, signature)
                .map_err(|_| SignatureProblem::Invalid);
        }
        Err(if known {
            SignatureProblem::WrongKey
        } else {
            SignatureProblem::Unsupported
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{AnyRef, BitString};
    use der::Encode;
    use x509_cert::spki::AlgorithmIdentifierOwned;

    fn rsa_spki(modulus_bytes: usize, first: u8) -> SubjectPublicKeyInfoOwned {
        let mut modulus = vec![0xffu8; modulus_bytes];
        modulus[0] = first;
        let exponent = [0x01, 0x00, 0x01];
        let mut body = Vec::new();
        UintRef::new(&modulus)
            .unwrap()
            .encode_to_vec(&mut body)
            .unwrap();
        UintRef::new(&exponent)
            .unwrap()
            .encode_to_vec(&mut body)
            .unwrap();
        let mut key = vec![0x30];
        der::Length::try_from(body.len())
            .unwrap()
            .encode_to_vec(&mut key)
            .unwrap();
        key.extend_from_slice(&body);
        SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: rfc5912::RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL.into()),
            },
            subject_public_key: BitString::from_bytes(&key).unwrap(),
        }
    }

    #[test]
    fn rsa_sizes() {
        assert_eq!(check_key(&rsa_spki(128, 0xff)), Err(Rejection::WeakKey));
        assert_eq!(check_key(&rsa_spki(256, 0x01)), Err(Rejection::WeakKey));
        assert_eq!(check_key(&rsa_spki(256, 0x80)), Ok(()));
        assert_eq!(check_key(&rsa_spki(1024, 0x80)), Ok(()));
        assert_eq!(
            check_key(&rsa_spki(1025, 0x01)),
            Err(Rejection::WrongAlgorithm)
        );
    }

    #[test]
    fn other_kinds() {
        let mut ec = rsa_spki(256, 0x80);
        ec.algorithm = AlgorithmIdentifierOwned {
            oid: rfc5912::ID_EC_PUBLIC_KEY,
            parameters: Some((&rfc5912::SECP_256_R_1).into()),
        };
        assert_eq!(check_key(&ec), Ok(()));
        ec.algorithm.parameters = Some((&rfc5912::SECP_521_R_1).into());
        assert_eq!(check_key(&ec), Err(Rejection::WrongAlgorithm));
        ec.algorithm.parameters = None;
        assert_eq!(check_key(&ec), Err(Rejection::WrongAlgorithm));
        let mut garbled = rsa_spki(256, 0x80);
        garbled.subject_public_key = BitString::from_bytes(&[0x30, 0x01]).unwrap();
        assert!(matches!(check_key(&garbled), Err(Rejection::Malformed(_))));
    }
}
