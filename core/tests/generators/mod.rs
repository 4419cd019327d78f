//! Random documents, identities and requests for property tests, drawn from a small alphabet
//! so that they collide: used by `differential.rs` (indexed against linear) and by the
//! WebAssembly host's tests (WASM against native).

use std::collections::BTreeMap;

use mqward_core::policy::{Group, OperationName, Statement};
use mqward_core::{Document, Effect, Identity, IdentityKind, MatchMode, Operation};
use proptest::prelude::*;

/// Topic levels, with collisions on purpose: `$`-levels, empty ones, dots.
pub const LEVELS: &[&str] = &["a", "$s", "", "dev-1", "a", "$s", ".", "x.json"];
/// Policy variables the generated patterns use.
pub const VARS: &[&str] = &["${clientid}", "${thingName}", "${claim.zone}"];
/// Identity attribute values, wildcards and separators among them.
pub const VALUES: &[&str] = &["a", "b", "dev-1", "1", "", "+", "#", "a/b", "*", "x?"];

/// One pattern level.
pub fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(LEVELS).prop_map(str::to_owned),
        2 => Just("+".to_owned()),
        2 => prop::sample::select(VARS).prop_map(str::to_owned),
        1 => prop::sample::select(VARS).prop_map(|v| format!("dev-{v}")),
    ]
}

/// An MQTT-mode pattern.
pub fn mqtt_pattern() -> impl Strategy<Value = String> {
    (prop::collection::vec(level(), 1..4), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#".into());
        }
        levels.join("/")
    })
}

/// A glob-mode pattern.
pub fn glob_pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(LEVELS).prop_map(str::to_owned),
            2 => Just("*".to_owned()),
            1 => Just("?".to_owned()),
            2 => Just("/".to_owned()),
            1 => Just("+".to_owned()),
            1 => Just("#".to_owned()),
            2 => prop::sample::select(VARS).prop_map(str::to_owned),
        ],
        1..6,
    )
    .prop_map(|parts| parts.concat())
}

/// An exact-mode pattern.
pub fn exact_pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(LEVELS).prop_map(str::to_owned),
            1 => prop::sample::select(VARS).prop_map(str::to_owned),
        ],
        1..4,
    )
    .prop_map(|parts| parts.join("/"))
}

/// A statement with id `s<i>`.
pub fn statement(i: usize) -> impl Strategy<Value = Statement> {
    let mode = prop_oneof![
        3 => Just(MatchMode::Mqtt),
        2 => Just(MatchMode::Glob),
        1 => Just(MatchMode::Exact)
    ];
    mode.prop_flat_map(move |mode| {
        let body = match mode {
            MatchMode::Mqtt => mqtt_pattern().boxed(),
            MatchMode::Glob => glob_pattern().boxed(),
            MatchMode::Exact => exact_pattern().boxed(),
        };
        let resource = (
            prop_oneof![Just("topic:"), Just("topicfilter:"), Just("clientId:")],
            body,
        )
            .prop_map(|(prefix, body)| format!("{prefix}{body}"));
        let resources =
            prop::collection::vec(prop_oneof![10 => resource, 1 => Just("*".to_owned())], 1..3);
        let ops = prop::collection::vec(
            prop::sample::select(vec![
                OperationName::All,
                OperationName::All,
                OperationName::Connect,
                OperationName::Publish,
                OperationName::Subscribe,
                OperationName::Receive,
                OperationName::Unsubscribe,
                OperationName::All,
            ]),
            1..3,
        );
        let effect = prop_oneof![3 => Just(Effect::Allow), 1 => Just(Effect::Deny)];
        let qos = prop::option::weighted(0.2, prop::collection::vec(0u8..3, 1..3));
        let retain = prop::option::weighted(0.2, any::<bool>());
        (effect, ops, resources, qos, retain).prop_map(
            move |(effect, operations, resources, qos, retain)| Statement {
                id: format!("s{i}"),
                description: None,
                effect,
                operations,
                resources,
                match_mode: mode,
                qos,
                retain,
            },
        )
    })
}

/// A document of two policies and groups over them.
pub fn document() -> impl Strategy<Value = Document> {
    let policy = |p: usize| {
        (1usize..9)
            .prop_flat_map(move |n| (0..n).map(|i| statement(p * 10 + i)).collect::<Vec<_>>())
    };
    let rules = prop::sample::select(vec![
        "*",
        "*",
        "*",
        "thingName: dev-*",
        "thingName: a OR clientId: b",
        "claim.zone: * AND kind: jwt",
        "thingName: *1",
        "username: u",
    ]);
    (
        policy(0),
        policy(1),
        policy(2),
        prop::collection::vec((rules, prop::collection::vec(0usize..3, 1..3)), 1..4),
    )
        .prop_map(|(p0, p1, p2, groups)| Document {
            version: 1,
            description: None,
            groups: groups
                .into_iter()
                .enumerate()
                .map(|(i, (rule, ps))| Group {
                    name: format!("g{i}"),
                    description: None,
                    selection_rule: rule.to_owned(),
                    policies: ps.into_iter().map(|p| format!("p{p}")).collect(),
                })
                .collect(),
            policies: BTreeMap::from([
                ("p0".to_owned(), p0),
                ("p1".to_owned(), p1),
                ("p2".to_owned(), p2),
            ]),
        })
}

/// An identity from the small alphabet.
pub fn identity() -> impl Strategy<Value = Identity> {
    let value = || prop::option::of(prop::sample::select(VALUES));
    (
        prop::sample::select(vec![
            IdentityKind::Certificate,
            IdentityKind::Jwt,
            IdentityKind::Password,
        ]),
        value(),
        value(),
        value(),
        prop::option::of(prop::sample::select(vec!["u", "v"])),
    )
        .prop_map(|(kind, client, thing, zone, user)| {
            let mut id = Identity::new(kind);
            if let Some(c) = client {
                id = id.with_client_id(c);
            }
            if let Some(t) = thing {
                id = id.with_thing_name(t);
            }
            if let Some(z) = zone {
                id = id.with_claim("zone", z);
            }
            if let Some(u) = user {
                id = id.with_username(u);
            }
            id
        })
}

/// A request resource: topics, filters, `$share/...`.
pub fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![
                5 => prop::sample::select(LEVELS).prop_map(str::to_owned),
                1 => Just("+".to_owned()),
                1 => Just("#".to_owned()),
                1 => Just("1".to_owned()),
            ],
            1..5,
        )
        .prop_map(|l| l.join("/")),
        1 => prop::collection::vec(prop::sample::select(LEVELS), 1..3)
            .prop_map(|l| format!("$share/g/{}", l.join("/"))),
    ]
}

/// A request: operation, resource, QoS, retain.
pub fn request() -> impl Strategy<Value = (Operation, String, Option<u8>, Option<bool>)> {
    (
        prop::sample::select(Operation::ALL.to_vec()),
        resource(),
        prop::option::of(0u8..3),
        prop::option::of(any::<bool>()),
    )
}
