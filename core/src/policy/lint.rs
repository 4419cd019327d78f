//! Lints: valid documents that probably do not say what their author meant.
//!
//! [`lint`] returns warnings only. It assumes the document is valid: a resource or selection
//! rule that fails to parse is skipped here, because [`Builder::build`](crate::Builder::build)
//! reports it as an error.
//!
//! The lints:
//! - statements that can never match: an operation with no resource of its type, a resource no
//!   operation of the statement uses, a `topic:` pattern holding `+` or `#` outside mqtt mode, an
//!   exact `topicfilter:` that is not a valid filter, a `$share/` or `$queue/` filter (requests
//!   are authorized on the inner filter);
//! - policies attached to no group, policies with no statements, groups with no policies;
//! - allow statements shadowed by a deny of the same group, or of a group that selects everyone;
//! - every topic granted to every identity;
//! - variables next to a glob `*` or `?`, where one identity's value can reach another's;
//! - glob or exact filter denies, which wider filters such as `#` pass.

use std::collections::{BTreeMap, BTreeSet};

use crate::compile::kind_of;
use crate::error::{Location, Problem};
use crate::policy::pattern::{
    parse_resource, GlobTok, Level, Pattern, Piece, Resource, ResourceKind, VarTable,
};
use crate::policy::selection::SelectionRule;
use crate::policy::{Document, Effect, MatchMode, OperationName, Statement};
use crate::request::Operation;

/// A statement with its resources parsed; resources that fail to parse are left out.
struct Parsed<'a> {
    policy: &'a str,
    statement: &'a Statement,
    /// Operation mask, as [`Operation::mask_of`] builds it.
    ops: u8,
    /// (index in the statement's `resources`, parsed resource).
    resources: Vec<(usize, Resource)>,
}

impl Parsed<'_> {
    fn at(&self) -> Location {
        Location::Statement {
            policy: self.policy.to_owned(),
            statement: self.statement.id.clone(),
        }
    }

    fn at_resource(&self, index: usize) -> Location {
        Location::Resource {
            policy: self.policy.to_owned(),
            statement: self.statement.id.clone(),
            index,
        }
    }

    fn name(&self) -> String {
        format!("{}/{}", self.policy, self.statement.id)
    }

    fn covers(&self, op: Operation) -> bool {
        self.ops & op.bit() != 0
    }

    /// Whether some operation of the statement acts on resources of `kind`.
    fn uses_kind(&self, kind: ResourceKind) -> bool {
        Operation::ALL
            .into_iter()
            .any(|op| self.covers(op) && kind_of(op) == kind)
    }

    /// The resource kinds the statement's operations act on.
    fn kinds(&self) -> BTreeSet<ResourceKind> {
        Operation::ALL
            .into_iter()
            .filter(|op| self.covers(*op))
            .map(kind_of)
            .collect()
    }
}

/// Checks a valid document for rules that probably do not say what their author meant.
///
/// The warnings come in a stable order: statement lints in document order (policies by name),
/// then policies and groups, then shadowed allows.
pub fn lint(doc: &Document) -> Vec<Problem> {
    let mut vars = VarTable::default();
    let mut parsed = Vec::new();
    for (policy, statements) in &doc.policies {
        for statement in statements {
            let resources = statement
                .resources
                .iter()
                .enumerate()
                .filter_map(|(i, raw)| {
                    parse_resource(raw, statement.match_mode, &mut vars)
                        .ok()
                        .map(|r| (i, r))
                })
                .collect();
            parsed.push(Parsed {
                policy,
                statement,
                ops: statement
                    .operations
                    .iter()
                    .fold(0, |m, o| m | Operation::mask_of(*o)),
                resources,
            });
        }
    }
    let groups: Vec<(&str, SelectionRule, &[String])> = doc
        .groups
        .iter()
        .filter_map(|g| {
            SelectionRule::parse(&g.selection_rule)
                .ok()
                .map(|rule| (g.name.as_str(), rule, g.policies.as_slice()))
        })
        .collect();

    let mut out = Vec::new();
    for st in &parsed {
        unmatchable(st, &mut out);
        wildcard_variables(st, &vars, &mut out);
        filter_deny_text_only(st, &mut out);
    }
    attachments(doc, &mut out);
    everything_to_everyone(&parsed, &groups, &mut out);
    shadowed(&parsed, &groups, &mut out);
    out
}

/// Operations and resources that can never meet, and patterns no valid request equals.
fn unmatchable(st: &Parsed<'_>, out: &mut Vec<Problem>) {
    let has_star = st.resources.iter().any(|(_, r)| r.kind.is_none());
    if !st.statement.operations.contains(&OperationName::All) && !has_star {
        let mut seen = 0u8;
        for op in Operation::ALL {
            if !st.covers(op) || seen & op.bit() != 0 {
                continue;
            }
            seen |= op.bit();
            let kind = kind_of(op);
            if !st.resources.iter().any(|(_, r)| r.kind == Some(kind)) {
                out.push(Problem::new(
                    st.at(),
                    format!(
                        "`{op}` acts on `{}:` resources and this statement has none (nor `*`): \
                         it never applies to `{op}`",
                        kind.prefix()
                    ),
                ));
            }
        }
    }
    for (index, r) in &st.resources {
        let Some(kind) = r.kind else { continue };
        let raw = st
            .statement
            .resources
            .get(*index)
            .map_or("", String::as_str);
        let body = raw.split_once(':').map_or("", |(_, b)| b);
        if !st.uses_kind(kind) {
            out.push(Problem::new(
                st.at_resource(*index),
                format!(
                    "no operation of this statement acts on `{}:` resources: `{raw}` is never used",
                    kind.prefix()
                ),
            ));
            continue;
        }
        if st.statement.match_mode == MatchMode::Mqtt && body.contains(['*', '?']) {
            out.push(Problem::new(
                st.at_resource(*index),
                format!(
                    "`{raw}` holds `*` or `?`, which are literal in mqtt mode (`+` and `#` are its \
                     wildcards; `\"match\": \"glob\"` makes `*` one): it matches only that very text"
                ),
            ));
        }
        match kind {
            ResourceKind::Topic if literal_wildcard(&r.pattern) => out.push(Problem::new(
                st.at_resource(*index),
                format!(
                    "`{raw}` holds `+` or `#`, which are literal in {} mode and never occur in a \
                     topic name: it never matches",
                    st.statement.match_mode
                ),
            )),
            ResourceKind::TopicFilter
                if body.starts_with("$share/") || body.starts_with("$queue/") =>
            {
                out.push(Problem::new(
                    st.at_resource(*index),
                    format!(
                        "`{raw}` names a shared subscription, but requests are authorized on the \
                         inner filter (`$share/g/a/b` as `a/b`): it never matches"
                    ),
                ))
            }
            ResourceKind::TopicFilter if invalid_exact_filter(&r.pattern) => {
                out.push(Problem::new(
                    st.at_resource(*index),
                    format!(
                        "`{raw}` is not a valid topic filter (`#` must be alone in the last \
                         level, `+` alone in its level): it never matches"
                    ),
                ))
            }
            _ => {}
        }
    }
}

/// Whether a glob or exact pattern holds a `+` or `#` in its literal text.
fn literal_wildcard(pattern: &Pattern) -> bool {
    let wild = |t: &str| t.contains(['+', '#']);
    match pattern {
        Pattern::Mqtt(_) => false,
        Pattern::Glob(toks) => toks.iter().any(|t| matches!(t, GlobTok::Lit(l) if wild(l))),
        Pattern::Exact(pieces) => pieces
            .iter()
            .any(|p| matches!(p, Piece::Text(t) if wild(t))),
    }
}

/// Whether an exact pattern is not a valid topic filter. Variables never hold `+`, `#` or `/`
/// when they match, so they count as a plain character.
fn invalid_exact_filter(pattern: &Pattern) -> bool {
    let Pattern::Exact(pieces) = pattern else {
        return false;
    };
    let text: String = pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => &**t,
            Piece::Var(_) => "v",
        })
        .collect();
    let mut levels = text.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return true;
        }
        if level.contains('+') && level != "+" {
            return true;
        }
    }
    false
}

/// Variables that a glob `*` or `?` can extend into another identity's value.
fn wildcard_variables(st: &Parsed<'_>, vars: &VarTable, out: &mut Vec<Problem>) {
    for (index, r) in &st.resources {
        let Pattern::Glob(toks) = &r.pattern else {
            continue;
        };
        let name = |slot: u16| {
            vars.var(slot)
                .map_or_else(|| "a variable".to_owned(), |v| format!("`{v}`"))
        };
        let adjacent = toks.iter().enumerate().find_map(|(i, t)| match t {
            GlobTok::Var(slot) if wildcard_beside(toks, i) => Some(*slot),
            _ => None,
        });
        if let Some(slot) = adjacent {
            out.push(Problem::new(
                st.at_resource(*index),
                format!(
                    "{} sits next to a glob `*` or `?` with no `/` between them: one identity's \
                     value reaches another's (client `a` matches what client `ab` owns)",
                    name(slot)
                ),
            ));
            continue;
        }
        let edge = matches!(toks.first(), Some(GlobTok::Star))
            || matches!(toks.last(), Some(GlobTok::Star));
        let first_var = toks.iter().find_map(|t| match t {
            GlobTok::Var(slot) => Some(*slot),
            _ => None,
        });
        if let (Some(ResourceKind::ClientId), true, Some(slot)) = (r.kind, edge, first_var) {
            out.push(Problem::new(
                st.at_resource(*index),
                format!(
                    "client id pattern wraps {} in a glob `*`: the identity may connect with \
                     many client ids, including ones other identities' patterns expect",
                    name(slot)
                ),
            ));
        }
    }
}

/// Whether a `*` or `?` is reachable from token `i` through literal text without `/` (and
/// other variables).
fn wildcard_beside(toks: &[GlobTok], i: usize) -> bool {
    let reaches = |t: &GlobTok| -> Option<bool> {
        match t {
            GlobTok::Star | GlobTok::One => Some(true),
            GlobTok::Lit(l) if l.contains('/') => Some(false),
            GlobTok::Lit(_) | GlobTok::Var(_) => None,
        }
    };
    let left = toks
        .get(..i)
        .unwrap_or_default()
        .iter()
        .rev()
        .find_map(reaches);
    let right = toks
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .find_map(reaches);
    left == Some(true) || right == Some(true)
}

/// Denies on glob or exact filters compare the filter text, so wider filters pass them.
fn filter_deny_text_only(st: &Parsed<'_>, out: &mut Vec<Problem>) {
    if st.statement.effect != Effect::Deny
        || st.statement.match_mode == MatchMode::Mqtt
        || !st.covers(Operation::Subscribe)
        || st.covers(Operation::Receive)
    {
        return;
    }
    let narrow = st.resources.iter().find(|(_, r)| {
        r.kind == Some(ResourceKind::TopicFilter) && !universal(r, ResourceKind::TopicFilter)
    });
    if let Some((index, _)) = narrow {
        out.push(Problem::new(
            st.at_resource(*index),
            format!(
                "in {} mode a deny compares the filter text, so a wider filter such as `#` \
                 passes it: deny `receive` on the topics too, or use mqtt mode",
                st.statement.match_mode
            ),
        ));
    }
}

/// Policies attached to no group, policies without statements, groups without policies.
fn attachments(doc: &Document, out: &mut Vec<Problem>) {
    let attached: BTreeSet<&str> = doc
        .groups
        .iter()
        .flat_map(|g| g.policies.iter().map(String::as_str))
        .collect();
    for (name, statements) in &doc.policies {
        if statements.is_empty() {
            out.push(Problem::new(
                Location::Policy(name.clone()),
                "has no statements",
            ));
        }
        if !attached.contains(name.as_str()) {
            out.push(Problem::new(
                Location::Policy(name.clone()),
                "attached to no group: its statements never apply",
            ));
        }
    }
    for g in &doc.groups {
        if g.policies.is_empty() {
            out.push(Problem::new(
                Location::Group(g.name.clone()),
                "the group attaches no policies: it grants nothing",
            ));
        }
    }
}

/// Whether a resource covers every resource of `kind` (for a deny; an allow's `$` rule aside).
fn universal(r: &Resource, kind: ResourceKind) -> bool {
    match r.kind {
        None => true,
        Some(k) if k == kind => match &r.pattern {
            Pattern::Mqtt(levels) => matches!(&**levels, [Level::Hash]),
            Pattern::Glob(toks) => matches!(&**toks, [GlobTok::Star]),
            Pattern::Exact(_) => false,
        },
        Some(_) => false,
    }
}

/// Allow statements that grant every topic or filter to a group selecting every identity.
fn everything_to_everyone(
    parsed: &[Parsed<'_>],
    groups: &[(&str, SelectionRule, &[String])],
    out: &mut Vec<Problem>,
) {
    let mut reported = BTreeSet::new();
    for (group, rule, policies) in groups {
        if !rule.selects_everyone() {
            continue;
        }
        for st in parsed.iter().filter(|st| {
            st.statement.effect == Effect::Allow && policies.iter().any(|p| p == st.policy)
        }) {
            for (index, r) in &st.resources {
                let topics = st.covers(Operation::Publish) || st.covers(Operation::Receive);
                let filters = st.covers(Operation::Subscribe);
                let everything = match r.kind {
                    None => topics || filters,
                    Some(ResourceKind::Topic) => topics && universal(r, ResourceKind::Topic),
                    Some(ResourceKind::TopicFilter) => {
                        filters
                            && (universal(r, ResourceKind::TopicFilter)
                                || matches!(&r.pattern, Pattern::Exact(p)
                                    if matches!(&**p, [Piece::Text(t)] if &**t == "#")))
                    }
                    Some(ResourceKind::ClientId) => false,
                };
                if everything && reported.insert((st.name(), *index)) {
                    out.push(Problem::new(
                        st.at_resource(*index),
                        format!(
                            "grants every topic to every identity: group `{group}` selects `*`"
                        ),
                    ));
                }
            }
        }
    }
}

/// Allow statements that a deny in reach of the same identities always overrides.
fn shadowed(
    parsed: &[Parsed<'_>],
    groups: &[(&str, SelectionRule, &[String])],
    out: &mut Vec<Problem>,
) {
    let everyone: BTreeSet<&str> = groups
        .iter()
        .filter(|(_, rule, _)| rule.selects_everyone())
        .flat_map(|(_, _, policies)| policies.iter().map(String::as_str))
        .collect();
    // Allow (by position in `parsed`) -> the first deny found that shadows it.
    let mut found: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, _, policies) in groups {
        let own = |st: &Parsed<'_>| policies.iter().any(|p| p == st.policy);
        let reach = |st: &Parsed<'_>| own(st) || everyone.contains(st.policy);
        for (a, allow) in parsed.iter().enumerate() {
            if allow.statement.effect != Effect::Allow || !own(allow) || found.contains_key(&a) {
                continue;
            }
            let deny = parsed.iter().position(|deny| {
                deny.statement.effect == Effect::Deny && reach(deny) && shadows(deny, allow)
            });
            if let Some(d) = deny {
                found.insert(a, d);
            }
        }
    }
    for (a, d) in found {
        let (Some(allow), Some(deny)) = (parsed.get(a), parsed.get(d)) else {
            continue;
        };
        out.push(Problem::new(
            allow.at(),
            format!(
                "this allow is shadowed by deny `{}`, which covers all its operations and \
                 resources: it never allows anything",
                deny.name()
            ),
        ));
    }
}

/// Whether every request `allow` matches is also matched by `deny`.
fn shadows(deny: &Parsed<'_>, allow: &Parsed<'_>) -> bool {
    if deny.statement.qos.is_some() || deny.statement.retain.is_some() {
        return false;
    }
    if allow.ops & !deny.ops != 0 {
        return false;
    }
    let kinds = allow.kinds();
    let mut relevant = 0;
    for (_, r) in &allow.resources {
        let covered = match r.kind {
            None => kinds
                .iter()
                .all(|k| deny.resources.iter().any(|(_, d)| universal(d, *k))),
            Some(kind) if !kinds.contains(&kind) => continue,
            Some(kind) => deny.resources.iter().any(|(_, d)| {
                universal(d, kind)
                    || (d.kind == Some(kind)
                        && deny.statement.match_mode == allow.statement.match_mode
                        && !d.pattern.has_vars()
                        && contains(&d.pattern, &r.pattern))
            }),
        };
        if !covered {
            return false;
        }
        relevant += 1;
    }
    relevant > 0
}

/// Whether deny pattern `deny` (without variables) matches everything allow pattern `allow`
/// matches, both in the same mode.
fn contains(deny: &Pattern, allow: &Pattern) -> bool {
    match (deny, allow) {
        (Pattern::Mqtt(d), Pattern::Mqtt(a)) => mqtt_contains(d, a),
        (Pattern::Glob(d), Pattern::Glob(a)) => matches!(&**d, [GlobTok::Star]) || d == a,
        (Pattern::Exact(d), Pattern::Exact(a)) => d == a,
        _ => false,
    }
}

/// MQTT filter containment: `a/#` contains `a`, `a/b/+` and `a/#`; `+` contains one level of
/// any literal or variable text.
fn mqtt_contains(deny: &[Level], allow: &[Level]) -> bool {
    match (deny.split_first(), allow.split_first()) {
        (Some((Level::Hash, _)), _) => true,
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Level::Plus, d)), Some((Level::Plus | Level::Lit(_) | Level::Tmpl(_), a))) => {
            mqtt_contains(d, a)
        }
        (Some((Level::Lit(x), d)), Some((Level::Lit(y), a))) => x == y && mqtt_contains(d, a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Builder;

    fn doc(json: &str) -> Document {
        let doc = Document::from_json(json.as_bytes()).unwrap();
        Builder::new().build(&doc).unwrap();
        doc
    }

    /// One group (rule `thingName: sensor-*`) with policy `p`, and the statements given.
    fn one(statements: &str) -> Vec<String> {
        messages(&format!(
            r#"{{"version":1,
                "groups":[{{"name":"g","selectionRule":"thingName: sensor-*","policies":["p"]}}],
                "policies":{{"p":[{statements}]}}}}"#
        ))
    }

    fn messages(json: &str) -> Vec<String> {
        lint(&doc(json)).iter().map(ToString::to_string).collect()
    }

    fn has(warnings: &[String], needle: &str) -> bool {
        warnings.iter().any(|w| w.contains(needle))
    }

    const DEVICE: &str = r#"{"version":1,
        "groups":[
          {"name":"sensors","selectionRule":"thingName: sensor-*","policies":["sensor"]},
          {"name":"everyone","selectionRule":"*","policies":["base"]}],
        "policies":{
          "sensor":[
            {"id":"connect","effect":"allow","operations":["connect"],
             "resources":["clientId:${thingName}"]},
            {"id":"telemetry","effect":"allow","operations":["publish","receive"],
             "resources":["topic:sensors/${thingName}/#"],"qos":[0,1]},
            {"id":"commands","effect":"allow","operations":["subscribe","unsubscribe"],
             "resources":["topicfilter:commands/${thingName}/+"]},
            {"id":"shadow","effect":"allow","operations":["publish","receive"],
             "resources":["topic:$aws/things/${thingName}/shadow/*"],"match":"glob"}],
          "base":[
            {"id":"no-sys","effect":"deny","operations":["*"],"resources":["topic:$SYS/#",
             "topicfilter:$SYS/#"]},
            {"id":"no-secret","effect":"deny","operations":["publish","receive","subscribe"],
             "resources":["topic:+/secret/#","topicfilter:+/secret/#"]},
            {"id":"time","effect":"allow","operations":["subscribe","receive"],
             "resources":["topicfilter:time","topic:time"]}]}}"#;

    #[test]
    fn normal_per_device_policy_has_no_warnings() {
        assert_eq!(messages(DEVICE), Vec::<String>::new());
    }

    #[test]
    fn operation_without_its_resource_type() {
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["publish","subscribe"],
                "resources":["topicfilter:a/#"]}"#,
        );
        assert!(
            has(&w, "statement `p/s`: `publish` acts on `topic:` resources"),
            "{w:?}"
        );
        assert!(!has(&w, "`subscribe` acts on"), "{w:?}");
        let w =
            one(r#"{"id":"s","effect":"allow","operations":["connect"],"resources":["topic:a"]}"#);
        assert!(has(&w, "`connect` acts on `clientId:`"), "{w:?}");
        assert!(
            has(
                &w,
                "resource 0: no operation of this statement acts on `topic:`"
            ),
            "{w:?}"
        );
        // `*` operations or a `*` resource cover every type.
        let w = one(r#"{"id":"s","effect":"allow","operations":["*"],"resources":["topic:a"]}"#);
        assert!(w.is_empty(), "{w:?}");
        let w = one(
            r#"{"id":"s","effect":"deny","operations":["connect","publish"],"resources":["*"]}"#,
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn topic_patterns_no_topic_equals() {
        let w = one(
            r#"{"id":"s","effect":"deny","operations":["publish"],"resources":["topic:a/+"],
                "match":"exact"}"#,
        );
        assert!(
            has(
                &w,
                "`topic:a/+` holds `+` or `#`, which are literal in exact mode"
            ),
            "{w:?}"
        );
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["publish"],"resources":["topic:a/#*"],
                "match":"glob"}"#,
        );
        assert!(has(&w, "literal in glob mode"), "{w:?}");
        // In mqtt mode `+` and `#` are wildcards; in a filter they are fine in every mode.
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["publish"],"resources":["topic:a/+"]}"#,
        );
        assert!(w.is_empty(), "{w:?}");
        let w = one(r#"{"id":"s","effect":"allow","operations":["subscribe"],
                "resources":["topicfilter:a/+"],"match":"exact"}"#);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn glob_characters_in_mqtt_mode_are_flagged() {
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["connect","publish"],
                "resources":["clientId:*","topic:a/*/b","topic:a/+/#"]}"#,
        );
        assert!(has(&w, "`clientId:*` holds `*` or `?`"), "{w:?}");
        assert!(has(&w, "`topic:a/*/b` holds `*` or `?`"), "{w:?}");
        assert!(!has(&w, "`topic:a/+/#` holds"), "{w:?}");
        // The same in glob mode, and the any-resource `*`, are what they look like.
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["connect"],"resources":["clientId:*"],
                "match":"glob"}"#,
        );
        assert!(!has(&w, "holds `*`"), "{w:?}");
        let w = one(r#"{"id":"s","effect":"allow","operations":["connect"],"resources":["*"]}"#);
        assert!(!has(&w, "holds `*`"), "{w:?}");
    }

    #[test]
    fn invalid_exact_filters() {
        let w = one(r#"{"id":"s","effect":"allow","operations":["subscribe"],
                "resources":["topicfilter:a/#/b","topicfilter:a+"],"match":"exact"}"#);
        assert!(
            has(
                &w,
                "resource 0: `topicfilter:a/#/b` is not a valid topic filter"
            ),
            "{w:?}"
        );
        assert!(
            has(&w, "resource 1: `topicfilter:a+` is not a valid"),
            "{w:?}"
        );
    }

    #[test]
    fn shared_subscription_patterns() {
        let w = one(r#"{"id":"s","effect":"allow","operations":["subscribe"],
                "resources":["topicfilter:$share/g/a/#","topicfilter:$queue/a","topicfilter:a/$share/x"]}"#);
        assert!(
            has(&w, "resource 0: `topicfilter:$share/g/a/#` names a shared"),
            "{w:?}"
        );
        assert!(
            has(&w, "resource 1: `topicfilter:$queue/a` names a shared"),
            "{w:?}"
        );
        assert!(!has(&w, "resource 2"), "{w:?}");
    }

    #[test]
    fn unattached_policies_and_empty_groups() {
        let w = messages(
            r#"{"version":1,
                "groups":[{"name":"g","selectionRule":"*","policies":["used"]},
                          {"name":"empty","selectionRule":"username: x","policies":[]}],
                "policies":{"used":[{"id":"s","effect":"allow","operations":["connect"],
                                     "resources":["clientId:${clientid}"]}],
                            "spare":[], "orphan":[{"id":"s","effect":"deny",
                                     "operations":["connect"],"resources":["clientId:x"]}]}}"#,
        );
        assert!(has(&w, "policy `orphan`: attached to no group"), "{w:?}");
        assert!(has(&w, "policy `spare`: has no statements"), "{w:?}");
        assert!(
            has(&w, "group `empty`: the group attaches no policies"),
            "{w:?}"
        );
        assert!(!has(&w, "`used`"), "{w:?}");
    }

    #[test]
    fn allow_shadowed_in_same_group() {
        let w = one(r#"{"id":"open","effect":"allow","operations":["subscribe"],
                "resources":["topicfilter:a/b/+"]},
               {"id":"shut","effect":"deny","operations":["subscribe","publish"],
                "resources":["topicfilter:a/#","topic:a/#"]}"#);
        assert!(
            has(
                &w,
                "statement `p/open`: this allow is shadowed by deny `p/shut`"
            ),
            "{w:?}"
        );
    }

    #[test]
    fn allow_shadowed_by_everyone_deny() {
        let w = messages(
            r#"{"version":1,
                "groups":[{"name":"g","selectionRule":"username: u","policies":["mine"]},
                          {"name":"all","selectionRule":"*","policies":["base"]}],
                "policies":{
                  "mine":[{"id":"sys","effect":"allow","operations":["receive"],
                           "resources":["topic:$SYS/broker/load"]},
                          {"id":"globbed","effect":"allow","operations":["publish"],
                           "resources":["topic:x/${username}"],"match":"glob"},
                          {"id":"star","effect":"allow","operations":["publish"],"resources":["*"]}],
                  "base":[{"id":"no-sys","effect":"deny","operations":["receive","subscribe"],
                           "resources":["topic:$SYS/#"]},
                          {"id":"no-pub","effect":"deny","operations":["publish"],
                           "resources":["topic:*"],"match":"glob"}]}}"#,
        );
        assert!(
            has(
                &w,
                "`mine/sys`: this allow is shadowed by deny `base/no-sys`"
            ),
            "{w:?}"
        );
        assert!(
            has(
                &w,
                "`mine/globbed`: this allow is shadowed by deny `base/no-pub`"
            ),
            "{w:?}"
        );
        assert!(
            has(
                &w,
                "`mine/star`: this allow is shadowed by deny `base/no-pub`"
            ),
            "{w:?}"
        );
    }

    #[test]
    fn allow_not_shadowed() {
        // Conditions on the deny, narrower deny, other operations, other modes, other groups.
        let w = messages(
            r#"{"version":1,
                "groups":[{"name":"g","selectionRule":"username: u","policies":["mine"]},
                          {"name":"h","selectionRule":"username: v","policies":["other"]}],
                "policies":{
                  "mine":[{"id":"a","effect":"allow","operations":["publish"],"resources":["topic:a/#"]},
                          {"id":"b","effect":"allow","operations":["publish","receive"],
                           "resources":["topic:b/c"]},
                          {"id":"c","effect":"allow","operations":["publish"],
                           "resources":["topic:c/d"],"match":"exact"},
                          {"id":"d","effect":"allow","operations":["publish"],"resources":["topic:d"]},
                          {"id":"x1","effect":"deny","operations":["publish"],"resources":["topic:a/+"]},
                          {"id":"x2","effect":"deny","operations":["publish"],"resources":["topic:b/#"]},
                          {"id":"x3","effect":"deny","operations":["publish"],"resources":["topic:c/+"]},
                          {"id":"x4","effect":"deny","operations":["publish"],"resources":["topic:d"],
                           "qos":[2]}],
                  "other":[{"id":"all","effect":"deny","operations":["*"],"resources":["*"]}]}}"#,
        );
        assert!(!has(&w, "shadowed"), "{w:?}");
    }

    #[test]
    fn shadowing_with_variables_and_exact() {
        let w = one(r#"{"id":"own","effect":"allow","operations":["publish"],
                "resources":["topic:s/${thingName}/x"]},
               {"id":"exact","effect":"allow","operations":["publish"],
                "resources":["topic:e/f"],"match":"exact"},
               {"id":"no-s","effect":"deny","operations":["publish"],"resources":["topic:s/+/x"]},
               {"id":"no-e","effect":"deny","operations":["publish"],"resources":["topic:e/f"],
                "match":"exact"}"#);
        assert!(
            has(&w, "`p/own`: this allow is shadowed by deny `p/no-s`"),
            "{w:?}"
        );
        assert!(
            has(&w, "`p/exact`: this allow is shadowed by deny `p/no-e`"),
            "{w:?}"
        );
        // A deny with a variable is not judged.
        let w = one(
            r#"{"id":"own","effect":"allow","operations":["publish"],"resources":["topic:s/a"]},
               {"id":"no","effect":"deny","operations":["publish"],
                "resources":["topic:s/${thingName}"]}"#,
        );
        assert!(!has(&w, "shadowed"), "{w:?}");
    }

    #[test]
    fn mqtt_containment() {
        let m = |d: &str, a: &str| {
            let mut vars = VarTable::default();
            let p = |s: &str, vars: &mut VarTable| {
                crate::policy::pattern::parse_pattern(s, MatchMode::Mqtt, vars).unwrap()
            };
            let (d, a) = (p(d, &mut vars), p(a, &mut vars));
            contains(&d, &a)
        };
        assert!(m("a/#", "a/b/+"));
        assert!(m("a/#", "a"));
        assert!(m("#", "$SYS/#"));
        assert!(m("a/+", "a/${clientid}"));
        assert!(m("+/+", "a/b"));
        assert!(!m("a/+", "a/#"));
        assert!(!m("a/+", "a"));
        assert!(!m("a/b", "a/+"));
        assert!(!m("a/b", "a/${clientid}"));
    }

    #[test]
    fn everything_granted_to_everyone() {
        let w = messages(
            r#"{"version":1,
                "groups":[{"name":"all","selectionRule":"*","policies":["open"]},
                          {"name":"ops","selectionRule":"username: ops","policies":["admin"]}],
                "policies":{
                  "open":[{"id":"pub","effect":"allow","operations":["publish"],"resources":["topic:#"]},
                          {"id":"sub","effect":"allow","operations":["subscribe"],
                           "resources":["topicfilter:x","topicfilter:#"]},
                          {"id":"glob","effect":"allow","operations":["receive"],
                           "resources":["topic:*"],"match":"glob"},
                          {"id":"any","effect":"allow","operations":["subscribe"],"resources":["*"]},
                          {"id":"conn","effect":"allow","operations":["connect"],"resources":["*"]},
                          {"id":"deny","effect":"deny","operations":["publish"],"resources":["topic:x/#"]}],
                  "admin":[{"id":"all","effect":"allow","operations":["*"],"resources":["*"]}]}}"#,
        );
        assert!(
            has(
                &w,
                "`open/pub`, resource 0: grants every topic to every identity: group `all`"
            ),
            "{w:?}"
        );
        assert!(
            has(&w, "`open/sub`, resource 1: grants every topic"),
            "{w:?}"
        );
        assert!(!has(&w, "`open/sub`, resource 0: grants"), "{w:?}");
        assert!(
            has(&w, "`open/glob`, resource 0: grants every topic"),
            "{w:?}"
        );
        assert!(
            has(&w, "`open/any`, resource 0: grants every topic"),
            "{w:?}"
        );
        assert!(!has(&w, "`open/conn`"), "{w:?}");
        assert!(!has(&w, "statement `open/deny`"), "{w:?}");
        assert!(!has(&w, "`admin/all`"), "{w:?}");
    }

    #[test]
    fn variables_beside_glob_wildcards() {
        let w = one(
            r#"{"id":"s","effect":"allow","operations":["publish","connect"],"match":"glob",
                "resources":["topic:sensors/${clientid}*","topic:a/*-${thingName}/x",
                             "topic:a/?${thingName}","topic:sensors/${clientid}/*",
                             "topic:*/${clientid}","clientId:${thingName}/*","clientId:${thingName}"]}"#,
        );
        assert!(
            has(&w, "resource 0: `${clientid}` sits next to a glob `*`"),
            "{w:?}"
        );
        assert!(has(&w, "resource 1: `${thingName}` sits next"), "{w:?}");
        assert!(has(&w, "resource 2: `${thingName}` sits next"), "{w:?}");
        assert!(!has(&w, "resource 3"), "{w:?}");
        assert!(!has(&w, "resource 4"), "{w:?}");
        assert!(
            has(&w, "resource 5: client id pattern wraps `${thingName}`"),
            "{w:?}"
        );
        assert!(!has(&w, "resource 6"), "{w:?}");
        // In mqtt mode a variable sharing a level with text is fine.
        let w = one(r#"{"id":"s","effect":"allow","operations":["publish"],
                "resources":["topic:sensors/dev-${clientid}-x/+"]}"#);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn text_only_filter_denies() {
        let w = one(
            r#"{"id":"s","effect":"deny","operations":["subscribe"],"match":"glob",
                "resources":["topicfilter:secret/*"]}"#,
        );
        assert!(
            has(&w, "in glob mode a deny compares the filter text"),
            "{w:?}"
        );
        let w = one(
            r#"{"id":"s","effect":"deny","operations":["subscribe","receive"],"match":"glob",
                "resources":["topicfilter:secret/*","topic:secret/*"]}"#,
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn unparsable_resources_are_skipped() {
        let d: Document = serde_json::from_str(
            r#"{"version":1,"groups":[{"name":"g","selectionRule":"*","policies":["p"]}],
                "policies":{"p":[{"id":"s","effect":"allow","operations":["publish"],
                "resources":["topic:a/#/b","queue:x"]}]}}"#,
        )
        .unwrap();
        let w: Vec<String> = lint(&d).iter().map(ToString::to_string).collect();
        assert!(
            has(
                &w,
                "`publish` acts on `topic:` resources and this statement has none"
            ),
            "{w:?}"
        );
    }
}
