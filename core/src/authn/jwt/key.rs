//! Keys that verify token signatures: public keys read from PEM (SPKI `PUBLIC KEY` or PKCS#1
//! `RSA PUBLIC KEY`) or from JWK members, and HMAC secrets given as bytes. Each key is pinned to
//! exactly one algorithm when it is loaded, and checked then (RSA size and exponent, EC point
//! layout, HMAC secret length) so that a bad key fails the load, not every later token.
//!
//! Messages returned here never contain key bytes; the caller adds the file name or key id.

use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode, Reader, SliceReader};
use ring::{hmac, signature};
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::algorithm::{Algorithm, Curve, Family};
use crate::Rejection;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus ring verifies with, in bits.
const MAX_RSA_BITS: usize = 8192;
/// The largest public exponent ring accepts (2^33 - 1), so keys it would refuse fail at load.
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// A public key as read from a file or a JWK, before it is pinned to an algorithm.
pub(crate) enum PublicKey {
    /// An RSA key.
    Rsa(RsaKey),
    /// An EC key: the curve and the uncompressed SEC1 point (`04 || x || y`).
    Ec {
        /// The curve named by the key.
        curve: Curve,
        /// `04 || x || y`, each coordinate `curve.coordinate_len()` bytes.
        point: Box<[u8]>,
    },
    /// An Ed25519 key.
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// An EC key from its two coordinates (JWK `x` and `y`), checking their lengths.
    pub(crate) fn ec(curve: Curve, x: &[u8], y: &[u8]) -> Result<PublicKey, String> {
        let len = curve.coordinate_len();
        if x.len() != len || y.len() != len {
            return Err(format!(
                "{} coordinates must be {len} bytes each",
                curve.jwk_name()
            ));
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Ok(PublicKey::Ec {
            curve,
            point: point.into_boxed_slice(),
        })
    }

    /// An Ed25519 key from its 32 bytes.
    pub(crate) fn ed25519(x: &[u8]) -> Result<PublicKey, String> {
        <[u8; 32]>::try_from(x)
            .map(PublicKey::Ed25519)
            .map_err(|_| "an Ed25519 public key must be 32 bytes".to_owned())
    }

    /// What the key is, for messages.
    fn describe(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "an RSA key",
            PublicKey::Ec {
                curve: Curve::P256, ..
            } => "a P-256 key",
            PublicKey::Ec {
                curve: Curve::P384, ..
            } => "a P-384 key",
            PublicKey::Ed25519(_) => "an Ed25519 key",
        }
    }
}

/// An RSA public key checked at load: an odd modulus of 2,048 to 8,192 bits and an odd public
/// exponent from 3 to 2^33 - 1 (what ring verifies with), both kept as minimal big-endian bytes.
#[derive(Clone)]
pub(crate) struct RsaKey {
    n: Box<[u8]>,
    e: Box<[u8]>,
}

impl RsaKey {
    /// Checks and keeps a modulus and exponent (big-endian, leading zero bytes allowed).
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Result<RsaKey, String> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        if bits > MAX_RSA_BITS {
            return Err(format!(
                "RSA key has {bits} bits; at most {MAX_RSA_BITS} are supported"
            ));
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err("RSA modulus is even".to_owned());
        }
        let exponent = if e.len() <= 8 {
            e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        } else {
            u64::MAX
        };
        if !(3..=MAX_RSA_EXPONENT).contains(&exponent) || exponent & 1 == 0 {
            return Err("RSA public exponent must be odd and from 3 to 2^33 - 1".to_owned());
        }
        Ok(RsaKey {
            n: n.into(),
            e: e.into(),
        })
    }

    /// Reads a PKCS#1 `RSAPublicKey` (the `RSA PUBLIC KEY` PEM body, and the bit string inside
    /// an `rsaEncryption` SPKI).
    fn from_pkcs1_der(der: &[u8]) -> Result<RsaKey, String> {
        let parse = || -> der::Result<(&[u8], &[u8])> {
            let mut reader = SliceReader::new(der)?;
            let (n, e) = reader.sequence(|r| {
                let n = UintRef::decode(r)?;
                let e = UintRef::decode(r)?;
                Ok::<_, der::Error>((n.as_bytes(), e.as_bytes()))
            })?;
            reader.finish()?;
            Ok((n, e))
        };
        let (n, e) = parse().map_err(|e| format!("not a PKCS#1 RSA public key ({e})"))?;
        RsaKey::new(n, e)
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        bit_length(&self.n)
    }

    /// Verifies an RSA signature with the given padding and digest.
    pub(crate) fn verify(
        &self,
        params: &signature::RsaParameters,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), Rejection> {
        signature::RsaPublicKeyComponents {
            n: &*self.n,
            e: &*self.e,
        }
        .verify(params, message, sig)
        .map_err(|_| Rejection::BadSignature)
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian number without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
    }
}

/// Reads the first PEM block of a key file: `PUBLIC KEY` (SPKI: RSA, P-256, P-384, Ed25519) or
/// `RSA PUBLIC KEY` (PKCS#1). Text before the block is allowed; anything else is refused.
pub(crate) fn public_key_from_pem(pem: &[u8]) -> Result<PublicKey, String> {
    let (label, der) =
        der::pem::decode_vec(pem).map_err(|e| format!("not a PEM public key ({e})"))?;
    match label {
        "PUBLIC KEY" => public_key_from_spki(&der),
        "RSA PUBLIC KEY" => RsaKey::from_pkcs1_der(&der).map(PublicKey::Rsa),
        other => Err(format!(
            "expected a `PUBLIC KEY` or `RSA PUBLIC KEY` PEM block, found `{other}`"
        )),
    }
}

/// Reads a DER `SubjectPublicKeyInfo`.
pub(crate) fn public_key_from_spki(der: &[u8]) -> Result<PublicKey, String> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("not a SubjectPublicKeyInfo ({e})"))?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("public key bit string has unused bits")?;
    let params = spki.algorithm.parameters;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        if params.is_some_and(|p| !p.is_null()) {
            return Err("rsaEncryption parameters must be NULL".to_owned());
        }
        RsaKey::from_pkcs1_der(key).map(PublicKey::Rsa)
    } else if oid == ID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| "EC key does not name its curve".to_owned())?;
        let curve = if curve == SECP256R1 {
            Curve::P256
        } else if curve == SECP384R1 {
            Curve::P384
        } else {
            return Err(format!("EC curve {curve} is not supported (P-256, P-384)"));
        };
        let len = curve.coordinate_len();
        match key.split_first() {
            Some((0x04, xy)) if xy.len() == 2 * len => Ok(PublicKey::Ec {
                curve,
                point: key.into(),
            }),
            _ => Err(format!(
                "{} key is not an uncompressed point",
                curve.jwk_name()
            )),
        }
    } else if oid == ID_ED25519 {
        if params.is_some() {
            return Err("Ed25519 keys take no algorithm parameters".to_owned());
        }
        PublicKey::ed25519(key)
    } else {
        Err(format!("key algorithm {oid} is not supported"))
    }
}

/// A key pinned to the one algorithm it verifies.
pub(crate) struct PinnedKey {
    alg: Algorithm,
    material: Material,
}

enum Material {
    Hmac(hmac::Key),
    Rsa(RsaKey),
    Ec(Box<[u8]>),
    Ed25519([u8; 32]),
}

impl PinnedKey {
    /// An HMAC secret for `HS256`/`HS384`/`HS512`. RFC 7518 section 3.2: the secret must be at
    /// least as long as the hash output (32, 48 or 64 bytes).
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Result<PinnedKey, String> {
        let Family::Hmac(hmac_alg) = alg.family() else {
            return Err(format!("{alg} takes a public key, not a shared secret"));
        };
        let min = hmac_alg.digest_algorithm().output_len();
        if secret.len() < min {
            return Err(format!(
                "{alg} secret has {} bytes; at least {min} are required",
                secret.len()
            ));
        }
        Ok(PinnedKey {
            alg,
            material: Material::Hmac(hmac::Key::new(hmac_alg, secret)),
        })
    }

    /// A public key for an asymmetric algorithm; the key type must fit the algorithm.
    pub(crate) fn public(alg: Algorithm, key: PublicKey) -> Result<PinnedKey, String> {
        let material = match (alg.family(), key) {
            (Family::Hmac(_), _) => {
                return Err(format!(
                    "{alg} takes a shared secret, not a public key (HMAC with a public key is \
                     the algorithm confusion attack)"
                ))
            }
            (Family::Rsa(_), PublicKey::Rsa(rsa)) => Material::Rsa(rsa),
            (Family::Ec(want, _), PublicKey::Ec { curve, point }) if want == curve => {
                Material::Ec(point)
            }
            (Family::Ed25519, PublicKey::Ed25519(x)) => Material::Ed25519(x),
            (_, other) => {
                return Err(format!("{alg} cannot use {}", other.describe()));
            }
        };
        Ok(PinnedKey { alg, material })
    }

    /// The algorithm the key is pinned to.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Verifies `sig` over `message` with the pinned algorithm.
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), Rejection> {
        let ok = match (self.alg.family(), &self.material) {
            (Family::Hmac(_), Material::Hmac(key)) => hmac::verify(key, message, sig).is_ok(),
            (Family::Rsa(params), Material::Rsa(key)) => {
                return key.verify(params, message, sig);
            }
            (Family::Ec(_, ecdsa), Material::Ec(point)) => {
                signature::UnparsedPublicKey::new(ecdsa, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (Family::Ed25519, Material::Ed25519(x)) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(message, sig)
                    .is_ok()
            }
            // The constructors pair every algorithm with its own kind of key; anything else
            // cannot verify.
            _ => return Err(Rejection::WrongAlgorithm),
        };
        if ok {
            Ok(())
        } else {
            Err(Rejection::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0xffu8; bits.div_ceil(8)];
        if !bits.is_multiple_of(8) {
            n[0] = (1u8 << (bits % 8)) - 1;
        }
        n
    }

    #[test]
    fn rsa_size_and_exponent_are_checked() {
        let e = [1, 0, 1];
        assert!(RsaKey::new(&modulus(2048), &e).is_ok());
        assert_eq!(RsaKey::new(&modulus(2048), &e).unwrap().bits(), 2048);
        let mut padded = vec![0, 0];
        padded.extend(modulus(2048));
        assert_eq!(RsaKey::new(&padded, &[0, 1, 0, 1]).unwrap().bits(), 2048);
        let weak = RsaKey::new(&modulus(2047), &e).err().unwrap();
        assert!(weak.contains("2047 bits"), "{weak}");
        assert!(RsaKey::new(&modulus(1024), &e).is_err());
        assert!(RsaKey::new(&modulus(8193), &e).is_err());
        let mut even = modulus(2048);
        *even.last_mut().unwrap() = 0xfe;
        assert!(RsaKey::new(&even, &e).is_err());
        for bad in [
            &[1u8][..],
            &[2],
            &[0],
            &[],
            &[2, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ] {
            assert!(RsaKey::new(&modulus(2048), bad).is_err(), "{bad:?}");
        }
        assert!(RsaKey::new(&modulus(2048), &[1, 0xff, 0xff, 0xff, 0xff]).is_ok());
    }

    #[test]
    fn keys_are_pinned_to_a_fitting_algorithm() {
        let rsa = || PublicKey::Rsa(RsaKey::new(&modulus(2048), &[1, 0, 1]).unwrap());
        let p256 = || PublicKey::ec(Curve::P256, &[1; 32], &[2; 32]).unwrap();
        assert!(PinnedKey::public(Algorithm::Rs256, rsa()).is_ok());
        assert!(PinnedKey::public(Algorithm::Ps512, rsa()).is_ok());
        assert!(PinnedKey::public(Algorithm::Es256, p256()).is_ok());
        let confusion = PinnedKey::public(Algorithm::Hs256, rsa()).err().unwrap();
        assert!(confusion.contains("shared secret"), "{confusion}");
        assert!(PinnedKey::public(Algorithm::Es384, p256()).is_err());
        assert!(PinnedKey::public(Algorithm::EdDsa, p256()).is_err());
        assert!(PinnedKey::public(Algorithm::Rs256, p256()).is_err());
        assert!(PinnedKey::hmac(Algorithm::Rs256, &[7; 64]).is_err());
        assert!(PinnedKey::hmac(Algorithm::Hs256, &[7; 31]).is_err());
        assert!(PinnedKey::hmac(Algorithm::Hs384, &[7; 47]).is_err());
        assert!(PinnedKey::hmac(Algorithm::Hs512, &[7; 64]).is_ok());
    }

    #[test]
    fn ec_and_ed25519_lengths_are_checked() {
        assert!(PublicKey::ec(Curve::P256, &[1; 32], &[2; 31]).is_err());
        assert!(PublicKey::ec(Curve::P384, &[1; 48], &[2; 48]).is_ok());
        assert!(PublicKey::ed25519(&[0; 31]).is_err());
        assert!(PublicKey::ed25519(&[0; 32]).is_ok());
    }

    #[test]
    fn hmac_verifies_and_rejects() {
        let key = PinnedKey::hmac(Algorithm::Hs256, &[9; 32]).unwrap();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[9; 32]), b"msg");
        assert_eq!(key.verify(b"msg", tag.as_ref()), Ok(()));
        assert_eq!(
            key.verify(b"msh", tag.as_ref()),
            Err(Rejection::BadSignature)
        );
        assert_eq!(key.verify(b"msg", &[]), Err(Rejection::BadSignature));
    }

    #[test]
    fn pem_that_is_not_a_public_key_is_refused() {
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = public_key_from_pem(cert).err().unwrap();
        assert!(err.contains("`CERTIFICATE`"), "{err}");
        assert!(public_key_from_pem(b"garbage").is_err());
        let junk = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(public_key_from_pem(junk).is_err());
    }
}
