//! The indexed strategy: per policy and resource kind, a trie for MQTT-mode patterns, exact
//! strings and glob prefixes, walked once per request.

use std::cell::Cell;
use std::ops::Range;

use super::draft::Draft;
use super::glob::GlobEntry;
use super::trie::{tmpl_matches, Probe, Trie};
use crate::policy::pattern::{Pattern, Piece, ResourceKind};
use crate::policy::Effect;

#[derive(Debug, Default)]
struct KindIndex {
    /// For topics and client ids: every pattern, MQTT levels, exact texts and glob tails in one
    /// trie, walked once. For filters: the MQTT-mode allows (matched by containment).
    main: Trie,
    /// MQTT-mode deny patterns on filters (matched by overlap rather than containment).
    deny_filters: Trie,
    /// Exact and glob patterns on filters, compared with the filter as text.
    text_filters: Trie,
    /// Exact patterns with variables.
    exact_tmpl: Box<[(Box<[Piece]>, u32)]>,
}

/// The tries of one kind while they grow.
#[derive(Debug, Default)]
struct KindDraft {
    main: Draft,
    deny_filters: Draft,
    text_filters: Draft,
    exact_tmpl: Vec<(Box<[Piece]>, u32)>,
}

/// One resource of a statement, as the index is built from it.
pub(crate) struct Indexed<'a> {
    /// The statement.
    pub stmt: u32,
    /// Its effect.
    pub effect: Effect,
    /// The resource's kind; `None` for `*`.
    pub kind: Option<ResourceKind>,
    /// The parsed pattern.
    pub pattern: &'a Pattern,
    /// Where the resource is written in the snapshot's text: trie keys point into it.
    pub src: Range<usize>,
}

/// The compiled matchers of one policy.
#[derive(Debug, Default)]
pub(crate) struct PolicyIndex {
    kinds: [KindIndex; 3],
    any: Box<[u32]>,
}

fn slot(kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::ClientId => 0,
        ResourceKind::Topic => 1,
        ResourceKind::TopicFilter => 2,
    }
}

impl PolicyIndex {
    /// Builds the index of one policy from its statements' resources. `text` is the snapshot's
    /// text, where the resources are written; a key not found there is appended.
    pub(crate) fn build<'a>(
        text: &mut String,
        resources: impl IntoIterator<Item = Indexed<'a>>,
    ) -> Result<PolicyIndex, String> {
        let mut drafts: [KindDraft; 3] = Default::default();
        let mut any = Vec::new();
        for r in resources {
            let Some(kind) = r.kind else {
                any.push(r.stmt);
                continue;
            };
            let k = &mut drafts[slot(kind)];
            let text_trie = if kind == ResourceKind::TopicFilter {
                &mut k.text_filters
            } else {
                &mut k.main
            };
            let stmt = r.stmt;
            match r.pattern {
                Pattern::Mqtt(levels) => {
                    if kind == ResourceKind::TopicFilter && r.effect == Effect::Deny {
                        k.deny_filters.insert(text, &r.src, levels, stmt)?;
                    } else {
                        k.main.insert(text, &r.src, levels, stmt)?;
                    }
                }
                Pattern::Exact(pieces) => {
                    if let [Piece::Text(t)] = &**pieces {
                        text_trie.insert_exact(text, &r.src, t, stmt)?;
                    } else {
                        k.exact_tmpl.push((pieces.clone(), stmt));
                    }
                }
                Pattern::Glob(toks) => {
                    let entry = GlobEntry {
                        stmt,
                        dollar_rule: r.effect == Effect::Allow
                            && kind != ResourceKind::ClientId
                            && r.pattern.starts_with_wildcard(),
                    };
                    text_trie.insert_glob(text, &r.src, toks, entry)?;
                }
            }
        }
        let mut index = PolicyIndex {
            any: any.into(),
            ..PolicyIndex::default()
        };
        for (k, d) in index.kinds.iter_mut().zip(drafts) {
            *k = KindIndex {
                main: d.main.freeze(text)?,
                deny_filters: d.deny_filters.freeze(text)?.with_subtree_minimum(),
                text_filters: d.text_filters.freeze(text)?,
                exact_tmpl: d.exact_tmpl.into(),
            };
        }
        Ok(index)
    }

    /// Reports every statement of this policy with a resource of `kind` that matches the
    /// request, or a `*` resource, as `(statement, deny_only)`. Operations and conditions are
    /// checked by the caller.
    ///
    /// `deny` is the smallest deny statement the caller has accepted so far: the walk may skip
    /// deny statements that cannot be smaller.
    #[inline]
    pub(crate) fn collect<'a>(
        &'a self,
        kind: ResourceKind,
        p: &'a Probe<'a>,
        deny: &Cell<u32>,
        out: &mut impl FnMut(u32, bool),
    ) {
        // Most policies of an identity share no first level with most topics (a fleet's
        // policies are namespaced by it): those cost a test here, not a walk.
        let k = &self.kinds[slot(kind)];
        if kind != ResourceKind::TopicFilter
            && self.any.is_empty()
            && k.exact_tmpl.is_empty()
            && !p.may_enter(&k.main)
        {
            return;
        }
        self.collect_all(kind, p, deny, out);
    }

    /// [`PolicyIndex::collect`] past its first-level test.
    #[inline(never)]
    fn collect_all<'a>(
        &'a self,
        kind: ResourceKind,
        p: &'a Probe<'a>,
        deny: &Cell<u32>,
        out: &mut impl FnMut(u32, bool),
    ) {
        for s in self.any.iter() {
            out(*s, false);
        }
        let k = &self.kinds[slot(kind)];
        let walk = |trie: &'a Trie| trie.walk(p);
        match kind {
            ResourceKind::ClientId | ResourceKind::Topic => {
                if let Some(w) = walk(&k.main) {
                    w.topics(kind == ResourceKind::Topic, out);
                }
            }
            ResourceKind::TopicFilter => {
                if let Some(w) = walk(&k.main) {
                    w.containers(out);
                }
                if let Some(w) = walk(&k.deny_filters) {
                    w.overlaps(deny, out);
                }
                if let Some(w) = walk(&k.text_filters) {
                    w.texts(out);
                }
            }
        }
        for (pieces, stmt) in k.exact_tmpl.iter() {
            if tmpl_matches(pieces, p.text(), p.bindings()) {
                out(*stmt, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::compile::trie::first_level_bit;
    use crate::compile::{Builder, Matcher, Strategy};
    use crate::identity::{Identity, IdentityKind};
    use crate::policy::{Document, Group, MatchMode, OperationName, Statement, DOCUMENT_VERSION};
    use crate::request::Request;

    fn policy(mode: MatchMode, resource: &str) -> Vec<Statement> {
        vec![Statement {
            id: "s".into(),
            description: None,
            effect: Effect::Allow,
            operations: vec![OperationName::All],
            resources: vec![resource.into()],
            match_mode: mode,
            qos: None,
            retain: None,
        }]
    }

    #[test]
    fn the_first_level_filter_skips_only_policies_that_cannot_match() {
        // One policy per kind of root: literal first levels filter, anything else walks.
        let policies = [
            (
                "lit",
                MatchMode::Mqtt,
                "topic:fleet/a/#",
                Some(&["fleet"][..]),
            ),
            ("two", MatchMode::Exact, "topic:a/b", Some(&["a"][..])),
            ("empty", MatchMode::Mqtt, "topic:/x", Some(&[""][..])),
            ("plus", MatchMode::Mqtt, "topic:+/x", None),
            ("hash", MatchMode::Mqtt, "topic:#", None),
            ("var", MatchMode::Mqtt, "topic:${thingName}/x", None),
            ("glob", MatchMode::Glob, "topic:f*", None),
        ];
        let doc = Document {
            version: DOCUMENT_VERSION,
            description: None,
            groups: vec![Group {
                name: "all".into(),
                description: None,
                selection_rule: "*".into(),
                policies: policies.iter().map(|p| p.0.to_string()).collect(),
            }],
            policies: policies
                .iter()
                .map(|(name, mode, r, _)| (name.to_string(), policy(*mode, r)))
                .collect::<BTreeMap<_, _>>(),
        };
        let indexed = Arc::new(Builder::new().build(&doc).unwrap());
        let Matcher::Indexed(indexes) = &indexed.matcher else {
            panic!("indexed")
        };
        let names: Vec<&str> = indexed.policies.iter().map(|p| &*p.name).collect();
        for (name, _, _, firsts) in policies {
            let at = names.iter().position(|n| *n == name).unwrap();
            let first = indexes[at].kinds[slot(ResourceKind::Topic)].main.first;
            let want = firsts.map_or(u64::MAX, |f| {
                f.iter().fold(0, |m, l| m | first_level_bit(l.as_bytes()))
            });
            assert_eq!(first, want, "{name}");
            // No client id patterns: that trie is empty and admits nothing.
            assert_eq!(
                indexes[at].kinds[slot(ResourceKind::ClientId)].main.first,
                0
            );
        }
        // Every topic decides as the linear reference does, whichever policies it skips.
        let linear = Arc::new(
            Builder::new()
                .strategy(Strategy::Linear)
                .build(&doc)
                .unwrap(),
        );
        let id = || Identity::new(IdentityKind::Certificate).with_thing_name("t");
        let (pi, pl) = (indexed.bind(id()), linear.bind(id()));
        for topic in [
            "fleet/a",
            "fleet/a/b",
            "fleet",
            "a/b",
            "a",
            "/x",
            "/",
            "q/x",
            "t/x",
            "f",
            "fx/y",
            "$SYS/x",
            "b/a",
            "fleeT/a",
            "fleet/b",
        ] {
            let (a, b) = (
                pi.decide(&Request::publish(topic)),
                pl.decide(&Request::publish(topic)),
            );
            assert_eq!(
                (a.effect, a.statement().map(|s| s.policy())),
                (b.effect, b.statement().map(|s| s.policy())),
                "{topic}"
            );
        }
    }
}
