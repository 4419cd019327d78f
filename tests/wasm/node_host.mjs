// Runs the mqward core WebAssembly module (target/mqward-wasm/mqward.wasm) in Node.js with
// nothing but the built-in `WebAssembly` API, and checks that it decides as the Rust engine does.
//
// What this proves: the module imports nothing (it instantiates with `{}`), its exports follow the
// component model's canonical ABI closely enough that a host other than wasmtime-rs can call them
// by hand, and policy decisions, password authentication and sessions behave as in mqward-core
// (malformed requests, `$` topics and wildcard identities are denied, a broken reload keeps the
// old policy, a closed session is unknown).
//
// Usage: node tests/wasm/node_host.mjs MODULE.wasm FIXDIR   (FIXDIR/passwd: mosquitto_passwd file)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

const PREFIX = "mqward:engine/engine@0.1.0#";
const ERROR_CASES = ["invalid", "rejected", "invalid-argument", "not-loaded", "internal"];
const REJECTIONS = [
  "malformed", "too-large", "unknown-identity", "wrong-secret", "bad-signature", "unknown-issuer",
  "wrong-usage", "wrong-algorithm", "weak-key", "expired", "not-yet-valid", "revoked", "suspended",
  "wrong-issuer", "wrong-audience", "unsupported-critical", "missing-claim", "client-id-mismatch",
  "disabled", "unknown-session", "too-many-sessions", "connect-denied", "missing-field",
  "stale-revocation-list",
];
const VERDICTS = ["allow", "deny", "unknown-session", "failed"];
const OP = { connect: 0, publish: 1, subscribe: 2, receive: 3, unsubscribe: 4 };

// ---- canonical ABI helpers ------------------------------------------------------------------

/** Calls into one instance; every pointer is an offset into its linear memory. */
class Guest {
  constructor(instance) {
    this.ex = instance.exports;
    this.utf8 = new TextEncoder();
    this.text = new TextDecoder("utf-8", { fatal: true });
  }
  // The buffer is replaced when memory grows, so take a fresh view every time.
  view() { return new DataView(this.ex.memory.buffer); }
  bytesAt(ptr, len) { return new Uint8Array(this.ex.memory.buffer, ptr, len); }

  alloc(size, align) { return this.ex.cabi_realloc(0, 0, align, size) >>> 0; }
  /** Copies bytes into guest memory: [ptr, len]. The callee owns (and frees) them. */
  bytes(data) {
    const ptr = this.alloc(data.length, 1);
    this.bytesAt(ptr, data.length).set(data);
    return [ptr, data.length];
  }
  string(s) { return this.bytes(this.utf8.encode(s)); }
  /** A list of fixed-size records, each written by `write(view, offset, item)`. */
  list(items, size, align, write) {
    const ptr = this.alloc(items.length * size, align);
    items.forEach((item, i) => write(this.view(), ptr + i * size, item));
    return [ptr, items.length];
  }

  u8(p) { return this.view().getUint8(p); }
  u32(p) { return this.view().getUint32(p, true); }
  u64(p) { return this.view().getBigUint64(p, true); }
  readBytes(p) { return Uint8Array.from(this.bytesAt(this.u32(p), this.u32(p + 4))); }
  readString(p) { return this.text.decode(this.readBytes(p)); }
  readStrings(p) {
    const [base, n] = [this.u32(p), this.u32(p + 4)];
    return Array.from({ length: n }, (_, i) => this.readString(base + 8 * i));
  }
  readOption(p, read) { return this.u8(p) === 0 ? null : read(p + 4); }

  /** The `error` variant at `p`: { case, detail }. */
  readError(p) {
    const kase = ERROR_CASES[this.u8(p)];
    let detail = null;
    if (kase === "invalid") detail = this.readProblems(p + 4);
    if (kase === "rejected") detail = REJECTIONS[this.u8(p + 4)];
    if (kase === "invalid-argument" || kase === "internal") detail = this.readString(p + 4);
    return { case: kase, detail };
  }
  /** list<problem>: problem = location variant (24 bytes) then message string at 24; 32 bytes. */
  readProblems(p) {
    const [base, n] = [this.u32(p), this.u32(p + 4)];
    return Array.from({ length: n }, (_, i) => this.readString(base + 32 * i + 24));
  }
  /** `result<T, error>` at `p`, payload at `offset`: { ok } or { err }. */
  readResult(p, offset, readOk) {
    return this.u8(p) === 0 ? { ok: readOk ? readOk(p + offset) : null } : { err: this.readError(p + offset) };
  }

  /** Calls an export returning a pointer, reads it with `read`, then frees it with cabi_post. */
  callPtr(name, args, read) {
    const ret = this.ex[PREFIX + name](...args) >>> 0;
    try { return read(ret); } finally {
      const post = this.ex["cabi_post_" + PREFIX + name];
      if (post) post(ret);
    }
  }
  call(name, ...args) { return this.ex[PREFIX + name](...args); }
}

// ---- the engine's functions, typed ----------------------------------------------------------

/** option<u8> / option<bool> as (disc, value); unknown QoS and retain here. */
const NO_QOS = [0, 0], NO_RETAIN = [0, 0];

function unit(g, name, doc) {
  return g.callPtr(name, g.bytes(doc), (p) => g.readResult(p, 4, null));
}
function bind(g, kind, attrs) {
  const pairs = g.list(attrs, 16, 4, (v, o, [k, val]) => {
    const [kp, kl] = g.string(k), [vp, vl] = g.string(val);
    v.setUint32(o, kp, true); v.setUint32(o + 4, kl, true);
    v.setUint32(o + 8, vp, true); v.setUint32(o + 12, vl, true);
  });
  return g.callPtr("bind", [...g.string(kind), ...pairs], (p) => g.readResult(p, 8, (q) => g.u64(q)));
}
function requestArgs(g, op, target) {
  const bytes = typeof target === "string" ? new TextEncoder().encode(target) : Uint8Array.from(target);
  return [OP[op], ...g.bytes(bytes), ...NO_QOS, ...NO_RETAIN];
}
/** A `verdict` enum, returned directly as an i32 (no return pointer, no cabi_post). */
function verdict(v) { return VERDICTS[v] ?? `bad verdict ${v}`; }
/** A `token` record { first, last } (u64 BigInts) as its two flat i64 params. */
function tokenArgs(t) { return [BigInt.asIntN(64, t.first), BigInt.asIntN(64, t.last)]; }
/** 16 bytes as a token: bytes 0-7 and 8-15, little-endian. */
function tokenFromBytes(data) {
  const v = new DataView(Uint8Array.from(data).buffer);
  return { first: v.getBigUint64(0, true), last: v.getBigUint64(8, true) };
}
function authorizeIdentity(g, handle, op, target) {
  return verdict(g.call("authorize-identity", handle, ...requestArgs(g, op, target)));
}
function explainIdentity(g, handle, op, target) {
  // explanation: allowed@0, deciding@4, malformed@16, groups@28, matched@36, notes@44, text@52
  return g.callPtr("explain-identity", [handle, ...requestArgs(g, op, target)],
    (p) => g.readResult(p, 4, (q) => ({
      allowed: g.u8(q) === 1,
      deciding: g.readOption(q + 4, (r) => g.readString(r)),
      malformed: g.readOption(q + 16, (r) => g.readString(r)),
      groups: g.readStrings(q + 28),
      text: g.readString(q + 52),
    })));
}
function load(g, config, files, random) {
  // file: name@0 (string), contents@8 (result<list<u8>, string>: disc u8, payload@12)
  const list = g.list(files, 20, 4, (v, o, [name, contents]) => {
    const [np, nl] = g.string(name), [cp, cl] = g.bytes(contents);
    v.setUint32(o, np, true); v.setUint32(o + 4, nl, true);
    v.setUint8(o + 8, 0); v.setUint32(o + 12, cp, true); v.setUint32(o + 16, cl, true);
  });
  return g.callPtr("load", [...g.bytes(config), ...list, ...g.bytes(random)],
    (p) => g.readResult(p, 4, (q) => g.readStrings(q)));
}
/** Writes a credentials record (5 × option, 12 bytes each) at `o`. */
function writeCredentials(g, o, creds) {
  const fields = ["clientId", "username", "password", "certificate", "pskIdentity"];
  fields.forEach((f, i) => {
    const at = o + 12 * i, value = creds[f];
    if (value === undefined) { g.view().setUint8(at, 0); return; }
    const [p, l] = typeof value === "string" ? g.string(value) : g.bytes(value);
    const v = g.view();
    v.setUint8(at, 1); v.setUint32(at + 4, p, true); v.setUint32(at + 8, l, true);
  });
}
function openSession(g, creds, now, random) {
  // More than 16 flat params: one pointer to (credentials@0, now@64, random token@72 as two u64),
  // size 88, align 8. result<token, error>: payload alignment 8, so ok/err at offset 8.
  const args = g.alloc(88, 8);
  writeCredentials(g, args, creds);
  const t = tokenFromBytes(random);
  const v = g.view();
  v.setBigUint64(args + 64, BigInt(now), true);
  v.setBigUint64(args + 72, t.first, true); v.setBigUint64(args + 80, t.last, true);
  return g.callPtr("open-session", [args], (p) => g.readResult(p, 8, (q) => ({ first: g.u64(q), last: g.u64(q + 8) })));
}
function authorize(g, session, op, target, now) {
  return verdict(g.call("authorize", ...tokenArgs(session), ...requestArgs(g, op, target), BigInt(now)));
}
function pskKey(g, identity) {
  return g.callPtr("psk-key", g.string(identity), (p) => g.readOption(p, (q) => g.readString(q)));
}

// ---- checks ---------------------------------------------------------------------------------

let passed = 0, failed = 0;
function check(what, cond, got) {
  if (cond) { passed++; console.log(`ok - ${what}`); }
  else { failed++; console.log(`not ok - ${what}${got === undefined ? "" : ` (got ${JSON.stringify(got, jsonBig)})`}`); }
}
function jsonBig(_k, v) { return typeof v === "bigint" ? v.toString() : v; }
const allowed = (r) => r === "allow";
const denied = (r) => r === "deny";
const errIs = (r, kase, detail) => r.err !== undefined && r.err.case === kase && (detail === undefined || r.err.detail === detail);

const POLICY = JSON.stringify({
  version: 1,
  groups: [{ name: "sensors", selectionRule: "thingName: sensor-*", policies: ["own"] }],
  policies: {
    own: [
      { id: "telemetry", effect: "allow", operations: ["publish"], resources: ["topic:sensors/${thingName}/#"] },
      { id: "no-secrets", effect: "deny", operations: ["publish"], resources: ["topic:sensors/+/secret"] },
    ],
  },
});
const USERS_POLICY = JSON.stringify({
  version: 1,
  groups: [{ name: "everyone", selectionRule: "*", policies: ["users"] }],
  policies: {
    users: [
      { id: "connect", effect: "allow", operations: ["connect"], resources: ["clientId:*"], match: "glob" },
      { id: "own-topics", effect: "allow", operations: ["publish"], resources: ["topic:users/${username}/#"] },
    ],
  },
});
const CONFIG = JSON.stringify({ version: 1, policy: "policy.json", passwords: { files: ["passwd"] } });

function main() {
  const [modulePath, fixdir] = process.argv.slice(2);
  if (!modulePath || !fixdir) {
    console.error("usage: node node_host.mjs MODULE.wasm FIXDIR");
    process.exit(2);
  }
  const module = new WebAssembly.Module(readFileSync(modulePath));
  const imports = WebAssembly.Module.imports(module);
  check("the module imports nothing", imports.length === 0, imports);
  const g = new Guest(new WebAssembly.Instance(module, {}));
  check("instantiates with no imports; abi-version is 1", g.call("abi-version") === 1);
  const version = g.callPtr("engine-version", [], (p) => g.readString(p));
  check(`engine-version is a non-empty string (${version})`, version.length > 0, version);

  // A policy alone, and identities the host binds.
  const bad = unit(g, "load-policy", new TextEncoder().encode("{not json"));
  check("load-policy of invalid JSON is err invalid with problems", errIs(bad, "invalid") && bad.err.detail.length > 0, bad);
  const good = unit(g, "load-policy", new TextEncoder().encode(POLICY));
  check("load-policy of a valid policy is ok", good.ok === null, good);

  const bound = bind(g, "certificate", [["thingName", "sensor-7"], ["clientId", "+"]]);
  check("bind a certificate identity returns a handle", bound.ok !== undefined, bound);
  const h = bound.ok ?? 0n;
  const pub = (topic) => authorizeIdentity(g, h, "publish", topic);
  let r;
  check("publish sensors/sensor-7/t is allowed", allowed(r = pub("sensors/sensor-7/t")), r);
  check("publish sensors/sensor-8/t is denied", denied(r = pub("sensors/sensor-8/t")), r);
  check("publish sensors/sensor-7/secret is denied (deny wins)", denied(r = pub("sensors/sensor-7/secret")), r);
  check("publish to a wildcard topic sensors/# is denied", denied(r = pub("sensors/#")), r);
  check("publish to an empty topic is denied", denied(r = pub("")), r);
  check("publish to invalid UTF-8 [0xff,0xfe] is denied", denied(r = pub([0xff, 0xfe])), r);
  check("publish $SYS/x is denied", denied(r = pub("$SYS/x")), r);

  const wild = bind(g, "certificate", [["thingName", "+"]]);
  check("bind an identity whose thingName is + returns a handle", wild.ok !== undefined, wild);
  r = authorizeIdentity(g, wild.ok ?? 0n, "publish", "sensors/a/t");
  check("thingName + cannot publish sensors/a/t", denied(r), r);

  const ex = explainIdentity(g, h, "publish", "sensors/sensor-7/t");
  check("explain-identity says allowed, deciding own/telemetry",
    ex.ok?.allowed === true && ex.ok?.deciding === "own/telemetry", ex);
  check("explain-identity text mentions own/telemetry", ex.ok?.text.includes("own/telemetry"), ex);
  const exm = explainIdentity(g, h, "publish", "sensors/#");
  check("explain-identity of publish sensors/# is a denial marked malformed",
    exm.ok?.allowed === false && typeof exm.ok?.malformed === "string", exm);
  check("unbind of the wildcard handle is true", g.call("unbind", wild.ok ?? 0n) === 1);
  check("unbind again is false", g.call("unbind", wild.ok ?? 0n) === 0);

  const broken = unit(g, "reload-policy", new TextEncoder().encode('{"version":1,"policies":{"p":[{"efect":"allow"}]}}'));
  check("reload-policy of a broken policy is err invalid", errIs(broken, "invalid"), broken);
  check("the old policy still decides after the failed reload", allowed(r = pub("sensors/sensor-7/t")), r);

  // A configuration with a password file, then sessions.
  const passwd = readFileSync(join(fixdir, "passwd"));
  const loaded = load(g, new TextEncoder().encode(CONFIG),
    [["policy.json", new TextEncoder().encode(USERS_POLICY)], ["passwd", passwd]], randomBytes(32));
  check(`load of a configuration with a password file is ok with a warnings list (${JSON.stringify(loaded.ok)})`,
    Array.isArray(loaded.ok), loaded);

  const now = Math.floor(Date.now() / 1000);
  const admin = { clientId: "c1", username: "admin", password: new TextEncoder().encode("s3cret") };
  const opened = openSession(g, admin, now, randomBytes(16));
  check("open-session with the right password returns a token",
    typeof opened.ok?.first === "bigint" && typeof opened.ok?.last === "bigint", opened);
  const token = opened.ok ?? { first: 0n, last: 0n };
  check("session publish users/admin/x is allowed", allowed(r = authorize(g, token, "publish", "users/admin/x", now)), r);
  check("session publish users/bob/x is denied", denied(r = authorize(g, token, "publish", "users/bob/x", now)), r);
  check("session-count is 1", g.call("session-count") === 1);
  const wrong = openSession(g, { ...admin, password: new TextEncoder().encode("nope") }, now, randomBytes(16));
  check("open-session with a wrong password is err rejected wrong-secret", errIs(wrong, "rejected", "wrong-secret"), wrong);
  check("close-session is true", g.call("close-session", ...tokenArgs(token)) === 1);
  r = authorize(g, token, "publish", "users/admin/x", now);
  check("authorize after close is unknown-session", r === "unknown-session", r);
  r = authorize(g, { first: 0n, last: 0n }, "publish", "users/admin/x", now);
  check("authorize with an all-zero token (never opened) is unknown-session", r === "unknown-session", r);

  r = pskKey(g, "nobody");
  check("psk-key of an unknown identity is none", r === null, r);

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
