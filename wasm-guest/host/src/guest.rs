//! The guest's exports called on the core module (`mqward.wasm`), with the canonical ABI of
//! `wit/mqward.wit` done here: arguments written into the guest's memory through
//! `cabi_realloc`, results read from the return area, `cabi_post_*` called after.
//!
//! Why not the component and `bindgen!`: wasmtime 48's component calls cost about 250 ns of
//! host-side work each (lifting contexts, resource-table scopes, function lookups), more than
//! the decision itself; a core call with the same arguments costs a few tens of nanoseconds.
//! The component (`mqward.component.wasm`) stays the artifact for component hosts, and a test
//! loads it to show it works.
//!
//! Layouts (little-endian, offsets in bytes): a string or list is `(ptr: u32, len: u32)`; a
//! `result`, `option` or `variant` is a one-byte case then its payload at the alignment of the
//! largest payload; records lay their fields out in order, each at its alignment. Anything the
//! guest returns that breaks these rules (a pointer out of bounds, a case out of range, text
//! that is not UTF-8) is an error, which stops the instance like a trap.

use wasmtime::{Instance, Memory, Store, TypedFunc};

use crate::runtime::Host;
use crate::wit;

type R<T> = wasmtime::Result<T>;

fn bad(what: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the guest returned a malformed {what}"))
}

const PREFIX: &str = "mqward:engine/engine@0.1.0#";

/// One function and its post-return, if it has one.
struct Export<P, Q> {
    call: TypedFunc<P, Q>,
    post: Option<TypedFunc<i32, ()>>,
}

fn export<P, Q>(instance: &Instance, store: &mut Store<Host>, name: &str) -> R<Export<P, Q>>
where
    P: wasmtime::WasmParams,
    Q: wasmtime::WasmResults,
{
    let call = instance
        .get_typed_func::<P, Q>(&mut *store, &format!("{PREFIX}{name}"))
        .map_err(|e| wasmtime::Error::msg(format!("export `{name}`: {e:#}")))?;
    let post = instance
        .get_typed_func::<i32, ()>(&mut *store, &format!("cabi_post_{PREFIX}{name}"))
        .ok();
    Ok(Export { call, post })
}

type Ptr = i32;
type Len = i32;
/// `(ptr, len)`.
type Slice = (Ptr, Len);
/// The flat form of a request: operation, target, qos option, retain option.
type Flat = (i32, Ptr, Len, i32, i32, i32, i32);
/// A token, a flat request and `now`.
type BySession = (i64, i64, i32, Ptr, Len, i32, i32, i32, i32, i64);
/// A handle and a flat request.
type ByHandle = (i64, i32, Ptr, Len, i32, i32, i32, i32);
/// A token, two strings and `now`.
type Greengrass = (i64, i64, Ptr, Len, Ptr, Len, i64);
/// Configuration, files, random bytes.
type Inputs = (Ptr, Len, Ptr, Len, Ptr, Len);
/// A state change: fingerprint, `from` option, `to`.
type Change = (Ptr, Len, i32, Ptr, Len, Ptr, Len);
/// One `option<string>` or `option<list<u8>>`: case, pointer, length.
type Opt = (i32, Ptr, Len);
/// Credentials (five options) and `now`.
type ByCredentials = (
    i32,
    Ptr,
    Len,
    i32,
    Ptr,
    Len,
    i32,
    Ptr,
    Len,
    i32,
    Ptr,
    Len,
    i32,
    Ptr,
    Len,
    i64,
);

/// The exports of one instance.
pub struct Guest {
    memory: Memory,
    realloc: TypedFunc<(i32, i32, i32, i32), i32>,
    abi_version: Export<(), i32>,
    load: Export<Inputs, Ptr>,
    load_policy: Export<Slice, Ptr>,
    reload: Export<Inputs, Ptr>,
    reload_policy: Export<Slice, Ptr>,
    authenticate: Export<ByCredentials, Ptr>,
    verify_certificate: Export<(Ptr, Len, i64), Ptr>,
    psk_key: Export<Slice, Ptr>,
    open_session: Export<Ptr, Ptr>,
    close_session: Export<(i64, i64), i32>,
    session_count: Export<(), i32>,
    authorize: Export<BySession, i32>,
    authorize_greengrass: Export<Greengrass, Ptr>,
    explain: Export<BySession, Ptr>,
    bind: Export<(Ptr, Len, Ptr, Len), Ptr>,
    authorize_identity: Export<ByHandle, i32>,
    explain_identity: Export<ByHandle, Ptr>,
    unbind: Export<i64, i32>,
    set_certificate_state: Export<(Ptr, Len, i32), Ptr>,
    apply_state_change: Export<Change, Ptr>,
    registry_json: Export<(), Ptr>,
    tick: Export<i64, ()>,
    drain_events: Export<(), Ptr>,
}

/// Reads guest memory with bounds checks.
struct Reader<'m>(&'m [u8]);

impl Reader<'_> {
    fn at<const N: usize>(&self, p: usize) -> R<[u8; N]> {
        let b = self
            .0
            .get(p..p.checked_add(N).ok_or_else(|| bad("pointer"))?)
            .ok_or_else(|| bad("pointer"))?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }
    fn u8(&self, p: usize) -> R<u8> {
        Ok(self.at::<1>(p)?[0])
    }
    fn u32(&self, p: usize) -> R<u32> {
        Ok(u32::from_le_bytes(self.at(p)?))
    }
    fn u64(&self, p: usize) -> R<u64> {
        Ok(u64::from_le_bytes(self.at(p)?))
    }
    fn bool(&self, p: usize) -> R<bool> {
        match self.u8(p)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad("bool")),
        }
    }
    /// A `(ptr, len)` pair at `p` as (start, length).
    fn slice(&self, p: usize) -> R<(usize, usize)> {
        Ok((self.u32(p)? as usize, self.u32(p + 4)? as usize))
    }
    fn bytes(&self, p: usize) -> R<Vec<u8>> {
        let (ptr, len) = self.slice(p)?;
        let end = ptr.checked_add(len).ok_or_else(|| bad("list"))?;
        Ok(self.0.get(ptr..end).ok_or_else(|| bad("list"))?.to_vec())
    }
    fn string(&self, p: usize) -> R<String> {
        String::from_utf8(self.bytes(p)?).map_err(|_| bad("string"))
    }
    fn option_string(&self, p: usize) -> R<Option<String>> {
        match self.u8(p)? {
            0 => Ok(None),
            1 => Ok(Some(self.string(p + 4)?)),
            _ => Err(bad("option")),
        }
    }
    /// A list of `size`-byte elements, each read by `element` at its address.
    fn list<T>(&self, p: usize, size: usize, element: impl Fn(&Self, usize) -> R<T>) -> R<Vec<T>> {
        let (ptr, len) = self.slice(p)?;
        if len
            .checked_mul(size)
            .and_then(|n| n.checked_add(ptr))
            .is_none_or(|end| end > self.0.len())
        {
            return Err(bad("list"));
        }
        (0..len).map(|i| element(self, ptr + i * size)).collect()
    }
    fn strings(&self, p: usize) -> R<Vec<String>> {
        self.list(p, 8, |r, e| r.string(e))
    }

    fn location(&self, p: usize) -> R<wit::Location> {
        use wit::Location as L;
        let q = p + 4;
        Ok(match self.u8(p)? {
            0 => L::Document,
            1 => L::File(self.string(q)?),
            2 => L::FileLine((self.string(q)?, self.u32(q + 8)?)),
            3 => L::Json((self.u32(q)?, self.u32(q + 4)?)),
            4 => L::Line(self.u32(q)?),
            5 => L::Group(self.string(q)?),
            6 => L::Policy(self.string(q)?),
            7 => L::Statement((self.string(q)?, self.string(q + 8)?)),
            8 => L::Resource((self.string(q)?, self.string(q + 8)?, self.u32(q + 16)?)),
            _ => return Err(bad("location")),
        })
    }

    fn rejection(&self, p: usize) -> R<wit::Rejection> {
        use wit::Rejection as W;
        let q = p + 4;
        Ok(match self.u8(p)? {
            0 => W::Malformed(self.string(q)?),
            1 => W::TooLarge,
            2 => W::UnknownIdentity,
            3 => W::WrongSecret,
            4 => W::BadSignature,
            5 => W::UnknownIssuer,
            6 => W::WrongUsage,
            7 => W::WrongAlgorithm,
            8 => W::WeakKey,
            9 => W::Expired,
            10 => W::NotYetValid,
            11 => W::Revoked,
            12 => W::Suspended,
            13 => W::WrongIssuer,
            14 => W::WrongAudience,
            15 => W::UnsupportedCritical,
            16 => W::MissingClaim(self.string(q)?),
            17 => W::ClientIdMismatch,
            18 => W::Disabled,
            19 => W::UnknownSession,
            20 => W::TooManySessions,
            21 => W::ConnectDenied,
            22 => W::MissingField(self.string(q)?),
            23 => W::StaleRevocationList,
            _ => return Err(bad("rejection")),
        })
    }

    fn error(&self, p: usize) -> R<wit::Error> {
        let q = p + 4;
        Ok(match self.u8(p)? {
            0 => wit::Error::Invalid(self.list(q, 32, |r, e| {
                Ok(wit::Problem {
                    location: r.location(e)?,
                    message: r.string(e + 24)?,
                })
            })?),
            1 => wit::Error::Rejected(self.rejection(q)?),
            2 => wit::Error::InvalidArgument(self.string(q)?),
            3 => wit::Error::NotLoaded,
            4 => wit::Error::Internal(self.string(q)?),
            _ => return Err(bad("error")),
        })
    }

    /// `result<T, error>` at `p`, its payload at `p + payload`.
    fn result<T>(
        &self,
        p: usize,
        payload: usize,
        ok: impl FnOnce(&Self, usize) -> R<T>,
    ) -> R<Result<T, wit::Error>> {
        match self.u8(p)? {
            0 => Ok(Ok(ok(self, p + payload)?)),
            1 => Ok(Err(self.error(p + payload)?)),
            _ => Err(bad("result")),
        }
    }

    fn explanation(&self, p: usize) -> R<wit::Explanation> {
        Ok(wit::Explanation {
            allowed: self.bool(p)?,
            deciding: self.option_string(p + 4)?,
            malformed: self.option_string(p + 16)?,
            groups: self.strings(p + 28)?,
            matched: self.list(p + 36, 12, |r, e| Ok((r.bool(e)?, r.string(e + 4)?)))?,
            notes: self.strings(p + 44)?,
            text: self.string(p + 52)?,
        })
    }

    fn state_change(&self, p: usize) -> R<wit::StateChange> {
        Ok(wit::StateChange {
            fingerprint: self.string(p)?,
            from: self.option_string(p + 8)?,
            to: self.string(p + 20)?,
        })
    }
}

/// Arguments as the guest's memory holds them.
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn new(size: usize) -> Writer {
        Writer {
            bytes: vec![0; size],
        }
    }
    fn put(&mut self, p: usize, v: &[u8]) {
        self.bytes[p..p + v.len()].copy_from_slice(v);
    }
    fn u32(&mut self, p: usize, v: i32) {
        self.put(p, &v.to_le_bytes());
    }
    fn u64(&mut self, p: usize, v: u64) {
        self.put(p, &v.to_le_bytes());
    }
    fn slice(&mut self, p: usize, s: Slice) {
        self.u32(p, s.0);
        self.u32(p + 4, s.1);
    }
}

fn operation(o: wit::Operation) -> i32 {
    match o {
        wit::Operation::Connect => 0,
        wit::Operation::Publish => 1,
        wit::Operation::Subscribe => 2,
        wit::Operation::Receive => 3,
        wit::Operation::Unsubscribe => 4,
    }
}

fn verdict(v: i32) -> R<wit::Verdict> {
    Ok(match v {
        0 => wit::Verdict::Allow,
        1 => wit::Verdict::Deny,
        2 => wit::Verdict::UnknownSession,
        3 => wit::Verdict::Failed,
        _ => return Err(bad("verdict")),
    })
}

fn bits(v: u64) -> i64 {
    i64::from_le_bytes(v.to_le_bytes())
}

fn len(n: usize) -> R<i32> {
    i32::try_from(n).map_err(|_| wasmtime::Error::msg("an argument is larger than 2 GiB"))
}

impl Guest {
    /// Looks up every export of an instance.
    pub fn new(instance: &Instance, store: &mut Store<Host>) -> R<Guest> {
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))?;
        let realloc = instance.get_typed_func(&mut *store, "cabi_realloc")?;
        Ok(Guest {
            memory,
            realloc,
            abi_version: export(instance, store, "abi-version")?,
            load: export(instance, store, "load")?,
            load_policy: export(instance, store, "load-policy")?,
            reload: export(instance, store, "reload")?,
            reload_policy: export(instance, store, "reload-policy")?,
            authenticate: export(instance, store, "authenticate")?,
            verify_certificate: export(instance, store, "verify-certificate")?,
            psk_key: export(instance, store, "psk-key")?,
            open_session: export(instance, store, "open-session")?,
            close_session: export(instance, store, "close-session")?,
            session_count: export(instance, store, "session-count")?,
            authorize: export(instance, store, "authorize")?,
            authorize_greengrass: export(instance, store, "authorize-greengrass")?,
            explain: export(instance, store, "explain")?,
            bind: export(instance, store, "bind")?,
            authorize_identity: export(instance, store, "authorize-identity")?,
            explain_identity: export(instance, store, "explain-identity")?,
            unbind: export(instance, store, "unbind")?,
            set_certificate_state: export(instance, store, "set-certificate-state")?,
            apply_state_change: export(instance, store, "apply-state-change")?,
            registry_json: export(instance, store, "registry-json")?,
            tick: export(instance, store, "tick")?,
            drain_events: export(instance, store, "drain-events")?,
        })
    }

    fn alloc(&self, s: &mut Store<Host>, align: i32, size: usize) -> R<i32> {
        self.realloc.call(&mut *s, (0, 0, align, len(size)?))
    }

    /// Copies bytes into a fresh allocation of the guest's.
    fn put(&self, s: &mut Store<Host>, bytes: &[u8]) -> R<Slice> {
        let p = self.alloc(s, 1, bytes.len())?;
        self.memory.write(&mut *s, p as u32 as usize, bytes)?;
        Ok((p, len(bytes.len())?))
    }

    /// Writes a laid-out argument block.
    fn block(&self, s: &mut Store<Host>, align: i32, w: &Writer) -> R<Ptr> {
        let p = self.alloc(s, align, w.bytes.len())?;
        self.memory.write(&mut *s, p as u32 as usize, &w.bytes)?;
        Ok(p)
    }

    fn option_bytes(&self, s: &mut Store<Host>, v: Option<&[u8]>) -> R<Opt> {
        match v {
            Some(b) => {
                let (p, l) = self.put(s, b)?;
                Ok((1, p, l))
            }
            None => Ok((0, 0, 0)),
        }
    }

    /// Reads a result from the return area, then lets the guest free it.
    fn read<P, Q, T>(
        &self,
        s: &mut Store<Host>,
        export: &Export<P, Q>,
        ret: i32,
        f: impl FnOnce(&Reader<'_>, usize) -> R<T>,
    ) -> R<T> {
        let value = f(&Reader(self.memory.data(&*s)), ret as u32 as usize)?;
        if let Some(post) = &export.post {
            post.call(&mut *s, ret)?;
        }
        Ok(value)
    }

    /// A session decision's arguments.
    #[allow(clippy::too_many_arguments)]
    fn by_session(
        &self,
        s: &mut Store<Host>,
        t: wit::Token,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
        now: u64,
    ) -> R<BySession> {
        let (o, p, l, qd, q, rd, r) = self.flat(s, op, target, qos, retain)?;
        Ok((
            bits(t.first),
            bits(t.last),
            o,
            p,
            l,
            qd,
            q,
            rd,
            r,
            bits(now),
        ))
    }

    /// A bound identity decision's arguments.
    fn by_handle(
        &self,
        s: &mut Store<Host>,
        handle: u64,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> R<ByHandle> {
        let (o, p, l, qd, q, rd, r) = self.flat(s, op, target, qos, retain)?;
        Ok((bits(handle), o, p, l, qd, q, rd, r))
    }

    fn flat(
        &self,
        s: &mut Store<Host>,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> R<Flat> {
        let (p, l) = self.put(s, target)?;
        let (qd, q) = qos.map_or((0, 0), |q| (1, i32::from(q)));
        let (rd, r) = retain.map_or((0, 0), |r| (1, i32::from(r)));
        Ok((operation(op), p, l, qd, q, rd, r))
    }

    fn files(&self, s: &mut Store<Host>, files: &[wit::File]) -> R<Slice> {
        let mut w = Writer::new(files.len() * 20);
        for (i, f) in files.iter().enumerate() {
            let e = i * 20;
            w.slice(e, self.put(s, f.name.as_bytes())?);
            match &f.contents {
                Ok(b) => w.slice(e + 12, self.put(s, b)?),
                Err(why) => {
                    w.put(e + 8, &[1]);
                    w.slice(e + 12, self.put(s, why.as_bytes())?);
                }
            }
        }
        Ok((self.block(s, 4, &w)?, len(files.len())?))
    }

    /// `abi-version`.
    pub fn call_abi_version(&self, s: &mut Store<Host>) -> R<u32> {
        Ok(self.abi_version.call.call(&mut *s, ())? as u32)
    }

    fn unit(
        &self,
        s: &mut Store<Host>,
        e: &Export<impl wasmtime::WasmParams, Ptr>,
        ret: i32,
    ) -> R<Result<(), wit::Error>> {
        self.read(s, e, ret, |r, p| r.result(p, 4, |_, _| Ok(())))
    }

    fn warnings(
        &self,
        s: &mut Store<Host>,
        e: &Export<impl wasmtime::WasmParams, Ptr>,
        ret: i32,
    ) -> R<Result<Vec<String>, wit::Error>> {
        self.read(s, e, ret, |r, p| r.result(p, 4, |r, q| r.strings(q)))
    }

    fn inputs(
        &self,
        s: &mut Store<Host>,
        e: &Export<Inputs, Ptr>,
        config: &[u8],
        files: &[wit::File],
        random: &[u8],
    ) -> R<Result<Vec<String>, wit::Error>> {
        let (cp, cl) = self.put(s, config)?;
        let (fp, fl) = self.files(s, files)?;
        let (rp, rl) = self.put(s, random)?;
        let ret = e.call.call(&mut *s, (cp, cl, fp, fl, rp, rl))?;
        self.warnings(s, e, ret)
    }

    /// `load`.
    pub fn call_load(
        &self,
        s: &mut Store<Host>,
        config: &[u8],
        files: &[wit::File],
        random: &[u8],
    ) -> R<Result<Vec<String>, wit::Error>> {
        self.inputs(s, &self.load, config, files, random)
    }

    /// `reload`.
    pub fn call_reload(
        &self,
        s: &mut Store<Host>,
        config: &[u8],
        files: &[wit::File],
        random: &[u8],
    ) -> R<Result<Vec<String>, wit::Error>> {
        self.inputs(s, &self.reload, config, files, random)
    }

    /// `load-policy`.
    pub fn call_load_policy(
        &self,
        s: &mut Store<Host>,
        policy: &[u8],
    ) -> R<Result<(), wit::Error>> {
        let arg = self.put(s, policy)?;
        let ret = self.load_policy.call.call(&mut *s, arg)?;
        self.unit(s, &self.load_policy, ret)
    }

    /// `reload-policy`.
    pub fn call_reload_policy(
        &self,
        s: &mut Store<Host>,
        policy: &[u8],
    ) -> R<Result<(), wit::Error>> {
        let arg = self.put(s, policy)?;
        let ret = self.reload_policy.call.call(&mut *s, arg)?;
        self.unit(s, &self.reload_policy, ret)
    }

    /// `authenticate`.
    pub fn call_authenticate(
        &self,
        s: &mut Store<Host>,
        c: &wit::Credentials,
        now: u64,
    ) -> R<Result<wit::Authenticated, wit::Error>> {
        let a = self.option_bytes(s, c.client_id.as_deref().map(str::as_bytes))?;
        let b = self.option_bytes(s, c.username.as_deref().map(str::as_bytes))?;
        let d = self.option_bytes(s, c.password.as_deref())?;
        let e = self.option_bytes(s, c.certificate.as_deref())?;
        let f = self.option_bytes(s, c.psk_identity.as_deref().map(str::as_bytes))?;
        let args = (
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            d.0,
            d.1,
            d.2,
            e.0,
            e.1,
            e.2,
            f.0,
            f.1,
            f.2,
            bits(now),
        );
        let ret = self.authenticate.call.call(&mut *s, args)?;
        self.read(s, &self.authenticate, ret, |r, p| {
            r.result(p, 8, |r, q| {
                Ok(wit::Authenticated {
                    identity: wit::Identity {
                        kind: r.string(q)?,
                        attributes: r
                            .list(q + 8, 16, |r, e| Ok((r.string(e)?, r.string(e + 8)?)))?,
                    },
                    expires_at: match r.u8(q + 16)? {
                        0 => None,
                        1 => Some(r.u64(q + 24)?),
                        _ => return Err(bad("option")),
                    },
                    fingerprint: r.option_string(q + 32)?,
                })
            })
        })
    }

    /// `verify-certificate`.
    pub fn call_verify_certificate(
        &self,
        s: &mut Store<Host>,
        certificate: &[u8],
        now: u64,
    ) -> R<Result<(), wit::Error>> {
        let (p, l) = self.put(s, certificate)?;
        let ret = self
            .verify_certificate
            .call
            .call(&mut *s, (p, l, bits(now)))?;
        self.unit(s, &self.verify_certificate, ret)
    }

    /// `psk-key`.
    pub fn call_psk_key(&self, s: &mut Store<Host>, identity: &str) -> R<Option<String>> {
        let arg = self.put(s, identity.as_bytes())?;
        let ret = self.psk_key.call.call(&mut *s, arg)?;
        self.read(s, &self.psk_key, ret, |r, p| r.option_string(p))
    }

    /// `open-session`.
    pub fn call_open_session(
        &self,
        s: &mut Store<Host>,
        c: &wit::Credentials,
        now: u64,
        random: wit::Token,
    ) -> R<Result<wit::Token, wit::Error>> {
        let mut w = Writer::new(88);
        let fields: [Option<&[u8]>; 5] = [
            c.client_id.as_deref().map(str::as_bytes),
            c.username.as_deref().map(str::as_bytes),
            c.password.as_deref(),
            c.certificate.as_deref(),
            c.psk_identity.as_deref().map(str::as_bytes),
        ];
        for (i, field) in fields.into_iter().enumerate() {
            if let Some(b) = field {
                w.put(i * 12, &[1]);
                w.slice(i * 12 + 4, self.put(s, b)?);
            }
        }
        w.u64(64, now);
        w.u64(72, random.first);
        w.u64(80, random.last);
        let args = self.block(s, 8, &w)?;
        let ret = self.open_session.call.call(&mut *s, args)?;
        self.read(s, &self.open_session, ret, |r, p| {
            r.result(p, 8, |r, q| {
                Ok(wit::Token {
                    first: r.u64(q)?,
                    last: r.u64(q + 8)?,
                })
            })
        })
    }

    /// `close-session`.
    pub fn call_close_session(&self, s: &mut Store<Host>, t: wit::Token) -> R<bool> {
        Ok(self
            .close_session
            .call
            .call(&mut *s, (bits(t.first), bits(t.last)))?
            != 0)
    }

    /// `session-count`.
    pub fn call_session_count(&self, s: &mut Store<Host>) -> R<u32> {
        Ok(self.session_count.call.call(&mut *s, ())? as u32)
    }

    /// `authorize`: the hot path, one allocation (the target) and one call.
    #[allow(clippy::too_many_arguments)]
    pub fn call_authorize(
        &self,
        s: &mut Store<Host>,
        t: wit::Token,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
        now: u64,
    ) -> R<wit::Verdict> {
        let args = self.by_session(s, t, op, target, qos, retain, now)?;
        verdict(self.authorize.call.call(&mut *s, args)?)
    }

    /// `authorize-greengrass`.
    pub fn call_authorize_greengrass(
        &self,
        s: &mut Store<Host>,
        t: wit::Token,
        operation: &str,
        resource: &str,
        now: u64,
    ) -> R<Result<bool, wit::Error>> {
        let (op, ol) = self.put(s, operation.as_bytes())?;
        let (rp, rl) = self.put(s, resource.as_bytes())?;
        let ret = self.authorize_greengrass.call.call(
            &mut *s,
            (bits(t.first), bits(t.last), op, ol, rp, rl, bits(now)),
        )?;
        self.read(s, &self.authorize_greengrass, ret, |r, p| {
            r.result(p, 4, |r, q| r.bool(q))
        })
    }

    /// `explain`.
    #[allow(clippy::too_many_arguments)]
    pub fn call_explain(
        &self,
        s: &mut Store<Host>,
        t: wit::Token,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
        now: u64,
    ) -> R<Result<wit::Explanation, wit::Error>> {
        let args = self.by_session(s, t, op, target, qos, retain, now)?;
        let ret = self.explain.call.call(&mut *s, args)?;
        self.read(s, &self.explain, ret, |r, p| {
            r.result(p, 4, |r, q| r.explanation(q))
        })
    }

    /// `bind`.
    pub fn call_bind(
        &self,
        s: &mut Store<Host>,
        identity: &wit::Identity,
    ) -> R<Result<u64, wit::Error>> {
        let (kp, kl) = self.put(s, identity.kind.as_bytes())?;
        let mut w = Writer::new(identity.attributes.len() * 16);
        for (i, (name, value)) in identity.attributes.iter().enumerate() {
            w.slice(i * 16, self.put(s, name.as_bytes())?);
            w.slice(i * 16 + 8, self.put(s, value.as_bytes())?);
        }
        let ap = self.block(s, 4, &w)?;
        let ret = self
            .bind
            .call
            .call(&mut *s, (kp, kl, ap, len(identity.attributes.len())?))?;
        self.read(s, &self.bind, ret, |r, p| r.result(p, 8, |r, q| r.u64(q)))
    }

    /// `authorize-identity`: the hot path for bound identities.
    pub fn call_authorize_identity(
        &self,
        s: &mut Store<Host>,
        handle: u64,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> R<wit::Verdict> {
        let args = self.by_handle(s, handle, op, target, qos, retain)?;
        verdict(self.authorize_identity.call.call(&mut *s, args)?)
    }

    /// `explain-identity`.
    pub fn call_explain_identity(
        &self,
        s: &mut Store<Host>,
        handle: u64,
        op: wit::Operation,
        target: &[u8],
        qos: Option<u8>,
        retain: Option<bool>,
    ) -> R<Result<wit::Explanation, wit::Error>> {
        let args = self.by_handle(s, handle, op, target, qos, retain)?;
        let ret = self.explain_identity.call.call(&mut *s, args)?;
        self.read(s, &self.explain_identity, ret, |r, p| {
            r.result(p, 4, |r, q| r.explanation(q))
        })
    }

    /// `unbind`.
    pub fn call_unbind(&self, s: &mut Store<Host>, handle: u64) -> R<bool> {
        Ok(self.unbind.call.call(&mut *s, bits(handle))? != 0)
    }

    /// `set-certificate-state`.
    pub fn call_set_certificate_state(
        &self,
        s: &mut Store<Host>,
        fingerprint: &str,
        action: wit::CertAction,
    ) -> R<Result<Option<wit::StateChange>, wit::Error>> {
        let (p, l) = self.put(s, fingerprint.as_bytes())?;
        let a = match action {
            wit::CertAction::Suspend => 0,
            wit::CertAction::Reactivate => 1,
            wit::CertAction::Revoke => 2,
        };
        let ret = self.set_certificate_state.call.call(&mut *s, (p, l, a))?;
        self.read(s, &self.set_certificate_state, ret, |r, p| {
            r.result(p, 4, |r, q| match r.u8(q)? {
                0 => Ok(None),
                1 => Ok(Some(r.state_change(q + 4)?)),
                _ => Err(bad("option")),
            })
        })
    }

    /// `apply-state-change`.
    pub fn call_apply_state_change(
        &self,
        s: &mut Store<Host>,
        c: &wit::StateChange,
    ) -> R<Result<(), wit::Error>> {
        let (fp, fl) = self.put(s, c.fingerprint.as_bytes())?;
        let (d, pp, pl) = self.option_bytes(s, c.from.as_deref().map(str::as_bytes))?;
        let (tp, tl) = self.put(s, c.to.as_bytes())?;
        let ret = self
            .apply_state_change
            .call
            .call(&mut *s, (fp, fl, d, pp, pl, tp, tl))?;
        self.unit(s, &self.apply_state_change, ret)
    }

    /// `registry-json`.
    pub fn call_registry_json(&self, s: &mut Store<Host>) -> R<Vec<u8>> {
        let ret = self.registry_json.call.call(&mut *s, ())?;
        self.read(s, &self.registry_json, ret, |r, p| r.bytes(p))
    }

    /// `tick`.
    pub fn call_tick(&self, s: &mut Store<Host>, now: u64) -> R<()> {
        self.tick.call.call(&mut *s, bits(now))
    }

    /// `drain-events`.
    pub fn call_drain_events(&self, s: &mut Store<Host>) -> R<Vec<wit::Event>> {
        let ret = self.drain_events.call.call(&mut *s, ())?;
        self.read(s, &self.drain_events, ret, |r, p| {
            r.list(p, 40, |r, e| {
                let q = e + 8;
                Ok(match r.u8(e)? {
                    0 => wit::Event::Disconnect(wit::Disconnect {
                        session: wit::Token {
                            first: r.u64(q)?,
                            last: r.u64(q + 8)?,
                        },
                        client_id: r.option_string(q + 16)?,
                        reason: match r.u8(q + 28)? {
                            0 => wit::EndReason::Suspended,
                            1 => wit::EndReason::Revoked,
                            2 => wit::EndReason::Expired,
                            3 => wit::EndReason::TrustExpired,
                            _ => return Err(bad("end reason")),
                        },
                    }),
                    1 => wit::Event::StateChanged(r.state_change(q)?),
                    _ => return Err(bad("event")),
                })
            })
        })
    }
}
