//! The one result enum of the C ABI, the mapping from the engine's errors, and
//! `mqward_result_message`.

use std::ffi::c_char;

use mqward_core::{Error, Rejection};

use crate::strings::{write_message, TextOut};

/// The result of every fallible function. Numbers are stable: a code is never renumbered or
/// reused, new codes are only added.
///
/// - 0: success.
/// - 1-99: the call itself was wrong or could not be carried out (arguments, handles, buffers,
///   the operating system).
/// - 100-199: a configuration, policy or credential file is invalid; nothing was loaded.
/// - 200-299: a credential or session was refused.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mqward_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument is out of range: an unknown operation or action, a QoS or retain value
    /// outside the documented values, a length too large for memory, a malformed hex string.
    InvalidArgument = 3,
    /// The caller's buffer is too small; `*out_len` holds the length needed (without the NUL).
    InsufficientSize = 4,
    /// The handle is not a live handle of the expected type: freed already, of another type,
    /// or not made by this library (detected where possible; see the README).
    InvalidHandle = 5,
    /// An internal error in mqward (a bug); the call had no effect or failed closed.
    Panic = 6,
    /// A file could not be read; the report says which and why.
    Io = 7,
    /// The operating system's random number generator failed.
    Random = 8,
    /// The system clock is before 1970.
    Clock = 9,
    /// The value asked for is absent (an identity without that attribute, no PSK key for an
    /// identity, no client id on an event).
    NotFound = 10,
    /// An error the engine reports that this version of the C ABI does not know.
    Internal = 11,
    /// The certificate is not registered, or its state does not allow the change (revocation is
    /// final).
    CertificateState = 12,
    /// The configuration, the policy or a credential file is invalid; nothing changed. The
    /// report lists every problem with its file and place.
    InvalidConfiguration = 100,
    /// A credential was refused for a reason this version of the C ABI does not know.
    Rejected = 200,
    /// The credential could not be read (bad PEM, DER, base64, JSON or token layout).
    MalformedCredential = 201,
    /// The credential is larger than allowed.
    CredentialTooLarge = 202,
    /// No user, PSK identity, key id or registered certificate by that name.
    UnknownIdentity = 203,
    /// The password, key or token secret does not match.
    WrongSecret = 204,
    /// A signature (certificate chain, token) does not verify.
    BadSignature = 205,
    /// The certificate does not chain to a configured trust anchor.
    UnknownIssuer = 206,
    /// The certificate is not valid for client authentication.
    WrongUsage = 207,
    /// The signature or token algorithm is not the one allowed for the key.
    WrongAlgorithm = 208,
    /// The key is too weak.
    WeakKey = 209,
    /// The certificate, token or identity has expired.
    Expired = 210,
    /// The certificate or token is not valid yet.
    NotYetValid = 211,
    /// The certificate is on a revocation list or was revoked by the operator.
    Revoked = 212,
    /// The certificate is suspended by the operator.
    Suspended = 213,
    /// The token's issuer is not accepted.
    WrongIssuer = 214,
    /// The token's audience is not accepted.
    WrongAudience = 215,
    /// The token has a critical header this library does not understand.
    UnsupportedCritical = 216,
    /// A token claim needed for the identity is missing or not a string.
    MissingClaim = 217,
    /// The client id differs from the name the credential maps to.
    ClientIdMismatch = 218,
    /// This way of authenticating is switched off in the configuration.
    Disabled = 219,
    /// No live session with that token (closed, expired, revoked or never opened).
    UnknownSession = 220,
    /// The session table is full.
    TooManySessions = 221,
    /// The identity may not connect with that client id.
    ConnectDenied = 222,
    /// A certificate field the identity mapping needs is absent or not usable as a name.
    MissingField = 223,
    /// A revocation list is out of date, so the certificate's revocation status is unknown.
    StaleRevocationList = 224,
}

impl mqward_result {
    /// Every code, in numeric order. A new code goes here too (a test checks the order and
    /// that each number maps back).
    pub(crate) const ALL: [mqward_result; 39] = [
        Self::Ok,
        Self::NullParameter,
        Self::InvalidUtf8,
        Self::InvalidArgument,
        Self::InsufficientSize,
        Self::InvalidHandle,
        Self::Panic,
        Self::Io,
        Self::Random,
        Self::Clock,
        Self::NotFound,
        Self::Internal,
        Self::CertificateState,
        Self::InvalidConfiguration,
        Self::Rejected,
        Self::MalformedCredential,
        Self::CredentialTooLarge,
        Self::UnknownIdentity,
        Self::WrongSecret,
        Self::BadSignature,
        Self::UnknownIssuer,
        Self::WrongUsage,
        Self::WrongAlgorithm,
        Self::WeakKey,
        Self::Expired,
        Self::NotYetValid,
        Self::Revoked,
        Self::Suspended,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::UnsupportedCritical,
        Self::MissingClaim,
        Self::ClientIdMismatch,
        Self::Disabled,
        Self::UnknownSession,
        Self::TooManySessions,
        Self::ConnectDenied,
        Self::MissingField,
        Self::StaleRevocationList,
    ];

    /// The code for a number, if it is one.
    pub fn from_u32(code: u32) -> Option<mqward_result> {
        mqward_result::ALL.into_iter().find(|r| *r as u32 == code)
    }

    /// What the code means, lowercase, for logs.
    pub fn message(self) -> &'static str {
        match self {
            Self::Ok => "success",
            Self::NullParameter => "a required pointer argument was NULL",
            Self::InvalidUtf8 => "a string argument is not valid UTF-8",
            Self::InvalidArgument => "an argument is out of range",
            Self::InsufficientSize => "the buffer is too small",
            Self::InvalidHandle => "not a live handle of the expected type (freed already?)",
            Self::Panic => "internal error in mqward; the request failed closed",
            Self::Io => "a file could not be read",
            Self::Random => "the system random number generator failed",
            Self::Clock => "the system clock is before 1970",
            Self::NotFound => "no such value",
            Self::Internal => "an engine error this version of the C ABI does not know",
            Self::CertificateState => {
                "the certificate is not registered, or its state does not allow the change"
            }
            Self::InvalidConfiguration => "invalid configuration, policy or credential file",
            Self::Rejected => "credential refused",
            Self::MalformedCredential => "malformed credential",
            Self::CredentialTooLarge => "credential larger than allowed",
            Self::UnknownIdentity => "unknown identity",
            Self::WrongSecret => "wrong secret",
            Self::BadSignature => "signature does not verify",
            Self::UnknownIssuer => "certificate issuer not trusted",
            Self::WrongUsage => "certificate not valid for client authentication",
            Self::WrongAlgorithm => "algorithm not allowed for this key",
            Self::WeakKey => "key too weak",
            Self::Expired => "expired",
            Self::NotYetValid => "not valid yet",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::WrongIssuer => "token issuer not accepted",
            Self::WrongAudience => "token audience not accepted",
            Self::UnsupportedCritical => "token has an unsupported critical header",
            Self::MissingClaim => "token claim missing or not a string",
            Self::ClientIdMismatch => "client id differs from the name the credential maps to",
            Self::Disabled => "this authentication method is disabled",
            Self::UnknownSession => "unknown or expired session",
            Self::TooManySessions => "session table full",
            Self::ConnectDenied => "connect not allowed for this client id",
            Self::MissingField => "certificate field missing or not usable as a name",
            Self::StaleRevocationList => "revocation list out of date",
        }
    }
}

impl From<&Rejection> for mqward_result {
    fn from(r: &Rejection) -> mqward_result {
        match r {
            Rejection::Malformed(_) => Self::MalformedCredential,
            Rejection::TooLarge => Self::CredentialTooLarge,
            Rejection::UnknownIdentity => Self::UnknownIdentity,
            Rejection::WrongSecret => Self::WrongSecret,
            Rejection::BadSignature => Self::BadSignature,
            Rejection::UnknownIssuer => Self::UnknownIssuer,
            Rejection::WrongUsage => Self::WrongUsage,
            Rejection::WrongAlgorithm => Self::WrongAlgorithm,
            Rejection::WeakKey => Self::WeakKey,
            Rejection::Expired => Self::Expired,
            Rejection::NotYetValid => Self::NotYetValid,
            Rejection::Revoked => Self::Revoked,
            Rejection::Suspended => Self::Suspended,
            Rejection::WrongIssuer => Self::WrongIssuer,
            Rejection::WrongAudience => Self::WrongAudience,
            Rejection::UnsupportedCritical => Self::UnsupportedCritical,
            Rejection::MissingClaim(_) => Self::MissingClaim,
            Rejection::ClientIdMismatch => Self::ClientIdMismatch,
            Rejection::Disabled => Self::Disabled,
            Rejection::UnknownSession => Self::UnknownSession,
            Rejection::TooManySessions => Self::TooManySessions,
            Rejection::ConnectDenied => Self::ConnectDenied,
            Rejection::MissingField(_) => Self::MissingField,
            Rejection::StaleRevocationList => Self::StaleRevocationList,
            _ => Self::Rejected,
        }
    }
}

impl From<&Error> for mqward_result {
    fn from(e: &Error) -> mqward_result {
        match e {
            Error::Invalid(_) => Self::InvalidConfiguration,
            Error::Rejected(r) => r.into(),
            _ => Self::Internal,
        }
    }
}

impl From<Error> for mqward_result {
    fn from(e: Error) -> mqward_result {
        (&e).into()
    }
}

/// What the crate's functions return inside the panic boundary.
pub(crate) type Result<T> = std::result::Result<T, mqward_result>;

/// Writes the message for a result code into `buf`: at most `len - 1` bytes, cut at a character
/// boundary, and a terminating NUL. An unknown code gets a message saying so.
///
/// Returns `MQWARD_RESULT_OK` when the whole message fit, `MQWARD_RESULT_INSUFFICIENT_SIZE` when
/// it was cut (the cut text is still written: messages are for logs).
///
/// `*out_len` (if `out_len` is not NULL) receives the message's full length without the NUL.
///
/// Thread safety: any thread, any time.
///
/// Pointers: `buf` is NULL (then `len` must be 0) or points to `len` writable bytes; `out_len` is
/// NULL or points to a writable `size_t`.
#[no_mangle]
pub extern "C" fn mqward_result_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    crate::boundary(|| {
        let text =
            mqward_result::from_u32(result).map_or("unknown result code", mqward_result::message);
        // SAFETY: the caller passes a buffer of `len` bytes (or NULL) and NULL or a writable
        // `size_t`, as documented above.
        let out = unsafe { TextOut::new(buf, len, out_len) }?;
        write_message(text, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        // Numbers are part of the ABI: this list may only grow.
        let expected: [(mqward_result, u32); 6] = [
            (mqward_result::Ok, 0),
            (mqward_result::InvalidHandle, 5),
            (mqward_result::CertificateState, 12),
            (mqward_result::InvalidConfiguration, 100),
            (mqward_result::Rejected, 200),
            (mqward_result::StaleRevocationList, 224),
        ];
        for (code, number) in expected {
            assert_eq!(code as u32, number);
        }
        let mut last = None;
        for code in mqward_result::ALL {
            assert_eq!(mqward_result::from_u32(code as u32), Some(code));
            assert!(last < Some(code as u32), "ALL is in numeric order");
            last = Some(code as u32);
            let m = code.message();
            assert!(!m.is_empty() && m.chars().next().is_some_and(char::is_lowercase));
        }
        assert_eq!(mqward_result::from_u32(99), None);
    }

    #[test]
    fn rejections_map_to_their_codes() {
        let e = Error::from(Rejection::WrongSecret);
        assert_eq!(mqward_result::from(&e), mqward_result::WrongSecret);
        let e = Error::from(Rejection::Malformed("x".into()));
        assert_eq!(mqward_result::from(e), mqward_result::MalformedCredential);
        let e = Error::from_problems(vec![]);
        assert_eq!(mqward_result::from(e), mqward_result::InvalidConfiguration);
    }
}
