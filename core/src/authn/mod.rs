//! Authentication: each submodule turns one kind of credential into an [`Identity`](crate::Identity)
//! with the attributes that selection rules and policy variables use.
//!
//! Everything here is pure: files arrive as bytes, the time as seconds since the Unix epoch
//! (`now`), randomness as bytes from the caller. Failures are
//! [`Error::Rejected`](crate::Error::Rejected) with a [`Rejection`](crate::Rejection) that never
//! contains the secret.

pub mod authenticator;
pub mod crl;
pub mod custom_authorizer;
pub mod declared;
pub mod identity_token;
pub mod jwt;
pub mod password;
pub mod psk;
pub mod registry;
pub mod x509;
