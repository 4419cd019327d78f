//! The decision corpus: policies, identities, requests and expected decisions kept as data in
//! `tests/data/corpus/*.json`, decided by every matcher strategy.
//!
//! A case file holds named identities and suites; a suite is one policy document and its cases,
//! or a document that must fail to load (`loadError`: fragments the error text must contain):
//!
//! ```json
//! { "description": "what the file covers",
//!   "identities": { "dev1": { "kind": "certificate", "clientId": "dev-1", "thingName": "t1",
//!                             "username": "u", "cert": { "subject.cn": "cn" },
//!                             "claims": { "role": "ops" } } },
//!   "suites": [ { "name": "...", "policy": { <document> }, "cases": [
//!     { "name": "...", "identity": "dev1" | { <inline identity> },
//!       "request": { "operation": "publish", "resource": "a/b" | "resourceHex": "61ff",
//!                    "qos": 1, "retain": false },
//!       "expect": "allow" | "deny",
//!       "statement": "policy/id",          // omitted or null: no statement decided
//!       "malformed": true | "Nul",         // deny before matching (optionally: which check)
//!       "groups": ["g1"] } ] } ] }          // optional: the identity's groups, in order
//! ```
//!
//! Every case runs under `Strategy::Indexed` and `Strategy::Linear`; every failure is collected
//! (file, suite, case, expected, and each strategy's answer) and the test fails once at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mqward_core::{
    Builder, CertField, Decision, Document, Effect, Identity, IdentityKind, Operation, Reason,
    Request, Snapshot, Strategy,
};
use serde::Deserialize;

mod common;
use common::answer;

const STRATEGIES: [(Strategy, &str); 2] =
    [(Strategy::Indexed, "indexed"), (Strategy::Linear, "linear")];

/// Fewer cases than this means files went missing.
const MIN_CASES: usize = 150;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    description: String,
    #[serde(default)]
    identities: BTreeMap<String, IdentitySpec>,
    suites: Vec<Suite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Suite {
    name: String,
    /// For people reading the case file; the runner does not need it.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    policy: serde_json::Value,
    /// When present, the document must fail to load and the error text must contain each of
    /// these fragments.
    #[serde(default)]
    load_error: Option<Vec<String>>,
    #[serde(default)]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    identity: IdentityRef,
    request: RequestSpec,
    expect: Expect,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    malformed: Option<MalformedSpec>,
    #[serde(default)]
    groups: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdentityRef {
    Named(String),
    Inline(IdentitySpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IdentitySpec {
    kind: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    thing_name: Option<String>,
    #[serde(default)]
    cert: BTreeMap<String, String>,
    #[serde(default)]
    claims: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestSpec {
    operation: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resource_hex: Option<String>,
    #[serde(default)]
    qos: Option<u8>,
    #[serde(default)]
    retain: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MalformedSpec {
    Any(bool),
    Named(String),
}

fn expected_text(case: &Case) -> String {
    let effect = match case.expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    };
    match (&case.malformed, &case.statement) {
        (Some(MalformedSpec::Named(m)), _) => format!("{effect} (malformed: {m})"),
        (Some(MalformedSpec::Any(true)), _) => format!("{effect} (malformed)"),
        (_, Some(s)) => format!("{effect} by {s}"),
        (_, None) => format!("{effect} (no match)"),
    }
}

fn expects_malformed(case: &Case) -> bool {
    matches!(
        case.malformed,
        Some(MalformedSpec::Any(true) | MalformedSpec::Named(_))
    )
}

fn matches_expectation(case: &Case, d: &Decision<'_>) -> bool {
    let effect_ok = match case.expect {
        Expect::Allow => d.effect == Effect::Allow,
        Expect::Deny => d.effect == Effect::Deny,
    };
    let reason_ok = match (&case.malformed, d.reason) {
        (Some(MalformedSpec::Any(true)), Reason::Malformed(_)) => true,
        (Some(MalformedSpec::Named(name)), Reason::Malformed(m)) => format!("{m:?}") == *name,
        (Some(MalformedSpec::Any(true) | MalformedSpec::Named(_)), _) => false,
        (_, Reason::Statement(s)) => {
            case.statement.as_deref() == Some(&format!("{}/{}", s.policy(), s.id()))
        }
        (_, Reason::NoMatch) => case.statement.is_none(),
        (_, _) => false,
    };
    effect_ok && reason_ok
}

fn identity(spec: &IdentitySpec) -> Result<Identity, String> {
    let kind =
        IdentityKind::parse(&spec.kind).ok_or_else(|| format!("unknown kind `{}`", spec.kind))?;
    let mut id = Identity::new(kind);
    if let Some(v) = &spec.client_id {
        id = id.with_client_id(v.as_str());
    }
    if let Some(v) = &spec.username {
        id = id.with_username(v.as_str());
    }
    if let Some(v) = &spec.thing_name {
        id = id.with_thing_name(v.as_str());
    }
    for (field, v) in &spec.cert {
        let field = CertField::parse(field)
            .ok_or_else(|| format!("unknown certificate field `{field}`"))?;
        id = id.with_cert_field(field, v.as_str());
    }
    for (name, v) in &spec.claims {
        id = id.with_claim(name.as_str(), v.as_str());
    }
    Ok(id)
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in `{text}`"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s: String = pair.iter().collect();
            u8::from_str_radix(&s, 16).map_err(|_| format!("bad hex `{s}`"))
        })
        .collect()
}

fn resource_bytes(r: &RequestSpec) -> Result<Vec<u8>, String> {
    match (&r.resource, &r.resource_hex) {
        (Some(s), None) => Ok(s.as_bytes().to_vec()),
        (None, Some(h)) => hex(h),
        _ => Err("a request needs exactly one of `resource` and `resourceHex`".into()),
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

#[derive(Default)]
struct Tally {
    files: usize,
    suites: usize,
    cases: usize,
    load_error_suites: usize,
    failures: Vec<String>,
}

fn run_suite(file: &str, ids: &BTreeMap<String, IdentitySpec>, suite: &Suite, tally: &mut Tally) {
    let at = format!("{file} / suite `{}`", suite.name);
    tally.suites += 1;
    let bytes = match serde_json::to_vec(&suite.policy) {
        Ok(b) => b,
        Err(e) => {
            tally
                .failures
                .push(format!("{at}: cannot serialize policy: {e}"));
            return;
        }
    };
    let loaded = Document::from_json(&bytes);
    if let Some(fragments) = &suite.load_error {
        tally.load_error_suites += 1;
        if !suite.cases.is_empty() {
            tally
                .failures
                .push(format!("{at}: a `loadError` suite has no cases"));
        }
        for (strategy, sname) in STRATEGIES {
            let result = loaded
                .clone()
                .and_then(|doc| Builder::new().strategy(strategy).build(&doc).map(|_| ()));
            match result {
                Ok(()) => tally.failures.push(format!(
                    "{at} [{sname}]: loaded, but must fail with an error containing {fragments:?}"
                )),
                Err(e) => {
                    let text = e.to_string();
                    for f in fragments {
                        if !text.contains(f.as_str()) {
                            tally.failures.push(format!(
                                "{at} [{sname}]: load error lacks `{f}`; it reads:\n      {text}"
                            ));
                        }
                    }
                }
            }
        }
        return;
    }
    let doc = match loaded {
        Ok(doc) => doc,
        Err(e) => {
            tally
                .failures
                .push(format!("{at}: policy does not load: {e}"));
            return;
        }
    };
    let mut snapshots: Vec<(&str, Arc<Snapshot>)> = Vec::new();
    for (strategy, sname) in STRATEGIES {
        match Builder::new().strategy(strategy).build(&doc) {
            Ok(s) => {
                assert_eq!(s.strategy(), strategy);
                snapshots.push((sname, Arc::new(s)));
            }
            Err(e) => tally
                .failures
                .push(format!("{at} [{sname}]: policy does not compile: {e}")),
        }
    }
    if snapshots.len() != STRATEGIES.len() {
        return;
    }
    for case in &suite.cases {
        tally.cases += 1;
        let at = format!("{at} / case `{}`", case.name);
        let spec = match &case.identity {
            IdentityRef::Inline(spec) => Ok(spec.clone()),
            IdentityRef::Named(name) => ids
                .get(name)
                .cloned()
                .ok_or_else(|| format!("unknown identity `{name}`")),
        };
        let setup = spec.and_then(|s| identity(&s)).and_then(|id| {
            let op = Operation::parse(&case.request.operation)
                .ok_or_else(|| format!("unknown operation `{}`", case.request.operation))?;
            Ok((id, op, resource_bytes(&case.request)?))
        });
        let (id, op, resource) = match setup {
            Ok(s) => s,
            Err(e) => {
                tally.failures.push(format!("{at}: bad case: {e}"));
                continue;
            }
        };
        if expects_malformed(case) && (case.statement.is_some() || case.expect == Expect::Allow) {
            tally.failures.push(format!(
                "{at}: bad case: a malformed request is a deny without statement"
            ));
            continue;
        }
        let mut request = Request::new(op, &resource);
        if let Some(q) = case.request.qos {
            request = request.with_qos(q);
        }
        if let Some(r) = case.request.retain {
            request = request.with_retain(r);
        }
        let mut answers = Vec::new();
        let mut wrong = false;
        for (sname, snapshot) in &snapshots {
            let principal = snapshot.bind(id.clone());
            let decision = principal.decide(&request);
            let mut text = answer(&decision);
            if !matches_expectation(case, &decision) {
                wrong = true;
            }
            if let Some(want) = &case.groups {
                let got: Vec<&str> = principal.group_names().collect();
                if got != *want {
                    wrong = true;
                    let _ = write!(text, ", groups {got:?} (expected {want:?})");
                }
            }
            // The explanation must agree with the decision and list the deciding statement
            // among the statements the reference matcher found.
            let explanation = principal.explain(&request);
            let deciding = decision
                .statement()
                .map(|s| format!("{}/{}", s.policy(), s.id()));
            if explanation.effect != decision.effect || explanation.deciding != deciding {
                wrong = true;
                let _ = write!(
                    text,
                    ", explain says {:?} {:?}",
                    explanation.effect, explanation.deciding
                );
            } else if let Some(d) = &deciding {
                if !explanation
                    .matched
                    .iter()
                    .any(|(e, s)| *e == decision.effect && s == d)
                {
                    wrong = true;
                    let _ = write!(
                        text,
                        ", explain's matched list {:?} lacks the deciding statement",
                        explanation.matched
                    );
                }
            }
            answers.push(format!("{sname}: {text}"));
        }
        if wrong {
            tally.failures.push(format!(
                "{at}\n      request: {} {} (qos {:?}, retain {:?})\n      expected: {}\n      {}",
                case.request.operation,
                case.request
                    .resource
                    .as_ref()
                    .map(|r| format!("{r:?}"))
                    .unwrap_or_else(|| format!(
                        "hex {}",
                        case.request.resource_hex.as_deref().unwrap_or("")
                    )),
                case.request.qos,
                case.request.retain,
                expected_text(case),
                answers.join("\n      ")
            ));
        }
    }
}

fn run_corpus() -> Tally {
    let mut tally = Tally::default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/data/corpus exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tally.files += 1;
        let text = std::fs::read_to_string(&path).expect("readable case file");
        let file: CaseFile = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                tally.failures.push(format!("{name}: not a case file: {e}"));
                continue;
            }
        };
        if file.description.trim().is_empty() || file.suites.is_empty() {
            tally.failures.push(format!(
                "{name}: a case file needs a description and suites"
            ));
        }
        for suite in &file.suites {
            run_suite(&name, &file.identities, suite, &mut tally);
        }
    }
    tally
}

#[test]
fn corpus_decides_as_specified_under_every_strategy() {
    let tally = run_corpus();
    eprintln!(
        "corpus: {} files, {} suites ({} load-error suites), {} cases x {} strategies",
        tally.files,
        tally.suites,
        tally.load_error_suites,
        tally.cases,
        STRATEGIES.len()
    );
    assert!(
        tally.cases >= MIN_CASES,
        "only {} cases found under {}",
        tally.cases,
        corpus_dir().display()
    );
    if !tally.failures.is_empty() {
        panic!(
            "{} corpus failure(s):\n  {}",
            tally.failures.len(),
            tally.failures.join("\n  ")
        );
    }
}
