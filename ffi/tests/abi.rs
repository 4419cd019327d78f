//! The C ABI driven from Rust, as a C host would drive it: engines from configuration files in
//! temporary directories, PSK and certificate clients (certificates made at test time with
//! rcgen), sessions, identities, events, reloads, and arguments a careless host passes.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqward::*;
use mqward_core::authn::x509::Fingerprint;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

const PSK: &str = "gateway-1:00112233445566778899aabbccddeeff\n";

thread_local! {
    /// Allocations made by this thread (each test runs on its own thread).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations.
struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the count is a
// const-initialized thread-local, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// A fresh directory holding the example policy, a PSK file, a CA and a registry, with a
/// configuration naming them; the PEM and fingerprint of a client certificate for `sensor-1`
/// registered as inactive.
struct Setup {
    dir: PathBuf,
    config: CString,
    sensor_pem: String,
    sensor_fingerprint: String,
}

fn setup() -> Setup {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mqward-ffi-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.json");
    std::fs::copy(policy, dir.join("policy.json")).unwrap();
    std::fs::write(dir.join("psk.txt"), PSK).unwrap();

    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "test ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "sensor-1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let sensor = leaf
        .signed_by(&KeyPair::generate().unwrap(), &issuer)
        .unwrap();
    let sensor_fingerprint = Fingerprint::of(sensor.der()).to_string();
    std::fs::write(
        dir.join("registry.json"),
        format!(
            r#"{{"version":1,"certificates":[{{"fingerprint":"{sensor_fingerprint}","state":"inactive"}}]}}"#
        ),
    )
    .unwrap();
    let config = dir.join("mqward.json");
    std::fs::write(
        &config,
        r#"{"version":1,"policy":"policy.json","psk":[{"file":"psk.txt"}],
            "certificates":{"trustAnchors":["ca.pem"],"registry":"registry.json",
                            "mapping":{"thingName":"cert.subject.cn","requireClientIdMatch":true}}}"#,
    )
    .unwrap();
    Setup {
        config: CString::new(config.to_str().unwrap()).unwrap(),
        dir,
        sensor_pem: sensor.pem(),
        sensor_fingerprint,
    }
}

fn engine(s: &Setup) -> *const mqward_engine {
    let mut engine = ptr::null();
    let rc = mqward_engine_new_from_file(
        s.config.as_ptr(),
        ptr::null_mut(),
        0,
        ptr::null_mut(),
        &mut engine,
    );
    assert_eq!(rc, mqward_result::Ok);
    engine
}

fn psk_credentials<'a>(client_id: &'a str, identity: &'a str) -> mqward_credentials {
    mqward_credentials {
        client_id: client_id.as_ptr().cast(),
        client_id_len: client_id.len(),
        psk_identity: identity.as_ptr().cast(),
        psk_identity_len: identity.len(),
        ..mqward_credentials::default()
    }
}

fn cert_credentials<'a>(client_id: &'a str, pem: &'a [u8]) -> mqward_credentials {
    mqward_credentials {
        client_id: client_id.as_ptr().cast(),
        client_id_len: client_id.len(),
        certificate: pem.as_ptr(),
        certificate_len: pem.len(),
        ..mqward_credentials::default()
    }
}

fn request(operation: mqward_operation, resource: &str, qos: i32) -> mqward_request {
    mqward_request {
        operation: operation as u32,
        resource: resource.as_ptr().cast(),
        resource_len: resource.len(),
        qos,
        retain: MQWARD_RETAIN_UNKNOWN,
    }
}

fn open(engine: *const mqward_engine, creds: &mqward_credentials) -> mqward_session_token {
    let mut token = mqward_session_token::default();
    let rc = mqward_session_open(engine, creds, &mut token);
    assert_eq!(rc, mqward_result::Ok);
    token
}

fn decide(
    engine: *const mqward_engine,
    token: &mqward_session_token,
    request: &mqward_request,
) -> (mqward_result, mqward_effect) {
    let mut effect = mqward_effect::Allow;
    let rc = mqward_session_authorize(engine, token, request, &mut effect);
    (rc, effect)
}

/// Calls a function that writes text into a buffer, growing the buffer once if it asks to.
fn text(mut call: impl FnMut(*mut c_char, usize, *mut usize) -> mqward_result) -> String {
    let mut needed = 0;
    assert_eq!(
        call(ptr::null_mut(), 0, &mut needed),
        mqward_result::InsufficientSize
    );
    let mut buf = vec![0u8; needed + 1];
    let mut written = 0;
    assert_eq!(
        call(buf.as_mut_ptr().cast(), buf.len(), &mut written),
        mqward_result::Ok
    );
    assert_eq!(written, needed);
    assert_eq!(buf[needed], 0);
    buf.truncate(needed);
    String::from_utf8(buf).unwrap()
}

fn events(engine: *const mqward_engine) -> Vec<mqward_event_info> {
    let mut all = Vec::new();
    loop {
        let mut event = ptr::null_mut();
        let rc = mqward_engine_poll_event(engine, &mut event);
        assert_eq!(rc, mqward_result::Ok);
        if event.is_null() {
            return all;
        }
        let mut info = std::mem::MaybeUninit::<mqward_event_info>::uninit();
        // SAFETY: `event` is a live polled event; `info` is written on success; the event is
        // freed once, after its info (whose client id points into it) is no longer read.
        unsafe {
            assert_eq!(
                mqward_event_describe(event, info.as_mut_ptr()),
                mqward_result::Ok
            );
            let mut info = info.assume_init();
            info.client_id = ptr::null();
            all.push(info);
            mqward_event_free(event);
        }
    }
}

#[test]
fn psk_sessions_decide_explain_and_close() {
    let s = setup();
    let engine = engine(&s);
    let token = open(engine, &psk_credentials("gateway-1", "gateway-1"));
    let publish = request(mqward_operation::Publish, "sensors/sensor-9/telemetry/t", 1);
    assert_eq!(
        decide(engine, &token, &publish),
        (mqward_result::Ok, mqward_effect::Allow)
    );
    let secret = request(mqward_operation::Publish, "sensors/secret/x", 1);
    assert_eq!(
        decide(engine, &token, &secret),
        (mqward_result::Ok, mqward_effect::Deny)
    );
    let wildcard = request(mqward_operation::Publish, "sensors/+/x", 0);
    assert_eq!(
        decide(engine, &token, &wildcard),
        (mqward_result::Ok, mqward_effect::Deny)
    );

    let why = text(|b, l, n| mqward_session_explain(engine, &token, &secret, b, l, n));
    assert!(why.starts_with("deny\n"), "{why}");
    assert!(why.contains("device-limits/no-secret"), "{why}");

    let mut effect = mqward_effect::Deny;
    let rc = mqward_session_authorize_greengrass(
        engine,
        &token,
        c"mqtt:subscribe".as_ptr(),
        c"mqtt:topicfilter:sensors/+/telemetry/#".as_ptr(),
        &mut effect,
    );
    assert_eq!((rc, effect), (mqward_result::Ok, mqward_effect::Allow));
    let rc = mqward_session_authorize_greengrass(
        engine,
        &token,
        c"mqtt:publish".as_ptr(),
        c"mqtt:topicfilter:a".as_ptr(),
        &mut effect,
    );
    assert_eq!(
        (rc, effect),
        (mqward_result::InvalidArgument, mqward_effect::Deny)
    );

    let hex = text(|b, l, n| mqward_session_token_to_hex(&token, b, l, n));
    let hex = CString::new(hex).unwrap();
    let mut parsed = mqward_session_token::default();
    let rc = mqward_session_token_from_hex(hex.as_ptr(), &mut parsed);
    assert_eq!((rc, parsed), (mqward_result::Ok, token));

    let key = text(|b, l, n| mqward_engine_psk_key(engine, c"gateway-1".as_ptr(), 9, b, l, n));
    assert_eq!(key, "00112233445566778899aabbccddeeff");

    let mut count = 0;
    assert_eq!(
        mqward_engine_session_count(engine, &mut count),
        mqward_result::Ok
    );
    assert_eq!(count, 1);
    assert_eq!(mqward_session_close(engine, &token), mqward_result::Ok);
    assert_eq!(
        mqward_session_close(engine, &token),
        mqward_result::UnknownSession
    );
    assert_eq!(
        decide(engine, &token, &publish),
        (mqward_result::UnknownSession, mqward_effect::Deny)
    );
    mqward_engine_free(engine);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn suspending_a_certificate_ends_its_sessions_with_events() {
    let s = setup();
    let engine = engine(&s);
    let pem = s.sensor_pem.as_bytes();
    let rc = mqward_engine_verify_certificate(engine, pem.as_ptr(), pem.len());
    assert_eq!(rc, mqward_result::Ok);
    let mut refused = mqward_session_token::default();
    let rc = mqward_session_open(engine, &cert_credentials("sensor-2", pem), &mut refused);
    assert_eq!(rc, mqward_result::ClientIdMismatch);
    let token = open(engine, &cert_credentials("sensor-1", pem));
    let own = request(mqward_operation::Publish, "sensors/sensor-1/telemetry/t", 0);
    assert_eq!(
        decide(engine, &token, &own),
        (mqward_result::Ok, mqward_effect::Allow)
    );
    let first = events(engine);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].kind, mqward_event_kind::StateChanged);
    assert_eq!(
        (first[0].from_state, first[0].to_state),
        (mqward_cert_state::Inactive, mqward_cert_state::Active)
    );
    // SAFETY: the fingerprint is NUL-terminated within the array.
    let fp = unsafe { CStr::from_ptr(first[0].fingerprint.as_ptr()) };
    assert_eq!(fp.to_str(), Ok(s.sensor_fingerprint.as_str()));

    let fp = CString::new(s.sensor_fingerprint.to_uppercase()).unwrap();
    assert_eq!(
        mqward_engine_set_certificate_state(engine, fp.as_ptr(), 1),
        mqward_result::Ok
    );
    assert_eq!(
        mqward_engine_set_certificate_state(engine, fp.as_ptr(), 9),
        mqward_result::InvalidArgument
    );
    assert_eq!(
        mqward_engine_set_certificate_state(engine, c"00".as_ptr(), 1),
        mqward_result::InvalidArgument
    );
    let stranger = CString::new("ab".repeat(32)).unwrap();
    assert_eq!(
        mqward_engine_set_certificate_state(engine, stranger.as_ptr(), 3),
        mqward_result::CertificateState
    );
    let after = events(engine);
    let kinds: Vec<_> = after.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            mqward_event_kind::StateChanged,
            mqward_event_kind::Disconnect
        ]
    );
    assert_eq!(after[0].to_state, mqward_cert_state::Suspended);
    assert_eq!(after[1].reason, mqward_end_reason::Suspended);
    assert_eq!(after[1].session, token);
    assert_eq!(
        decide(engine, &token, &own),
        (mqward_result::UnknownSession, mqward_effect::Deny)
    );
    let mut again = mqward_session_token::default();
    let rc = mqward_session_open(engine, &cert_credentials("sensor-1", pem), &mut again);
    assert_eq!(rc, mqward_result::Suspended);

    let registry = text(|b, l, n| mqward_engine_registry_json(engine, b, l, n));
    assert!(registry.contains("\"suspended\""), "{registry}");
    mqward_engine_free(engine);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn identities_follow_reloads_and_a_bad_reload_changes_nothing() {
    let s = setup();
    let engine = engine(&s);
    let mut identity = ptr::null_mut();
    let rc = mqward_engine_authenticate(
        engine,
        &psk_credentials("gateway-1", "gateway-1"),
        &mut identity,
    );
    assert_eq!(rc, mqward_result::Ok);
    let thing = text(|b, l, n| mqward_identity_attribute(identity, c"thingName".as_ptr(), b, l, n));
    assert_eq!(thing, "gateway-1");
    let kind = text(|b, l, n| mqward_identity_attribute(identity, c"kind".as_ptr(), b, l, n));
    assert_eq!(kind, "psk");
    let mut out = 0;
    assert_eq!(
        mqward_identity_attribute(
            identity,
            c"claim.role".as_ptr(),
            ptr::null_mut(),
            0,
            &mut out
        ),
        mqward_result::NotFound
    );
    assert_eq!(
        mqward_identity_attribute(identity, c"nonsense".as_ptr(), ptr::null_mut(), 0, &mut out),
        mqward_result::InvalidArgument
    );
    let forward = request(mqward_operation::Publish, "commands/sensor-1/reboot", 1);
    let decide_identity = || {
        let mut effect = mqward_effect::Deny;
        let rc = mqward_identity_authorize(identity, &forward, &mut effect);
        (rc, effect)
    };
    assert_eq!(decide_identity(), (mqward_result::Ok, mqward_effect::Allow));

    // A policy that does not parse: the reload fails, names the file, and changes nothing.
    std::fs::write(
        s.dir.join("policy.json"),
        b"{\"version\": 1, \"policies\": ",
    )
    .unwrap();
    let mut report = vec![0u8; 512];
    let mut report_len = 0;
    let rc = mqward_engine_reload(
        engine,
        report.as_mut_ptr().cast(),
        report.len(),
        &mut report_len,
    );
    assert_eq!(rc, mqward_result::InvalidConfiguration);
    let report = CStr::from_bytes_until_nul(&report)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(report.contains("policy.json"), "{report}");
    assert_eq!(report.len(), report_len.min(511));
    assert_eq!(decide_identity(), (mqward_result::Ok, mqward_effect::Allow));
    assert!(events(engine).is_empty());

    // A policy without the forwarding statement: the identity follows it at once.
    let policy = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policy.json"),
    )
    .unwrap()
    .replace("\"topic:commands/+/#\"", "\"topic:elsewhere/#\"");
    std::fs::write(s.dir.join("policy.json"), policy).unwrap();
    let rc = mqward_engine_reload(engine, ptr::null_mut(), 0, ptr::null_mut());
    assert_eq!(rc, mqward_result::Ok);
    assert_eq!(decide_identity(), (mqward_result::Ok, mqward_effect::Deny));
    let reloaded = events(engine);
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded[0].kind, mqward_event_kind::Reloaded);

    // The engine handle freed, the identity keeps the engine: the handle is dead, the
    // identity still decides. (The engine stays allocated while the identity holds it, so the
    // calls with the freed handle read live memory.)
    mqward_engine_free(engine);
    assert_eq!(mqward_engine_tick(engine), mqward_result::InvalidHandle);
    mqward_engine_free(engine);
    assert_eq!(decide_identity(), (mqward_result::Ok, mqward_effect::Deny));
    mqward_identity_free(identity);
    mqward_identity_free(ptr::null_mut());
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn callbacks_receive_events_on_the_delivering_thread() {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn on_event(userdata: *mut c_void, event: *const mqward_event) {
        let mut info = std::mem::MaybeUninit::uninit();
        // SAFETY: the event is lent for this call; `userdata` is the counter registered below.
        unsafe {
            assert_eq!(
                mqward_event_describe(event, info.as_mut_ptr()),
                mqward_result::Ok
            );
            assert_eq!(info.assume_init().kind, mqward_event_kind::Reloaded);
            // A lent event is not the callback's to free: this does nothing.
            mqward_event_free(event.cast_mut());
            (*userdata.cast::<AtomicUsize>()).fetch_add(1, Ordering::SeqCst);
        }
    }
    let s = setup();
    let engine = engine(&s);
    let seen: *const AtomicUsize = &SEEN;
    assert_eq!(
        mqward_engine_set_event_callback(engine, Some(on_event), seen.cast_mut().cast()),
        mqward_result::Ok
    );
    assert_eq!(
        mqward_engine_reload(engine, ptr::null_mut(), 0, ptr::null_mut()),
        mqward_result::Ok
    );
    assert_eq!(SEEN.load(Ordering::SeqCst), 1);
    assert!(events(engine).is_empty());
    assert_eq!(
        mqward_engine_set_event_callback(engine, None, ptr::null_mut()),
        mqward_result::Ok
    );
    mqward_engine_reload(engine, ptr::null_mut(), 0, ptr::null_mut());
    assert_eq!(SEEN.load(Ordering::SeqCst), 1);
    assert_eq!(events(engine).len(), 1);
    mqward_engine_free(engine);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn careless_arguments_are_errors_and_decisions_fail_closed() {
    let s = setup();
    let engine = engine(&s);
    let token = open(engine, &psk_credentials("gateway-1", "gateway-1"));
    let good = request(mqward_operation::Publish, "sensors/sensor-9/telemetry/t", 0);
    let bad_utf8 = request(mqward_operation::Publish, "sensors/\u{fffd}", 0);
    let mut bad_utf8 = bad_utf8;
    let invalid = b"sensors/\xff";
    bad_utf8.resource = invalid.as_ptr().cast();
    bad_utf8.resource_len = invalid.len();
    let mut effect = mqward_effect::Allow;
    assert_eq!(
        mqward_session_authorize(ptr::null(), &token, &good, &mut effect),
        mqward_result::NullParameter
    );
    assert_eq!(effect, mqward_effect::Deny);
    effect = mqward_effect::Allow;
    assert_eq!(
        mqward_session_authorize(engine, ptr::null(), &good, &mut effect),
        mqward_result::NullParameter
    );
    assert_eq!(effect, mqward_effect::Deny);
    assert_eq!(
        mqward_session_authorize(engine, &token, ptr::null(), &mut effect),
        mqward_result::NullParameter
    );
    assert_eq!(
        mqward_session_authorize(engine, &token, &good, ptr::null_mut()),
        mqward_result::NullParameter
    );
    effect = mqward_effect::Allow;
    assert_eq!(
        mqward_session_authorize(engine, &token, &bad_utf8, &mut effect),
        mqward_result::InvalidUtf8
    );
    assert_eq!(effect, mqward_effect::Deny);

    // Invalid UTF-8 where the valid text would be allowed: an error and a deny, by session
    // and by identity, whatever the operation.
    let creds = psk_credentials("gateway-1", "gateway-1");
    let mut identity = ptr::null_mut();
    assert_eq!(
        mqward_engine_authenticate(engine, &creds, &mut identity),
        mqward_result::Ok
    );
    let near_allowed: [(mqward_operation, &[u8]); 5] = [
        (mqward_operation::Connect, b"gateway-1\xff"),
        (mqward_operation::Publish, b"sensors/s\xff/telemetry/t"),
        (mqward_operation::Subscribe, b"sensors/+/telemetry/\xc3"),
        (mqward_operation::Receive, b"time/\xe2\x82"),
        (mqward_operation::Unsubscribe, b"sensors/\xff/telemetry/#"),
    ];
    for (operation, resource) in near_allowed {
        let mut r = request(operation, "", 0);
        r.resource = resource.as_ptr().cast();
        r.resource_len = resource.len();
        effect = mqward_effect::Allow;
        let rc = mqward_session_authorize(engine, &token, &r, &mut effect);
        assert_eq!(
            (rc, effect),
            (mqward_result::InvalidUtf8, mqward_effect::Deny)
        );
        effect = mqward_effect::Allow;
        let rc = mqward_identity_authorize(identity, &r, &mut effect);
        assert_eq!(
            (rc, effect),
            (mqward_result::InvalidUtf8, mqward_effect::Deny)
        );
        let mut n = 0;
        let rc = mqward_session_explain(engine, &token, &r, ptr::null_mut(), 0, &mut n);
        assert_eq!(rc, mqward_result::InvalidUtf8);
    }
    mqward_identity_free(identity);

    let mut bad = creds;
    bad.psk_identity = invalid.as_ptr().cast();
    bad.psk_identity_len = invalid.len();
    let mut identity = ptr::null_mut();
    assert_eq!(
        mqward_engine_authenticate(engine, &bad, &mut identity),
        mqward_result::InvalidUtf8
    );
    assert!(identity.is_null());
    assert_eq!(
        mqward_engine_authenticate(engine, &mqward_credentials::default(), &mut identity),
        mqward_result::UnknownIdentity
    );
    let truncated = &s.sensor_pem.as_bytes()[..s.sensor_pem.len() / 2];
    assert_eq!(
        mqward_engine_authenticate(
            engine,
            &cert_credentials("sensor-1", truncated),
            &mut identity
        ),
        mqward_result::MalformedCredential
    );

    // A handle of the wrong type is refused by its magic.
    assert_eq!(
        mqward_engine_authenticate(engine, &creds, &mut identity),
        mqward_result::Ok
    );
    assert_eq!(
        mqward_engine_tick(identity.cast_const().cast()),
        mqward_result::InvalidHandle
    );
    assert_eq!(
        mqward_identity_authorize(engine.cast(), &good, &mut effect),
        mqward_result::InvalidHandle
    );
    mqward_identity_free(engine.cast_mut().cast());
    mqward_identity_free(identity);

    let mut garbage = ptr::null();
    let mut report = [0u8; 256];
    let config = b"{\"version\":1,\"policy\":\"policy.json\",\"psk\":3}";
    let dir = CString::new(s.dir.to_str().unwrap()).unwrap();
    assert_eq!(
        mqward_engine_new_from_buffer(
            config.as_ptr(),
            config.len(),
            dir.as_ptr(),
            report.as_mut_ptr().cast(),
            report.len(),
            ptr::null_mut(),
            &mut garbage,
        ),
        mqward_result::InvalidConfiguration
    );
    assert!(garbage.is_null());
    assert_eq!(
        mqward_engine_new_from_file(
            c"/nonexistent/mqward.json".as_ptr(),
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            &mut garbage
        ),
        mqward_result::Io
    );
    assert_eq!(
        mqward_engine_new_from_file(
            c"\xff".as_ptr(),
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            &mut garbage
        ),
        mqward_result::InvalidUtf8
    );

    let mut message = [0u8; 8];
    let mut full = 0;
    assert_eq!(
        mqward_result_message(9999, message.as_mut_ptr().cast(), message.len(), &mut full),
        mqward_result::InsufficientSize
    );
    assert_eq!(&message, b"unknown\0");
    assert_eq!(full, "unknown result code".len());
    mqward_engine_free(engine);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn decisions_allocate_nothing() {
    let s = setup();
    let engine = engine(&s);
    let creds = psk_credentials("gateway-1", "gateway-1");
    let token = open(engine, &creds);
    let mut identity = ptr::null_mut();
    let rc = mqward_engine_authenticate(engine, &creds, &mut identity);
    assert_eq!(rc, mqward_result::Ok);
    let requests = [
        request(mqward_operation::Publish, "sensors/sensor-9/telemetry/t", 1),
        request(mqward_operation::Publish, "secret/x", 0),
        request(mqward_operation::Subscribe, "sensors/+/telemetry/#", 1),
        request(mqward_operation::Receive, "time/now", 0),
        request(mqward_operation::Publish, "sensors/+", 0),
    ];
    let mut effect = mqward_effect::Deny;
    let mut all = || {
        for r in &requests {
            assert_eq!(
                mqward_session_authorize(engine, &token, r, &mut effect),
                mqward_result::Ok
            );
            assert_eq!(
                mqward_identity_authorize(identity, r, &mut effect),
                mqward_result::Ok
            );
        }
    };
    all();
    let before = allocations();
    for _ in 0..100 {
        all();
    }
    assert_eq!(allocations(), before, "a decision allocated");
    mqward_identity_free(identity);
    mqward_engine_free(engine);
    let _ = std::fs::remove_dir_all(&s.dir);
}
