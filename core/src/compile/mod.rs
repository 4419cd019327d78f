//! Compilation: a builder validates a [`Document`] and compiles it into an immutable
//! [`Snapshot`] of matchers.

mod glob;
mod groups;
mod index;
pub(crate) mod levels;
pub(crate) mod reference;
mod trie;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;

use crate::error::{Error, Location, Problem};
use crate::policy::pattern::{parse_resource, Resource, ResourceKind, VarSlot, VarTable};
use crate::policy::selection::SelectionRule;
use crate::policy::{Document, Effect, MatchMode, DOCUMENT_VERSION};
use crate::request::Operation;

use groups::Membership;
use index::PolicyIndex;

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

/// A compiled statement, as decisions report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    policy: std::sync::Arc<str>,
    id: Box<str>,
    description: Option<Box<str>>,
    effect: Effect,
    operations: u8,
    qos: Option<u8>,
    retain: Option<bool>,
    mode: MatchMode,
    /// Parsed resources; kept only by the linear strategy (the indexed one holds them in its
    /// index and re-parses `raw_resources` for explanations).
    resources: Box<[Resource]>,
    raw_resources: Box<[Box<str>]>,
    /// For a deny statement: (variable slot, resource kind bit) for each variable it uses, so
    /// that a hostile value can turn it on (fail closed) without the parsed patterns.
    deny_vars: Box<[(VarSlot, u8)]>,
}

impl StatementInfo {
    /// The policy holding the statement.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// The statement id, unique within its policy.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The statement's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
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
        self.raw_resources.iter().map(|r| &**r)
    }

    /// Whether the statement applies to an operation with this QoS and retain flag. A condition
    /// the request cannot answer (unknown QoS) keeps an allow from matching and lets a deny match.
    pub(crate) fn covers(&self, op: Operation, qos: Option<u8>, retain: Option<bool>) -> bool {
        if !self.covers_operation(op) {
            return false;
        }
        let unknown = self.effect == Effect::Deny;
        let qos_ok = match (self.qos, qos) {
            (None, _) => true,
            (Some(mask), Some(q)) => q < 8 && mask & (1 << q) != 0,
            (Some(_), None) => unknown,
        };
        let retain_ok = match (self.retain, retain) {
            (None, _) => true,
            (Some(want), Some(r)) => want == r,
            (Some(_), None) => unknown,
        };
        qos_ok && retain_ok
    }

    /// The parsed resources: borrowed when kept, parsed again from their text otherwise.
    pub(crate) fn parsed_resources(&self, vars: &VarTable) -> Cow<'_, [Resource]> {
        if !self.resources.is_empty() || self.raw_resources.is_empty() {
            return Cow::Borrowed(&self.resources);
        }
        // Parsing already succeeded at build time with these variables, so it succeeds again
        // and interns no new variable (a clone keeps the snapshot's table untouched).
        let mut vars = vars.clone();
        Cow::Owned(
            self.raw_resources
                .iter()
                .filter_map(|raw| parse_resource(raw, self.mode, &mut vars).ok())
                .collect(),
        )
    }

    /// (variable slot, resource kind bit) pairs of a deny statement's variables.
    pub(crate) fn deny_vars(&self) -> &[(VarSlot, u8)] {
        &self.deny_vars
    }
}

impl fmt::Display for StatementInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}/{}`", self.policy, self.id)
    }
}

#[derive(Debug)]
pub(crate) struct PolicyInfo {
    pub name: Box<str>,
    pub statements: std::ops::Range<u32>,
}

#[derive(Debug)]
pub(crate) struct GroupInfo {
    pub name: Box<str>,
    pub rule: SelectionRule,
    pub policies: Box<[u32]>,
}

#[derive(Debug)]
pub(crate) enum Matcher {
    Indexed(Box<[PolicyIndex]>),
    Linear,
}

/// An immutable compiled policy: decide with [`Snapshot::bind`] and
/// [`Principal::decide`](crate::principal::Principal::decide), or through an
/// [`Engine`](crate::engine::Engine).
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) statements: Box<[StatementInfo]>,
    pub(crate) policies: Box<[PolicyInfo]>,
    pub(crate) groups: Box<[GroupInfo]>,
    pub(crate) vars: VarTable,
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
            Matcher::Linear => Strategy::Linear,
        }
    }

    /// A number that changes each time an engine installs a new snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }
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
        let mut statements = Vec::new();
        let mut policies = Vec::new();
        for (name, list) in &doc.policies {
            let start = statements.len() as u32;
            let shared_name: std::sync::Arc<str> = name.as_str().into();
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
                    None => None,
                    Some(list) if list.is_empty() => {
                        problems.push(Problem::new(
                            at.clone(),
                            "`qos` is empty: omit it to match every QoS",
                        ));
                        None
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
                        Some(mask)
                    }
                };
                let mut resources = Vec::new();
                for (index, raw) in st.resources.iter().enumerate() {
                    match parse_resource(raw, st.match_mode, &mut vars) {
                        Ok(r) => resources.push(r),
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
                let deny_vars: Box<[(VarSlot, u8)]> = if st.effect == Effect::Deny {
                    resources
                        .iter()
                        .filter_map(|r: &Resource| r.kind.map(|k| (k, r.pattern.slots())))
                        .flat_map(|(k, slots)| slots.into_iter().map(move |s| (s, kind_bit(k))))
                        .collect()
                } else {
                    Box::new([])
                };
                statements.push(StatementInfo {
                    policy: std::sync::Arc::clone(&shared_name),
                    id: st.id.as_str().into(),
                    description: st.description.as_deref().map(Into::into),
                    effect: st.effect,
                    operations: st
                        .operations
                        .iter()
                        .fold(0, |m, o| m | Operation::mask_of(*o)),
                    qos,
                    retain: st.retain,
                    mode: st.match_mode,
                    resources: resources.into(),
                    raw_resources: st.resources.iter().map(|r| r.as_str().into()).collect(),
                    deny_vars,
                });
            }
            policies.push(PolicyInfo {
                name: name.as_str().into(),
                statements: start..statements.len() as u32,
            });
        }
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
        if statements.len() > u32::MAX as usize / 2 {
            problems.push(Problem::new(Location::Document, "too many statements"));
        }
        if !problems.is_empty() {
            return Err(Error::from_problems(problems));
        }
        let matcher = match self.strategy {
            Strategy::Linear => Matcher::Linear,
            Strategy::Indexed => {
                let mut indexes = Vec::with_capacity(policies.len());
                for info in &policies {
                    let range = info.statements.start as usize..info.statements.end as usize;
                    let patterns =
                        statements[range.clone()]
                            .iter()
                            .zip(range)
                            .flat_map(|(st, i)| {
                                st.resources
                                    .iter()
                                    .map(move |r| (i as u32, st.effect, r.kind, &r.pattern))
                            });
                    let index = PolicyIndex::build(patterns).map_err(|message| {
                        Error::single(
                            Location::Document,
                            format!("policy `{}`: {message}", info.name),
                        )
                    })?;
                    indexes.push(index);
                }
                // The index holds the patterns now; explanations re-parse the text.
                for st in &mut statements {
                    st.resources = Box::new([]);
                }
                Matcher::Indexed(indexes.into())
            }
        };
        let rules: Vec<SelectionRule> = groups.iter().map(|g| g.rule.clone()).collect();
        Ok(Snapshot {
            statements: statements.into(),
            policies: policies.into(),
            membership: Membership::new(&rules),
            groups: groups.into(),
            vars,
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
