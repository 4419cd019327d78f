//! Sessions, the AWS Greengrass client device auth model: open one per connected client, then
//! decide every action by its token, until it is closed or the engine ends it (an event).

use std::ffi::c_char;

use mqward_core::engine::greengrass_request;
use mqward_core::SessionToken;

use crate::auth::{self, mqward_credentials};
use crate::engine::{engine_ref, mqward_engine};
use crate::request::{self, mqward_effect, mqward_request};
use crate::result::{mqward_result, Result};
use crate::strings::{self, write_exact, Out, TextOut};
use crate::{boundary, host};

/// A session's token: 128 random bits, a plain value the host keeps with its connection
/// (copy it freely). Knowing it is the right to act as the session's client: do not log it.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct mqward_session_token {
    /// The token's bytes.
    pub bytes: [u8; 16],
}

impl From<SessionToken> for mqward_session_token {
    fn from(t: SessionToken) -> mqward_session_token {
        mqward_session_token {
            bytes: *t.as_bytes(),
        }
    }
}

/// Reads a token argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a readable `mqward_session_token`.
unsafe fn token(ptr: *const mqward_session_token) -> Result<SessionToken> {
    // SAFETY: the caller guarantees NULL or a readable token (a byte array: any alignment).
    let t = unsafe { ptr.as_ref() }.ok_or(mqward_result::NullParameter)?;
    Ok(SessionToken::from_bytes(t.bytes))
}

/// Opens a session: authenticates the credentials now, then requires the `connect` permission
/// for the client id (which the credentials carry or the credential maps). `*token_out`
/// receives the new session's token.
///
/// Returns a `MQWARD_RESULT_*` code from 200 on when the credential is refused,
/// `MQWARD_RESULT_CONNECT_DENIED` without the permission, `MQWARD_RESULT_TOO_MANY_SESSIONS` when
/// the table is full.
///
/// Thread safety: any thread; the event callback may run on this thread.
///
/// Pointers: `engine` is NULL or a live engine; `credentials` is NULL or valid as documented on
/// `mqward_credentials`; `token_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_open(
    engine: *const mqward_engine,
    credentials: *const mqward_credentials,
    token_out: *mut mqward_session_token,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine, readable credentials and NULL or
        // a writable token.
        let (engine, creds, out) = unsafe {
            (
                engine_ref(engine)?,
                auth::credentials(credentials)?,
                Out::new(token_out)?,
            )
        };
        let result = engine
            .engine
            .open_session(&creds, host::now()?, host::random::<16>()?);
        engine.events.pump(&engine.engine);
        out.write(result?.into());
        Ok(())
    })
}

/// Decides a request for a session: `*effect_out` becomes `MQWARD_EFFECT_ALLOW` only when the
/// result is `MQWARD_RESULT_OK` and the current policy allows; every failure writes
/// `MQWARD_EFFECT_DENY` (when `effect_out` is not NULL). `MQWARD_RESULT_UNKNOWN_SESSION` when
/// the session was closed or has ended (its end is queued as an event). Allocation-free.
///
/// Thread safety: any thread, while other threads decide or reload; decisions for one session
/// take turns on its lock.
///
/// Pointers: `engine` is NULL or a live engine; `token` is NULL or readable; `request` is NULL or
/// valid as documented on `mqward_request`; `effect_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_authorize(
    engine: *const mqward_engine,
    token: *const mqward_session_token,
    request: *const mqward_request,
    effect_out: *mut mqward_effect,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a writable effect.
        let effect_out = unsafe { Out::new(effect_out) }?;
        request::decide(effect_out, || {
            // SAFETY: the caller guarantees a live engine, a readable token and a valid request.
            let (engine, token, request) = unsafe {
                (
                    engine_ref(engine)?,
                    self::token(token)?,
                    request::request(request)?,
                )
            };
            let effect = engine
                .engine
                .authorize_session(&token, &request, host::now()?)?;
            request::settle(effect, &request)
        })
    })
}

/// Decides a request given as Greengrass strings (NUL-terminated): `operation` is
/// `mqtt:connect`, `mqtt:publish`, `mqtt:subscribe`, `mqtt:receive` or `mqtt:unsubscribe`;
/// `resource` is `mqtt:clientId:<id>`, `mqtt:topic:<topic>` or `mqtt:topicfilter:<filter>` as
/// the operation needs. `MQWARD_RESULT_INVALID_ARGUMENT` for another form. Otherwise as
/// `mqward_session_authorize`.
///
/// Thread safety: any thread, while other threads decide or reload.
///
/// Pointers: `engine` is NULL or a live engine; `token` is NULL or readable; `operation` and
/// `resource` are NULL or NUL-terminated; `effect_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_authorize_greengrass(
    engine: *const mqward_engine,
    token: *const mqward_session_token,
    operation: *const c_char,
    resource: *const c_char,
    effect_out: *mut mqward_effect,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a writable effect.
        let effect_out = unsafe { Out::new(effect_out) }?;
        request::decide(effect_out, || {
            // SAFETY: the caller guarantees a live engine, a readable token and two
            // NUL-terminated strings.
            let (engine, token, operation, resource) = unsafe {
                (
                    engine_ref(engine)?,
                    self::token(token)?,
                    strings::c_str(operation)?,
                    strings::c_str(resource)?,
                )
            };
            let request = greengrass_request(operation, resource)
                .map_err(|_| mqward_result::InvalidArgument)?;
            Ok(engine
                .engine
                .authorize_session(&token, &request, host::now()?)?)
        })
    })
}

/// Explains the decision for a request and a session into `buf`: the effect, the deciding
/// statement, the groups and every matching statement, one per line. If the text and its NUL
/// do not fit, nothing is written, `*out_len` receives the length needed and the result is
/// `MQWARD_RESULT_INSUFFICIENT_SIZE`.
///
/// Thread safety: any thread.
///
/// Pointers: As for `mqward_session_authorize`; `buf` is NULL (with `len` 0) or `len` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_explain(
    engine: *const mqward_engine,
    token: *const mqward_session_token,
    request: *const mqward_request,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees a live engine, a readable token, a valid request and
        // the buffers.
        let (engine, token, request, out) = unsafe {
            (
                engine_ref(engine)?,
                self::token(token)?,
                request::request(request)?,
                TextOut::new(buf, len, out_len)?,
            )
        };
        request::require_utf8(&request)?;
        let explanation = engine
            .engine
            .explain_session(&token, &request, host::now()?)?;
        write_exact(&explanation.to_string(), out)
    })
}

/// Closes a session (the client disconnected). `MQWARD_RESULT_UNKNOWN_SESSION` if there was
/// none: closed already, or ended by the engine.
///
/// Thread safety: any thread.
///
/// Pointers: `engine` is NULL or a live engine; `token` is NULL or readable.
#[no_mangle]
pub extern "C" fn mqward_session_close(
    engine: *const mqward_engine,
    token: *const mqward_session_token,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine and NULL or a readable token.
        let (engine, token) = unsafe { (engine_ref(engine)?, self::token(token)?) };
        if engine.engine.close_session(&token) {
            Ok(())
        } else {
            Err(mqward_result::UnknownSession)
        }
    })
}

/// Writes a token as 32 lowercase hex digits and a NUL (the Greengrass form) into `buf`, which
/// needs 33 bytes.
///
/// Thread safety: any thread.
///
/// Pointers: `token` is NULL or readable; `buf` is NULL (with `len` 0) or `len` writable bytes;
/// `out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_token_to_hex(
    token: *const mqward_session_token,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a readable token and the buffers.
        let (token, out) = unsafe { (self::token(token)?, TextOut::new(buf, len, out_len)?) };
        write_exact(&token.to_string(), out)
    })
}

/// Reads a token from 32 hex digits (NUL-terminated, either case) into `*token_out`;
/// `MQWARD_RESULT_INVALID_ARGUMENT` for anything else.
///
/// Thread safety: any thread.
///
/// Pointers: `hex` is NULL or NUL-terminated; `token_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_session_token_from_hex(
    hex: *const c_char,
    token_out: *mut mqward_session_token,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string and NULL or a writable
        // token.
        let (hex, out) = unsafe { (strings::c_str(hex)?, Out::new(token_out)?) };
        let token = SessionToken::parse(hex).ok_or(mqward_result::InvalidArgument)?;
        out.write(token.into());
        Ok(())
    })
}
