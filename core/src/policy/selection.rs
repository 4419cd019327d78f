//! Selection rules: which identities a group's policies apply to.
//!
//! The grammar is Greengrass's (`thingName: sensor-* OR thingName: gateway`), with `AND` binding
//! tighter than `OR` and no parentheses, extended to other attributes (`clientId:`, `username:`,
//! `kind:`, `cert.<field>:`, `claim.<name>:`). A value is literal except for a leading and/or
//! trailing `*`. The rule `*` alone selects every identity.

use std::fmt;

use crate::identity::{Attribute, Identity, IdentityKind};

/// How a clause compares an attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValuePattern {
    /// `*`: any value, as long as the attribute is present and non-empty.
    Any,
    /// The whole value.
    Exact(String),
    /// `text*`.
    Prefix(String),
    /// `*text`.
    Suffix(String),
    /// `*text*`.
    Contains(String),
}

impl ValuePattern {
    fn parse(text: &str) -> Result<ValuePattern, String> {
        let lead = text.starts_with('*');
        let trail = text.len() > 1 && text.ends_with('*');
        let core = &text[usize::from(lead)..text.len() - usize::from(trail)];
        if core.contains('*') {
            return Err(format!(
                "`*` may only lead or trail a selection value, as in `sensor-*`: `{text}`"
            ));
        }
        Ok(match (lead, trail) {
            (true, _) if core.is_empty() => ValuePattern::Any,
            (false, false) => ValuePattern::Exact(core.into()),
            (false, true) => ValuePattern::Prefix(core.into()),
            (true, false) => ValuePattern::Suffix(core.into()),
            (true, true) => ValuePattern::Contains(core.into()),
        })
    }

    /// Whether a present attribute value matches.
    pub fn matches(&self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        match self {
            ValuePattern::Any => true,
            ValuePattern::Exact(t) => value == t,
            ValuePattern::Prefix(t) => value.starts_with(t.as_str()),
            ValuePattern::Suffix(t) => value.ends_with(t.as_str()),
            ValuePattern::Contains(t) => value.contains(t.as_str()),
        }
    }
}

impl fmt::Display for ValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValuePattern::Any => f.write_str("*"),
            ValuePattern::Exact(t) => f.write_str(t),
            ValuePattern::Prefix(t) => write!(f, "{t}*"),
            ValuePattern::Suffix(t) => write!(f, "*{t}"),
            ValuePattern::Contains(t) => write!(f, "*{t}*"),
        }
    }
}

/// One `attribute: value` test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clause {
    /// The attribute tested.
    pub attribute: Attribute,
    /// The value pattern.
    pub pattern: ValuePattern,
}

impl Clause {
    /// Whether an identity satisfies the clause.
    pub fn matches(&self, identity: &Identity) -> bool {
        identity
            .attribute(&self.attribute)
            .is_some_and(|v| self.pattern.matches(v))
    }
}

/// A parsed rule in disjunctive normal form: any of the alternatives, each all of its clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionRule {
    /// `OR`-ed alternatives of `AND`-ed clauses. Empty means the rule `*` (everyone).
    pub alternatives: Vec<Vec<Clause>>,
}

impl SelectionRule {
    /// Whether the rule selects every identity.
    pub fn selects_everyone(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// Whether an identity is selected (the plain reference evaluation).
    pub fn matches(&self, identity: &Identity) -> bool {
        self.selects_everyone()
            || self
                .alternatives
                .iter()
                .any(|all| all.iter().all(|c| c.matches(identity)))
    }

    /// Parses a rule.
    pub fn parse(text: &str) -> Result<SelectionRule, String> {
        let trimmed = text.trim();
        if trimmed == "*" {
            return Ok(SelectionRule {
                alternatives: Vec::new(),
            });
        }
        if trimmed.is_empty() {
            return Err("empty selection rule (write `*` to select every identity)".into());
        }
        let mut tokens = trimmed.split_whitespace().peekable();
        let mut alternatives = vec![Vec::new()];
        loop {
            let tok = tokens
                .next()
                .ok_or_else(|| format!("selection rule `{trimmed}` ends after an operator"))?;
            let (key, value) = match tok.split_once(':') {
                Some((key, "")) => {
                    let value = tokens
                        .next()
                        .ok_or_else(|| format!("`{key}:` needs a value"))?;
                    (key, value)
                }
                Some((key, value)) => (key, value),
                None => {
                    return Err(format!(
                        "expected `attribute: value` in selection rule, found `{tok}`"
                    ))
                }
            };
            if matches!(value, "AND" | "OR") {
                return Err(format!("`{key}:` needs a value"));
            }
            let attribute = Attribute::parse(key).ok_or_else(|| {
                format!(
                    "unknown attribute `{key}` in selection rule: expected `thingName`, \
                     `clientId`, `username`, `kind`, `cert.<field>` or `claim.<name>`"
                )
            })?;
            let pattern = ValuePattern::parse(value)?;
            if attribute == Attribute::Kind {
                if let ValuePattern::Exact(k) = &pattern {
                    if IdentityKind::parse(k).is_none() {
                        return Err(format!(
                            "unknown kind `{k}`: expected certificate, psk, jwt, password, \
                             token, declared or anonymous"
                        ));
                    }
                }
            }
            if let Some(all) = alternatives.last_mut() {
                all.push(Clause { attribute, pattern });
            }
            match tokens.next() {
                None => break,
                Some("AND") => {}
                Some("OR") => alternatives.push(Vec::new()),
                Some(other) => {
                    return Err(format!(
                        "expected `AND` or `OR` in selection rule, found `{other}`"
                    ))
                }
            }
        }
        Ok(SelectionRule { alternatives })
    }
}

impl fmt::Display for SelectionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.selects_everyone() {
            return f.write_str("*");
        }
        for (i, all) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" OR ")?;
            }
            for (j, c) in all.iter().enumerate() {
                if j > 0 {
                    f.write_str(" AND ")?;
                }
                write!(f, "{}: {}", c.attribute, c.pattern)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing(name: &str) -> Identity {
        Identity::new(IdentityKind::Certificate).with_thing_name(name)
    }

    #[test]
    fn greengrass_grammar() {
        let r = SelectionRule::parse("thingName: sensor-* OR thingName: gw AND kind: psk").unwrap();
        assert_eq!(r.alternatives.len(), 2);
        assert!(r.matches(&thing("sensor-1")));
        assert!(!r.matches(&thing("gw")), "AND binds tighter than OR");
        assert!(r.matches(&Identity::new(IdentityKind::Psk).with_thing_name("gw")));
        assert!(!r.matches(&thing("xsensor-1")));
        assert_eq!(
            r.to_string(),
            "thingName: sensor-* OR thingName: gw AND kind: psk"
        );
    }

    #[test]
    fn value_patterns() {
        let r = SelectionRule::parse("thingName:*mid*").unwrap();
        assert!(r.matches(&thing("amidb")));
        assert!(!r.matches(&thing("amib")));
        let r = SelectionRule::parse("thingName: *-01").unwrap();
        assert!(r.matches(&thing("a-01")));
        let r = SelectionRule::parse("thingName: *").unwrap();
        assert!(r.matches(&thing("x")));
        assert!(
            !r.matches(&Identity::new(IdentityKind::Psk)),
            "absent never matches"
        );
        assert!(!r.matches(&thing("")), "empty never matches");
        let r = SelectionRule::parse("*").unwrap();
        assert!(r.matches(&Identity::new(IdentityKind::Anonymous)));
    }

    #[test]
    fn wildcard_characters_in_values_are_literal() {
        let r = SelectionRule::parse("clientId: a+").unwrap();
        assert!(r.matches(&Identity::new(IdentityKind::Psk).with_client_id("a+")));
        assert!(!r.matches(&Identity::new(IdentityKind::Psk).with_client_id("ab")));
    }

    #[test]
    fn rejects_bad_rules() {
        for bad in [
            "",
            "thingName",
            "thingName:",
            "thingName: a OR",
            "thingName: a AND AND b",
            "thingName: a*b",
            "thingName: a XOR thingName: b",
            "color: red",
            "kind: robot",
            "thingName: OR",
        ] {
            assert!(SelectionRule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
