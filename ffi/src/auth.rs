//! Authentication: the credentials a client presents, the identity handle one authentication
//! returns, decisions for it, and the PSK key a TLS handshake asks for.

use std::ffi::c_char;
use std::sync::{Arc, Mutex, MutexGuard};

use mqward_core::{Attribute, Credentials, Principal};

use crate::engine::{engine_ref, mqward_engine, EngineHandle};
use crate::handle::{self, Handle, Magic, Opaque};
use crate::request::{self, mqward_effect, mqward_request};
use crate::result::{mqward_result, Result};
use crate::strings::{self, write_exact, Out, TextOut};
use crate::{boundary, host};

/// What a client presented at CONNECT. Every field is optional: a NULL pointer means absent
/// (its length is then ignored). Strings are length-given UTF-8 (no NUL needed); the password
/// and certificate are bytes. Start from `{0}` and set what the client sent. The form picks the
/// method:
///
/// 1. `certificate` (the TLS layer verified possession of its key): X.509, PEM or DER, leaf
///    first, with any intermediates after it;
/// 2. `psk_identity` (the TLS handshake proved the key): PSK;
/// 3. a `password` or `username` starting `IDENTITY-TOKEN//`: identity token;
/// 4. a `password` or `username` starting `SYSTEM//`: declared identity (when switched on);
/// 5. a `username` in the AWS custom-authorizer form, or a `password` that is a JWT: token;
/// 6. a `username` and `password`: password files;
/// 7. nothing: anonymous, when the configuration allows it.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mqward_credentials {
    /// The MQTT client id.
    pub client_id: *const c_char,
    /// Its length in bytes.
    pub client_id_len: usize,
    /// The MQTT username.
    pub username: *const c_char,
    /// Its length in bytes.
    pub username_len: usize,
    /// The MQTT password (binary in MQTT 5).
    pub password: *const u8,
    /// Its length in bytes.
    pub password_len: usize,
    /// The client certificate chain, PEM or DER, leaf first.
    pub certificate: *const u8,
    /// Its length in bytes.
    pub certificate_len: usize,
    /// The TLS-PSK identity the handshake used.
    pub psk_identity: *const c_char,
    /// Its length in bytes.
    pub psk_identity_len: usize,
}

impl Default for mqward_credentials {
    /// No credential at all (every pointer NULL), as `{0}` in C.
    fn default() -> mqward_credentials {
        mqward_credentials {
            client_id: std::ptr::null(),
            client_id_len: 0,
            username: std::ptr::null(),
            username_len: 0,
            password: std::ptr::null(),
            password_len: 0,
            certificate: std::ptr::null(),
            certificate_len: 0,
            psk_identity: std::ptr::null(),
            psk_identity_len: 0,
        }
    }
}

/// Reads credentials.
///
/// # Safety
///
/// `ptr` is NULL or points to a `mqward_credentials` whose non-NULL fields point to their
/// lengths in readable bytes, all valid for `'a`.
pub(crate) unsafe fn credentials<'a>(ptr: *const mqward_credentials) -> Result<Credentials<'a>> {
    if ptr.is_null() {
        return Err(mqward_result::NullParameter);
    }
    if !ptr.is_aligned() {
        return Err(mqward_result::InvalidArgument);
    }
    // SAFETY: not NULL, aligned and readable by the caller's guarantee; read by value.
    let c = unsafe { ptr.read() };
    // SAFETY: the caller guarantees each non-NULL field points to its length in bytes.
    unsafe {
        Ok(Credentials {
            client_id: strings::optional_text(c.client_id, c.client_id_len)?,
            username: strings::optional_text(c.username, c.username_len)?,
            password: strings::optional_bytes(c.password, c.password_len)?,
            certificate: strings::optional_bytes(c.certificate, c.certificate_len)?,
            psk_identity: strings::optional_text(c.psk_identity, c.psk_identity_len)?,
        })
    }
}

/// One authenticated client: its identity bound to the engine's policy. Decisions for it follow
/// reloads by themselves. It lasts until freed, except that decisions fail with
/// `MQWARD_RESULT_EXPIRED` once its credential (token, certificate) expires; unlike a session it
/// is not ended by a certificate's suspension or revocation, nor by the trust duration: use
/// sessions where those must cut a client off.
///
/// Shared: calls on one identity may come from any threads (they take turns on its lock).
#[allow(non_camel_case_types)]
pub struct mqward_identity {
    _private: [u8; 0],
}

/// What an identity handle points to.
#[repr(C)]
pub(crate) struct IdentityHandle {
    magic: Magic,
    engine: Arc<EngineHandle>,
    principal: Mutex<Principal>,
    expires_at: Option<u64>,
}
handle::magic_first!(IdentityHandle);

impl Handle for IdentityHandle {
    const MAGIC: u64 = 0x6d71_7761_7264_4944; // "mqwardID"
    fn magic(&self) -> &Magic {
        &self.magic
    }
}

impl Opaque for mqward_identity {
    type Inner = IdentityHandle;
}

impl IdentityHandle {
    fn principal(&self) -> MutexGuard<'_, Principal> {
        // A principal is replaced whole by a rebind, so it is consistent after a panic.
        self.principal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The principal, current with the engine's policy; an error once the credential expired.
    fn current(&self) -> Result<MutexGuard<'_, Principal>> {
        if let Some(at) = self.expires_at {
            if host::now()? >= at {
                return Err(mqward_result::Expired);
            }
        }
        Ok(self.principal())
    }
}

/// Authenticates a client now: `*identity_out` receives its identity (free it with
/// `mqward_identity_free`). A registered certificate's first use is queued as a
/// `MQWARD_EVENT_KIND_STATE_CHANGED` event. No `connect` permission is checked: ask with
/// `mqward_identity_authorize` and `MQWARD_OPERATION_CONNECT` (or open a session, which does).
///
/// Returns a `MQWARD_RESULT_*` code from 200 on when the credential is refused.
///
/// Thread safety: any thread; the event callback may run on this thread.
///
/// Pointers: `engine` is NULL or a live engine; `credentials` is NULL or valid as documented on
/// `mqward_credentials`; `identity_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_authenticate(
    engine: *const mqward_engine,
    credentials: *const mqward_credentials,
    identity_out: *mut *mut mqward_identity,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine, readable credentials and NULL or
        // a writable pointer.
        let (shared, creds, out) = unsafe {
            (
                handle::clone_arc(engine)?,
                self::credentials(credentials)?,
                Out::new(identity_out)?,
            )
        };
        let result = shared.engine.authenticate(&creds, host::now()?);
        shared.events.pump(&shared.engine);
        let auth = result?;
        let principal = shared.engine.bind(auth.identity);
        out.write(handle::into_box_ptr(IdentityHandle {
            magic: Magic::new(IdentityHandle::MAGIC),
            engine: shared,
            principal: Mutex::new(principal),
            expires_at: auth.expires_at,
        }));
        Ok(())
    })
}

/// Decides a request for an identity: `*effect_out` becomes `MQWARD_EFFECT_ALLOW` only when
/// the result is `MQWARD_RESULT_OK` and the policy allows; every failure writes
/// `MQWARD_EFFECT_DENY` (when `effect_out` is not NULL).
///
/// Thread safety: any thread, while other threads decide or reload.
///
/// Pointers: `identity` is NULL or a live identity; `request` is NULL or valid as documented on
/// `mqward_request`; `effect_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_identity_authorize(
    identity: *const mqward_identity,
    request: *const mqward_request,
    effect_out: *mut mqward_effect,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a writable effect.
        let effect_out = unsafe { Out::new(effect_out) }?;
        request::decide(effect_out, || {
            // SAFETY: the caller guarantees NULL or a live identity and a valid request.
            let (identity, request) =
                unsafe { (handle::handle_ref(identity)?, request::request(request)?) };
            let mut principal = identity.current()?;
            let effect = identity
                .engine
                .engine
                .authorize(&mut principal, &request)
                .effect;
            request::settle(effect, &request)
        })
    })
}

/// Explains the decision for a request and an identity into `buf`: the effect, the deciding
/// statement, the identity's groups and every matching statement, one per line. If the text
/// and its NUL do not fit, nothing is written, `*out_len` receives the length needed and the
/// result is `MQWARD_RESULT_INSUFFICIENT_SIZE`.
///
/// Thread safety: any thread.
///
/// Pointers: `identity` is NULL or a live identity; `request` as for `mqward_identity_authorize`;
/// `buf` is NULL (with `len` 0) or `len` writable bytes; `out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_identity_explain(
    identity: *const mqward_identity,
    request: *const mqward_request,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees a live identity, a valid request and the buffers.
        let (identity, request, out) = unsafe {
            (
                handle::handle_ref(identity)?,
                request::request(request)?,
                TextOut::new(buf, len, out_len)?,
            )
        };
        request::require_utf8(&request)?;
        let mut principal = identity.current()?;
        // Deciding first rebinds the principal if the policy was reloaded.
        identity.engine.engine.authorize(&mut principal, &request);
        let text = principal.explain(&request).to_string();
        write_exact(&text, out)
    })
}

/// Writes an attribute of an identity into `buf`: `clientId`, `username`, `thingName`, `kind`
/// (`certificate`, `psk`, `jwt`, `password`, `token`, `declared`, `anonymous`), `cert.<field>`
/// (`cert.subject.cn`, `cert.fingerprint`, ...) or `claim.<name>`, as policy variables name
/// them. `MQWARD_RESULT_NOT_FOUND` when the identity has no such value,
/// `MQWARD_RESULT_INVALID_ARGUMENT` for an unknown name; buffer as for
/// `mqward_identity_explain`.
///
/// Thread safety: any thread.
///
/// Pointers: `identity` is NULL or a live identity; `name` is NULL or NUL-terminated; `buf` is NULL
/// (with `len` 0) or `len` writable bytes; `out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_identity_attribute(
    identity: *const mqward_identity,
    name: *const c_char,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees a live identity, a NUL-terminated name and the buffers.
        let (identity, name, out) = unsafe {
            (
                handle::handle_ref(identity)?,
                strings::c_str(name)?,
                TextOut::new(buf, len, out_len)?,
            )
        };
        let attribute = Attribute::parse(name).ok_or(mqward_result::InvalidArgument)?;
        let principal = identity.principal();
        let value = principal
            .identity()
            .attribute(&attribute)
            .ok_or(mqward_result::NotFound)?;
        write_exact(value, out)
    })
}

/// Frees an identity. NULL, and an identity freed already while its memory is still readable,
/// are ignored.
///
/// Thread safety: only once every other call on this identity has returned.
///
/// Pointers: `identity` is NULL or an identity not used after this call.
#[no_mangle]
pub extern "C" fn mqward_identity_free(identity: *mut mqward_identity) {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or an identity no other thread is using.
        unsafe { handle::free_box(identity) };
        Ok(())
    });
}

/// Writes the pre-shared key for a TLS-PSK identity into `buf` as lowercase hex (what
/// Mosquitto's and OpenSSL's PSK callbacks take), NUL-terminated. `MQWARD_RESULT_NOT_FOUND`
/// for an unknown identity. If the key and its NUL do not fit, nothing is written, `*out_len`
/// receives the length needed and the result is `MQWARD_RESULT_INSUFFICIENT_SIZE`. The key is a
/// secret: wipe the buffer after the handshake.
///
/// Thread safety: any thread.
///
/// Pointers: `engine` is NULL or a live engine; `psk_identity` is NULL or `psk_identity_len`
/// readable bytes; `buf` is NULL (with `len` 0) or `len` writable bytes; `out_len` is NULL or
/// writable.
#[no_mangle]
pub extern "C" fn mqward_engine_psk_key(
    engine: *const mqward_engine,
    psk_identity: *const c_char,
    psk_identity_len: usize,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees a live engine, the identity's bytes and the buffers.
        let (engine, identity, out) = unsafe {
            (
                engine_ref(engine)?,
                strings::text(psk_identity, psk_identity_len)?,
                TextOut::new(buf, len, out_len)?,
            )
        };
        let key = engine
            .engine
            .psk_key_hex(identity)
            .ok_or(mqward_result::NotFound)?;
        let mut key = key.into_bytes();
        // Hex digits are ASCII, so the bytes are the text.
        let written = std::str::from_utf8(&key)
            .map_err(|_| mqward_result::Internal)
            .and_then(|k| write_exact(k, out));
        strings::wipe(&mut key);
        written
    })
}
