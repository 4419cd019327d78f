//! JSON Web Tokens (compact JWS, RFC 7515/7519) verified with ring: HS256/384/512,
//! RS256/384/512, PS256/384/512, ES256/384 and EdDSA (Ed25519).
//!
//! ```
//! use mqward_core::authn::jwt::{Algorithm, ClaimMapping, JwtVerifier};
//!
//! # fn main() -> Result<(), mqward_core::Error> {
//! let secret = [0x5a; 32]; // in real use: the bytes of a secret file
//! let verifier = JwtVerifier::builder()
//!     .hmac_secret("2024-05", Algorithm::Hs256, &secret)?
//!     .issuer("https://idp.example.com")
//!     .audience("mqtt")
//!     .claim_mapping(ClaimMapping::new().client_id(Some("cid")))
//!     .build()?;
//! let refused = verifier.verify("not.a.token", 1_700_000_000).unwrap_err();
//! assert!(refused.rejection().is_some());
//! # Ok(())
//! # }
//! ```
//!
//! # Keys
//! - Every key is pinned to one [`Algorithm`] when it is loaded: by the caller for PEM keys and
//!   HMAC secrets, by the required JWK `alg` member for key sets. A token whose header `alg`
//!   differs from its key's is [`Rejection::WrongAlgorithm`](crate::Rejection::WrongAlgorithm),
//!   so `alg: none` and the HS/RS confusion (an `HS256` token "signed" with an RSA public key as
//!   the HMAC secret) cannot pass.
//! - PEM files: SPKI `PUBLIC KEY` (RSA, P-256, P-384, Ed25519) or PKCS#1 `RSA PUBLIC KEY`,
//!   parsed with `der`/`spki`. Key sets: RSA `n`/`e`, EC `crv`/`x`/`y`, OKP Ed25519 `x`, oct `k`
//!   (see [`JwtVerifierBuilder::jwks`]). HMAC secrets: bytes, at least as long as the hash.
//! - RSA keys under 2,048 bits are refused at load. EC points are checked for layout at load
//!   and for being on the curve by ring at each verification (a bad point fails every token).
//! - Keys are selected by the token's `kid`. A verifier holding exactly one key also accepts
//!   tokens without `kid`; with several, such a token is malformed. Keys embedded in or pointed
//!   to by the token (`jwk`, `jku`, `x5u`, `x5c`) are ignored.
//!
//! # Tokens
//! - Longer than the cap (8 KiB by default): [`Rejection::TooLarge`](crate::Rejection::TooLarge)
//!   before any decoding. Base64url without padding, exactly three parts.
//! - No `crit` header is understood, so any `crit` is
//!   [`Rejection::UnsupportedCritical`](crate::Rejection::UnsupportedCritical).
//! - ES256/ES384 signatures are the raw `r || s` of RFC 7518 (not DER).
//! - The claims are read only after the signature verifies. `exp` is required; `exp`, `nbf`
//!   and `iat` must be whole non-negative numbers when present (a string or a fraction is
//!   refused as malformed, never taken as absent). The time is the caller's `now`, with a
//!   leeway (60 s by default). `iss` must match exactly when configured; `aud` (string or list)
//!   must contain a configured audience, and a token with an `aud` is refused when none is
//!   configured. A claim name given twice is refused.
//! - Claims become identity attributes through a [`ClaimMapping`].
//!
//! Errors while loading are [`Error::Invalid`](crate::Error::Invalid) naming the file and key
//! id; they never contain key bytes or secrets.

mod algorithm;
mod claims;
mod header;
mod jwks;
pub(crate) mod key;
mod verifier;

pub use algorithm::Algorithm;
pub use claims::ClaimMapping;
pub use verifier::{
    JwtVerifier, JwtVerifierBuilder, VerifiedToken, DEFAULT_LEEWAY, DEFAULT_MAX_LEN,
};
