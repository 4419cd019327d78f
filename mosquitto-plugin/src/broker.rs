//! Every raw pointer of the plugin: the exported entry points Mosquitto calls, the broker
//! functions resolved with `dlsym`, the callbacks and the event structs they read, and the
//! OpenSSL certificate conversion. The rest of the crate is safe Rust over [`Broker`] and
//! [`Client`].
//!
//! Rules kept here:
//! - no panic crosses into C: every callback runs inside `catch_unwind`, and a panic (an
//!   internal error) is a denial (ACL, authentication) and a log line;
//! - a pointer from the broker is read only during the callback that brought it;
//! - the instance (`userdata`) lives from `mosquitto_plugin_init` until
//!   `mosquitto_plugin_cleanup`, which unregisters every callback before freeing it;
//! - broker functions are looked up when the plugin starts, never linked, so that one built
//!   against 2.0 loads in 2.1 and uses 2.1's extras (`mosquitto_plugin_set_info`, the CONNECT
//!   event) only when they are there.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::clients::Key;
use crate::log::Level;
use crate::plugin::{Broker, Client, Plugin};
use crate::sys::*;

/// The broker functions the plugin calls, resolved at start.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    callback_register: FnCallbackRegister,
    callback_unregister: FnCallbackUnregister,
    log_printf: FnLogPrintf,
    client_id: FnClientText,
    client_username: FnClientText,
    client_certificate: FnClientCertificate,
    client_sub_count: FnClientInt,
    client_clean_session: FnClientBool,
    set_username: FnSetUsername,
    kick_client_by_clientid: FnKickByClientId,
    plugin_set_info: Option<FnPluginSetInfo>,
}

/// The address of a symbol in the process (the broker executable exports its plugin API), or
/// NULL.
fn symbol(name: &CStr) -> *mut c_void {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the global symbol scope and
    // returns NULL when nothing has that name.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

macro_rules! resolve {
    ($missing:ident, $name:literal, $ty:ty) => {{
        let address = symbol($name);
        if address.is_null() {
            $missing.push($name.to_string_lossy().into_owned());
            None
        } else {
            // SAFETY: the broker exports this symbol as a function with the C signature that
            // `$ty` spells (checked against the headers by `sys::tests`); a data pointer from
            // dlsym has the size and representation of a function pointer on the platforms
            // Mosquitto supports (POSIX requires it for dlsym).
            Some(unsafe { std::mem::transmute::<*mut c_void, $ty>(address) })
        }
    }};
}

impl Api {
    /// Resolves the broker functions; the error names the missing ones (the library was not
    /// loaded by a Mosquitto 2.0 or later broker).
    pub fn resolve() -> Result<Api, String> {
        let mut missing = Vec::new();
        let register = resolve!(missing, c"mosquitto_callback_register", FnCallbackRegister);
        let unregister = resolve!(
            missing,
            c"mosquitto_callback_unregister",
            FnCallbackUnregister
        );
        let log_printf = resolve!(missing, c"mosquitto_log_printf", FnLogPrintf);
        let client_id = resolve!(missing, c"mosquitto_client_id", FnClientText);
        let client_username = resolve!(missing, c"mosquitto_client_username", FnClientText);
        let client_certificate = resolve!(
            missing,
            c"mosquitto_client_certificate",
            FnClientCertificate
        );
        let client_sub_count = resolve!(missing, c"mosquitto_client_sub_count", FnClientInt);
        let client_clean_session =
            resolve!(missing, c"mosquitto_client_clean_session", FnClientBool);
        let set_username = resolve!(missing, c"mosquitto_set_username", FnSetUsername);
        let kick = resolve!(
            missing,
            c"mosquitto_kick_client_by_clientid",
            FnKickByClientId
        );
        let mut optional = Vec::new();
        let plugin_set_info = resolve!(optional, c"mosquitto_plugin_set_info", FnPluginSetInfo);
        match (
            (register, unregister, log_printf),
            (client_id, client_username, client_certificate),
            (client_sub_count, client_clean_session, set_username, kick),
        ) {
            (
                (Some(callback_register), Some(callback_unregister), Some(log_printf)),
                (Some(client_id), Some(client_username), Some(client_certificate)),
                (
                    Some(client_sub_count),
                    Some(client_clean_session),
                    Some(set_username),
                    Some(kick_client_by_clientid),
                ),
            ) => Ok(Api {
                callback_register,
                callback_unregister,
                log_printf,
                client_id,
                client_username,
                client_certificate,
                client_sub_count,
                client_clean_session,
                set_username,
                kick_client_by_clientid,
                plugin_set_info,
            }),
            _ => Err(format!(
                "the broker does not provide {} (Mosquitto 2.0 or later is needed)",
                missing.join(", ")
            )),
        }
    }
}

impl Broker for Api {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => MOSQ_LOG_DEBUG,
            Level::Info => MOSQ_LOG_INFO,
            Level::Notice => MOSQ_LOG_NOTICE,
            Level::Warning => MOSQ_LOG_WARNING,
            Level::Error => MOSQ_LOG_ERR,
        };
        let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: a printf-style call with the constant format "%s" and one NUL-terminated
        // string argument that lives across the call.
        unsafe { (self.log_printf)(level, c"%s".as_ptr(), text.as_ptr()) };
    }

    fn kick(&self, client_id: &str) {
        let Ok(id) = CString::new(client_id) else {
            return;
        };
        // SAFETY: a NUL-terminated client id that lives across the call; the broker looks it
        // up and disconnects that client (calling back into the plugin, which holds no lock
        // here).
        unsafe { (self.kick_client_by_clientid)(id.as_ptr(), false) };
    }
}

/// A client during one callback.
struct ClientRef<'a> {
    api: &'a Api,
    client: *mut mosquitto,
}

/// Borrows a C string the broker owns as bytes, or `None` for NULL.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string that stays valid and unchanged for
/// `'a`.
unsafe fn bytes<'a>(text: *const c_char) -> Option<&'a [u8]> {
    if text.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated, valid for 'a (the caller's promise).
        Some(unsafe { CStr::from_ptr(text) }.to_bytes())
    }
}

impl Client for ClientRef<'_> {
    fn key(&self) -> Key {
        self.client as Key
    }

    fn id(&self) -> Option<&str> {
        // SAFETY: `client` is the live client of the running callback; its id string stays
        // valid until the broker frees or replaces it, which it never does while a plugin
        // callback about this client runs (the plugin never kicks the client whose callback is
        // running).
        let id = unsafe { bytes((self.api.client_id)(self.client)) }?;
        std::str::from_utf8(id).ok()
    }

    fn username(&self) -> Option<String> {
        // SAFETY: as for `id`; the text is copied before anything can change it
        // (`set_username` frees the old one).
        let name = unsafe { bytes((self.api.client_username)(self.client)) }?;
        Some(String::from_utf8_lossy(name).into_owned())
    }

    fn certificate(&self) -> Result<Option<Vec<u8>>, String> {
        // SAFETY: `client` is live; the broker returns NULL or a new reference to the peer's
        // X509 that the caller must free.
        let x509 = unsafe { (self.api.client_certificate)(self.client) };
        if x509.is_null() {
            return Ok(None);
        }
        let x509 = X509(x509);
        // SAFETY: a valid X509; with a NULL output pointer i2d_X509 only returns the length.
        let len = unsafe { i2d_X509(x509.0, ptr::null_mut()) };
        let Ok(size) = usize::try_from(len) else {
            return Err("the client certificate cannot be encoded".to_owned());
        };
        if size == 0 {
            return Err("the client certificate cannot be encoded".to_owned());
        }
        let mut der = vec![0u8; size];
        let mut out = der.as_mut_ptr();
        // SAFETY: `der` has exactly the `len` bytes i2d_X509 said it writes; it advances `out`
        // past them.
        let written = unsafe { i2d_X509(x509.0, &mut out) };
        if written != len {
            return Err("the client certificate cannot be encoded".to_owned());
        }
        Ok(Some(der))
    }

    fn set_username(&self, name: &str) -> bool {
        let Ok(name) = CString::new(name) else {
            return false;
        };
        // SAFETY: `client` is live; the broker copies the NUL-terminated name.
        unsafe { (self.api.set_username)(self.client, name.as_ptr()) == MOSQ_ERR_SUCCESS }
    }

    fn subscriptions(&self) -> usize {
        // SAFETY: `client` is live (connected or a session the broker keeps).
        let n = unsafe { (self.api.client_sub_count)(self.client) };
        usize::try_from(n).unwrap_or(0)
    }

    fn clean_session(&self) -> bool {
        // SAFETY: `client` is live.
        unsafe { (self.api.client_clean_session)(self.client) }
    }
}

/// An OpenSSL certificate reference, freed on drop.
struct X509(*mut c_void);

impl Drop for X509 {
    fn drop(&mut self) {
        // SAFETY: the reference `mosquitto_client_certificate` handed over, freed once.
        unsafe { X509_free(self.0) };
    }
}

/// The plugin's `userdata`: one per `mosquitto_plugin_init`.
struct Instance {
    api: Api,
    identifier: *mut mosquitto_plugin_id_t,
    plugin: Option<Plugin>,
    registered: Vec<(c_int, MOSQ_FUNC_generic_callback)>,
}

/// Runs a callback body with the instance, turning a panic into `on_panic` and a log line.
///
/// # Safety
/// `userdata` is NULL or the pointer `mosquitto_plugin_init` stored, not yet cleaned up.
unsafe fn guarded(
    userdata: *mut c_void,
    on_panic: c_int,
    body: impl FnOnce(&Api, &Plugin) -> c_int,
) -> c_int {
    if userdata.is_null() {
        return on_panic;
    }
    // SAFETY: the caller's promise; callbacks only read the instance (the plugin's own state is
    // behind locks and atomics).
    let instance = unsafe { &*(userdata as *const Instance) };
    let Some(plugin) = &instance.plugin else {
        return on_panic;
    };
    let api = &instance.api;
    match catch_unwind(AssertUnwindSafe(|| body(api, plugin))) {
        Ok(rc) => rc,
        Err(_) => {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                api.log(
                    Level::Error,
                    "mqward: internal error in a callback; the request was refused",
                );
            }));
            on_panic
        }
    }
}

/// `MOSQ_EVT_BASIC_AUTH`.
unsafe extern "C" fn on_basic_auth(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the broker passes the registered userdata; `data` is its basic-auth event.
    unsafe {
        guarded(userdata, MOSQ_ERR_AUTH, |api, plugin| {
            let event = &*(data as *const mosquitto_evt_basic_auth);
            let client = ClientRef {
                api,
                client: event.client,
            };
            if plugin.basic_auth(api, &client, bytes(event.username), bytes(event.password)) {
                MOSQ_ERR_SUCCESS
            } else {
                MOSQ_ERR_AUTH
            }
        })
    }
}

/// `MOSQ_EVT_ACL_CHECK`.
unsafe extern "C" fn on_acl_check(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the broker passes the registered userdata; `data` is its ACL event, whose
    // topic is NUL-terminated and valid during the callback.
    unsafe {
        guarded(userdata, MOSQ_ERR_ACL_DENIED, |api, plugin| {
            let event = &*(data as *const mosquitto_evt_acl_check);
            let client = ClientRef {
                api,
                client: event.client,
            };
            let Some(topic) = bytes(event.topic) else {
                return MOSQ_ERR_ACL_DENIED;
            };
            if plugin.acl_check(api, &client, event.access, topic, event.qos, event.retain) {
                MOSQ_ERR_SUCCESS
            } else {
                MOSQ_ERR_ACL_DENIED
            }
        })
    }
}

/// `MOSQ_EVT_PSK_KEY`.
unsafe extern "C" fn on_psk_key(_event: c_int, data: *mut c_void, userdata: *mut c_void) -> c_int {
    // SAFETY: the broker passes the registered userdata; `data` is its PSK event, whose key
    // buffer takes `max_key_len` hex digits and a NUL.
    unsafe {
        guarded(userdata, MOSQ_ERR_AUTH, |api, plugin| {
            let event = &*(data as *const mosquitto_evt_psk_key);
            let client = ClientRef {
                api,
                client: event.client,
            };
            let (Some(identity), Ok(max)) =
                (bytes(event.identity), usize::try_from(event.max_key_len))
            else {
                return MOSQ_ERR_AUTH;
            };
            let Ok(identity) = std::str::from_utf8(identity) else {
                return MOSQ_ERR_AUTH;
            };
            if event.key.is_null() {
                return MOSQ_ERR_AUTH;
            }
            match plugin.psk_key(&client, identity, max) {
                Some(hex) => {
                    // `psk_key` returned fewer than `max` digits: they and the NUL fit.
                    ptr::copy_nonoverlapping(hex.as_ptr(), event.key.cast::<u8>(), hex.len());
                    *event.key.add(hex.len()) = 0;
                    MOSQ_ERR_SUCCESS
                }
                None => MOSQ_ERR_PLUGIN_DEFER,
            }
        })
    }
}

/// `MOSQ_EVT_DISCONNECT`.
unsafe extern "C" fn on_disconnect(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    // SAFETY: the broker passes the registered userdata; `data` is its disconnect event.
    unsafe {
        guarded(userdata, MOSQ_ERR_SUCCESS, |api, plugin| {
            let event = &*(data as *const mosquitto_evt_disconnect);
            plugin.disconnect(
                api,
                &ClientRef {
                    api,
                    client: event.client,
                },
            );
            MOSQ_ERR_SUCCESS
        })
    }
}

/// `MOSQ_EVT_CONNECT` (2.1).
unsafe extern "C" fn on_connect(_event: c_int, data: *mut c_void, userdata: *mut c_void) -> c_int {
    // SAFETY: the broker passes the registered userdata; `data` is its connect event.
    unsafe {
        guarded(userdata, MOSQ_ERR_SUCCESS, |api, plugin| {
            let event = &*(data as *const mosquitto_evt_connect);
            plugin.connected(
                api,
                &ClientRef {
                    api,
                    client: event.client,
                },
            );
            MOSQ_ERR_SUCCESS
        })
    }
}

/// `MOSQ_EVT_TICK`.
unsafe extern "C" fn on_tick(_event: c_int, _data: *mut c_void, userdata: *mut c_void) -> c_int {
    // SAFETY: the broker passes the registered userdata.
    unsafe {
        guarded(userdata, MOSQ_ERR_SUCCESS, |api, plugin| {
            plugin.tick(api);
            MOSQ_ERR_SUCCESS
        })
    }
}

/// `MOSQ_EVT_RELOAD`. Answers "defer" so that other plugins' reload callbacks run too (2.0
/// stops at the first callback that answers anything else).
unsafe extern "C" fn on_reload(_event: c_int, _data: *mut c_void, userdata: *mut c_void) -> c_int {
    // SAFETY: the broker passes the registered userdata.
    unsafe {
        guarded(userdata, MOSQ_ERR_PLUGIN_DEFER, |api, plugin| {
            plugin.reload(api);
            MOSQ_ERR_PLUGIN_DEFER
        })
    }
}

/// The options as (key, value) pairs.
///
/// # Safety
/// `options` points to `count` options whose strings are NUL-terminated (or NULL).
unsafe fn options(options: *const mosquitto_opt, count: c_int) -> Vec<(String, String)> {
    let count = usize::try_from(count).unwrap_or(0);
    if options.is_null() || count == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's promise.
    let list = unsafe { std::slice::from_raw_parts(options, count) };
    list.iter()
        .map(|o| {
            // SAFETY: NUL-terminated strings from the broker's configuration parser.
            let text = |p| unsafe { bytes(p) }.map(|b| String::from_utf8_lossy(b).into_owned());
            (
                text(o.key).unwrap_or_default(),
                text(o.value).unwrap_or_default(),
            )
        })
        .collect()
}

/// Mosquitto asks which plugin API versions the library speaks: 5.
///
/// # Safety
/// `versions` is NULL or points to `count` integers.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_version(count: c_int, versions: *const c_int) -> c_int {
    let count = usize::try_from(count).unwrap_or(0);
    if versions.is_null() || count == 0 {
        return -1;
    }
    // SAFETY: the caller's promise: `count` supported versions.
    let list = unsafe { std::slice::from_raw_parts(versions, count) };
    if list.contains(&MOSQ_PLUGIN_VERSION) {
        MOSQ_PLUGIN_VERSION
    } else {
        -1
    }
}

/// Starts a plugin instance: reads `plugin_opt_config` and every file it names, registers the
/// callbacks. Any problem is logged and refuses the start, so the broker does not start.
///
/// # Safety
/// Called by Mosquitto with its identifier, a place for the userdata, and its options.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_init(
    identifier: *mut mosquitto_plugin_id_t,
    userdata: *mut *mut c_void,
    opts: *mut mosquitto_opt,
    count: c_int,
) -> c_int {
    let started = catch_unwind(AssertUnwindSafe(|| {
        let api = match Api::resolve() {
            Ok(api) => api,
            Err(e) => {
                eprintln!("mqward: {e}");
                return MOSQ_ERR_UNKNOWN;
            }
        };
        if identifier.is_null() || userdata.is_null() {
            api.log(
                Level::Error,
                "mqward: the broker passed no plugin identifier",
            );
            return MOSQ_ERR_INVAL;
        }
        // SAFETY: the broker's options for this plugin, valid during the call.
        let pairs = unsafe { options(opts, count) };
        let plugin = match Plugin::start(&pairs, &api) {
            Ok(p) => p,
            Err(problems) => {
                for p in problems {
                    api.log(Level::Error, &format!("mqward: {p}"));
                }
                api.log(Level::Error, "mqward: not started");
                return MOSQ_ERR_INVAL;
            }
        };
        if let Some(set_info) = api.plugin_set_info {
            // SAFETY: 2.1's function, given the identifier and two static strings.
            unsafe {
                set_info(
                    identifier,
                    c"mqward".as_ptr(),
                    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast(),
                )
            };
        }
        let instance = Box::into_raw(Box::new(Instance {
            api,
            identifier,
            plugin: Some(plugin),
            registered: Vec::new(),
        }));
        let callbacks: [(c_int, MOSQ_FUNC_generic_callback, bool); 7] = [
            (MOSQ_EVT_BASIC_AUTH, on_basic_auth, true),
            (MOSQ_EVT_ACL_CHECK, on_acl_check, true),
            (MOSQ_EVT_PSK_KEY, on_psk_key, true),
            (MOSQ_EVT_DISCONNECT, on_disconnect, true),
            (MOSQ_EVT_TICK, on_tick, true),
            (MOSQ_EVT_RELOAD, on_reload, true),
            (MOSQ_EVT_CONNECT, on_connect, false),
        ];
        for (event, callback, required) in callbacks {
            // SAFETY: `instance` is the live box just made; the broker stores the callback and
            // the userdata pointer until they are unregistered in cleanup.
            let rc = unsafe {
                (api.callback_register)(identifier, event, callback, ptr::null(), instance.cast())
            };
            if rc == MOSQ_ERR_SUCCESS {
                // SAFETY: no callback runs during init; this thread is the only user.
                unsafe { (*instance).registered.push((event, callback)) };
            } else if required {
                api.log(
                    Level::Error,
                    &format!("mqward: the broker refused callback {event} (error {rc})"),
                );
                // SAFETY: the box made above, with its callbacks unregistered by `release`.
                unsafe { release(instance) };
                return MOSQ_ERR_UNKNOWN;
            }
        }
        // SAFETY: the broker's out-parameter for the userdata.
        unsafe { *userdata = instance.cast() };
        MOSQ_ERR_SUCCESS
    }));
    started.unwrap_or_else(|_| {
        eprintln!("mqward: internal error while starting");
        MOSQ_ERR_UNKNOWN
    })
}

/// Unregisters an instance's callbacks, stops it and frees it.
///
/// # Safety
/// `instance` came from `Box::into_raw` in init and is released once.
unsafe fn release(instance: *mut Instance) {
    // SAFETY: the caller's promise: we own the box again.
    let mut instance = unsafe { Box::from_raw(instance) };
    for (event, callback) in std::mem::take(&mut instance.registered) {
        // SAFETY: unregistering what init registered with the same identifier.
        unsafe {
            (instance.api.callback_unregister)(instance.identifier, event, callback, ptr::null())
        };
    }
    if let Some(plugin) = instance.plugin.take() {
        plugin.stop(&instance.api);
    }
}

/// Stops a plugin instance: what is left is written to the registry file.
///
/// # Safety
/// Called by Mosquitto once, with the userdata init stored.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_cleanup(
    userdata: *mut c_void,
    _opts: *mut mosquitto_opt,
    _count: c_int,
) -> c_int {
    if userdata.is_null() {
        return MOSQ_ERR_SUCCESS;
    }
    let done = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pointer init stored; the broker calls cleanup once.
        unsafe { release(userdata.cast()) };
    }));
    if done.is_err() {
        eprintln!("mqward: internal error while stopping");
    }
    MOSQ_ERR_SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_5_is_spoken() {
        // SAFETY: arrays of the given lengths, or NULL.
        unsafe {
            assert_eq!(mosquitto_plugin_version(3, [4, 5, 6].as_ptr()), 5);
            assert_eq!(mosquitto_plugin_version(2, [4, 3].as_ptr()), -1);
            assert_eq!(mosquitto_plugin_version(0, ptr::null()), -1);
        }
    }

    #[test]
    fn outside_a_broker_the_api_is_missing_by_name() {
        let err = Api::resolve().unwrap_err();
        assert!(err.contains("mosquitto_callback_register"), "{err}");
        assert!(err.contains("mosquitto_kick_client_by_clientid"), "{err}");
    }

    #[test]
    fn options_are_read_in_order() {
        let keys = [c"config".to_owned(), c"interval_ms".to_owned()];
        let values = [c"/etc/mqward/config.json".to_owned(), c"100".to_owned()];
        let list: Vec<mosquitto_opt> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| mosquitto_opt {
                key: k.as_ptr().cast_mut(),
                value: v.as_ptr().cast_mut(),
            })
            .collect();
        // SAFETY: two options with NUL-terminated strings that outlive the call.
        let pairs = unsafe { options(list.as_ptr(), 2) };
        assert_eq!(
            pairs,
            vec![
                ("config".to_owned(), "/etc/mqward/config.json".to_owned()),
                ("interval_ms".to_owned(), "100".to_owned())
            ]
        );
        // SAFETY: NULL with any count is no options.
        assert!(unsafe { options(ptr::null(), 3) }.is_empty());
    }

    #[test]
    fn a_certificate_converts_to_the_same_der() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["device".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        extern "C" {
            fn d2i_X509(
                out: *mut *mut c_void,
                input: *mut *const u8,
                len: libc::c_long,
            ) -> *mut c_void;
        }
        let mut input = der.as_ptr();
        // SAFETY: a DER buffer and its length; returns a new X509 or NULL.
        let x509 = unsafe { d2i_X509(ptr::null_mut(), &mut input, der.len() as libc::c_long) };
        assert!(!x509.is_null());
        let x509 = X509(x509);
        // SAFETY: a valid X509, length query then encode into a buffer of that length.
        let len = unsafe { i2d_X509(x509.0, ptr::null_mut()) };
        let mut out = vec![0u8; len as usize];
        let mut p = out.as_mut_ptr();
        // SAFETY: as above.
        assert_eq!(unsafe { i2d_X509(x509.0, &mut p) }, len);
        assert_eq!(out, der);
    }
}
