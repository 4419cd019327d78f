//! A principal: an identity bound to a snapshot, with its groups, policies and variable values
//! worked out once so that each decision only matches.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use crate::compile::levels::Levels;
use crate::compile::reference::resource_matches;
use crate::compile::{kind_bit, kind_of, Matcher, Probe, Snapshot};
use crate::decision::{Decision, Explanation, Reason};
use crate::identity::Identity;
use crate::policy::pattern::Binding;
use crate::policy::Effect;
use crate::request::{Checked, Request};

/// An identity bound to one snapshot. Cheap to decide with; rebind after a reload (an
/// [`Engine`](crate::engine::Engine) does this by itself).
#[derive(Debug, Clone)]
pub struct Principal {
    snapshot: Arc<Snapshot>,
    identity: Identity,
    groups: Box<[u32]>,
    policies: Box<[u32]>,
    bindings: Box<[Binding]>,
    /// Deny statements that need a variable whose value is hostile: they match every resource of
    /// the kinds in the mask (fail closed).
    forced_denies: Box<[(u32, u8)]>,
}

impl Snapshot {
    /// Binds an identity: works out its groups, policies and variable values.
    pub fn bind(self: &Arc<Snapshot>, identity: Identity) -> Principal {
        let mut principal = Principal {
            snapshot: Arc::clone(self),
            identity,
            groups: Box::new([]),
            policies: Box::new([]),
            bindings: Box::new([]),
            forced_denies: Box::new([]),
        };
        principal.rebind(Arc::clone(self));
        principal
    }
}

impl Principal {
    /// Binds the same identity to another snapshot (after a reload).
    pub fn rebind(&mut self, snapshot: Arc<Snapshot>) {
        let snap = &*snapshot;
        let groups = snap.membership.groups_of(&self.identity);
        let mut policies: Vec<u32> = groups
            .iter()
            .filter_map(|g| snap.groups.get(*g as usize))
            .flat_map(|g| g.policies.iter().copied())
            .collect();
        policies.sort_unstable();
        policies.dedup();
        let bindings = snap.vars.bind(&self.identity);
        let mut forced = Vec::new();
        if bindings.contains(&Binding::Unsafe) {
            let deny_vars = &snap.deny_vars;
            for &p in &policies {
                let Some(info) = snap.policies.get(p as usize) else {
                    continue;
                };
                // The table is sorted by statement: this policy's entries are one run, and
                // each statement's entries are next to each other.
                let from = deny_vars.partition_point(|(s, _, _)| *s < info.statements.start);
                let to = deny_vars.partition_point(|(s, _, _)| *s < info.statements.end);
                let run = deny_vars.get(from..to).unwrap_or_default();
                for entries in run.chunk_by(|a, b| a.0 == b.0) {
                    let mask = entries
                        .iter()
                        .filter(|(_, slot, _)| {
                            bindings.get(usize::from(*slot)) == Some(&Binding::Unsafe)
                        })
                        .fold(0, |m, (_, _, bit)| m | bit);
                    if let (Some(&(s, _, _)), true) = (entries.first(), mask != 0) {
                        forced.push((s, mask));
                    }
                }
            }
        }
        self.groups = groups.into();
        self.policies = policies.into();
        self.bindings = bindings.into();
        self.forced_denies = forced.into();
        self.snapshot = snapshot;
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The snapshot this principal is bound to.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The names of the groups the identity belongs to.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter_map(|g| self.snapshot.groups.get(*g as usize))
            .map(|g| &*g.name)
    }

    /// Decides a request. Never fails: malformed input is a deny.
    pub fn decide(&self, request: &Request<'_>) -> Decision<'_> {
        let mut levels = Levels::empty();
        let checked = match request.check(&mut levels) {
            Ok(c) => c,
            Err(m) => return Decision::malformed(m),
        };
        let snap = &*self.snapshot;
        // The smallest matching deny so far, shared with the walks so that they can skip what
        // cannot be smaller.
        let deny = Cell::new(u32::MAX);
        let mut allow = u32::MAX;
        let mut consider = |s: u32, deny_only: bool| {
            if let Some(st) = snap.statements.get(s as usize) {
                if (!deny_only || st.effect() == Effect::Deny)
                    && st.covers(checked.operation, checked.qos, checked.retain)
                {
                    match st.effect() {
                        Effect::Deny => deny.set(deny.get().min(s)),
                        Effect::Allow => allow = allow.min(s),
                    }
                }
            }
        };
        self.for_each_match(&checked, &levels, false, &deny, &mut consider);
        let deny = deny.get();
        let (effect, s) = if deny != u32::MAX {
            (Effect::Deny, deny)
        } else if allow != u32::MAX {
            (Effect::Allow, allow)
        } else {
            return Decision {
                effect: Effect::Deny,
                reason: Reason::NoMatch,
            };
        };
        match snap.statements.get(s as usize) {
            Some(st) => Decision {
                effect,
                reason: Reason::Statement(st),
            },
            None => Decision {
                effect: Effect::Deny,
                reason: Reason::NoMatch,
            },
        }
    }

    /// Reports statements whose resources match (operations and conditions unchecked), by the
    /// snapshot's strategy or, with `linear`, by the plain reference.
    fn for_each_match(
        &self,
        checked: &Checked<'_>,
        levels: &Levels<'_>,
        linear: bool,
        deny: &Cell<u32>,
        out: &mut impl FnMut(u32, bool),
    ) {
        let snap = &*self.snapshot;
        let kind = kind_of(checked.operation);
        let bit = kind_bit(kind);
        for &(s, mask) in self.forced_denies.iter() {
            if mask & bit != 0 {
                out(s, true);
            }
        }
        match &snap.matcher {
            Matcher::Indexed(indexes) if !linear => {
                let probe = Probe::new(snap.text.as_bytes(), levels, &self.bindings);
                for &p in self.policies.iter() {
                    if let Some(index) = indexes.get(p as usize) {
                        index.collect(kind, &probe, deny, out);
                    }
                }
            }
            _ => self.linear_matches(checked, out),
        }
    }

    /// Reports the statements whose resources match, one statement after another (the linear
    /// strategy, and explanations). Kept out of line: the indexed decision never comes here.
    #[inline(never)]
    fn linear_matches(&self, checked: &Checked<'_>, out: &mut impl FnMut(u32, bool)) {
        let snap = &*self.snapshot;
        let kind = kind_of(checked.operation);
        let text = checked.text();
        for &p in self.policies.iter() {
            let Some(info) = snap.policies.get(p as usize) else {
                continue;
            };
            for s in info.statements.clone() {
                let Some(st) = snap.statements.get(s as usize) else {
                    continue;
                };
                if !st.covers_operation(checked.operation) {
                    continue;
                }
                // The linear strategy keeps the parsed resources; an explanation under
                // the indexed one parses them again.
                let resources = match &snap.matcher {
                    Matcher::Linear(linear) => Cow::Borrowed(linear.of(s)),
                    Matcher::Indexed(_) => snap.resources_of(s),
                };
                let hit = resources.iter().any(|r| match r.kind {
                    None => true,
                    Some(k) => {
                        k == kind
                            && resource_matches(&r.pattern, k, st.effect(), text, &self.bindings)
                    }
                });
                if hit {
                    out(s, false);
                }
            }
        }
    }

    /// Decides a request and explains the decision for people.
    pub fn explain(&self, request: &Request<'_>) -> Explanation {
        let decision = self.decide(request);
        let snap = &*self.snapshot;
        let mut matched = Vec::new();
        let mut notes = Vec::new();
        let mut levels = Levels::empty();
        if let Ok(checked) = request.check(&mut levels) {
            let mut hits = Vec::new();
            self.for_each_match(
                &checked,
                &levels,
                true,
                &Cell::new(u32::MAX),
                &mut |s, _| hits.push(s),
            );
            hits.sort_unstable();
            hits.dedup();
            for s in hits {
                let Some(st) = snap.statements.get(s as usize) else {
                    continue;
                };
                let name = format!("{}/{}", st.policy(), st.id());
                if st.covers(checked.operation, checked.qos, checked.retain) {
                    matched.push((st.effect(), name));
                } else if st.covers_operation(checked.operation) {
                    notes.push(format!(
                        "statement `{name}` ({}) matches the resource but not the request's QoS \
                         or retain flag",
                        st.effect()
                    ));
                }
            }
        }
        for (var, b) in snap.vars.vars().iter().zip(self.bindings.iter()) {
            match b {
                Binding::Usable(_) => {}
                Binding::Absent => notes.push(format!(
                    "variable `{var}` has no value: statements that use it do not match"
                )),
                Binding::Unsafe => notes.push(format!(
                    "variable `{var}` holds a wildcard, `/` or NUL: allow statements that use it \
                     do not match and deny statements that use it match everything"
                )),
            }
        }
        if self.groups.is_empty() {
            notes.push("the identity belongs to no group, so every request is denied".into());
        }
        Explanation {
            effect: decision.effect,
            deciding: decision
                .statement()
                .map(|st| format!("{}/{}", st.policy(), st.id())),
            malformed: match decision.reason {
                Reason::Malformed(m) => Some(m),
                _ => None,
            },
            groups: self.group_names().map(str::to_owned).collect(),
            matched,
            notes,
        }
    }
}
