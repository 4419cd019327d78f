//! The indexed strategy: per policy and resource kind, a trie for MQTT-mode patterns, a hash map
//! for exact strings, and a literal-prefix trie for globs.

use super::glob::GlobEntry;
use super::levels::Levels;
use super::trie::{tmpl_matches, Node};
use crate::policy::pattern::{Binding, Pattern, Piece, ResourceKind};
use crate::policy::Effect;

#[derive(Debug, Default)]
struct KindIndex {
    /// For topics and client ids: every pattern, MQTT levels, exact texts and glob tails in one
    /// trie, walked once. For filters: the MQTT-mode allows (matched by containment).
    main: Node,
    /// MQTT-mode deny patterns on filters (matched by overlap rather than containment).
    deny_filters: Node,
    /// Exact and glob patterns on filters, compared with the filter as text.
    text_filters: Node,
    /// Exact patterns with variables.
    exact_tmpl: Vec<(Box<[Piece]>, u32)>,
}

/// The compiled matchers of one policy.
#[derive(Debug, Default)]
pub(crate) struct PolicyIndex {
    kinds: [KindIndex; 3],
    any: Vec<u32>,
}

fn slot(kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::ClientId => 0,
        ResourceKind::Topic => 1,
        ResourceKind::TopicFilter => 2,
    }
}

impl PolicyIndex {
    /// Builds the index of one policy from its statements' resources (`kind: None` is `*`).
    pub(crate) fn build<'a>(
        patterns: impl IntoIterator<Item = (u32, Effect, Option<ResourceKind>, &'a Pattern)>,
    ) -> Result<PolicyIndex, String> {
        let mut index = PolicyIndex::default();
        for (stmt, effect, kind, pattern) in patterns {
            let Some(kind) = kind else {
                index.any.push(stmt);
                continue;
            };
            let k = &mut index.kinds[slot(kind)];
            let text_trie = if kind == ResourceKind::TopicFilter {
                &mut k.text_filters
            } else {
                &mut k.main
            };
            match pattern {
                Pattern::Mqtt(levels) => {
                    if kind == ResourceKind::TopicFilter && effect == Effect::Deny {
                        k.deny_filters.insert(levels, stmt);
                    } else {
                        k.main.insert(levels, stmt);
                    }
                }
                Pattern::Exact(pieces) => {
                    if let [Piece::Text(t)] = &**pieces {
                        text_trie.insert_exact(t, stmt);
                    } else {
                        k.exact_tmpl.push((pieces.clone(), stmt));
                    }
                }
                Pattern::Glob(toks) => {
                    let entry = GlobEntry {
                        stmt,
                        dollar_rule: effect == Effect::Allow
                            && kind != ResourceKind::ClientId
                            && pattern.starts_with_wildcard(),
                    };
                    text_trie.insert_glob(toks, entry);
                }
            }
        }
        for k in &mut index.kinds {
            k.main.finish()?;
            k.deny_filters.finish()?;
            k.text_filters.finish()?;
            k.exact_tmpl.shrink_to_fit();
        }
        index.any.shrink_to_fit();
        Ok(index)
    }

    /// Reports every statement of this policy with a resource of `kind` that matches the
    /// request split in `lv`, or a `*` resource, as `(statement, deny_only)`. Operations and
    /// conditions are checked by the caller.
    pub(crate) fn collect(
        &self,
        kind: ResourceKind,
        lv: &Levels<'_>,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        for s in &self.any {
            out(*s, false);
        }
        let k = &self.kinds[slot(kind)];
        match kind {
            ResourceKind::ClientId => k.main.topic(lv, 0, false, false, b, out),
            ResourceKind::Topic => k.main.topic(lv, 0, false, true, b, out),
            ResourceKind::TopicFilter => {
                if !k.main.is_empty() {
                    k.main.containing(lv, 0, b, out);
                }
                if !k.deny_filters.is_empty() {
                    k.deny_filters.overlapping(lv, 0, b, out);
                }
            }
        }
        if kind == ResourceKind::TopicFilter && !k.text_filters.is_empty() {
            k.text_filters.literal(lv, 0, b, out);
        }
        for (pieces, stmt) in &k.exact_tmpl {
            if tmpl_matches(pieces, lv.text(), b) {
                out(*stmt, false);
            }
        }
    }
}
