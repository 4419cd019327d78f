//! The JWS algorithms a key may be pinned to, and the ring primitive behind each.

use std::fmt;

use ring::{hmac, signature};

/// A JWS signature algorithm (RFC 7518 names). Every key is pinned to exactly one.
///
/// `none` is not an algorithm here: a token that names it is always rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt length 32).
    Ps256,
    /// RSASSA-PSS with SHA-384 (MGF1 SHA-384, salt length 48).
    Ps384,
    /// RSASSA-PSS with SHA-512 (MGF1 SHA-512, salt length 64).
    Ps512,
    /// ECDSA on P-256 with SHA-256, signature as raw `r || s` (64 bytes).
    Es256,
    /// ECDSA on P-384 with SHA-384, signature as raw `r || s` (96 bytes).
    Es384,
    /// EdDSA with Ed25519 (the only curve accepted for `EdDSA`).
    EdDsa,
}

/// What kind of key an algorithm needs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Family {
    /// A shared secret.
    Hmac(hmac::Algorithm),
    /// An RSA public key of 2,048 to 8,192 bits.
    Rsa(&'static signature::RsaParameters),
    /// An EC public key on the named curve.
    Ec(Curve, &'static signature::EcdsaVerificationAlgorithm),
    /// An Ed25519 public key.
    Ed25519,
}

/// The elliptic curves of the ECDSA algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// NIST P-256 (`secp256r1`).
    P256,
    /// NIST P-384 (`secp384r1`).
    P384,
}

impl Curve {
    /// The JWK `crv` name.
    pub(crate) fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }

    /// Length of one coordinate in bytes.
    pub(crate) fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

impl Algorithm {
    /// Every algorithm, in a stable order.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The name used in the JWS `alg` header and in JWK `alg` members (`RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` name, exactly as RFC 7518 spells it (case matters). `none` and names
    /// this crate does not verify (`ES512`, `RSA-OAEP`, ...) give `None`.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the algorithm uses a shared secret (HMAC) rather than a public key.
    pub fn is_hmac(self) -> bool {
        matches!(self.family(), Family::Hmac(_))
    }

    /// The kind of key and the ring primitive.
    pub(crate) fn family(self) -> Family {
        match self {
            Algorithm::Hs256 => Family::Hmac(hmac::HMAC_SHA256),
            Algorithm::Hs384 => Family::Hmac(hmac::HMAC_SHA384),
            Algorithm::Hs512 => Family::Hmac(hmac::HMAC_SHA512),
            Algorithm::Rs256 => Family::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::Rs384 => Family::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::Rs512 => Family::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::Ps256 => Family::Rsa(&signature::RSA_PSS_2048_8192_SHA256),
            Algorithm::Ps384 => Family::Rsa(&signature::RSA_PSS_2048_8192_SHA384),
            Algorithm::Ps512 => Family::Rsa(&signature::RSA_PSS_2048_8192_SHA512),
            Algorithm::Es256 => Family::Ec(Curve::P256, &signature::ECDSA_P256_SHA256_FIXED),
            Algorithm::Es384 => Family::Ec(Curve::P384, &signature::ECDSA_P384_SHA384_FIXED),
            Algorithm::EdDsa => Family::Ed25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_not_an_algorithm() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
        for name in ["none", "None", "hs256", "ES512", "RSA-OAEP", "", "EDDSA"] {
            assert_eq!(Algorithm::parse(name), None, "{name}");
        }
    }

    #[test]
    fn only_hs_algorithms_are_hmac() {
        let hmac: Vec<_> = Algorithm::ALL.into_iter().filter(|a| a.is_hmac()).collect();
        assert_eq!(hmac, [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512]);
    }
}
