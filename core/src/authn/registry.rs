//! The operator's view of each client certificate: a state per SHA-256 fingerprint.
//!
//! ```text
//!   register ──> inactive ──(first successful authentication)──> active
//!                   │                                          │  ^
//!                   │                                  suspend │  │ reactivate
//!                   │                                          v  │
//!                   └──────────── suspend ──────────────────> suspended
//!   any state ── revoke ──> revoked (final: no transition out)
//! ```
//!
//! The registry is a plain value: lookups take `&self`, changes `&mut self`, so an engine can
//! keep it behind a lock. Every change returns a [`StateChange`] for the host to persist;
//! authentication never changes the registry itself but reports the first-use change in
//! [`CertAuth`](super::x509::CertAuth), which the host applies with [`Registry::apply`].
//!
//! File format (JSON, written by [`Registry::to_json`], read by [`Registry::parse`]):
//!
//! ```json
//! {
//!   "version": 1,
//!   "certificates": [
//!     { "fingerprint": "<64 hex digits>", "state": "active", "name": "sensor-1" }
//!   ]
//! }
//! ```
//!
//! `name` is optional and free text for the operator. Fingerprints may be written in either case
//! and with colons (as `openssl x509 -fingerprint -sha256` prints them); they are written back as
//! lowercase hex, entries sorted by fingerprint, so the file diffs cleanly.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::x509::Fingerprint;
use crate::{Error, Location, Problem};

/// The operator state of a registered certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertState {
    /// Issued and registered, never used; the first successful authentication activates it.
    Inactive,
    /// In use.
    Active,
    /// Temporarily refused ([`Rejection::Suspended`](crate::Rejection::Suspended)); can be
    /// reactivated.
    Suspended,
    /// Refused for good ([`Rejection::Revoked`](crate::Rejection::Revoked)); no way back.
    Revoked,
}

impl CertState {
    /// The name used in the registry file.
    pub fn as_str(self) -> &'static str {
        match self {
            CertState::Inactive => "inactive",
            CertState::Active => "active",
            CertState::Suspended => "suspended",
            CertState::Revoked => "revoked",
        }
    }

    /// Parses the name used in the registry file.
    pub fn parse(name: &str) -> Option<CertState> {
        [
            CertState::Inactive,
            CertState::Active,
            CertState::Suspended,
            CertState::Revoked,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for CertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a transition changed, for the host to persist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateChange {
    /// The certificate.
    pub fingerprint: Fingerprint,
    /// The state before, `None` when the certificate was not registered.
    pub from: Option<CertState>,
    /// The state after.
    pub to: CertState,
}

/// One registered certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    state: CertState,
    name: Option<String>,
}

impl RegistryEntry {
    /// The certificate's state.
    pub fn state(&self) -> CertState {
        self.state
    }

    /// The operator's name for the certificate, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The registered certificates, by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    entries: BTreeMap<Fingerprint, RegistryEntry>,
}

/// The registry file format version this crate reads and writes.
pub const REGISTRY_VERSION: u64 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: u64,
    certificates: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    fingerprint: String,
    state: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize)]
struct OutFile<'a> {
    version: u64,
    certificates: Vec<OutEntry<'a>>,
}

#[derive(Serialize)]
struct OutEntry<'a> {
    fingerprint: String,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Reads a registry file. Errors name the file and, for a bad entry, its position (from 1)
    /// and fingerprint; every bad entry is reported.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Registry, Error> {
        let raw: RawFile = serde_json::from_slice(bytes).map_err(|e| {
            let location = if e.line() > 0 {
                Location::FileLine {
                    file: file.to_owned(),
                    line: e.line(),
                }
            } else {
                Location::File(file.to_owned())
            };
            Error::single(location, json_message(&e))
        })?;
        let at_file = |message: String| Problem::new(Location::File(file.to_owned()), message);
        if raw.version != REGISTRY_VERSION {
            return Err(Error::from_problems(vec![at_file(format!(
                "unsupported registry version `{}`; this build reads version {REGISTRY_VERSION}",
                raw.version
            ))]));
        }
        let mut problems = Vec::new();
        let mut entries = BTreeMap::new();
        for (i, entry) in raw.certificates.into_iter().enumerate() {
            let position = i + 1;
            let Some(fingerprint) = Fingerprint::parse(&entry.fingerprint) else {
                problems.push(at_file(format!(
                    "certificate {position}: fingerprint `{}` is not 64 hex digits",
                    entry.fingerprint
                )));
                continue;
            };
            let Some(state) = CertState::parse(&entry.state) else {
                problems.push(at_file(format!(
                    "certificate {position} (`{fingerprint}`): unknown state `{}`; expected \
                     inactive, active, suspended or revoked",
                    entry.state
                )));
                continue;
            };
            let new = RegistryEntry {
                state,
                name: entry.name,
            };
            if entries.insert(fingerprint, new).is_some() {
                problems.push(at_file(format!(
                    "certificate {position} (`{fingerprint}`): listed more than once"
                )));
            }
        }
        if problems.is_empty() {
            Ok(Registry { entries })
        } else {
            Err(Error::from_problems(problems))
        }
    }

    /// The registry file's bytes: pretty JSON, entries sorted by fingerprint, a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let file = OutFile {
            version: REGISTRY_VERSION,
            certificates: self
                .entries
                .iter()
                .map(|(fingerprint, entry)| OutEntry {
                    fingerprint: fingerprint.to_string(),
                    state: entry.state.as_str(),
                    name: entry.name.as_deref(),
                })
                .collect(),
        };
        // Serializing strings and numbers into memory cannot fail; an empty document would be
        // rejected by `parse`, so a failure could never pass for a valid registry.
        let mut bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// How many certificates are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no certificate is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A certificate's entry, if registered.
    pub fn entry(&self, fingerprint: &Fingerprint) -> Option<&RegistryEntry> {
        self.entries.get(fingerprint)
    }

    /// A certificate's state, if registered.
    pub fn state(&self, fingerprint: &Fingerprint) -> Option<CertState> {
        self.entries.get(fingerprint).map(|e| e.state)
    }

    /// Every entry, sorted by fingerprint.
    pub fn iter(&self) -> impl Iterator<Item = (&Fingerprint, &RegistryEntry)> {
        self.entries.iter()
    }

    /// Registers a new certificate as [`CertState::Inactive`]. Registering one twice is an
    /// error (its state stays as it is).
    pub fn register(
        &mut self,
        fingerprint: Fingerprint,
        name: Option<String>,
    ) -> Result<StateChange, Error> {
        if let Some(entry) = self.entries.get(&fingerprint) {
            return Err(transition_error(
                &fingerprint,
                format!("is already registered ({})", entry.state),
            ));
        }
        self.entries.insert(
            fingerprint,
            RegistryEntry {
                state: CertState::Inactive,
                name,
            },
        );
        Ok(StateChange {
            fingerprint,
            from: None,
            to: CertState::Inactive,
        })
    }

    /// Suspends a certificate. `None` if it was suspended already; an error if it is revoked or
    /// not registered.
    pub fn suspend(&mut self, fingerprint: &Fingerprint) -> Result<Option<StateChange>, Error> {
        self.transition(fingerprint, CertState::Suspended)
    }

    /// Makes a suspended (or never used) certificate active again. `None` if it was active
    /// already; an error if it is revoked or not registered.
    pub fn reactivate(&mut self, fingerprint: &Fingerprint) -> Result<Option<StateChange>, Error> {
        self.transition(fingerprint, CertState::Active)
    }

    /// Revokes a certificate for good. `None` if it was revoked already; an error if it is not
    /// registered (register it first: a revoked entry must stay in the registry so that
    /// accepting unregistered certificates cannot let it back in).
    pub fn revoke(&mut self, fingerprint: &Fingerprint) -> Result<Option<StateChange>, Error> {
        self.transition(fingerprint, CertState::Revoked)
    }

    /// Carries over from the registry in force what a reload from the file must not undo:
    /// revocations, which are final, and first uses (inactive -> active) the host may not have
    /// persisted yet. A certificate revoked in memory stays revoked even when the file no longer
    /// lists it (an unregistered certificate could otherwise be accepted again). Suspensions and
    /// reactivations follow the file: an operator's edit there is the newer word. Returns the
    /// changes carried over, for the host to persist.
    pub fn carry_over(&mut self, previous: &Registry) -> Vec<StateChange> {
        let mut carried = Vec::new();
        for (fingerprint, old) in &previous.entries {
            let now = self.entries.get(fingerprint).map(|e| e.state);
            let to = match (old.state, now) {
                (CertState::Revoked, Some(CertState::Revoked)) => continue,
                (CertState::Revoked, _) => CertState::Revoked,
                (CertState::Active, Some(CertState::Inactive)) => CertState::Active,
                _ => continue,
            };
            let entry = self
                .entries
                .entry(*fingerprint)
                .or_insert_with(|| RegistryEntry {
                    state: to,
                    name: old.name.clone(),
                });
            entry.state = to;
            carried.push(StateChange {
                fingerprint: *fingerprint,
                from: now,
                to,
            });
        }
        carried
    }

    /// Applies a change reported elsewhere (the first-use change of an authentication), only if
    /// the certificate is still in the change's `from` state: a change raced by an operator's
    /// suspension or revocation is refused with an error rather than undoing it. Applying a
    /// change that is already in effect does nothing.
    pub fn apply(&mut self, change: &StateChange) -> Result<(), Error> {
        let current = self.state(&change.fingerprint);
        if current == Some(change.to) {
            return Ok(());
        }
        if current != change.from {
            let now = current.map_or("not registered", CertState::as_str);
            return Err(transition_error(
                &change.fingerprint,
                format!(
                    "is {now}, not {}",
                    change.from.map_or("unregistered", CertState::as_str)
                ),
            ));
        }
        if change.from.is_none() {
            self.register(change.fingerprint, None)?;
        }
        self.transition(&change.fingerprint, change.to).map(|_| ())
    }

    fn transition(
        &mut self,
        fingerprint: &Fingerprint,
        to: CertState,
    ) -> Result<Option<StateChange>, Error> {
        let Some(entry) = self.entries.get_mut(fingerprint) else {
            return Err(transition_error(
                fingerprint,
                "is not registered".to_owned(),
            ));
        };
        let from = entry.state;
        if from == to {
            return Ok(None);
        }
        if from == CertState::Revoked {
            return Err(transition_error(
                fingerprint,
                format!("is revoked; a revoked certificate cannot become {to}"),
            ));
        }
        entry.state = to;
        Ok(Some(StateChange {
            fingerprint: *fingerprint,
            from: Some(from),
            to,
        }))
    }
}

fn transition_error(fingerprint: &Fingerprint, what: String) -> Error {
    Error::single(
        Location::Document,
        format!("certificate `{fingerprint}` {what}"),
    )
}

/// A serde_json message without its trailing position (the location carries the line).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_keeps_revocations_and_first_uses_but_follows_the_file_otherwise() {
        let fp = |b: u8| Fingerprint::of(&[b]);
        let mut old = Registry::new();
        for b in 1..=5 {
            old.register(fp(b), None).unwrap();
        }
        old.revoke(&fp(1)).unwrap();
        old.reactivate(&fp(2)).unwrap(); // first use
        old.suspend(&fp(3)).unwrap();
        old.revoke(&fp(5)).unwrap();
        // The file: written before those changes, and without certificate 5 at all.
        let mut file = Registry::new();
        for b in 1..=4 {
            file.register(fp(b), None).unwrap();
        }
        file.reactivate(&fp(4)).unwrap();
        let carried = file.carry_over(&old);
        assert_eq!(file.state(&fp(1)), Some(CertState::Revoked));
        assert_eq!(file.state(&fp(2)), Some(CertState::Active));
        assert_eq!(
            file.state(&fp(3)),
            Some(CertState::Inactive),
            "the file's word"
        );
        assert_eq!(file.state(&fp(4)), Some(CertState::Active));
        assert_eq!(file.state(&fp(5)), Some(CertState::Revoked));
        assert_eq!(carried.len(), 3);
        assert!(
            file.carry_over(&old).is_empty(),
            "nothing more the second time"
        );
    }

    fn fp(byte: u8) -> Fingerprint {
        Fingerprint::from_bytes([byte; 32])
    }

    #[test]
    fn lifecycle() {
        let mut registry = Registry::new();
        let change = registry.register(fp(1), Some("s1".into())).unwrap();
        assert_eq!(change.from, None);
        assert_eq!(registry.state(&fp(1)), Some(CertState::Inactive));
        assert!(registry.register(fp(1), None).is_err());

        let first_use = StateChange {
            fingerprint: fp(1),
            from: Some(CertState::Inactive),
            to: CertState::Active,
        };
        registry.apply(&first_use).unwrap();
        registry.apply(&first_use).unwrap();
        assert_eq!(registry.state(&fp(1)), Some(CertState::Active));

        let suspended = registry.suspend(&fp(1)).unwrap().unwrap();
        assert_eq!(suspended.from, Some(CertState::Active));
        assert_eq!(registry.suspend(&fp(1)).unwrap(), None);
        registry.reactivate(&fp(1)).unwrap().unwrap();
        assert_eq!(registry.state(&fp(1)), Some(CertState::Active));

        registry.revoke(&fp(1)).unwrap().unwrap();
        assert_eq!(registry.revoke(&fp(1)).unwrap(), None);
        assert!(registry.reactivate(&fp(1)).is_err());
        assert!(registry.suspend(&fp(1)).is_err());
        assert!(registry.apply(&first_use).is_err());
        assert_eq!(registry.state(&fp(1)), Some(CertState::Revoked));
        assert!(registry.suspend(&fp(2)).is_err());
        assert_eq!(registry.entry(&fp(1)).unwrap().name(), Some("s1"));
    }

    #[test]
    fn raced_first_use_does_not_undo_a_suspension() {
        let mut registry = Registry::new();
        registry.register(fp(3), None).unwrap();
        let first_use = StateChange {
            fingerprint: fp(3),
            from: Some(CertState::Inactive),
            to: CertState::Active,
        };
        registry.suspend(&fp(3)).unwrap();
        let err = registry.apply(&first_use).unwrap_err();
        assert!(
            err.to_string().contains("is suspended, not inactive"),
            "{err}"
        );
        assert_eq!(registry.state(&fp(3)), Some(CertState::Suspended));
    }
}
