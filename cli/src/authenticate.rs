//! `mqward authenticate`: run a client's credentials through the engine's authenticator, as at
//! CONNECT, and show the identity it makes.

use std::io::Read;
use std::path::Path;

use mqward_core::{Credentials, Error as CoreError, Identity};

use crate::args::AuthenticateArgs;
use crate::error::Error;
use crate::files;
use crate::report;
use crate::time;

/// Authenticates; returns 0 with the identity printed, 1 when rejected.
pub fn run(args: &AuthenticateArgs) -> Result<u8, Error> {
    let password = match (&args.password, &args.password_file) {
        (Some(text), _) => Some(text.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_password(path)?),
        (None, None) => None,
    };
    let certificate = match &args.cert {
        Some(path) => {
            let bytes = files::read(path)?;
            // A file that holds no certificate is the operator's mistake, not a client's.
            files::certificate_fingerprint(path, &bytes)?;
            Some(bytes)
        }
        None => None,
    };
    let (engine, warnings) = files::load_engine(&args.config)?;
    for warning in &warnings {
        report::note(&format!("warning: {warning}"));
    }
    let credentials = Credentials {
        client_id: args.client_id.as_deref(),
        username: args.username.as_deref(),
        password: password.as_deref(),
        certificate: certificate.as_deref(),
        psk_identity: None,
    };
    let authenticated = match engine.authenticate(&credentials, time::now()?) {
        Ok(authenticated) => authenticated,
        Err(CoreError::Rejected(rejection)) => {
            report::out(&format!("rejected: {rejection}\n"))?;
            return Ok(crate::EXIT_DENY);
        }
        Err(e) => return Err(Error::refused(&e)),
    };
    report::out(&identity_lines(&authenticated.identity))?;
    if let Some(expires) = authenticated.expires_at {
        report::note(&format!("expires {}", time::utc(expires)));
    }
    if let Some(change) = &authenticated.first_use {
        let from = change.from.map_or("unregistered", |s| s.as_str());
        report::note(&format!(
            "note: first use of certificate {} ({from} -> {}): the broker records it; this \
             command writes nothing",
            change.fingerprint, change.to
        ));
    }
    if let Some(statements) = &authenticated.token_policy {
        report::note(&format!("note: the token carries statements: {statements}"));
    }
    Ok(crate::EXIT_OK)
}

/// `kind: <kind>`, then every attribute present as `name: value`, one a line: `clientId`,
/// `username`, `thingName`, the certificate fields, the claims. Values are [`report::printable`].
fn identity_lines(identity: &Identity) -> String {
    let mut lines = vec![("kind".to_owned(), identity.kind().as_str())];
    let named = [
        ("clientId", identity.client_id()),
        ("username", identity.username()),
        ("thingName", identity.thing_name()),
    ];
    lines.extend(
        named
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    lines.extend(
        identity
            .cert_fields()
            .map(|(field, value)| (format!("cert.{}", field.as_str()), value)),
    );
    lines.extend(
        identity
            .claims()
            .map(|(name, value)| (format!("claim.{name}"), value)),
    );
    lines
        .into_iter()
        .map(|(name, value)| format!("{name}: {}\n", report::printable(value)))
        .collect()
}

/// The password in a file (`-`: standard input), less one trailing newline. The bytes never
/// reach an error message.
fn read_password(path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
        bytes
    } else {
        files::read(path)?
    };
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::{CertField, IdentityKind};

    #[test]
    fn every_attribute_on_its_own_line() {
        let identity = Identity::new(IdentityKind::Certificate)
            .with_client_id("c1")
            .with_thing_name("sensor-1")
            .with_cert_field(CertField::SubjectCn, "sensor-1")
            .with_cert_field(CertField::Fingerprint, "ab")
            .with_claim("role", "ops\n");
        assert_eq!(
            identity_lines(&identity),
            "kind: certificate\nclientId: c1\nthingName: sensor-1\ncert.subject.cn: sensor-1\n\
             cert.fingerprint: ab\nclaim.role: ops\\n\n"
        );
        assert_eq!(
            identity_lines(&Identity::new(IdentityKind::Anonymous)),
            "kind: anonymous\n"
        );
    }
}
