//! Group membership: which groups (and so which policies) an identity's attributes select.
//!
//! Exact clause values are looked up in a hash map per attribute; `prefix*`, `*suffix` and
//! `*infix*` values are scanned. This runs once per identity (when a session is bound), never
//! per decision.

use rustc_hash::FxHashMap;

use crate::identity::{Attribute, Identity};
use crate::policy::selection::{SelectionRule, ValuePattern};

#[derive(Debug, Default)]
struct AttributeIndex {
    exact: FxHashMap<Box<str>, Vec<u32>>,
    scanned: Vec<(ValuePattern, u32)>,
}

/// The compiled selection rules of a document.
#[derive(Debug, Default)]
pub(crate) struct Membership {
    everyone: Vec<u32>,
    by_attribute: FxHashMap<Attribute, AttributeIndex>,
    /// Each alternative: (group, number of clauses).
    alternatives: Vec<(u32, u32)>,
    /// Each clause id: the alternative it belongs to.
    clause_alternative: Vec<u32>,
}

impl Membership {
    /// Compiles the rules, one per group, in group order.
    pub(crate) fn new(rules: &[SelectionRule]) -> Membership {
        let mut m = Membership::default();
        for (group, rule) in rules.iter().enumerate() {
            let group = group as u32;
            if rule.selects_everyone() {
                m.everyone.push(group);
                continue;
            }
            for all in &rule.alternatives {
                let alt = m.alternatives.len() as u32;
                m.alternatives.push((group, all.len() as u32));
                for clause in all {
                    let id = m.clause_alternative.len() as u32;
                    m.clause_alternative.push(alt);
                    let index = m.by_attribute.entry(clause.attribute.clone()).or_default();
                    match &clause.pattern {
                        ValuePattern::Exact(v) => {
                            index.exact.entry(v.as_str().into()).or_default().push(id)
                        }
                        other => index.scanned.push((other.clone(), id)),
                    }
                }
            }
        }
        m
    }

    /// The groups an identity belongs to, sorted and without repeats.
    pub(crate) fn groups_of(&self, identity: &Identity) -> Vec<u32> {
        let mut groups = self.everyone.clone();
        let mut satisfied: FxHashMap<u32, u32> = FxHashMap::default();
        for (attribute, index) in &self.by_attribute {
            let Some(value) = identity.attribute(attribute).filter(|v| !v.is_empty()) else {
                continue;
            };
            let exact = index.exact.get(value).map(Vec::as_slice).unwrap_or(&[]);
            let scanned = index
                .scanned
                .iter()
                .filter(|(p, _)| p.matches(value))
                .map(|(_, id)| id);
            for id in exact.iter().chain(scanned) {
                let alt = self.clause_alternative[*id as usize];
                *satisfied.entry(alt).or_default() += 1;
            }
        }
        for (alt, count) in satisfied {
            let (group, needed) = self.alternatives[alt as usize];
            // A rule may repeat a clause (`a: x AND a: x`): the same clause id counts once per
            // occurrence, so counts can only reach `needed` when every clause held.
            if count >= needed {
                groups.push(group);
            }
        }
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;

    #[test]
    fn membership_matches_reference() {
        let texts = [
            "thingName: sensor-*",
            "*",
            "thingName: gw AND kind: psk OR username: admin",
            "thingName: *-01 AND thingName: sensor-*",
            "claim.role: ops",
            "thingName: gw AND thingName: gw",
        ];
        let rules: Vec<_> = texts
            .iter()
            .map(|t| SelectionRule::parse(t).unwrap())
            .collect();
        let m = Membership::new(&rules);
        let ids = [
            Identity::new(IdentityKind::Psk).with_thing_name("gw"),
            Identity::new(IdentityKind::Certificate).with_thing_name("gw"),
            Identity::new(IdentityKind::Password).with_username("admin"),
            Identity::new(IdentityKind::Certificate).with_thing_name("sensor-01"),
            Identity::new(IdentityKind::Jwt).with_claim("role", "ops"),
            Identity::new(IdentityKind::Anonymous),
        ];
        for id in &ids {
            let want: Vec<u32> = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.matches(id))
                .map(|(i, _)| i as u32)
                .collect();
            assert_eq!(m.groups_of(id), want, "{id:?}");
        }
    }
}
