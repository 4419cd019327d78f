//! Declared identities: a client that says `SYSTEM//<name>` is taken to be `<name>`.
//!
//! This is not authentication: anyone can write the credential. It exists for brokers inside a
//! trusted perimeter (a component on the same host, a test bench), is off unless a setting turns
//! it on, and the engine logs [`DECLARED_WARNING`] at every load while it is on.
//!
//! ```
//! use mqward_core::authn::declared::DeclaredIdentities;
//! use mqward_core::{IdentityKind, Rejection};
//!
//! let off = DeclaredIdentities::new(false);
//! assert_eq!(off.verify("SYSTEM//historian").unwrap_err().rejection(), Some(&Rejection::Disabled));
//! let on = DeclaredIdentities::new(true);
//! let id = on.verify("SYSTEM//historian")?;
//! assert_eq!((id.kind(), id.thing_name()), (IdentityKind::Declared, Some("historian")));
//! assert!(on.warning().is_some());
//! # Ok::<(), mqward_core::Error>(())
//! ```

use crate::error::{Error, Rejection};
use crate::identity::{Identity, IdentityKind};

/// The prefix of a declared identity credential.
pub const DECLARED_PREFIX: &str = "SYSTEM//";

/// The longest name a declared identity or an identity token may carry, in bytes (an AWS IoT
/// thing name is at most 128 characters).
pub const MAX_NAME_LEN: usize = 128;

/// What the engine logs at every load while declared identities are on.
pub const DECLARED_WARNING: &str = "declared identities are not authentication: any client that \
    sends `SYSTEM//<name>` becomes `<name>` without proving it; keep them on only where every \
    client that can reach the broker is trusted";

/// Whether declared identities are accepted, and the check that turns one into an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeclaredIdentities {
    enabled: bool,
}

impl DeclaredIdentities {
    /// Declared identities on (`true`) or off (`false`, the default).
    pub fn new(enabled: bool) -> DeclaredIdentities {
        DeclaredIdentities { enabled }
    }

    /// Whether they are on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The warning to log at load: [`DECLARED_WARNING`] when on, `None` when off.
    pub fn warning(&self) -> Option<&'static str> {
        self.enabled.then_some(DECLARED_WARNING)
    }

    /// Turns `SYSTEM//<name>` into an identity of kind [`IdentityKind::Declared`] with thing
    /// name `<name>`. Off: [`Rejection::Disabled`]. Without the prefix, or with a name that is
    /// empty, longer than [`MAX_NAME_LEN`] bytes or holds a control character (NUL included):
    /// [`Rejection::Malformed`].
    pub fn verify(&self, credential: &str) -> Result<Identity, Error> {
        if !self.enabled {
            return Err(Rejection::Disabled.into());
        }
        let Some(name) = credential.strip_prefix(DECLARED_PREFIX) else {
            return Err(Rejection::Malformed(format!(
                "credential does not start with `{DECLARED_PREFIX}`"
            ))
            .into());
        };
        check_name(name).map_err(|e| Rejection::Malformed(e.to_owned()))?;
        Ok(Identity::new(IdentityKind::Declared).with_thing_name(name))
    }
}

// The message below spells the limit out.
const _: () = assert!(MAX_NAME_LEN == 128);

/// Checks a thing name carried by a declared identity or an identity token: not empty, at most
/// [`MAX_NAME_LEN`] bytes, no control characters.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("empty name")
    } else if name.len() > MAX_NAME_LEN {
        Err("name longer than 128 bytes")
    } else if name.chars().any(char::is_control) {
        Err("name contains a control character")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed(credential: &str) -> String {
        match DeclaredIdentities::new(true).verify(credential) {
            Err(Error::Rejected(Rejection::Malformed(m))) => m,
            other => panic!("{credential:?}: {other:?}"),
        }
    }

    #[test]
    fn off_rejects_everything() {
        let off = DeclaredIdentities::default();
        assert!(!off.enabled());
        assert_eq!(off.warning(), None);
        for c in ["SYSTEM//a", "", "x"] {
            assert_eq!(off.verify(c), Err(Error::Rejected(Rejection::Disabled)));
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(malformed("system//a").contains("does not start"));
        assert!(malformed("SYSTEM/a").contains("does not start"));
        assert_eq!(malformed("SYSTEM//"), "empty name");
        assert_eq!(
            malformed("SYSTEM//a\0b"),
            "name contains a control character"
        );
        assert_eq!(
            malformed("SYSTEM//a\nb"),
            "name contains a control character"
        );
        assert_eq!(
            malformed(&format!("SYSTEM//{}", "n".repeat(129))),
            "name longer than 128 bytes"
        );
        let long = "n".repeat(128);
        let id = DeclaredIdentities::new(true)
            .verify(&format!("SYSTEM//{long}"))
            .unwrap();
        assert_eq!(id.thing_name(), Some(long.as_str()));
        // Wildcards and slashes are data, matched literally by policies.
        let id = DeclaredIdentities::new(true)
            .verify("SYSTEM//a/+/#")
            .unwrap();
        assert_eq!(id.thing_name(), Some("a/+/#"));
        assert_eq!(id.username(), None);
    }

    #[test]
    fn warning_says_it_is_not_authentication() {
        let warning = DeclaredIdentities::new(true).warning().unwrap();
        assert!(warning.starts_with("declared identities are not authentication"));
    }
}
