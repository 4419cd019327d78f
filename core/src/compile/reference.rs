//! The plain reference semantics: one statement, one resource, one request, no index.
//!
//! The `linear` strategy decides with these functions statement after statement (as Mosquitto's
//! acl_file does); property tests hold the indexed strategy to the same answers.

use crate::policy::pattern::{Binding, GlobTok, Level, Pattern, Piece, ResourceKind};
use crate::policy::Effect;
use crate::request::Operation;

/// A level of a pattern once variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lvl<'a> {
    Lit(&'a str),
    Plus,
    Hash,
}

/// The kind of resource an operation acts on.
pub(crate) fn kind_of(op: Operation) -> ResourceKind {
    match op {
        Operation::Connect => ResourceKind::ClientId,
        Operation::Publish | Operation::Receive => ResourceKind::Topic,
        Operation::Subscribe | Operation::Unsubscribe => ResourceKind::TopicFilter,
    }
}

fn value(b: &[Binding], slot: u16) -> Option<&str> {
    b.get(usize::from(slot)).and_then(Binding::usable)
}

/// Substitutes variables into text pieces; `None` when a variable is not usable.
fn resolve_pieces(pieces: &[Piece], b: &[Binding]) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(s) => out.push_str(value(b, *s)?),
        }
    }
    Some(out)
}

/// Whether `pattern` (one resource, already known to be of the request's kind) matches the
/// checked resource for a statement of `effect`.
pub(crate) fn resource_matches(
    pattern: &Pattern,
    kind: ResourceKind,
    effect: Effect,
    resource: &str,
    b: &[Binding],
) -> bool {
    // Allow patterns follow MQTT 4.7.2-1 (a leading wildcard never matches a `$` topic); deny
    // patterns match `$` topics too, so a broad deny never leaves a `$` hole (fail closed).
    let dollar = effect == Effect::Allow && kind != ResourceKind::ClientId;
    match pattern {
        Pattern::Exact(pieces) => resolve_pieces(pieces, b).is_some_and(|p| p == resource),
        Pattern::Glob(toks) => {
            let Some(resolved) = resolve_glob(toks, b) else {
                return false;
            };
            if dollar
                && resource.starts_with('$')
                && matches!(resolved.first(), Some(GlobTok::Star | GlobTok::One))
            {
                return false;
            }
            super::glob::glob_matches(&resolved, resource.as_bytes(), b)
        }
        Pattern::Mqtt(levels) => {
            let Some(texts) = resolve_levels(levels, b) else {
                return false;
            };
            let lv: Vec<Lvl<'_>> = levels
                .iter()
                .zip(&texts)
                .map(|(l, t)| match l {
                    Level::Plus => Lvl::Plus,
                    Level::Hash => Lvl::Hash,
                    _ => Lvl::Lit(t.as_str()),
                })
                .collect();
            match kind {
                ResourceKind::ClientId | ResourceKind::Topic => {
                    let topic: Vec<&str> = resource.split('/').collect();
                    topic_matches(&lv, &topic, dollar)
                }
                ResourceKind::TopicFilter => {
                    let filter: Vec<Lvl<'_>> = resource
                        .split('/')
                        .map(|l| match l {
                            "+" => Lvl::Plus,
                            "#" => Lvl::Hash,
                            other => Lvl::Lit(other),
                        })
                        .collect();
                    match effect {
                        Effect::Allow => contains(&lv, &filter, true),
                        Effect::Deny => overlaps(&lv, &filter, true),
                    }
                }
            }
        }
    }
}

fn resolve_levels(levels: &[Level], b: &[Binding]) -> Option<Vec<String>> {
    levels
        .iter()
        .map(|l| match l {
            Level::Lit(t) => Some(t.to_string()),
            Level::Plus | Level::Hash => Some(String::new()),
            Level::Tmpl(pieces) => resolve_pieces(pieces, b),
        })
        .collect()
}

fn resolve_glob(toks: &[GlobTok], b: &[Binding]) -> Option<Vec<GlobTok>> {
    toks.iter()
        .map(|t| match t {
            GlobTok::Var(s) => value(b, *s).map(|v| GlobTok::Lit(v.into())),
            other => Some(other.clone()),
        })
        .collect()
}

/// Whether filter `p` matches topic `t`; with `dollar`, a leading wildcard skips `$` topics.
fn topic_matches(p: &[Lvl<'_>], t: &[&str], dollar: bool) -> bool {
    if dollar
        && matches!(p.first(), Some(Lvl::Plus | Lvl::Hash))
        && t.first().is_some_and(|l| l.starts_with('$'))
    {
        return false;
    }
    fn go(p: &[Lvl<'_>], t: &[&str]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(Lvl::Hash) => true,
            Some(Lvl::Plus) => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(Lvl::Lit(l)) => t.first() == Some(l) && go(&p[1..], &t[1..]),
        }
    }
    go(p, t)
}

/// Whether every topic filter `f` can match is matched by allow pattern `p`.
fn contains(p: &[Lvl<'_>], f: &[Lvl<'_>], first: bool) -> bool {
    if first
        && matches!(p.first(), Some(Lvl::Plus | Lvl::Hash))
        && matches!(f.first(), Some(Lvl::Lit(l)) if l.starts_with('$'))
    {
        return false;
    }
    match (p.first(), f.first()) {
        (Some(Lvl::Hash), _) => true,
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        // Every topic has at least one level, so at the root `+/#` matches all that `#` does.
        (Some(Lvl::Plus), Some(Lvl::Hash)) if first => p[1..] == [Lvl::Hash],
        (Some(Lvl::Plus), Some(Lvl::Lit(_) | Lvl::Plus)) => contains(&p[1..], &f[1..], false),
        (Some(Lvl::Plus), Some(Lvl::Hash)) => false,
        (Some(Lvl::Lit(a)), Some(Lvl::Lit(b))) => a == b && contains(&p[1..], &f[1..], false),
        (Some(Lvl::Lit(_)), Some(Lvl::Plus | Lvl::Hash)) => false,
    }
}

/// Whether some topic matches both deny pattern `p` (no `$` rule) and requested filter `f`
/// (whose leading wildcard never matches a `$` topic).
fn overlaps(p: &[Lvl<'_>], f: &[Lvl<'_>], first: bool) -> bool {
    let dollar_lit = |l: &Lvl<'_>| matches!(l, Lvl::Lit(s) if s.starts_with('$'));
    match (p.first(), f.first()) {
        (None, None) => true,
        (Some(Lvl::Hash), _) => true,
        (Some(pl), Some(Lvl::Hash)) => !(first && dollar_lit(pl)),
        (None, Some(Lvl::Hash)) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(Lvl::Plus), Some(_)) => overlaps(&p[1..], &f[1..], false),
        (Some(Lvl::Lit(a)), Some(Lvl::Plus)) => {
            !(first && a.starts_with('$')) && overlaps(&p[1..], &f[1..], false)
        }
        (Some(Lvl::Lit(a)), Some(Lvl::Lit(b))) => a == b && overlaps(&p[1..], &f[1..], false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain recursive glob matching, exponential in the worst case: the oracle for the linear one.
    fn glob_recursive(toks: &[GlobTok], text: &str) -> bool {
        match toks.split_first() {
            None => text.is_empty(),
            Some((GlobTok::Lit(l), rest)) => text
                .strip_prefix(&**l)
                .is_some_and(|t| glob_recursive(rest, t)),
            Some((GlobTok::Var(_), _)) => false,
            Some((GlobTok::One, rest)) => {
                let mut chars = text.chars();
                chars.next().is_some() && glob_recursive(rest, chars.as_str())
            }
            Some((GlobTok::Star, rest)) => {
                text.char_indices()
                    .any(|(i, _)| glob_recursive(rest, &text[i..]))
                    || glob_recursive(rest, "")
            }
        }
    }

    proptest! {
        #[test]
        fn linear_glob_agrees_with_recursive(
            pattern in "[ab*?/é]{0,8}",
            text in "[ab/é]{0,10}",
        ) {
            let toks = match crate::policy::pattern::parse_pattern(
                &pattern, MatchMode::Glob, &mut VarTable::default()) {
                Ok(Pattern::Glob(t)) => t,
                _ => return Ok(()),
            };
            prop_assert_eq!(
                super::super::glob::glob_matches(&toks, text.as_bytes(), &[]),
                glob_recursive(&toks, &text),
                "{} vs {}", pattern, text
            );
        }
    }

    use crate::policy::pattern::{parse_pattern, VarTable};
    use crate::policy::MatchMode;

    fn m(pattern: &str, kind: ResourceKind, effect: Effect, resource: &str) -> bool {
        let p = parse_pattern(pattern, MatchMode::Mqtt, &mut VarTable::default()).unwrap();
        resource_matches(&p, kind, effect, resource, &[])
    }

    #[test]
    fn topic_matching() {
        use ResourceKind::Topic;
        assert!(m("a/+/c", Topic, Effect::Allow, "a/b/c"));
        assert!(m("a/#", Topic, Effect::Allow, "a"));
        assert!(m("a/#", Topic, Effect::Allow, "a/b/c"));
        assert!(!m("a/+", Topic, Effect::Allow, "a"));
        assert!(m("+/+", Topic, Effect::Allow, "/x"));
        assert!(!m("#", Topic, Effect::Allow, "$SYS/x"));
        assert!(!m("+/x", Topic, Effect::Allow, "$SYS/x"));
        assert!(m("#", Topic, Effect::Deny, "$SYS/x"));
        assert!(m("$SYS/#", Topic, Effect::Allow, "$SYS/x"));
    }

    #[test]
    fn containment_and_overlap() {
        use ResourceKind::TopicFilter as F;
        assert!(!m("a/+/b/#", F, Effect::Allow, "a/#"));
        assert!(m("a/#", F, Effect::Allow, "a/+/b/#"));
        assert!(m("a/#", F, Effect::Allow, "a"));
        assert!(m("a/+", F, Effect::Allow, "a/+"));
        assert!(!m("a/b", F, Effect::Allow, "a/+"));
        assert!(!m("#", F, Effect::Allow, "$SYS/#"));
        assert!(m("#", F, Effect::Allow, "#"));
        assert!(m("+/#", F, Effect::Allow, "#"));
        assert!(!m("+/+/#", F, Effect::Allow, "#"));
        assert!(!m("a/+/#", F, Effect::Allow, "a/#"));
        assert!(m("a/secret/#", F, Effect::Deny, "a/#"));
        assert!(m("a/secret/#", F, Effect::Deny, "+/secret"));
        assert!(!m("a/secret/#", F, Effect::Deny, "a/public/#"));
        assert!(m("a", F, Effect::Deny, "a/#"));
        assert!(!m("$SYS/#", F, Effect::Deny, "#"));
        assert!(!m("$SYS/#", F, Effect::Deny, "+/x"));
        assert!(m("#", F, Effect::Deny, "$SYS/x"));
    }

    #[test]
    fn glob_semantics() {
        let g = |p: &str, t: &str| {
            let p = parse_pattern(p, MatchMode::Glob, &mut VarTable::default()).unwrap();
            resource_matches(&p, ResourceKind::Topic, Effect::Allow, t, &[])
        };
        assert!(g("a/*", "a/b/c"));
        assert!(g("a/?", "a/é"));
        assert!(!g("a/?", "a/bc"));
        assert!(g("a/+", "a/+"));
        assert!(!g("a/+", "a/b"));
        assert!(!g("*", "$SYS/x"));
        assert!(g("$*", "$SYS/x"));
    }
}
