//! mqward-benches: the workloads behind mqward's benchmarks and memory figures.
//!
//! [`fleet_policy`] generates an IoT fleet policy of any size; [`flat_policy`] holds the same
//! statements in one policy for everyone, as an acl_file full of pattern lines would.
//!
//! The fleet: device families, each a group selecting `thingName: fam-0042-*` with its own
//! policy, and one everyone group. A family policy holds six fixed statements (publish and
//! subscribe with `${thingName}`, glob-mode commands and shadow, a qos condition, a deny) and a
//! statement per device and kind (an exact `config` topic, a glob `ota/*`, an MQTT
//! `attributes/+`), so the statement count grows with devices. Every size has all three match
//! modes. The benchmarks decide for one device of the last family ([`Workload::identity`]) the
//! requests of [`Workload::cases`]: allows deep in the policy, denies and no-matches.

use std::collections::BTreeMap;

use mqward_core::policy::{Group, OperationName, Statement, DOCUMENT_VERSION};
use mqward_core::{
    Decision, Document, Effect, Identity, IdentityKind, MatchMode, Operation, Request,
};

/// The sessions benchmarks' policy: devices connect as their thing name and publish their
/// telemetry; a deny for secrets.
pub const SESSION_POLICY: &str = r#"{
  "version": 1,
  "groups": [{ "name": "devices", "selectionRule": "thingName: dev-*", "policies": ["own"] }],
  "policies": { "own": [
    { "id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["clientId:${thingName}"] },
    { "id": "telemetry", "effect": "allow", "operations": ["publish"], "resources": ["topic:fleet/${thingName}/telemetry/#"] },
    { "id": "secret", "effect": "deny", "operations": ["publish"], "resources": ["topic:fleet/+/secret/#"] }
  ] }
}"#;

/// The statement counts the decision benchmarks run at.
pub const SIZES: [usize; 3] = [10, 1_000, 100_000];

/// Statements of the everyone policy.
const EVERYONE: usize = 2;
/// Fixed statements of each family policy.
const FIXED: usize = 6;
/// Per-device statements cycle through this many kinds (config, ota, attributes).
const DEVICE_KINDS: usize = 3;
/// The smallest document: the everyone policy and one family with one device's config and ota.
pub const MIN_STATEMENTS: usize = EVERYONE + FIXED + 2;

/// How a statement count splits into families and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Total statements of a family policy, fixed and per-device, one entry per family.
    family_sizes: Vec<usize>,
}

/// A request a benchmark decides, with the decision it must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The operation.
    pub operation: Operation,
    /// Short name: what the request exercises.
    pub name: &'static str,
    /// Topic or topic filter.
    pub resource: String,
    /// The message or subscription QoS, when given.
    pub qos: Option<u8>,
    /// Whether the request must be allowed.
    pub allowed: bool,
    /// The id of the deciding statement, without its `family/` or device prefix; `None` for no
    /// match.
    pub statement: Option<&'static str>,
}

impl Case {
    /// The request to decide.
    pub fn request(&self) -> Request<'_> {
        Request {
            operation: self.operation,
            resource: self.resource.as_bytes(),
            qos: self.qos,
            retain: None,
        }
    }

    /// Checks a decision against the expected one; the message says what differs.
    pub fn check(&self, decision: &Decision<'_>) -> Result<(), String> {
        let got = decision.statement().map(|s| s.id());
        let same_statement = match (got, self.statement) {
            (None, None) => true,
            (Some(g), Some(want)) => {
                g == want || g.ends_with(&format!("/{want}")) || g.ends_with(&format!("-{want}"))
            }
            _ => false,
        };
        if decision.is_allowed() == self.allowed && same_statement {
            Ok(())
        } else {
            Err(format!(
                "{} {} `{}`: got {decision}, want {} by {:?}",
                self.operation,
                self.name,
                self.resource,
                if self.allowed { "allow" } else { "deny" },
                self.statement
            ))
        }
    }
}

/// The policy document for about `statements` statements (at least [`MIN_STATEMENTS`]).
pub fn fleet_policy(statements: usize) -> Document {
    Workload::new(statements).fleet()
}

/// The same statements as [`fleet_policy`], all in one policy attached to an everyone group.
pub fn flat_policy(statements: usize) -> Document {
    Workload::new(statements).flat()
}

fn family_name(family: usize) -> String {
    format!("fam-{family:04}")
}

fn device_name(family: usize, device: usize) -> String {
    format!("{}-dev-{device:06}", family_name(family))
}

fn statement(
    id: String,
    effect: Effect,
    operations: &[OperationName],
    resources: Vec<String>,
    match_mode: MatchMode,
) -> Statement {
    Statement {
        id,
        description: None,
        effect,
        operations: operations.to_vec(),
        resources,
        match_mode,
        qos: None,
        retain: None,
    }
}

fn everyone_statements(prefix: &str) -> Vec<Statement> {
    use OperationName::{Publish, Receive, Subscribe};
    vec![
        statement(
            format!("{prefix}deny-sys"),
            Effect::Deny,
            &[Publish, Subscribe, Receive],
            vec!["topic:$SYS/#".into(), "topicfilter:$SYS/#".into()],
            MatchMode::Mqtt,
        ),
        statement(
            format!("{prefix}public"),
            Effect::Allow,
            &[Publish, Subscribe, Receive],
            vec!["topic:public/#".into(), "topicfilter:public/#".into()],
            MatchMode::Mqtt,
        ),
    ]
}

fn family_statements(family: usize, size: usize, prefix: &str) -> Vec<Statement> {
    use OperationName::{Publish, Receive, Subscribe};
    let fam = family_name(family);
    let id = |name: &str| format!("{prefix}{name}");
    let mut out = Vec::with_capacity(size);
    out.push(statement(
        id("telemetry"),
        Effect::Allow,
        &[Publish],
        vec![format!("topic:fleet/{fam}/${{thingName}}/telemetry/#")],
        MatchMode::Mqtt,
    ));
    let mut events = statement(
        id("events"),
        Effect::Allow,
        &[Publish],
        vec![format!("topic:fleet/{fam}/+/events")],
        MatchMode::Mqtt,
    );
    events.qos = Some(vec![0, 1]);
    out.push(events);
    out.push(statement(
        id("cmd-subscribe"),
        Effect::Allow,
        &[Subscribe],
        vec![format!("topicfilter:fleet/{fam}/${{thingName}}/cmd/#")],
        MatchMode::Mqtt,
    ));
    out.push(statement(
        id("cmd-receive"),
        Effect::Allow,
        &[Receive],
        vec![format!("topic:fleet/{fam}/${{thingName}}/cmd/*")],
        MatchMode::Glob,
    ));
    out.push(statement(
        id("shadow"),
        Effect::Allow,
        &[Publish, Receive],
        vec![format!("topic:fleet/{fam}/shadow/*")],
        MatchMode::Glob,
    ));
    out.push(statement(
        id("secret"),
        Effect::Deny,
        &[Publish, Subscribe, Receive],
        vec![
            format!("topic:fleet/{fam}/+/secret/#"),
            format!("topicfilter:fleet/{fam}/+/secret/#"),
        ],
        MatchMode::Mqtt,
    ));
    for j in 0..size.saturating_sub(FIXED) {
        let dev = device_name(family, j / DEVICE_KINDS);
        let st = match j % DEVICE_KINDS {
            0 => statement(
                id(&format!("{dev}-config")),
                Effect::Allow,
                &[Receive],
                vec![format!("topic:fleet/{fam}/{dev}/config")],
                MatchMode::Exact,
            ),
            1 => statement(
                id(&format!("{dev}-ota")),
                Effect::Allow,
                &[Publish],
                vec![format!("topic:fleet/{fam}/{dev}/ota/*")],
                MatchMode::Glob,
            ),
            _ => statement(
                id(&format!("{dev}-attributes")),
                Effect::Allow,
                &[Publish, Subscribe, Receive],
                vec![
                    format!("topic:fleet/{fam}/{dev}/attributes/+"),
                    format!("topicfilter:fleet/{fam}/{dev}/attributes/+"),
                ],
                MatchMode::Mqtt,
            ),
        };
        out.push(st);
    }
    out
}

impl Workload {
    /// Splits about `statements` statements (at least [`MIN_STATEMENTS`]) into families: their
    /// number grows as the square root, `sqrt(statements / 10)`, and devices fill the rest.
    pub fn new(statements: usize) -> Workload {
        let statements = statements.max(MIN_STATEMENTS);
        let body = statements - EVERYONE;
        let families = (statements / 10).isqrt().clamp(1, body / (FIXED + 2));
        let family_sizes = (0..families)
            .map(|f| body / families + usize::from(f < body % families))
            .collect();
        Workload { family_sizes }
    }

    /// The number of statements.
    pub fn statements(&self) -> usize {
        EVERYONE + self.family_sizes.iter().sum::<usize>()
    }

    /// The number of families.
    pub fn families(&self) -> usize {
        self.family_sizes.len()
    }

    /// The benchmarked device: in the last family, the last device with both a config and an
    /// ota statement (so its own statements come last in a linear scan).
    fn device(&self) -> (usize, usize) {
        let family = self.family_sizes.len() - 1;
        let per_device = self.family_sizes[family] - FIXED;
        (family, (per_device - 2) / DEVICE_KINDS)
    }

    /// The benchmarked device's identity (a certificate with thing name and client id).
    pub fn identity(&self) -> Identity {
        let (family, device) = self.device();
        let name = device_name(family, device);
        Identity::new(IdentityKind::Certificate)
            .with_thing_name(name.clone())
            .with_client_id(name)
    }

    /// The policy document: an everyone group, and a group and policy per family.
    pub fn fleet(&self) -> Document {
        let mut groups = vec![Group {
            name: "everyone".into(),
            description: None,
            selection_rule: "*".into(),
            policies: vec!["everyone".into()],
        }];
        let mut policies = BTreeMap::new();
        policies.insert("everyone".to_string(), everyone_statements(""));
        for (family, size) in self.family_sizes.iter().enumerate() {
            let name = family_name(family);
            groups.push(Group {
                name: name.clone(),
                description: None,
                selection_rule: format!("thingName: {name}-*"),
                policies: vec![name.clone()],
            });
            policies.insert(name, family_statements(family, *size, ""));
        }
        Document {
            version: DOCUMENT_VERSION,
            description: Some(format!("fleet of {} families", self.families())),
            groups,
            policies,
        }
    }

    /// The same statements in one policy, `fleet`, attached to an everyone group; statement
    /// ids are prefixed with their family.
    pub fn flat(&self) -> Document {
        let mut all = everyone_statements("everyone/");
        for (family, size) in self.family_sizes.iter().enumerate() {
            all.extend(family_statements(
                family,
                *size,
                &format!("{}/", family_name(family)),
            ));
        }
        Document {
            version: DOCUMENT_VERSION,
            description: Some("every statement in one policy, as an acl_file".into()),
            groups: vec![Group {
                name: "everyone".into(),
                description: None,
                selection_rule: "*".into(),
                policies: vec!["fleet".into()],
            }],
            policies: BTreeMap::from([("fleet".to_string(), all)]),
        }
    }

    /// The requests the decision benchmarks make for [`Workload::identity`]: per operation, an
    /// allow deep in the policy, a deny and a no-match.
    pub fn cases(&self) -> Vec<Case> {
        let (family, device) = self.device();
        let fam = family_name(family);
        let dev = device_name(family, device);
        let case = |operation, name, resource: String, allowed, statement| Case {
            operation,
            name,
            resource,
            qos: None,
            allowed,
            statement,
        };
        use Operation::{Publish, Receive, Subscribe};
        vec![
            Case {
                qos: Some(1),
                ..case(
                    Publish,
                    "telemetry-var",
                    format!("fleet/{fam}/{dev}/telemetry/engine/temp"),
                    true,
                    Some("telemetry"),
                )
            },
            case(
                Publish,
                "ota-device-glob",
                format!("fleet/{fam}/{dev}/ota/progress"),
                true,
                Some("ota"),
            ),
            case(
                Publish,
                "secret-deny",
                format!("fleet/{fam}/{dev}/secret/key"),
                false,
                Some("secret"),
            ),
            case(
                Publish,
                "no-match",
                format!("fleet/{fam}/{dev}/logs/boot"),
                false,
                None,
            ),
            case(
                Subscribe,
                "own-cmd-contained",
                format!("fleet/{fam}/{dev}/cmd/#"),
                true,
                Some("cmd-subscribe"),
            ),
            case(
                Subscribe,
                "broad-deny",
                "fleet/#".into(),
                false,
                Some("secret"),
            ),
            case(
                Subscribe,
                "no-match",
                format!("fleet/{fam}/{dev}/logs/#"),
                false,
                None,
            ),
            case(
                Receive,
                "cmd-glob-var",
                format!("fleet/{fam}/{dev}/cmd/reboot"),
                true,
                Some("cmd-receive"),
            ),
            case(
                Receive,
                "config-device-exact",
                format!("fleet/{fam}/{dev}/config"),
                true,
                Some("config"),
            ),
            case(
                Receive,
                "secret-deny",
                format!("fleet/{fam}/{dev}/secret/key"),
                false,
                Some("secret"),
            ),
            case(
                Receive,
                "no-match",
                format!("fleet/{fam}/{dev}/logs/boot"),
                false,
                None,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mqward_core::{Builder, Strategy};

    use super::*;

    #[test]
    fn sizes_are_exact_and_modes_all_present() {
        for n in [MIN_STATEMENTS, 11, 100, 1_000, 12_345, 100_000] {
            let w = Workload::new(n);
            assert_eq!(w.statements(), n);
            for doc in [w.fleet(), w.flat()] {
                let count: usize = doc.policies.values().map(Vec::len).sum();
                assert_eq!(count, n);
                for mode in [MatchMode::Mqtt, MatchMode::Glob, MatchMode::Exact] {
                    assert!(
                        doc.policies
                            .values()
                            .flatten()
                            .any(|s| s.match_mode == mode),
                        "{n}: no {mode} statement"
                    );
                }
            }
        }
        assert_eq!(Workload::new(1_000).families(), 10);
        assert_eq!(Workload::new(100_000).families(), 100);
    }

    #[test]
    fn cases_decide_as_expected_for_every_document_and_strategy() {
        for n in [MIN_STATEMENTS, 1_000, 5_000] {
            let w = Workload::new(n);
            for doc in [w.fleet(), w.flat()] {
                for strategy in [Strategy::Indexed, Strategy::Linear] {
                    let snapshot = Builder::new().strategy(strategy).build(&doc).unwrap();
                    let principal = Arc::new(snapshot).bind(w.identity());
                    for case in w.cases() {
                        let decision = principal.decide(&case.request());
                        if let Err(e) = case.check(&decision) {
                            panic!("{n} {strategy:?}: {e}");
                        }
                    }
                }
            }
        }
    }
}
