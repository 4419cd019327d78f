//! Compilation: a builder validates a [`Document`] and compiles it into an immutable
//! [`Snapshot`] of matchers.

mod draft;
mod glob;
mod groups;
mod index;
pub(crate) mod levels;
pub(crate) mod reference;
mod trie;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{Error, Location, Problem};
use crate::policy::pattern::{parse_resource, Resource, ResourceKind, VarSlot, VarTable};
use crate::policy::selection::SelectionRule;
use crate::policy::{Document, Effect, MatchMode, DOCUMENT_VERSION};
use crate::request::Operation;

use groups::Membership;
use index::{Indexed, PolicyIndex};
pub(crate) use trie::Probe;

/// How a snapshot finds the statements that match a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Tries, hash maps and glob sets per policy: cost depends on the request, not on the
    /// number of statements. The default.
    #[default]
    Indexed,
    /// Every statement of the identity's policies, one after another, as Mosquitto's acl_file
    /// does. The reference semantics and the baseline for benchmarks.
    Linear,
}

/// Validates and compiles documents into snapshots.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    strategy: Strategy,
}

/// `retain` as one byte: no condition.
const RETAIN_ANY: u8 = 0;
/// `retain` as one byte: the condition `retain: false`.
const RETAIN_FALSE: u8 = 1;
/// `retain` as one byte: the condition `retain: true`.
const RETAIN_TRUE: u8 = 2;

/// A compiled statement, as decisions report it.
///
/// 48 bytes: its texts (policy name, id, description, resources) are ranges of the snapshot's
/// one shared text, and its conditions are bytes.
#[derive(Clone)]
pub struct StatementInfo {
    /// The snapshot's text: every policy name once, then each statement's id, description and
    /// resources (each resource followed by a NUL, which no resource holds).
    text: Arc<str>,
    /// The policy name's range in `text`.
    policy: (u32, u32),
    /// Where the id starts; it ends where the description starts.
    id: u32,
    /// Where the description starts; it ends where the resources start.
    description: u32,
    /// Where the resources start.
    resources: u32,
    /// Where the resources end.
    end: u32,
    operations: u8,
    effect: Effect,
    /// A mask of the allowed QoS levels; 0 for no condition (a `qos` list is never empty).
    qos: u8,
    /// [`RETAIN_ANY`], [`RETAIN_FALSE`] or [`RETAIN_TRUE`].
    retain: u8,
    mode: MatchMode,
    has_description: bool,
}

impl StatementInfo {
    /// A range of the shared text; the builder made every range on character boundaries.
    fn slice(&self, from: u32, to: u32) -> &str {
        self.text
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }

    /// The policy holding the statement.
    pub fn policy(&self) -> &str {
        self.slice(self.policy.0, self.policy.1)
    }

    /// The statement id, unique within its policy.
    pub fn id(&self) -> &str {
        self.slice(self.id, self.description)
    }

    /// The statement's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.has_description
            .then(|| self.slice(self.description, self.resources))
    }

    /// Allow or deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement covers an operation.
    pub fn covers_operation(&self, op: Operation) -> bool {
        self.operations & op.bit() != 0
    }

    /// The resources as written.
    pub fn resources(&self) -> impl Iterator<Item = &str> {
        self.slice(self.resources, self.end).split_terminator('\0')
    }

    /// Whether the statement applies to an operation with this QoS and retain flag. A condition
    /// the request cannot answer (unknown QoS) keeps an allow from matching and lets a deny match.
    #[inline]
    pub(crate) fn covers(&self, op: Operation, qos: Option<u8>, retain: Option<bool>) -> bool {
        if !self.covers_operation(op) {
            return false;
        }
        let unknown = self.effect == Effect::Deny;
        let qos_ok = match (self.qos, qos) {
            (0, _) => true,
            (mask, Some(q)) => q < 8 && mask & (1 << q) != 0,
            (_, None) => unknown,
        };
        let retain_ok = match (self.retain, retain) {
            (RETAIN_ANY, _) => true,
            (want, Some(r)) => (want == RETAIN_TRUE) == r,
            (_, None) => unknown,
        };
        qos_ok && retain_ok
    }

    /// The `qos` condition as a mask, if any.
    fn qos_mask(&self) -> Option<u8> {
        (self.qos != 0).then_some(self.qos)
    }

    /// The `retain` condition, if any.
    fn retain_condition(&self) -> Option<bool> {
        match self.retain {
            RETAIN_ANY => None,
            other => Some(other == RETAIN_TRUE),
        }
    }

    /// The resources parsed again from their text. Parsing already succeeded at build time with
    /// these variables, so it succeeds again and interns no new variable (a clone keeps the
    /// snapshot's table untouched).
    fn parse_resources(&self, vars: &VarTable) -> Vec<Resource> {
        let mut vars = vars.clone();
        self.resources()
            .filter_map(|raw| parse_resource(raw, self.mode, &mut vars).ok())
            .collect()
    }
}

impl PartialEq for StatementInfo {
    fn eq(&self, other: &StatementInfo) -> bool {
        self.policy() == other.policy()
            && self.id() == other.id()
            && self.description() == other.description()
            && self.effect == other.effect
            && self.operations == other.operations
            && self.qos == other.qos
            && self.retain == other.retain
            && self.mode == other.mode
            && self.resources().eq(other.resources())
    }
}

impl Eq for StatementInfo {}

impl fmt::Debug for StatementInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatementInfo")
            .field("policy", &self.policy())
            .field("id", &self.id())
            .field("description", &self.description())
            .field("effect", &self.effect)
            .field("operations", &self.operations)
            .field("qos", &self.qos_mask())
            .field("retain", &self.retain_condition())
            .field("mode", &self.mode)
            .field("resources", &self.resources().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for StatementInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}/{}`", self.policy(), self.id())
    }
}

#[derive(Debug)]
pub(crate) struct PolicyInfo {
    pub name: Box<str>,
    pub statements: Range<u32>,
}

#[derive(Debug)]
pub(crate) struct GroupInfo {
    pub name: Box<str>,
    pub rule: SelectionRule,
    pub policies: Box<[u32]>,
}

/// The parsed resources of every statement, for the linear strategy.
#[derive(Debug)]
pub(crate) struct Linear {
    resources: Box<[Resource]>,
    /// Statement `s` has `resources[starts[s]..starts[s + 1]]`.
    starts: Box<[u32]>,
}

impl Linear {
    /// The parsed resources of statement `s`.
    #[inline]
    pub(crate) fn of(&self, s: u32) -> &[Resource] {
        let s = s as usize;
        match (self.starts.get(s), self.starts.get(s + 1)) {
            (Some(&from), Some(&to)) => self
                .resources
                .get(from as usize..to as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }
}

#[derive(Debug)]
pub(crate) enum Matcher {
    Indexed(Box<[PolicyIndex]>),
    Linear(Linear),
}

/// An immutable compiled policy: decide with [`Snapshot::bind`] and
/// [`Principal::decide`](crate::principal::Principal::decide), or through an
/// [`Engine`](crate::engine::Engine).
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) statements: Box<[StatementInfo]>,
    /// The text the statements and the tries' keys refer to.
    pub(crate) text: Arc<str>,
    pub(crate) policies: Box<[PolicyInfo]>,
    pub(crate) groups: Box<[GroupInfo]>,
    pub(crate) vars: VarTable,
    /// For each deny statement using variables, sorted by statement: (statement, variable
    /// slot, resource kind bit), so that a hostile value can turn it on (fail closed) without
    /// the parsed patterns.
    pub(crate) deny_vars: Box<[(u32, VarSlot, u8)]>,
    pub(crate) membership: Membership,
    pub(crate) matcher: Matcher,
    pub(crate) generation: u64,
}

impl Snapshot {
    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The statements, in document order (policies by name, statements in order).
    pub fn statements(&self) -> &[StatementInfo] {
        &self.statements
    }

    /// The group names, in document order.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| &*g.name)
    }

    /// The strategy it was compiled with.
    pub fn strategy(&self) -> Strategy {
        match self.matcher {
            Matcher::Indexed(_) => Strategy::Indexed,
            Matcher::Linear(_) => Strategy::Linear,
        }
    }

    /// A number that changes each time an engine installs a new snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The parsed resources of statement `s`: borrowed when the linear strategy keeps them,
    /// parsed again from their text otherwise.
    pub(crate) fn resources_of(&self, s: u32) -> Cow<'_, [Resource]> {
        match &self.matcher {
            Matcher::Linear(linear) => Cow::Borrowed(linear.of(s)),
            Matcher::Indexed(_) => Cow::Owned(
                self.statements
                    .get(s as usize)
                    .map(|st| st.parse_resources(&self.vars))
                    .unwrap_or_default(),
            ),
        }
    }
}

/// A `u32` offset into the snapshot's text.
fn offset(text: &str) -> u32 {
    // The builder checks the text's length before the offsets are used.
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

impl Builder {
    /// A builder with the default (indexed) strategy.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Chooses the matching strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Builder {
        self.strategy = strategy;
        self
    }

    /// Validates and compiles a document. Every problem is reported, each with its location.
    pub fn build(&self, doc: &Document) -> Result<Snapshot, Error> {
        let mut problems = Vec::new();
        if doc.version != DOCUMENT_VERSION {
            problems.push(Problem::new(
                Location::Document,
                format!(
                    "unsupported version `{}`: this release reads version {DOCUMENT_VERSION}",
                    doc.version
                ),
            ));
        }
        let mut vars = VarTable::default();
        let mut text = String::new();
        // Until the text is complete, statements share an empty one.
        let unset: Arc<str> = Arc::from("");
        let mut statements = Vec::new();
        let mut parsed: Vec<Resource> = Vec::new();
        // For each parsed resource: where its text is in `text`.
        let mut sources: Vec<Range<usize>> = Vec::new();
        let mut starts: Vec<u32> = Vec::new();
        let mut deny_vars = Vec::new();
        let mut policies = Vec::new();
        for (name, list) in &doc.policies {
            let start = statements.len() as u32;
            let policy_name = (offset(&text), 0);
            text.push_str(name);
            let policy_name = (policy_name.0, offset(&text));
            let mut ids = HashSet::new();
            if name.is_empty() {
                problems.push(Problem::new(
                    Location::Document,
                    "a policy has an empty name",
                ));
            }
            for st in list {
                let at = Location::Statement {
                    policy: name.clone(),
                    statement: st.id.clone(),
                };
                if st.id.is_empty() {
                    problems.push(Problem::new(at.clone(), "statement id is empty"));
                } else if !ids.insert(st.id.as_str()) {
                    problems.push(Problem::new(at.clone(), "duplicate statement id"));
                }
                if st.operations.is_empty() {
                    problems.push(Problem::new(at.clone(), "no operations"));
                }
                if st.resources.is_empty() {
                    problems.push(Problem::new(at.clone(), "no resources"));
                }
                let qos = match &st.qos {
                    None => 0,
                    Some(list) if list.is_empty() => {
                        problems.push(Problem::new(
                            at.clone(),
                            "`qos` is empty: omit it to match every QoS",
                        ));
                        0
                    }
                    Some(list) => {
                        let mut mask = 0u8;
                        for q in list {
                            if *q > 2 {
                                problems.push(Problem::new(
                                    at.clone(),
                                    format!("QoS `{q}` is not 0, 1 or 2"),
                                ));
                            } else {
                                mask |= 1 << q;
                            }
                        }
                        mask
                    }
                };
                let s = statements.len() as u32;
                starts.push(parsed.len() as u32);
                let id = offset(&text);
                text.push_str(&st.id);
                let description = offset(&text);
                if let Some(d) = &st.description {
                    text.push_str(d);
                }
                let resources = offset(&text);
                for (index, raw) in st.resources.iter().enumerate() {
                    let from = text.len();
                    text.push_str(raw);
                    let src = from..text.len();
                    text.push('\0');
                    match parse_resource(raw, st.match_mode, &mut vars) {
                        Ok(r) => {
                            if st.effect == Effect::Deny {
                                if let Some(k) = r.kind {
                                    for slot in r.pattern.slots() {
                                        deny_vars.push((s, slot, kind_bit(k)));
                                    }
                                }
                            }
                            parsed.push(r);
                            sources.push(src);
                        }
                        Err(message) => problems.push(Problem::new(
                            Location::Resource {
                                policy: name.clone(),
                                statement: st.id.clone(),
                                index,
                            },
                            message,
                        )),
                    }
                }
                statements.push(StatementInfo {
                    text: Arc::clone(&unset),
                    policy: policy_name,
                    id,
                    description,
                    resources,
                    end: offset(&text),
                    operations: st
                        .operations
                        .iter()
                        .fold(0, |m, o| m | Operation::mask_of(*o)),
                    effect: st.effect,
                    qos,
                    retain: match st.retain {
                        None => RETAIN_ANY,
                        Some(false) => RETAIN_FALSE,
                        Some(true) => RETAIN_TRUE,
                    },
                    mode: st.match_mode,
                    has_description: st.description.is_some(),
                });
            }
            policies.push(PolicyInfo {
                name: name.as_str().into(),
                statements: start..statements.len() as u32,
            });
        }
        starts.push(parsed.len() as u32);
        let mut groups = Vec::new();
        let mut names = BTreeSet::new();
        for g in &doc.groups {
            let at = Location::Group(g.name.clone());
            if g.name.is_empty() {
                problems.push(Problem::new(at.clone(), "group name is empty"));
            } else if !names.insert(g.name.as_str()) {
                problems.push(Problem::new(at.clone(), "duplicate group name"));
            }
            let rule = match SelectionRule::parse(&g.selection_rule) {
                Ok(rule) => rule,
                Err(message) => {
                    problems.push(Problem::new(at.clone(), message));
                    continue;
                }
            };
            let mut attached = Vec::new();
            for p in &g.policies {
                match policies.iter().position(|info| &*info.name == p.as_str()) {
                    Some(i) => attached.push(i as u32),
                    None => {
                        problems.push(Problem::new(at.clone(), format!("unknown policy `{p}`")))
                    }
                }
            }
            attached.sort_unstable();
            attached.dedup();
            groups.push(GroupInfo {
                name: g.name.as_str().into(),
                rule,
                policies: attached.into(),
            });
        }
        if statements.len() >= trie::MAX_STATEMENTS {
            problems.push(Problem::new(Location::Document, "too many statements"));
        }
        if text.len() > u32::MAX as usize / 2 {
            problems.push(Problem::new(
                Location::Document,
                "the document's names, ids and resources exceed 2 GiB",
            ));
        }
        if !problems.is_empty() {
            return Err(Error::from_problems(problems));
        }
        let matcher = match self.strategy {
            Strategy::Linear => Matcher::Linear(Linear {
                resources: parsed.into(),
                starts: starts.into(),
            }),
            Strategy::Indexed => {
                let mut indexes = Vec::with_capacity(policies.len());
                for info in &policies {
                    let range = info.statements.start as usize..info.statements.end as usize;
                    let resources = range.flat_map(|s| {
                        let from = starts.get(s).copied().unwrap_or_default() as usize;
                        let to = starts.get(s + 1).copied().unwrap_or_default() as usize;
                        (from..to).map(move |r| (s, r))
                    });
                    let items = resources.filter_map(|(s, r)| {
                        let st = statements.get(s)?;
                        let res = parsed.get(r)?;
                        Some(Indexed {
                            stmt: s as u32,
                            effect: st.effect,
                            kind: res.kind,
                            pattern: &res.pattern,
                            src: sources.get(r)?.clone(),
                        })
                    });
                    let index = PolicyIndex::build(&mut text, items).map_err(|message| {
                        Error::single(
                            Location::Document,
                            format!("policy `{}`: {message}", info.name),
                        )
                    })?;
                    indexes.push(index);
                }
                Matcher::Indexed(indexes.into())
            }
        };
        let text: Arc<str> = text.into();
        for st in &mut statements {
            st.text = Arc::clone(&text);
        }
        let rules: Vec<SelectionRule> = groups.iter().map(|g| g.rule.clone()).collect();
        Ok(Snapshot {
            statements: statements.into(),
            text,
            policies: policies.into(),
            membership: Membership::new(&rules),
            groups: groups.into(),
            vars,
            deny_vars: deny_vars.into(),
            matcher,
            generation: 0,
        })
    }
}

/// The resource kind an operation acts on.
pub(crate) fn kind_of(op: Operation) -> ResourceKind {
    reference::kind_of(op)
}

/// A resource kind as one bit of a mask.
pub(crate) fn kind_bit(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::ClientId => 1,
        ResourceKind::Topic => 2,
        ResourceKind::TopicFilter => 4,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::identity::{Identity, IdentityKind};
    use crate::policy::{Group, OperationName, Statement};
    use crate::request::Request;

    fn statement(id: &str, effect: Effect, mode: MatchMode, resources: &[&str]) -> Statement {
        Statement {
            id: id.into(),
            description: None,
            effect,
            operations: vec![OperationName::All],
            resources: resources.iter().map(|r| r.to_string()).collect(),
            match_mode: mode,
            qos: None,
            retain: None,
        }
    }

    /// Many devices under one level (a hashed node), patterns sharing nodes (pooled lists),
    /// `*` tails on their own nodes (star lists), templates and `+` branches.
    fn crowded() -> Document {
        let mut list = vec![
            statement("hash", Effect::Allow, MatchMode::Mqtt, &["topic:a/#"]),
            statement("plus", Effect::Allow, MatchMode::Mqtt, &["topic:a/+/x"]),
            statement("same-1", Effect::Allow, MatchMode::Mqtt, &["topic:a/d-3/x"]),
            statement("same-2", Effect::Deny, MatchMode::Mqtt, &["topic:a/d-3/x"]),
            statement(
                "end-and-hash",
                Effect::Allow,
                MatchMode::Mqtt,
                &["topic:a/d-4/x/#"],
            ),
            statement(
                "own",
                Effect::Allow,
                MatchMode::Glob,
                &[
                    "topic:a/${thingName}/own/*",
                    "topicfilter:a/${thingName}/own/*",
                ],
            ),
            statement("root-star", Effect::Allow, MatchMode::Glob, &["topic:*z"]),
            statement("any", Effect::Deny, MatchMode::Exact, &["clientId:blocked"]),
        ];
        for d in 0..40 {
            let dev = format!("d-{d}");
            list.push(statement(
                &format!("{dev}-config"),
                Effect::Allow,
                MatchMode::Exact,
                &[&format!("topic:a/{dev}/config")],
            ));
            list.push(statement(
                &format!("{dev}-ota"),
                Effect::Allow,
                MatchMode::Glob,
                &[
                    &format!("topic:a/{dev}/ota/*"),
                    &format!("topicfilter:a/{dev}/ota/*"),
                ],
            ));
            list.push(statement(
                &format!("{dev}-attr"),
                if d % 7 == 0 {
                    Effect::Deny
                } else {
                    Effect::Allow
                },
                MatchMode::Mqtt,
                &[
                    &format!("topic:a/{dev}/attr/+"),
                    &format!("topicfilter:a/{dev}/attr/+"),
                ],
            ));
        }
        Document {
            version: DOCUMENT_VERSION,
            description: None,
            groups: vec![Group {
                name: "all".into(),
                description: None,
                selection_rule: "*".into(),
                policies: vec!["p".into()],
            }],
            policies: BTreeMap::from([("p".to_string(), list)]),
        }
    }

    #[test]
    fn indexed_decides_as_linear_on_crowded_nodes() {
        let doc = crowded();
        let indexed = Arc::new(Builder::new().build(&doc).unwrap());
        let linear = Arc::new(
            Builder::new()
                .strategy(Strategy::Linear)
                .build(&doc)
                .unwrap(),
        );
        let id = || Identity::new(IdentityKind::Certificate).with_thing_name("d-5");
        let (pi, pl) = (indexed.bind(id()), linear.bind(id()));
        let mut resources = vec![
            "a".to_string(),
            "a/".into(),
            "a/d-3/x".into(),
            "a/d-4/x".into(),
            "a/d-4/x/y".into(),
            "a/d-5/own/".into(),
            "a/d-5/own/q/r".into(),
            "a/d-6/own/q".into(),
            "$SYS/z".into(),
            "xz".into(),
            "a/+/x".into(),
            "a/#".into(),
            "#".into(),
            "a/+/attr/#".into(),
            "blocked".into(),
        ];
        for d in [0, 1, 7, 20, 39, 40] {
            for tail in [
                "config", "config/", "ota", "ota/", "ota/1", "attr/1", "attr/+", "attr",
            ] {
                resources.push(format!("a/d-{d}/{tail}"));
            }
        }
        let mut allowed = 0;
        for r in &resources {
            for op in Operation::ALL {
                let req = Request::new(op, r.as_bytes());
                let (a, b) = (pi.decide(&req), pl.decide(&req));
                assert_eq!(a.effect, b.effect, "{op} `{r}`");
                assert_eq!(
                    a.statement().map(StatementInfo::id),
                    b.statement().map(StatementInfo::id),
                    "{op} `{r}`"
                );
                allowed += usize::from(a.is_allowed());
                assert_eq!(pi.explain(&req), pl.explain(&req), "{op} `{r}`");
            }
        }
        assert!(allowed > 20);
    }

    #[test]
    fn statement_record_keeps_its_texts() {
        let mut doc = crowded();
        if let Some(list) = doc.policies.get_mut("p") {
            list[0].description = Some("every topic under a".into());
            list[0].qos = Some(vec![1]);
            list[0].retain = Some(false);
        }
        let snap = Builder::new().build(&doc).unwrap();
        let st = &snap.statements()[0];
        assert_eq!(st.policy(), "p");
        assert_eq!(st.id(), "hash");
        assert_eq!(st.description(), Some("every topic under a"));
        assert_eq!(st.resources().collect::<Vec<_>>(), ["topic:a/#"]);
        assert!(st.covers(Operation::Publish, Some(1), Some(false)));
        assert!(!st.covers(Operation::Publish, Some(0), Some(false)));
        assert!(!st.covers(Operation::Publish, Some(1), Some(true)));
        assert!(!st.covers(Operation::Publish, None, Some(false)));
        let own = &snap.statements()[5];
        assert_eq!(own.description(), None);
        assert_eq!(
            own.resources().collect::<Vec<_>>(),
            [
                "topic:a/${thingName}/own/*",
                "topicfilter:a/${thingName}/own/*"
            ]
        );
        let again = Builder::new().build(&doc).unwrap();
        assert_eq!(&again.statements()[5], own);
        assert_ne!(&again.statements()[4], own);
        let debug = format!("{own:?}");
        assert!(debug.contains("a/${thingName}/own/*"), "{debug}");
        assert_eq!(own.to_string(), "`p/own`");
        assert!(size_of::<StatementInfo>() <= 48);
        assert_eq!(size_of::<trie::Node>(), 24);
    }
}
