//! What a decision says, and the longer explanation for people.

use std::fmt;

use crate::compile::StatementInfo;
use crate::policy::Effect;
use crate::request::Malformed;

/// The outcome of authorizing one request: allow or deny, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    /// Allow or deny.
    pub effect: Effect,
    /// Why.
    pub reason: Reason<'a>,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason<'a> {
    /// This statement decided: the first matching deny, or else the first matching allow.
    Statement(&'a StatementInfo),
    /// No statement matched, so the request is denied.
    NoMatch,
    /// The request was malformed and denied before any statement was consulted.
    Malformed(Malformed),
}

impl<'a> Decision<'a> {
    pub(crate) fn malformed(m: Malformed) -> Decision<'a> {
        Decision {
            effect: Effect::Deny,
            reason: Reason::Malformed(m),
        }
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// The deciding statement, if a statement decided.
    pub fn statement(&self) -> Option<&'a StatementInfo> {
        match self.reason {
            Reason::Statement(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Decision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::Statement(s) => write!(f, "{} by statement {s}", self.effect),
            Reason::NoMatch => write!(f, "{}: no statement matched", self.effect),
            Reason::Malformed(m) => write!(f, "{}: malformed request: {m}", self.effect),
        }
    }
}

/// A decision with its reasoning, for people (the CLI's `explain`, logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Allow or deny.
    pub effect: Effect,
    /// The deciding statement as `policy/id`, if a statement decided.
    pub deciding: Option<String>,
    /// Set when the request was malformed.
    pub malformed: Option<Malformed>,
    /// The groups the identity belongs to.
    pub groups: Vec<String>,
    /// Every statement that matched the request, as (effect, `policy/id`), in document order.
    pub matched: Vec<(Effect, String)>,
    /// Remarks: variables that had no usable value, and so on.
    pub notes: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.effect)?;
        match (&self.deciding, &self.malformed) {
            (Some(s), _) => writeln!(f, "decided by statement `{s}` ({})", self.effect)?,
            (None, Some(m)) => writeln!(f, "malformed request: {m}")?,
            (None, None) => writeln!(f, "no statement matched: denied by default")?,
        }
        if self.groups.is_empty() {
            writeln!(f, "groups: none")?;
        } else {
            writeln!(f, "groups: {}", self.groups.join(", "))?;
        }
        if !self.matched.is_empty() {
            writeln!(f, "matching statements:")?;
            for (effect, s) in &self.matched {
                writeln!(f, "  {effect:<5} `{s}`")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
