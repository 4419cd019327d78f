//! `mqward cert`: list the certificate registry and change one certificate's state at a time.
//!
//! A certificate is named by its SHA-256 fingerprint or by a file holding it. Each change reads
//! the registry, applies the change with `mqward-core`'s rules (revoked is final) and, only if
//! something changed, replaces the file atomically.

use std::ffi::OsStr;
use std::path::Path;

use mqward_core::authn::registry::{CertState, Registry, StateChange};
use mqward_core::authn::x509::Fingerprint;

use crate::args::{CertChangeArgs, CertCommand, CertListArgs, CertRegisterArgs};
use crate::error::Error;
use crate::files::{self, invalid};
use crate::report;

/// Runs one `cert` command.
pub fn run(command: &CertCommand) -> Result<u8, Error> {
    match command {
        CertCommand::List(args) => list(args),
        CertCommand::Register(args) => register(args),
        CertCommand::Suspend(args) => change(args, Registry::suspend),
        CertCommand::Reactivate(args) => change(args, Registry::reactivate),
        CertCommand::Revoke(args) => change(args, Registry::revoke),
    }
}

/// A change of an existing entry: `None` when the certificate was in the wanted state already.
type Transition =
    fn(&mut Registry, &Fingerprint) -> Result<Option<StateChange>, mqward_core::Error>;

fn list(args: &CertListArgs) -> Result<u8, Error> {
    let registry = load(&args.registry)?;
    let text = if args.json {
        let entries: Vec<serde_json::Value> = registry
            .iter()
            .map(|(fingerprint, entry)| {
                serde_json::json!({
                    "fingerprint": fingerprint.to_string(),
                    "state": entry.state().as_str(),
                    "name": entry.name(),
                })
            })
            .collect();
        format!("{:#}\n", serde_json::Value::Array(entries))
    } else {
        let rows: Vec<Vec<String>> = registry
            .iter()
            .map(|(fingerprint, entry)| {
                vec![
                    fingerprint.to_string(),
                    entry.state().as_str().to_owned(),
                    entry
                        .name()
                        .map(report::printable)
                        .unwrap_or_default()
                        .into_owned(),
                ]
            })
            .collect();
        report::table(&["FINGERPRINT", "STATE", "NAME"], &rows)
    };
    report::out(&text)?;
    Ok(crate::EXIT_OK)
}

fn register(args: &CertRegisterArgs) -> Result<u8, Error> {
    let fingerprint = fingerprint(&args.cert)?;
    let _lock = files::lock(&args.registry)?;
    let mut registry = match files::read_if_exists(&args.registry)? {
        Some(bytes) => parse(&args.registry, &bytes)?,
        None => Registry::new(),
    };
    let change = registry
        .register(fingerprint, args.name.clone())
        .map_err(|e| Error::refused(&e))?;
    files::save(&args.registry, &registry.to_json())?;
    report::out(&changed(&change))?;
    Ok(crate::EXIT_OK)
}

fn change(args: &CertChangeArgs, transition: Transition) -> Result<u8, Error> {
    let fingerprint = fingerprint(&args.cert)?;
    let _lock = files::lock(&args.registry)?;
    let mut registry = load(&args.registry)?;
    match transition(&mut registry, &fingerprint).map_err(|e| Error::refused(&e))? {
        Some(change) => {
            files::save(&args.registry, &registry.to_json())?;
            report::out(&changed(&change))?;
        }
        None => {
            let state = registry.state(&fingerprint).map_or("", CertState::as_str);
            report::out(&format!(
                "{fingerprint} is already {state}; nothing changed\n"
            ))?;
        }
    }
    Ok(crate::EXIT_OK)
}

/// `<fingerprint> <before> -> <after>`, a line.
fn changed(change: &StateChange) -> String {
    let from = change.from.map_or("unregistered", CertState::as_str);
    format!("{} {from} -> {}\n", change.fingerprint, change.to)
}

/// The registry in a file that must exist.
fn load(path: &Path) -> Result<Registry, Error> {
    parse(path, &files::read(path)?)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Registry, Error> {
    Registry::parse(&path.display().to_string(), bytes).map_err(|e| invalid(path, &e))
}

/// The fingerprint an argument names: the argument itself when it is 64 hex digits (with or
/// without colons), else that of the certificate in the file of that name.
fn fingerprint(argument: &OsStr) -> Result<Fingerprint, Error> {
    if let Some(fingerprint) = argument.to_str().and_then(Fingerprint::parse) {
        return Ok(fingerprint);
    }
    let path = Path::new(argument);
    let bytes = std::fs::read(path).map_err(|source| Error::CertArgument {
        argument: path.to_owned(),
        source,
    })?;
    let (fingerprint, count) = files::certificate_fingerprint(path, &bytes)?;
    if count > 1 {
        report::note(&format!(
            "note: `{}` holds {count} certificates; using the first",
            path.display()
        ));
    }
    Ok(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines() {
        let fingerprint = Fingerprint::from_bytes([0xab; 32]);
        let change = StateChange {
            fingerprint,
            from: None,
            to: CertState::Inactive,
        };
        assert_eq!(
            changed(&change),
            format!("{} unregistered -> inactive\n", "ab".repeat(32))
        );
        let change = StateChange {
            fingerprint,
            from: Some(CertState::Active),
            to: CertState::Suspended,
        };
        assert_eq!(
            changed(&change),
            format!("{} active -> suspended\n", "ab".repeat(32))
        );
    }
}
