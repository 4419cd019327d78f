//! Certificates: checking one alone, the operator's suspend / reactivate / revoke, and the
//! registry file's contents to persist.

use std::ffi::c_char;

use mqward_core::authn::x509::Fingerprint;
use mqward_core::{CertAction, Error};

use crate::engine::{engine_ref, mqward_engine};
use crate::result::{mqward_result, Result};
use crate::strings::{self, write_exact, TextOut};
use crate::{boundary, host};

/// What an operator does to a registered certificate. Passed as a `uint32_t`: any other value
/// is `MQWARD_RESULT_INVALID_ARGUMENT`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_cert_action {
    /// Refuse it until reactivated; its sessions end at once.
    Suspend = 1,
    /// Accept it again after a suspension.
    Reactivate = 2,
    /// Refuse it for good; its sessions end at once.
    Revoke = 3,
}

fn action(value: u32) -> Result<CertAction> {
    const SUSPEND: u32 = mqward_cert_action::Suspend as u32;
    const REACTIVATE: u32 = mqward_cert_action::Reactivate as u32;
    const REVOKE: u32 = mqward_cert_action::Revoke as u32;
    Ok(match value {
        SUSPEND => CertAction::Suspend,
        REACTIVATE => CertAction::Reactivate,
        REVOKE => CertAction::Revoke,
        _ => return Err(mqward_result::InvalidArgument),
    })
}

/// Checks a client certificate chain (PEM or DER, leaf first) now, as authentication would:
/// chain to a trust anchor, validity, revocation lists and operator state; the registry is not
/// changed. `MQWARD_RESULT_OK` if it would be accepted, else why not (the Greengrass "verify
/// client device identity" call).
///
/// Thread safety: any thread.
///
/// Pointers: `engine` is NULL or a live engine; `certificate` is NULL or `certificate_len` readable
/// bytes.
#[no_mangle]
pub extern "C" fn mqward_engine_verify_certificate(
    engine: *const mqward_engine,
    certificate: *const u8,
    certificate_len: usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine and the certificate's bytes.
        let (engine, certificate) = unsafe {
            (
                engine_ref(engine)?,
                strings::bytes(certificate, certificate_len)?,
            )
        };
        Ok(engine
            .engine
            .verify_certificate(certificate, host::now()?)?)
    })
}

/// Suspends, reactivates or revokes a registered certificate, named by its SHA-256
/// fingerprint (NUL-terminated: 64 hex digits, either case, colons between pairs allowed, as
/// `openssl x509 -fingerprint -sha256` prints). Suspension and revocation end its sessions at
/// once (`MQWARD_EVENT_KIND_DISCONNECT` events); every change is a
/// `MQWARD_EVENT_KIND_STATE_CHANGED` event to persist. A change already in effect is
/// `MQWARD_RESULT_OK` without an event. `MQWARD_RESULT_CERTIFICATE_STATE` if the certificate is
/// not registered or revoked (revocation is final).
///
/// Thread safety: any thread; the event callback may run on this thread.
///
/// Pointers: `engine` is NULL or a live engine; `fingerprint` is NULL or NUL-terminated.
#[no_mangle]
pub extern "C" fn mqward_engine_set_certificate_state(
    engine: *const mqward_engine,
    fingerprint: *const c_char,
    action: u32,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine and NULL or a NUL-terminated
        // string.
        let (engine, fingerprint) = unsafe { (engine_ref(engine)?, strings::c_str(fingerprint)?) };
        let fingerprint = Fingerprint::parse(fingerprint).ok_or(mqward_result::InvalidArgument)?;
        let action = self::action(action)?;
        let result = engine.engine.set_certificate_state(&fingerprint, action);
        engine.events.pump(&engine.engine);
        match result {
            Ok(_) => Ok(()),
            // The registry refuses a transition with a problem naming the certificate.
            Err(Error::Invalid(_)) => Err(mqward_result::CertificateState),
            Err(e) => Err(e.into()),
        }
    })
}

/// Writes the certificate registry as its file's JSON (what the configuration's
/// `certificates.registry` names) into `buf`, NUL-terminated: write it to that file (atomically:
/// a temporary file, then rename) after `MQWARD_EVENT_KIND_STATE_CHANGED` events. If it does
/// not fit, nothing is written, `*out_len` receives the length needed and the result is
/// `MQWARD_RESULT_INSUFFICIENT_SIZE`.
///
/// Thread safety: any thread.
///
/// Pointers: `engine` is NULL or a live engine; `buf` is NULL (with `len` 0) or `len` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_registry_json(
    engine: *const mqward_engine,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine and the buffers.
        let (engine, out) = unsafe { (engine_ref(engine)?, TextOut::new(buf, len, out_len)?) };
        let json = String::from_utf8(engine.engine.registry_json())
            .map_err(|_| mqward_result::Internal)?;
        write_exact(&json, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_checked() {
        assert_eq!(action(1), Ok(CertAction::Suspend));
        assert_eq!(action(3), Ok(CertAction::Revoke));
        assert_eq!(action(0), Err(mqward_result::InvalidArgument));
        assert_eq!(action(4), Err(mqward_result::InvalidArgument));
    }
}
