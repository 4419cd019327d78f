//! `mqward verify-cert`: check a client certificate alone against an engine configuration, as
//! Greengrass's "verify client device identity" does.

use mqward_core::{Error as CoreError, Rejection};

use crate::args::VerifyCertArgs;
use crate::error::Error;
use crate::files;
use crate::report;
use crate::time;

/// Verifies the certificate; returns 0 when valid, 1 when rejected.
pub fn run(args: &VerifyCertArgs) -> Result<u8, Error> {
    let bytes = files::read(&args.cert)?;
    let (fingerprint, _) = files::certificate_fingerprint(&args.cert, &bytes)?;
    let (engine, warnings) = files::load_engine(&args.config)?;
    for warning in &warnings {
        report::note(&format!("warning: {warning}"));
    }
    let (first, code) = match engine.verify_certificate(&bytes, time::now()?) {
        Ok(()) => ("valid".to_owned(), crate::EXIT_OK),
        Err(CoreError::Rejected(Rejection::Disabled)) => {
            return Err(Error::Usage(format!(
                "`{}` configures no certificate authentication (`certificates`)",
                args.config.display()
            )))
        }
        Err(CoreError::Rejected(rejection)) => (format!("rejected: {rejection}"), crate::EXIT_DENY),
        Err(e) => return Err(Error::refused(&e)),
    };
    report::out(&format!("{first}\nfingerprint: {fingerprint}\n"))?;
    Ok(code)
}
