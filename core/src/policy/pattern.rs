//! Resource patterns: `clientId:`, `topic:` and `topicfilter:` prefixes, variables, and the three
//! match modes, parsed into forms both matcher strategies share.

use std::fmt;

use crate::identity::{Attribute, CertField, Identity};
use crate::policy::MatchMode;

/// Longest pattern accepted, in bytes (the MQTT limit for a topic).
pub const MAX_PATTERN_LEN: usize = 65_535;

/// Most levels an MQTT-mode pattern may have. Matching walks a pattern level by level, so this
/// bounds the work and stack of every decision whatever the request; real policies stay far below.
pub const MAX_PATTERN_LEVELS: usize = 128;

/// What a resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// A client id (`clientId:`), for `connect`.
    ClientId,
    /// A topic name (`topic:`), for `publish` and `receive`.
    Topic,
    /// A topic filter (`topicfilter:`), for `subscribe` and `unsubscribe`.
    TopicFilter,
}

impl ResourceKind {
    /// The prefix written in documents.
    pub fn prefix(self) -> &'static str {
        match self {
            ResourceKind::ClientId => "clientId",
            ResourceKind::Topic => "topic",
            ResourceKind::TopicFilter => "topicfilter",
        }
    }
}

/// A variable that a pattern substitutes from the identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub Attribute);

impl Var {
    /// Parses the name between `${` and `}`. Accepts `clientid`, `username`, `thingName`,
    /// `cert.<field>`, `claim.<name>` and the AWS spellings `iot:ClientId`,
    /// `iot:Connection.Thing.ThingName` and `iot:Certificate.Subject.CommonName`.
    pub fn parse(name: &str) -> Option<Var> {
        let attribute = match name {
            "clientid" | "clientId" | "iot:ClientId" => Attribute::ClientId,
            "username" => Attribute::Username,
            "thingName" | "iot:Connection.Thing.ThingName" => Attribute::ThingName,
            "iot:Certificate.Subject.CommonName" => Attribute::Cert(CertField::SubjectCn),
            "kind" => return None,
            other => match Attribute::parse(other)? {
                Attribute::Kind => return None,
                a => a,
            },
        };
        Some(Var(attribute))
    }

    /// The identity's value for this variable, judged for safe substitution.
    pub fn bind(&self, identity: &Identity) -> Binding {
        Binding::of(identity.attribute(&self.0))
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Attribute::ClientId => f.write_str("${clientid}"),
            other => write!(f, "${{{other}}}"),
        }
    }
}

/// An identity's value for a variable, judged once per identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// A value that substitutes literally: non-empty, no `/`, `+`, `#`, `*`, `?` or NUL.
    Usable(Box<str>),
    /// No value, or an empty one: a statement that needs it never matches.
    Absent,
    /// A value that could act as a wildcard, span levels or open a `$` topic (a leading `$`):
    /// allow statements that need it never match, and deny statements that need it match every
    /// resource of their kind (fail closed).
    Unsafe,
}

impl Binding {
    /// Judges a value.
    pub fn of(value: Option<&str>) -> Binding {
        match value {
            None | Some("") => Binding::Absent,
            Some(v)
                if v.starts_with('$')
                    || v.bytes()
                        .any(|b| matches!(b, b'/' | b'+' | b'#' | b'*' | b'?' | 0)) =>
            {
                Binding::Unsafe
            }
            Some(v) => Binding::Usable(v.into()),
        }
    }

    /// The value when usable.
    pub fn usable(&self) -> Option<&str> {
        match self {
            Binding::Usable(v) => Some(v),
            _ => None,
        }
    }
}

/// Index of a variable in a snapshot's variable table.
pub type VarSlot = u16;

/// The distinct variables a document uses; patterns refer to them by slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarTable {
    vars: Vec<Var>,
}

impl VarTable {
    /// The slot of `var`, adding it when new. `None` past 65,535 distinct variables.
    pub fn intern(&mut self, var: Var) -> Option<VarSlot> {
        if let Some(i) = self.vars.iter().position(|v| *v == var) {
            return VarSlot::try_from(i).ok();
        }
        let slot = VarSlot::try_from(self.vars.len()).ok()?;
        self.vars.push(var);
        Some(slot)
    }

    /// The variable in a slot.
    pub fn var(&self, slot: VarSlot) -> Option<&Var> {
        self.vars.get(usize::from(slot))
    }

    /// All variables, by slot.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Binds every variable for one identity.
    pub fn bind(&self, identity: &Identity) -> Vec<Binding> {
        self.vars.iter().map(|v| v.bind(identity)).collect()
    }
}

/// A piece of text or a variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Literal text.
    Text(Box<str>),
    /// A variable, by slot.
    Var(VarSlot),
}

/// One level of an MQTT-mode pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    /// A literal level.
    Lit(Box<str>),
    /// `+`: exactly one level.
    Plus,
    /// `#`: this level and all below, and the parent level itself. Always last.
    Hash,
    /// A level holding one or more variables, possibly with text around them.
    Tmpl(Box<[Piece]>),
}

/// One token of a glob-mode pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GlobTok {
    /// Literal text.
    Lit(Box<str>),
    /// `*`: any characters, `/` included, possibly none.
    Star,
    /// `?`: exactly one character.
    One,
    /// A variable, literal once substituted.
    Var(VarSlot),
}

/// A parsed pattern in its mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Level by level.
    Mqtt(Box<[Level]>),
    /// Glob tokens.
    Glob(Box<[GlobTok]>),
    /// Literal text and variables.
    Exact(Box<[Piece]>),
}

impl Pattern {
    /// Whether any variable occurs.
    pub fn has_vars(&self) -> bool {
        !self.slots().is_empty()
    }

    /// The variable slots used, in order of appearance (may repeat).
    pub fn slots(&self) -> Vec<VarSlot> {
        let mut out = Vec::new();
        let pieces = |ps: &[Piece], out: &mut Vec<VarSlot>| {
            out.extend(ps.iter().filter_map(|p| match p {
                Piece::Var(s) => Some(*s),
                Piece::Text(_) => None,
            }))
        };
        match self {
            Pattern::Mqtt(levels) => {
                for l in levels.iter() {
                    if let Level::Tmpl(ps) = l {
                        pieces(ps, &mut out);
                    }
                }
            }
            Pattern::Glob(toks) => out.extend(toks.iter().filter_map(|t| match t {
                GlobTok::Var(s) => Some(*s),
                _ => None,
            })),
            Pattern::Exact(ps) => pieces(ps, &mut out),
        }
        out
    }

    /// Whether the pattern's first element is a wildcard (subject to the `$` topic rule).
    pub fn starts_with_wildcard(&self) -> bool {
        match self {
            Pattern::Mqtt(levels) => matches!(levels.first(), Some(Level::Plus | Level::Hash)),
            Pattern::Glob(toks) => matches!(toks.first(), Some(GlobTok::Star | GlobTok::One)),
            Pattern::Exact(_) => false,
        }
    }
}

/// A parsed resource: its kind (`None` for `*`, every resource) and pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// What it names; `None` for the bare `*` resource.
    pub kind: Option<ResourceKind>,
    /// The pattern; meaningless when `kind` is `None`.
    pub pattern: Pattern,
}

/// Parses one resource string in a match mode, interning its variables.
pub fn parse_resource(raw: &str, mode: MatchMode, vars: &mut VarTable) -> Result<Resource, String> {
    if raw == "*" {
        return Ok(Resource {
            kind: None,
            pattern: Pattern::Exact(Box::new([])),
        });
    }
    let (prefix, body) = raw.split_once(':').ok_or_else(|| {
        format!("resource `{raw}` needs a type prefix: `clientId:`, `topic:` or `topicfilter:`")
    })?;
    let kind = match prefix {
        "clientId" | "clientid" => ResourceKind::ClientId,
        "topic" => ResourceKind::Topic,
        "topicfilter" => ResourceKind::TopicFilter,
        other => {
            return Err(format!(
                "unknown resource type `{other}`: expected `clientId`, `topic` or `topicfilter`"
            ))
        }
    };
    let pattern = parse_pattern(body, mode, vars)?;
    Ok(Resource {
        kind: Some(kind),
        pattern,
    })
}

/// Parses a pattern body (after the type prefix) in a match mode.
pub fn parse_pattern(body: &str, mode: MatchMode, vars: &mut VarTable) -> Result<Pattern, String> {
    if body.is_empty() {
        return Err("empty pattern".into());
    }
    if body.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern longer than {MAX_PATTERN_LEN} bytes"));
    }
    if body.contains('\0') {
        return Err("pattern contains a NUL character".into());
    }
    let pieces = parse_pieces(body, vars)?;
    match mode {
        MatchMode::Exact => Ok(Pattern::Exact(pieces.into())),
        MatchMode::Glob => Ok(Pattern::Glob(glob_tokens(&pieces).into())),
        MatchMode::Mqtt => mqtt_levels(&pieces).map(|l| Pattern::Mqtt(l.into())),
    }
}

/// Splits text into literal pieces and `${name}` variables.
fn parse_pieces(body: &str, vars: &mut VarTable) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].into()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated variable in `{body}`: `${{` without `}}`"))?;
        let name = &after[..end];
        let var = Var::parse(name).ok_or_else(|| format!("unknown variable `${{{name}}}`"))?;
        let slot = vars
            .intern(var)
            .ok_or_else(|| "too many distinct variables".to_string())?;
        pieces.push(Piece::Var(slot));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.into()));
    }
    Ok(pieces)
}

fn glob_tokens(pieces: &[Piece]) -> Vec<GlobTok> {
    let mut toks = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Var(s) => toks.push(GlobTok::Var(*s)),
            Piece::Text(text) => {
                let mut lit = String::new();
                for c in text.chars() {
                    if c == '*' || c == '?' {
                        if !lit.is_empty() {
                            toks.push(GlobTok::Lit(std::mem::take(&mut lit).into()));
                        }
                        if c == '?' {
                            toks.push(GlobTok::One);
                        } else if toks.last() != Some(&GlobTok::Star) {
                            toks.push(GlobTok::Star);
                        }
                    } else {
                        lit.push(c);
                    }
                }
                if !lit.is_empty() {
                    toks.push(GlobTok::Lit(lit.into()));
                }
            }
        }
    }
    toks
}

fn mqtt_levels(pieces: &[Piece]) -> Result<Vec<Level>, String> {
    // Split pieces into levels at every `/` inside text.
    let mut levels: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Var(s) => {
                if let Some(l) = levels.last_mut() {
                    l.push(Piece::Var(*s));
                }
            }
            Piece::Text(text) => {
                let mut parts = text.split('/');
                if let Some(first) = parts.next() {
                    if !first.is_empty() {
                        if let Some(l) = levels.last_mut() {
                            l.push(Piece::Text(first.into()));
                        }
                    }
                }
                for part in parts {
                    let mut level = Vec::new();
                    if !part.is_empty() {
                        level.push(Piece::Text(part.into()));
                    }
                    levels.push(level);
                }
            }
        }
    }
    let count = levels.len();
    if count > MAX_PATTERN_LEVELS {
        return Err(format!(
            "pattern has {count} levels; at most {MAX_PATTERN_LEVELS} are allowed"
        ));
    }
    let mut out = Vec::with_capacity(count);
    for (i, level) in levels.into_iter().enumerate() {
        let has_var = level.iter().any(|p| matches!(p, Piece::Var(_)));
        let text: String = level
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(&**t),
                Piece::Var(_) => None,
            })
            .collect();
        let wild = text.contains('+') || text.contains('#');
        if !has_var && text == "+" {
            out.push(Level::Plus);
        } else if !has_var && text == "#" {
            if i + 1 != count {
                return Err("`#` must be the last level".into());
            }
            out.push(Level::Hash);
        } else if wild {
            return Err("`+` and `#` must occupy a whole level".into());
        } else if has_var {
            out.push(Level::Tmpl(level.into()));
        } else {
            out.push(Level::Lit(text.into()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(s: &str) -> Result<Pattern, String> {
        parse_pattern(s, MatchMode::Mqtt, &mut VarTable::default())
    }

    #[test]
    fn mqtt_levels_and_variables() {
        let mut vars = VarTable::default();
        let p = parse_pattern(
            "a/+/dev-${clientid}/${thingName}/#",
            MatchMode::Mqtt,
            &mut vars,
        )
        .unwrap();
        assert_eq!(
            p,
            Pattern::Mqtt(
                vec![
                    Level::Lit("a".into()),
                    Level::Plus,
                    Level::Tmpl(vec![Piece::Text("dev-".into()), Piece::Var(0)].into()),
                    Level::Tmpl(vec![Piece::Var(1)].into()),
                    Level::Hash,
                ]
                .into()
            )
        );
        assert_eq!(vars.vars().len(), 2);
        assert_eq!(mqtt("a//b").unwrap(), {
            Pattern::Mqtt(
                vec![
                    Level::Lit("a".into()),
                    Level::Lit("".into()),
                    Level::Lit("b".into()),
                ]
                .into(),
            )
        });
    }

    #[test]
    fn mqtt_rejects_misplaced_wildcards() {
        assert!(mqtt("a/#/b").is_err());
        assert!(mqtt("a/b#").is_err());
        assert!(mqtt("a/+b").is_err());
        assert!(mqtt("a/${clientid}+").is_err());
        assert!(mqtt("").is_err());
        assert!(mqtt("a\0b").is_err());
        assert!(mqtt(&["a"; MAX_PATTERN_LEVELS].join("/")).is_ok());
        assert!(mqtt(&["a"; MAX_PATTERN_LEVELS + 1].join("/")).is_err());
    }

    #[test]
    fn variables_and_aliases() {
        let mut vars = VarTable::default();
        let p = parse_pattern(
            "${iot:Connection.Thing.ThingName}/${thingName}/${iot:ClientId}",
            MatchMode::Exact,
            &mut vars,
        )
        .unwrap();
        assert_eq!(p.slots(), vec![0, 0, 1]);
        assert!(parse_pattern("${nope}", MatchMode::Exact, &mut vars).is_err());
        assert!(parse_pattern("${kind}", MatchMode::Exact, &mut vars).is_err());
        assert!(parse_pattern("a/${clientid", MatchMode::Exact, &mut vars).is_err());
        assert!(parse_pattern("$SYS/x", MatchMode::Exact, &mut vars).is_ok());
        assert!(parse_pattern("${claim.role}", MatchMode::Exact, &mut vars).is_ok());
        assert!(parse_pattern("${cert.san.uri}", MatchMode::Exact, &mut vars).is_ok());
    }

    #[test]
    fn glob_tokens_collapse_stars() {
        let p = parse_pattern("a/**?b", MatchMode::Glob, &mut VarTable::default()).unwrap();
        assert_eq!(
            p,
            Pattern::Glob(
                vec![
                    GlobTok::Lit("a/".into()),
                    GlobTok::Star,
                    GlobTok::One,
                    GlobTok::Lit("b".into())
                ]
                .into()
            )
        );
    }

    #[test]
    fn resources() {
        let mut vars = VarTable::default();
        let r = parse_resource("topicfilter:a/+", MatchMode::Mqtt, &mut vars).unwrap();
        assert_eq!(r.kind, Some(ResourceKind::TopicFilter));
        assert_eq!(
            parse_resource("*", MatchMode::Mqtt, &mut vars)
                .unwrap()
                .kind,
            None
        );
        assert!(parse_resource("queue:a", MatchMode::Mqtt, &mut vars).is_err());
        assert!(parse_resource("a/b", MatchMode::Mqtt, &mut vars).is_err());
    }

    #[test]
    fn bindings() {
        assert_eq!(Binding::of(None), Binding::Absent);
        assert_eq!(Binding::of(Some("")), Binding::Absent);
        for bad in ["+", "#", "a/b", "a\0", "*", "x?", "$SYS"] {
            assert_eq!(Binding::of(Some(bad)), Binding::Unsafe, "{bad:?}");
        }
        assert_eq!(Binding::of(Some("dev-1")).usable(), Some("dev-1"));
        assert_eq!(Binding::of(Some("a$b")).usable(), Some("a$b"));
    }
}
