#!/usr/bin/env python3
"""Runs the mqward core WebAssembly module in Python's `wasmtime` package and checks its decisions.

What this proves: the core module (target/mqward-wasm/mqward.wasm) imports nothing, so it
instantiates with an empty import list in a host other than wasmtime-rs; its exports follow the
component model's canonical ABI closely enough to be called by hand from Python; and policy
decisions, password authentication and sessions behave as in mqward-core (malformed requests,
`$` topics and wildcard identities are denied, a broken reload keeps the old policy, a closed
session is unknown). The same checks as tests/wasm/node_host.mjs.

Usage: python3 tests/wasm/python_host.py MODULE.wasm FIXDIR   (FIXDIR/passwd: mosquitto_passwd file)
Needs: python3 -m pip install wasmtime==51.0.0
"""

import json
import os
import struct
import sys
import time

import wasmtime

PREFIX = "mqward:engine/engine@0.1.0#"
ERROR_CASES = ["invalid", "rejected", "invalid-argument", "not-loaded", "internal"]
REJECTIONS = [
    "malformed", "too-large", "unknown-identity", "wrong-secret", "bad-signature", "unknown-issuer",
    "wrong-usage", "wrong-algorithm", "weak-key", "expired", "not-yet-valid", "revoked", "suspended",
    "wrong-issuer", "wrong-audience", "unsupported-critical", "missing-claim", "client-id-mismatch",
    "disabled", "unknown-session", "too-many-sessions", "connect-denied", "missing-field",
    "stale-revocation-list",
]
VERDICTS = ["allow", "deny", "unknown-session", "failed"]
OP = {"connect": 0, "publish": 1, "subscribe": 2, "receive": 3, "unsubscribe": 4}
# option<u8> / option<bool> as (discriminant, value): QoS and retain unknown here.
NO_QOS = (0, 0)
NO_RETAIN = (0, 0)


# ---- canonical ABI helpers -------------------------------------------------------------------

class Guest:
    """Calls into one instance; every pointer is an offset into its linear memory."""

    def __init__(self, store, instance):
        self.store = store
        self.ex = instance.exports(store)
        self.memory = self.ex["memory"]

    def export(self, name):
        try:
            return self.ex[name]
        except KeyError:
            return None

    # memory
    def read(self, ptr, n):
        return bytes(self.memory.read(self.store, ptr, ptr + n))

    def write(self, ptr, data):
        if data:
            self.memory.write(self.store, bytes(data), ptr)

    def u8(self, p):
        return self.read(p, 1)[0]

    def u32(self, p):
        return struct.unpack("<I", self.read(p, 4))[0]

    def u64(self, p):
        return struct.unpack("<Q", self.read(p, 8))[0]

    def put(self, p, fmt, *values):
        self.write(p, struct.pack("<" + fmt, *values))

    # arguments (the callee owns, and frees, what the host allocates)
    def alloc(self, size, align):
        return self.ex["cabi_realloc"](self.store, 0, 0, align, size)

    def bytes_arg(self, data):
        data = bytes(data)
        ptr = self.alloc(len(data), 1)
        self.write(ptr, data)
        return (ptr, len(data))

    def string_arg(self, s):
        return self.bytes_arg(s.encode("utf-8"))

    def list_arg(self, items, size, align, write):
        """A list of fixed-size records, each written by `write(offset, item)`."""
        ptr = self.alloc(len(items) * size, align)
        for i, item in enumerate(items):
            write(ptr + i * size, item)
        return (ptr, len(items))

    # results
    def read_bytes(self, p):
        return self.read(self.u32(p), self.u32(p + 4))

    def read_string(self, p):
        return self.read_bytes(p).decode("utf-8")

    def read_strings(self, p, stride=8, offset=0):
        base, n = self.u32(p), self.u32(p + 4)
        return [self.read_string(base + stride * i + offset) for i in range(n)]

    def read_option(self, p, read):
        return None if self.u8(p) == 0 else read(p + 4)

    def read_error(self, p):
        """The `error` variant at `p` as (case, detail)."""
        case = ERROR_CASES[self.u8(p)]
        detail = None
        if case == "invalid":
            # problem: location variant (24 bytes), then the message string at 24; 32 bytes
            detail = self.read_strings(p + 4, stride=32, offset=24)
        elif case == "rejected":
            detail = REJECTIONS[self.u8(p + 4)]
        elif case in ("invalid-argument", "internal"):
            detail = self.read_string(p + 4)
        return (case, detail)

    def read_result(self, p, offset, read_ok=None):
        """`result<T, error>` at `p`, payload at `offset`: {"ok": value} or {"err": (case, detail)}."""
        if self.u8(p) == 0:
            return {"ok": read_ok(p + offset) if read_ok else None}
        return {"err": self.read_error(p + offset)}

    # calls
    def call(self, name, *args):
        return self.ex[PREFIX + name](self.store, *args)

    def call_ptr(self, name, args, read):
        """Calls an export returning a pointer, reads it with `read`, then frees it with cabi_post."""
        ret = self.call(name, *args)
        try:
            return read(ret)
        finally:
            post = self.export("cabi_post_" + PREFIX + name)
            if post is not None:
                post(self.store, ret)


def as_i64(u):
    """A u64 as the i64 the core function takes."""
    return u - (1 << 64) if u >= 1 << 63 else u


# ---- the engine's functions, typed -----------------------------------------------------------

def unit(g, name, doc):
    return g.call_ptr(name, g.bytes_arg(doc), lambda p: g.read_result(p, 4))


def bind(g, kind, attrs):
    def pair(o, kv):
        k, v = g.string_arg(kv[0]), g.string_arg(kv[1])
        g.put(o, "IIII", *k, *v)

    pairs = g.list_arg(attrs, 16, 4, pair)
    return g.call_ptr("bind", [*g.string_arg(kind), *pairs], lambda p: g.read_result(p, 8, g.u64))


def request_args(g, op, target):
    data = target.encode("utf-8") if isinstance(target, str) else bytes(target)
    return [OP[op], *g.bytes_arg(data), *NO_QOS, *NO_RETAIN]


def verdict(v):
    """A `verdict` enum, returned directly as an i32 (no return pointer, no cabi_post)."""
    return VERDICTS[v] if 0 <= v < len(VERDICTS) else f"bad verdict {v}"


def token_args(token):
    """A `token` record (first, last: u64) as its two flat i64 params."""
    return [as_i64(token[0]), as_i64(token[1])]


def token_from_bytes(data):
    """16 bytes as a token: bytes 0-7 and 8-15, little-endian."""
    return struct.unpack("<QQ", bytes(data))


def authorize_identity(g, handle, op, target):
    return verdict(g.call("authorize-identity", as_i64(handle), *request_args(g, op, target)))


def explain_identity(g, handle, op, target):
    # explanation: allowed@0, deciding@4, malformed@16, groups@28, matched@36, notes@44, text@52
    def explanation(q):
        return {
            "allowed": g.u8(q) == 1,
            "deciding": g.read_option(q + 4, g.read_string),
            "malformed": g.read_option(q + 16, g.read_string),
            "groups": g.read_strings(q + 28),
            "text": g.read_string(q + 52),
        }

    return g.call_ptr("explain-identity", [as_i64(handle), *request_args(g, op, target)],
                      lambda p: g.read_result(p, 4, explanation))


def load(g, config, files, random):
    # file: name@0 (string), contents@8 (result<list<u8>, string>: discriminant u8, payload@12)
    def file(o, nc):
        name, contents = g.string_arg(nc[0]), g.bytes_arg(nc[1])
        g.put(o, "IIBxxxII", *name, 0, *contents)

    files = g.list_arg(files, 20, 4, file)
    return g.call_ptr("load", [*g.bytes_arg(config), *files, *g.bytes_arg(random)],
                      lambda p: g.read_result(p, 4, g.read_strings))


def write_credentials(g, o, creds):
    """A credentials record (5 x option, 12 bytes each) at `o`."""
    fields = ["client_id", "username", "password", "certificate", "psk_identity"]
    for i, field in enumerate(fields):
        value = creds.get(field)
        if value is None:
            g.put(o + 12 * i, "B", 0)
            continue
        ptr, n = g.string_arg(value) if isinstance(value, str) else g.bytes_arg(value)
        g.put(o + 12 * i, "BxxxII", 1, ptr, n)


def read_token(g):
    return lambda q: (g.u64(q), g.u64(q + 8))


def open_session(g, creds, now, random):
    # More than 16 flat params: one pointer to (credentials@0, now@64, random token@72 as two
    # u64), size 88, align 8. result<token, error>: payload alignment 8, so ok/err at offset 8.
    args = g.alloc(88, 8)
    write_credentials(g, args, creds)
    g.put(args + 64, "QQQ", now, *token_from_bytes(random))
    return g.call_ptr("open-session", [args], lambda p: g.read_result(p, 8, read_token(g)))


def authorize(g, session, op, target, now):
    return verdict(g.call("authorize", *token_args(session), *request_args(g, op, target), now))


def psk_key(g, identity):
    return g.call_ptr("psk-key", g.string_arg(identity), lambda p: g.read_option(p, g.read_string))


# ---- checks ----------------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, what, cond, got=None):
        if cond:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"not ok - {what}" + ("" if got is None else f" (got {got!r})"))


def allowed(r):
    return r == "allow"


def denied(r):
    return r == "deny"


def err_is(r, case, detail=None):
    err = r.get("err")
    return err is not None and err[0] == case and (detail is None or err[1] == detail)


POLICY = json.dumps({
    "version": 1,
    "groups": [{"name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["own"]}],
    "policies": {"own": [
        {"id": "telemetry", "effect": "allow", "operations": ["publish"],
         "resources": ["topic:sensors/${thingName}/#"]},
        {"id": "no-secrets", "effect": "deny", "operations": ["publish"],
         "resources": ["topic:sensors/+/secret"]},
    ]},
}).encode()
USERS_POLICY = json.dumps({
    "version": 1,
    "groups": [{"name": "everyone", "selectionRule": "*", "policies": ["users"]}],
    "policies": {"users": [
        {"id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:*"],
         "match": "glob"},
        {"id": "own-topics", "effect": "allow", "operations": ["publish"],
         "resources": ["topic:users/${username}/#"]},
    ]},
}).encode()
CONFIG = json.dumps({"version": 1, "policy": "policy.json", "passwords": {"files": ["passwd"]}}).encode()
BROKEN_POLICY = b'{"version":1,"policies":{"p":[{"efect":"allow"}]}}'


def main():
    if len(sys.argv) != 3:
        print("usage: python3 python_host.py MODULE.wasm FIXDIR", file=sys.stderr)
        return 2
    module_path, fixdir = sys.argv[1:]
    check = Checks()

    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, module_path)
    imports = [f"{i.module}::{i.name}" for i in module.imports]
    check("the module imports nothing", not imports, imports)
    store = wasmtime.Store(engine)
    g = Guest(store, wasmtime.Instance(store, module, []))
    check("instantiates with no imports; abi-version is 1", g.call("abi-version") == 1)
    version = g.call_ptr("engine-version", [], g.read_string)
    check(f"engine-version is a non-empty string ({version})", len(version) > 0, version)

    # A policy alone, and identities the host binds.
    bad = unit(g, "load-policy", b"{not json")
    check("load-policy of invalid JSON is err invalid with problems",
          err_is(bad, "invalid") and len(bad["err"][1]) > 0, bad)
    good = unit(g, "load-policy", POLICY)
    check("load-policy of a valid policy is ok", good == {"ok": None}, good)

    bound = bind(g, "certificate", [("thingName", "sensor-7"), ("clientId", "+")])
    check("bind a certificate identity returns a handle", "ok" in bound, bound)
    h = bound.get("ok", 0)

    def pub(topic):
        return authorize_identity(g, h, "publish", topic)

    for what, topic, want in [
        ("publish sensors/sensor-7/t is allowed", "sensors/sensor-7/t", allowed),
        ("publish sensors/sensor-8/t is denied", "sensors/sensor-8/t", denied),
        ("publish sensors/sensor-7/secret is denied (deny wins)", "sensors/sensor-7/secret", denied),
        ("publish to a wildcard topic sensors/# is denied", "sensors/#", denied),
        ("publish to an empty topic is denied", "", denied),
        ("publish to invalid UTF-8 [0xff,0xfe] is denied", bytes([0xFF, 0xFE]), denied),
        ("publish $SYS/x is denied", "$SYS/x", denied),
    ]:
        r = pub(topic)
        check(what, want(r), r)

    wild = bind(g, "certificate", [("thingName", "+")])
    check("bind an identity whose thingName is + returns a handle", "ok" in wild, wild)
    wild_handle = wild.get("ok", 0)
    r = authorize_identity(g, wild_handle, "publish", "sensors/a/t")
    check("thingName + cannot publish sensors/a/t", denied(r), r)

    ex = explain_identity(g, h, "publish", "sensors/sensor-7/t")
    e = ex.get("ok") or {}
    check("explain-identity says allowed, deciding own/telemetry",
          e.get("allowed") is True and e.get("deciding") == "own/telemetry", ex)
    check("explain-identity text mentions own/telemetry", "own/telemetry" in e.get("text", ""), ex)
    exm = explain_identity(g, h, "publish", "sensors/#").get("ok") or {}
    check("explain-identity of publish sensors/# is a denial marked malformed",
          exm.get("allowed") is False and isinstance(exm.get("malformed"), str), exm)
    check("unbind of the wildcard handle is true", g.call("unbind", as_i64(wild_handle)) == 1)
    check("unbind again is false", g.call("unbind", as_i64(wild_handle)) == 0)

    broken = unit(g, "reload-policy", BROKEN_POLICY)
    check("reload-policy of a broken policy is err invalid", err_is(broken, "invalid"), broken)
    r = pub("sensors/sensor-7/t")
    check("the old policy still decides after the failed reload", allowed(r), r)

    # A configuration with a password file, then sessions.
    with open(os.path.join(fixdir, "passwd"), "rb") as f:
        passwd = f.read()
    loaded = load(g, CONFIG, [("policy.json", USERS_POLICY), ("passwd", passwd)], os.urandom(32))
    check(f"load of a configuration with a password file is ok with a warnings list ({loaded.get('ok')!r})",
          isinstance(loaded.get("ok"), list), loaded)

    now = int(time.time())
    admin = {"client_id": "c1", "username": "admin", "password": b"s3cret"}
    opened = open_session(g, admin, now, os.urandom(16))
    token = opened.get("ok") or (0, 0)
    check("open-session with the right password returns a token",
          isinstance(opened.get("ok"), tuple) and len(opened["ok"]) == 2, opened)
    r = authorize(g, token, "publish", "users/admin/x", now)
    check("session publish users/admin/x is allowed", allowed(r), r)
    r = authorize(g, token, "publish", "users/bob/x", now)
    check("session publish users/bob/x is denied", denied(r), r)
    check("session-count is 1", g.call("session-count") == 1)
    wrong = open_session(g, {**admin, "password": b"nope"}, now, os.urandom(16))
    check("open-session with a wrong password is err rejected wrong-secret",
          err_is(wrong, "rejected", "wrong-secret"), wrong)
    check("close-session is true", g.call("close-session", *token_args(token)) == 1)
    r = authorize(g, token, "publish", "users/admin/x", now)
    check("authorize after close is unknown-session", r == "unknown-session", r)
    r = authorize(g, (0, 0), "publish", "users/admin/x", now)
    check("authorize with an all-zero token (never opened) is unknown-session",
          r == "unknown-session", r)

    r = psk_key(g, "nobody")
    check("psk-key of an unknown identity is none", r is None, r)

    print(f"{check.passed} passed, {check.failed} failed")
    return 0 if check.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
