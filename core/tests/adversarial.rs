//! Adversarial tests: one test per security rule, each decided under every matcher strategy.
//!
//! Hostile identities (wildcards, `/`, NUL and empty values in client ids, usernames, thing
//! names, certificate fields and claims), `$` topics and shared subscriptions, malformed and
//! look-alike resources, the longest and deepest topics, pathological globs, failed reloads,
//! load errors that must say where they are, and decisions racing reloads.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use mqward_core::{
    Builder, CertField, Document, Engine, Identity, IdentityKind, Operation, Request, Snapshot,
    Strategy,
};

mod common;
use common::answer;

const STRATEGIES: [Strategy; 2] = [Strategy::Indexed, Strategy::Linear];

/// Values that must never act as wildcards or span levels once substituted.
const UNSAFE_VALUES: &[&str] = &[
    "+", "#", "a/b", "\0", "*", "?", "/", "a+", "x#y", "+/#", "a*", "b?c", "ok\0", "../x", "$SYS",
];

/// How long a child process deciding a few large requests may run before the test reports it
/// as hung. Not a performance bound (a decision takes microseconds to milliseconds); it only
/// turns an endless computation into a failure.
const HANG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn document(json: &str) -> Document {
    Document::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

/// A document with one group selecting everyone and one policy `p` of these statements.
fn policy(statements: &[String]) -> Document {
    document(&format!(
        r#"{{"version":1,"groups":[{{"name":"all","selectionRule":"*","policies":["p"]}}],
            "policies":{{"p":[{}]}}}}"#,
        statements.join(",")
    ))
}

fn statement(id: &str, effect: &str, ops: &str, resources: &[String], mode: &str) -> String {
    let resources: Vec<String> = resources
        .iter()
        .map(|r| serde_json::to_string(r).expect("string"))
        .collect();
    format!(
        r#"{{"id":"{id}","effect":"{effect}","operations":[{ops}],"resources":[{}],"match":"{mode}"}}"#,
        resources.join(",")
    )
}

/// The document compiled under every strategy.
struct Compiled {
    snapshots: Vec<(Strategy, Arc<Snapshot>)>,
}

impl Compiled {
    /// Under one strategy only.
    fn only(doc: &Document, strategy: Strategy) -> Compiled {
        let snap = Builder::new()
            .strategy(strategy)
            .build(doc)
            .unwrap_or_else(|e| panic!("{strategy:?}: {e}"));
        Compiled {
            snapshots: vec![(strategy, Arc::new(snap))],
        }
    }

    fn new(doc: &Document) -> Compiled {
        let snapshots = STRATEGIES
            .iter()
            .map(|&s| {
                let snap = Builder::new()
                    .strategy(s)
                    .build(doc)
                    .unwrap_or_else(|e| panic!("{s:?}: {e}"));
                (s, Arc::new(snap))
            })
            .collect();
        Compiled { snapshots }
    }

    /// Each strategy's answer.
    fn answers(&self, id: &Identity, req: &Request<'_>) -> Vec<(Strategy, String)> {
        self.snapshots
            .iter()
            .map(|(s, snap)| (*s, answer(&snap.bind(id.clone()).decide(req))))
            .collect()
    }
}

/// Collects every failed expectation of a test and reports them all at the end.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn expect(&mut self, what: &str, got: &[(Strategy, String)], ok: impl Fn(&str) -> bool) {
        if got.iter().any(|(_, a)| !ok(a)) {
            let each: Vec<String> = got.iter().map(|(s, a)| format!("{s:?}: {a}")).collect();
            self.0
                .push(format!("{what}\n      {}", each.join("\n      ")));
        }
    }

    fn expect_eq(&mut self, what: &str, got: &[(Strategy, String)], want: &str) {
        self.expect(&format!("{what} (expected {want})"), got, |a| a == want);
    }

    fn finish(self) {
        if !self.0.is_empty() {
            panic!("{} failure(s):\n  {}", self.0.len(), self.0.join("\n  "));
        }
    }
}

fn is_deny_without_statement(a: &str) -> bool {
    a.starts_with("deny (")
}

fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > 80 {
        let head: String = text.chars().take(60).collect();
        format!("{head:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// An identity with one attribute set, for each way a variable can be fed.
struct VarSource {
    var: &'static str,
    set: fn(Identity, &str) -> Identity,
}

const VAR_SOURCES: &[VarSource] = &[
    VarSource {
        var: "${clientid}",
        set: |i, v| i.with_client_id(v),
    },
    VarSource {
        var: "${iot:ClientId}",
        set: |i, v| i.with_client_id(v),
    },
    VarSource {
        var: "${username}",
        set: |i, v| i.with_username(v),
    },
    VarSource {
        var: "${thingName}",
        set: |i, v| i.with_thing_name(v),
    },
    VarSource {
        var: "${iot:Connection.Thing.ThingName}",
        set: |i, v| i.with_thing_name(v),
    },
    VarSource {
        var: "${cert.subject.cn}",
        set: |i, v| i.with_cert_field(CertField::SubjectCn, v),
    },
    VarSource {
        var: "${cert.san.uri}",
        set: |i, v| i.with_cert_field(CertField::SanUri, v),
    },
    VarSource {
        var: "${claim.zone}",
        set: |i, v| i.with_claim("zone", v),
    },
];

fn identity_with(source: &VarSource, value: &str) -> Identity {
    // Other attributes hold safe values, so that only the attribute under test is hostile.
    let base = Identity::new(IdentityKind::Certificate)
        .with_client_id("safe-client")
        .with_username("safe-user")
        .with_thing_name("safe-thing")
        .with_cert_field(CertField::SubjectCn, "safe-cn")
        .with_cert_field(CertField::SanUri, "urn:safe")
        .with_claim("zone", "safe-zone");
    (source.set)(base, value)
}

/// Requests an attacker holding `value` would try if the value were substituted unchecked.
fn probing_requests(value: &str) -> Vec<(Operation, Vec<u8>)> {
    let mut out = Vec::new();
    let topics = [
        format!("p/{value}/x"),
        format!("p/{value}"),
        format!("q/{value}"),
        "p/x/y".into(),
        "p/x".into(),
        "p//x".into(),
        "p/a/b/x".into(),
        "p/*/x".into(),
        "p/?/x".into(),
        "q/x".into(),
        "q/".into(),
        "q/a/b".into(),
        "$SYS/x".into(),
    ];
    for t in &topics {
        out.push((Operation::Publish, t.as_bytes().to_vec()));
        out.push((Operation::Receive, t.as_bytes().to_vec()));
    }
    let filters = [
        format!("p/{value}/#"),
        format!("p/{value}"),
        format!("q/{value}"),
        "p/+/#".into(),
        "p/+".into(),
        "p/#".into(),
        "q/+".into(),
        "q/#".into(),
        "#".into(),
        "+/#".into(),
        "p/x/#".into(),
        "p/*/x".into(),
        "p/*".into(),
    ];
    for f in &filters {
        out.push((Operation::Subscribe, f.as_bytes().to_vec()));
        out.push((Operation::Unsubscribe, f.as_bytes().to_vec()));
    }
    for c in [value, "x", "a/b", "+", "#", "*", "?", "safe-client"] {
        out.push((Operation::Connect, c.as_bytes().to_vec()));
    }
    out
}

/// Per match mode: the resources of an allow (or deny) statement using `var`, and a request
/// that the statement grants when the variable holds the safe value `ok`.
fn var_resources(mode: &str, var: &str) -> (Vec<String>, (Operation, String)) {
    match mode {
        "mqtt" => (
            vec![
                format!("topic:p/{var}/#"),
                format!("topic:q/{var}"),
                format!("topicfilter:p/{var}/#"),
                format!("topicfilter:q/{var}"),
                format!("clientId:{var}"),
            ],
            (Operation::Publish, "p/ok/x".into()),
        ),
        "glob" => (
            vec![
                format!("topic:p/{var}/*"),
                format!("topic:q/{var}"),
                format!("topicfilter:p/{var}/*"),
                format!("topicfilter:q/{var}"),
                format!("clientId:{var}"),
            ],
            (Operation::Publish, "p/ok/x".into()),
        ),
        _ => (
            vec![
                format!("topic:p/{var}"),
                format!("topic:q/{var}"),
                format!("topicfilter:p/{var}"),
                format!("topicfilter:q/{var}"),
                format!("clientId:{var}"),
            ],
            (Operation::Publish, "p/ok".into()),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Variables holding wildcards, separators, NUL or nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn allow_never_widens_for_wildcard_or_empty_values() {
    let mut f = Failures::default();
    for mode in ["mqtt", "glob", "exact"] {
        for source in VAR_SOURCES {
            let (resources, live) = var_resources(mode, source.var);
            let doc = policy(&[statement("own", "allow", r#""*""#, &resources, mode)]);
            let c = Compiled::new(&doc);
            // The statement is live: the safe value `ok` is granted.
            let ok = identity_with(source, "ok");
            let req = Request::new(live.0, live.1.as_bytes());
            f.expect_eq(
                &format!("[{mode}] {} = \"ok\": {} {:?}", source.var, live.0, live.1),
                &c.answers(&ok, &req),
                "allow by p/own",
            );
            for value in UNSAFE_VALUES.iter().copied().chain([""]) {
                let id = identity_with(source, value);
                for (op, resource) in probing_requests(value) {
                    let req = Request::new(op, &resource).with_qos(0).with_retain(false);
                    f.expect(
                        &format!(
                            "[{mode}] {} = {value:?}: {op} {} must be denied with no statement",
                            source.var,
                            show(&resource)
                        ),
                        &c.answers(&id, &req),
                        is_deny_without_statement,
                    );
                }
            }
            // An absent attribute never matches either.
            let absent = Identity::new(IdentityKind::Anonymous);
            for (op, resource) in probing_requests("ok") {
                let req = Request::new(op, &resource);
                f.expect(
                    &format!("[{mode}] {} absent: {op} {}", source.var, show(&resource)),
                    &c.answers(&absent, &req),
                    is_deny_without_statement,
                );
            }
        }
    }
    f.finish();
}

#[test]
fn deny_fails_closed_for_wildcard_values_and_never_matches_for_empty_ones() {
    let mut f = Failures::default();
    for mode in ["mqtt", "glob", "exact"] {
        for source in VAR_SOURCES {
            let (resources, _) = var_resources(mode, source.var);
            let topic: Vec<String> = resources
                .iter()
                .filter(|r| r.starts_with("topic:"))
                .cloned()
                .collect();
            let filter: Vec<String> = resources
                .iter()
                .filter(|r| r.starts_with("topicfilter:"))
                .cloned()
                .collect();
            let client: Vec<String> = resources
                .iter()
                .filter(|r| r.starts_with("clientId:"))
                .cloned()
                .collect();
            let doc = policy(&[
                statement("all", "allow", r#""*""#, &["*".to_string()], "mqtt"),
                statement(
                    "guard-topic",
                    "deny",
                    r#""publish","receive""#,
                    &topic,
                    mode,
                ),
                statement(
                    "guard-filter",
                    "deny",
                    r#""subscribe","unsubscribe""#,
                    &filter,
                    mode,
                ),
                statement("guard-client", "deny", r#""connect""#, &client, mode),
            ]);
            let c = Compiled::new(&doc);
            let requests: &[(Operation, &str, &str)] = &[
                (Operation::Publish, "unrelated/topic", "guard-topic"),
                (Operation::Publish, "$SYS/broker/load", "guard-topic"),
                (Operation::Publish, "p", "guard-topic"),
                (Operation::Receive, "x", "guard-topic"),
                (Operation::Subscribe, "unrelated/#", "guard-filter"),
                (Operation::Subscribe, "$SYS/#", "guard-filter"),
                (Operation::Subscribe, "#", "guard-filter"),
                (Operation::Unsubscribe, "x/y", "guard-filter"),
                (Operation::Subscribe, "$share/g/x", "guard-filter"),
                (Operation::Connect, "anyone", "guard-client"),
                (Operation::Connect, "$weird", "guard-client"),
            ];
            for value in UNSAFE_VALUES {
                let id = identity_with(source, value);
                for (op, resource, guard) in requests {
                    f.expect_eq(
                        &format!("[{mode}] {} = {value:?}: {op} {resource:?}", source.var),
                        &c.answers(&id, &Request::new(*op, resource.as_bytes())),
                        &format!("deny by p/{guard}"),
                    );
                }
            }
            // Empty and absent values: the deny never matches, the allow decides.
            let empty = identity_with(source, "");
            let absent = Identity::new(IdentityKind::Anonymous);
            for (who, id) in [("empty", &empty), ("absent", &absent)] {
                for (op, resource, _) in requests {
                    f.expect_eq(
                        &format!("[{mode}] {} {who}: {op} {resource:?}", source.var),
                        &c.answers(id, &Request::new(*op, resource.as_bytes())),
                        "allow by p/all",
                    );
                }
            }
            // A safe value denies only its own resources.
            let safe = identity_with(source, "ok");
            f.expect_eq(
                &format!("[{mode}] {} = \"ok\": unrelated publish", source.var),
                &c.answers(&safe, &Request::publish("unrelated/topic")),
                "allow by p/all",
            );
            f.expect_eq(
                &format!("[{mode}] {} = \"ok\": connect ok", source.var),
                &c.answers(&safe, &Request::connect("ok")),
                "deny by p/guard-client",
            );
        }
    }
    f.finish();
}

#[test]
fn values_are_substituted_literally_never_reexpanded() {
    let mut f = Failures::default();
    let doc = policy(&[
        statement(
            "own",
            "allow",
            r#""publish""#,
            &["topic:c/${clientid}/#".to_string()],
            "mqtt",
        ),
        statement(
            "own-glob",
            "allow",
            r#""publish""#,
            &["topic:g/${clientid}".to_string()],
            "glob",
        ),
    ]);
    let c = Compiled::new(&doc);
    let tricky = Identity::new(IdentityKind::Password)
        .with_client_id("x${username}")
        .with_username("bob");
    f.expect_eq(
        "client id `x${username}`: its literal topic",
        &c.answers(&tricky, &Request::publish("c/x${username}/x")),
        "allow by p/own",
    );
    f.expect_eq(
        "client id `x${username}`: not re-expanded",
        &c.answers(&tricky, &Request::publish("c/xbob/x")),
        "deny (no match)",
    );
    f.expect_eq(
        "client id `x${username}`: glob, not re-expanded",
        &c.answers(&tricky, &Request::publish("g/xbob")),
        "deny (no match)",
    );
    // Characters special to regex or glob engines other than `*` and `?` are plain text.
    for value in [
        "[a-z]", "{a,b}", "a\\b", ".", "a.b", "(x|y)", "^a$", "%c", "%u", "a$SYS",
    ] {
        let id = Identity::new(IdentityKind::Password).with_client_id(value);
        f.expect_eq(
            &format!("client id {value:?}: own glob topic"),
            &c.answers(&id, &Request::publish(&format!("g/{value}"))),
            "allow by p/own-glob",
        );
        f.expect_eq(
            &format!("client id {value:?}: no pattern meaning in glob mode"),
            &c.answers(&id, &Request::publish("g/a")),
            "deny (no match)",
        );
        f.expect_eq(
            &format!("client id {value:?}: no pattern meaning in mqtt mode"),
            &c.answers(&id, &Request::publish("c/a/x")),
            "deny (no match)",
        );
    }
    f.finish();
}

// ---------------------------------------------------------------------------------------------
// `$` topics and shared subscriptions
// ---------------------------------------------------------------------------------------------

#[test]
fn dollar_topics_are_out_of_reach_of_leading_wildcards() {
    let mut f = Failures::default();
    let broad = policy(&[
        statement(
            "hash",
            "allow",
            r#""publish","receive""#,
            &["topic:#".into()],
            "mqtt",
        ),
        statement(
            "plus-hash",
            "allow",
            r#""publish","receive""#,
            &["topic:+/#".into()],
            "mqtt",
        ),
        statement(
            "plus-plus",
            "allow",
            r#""publish","receive""#,
            &["topic:+/+".into()],
            "mqtt",
        ),
        statement(
            "plus",
            "allow",
            r#""publish","receive""#,
            &["topic:+".into()],
            "mqtt",
        ),
        statement(
            "star",
            "allow",
            r#""publish","receive""#,
            &["topic:*".into()],
            "glob",
        ),
        statement(
            "one-star",
            "allow",
            r#""publish","receive""#,
            &["topic:?*".into()],
            "glob",
        ),
        statement(
            "filters",
            "allow",
            r#""subscribe","unsubscribe""#,
            &[
                "topicfilter:#".into(),
                "topicfilter:+/#".into(),
                "topicfilter:+".into(),
            ],
            "mqtt",
        ),
        statement(
            "glob-filters",
            "allow",
            r#""subscribe""#,
            &["topicfilter:*".into()],
            "glob",
        ),
    ]);
    let c = Compiled::new(&broad);
    let id = Identity::new(IdentityKind::Certificate).with_client_id("c");
    for topic in [
        "$SYS/broker/uptime",
        "$SYS",
        "$",
        "$share/g/x",
        "$queue/x",
        "$aws/things/t1/shadow/update",
        "$SYS/a/b/c/d",
        "$$/x",
    ] {
        for op in [Operation::Publish, Operation::Receive] {
            f.expect_eq(
                &format!("{op} {topic:?} under leading-wildcard allows"),
                &c.answers(&id, &Request::new(op, topic.as_bytes())),
                "deny (no match)",
            );
        }
    }
    for filter in [
        "$SYS/#",
        "$SYS/+",
        "$SYS",
        "$share/g/$SYS/#",
        "$queue/$SYS/x",
        "$share/g/$x",
        "$x/#",
    ] {
        for op in [Operation::Subscribe, Operation::Unsubscribe] {
            f.expect_eq(
                &format!("{op} {filter:?} under leading-wildcard allows"),
                &c.answers(&id, &Request::new(op, filter.as_bytes())),
                "deny (no match)",
            );
        }
    }
    // Sanity: the same allows do match ordinary topics and filters.
    f.expect_eq(
        "ordinary topic",
        &c.answers(&id, &Request::publish("SYS/x")),
        "allow by p/hash",
    );
    f.expect_eq(
        "ordinary filter",
        &c.answers(&id, &Request::subscribe("#")),
        "allow by p/filters",
    );

    // An explicit `$` allow works; a broad deny still reaches `$` topics (fail closed).
    let explicit = policy(&[
        statement(
            "sys",
            "allow",
            r#""*""#,
            &["topic:$SYS/#".into(), "topicfilter:$SYS/#".into()],
            "mqtt",
        ),
        statement(
            "no-secret",
            "deny",
            r#""publish""#,
            &["topic:+/secret/#".into()],
            "mqtt",
        ),
        statement(
            "no-receive",
            "deny",
            r#""receive""#,
            &["topic:#".into()],
            "mqtt",
        ),
        statement(
            "no-glob",
            "deny",
            r#""publish""#,
            &["topic:*/glob".into()],
            "glob",
        ),
        statement(
            "no-sub",
            "deny",
            r#""subscribe""#,
            &["topicfilter:+/private".into()],
            "mqtt",
        ),
    ]);
    let c = Compiled::new(&explicit);
    f.expect_eq(
        "explicit $SYS allow",
        &c.answers(&id, &Request::publish("$SYS/broker/load")),
        "allow by p/sys",
    );
    f.expect_eq(
        "deny +/secret/# reaches $SYS/secret",
        &c.answers(&id, &Request::publish("$SYS/secret/x")),
        "deny by p/no-secret",
    );
    f.expect_eq(
        "deny # reaches a $SYS receive",
        &c.answers(&id, &Request::receive("$SYS/broker/load")),
        "deny by p/no-receive",
    );
    f.expect_eq(
        "deny glob */glob reaches $SYS/glob",
        &c.answers(&id, &Request::publish("$SYS/glob")),
        "deny by p/no-glob",
    );
    f.expect_eq(
        "deny +/private reaches a $SYS/private subscription",
        &c.answers(&id, &Request::subscribe("$SYS/private")),
        "deny by p/no-sub",
    );
    f.expect_eq(
        "subscription to $SYS/#",
        &c.answers(&id, &Request::subscribe("$SYS/#")),
        "deny by p/no-sub",
    );
    f.expect_eq(
        "subscription to $SYS/+/x",
        &c.answers(&id, &Request::subscribe("$SYS/+/x")),
        "allow by p/sys",
    );
    f.finish();
}

#[test]
fn shared_subscriptions_are_authorized_on_the_inner_filter_only() {
    let mut f = Failures::default();
    let doc = policy(&[
        statement(
            "jobs",
            "allow",
            r#""subscribe","unsubscribe""#,
            &["topicfilter:jobs/#".into()],
            "mqtt",
        ),
        statement(
            "no-admin",
            "deny",
            r#""subscribe""#,
            &["topicfilter:jobs/admin/#".into()],
            "mqtt",
        ),
        statement(
            "share-literal",
            "allow",
            r#""subscribe""#,
            &["topicfilter:$share/g/other".into()],
            "mqtt",
        ),
        statement(
            "pub",
            "allow",
            r#""publish""#,
            &["topic:jobs/#".into()],
            "mqtt",
        ),
        statement(
            "no-admin-pub",
            "deny",
            r#""publish""#,
            &["topic:jobs/admin/#".into()],
            "mqtt",
        ),
    ]);
    let c = Compiled::new(&doc);
    let id = Identity::new(IdentityKind::Certificate).with_client_id("worker");
    let cases: &[(&str, &str)] = &[
        ("$share/g/jobs/run/#", "allow by p/jobs"),
        ("$share/jobs/x", "deny (no match)"),
        ("$share/g/#", "deny by p/no-admin"),
        ("$share/g/+/admin", "deny by p/no-admin"),
        ("$share/g/jobs/admin", "deny by p/no-admin"),
        ("$share/g/other", "deny (no match)"),
        ("$share/admin/jobs/x", "allow by p/jobs"),
        (
            "$share/g/$share/g/jobs/x",
            "deny (malformed: InvalidSharedSubscription)",
        ),
        ("$queue/jobs/x", "allow by p/jobs"),
        ("$queue/$SYS/#", "deny (no match)"),
        ("$share/g/$SYS/#", "deny (no match)"),
        ("$share/g:h/jobs/x", "allow by p/jobs"),
        ("$share/ /jobs/x", "allow by p/jobs"),
        ("$share/g//jobs", "deny (no match)"),
        ("$share", "deny (no match)"),
        ("$sharex/g/jobs/x", "deny (no match)"),
        (
            "$share//jobs/x",
            "deny (malformed: InvalidSharedSubscription)",
        ),
        (
            "$share/+/jobs/x",
            "deny (malformed: InvalidSharedSubscription)",
        ),
        (
            "$share/#/jobs",
            "deny (malformed: InvalidSharedSubscription)",
        ),
        (
            "$share/a+b/jobs/x",
            "deny (malformed: InvalidSharedSubscription)",
        ),
        ("$share/g", "deny (malformed: InvalidSharedSubscription)"),
        ("$share/g/", "deny (malformed: InvalidSharedSubscription)"),
        ("$share/", "deny (malformed: InvalidSharedSubscription)"),
        ("$queue/", "deny (malformed: InvalidSharedSubscription)"),
        ("$share/g/jobs/#/x", "deny (malformed: MisplacedHash)"),
        ("$share/g/jobs/x\0", "deny (malformed: Nul)"),
    ];
    for (filter, want) in cases {
        f.expect_eq(
            &format!("subscribe {filter:?}"),
            &c.answers(&id, &Request::subscribe(filter)),
            want,
        );
    }
    // A topic name that merely looks like a shared subscription is an ordinary `$` topic, and
    // MQTT has no path normalization: `..` is a level like any other.
    f.expect_eq(
        "publish to $share/g/jobs/x",
        &c.answers(&id, &Request::publish("$share/g/jobs/x")),
        "deny (no match)",
    );
    f.expect_eq(
        "publish to jobs/../admin",
        &c.answers(&id, &Request::publish("jobs/../admin")),
        "allow by p/pub",
    );
    f.expect_eq(
        "publish to jobs/admin/..",
        &c.answers(&id, &Request::publish("jobs/admin/..")),
        "deny by p/no-admin-pub",
    );
    f.finish();
}

// ---------------------------------------------------------------------------------------------
// Malformed and look-alike resources
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_and_malformed_resources_are_denied_even_when_everything_is_allowed() {
    let mut f = Failures::default();
    let doc = policy(&[statement("all", "allow", r#""*""#, &["*".into()], "mqtt")]);
    let c = Compiled::new(&doc);
    let ids = [
        Identity::new(IdentityKind::Certificate).with_client_id("c"),
        Identity::new(IdentityKind::Anonymous),
    ];
    let every_op: &[(&[u8], &str)] = &[
        (b"", "Empty"),
        (b"a\0b", "Nul"),
        (b"\0", "Nul"),
        (b"a/\xff", "InvalidUtf8"),
        (b"\xc0\xaf", "InvalidUtf8"),
        (b"\xed\xa0\x80", "InvalidUtf8"),
        (b"\xf4\x90\x80\x80", "InvalidUtf8"),
        (b"a\xe2\x82", "InvalidUtf8"),
    ];
    let topics: &[(&[u8], &str)] = &[
        (b"a/+", "WildcardInTopic"),
        (b"+", "WildcardInTopic"),
        (b"#", "WildcardInTopic"),
        (b"a/#", "WildcardInTopic"),
        (b"a#", "WildcardInTopic"),
        (b"a+b/c", "WildcardInTopic"),
        (b"$SYS/#", "WildcardInTopic"),
    ];
    let filters: &[(&[u8], &str)] = &[
        (b"a/#/b", "MisplacedHash"),
        (b"#/", "MisplacedHash"),
        (b"a/b#", "MisplacedHash"),
        (b"##", "MisplacedHash"),
        (b"a/#/#", "MisplacedHash"),
        (b"a/+b", "MisplacedPlus"),
        (b"+a", "MisplacedPlus"),
        (b"++/x", "MisplacedPlus"),
        (b"a/b+", "MisplacedPlus"),
    ];
    for id in &ids {
        for op in Operation::ALL {
            for (bytes, m) in every_op {
                f.expect_eq(
                    &format!("{op} {}", show(bytes)),
                    &c.answers(id, &Request::new(op, bytes)),
                    &format!("deny (malformed: {m})"),
                );
            }
            // QoS above 2 is malformed for every operation.
            for q in [3u8, 4, 128, 255] {
                f.expect_eq(
                    &format!("{op} with qos {q}"),
                    &c.answers(id, &Request::new(op, b"a").with_qos(q)),
                    "deny (malformed: InvalidQos)",
                );
            }
        }
        for op in [Operation::Publish, Operation::Receive] {
            for (bytes, m) in topics {
                f.expect_eq(
                    &format!("{op} {}", show(bytes)),
                    &c.answers(id, &Request::new(op, bytes)),
                    &format!("deny (malformed: {m})"),
                );
            }
        }
        for op in [Operation::Subscribe, Operation::Unsubscribe] {
            for (bytes, m) in filters {
                f.expect_eq(
                    &format!("{op} {}", show(bytes)),
                    &c.answers(id, &Request::new(op, bytes)),
                    &format!("deny (malformed: {m})"),
                );
            }
        }
    }
    // Wildcard characters in a client id are data, not malformed.
    let id = &ids[0];
    for client in ["+", "#", "a/+/#", "*"] {
        f.expect_eq(
            &format!("connect {client:?}"),
            &c.answers(id, &Request::connect(client)),
            "allow by p/all",
        );
    }
    f.finish();
}

#[test]
fn unicode_look_alike_levels_are_distinct() {
    let mut f = Failures::default();
    let doc = policy(&[
        statement(
            "alice",
            "allow",
            r#""publish","subscribe""#,
            &[
                "topic:devices/alice/#".into(),
                "topicfilter:devices/alice/#".into(),
            ],
            "mqtt",
        ),
        statement(
            "own",
            "allow",
            r#""publish""#,
            &["topic:c/${clientid}/#".into()],
            "mqtt",
        ),
        statement(
            "glob",
            "allow",
            r#""publish""#,
            &["topic:g/café/?".into()],
            "glob",
        ),
        statement(
            "exact",
            "allow",
            r#""publish""#,
            &["topic:x/alice".into()],
            "exact",
        ),
        statement("all", "allow", r#""receive""#, &["topic:#".into()], "mqtt"),
        statement(
            "no-admin",
            "deny",
            r#""receive""#,
            &["topic:admin/#".into()],
            "mqtt",
        ),
    ]);
    let c = Compiled::new(&doc);
    let id = Identity::new(IdentityKind::Certificate).with_client_id("alice");
    let look_alikes = [
        ("Cyrillic a", "\u{430}lice"),
        ("Greek alpha", "\u{3b1}lice"),
        ("zero-width space", "ali\u{200b}ce"),
        ("trailing space", "alice "),
        ("leading space", " alice"),
        ("capital", "Alice"),
        ("fullwidth", "\u{ff41}lice"),
        ("combining mark", "a\u{301}lice"),
        ("soft hyphen", "al\u{ad}ice"),
    ];
    f.expect_eq(
        "the real name",
        &c.answers(&id, &Request::publish("devices/alice/x")),
        "allow by p/alice",
    );
    for (what, name) in look_alikes {
        for (prefix, stmt) in [("devices", "alice"), ("c", "own"), ("x", "exact")] {
            let topic = if prefix == "x" {
                format!("x/{name}")
            } else {
                format!("{prefix}/{name}/t")
            };
            f.expect_eq(
                &format!("{what}: publish {topic:?} is not {stmt}"),
                &c.answers(&id, &Request::publish(&topic)),
                "deny (no match)",
            );
        }
        f.expect_eq(
            &format!("{what}: subscribe"),
            &c.answers(&id, &Request::subscribe(&format!("devices/{name}/#"))),
            "deny (no match)",
        );
    }
    // A fullwidth solidus is not a level separator.
    f.expect_eq(
        "fullwidth solidus",
        &c.answers(&id, &Request::publish("devices\u{ff0f}alice\u{ff0f}x")),
        "deny (no match)",
    );
    f.expect_eq(
        "fullwidth solidus after the level",
        &c.answers(&id, &Request::publish("devices/alice\u{ff0f}x")),
        "deny (no match)",
    );
    // Composed and decomposed forms are different strings.
    f.expect_eq(
        "composed é",
        &c.answers(&id, &Request::publish("g/caf\u{e9}/1")),
        "allow by p/glob",
    );
    f.expect_eq(
        "decomposed é",
        &c.answers(&id, &Request::publish("g/cafe\u{301}/1")),
        "deny (no match)",
    );
    // A look-alike of a denied topic is a different topic: the deny does not reach it, and the
    // real one stays denied.
    f.expect_eq(
        "real admin",
        &c.answers(&id, &Request::receive("admin/x")),
        "deny by p/no-admin",
    );
    f.expect_eq(
        "Cyrillic admin",
        &c.answers(&id, &Request::receive("\u{430}dmin/x")),
        "allow by p/all",
    );
    // A client id that is a look-alike of another client's id gets only its own topics.
    let mallory = Identity::new(IdentityKind::Certificate).with_client_id("\u{430}lice");
    f.expect_eq(
        "look-alike client id, victim's topic",
        &c.answers(&mallory, &Request::publish("c/alice/t")),
        "deny (no match)",
    );
    f.expect_eq(
        "look-alike client id, own topic",
        &c.answers(&mallory, &Request::publish("c/\u{430}lice/t")),
        "allow by p/own",
    );
    f.finish();
}

// ---------------------------------------------------------------------------------------------
// Size: the longest, the deepest, and pathological globs
// ---------------------------------------------------------------------------------------------

/// Set in a child process to `<test name>:<strategy>`: run that test's body for that strategy.
const CHILD: &str = "MQWARD_ADVERSARIAL_CHILD";

fn strategy_name(s: Strategy) -> String {
    format!("{s:?}")
}

/// Runs `body` once per strategy, each in a child process (this test binary, running only
/// `name`), so that a stack overflow (which aborts the process) or a decision that never returns
/// fails this test with the strategy named, instead of killing or stalling the whole binary.
/// A child still running after [`HANG`] is killed; `HANG` is not a performance bound, only the
/// point at which a hang is reported.
fn per_strategy_in_child(name: &str, body: fn(Strategy)) {
    if let Ok(which) = std::env::var(CHILD) {
        if let Some(s) = STRATEGIES
            .into_iter()
            .find(|s| which == format!("{name}:{}", strategy_name(*s)))
        {
            body(s);
        }
        return;
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut failures = Vec::new();
    for strategy in STRATEGIES {
        let mut child = Command::new(&exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, format!("{name}:{}", strategy_name(strategy)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the child test process");
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            let (tx, rx) = mpsc::channel();
            if let Some(mut pipe) = pipe {
                thread::spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.read_to_string(&mut text);
                    let _ = tx.send(text);
                });
            }
            rx
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        // The pipes close when the child ends, so the output arrives when it is done.
        let (err_text, hung) = match stderr.recv_timeout(HANG) {
            Ok(text) => (text, false),
            Err(_) => {
                let _ = child.kill();
                (stderr.recv().unwrap_or_default(), true)
            }
        };
        let out_text = stdout.recv().unwrap_or_default();
        let status = child.wait().expect("wait for the child test process");
        let ran = out_text.contains("1 passed") || out_text.contains("1 failed");
        if hung || !status.success() || !ran {
            let tail: Vec<&str> = err_text
                .lines()
                .chain(out_text.lines())
                .filter(|l| !l.trim().is_empty() && !l.starts_with("note:"))
                .collect();
            let tail = tail[tail.len().saturating_sub(25)..].join("\n        ");
            let what = if hung {
                format!("no result after {} s (hung; killed)", HANG.as_secs())
            } else if status.code().is_none() {
                format!("crashed ({status})")
            } else {
                format!("failed ({status})")
            };
            failures.push(format!(
                "[{strategy:?}] {what}; its output ends:\n        {tail}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n  "));
}

/// Decides every case under one strategy, printing each case before deciding it (so that a
/// crash or hang can be traced to its case), and reports the wrong answers.
fn decide_cases(c: &Compiled, id: &Identity, cases: &[(Operation, &str, &str)]) {
    let mut f = Failures::default();
    for (op, resource, want) in cases {
        let what = format!("{op} {}", show(resource.as_bytes()));
        eprintln!("deciding: {what}");
        f.expect_eq(
            &what,
            &c.answers(id, &Request::new(*op, resource.as_bytes())),
            want,
        );
    }
    f.finish();
}

#[test]
fn longest_resources_are_accepted_and_one_byte_more_is_malformed() {
    const MAX: usize = 65_535;
    let mut f = Failures::default();
    let doc = policy(&[
        statement(
            "topics",
            "allow",
            r#""publish","receive""#,
            &["topic:a/#".into()],
            "mqtt",
        ),
        statement(
            "filters",
            "allow",
            r#""subscribe","unsubscribe""#,
            &["topicfilter:a/#".into()],
            "mqtt",
        ),
        statement(
            "clients",
            "allow",
            r#""connect""#,
            &["clientId:#".into()],
            "mqtt",
        ),
        statement(
            "glob",
            "allow",
            r#""publish""#,
            &["topic:g/*".into()],
            "glob",
        ),
    ]);
    let c = Compiled::new(&doc);
    let id = Identity::new(IdentityKind::Certificate).with_client_id("c");
    let pad = |prefix: &str, len: usize, suffix: &str| -> String {
        format!(
            "{prefix}{}{suffix}",
            "x".repeat(len - prefix.len() - suffix.len())
        )
    };
    let cases: Vec<(Operation, String, String)> = vec![
        (
            Operation::Publish,
            pad("a/", MAX, ""),
            "allow by p/topics".into(),
        ),
        (
            Operation::Receive,
            pad("a/", MAX, ""),
            "allow by p/topics".into(),
        ),
        (
            Operation::Publish,
            pad("a/", MAX + 1, ""),
            "deny (malformed: TooLong)".into(),
        ),
        (
            Operation::Publish,
            pad("g/", MAX, ""),
            "allow by p/glob".into(),
        ),
        (
            Operation::Publish,
            pad("a/", 1_000_000, ""),
            "deny (malformed: TooLong)".into(),
        ),
        (
            Operation::Subscribe,
            pad("a/", MAX, "/#"),
            "allow by p/filters".into(),
        ),
        (
            Operation::Subscribe,
            pad("a/", MAX + 1, "/#"),
            "deny (malformed: TooLong)".into(),
        ),
        (
            Operation::Subscribe,
            pad("$share/g/a/", MAX, ""),
            "allow by p/filters".into(),
        ),
        (
            Operation::Subscribe,
            pad("$share/g/a/", MAX + 1, ""),
            "deny (malformed: TooLong)".into(),
        ),
        (
            Operation::Connect,
            pad("c", MAX, ""),
            "allow by p/clients".into(),
        ),
        (
            Operation::Connect,
            pad("c", MAX + 1, ""),
            "deny (malformed: TooLong)".into(),
        ),
        // The limit counts bytes, not characters: `a/`, 21,844 three-byte characters and `x`
        // make 65,535 bytes; `a/` and 32,767 two-byte characters make 65,536 bytes in only
        // 32,769 characters.
        (
            Operation::Publish,
            format!("a/{}x", "\u{65e5}".repeat(21_844)),
            "allow by p/topics".into(),
        ),
        (
            Operation::Publish,
            format!("a/{}", "é".repeat((MAX - 1) / 2)),
            "deny (malformed: TooLong)".into(),
        ),
    ];
    assert_eq!(cases[0].1.len(), MAX);
    assert_eq!(cases[11].1.len(), MAX);
    assert_eq!(cases[12].1.len(), MAX + 1);
    for (op, resource, want) in &cases {
        let got = c.answers(&id, &Request::new(*op, resource.as_bytes()));
        f.expect_eq(&format!("{op} {}", show(resource.as_bytes())), &got, want);
    }
    f.finish();
}

#[test]
fn deep_topics_decide_without_overflow() {
    per_strategy_in_child("deep_topics_decide_without_overflow", |strategy| {
        // 30,000 levels (59,999 bytes), and 65,536 empty levels (65,535 slashes).
        let levels = 30_000;
        let deep_topic = vec!["a"; levels].join("/");
        let deep_plus = vec!["+"; levels].join("/");
        let deep_filter = format!("{}/#", vec!["a"; levels - 1].join("/"));
        let empty_levels = "/".repeat(65_535);
        let doc = policy(&[
            statement(
                "hash",
                "allow",
                r#""publish""#,
                &["topic:a/#".into()],
                "mqtt",
            ),
            statement(
                "own",
                "allow",
                r#""receive""#,
                &["topic:${clientid}/+/#".into()],
                "mqtt",
            ),
            statement(
                "shallow",
                "allow",
                r#""publish""#,
                &["topic:+/+/+".into()],
                "mqtt",
            ),
            statement(
                "glob",
                "allow",
                r#""receive""#,
                &["topic:a/*/a".into()],
                "glob",
            ),
            statement(
                "root",
                "allow",
                r#""subscribe""#,
                &["topicfilter:#".into()],
                "mqtt",
            ),
            statement(
                "no-secret",
                "deny",
                r#""subscribe""#,
                &["topicfilter:a/a/a/secret/#".into()],
                "mqtt",
            ),
            statement(
                "no-b",
                "deny",
                r#""subscribe""#,
                &["topicfilter:+/b".into()],
                "mqtt",
            ),
            statement(
                "empties",
                "allow",
                r#""publish""#,
                &["topic:/#".into()],
                "mqtt",
            ),
        ]);
        let c = Compiled::only(&doc, strategy);
        let id = Identity::new(IdentityKind::Certificate).with_client_id("a");
        decide_cases(
            &c,
            &id,
            &[
                (Operation::Publish, &deep_topic, "allow by p/hash"),
                (Operation::Receive, &deep_topic, "allow by p/own"),
                (Operation::Subscribe, &deep_plus, "deny by p/no-secret"),
                (Operation::Subscribe, &deep_filter, "allow by p/root"),
                (Operation::Unsubscribe, &deep_filter, "deny (no match)"),
                (Operation::Publish, &empty_levels, "allow by p/empties"),
                (Operation::Subscribe, &empty_levels, "allow by p/root"),
            ],
        );
    });
}

#[test]
fn deepest_patterns_load_and_decide_or_are_refused_without_overflow() {
    per_strategy_in_child(
        "deepest_patterns_load_and_decide_or_are_refused_without_overflow",
        |strategy| {
            // The longest patterns: 65,535 bytes, 32,768 levels.
            let n = 32_768;
            let hash = format!("{}#", "a/".repeat(n - 1));
            let plus = format!("{}+", "+/".repeat(n - 1));
            assert_eq!((hash.len(), plus.len()), (65_535, 65_535));
            let doc = policy(&[
                statement(
                    "deep",
                    "allow",
                    r#""publish","receive""#,
                    &[format!("topic:{hash}")],
                    "mqtt",
                ),
                statement(
                    "deep-filter",
                    "allow",
                    r#""subscribe""#,
                    &[format!("topicfilter:{hash}")],
                    "mqtt",
                ),
                statement(
                    "deep-deny",
                    "deny",
                    r#""subscribe""#,
                    &[format!("topicfilter:{plus}")],
                    "mqtt",
                ),
                statement(
                    "deep-plus",
                    "allow",
                    r#""publish""#,
                    &[format!("topic:{plus}")],
                    "mqtt",
                ),
            ]);
            eprintln!("compiling");
            // Refusing such a document is acceptable (with the statement named); crashing is not.
            let snapshot = match Builder::new().strategy(strategy).build(&doc) {
                Ok(s) => s,
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains("statement `p/deep"),
                        "refused without naming the statement: {msg}"
                    );
                    eprintln!("refused: {msg}");
                    return;
                }
            };
            let c = Compiled {
                snapshots: vec![(strategy, Arc::new(snapshot))],
            };
            let id = Identity::new(IdentityKind::Certificate).with_client_id("a");
            let a_all = vec!["a"; n].join("/");
            let a_short = vec!["a"; n - 1].join("/");
            let b_all = vec!["b"; n].join("/");
            decide_cases(
                &c,
                &id,
                &[
                    (Operation::Publish, &a_all, "allow by p/deep"),
                    (Operation::Publish, &a_short, "allow by p/deep"),
                    (Operation::Publish, &b_all, "allow by p/deep-plus"),
                    (Operation::Receive, &b_all, "deny (no match)"),
                    (Operation::Subscribe, &a_short, "allow by p/deep-filter"),
                    (Operation::Subscribe, &a_all, "deny by p/deep-deny"),
                    (Operation::Subscribe, &hash, "deny by p/deep-deny"),
                ],
            );
            eprintln!("dropping");
            drop(c);
        },
    );
}

#[test]
fn globs_with_many_stars_against_a_60_kb_topic_return() {
    per_strategy_in_child(
        "globs_with_many_stars_against_a_60_kb_topic_return",
        |strategy| {
            let doc = policy(&[
                statement(
                    "stars",
                    "allow",
                    r#""publish""#,
                    &["topic:*a*a*a*a*a*a*a*a*a*a*b".into()],
                    "glob",
                ),
                statement(
                    "stars-one",
                    "allow",
                    r#""receive""#,
                    &["topic:*a*a*a*a*a*a*a*a*?b".into()],
                    "glob",
                ),
                statement(
                    "stars-var",
                    "allow",
                    r#""subscribe""#,
                    &["topicfilter:*${clientid}*a*a*a*a*a*a*b".into()],
                    "glob",
                ),
                statement(
                    "stars-deny",
                    "deny",
                    r#""unsubscribe""#,
                    &["topicfilter:*a*/*a*/*a*/*a*/*c".into()],
                    "glob",
                ),
                statement("unsub", "allow", r#""unsubscribe""#, &["*".into()], "mqtt"),
            ]);
            let c = Compiled::only(&doc, strategy);
            let id = Identity::new(IdentityKind::Certificate).with_client_id("a");
            let a60k = "a".repeat(60_000);
            let a60k_b = format!("{}b", "a".repeat(59_999));
            let slashy = "a/".repeat(30_000);
            decide_cases(
                &c,
                &id,
                &[
                    (Operation::Publish, &a60k_b, "allow by p/stars"),
                    (Operation::Receive, &a60k_b, "allow by p/stars-one"),
                    (Operation::Subscribe, &a60k_b, "allow by p/stars-var"),
                    (Operation::Publish, &a60k, "deny (no match)"),
                    (Operation::Receive, &a60k, "deny (no match)"),
                    (Operation::Subscribe, &a60k, "deny (no match)"),
                    (Operation::Unsubscribe, &slashy, "allow by p/unsub"),
                ],
            );
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Loading and reloading
// ---------------------------------------------------------------------------------------------

const GOOD_A: &str = r#"{"version":1,
  "groups":[{"name":"all","selectionRule":"*","policies":["a"]}],
  "policies":{"a":[
    {"id":"own","effect":"allow","operations":["publish"],"resources":["topic:a/${clientid}/#"]},
    {"id":"user","effect":"allow","operations":["subscribe"],"resources":["topicfilter:u/${username}/#"]},
    {"id":"no-b","effect":"deny","operations":["publish"],"resources":["topic:b/#"]}
  ]}}"#;

const GOOD_B: &str = r#"{"version":1,
  "groups":[{"name":"all","selectionRule":"*","policies":["b"]}],
  "policies":{"b":[
    {"id":"user","effect":"allow","operations":["publish"],"resources":["topic:b/${username}/#"]},
    {"id":"own","effect":"allow","operations":["subscribe"],"resources":["topicfilter:u/${clientid}/#"]},
    {"id":"no-a","effect":"deny","operations":["publish"],"resources":["topic:a/#"]}
  ]}}"#;

#[test]
fn reload_keeps_the_old_policy_when_the_new_one_is_invalid() {
    let bad: &[(&str, String)] = &[
        ("not JSON", "{".into()),
        ("empty", String::new()),
        (
            "misspelt field",
            GOOD_B.replace("\"effect\":\"deny\"", "\"efect\":\"deny\""),
        ),
        ("unknown variable", GOOD_B.replace("${username}", "${user}")),
        ("misplaced hash", GOOD_B.replace("topic:a/#", "topic:a/#/x")),
        (
            "unknown policy",
            GOOD_B.replace("\"policies\":[\"b\"]", "\"policies\":[\"c\"]"),
        ),
        (
            "bad selection rule",
            GOOD_B.replace(
                "\"selectionRule\":\"*\"",
                "\"selectionRule\":\"thingName: a*b\"",
            ),
        ),
        (
            "version 2",
            GOOD_B.replace("\"version\":1", "\"version\":2"),
        ),
    ];
    for strategy in STRATEGIES {
        let builder = Builder::new().strategy(strategy);
        let snapshot = builder.build(&document(GOOD_A)).expect("policy A");
        let engine = Engine::new(builder, snapshot);
        let mut p = engine.bind(
            Identity::new(IdentityKind::Password)
                .with_client_id("c1")
                .with_username("u1"),
        );
        let generation = engine.snapshot().generation();
        let check_a = |engine: &Engine, p: &mut mqward_core::Principal, when: &str| {
            let got = [
                answer(&engine.authorize(p, &Request::publish("a/c1/x"))),
                answer(&engine.authorize(p, &Request::publish("b/u1/x"))),
                answer(&engine.authorize(p, &Request::subscribe("u/u1/#"))),
            ];
            assert_eq!(
                got,
                ["allow by a/own", "deny by a/no-b", "allow by a/user"],
                "{strategy:?}: {when}"
            );
        };
        check_a(&engine, &mut p, "before any reload");
        for (what, text) in bad {
            let err = engine
                .reload_json(text.as_bytes())
                .expect_err(&format!("{strategy:?}: {what} must not load"));
            assert!(!err.problems().is_empty(), "{strategy:?}: {what}: {err}");
            assert_eq!(
                engine.snapshot().generation(),
                generation,
                "{strategy:?}: {what}"
            );
            check_a(
                &engine,
                &mut p,
                &format!("after the failed reload ({what}: {err})"),
            );
            let mut fresh = engine.bind(
                Identity::new(IdentityKind::Password)
                    .with_client_id("c1")
                    .with_username("u1"),
            );
            check_a(
                &engine,
                &mut fresh,
                &format!("fresh principal after {what}"),
            );
        }
        engine.reload_json(GOOD_B.as_bytes()).expect("policy B");
        assert_eq!(engine.snapshot().strategy(), strategy);
        let got = [
            answer(&engine.authorize(&mut p, &Request::publish("a/c1/x"))),
            answer(&engine.authorize(&mut p, &Request::publish("b/u1/x"))),
            answer(&engine.authorize(&mut p, &Request::subscribe("u/c1/#"))),
        ];
        assert_eq!(
            got,
            ["deny by b/no-a", "allow by b/user", "allow by b/own"],
            "{strategy:?}: after reloading B"
        );
    }
}

#[test]
fn misspelt_field_fails_to_load_and_names_its_statement() {
    let text = "{\"version\":1,\n\"groups\":[],\n\"policies\":{\"telemetry-policy\":[\n  {\"id\":\"ok\",\"effect\":\"allow\",\"operations\":[\"publish\"],\"resources\":[\"topic:a\"]},\n  {\"id\":\"telemetry\",\"efect\":\"allow\",\"operations\":[\"publish\"],\"resources\":[\"topic:a\"]}\n]}}";
    let err = Document::from_json(text.as_bytes())
        .and_then(|doc| Builder::new().build(&doc).map(|_| ()))
        .expect_err("a misspelt field must not load");
    let msg = err.to_string();
    assert!(msg.contains("efect"), "names the field: {msg}");
    assert!(msg.contains("line 5"), "gives the line: {msg}");
    assert!(
        msg.contains("telemetry-policy/telemetry"),
        "names the statement (policy/id) holding the misspelt field: {msg}"
    );
}

#[test]
fn unknown_variable_fails_to_load_and_names_statement_and_resource() {
    for mode in ["mqtt", "glob", "exact"] {
        let doc = document(&format!(
            r#"{{"version":1,"groups":[],"policies":{{"fleet":[
              {{"id":"ok","effect":"allow","operations":["publish"],"resources":["topic:a/${{clientid}}"],"match":"{mode}"}},
              {{"id":"telemetry","effect":"allow","operations":["publish"],
                "resources":["topic:a","topic:b","topic:c/${{iot:Connection.Thing.Attributes[type]}}"],"match":"{mode}"}}
            ]}}}}"#
        ));
        for strategy in STRATEGIES {
            let err = Builder::new()
                .strategy(strategy)
                .build(&doc)
                .expect_err("an unknown variable must not load");
            let msg = err.to_string();
            assert!(
                msg.contains("fleet/telemetry"),
                "[{mode} {strategy:?}] statement: {msg}"
            );
            assert!(
                msg.contains("resource 2"),
                "[{mode} {strategy:?}] resource index: {msg}"
            );
            assert!(
                msg.contains("iot:Connection.Thing.Attributes[type]"),
                "[{mode} {strategy:?}] the variable: {msg}"
            );
            assert!(
                !msg.contains("fleet/ok"),
                "[{mode} {strategy:?}] only the bad statement: {msg}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn decisions_during_reloads_are_always_one_of_the_two_policies_answers() {
    const RELOADS: usize = 200;
    const DECIDERS: usize = 4;
    for strategy in STRATEGIES {
        let builder = Builder::new().strategy(strategy);
        let doc_a = document(GOOD_A);
        let doc_b = document(GOOD_B);
        let snap_a = Arc::new(builder.build(&doc_a).expect("A"));
        let snap_b = Arc::new(builder.build(&doc_b).expect("B"));
        // Identities whose variables fall into different slots in A and B, so a principal
        // decided with bindings from one snapshot against the other would answer wrongly.
        let identities: Vec<Identity> = vec![
            Identity::new(IdentityKind::Password)
                .with_client_id("c1")
                .with_username("u1"),
            Identity::new(IdentityKind::Password)
                .with_client_id("u1")
                .with_username("c1"),
            Identity::new(IdentityKind::Password)
                .with_client_id("+")
                .with_username("u2"),
            Identity::new(IdentityKind::Password).with_client_id("c3"),
        ];
        let requests: Vec<Request<'static>> = vec![
            Request::publish("a/c1/x"),
            Request::publish("a/u1/x"),
            Request::publish("b/u1/x"),
            Request::publish("b/c1/x"),
            Request::publish("b/u2/x"),
            Request::subscribe("u/u1/#"),
            Request::subscribe("u/c1/#"),
            Request::subscribe("u/+/#"),
            Request::publish("a/+/x"),
            Request::connect("c1"),
        ];
        // Each identity and request: the answer under A and under B, which must differ for most
        // pairs so that the test can tell them apart.
        let expected: Arc<Vec<Vec<[String; 2]>>> = Arc::new(
            identities
                .iter()
                .map(|id| {
                    let pa = snap_a.bind(id.clone());
                    let pb = snap_b.bind(id.clone());
                    requests
                        .iter()
                        .map(|r| [answer(&pa.decide(r)), answer(&pb.decide(r))])
                        .collect()
                })
                .collect(),
        );
        let differing = expected.iter().flatten().filter(|[a, b]| a != b).count();
        assert!(
            differing >= 20,
            "{strategy:?}: only {differing} answers tell A from B"
        );

        let engine = Arc::new(Engine::new(
            builder.clone(),
            builder.build(&doc_a).expect("A"),
        ));
        let done = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(DECIDERS + 1));
        let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let mut deciders = Vec::new();
        for t in 0..DECIDERS {
            let engine = Arc::clone(&engine);
            let done = Arc::clone(&done);
            let start = Arc::clone(&start);
            let expected = Arc::clone(&expected);
            let seen = Arc::clone(&seen);
            let identities = identities.clone();
            let requests = requests.clone();
            deciders.push(thread::spawn(move || -> Vec<String> {
                let mut principals: Vec<_> = identities
                    .iter()
                    .map(|id| engine.bind(id.clone()))
                    .collect();
                let mut wrong = Vec::new();
                start.wait();
                let mut rounds = 0usize;
                while !done.load(Ordering::Acquire) || rounds < 50 {
                    rounds += 1;
                    for (i, p) in principals.iter_mut().enumerate() {
                        for (j, r) in requests.iter().enumerate() {
                            let got = answer(&engine.authorize(p, r));
                            let [a, b] = &expected[i][j];
                            if got == *a && got != *b {
                                seen[0].fetch_add(1, Ordering::Relaxed);
                            } else if got == *b && got != *a {
                                seen[1].fetch_add(1, Ordering::Relaxed);
                            } else if got != *a && got != *b && wrong.len() < 20 {
                                wrong.push(format!(
                                    "thread {t}, identity {i}, request {j} ({} {:?}): got {got}, \
                                     A says {a}, B says {b}",
                                    r.operation,
                                    String::from_utf8_lossy(r.resource)
                                ));
                            }
                        }
                    }
                }
                wrong
            }));
        }
        start.wait();
        for n in 0..RELOADS {
            let doc = if n % 2 == 0 { &doc_b } else { &doc_a };
            engine.reload(doc).expect("reload");
            thread::yield_now();
        }
        done.store(true, Ordering::Release);
        let wrong: Vec<String> = deciders
            .into_iter()
            .flat_map(|h| h.join().expect("decider thread"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{strategy:?}: wrong answers during reloads:\n{}",
            wrong.join("\n")
        );
        // RELOADS is even: policy A is in force at the end.
        let mut p = engine.bind(identities[0].clone());
        assert_eq!(
            answer(&engine.authorize(&mut p, &requests[0])),
            expected[0][0][0]
        );
        eprintln!(
            "{strategy:?}: answers only policy A gives: {}, only policy B gives: {}",
            seen[0].load(Ordering::Relaxed),
            seen[1].load(Ordering::Relaxed)
        );
    }
}
