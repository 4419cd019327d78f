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
    pub(crate) fn collect<'a>(
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
