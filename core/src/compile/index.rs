//! The indexed strategy: per policy and resource kind, a trie for MQTT-mode patterns, a hash map
//! for exact strings, a GlobSet for fixed globs, and short lists for patterns with variables.

use std::cell::RefCell;

use globset::{Candidate, GlobSet};
use rustc_hash::FxHashMap;

use super::glob::{build_set, fits_globset, glob_matches, SENTINEL};
use super::trie::{tmpl_matches, Node};
use crate::policy::pattern::{Binding, GlobTok, Pattern, Piece, ResourceKind};
use crate::policy::Effect;

/// Reused buffers for GlobSet matching, so a decision does not allocate.
#[derive(Default)]
struct Scratch {
    candidate: String,
    hits: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Debug, Clone, Copy)]
struct GlobEntry {
    stmt: u32,
    /// An allow pattern that starts with a wildcard: it never matches a `$` topic.
    dollar_rule: bool,
}

#[derive(Debug, Default)]
struct KindIndex {
    allow: Node,
    deny: Node,
    exact: FxHashMap<Box<str>, Vec<u32>>,
    exact_tmpl: Vec<(Box<[Piece]>, u32)>,
    glob_set: Option<GlobSet>,
    glob_entries: Vec<GlobEntry>,
    glob_tmpl: Vec<(Box<[GlobTok]>, GlobEntry)>,
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
        let mut fixed_globs: [Vec<(&'a [GlobTok], GlobEntry)>; 3] = Default::default();
        for (stmt, effect, kind, pattern) in patterns {
            let Some(kind) = kind else {
                index.any.push(stmt);
                continue;
            };
            let k = &mut index.kinds[slot(kind)];
            match pattern {
                Pattern::Mqtt(levels) => match effect {
                    Effect::Allow => k.allow.insert(levels, stmt),
                    Effect::Deny => k.deny.insert(levels, stmt),
                },
                Pattern::Exact(pieces) => {
                    if let [Piece::Text(t)] = &**pieces {
                        k.exact.entry(t.clone()).or_default().push(stmt);
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
                    if fits_globset(toks) {
                        fixed_globs[slot(kind)].push((toks, entry));
                    } else {
                        k.glob_tmpl.push((toks.clone(), entry));
                    }
                }
            }
        }
        for (k, globs) in index.kinds.iter_mut().zip(fixed_globs) {
            if !globs.is_empty() {
                k.glob_set = Some(build_set(globs.iter().map(|(t, _)| *t))?);
                k.glob_entries = globs.into_iter().map(|(_, e)| e).collect();
            }
            k.allow.shrink();
            k.deny.shrink();
            k.exact.shrink_to_fit();
        }
        index.any.shrink_to_fit();
        Ok(index)
    }

    /// Reports every statement of this policy with a resource of `kind` that matches
    /// `resource`, or a `*` resource. Operations and conditions are checked by the caller.
    pub(crate) fn collect(
        &self,
        kind: ResourceKind,
        resource: &str,
        b: &[Binding],
        out: &mut impl FnMut(u32),
    ) {
        self.any.iter().for_each(|s| out(*s));
        let k = &self.kinds[slot(kind)];
        match kind {
            ResourceKind::ClientId => {
                k.allow.topic(resource.split('/'), true, false, b, out);
                k.deny.topic(resource.split('/'), true, false, b, out);
            }
            ResourceKind::Topic => {
                k.allow.topic(resource.split('/'), true, true, b, out);
                k.deny.topic(resource.split('/'), true, false, b, out);
            }
            ResourceKind::TopicFilter => {
                k.allow.containing(resource.split('/'), true, b, out);
                k.deny.overlapping(resource.split('/'), true, b, out);
            }
        }
        if let Some(stmts) = k.exact.get(resource) {
            stmts.iter().for_each(|s| out(*s));
        }
        for (pieces, stmt) in &k.exact_tmpl {
            if tmpl_matches(pieces, resource, b) {
                out(*stmt);
            }
        }
        let dollar_topic = resource.starts_with('$');
        if let Some(set) = &k.glob_set {
            let mut report = |hits: &[usize]| {
                for &i in hits {
                    if let Some(e) = k.glob_entries.get(i) {
                        if !(e.dollar_rule && dollar_topic) {
                            out(e.stmt);
                        }
                    }
                }
            };
            SCRATCH.with(|cell| match cell.try_borrow_mut() {
                Ok(mut scratch) => {
                    let Scratch { candidate, hits } = &mut *scratch;
                    candidate.clear();
                    candidate.push_str(resource);
                    candidate.push(SENTINEL);
                    set.matches_candidate_into(&Candidate::new(candidate.as_str()), hits);
                    report(hits);
                }
                // Only reachable if matching re-entered itself; allocate rather than fail.
                Err(_) => report(&set.matches(format!("{resource}{SENTINEL}"))),
            });
        }
        for (toks, e) in &k.glob_tmpl {
            if !(e.dollar_rule && dollar_topic) && glob_matches(toks, resource, b) {
                out(e.stmt);
            }
        }
    }
}
