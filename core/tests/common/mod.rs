//! Helpers shared by the integration tests.

use mqward_core::{Decision, Effect, Reason};

/// A decision as comparable text: `allow by p/s`, `deny by p/s`, `deny (no match)`,
/// `deny (malformed: Nul)`.
pub fn answer(d: &Decision<'_>) -> String {
    let effect = match d.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    match d.reason {
        Reason::Statement(s) => format!("{effect} by {}/{}", s.policy(), s.id()),
        Reason::NoMatch => format!("{effect} (no match)"),
        Reason::Malformed(m) => format!("{effect} (malformed: {m:?})"),
        other => format!("{effect} ({other:?})"),
    }
}
