//! The topic-level trie for MQTT-mode patterns: a decision walks the request's levels, so its cost
//! depends on the topic and the few patterns along its path, not on how many statements exist.

use rustc_hash::FxHashMap;

use crate::policy::pattern::{Binding, Level, Piece};

/// One node: the patterns that continue from here, keyed by their next level.
#[derive(Debug, Default)]
pub(crate) struct Node {
    lit: FxHashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    tmpl: Vec<(Box<[Piece]>, Node)>,
    /// Statements whose pattern is the path to here followed by `/#` (or `#` at the root).
    hash: Vec<u32>,
    /// Statements whose pattern ends exactly here.
    end: Vec<u32>,
}

impl Node {
    /// Adds a pattern for a statement.
    pub(crate) fn insert(&mut self, levels: &[Level], stmt: u32) {
        let mut node = self;
        for level in levels {
            node = match level {
                Level::Hash => {
                    node.hash.push(stmt);
                    return;
                }
                Level::Lit(l) => node.lit.entry(l.clone()).or_default(),
                Level::Plus => node.plus.get_or_insert_with(Box::default),
                Level::Tmpl(pieces) => {
                    let i = match node.tmpl.iter().position(|(p, _)| p == pieces) {
                        Some(i) => i,
                        None => {
                            node.tmpl.push((pieces.clone(), Node::default()));
                            node.tmpl.len() - 1
                        }
                    };
                    &mut node.tmpl[i].1
                }
            };
        }
        node.end.push(stmt);
    }

    /// Shrinks vectors after building.
    pub(crate) fn shrink(&mut self) {
        self.hash.shrink_to_fit();
        self.end.shrink_to_fit();
        self.tmpl.shrink_to_fit();
        self.lit.shrink_to_fit();
        for child in self.lit.values_mut() {
            child.shrink();
        }
        if let Some(p) = &mut self.plus {
            p.shrink();
        }
        for (_, child) in &mut self.tmpl {
            child.shrink();
        }
    }

    /// Every statement whose pattern matches a topic (or a client id read as a topic).
    /// With `dollar`, a leading wildcard does not match a first level starting with `$`.
    pub(crate) fn topic<'t>(
        &self,
        mut rest: std::str::Split<'t, char>,
        first: bool,
        dollar: bool,
        b: &[Binding],
        out: &mut impl FnMut(u32),
    ) {
        let Some(level) = rest.next() else {
            self.end.iter().for_each(|s| out(*s));
            self.hash.iter().for_each(|s| out(*s));
            return;
        };
        let blocked = dollar && first && level.starts_with('$');
        if !blocked {
            self.hash.iter().for_each(|s| out(*s));
            if let Some(p) = &self.plus {
                p.topic(rest.clone(), false, dollar, b, out);
            }
        }
        if let Some(child) = self.lit.get(level) {
            child.topic(rest.clone(), false, dollar, b, out);
        }
        for (pieces, child) in &self.tmpl {
            if tmpl_matches(pieces, level, b) {
                child.topic(rest.clone(), false, dollar, b, out);
            }
        }
    }

    /// Every allow statement whose pattern contains the requested filter (all topics the filter
    /// can match are matched by the pattern), with the `$` rule.
    pub(crate) fn containing<'t>(
        &self,
        mut rest: std::str::Split<'t, char>,
        first: bool,
        b: &[Binding],
        out: &mut impl FnMut(u32),
    ) {
        let level = rest.next();
        let blocked = first && level.is_some_and(|l| l.starts_with('$'));
        if !blocked {
            self.hash.iter().for_each(|s| out(*s));
        }
        match level {
            None => self.end.iter().for_each(|s| out(*s)),
            Some("#") => {
                // Every topic has at least one level, so at the root `+/#` contains `#`.
                if first {
                    if let Some(p) = &self.plus {
                        p.hash.iter().for_each(|s| out(*s));
                    }
                }
            }
            Some("+") => {
                if let Some(p) = &self.plus {
                    p.containing(rest, false, b, out);
                }
            }
            Some(l) => {
                if let Some(child) = self.lit.get(l) {
                    child.containing(rest.clone(), false, b, out);
                }
                if !blocked {
                    if let Some(p) = &self.plus {
                        p.containing(rest.clone(), false, b, out);
                    }
                }
                for (pieces, child) in &self.tmpl {
                    if tmpl_matches(pieces, l, b) {
                        child.containing(rest.clone(), false, b, out);
                    }
                }
            }
        }
    }

    /// Every deny statement whose pattern shares at least one topic with the requested filter.
    /// Deny patterns match `$` topics; the requested filter's leading wildcard does not.
    pub(crate) fn overlapping<'t>(
        &self,
        mut rest: std::str::Split<'t, char>,
        first: bool,
        b: &[Binding],
        out: &mut impl FnMut(u32),
    ) {
        self.hash.iter().for_each(|s| out(*s));
        match rest.next() {
            None => self.end.iter().for_each(|s| out(*s)),
            Some("#") => self.subtree(first, b, out),
            Some("+") => {
                for (key, child) in &self.lit {
                    if !(first && key.starts_with('$')) {
                        child.overlapping(rest.clone(), false, b, out);
                    }
                }
                if let Some(p) = &self.plus {
                    p.overlapping(rest.clone(), false, b, out);
                }
                for (pieces, child) in &self.tmpl {
                    if tmpl_usable(pieces, b) && !(first && tmpl_starts_with_dollar(pieces, b)) {
                        child.overlapping(rest.clone(), false, b, out);
                    }
                }
            }
            Some(l) => {
                if let Some(child) = self.lit.get(l) {
                    child.overlapping(rest.clone(), false, b, out);
                }
                if let Some(p) = &self.plus {
                    p.overlapping(rest.clone(), false, b, out);
                }
                for (pieces, child) in &self.tmpl {
                    if tmpl_matches(pieces, l, b) {
                        child.overlapping(rest.clone(), false, b, out);
                    }
                }
            }
        }
    }

    /// Every statement at or below this node (a requested `#` here overlaps all of them).
    fn subtree(&self, first: bool, b: &[Binding], out: &mut impl FnMut(u32)) {
        self.end.iter().for_each(|s| out(*s));
        self.hash.iter().for_each(|s| out(*s));
        for (key, child) in &self.lit {
            if !(first && key.starts_with('$')) {
                child.subtree(false, b, out);
            }
        }
        if let Some(p) = &self.plus {
            p.subtree(false, b, out);
        }
        for (pieces, child) in &self.tmpl {
            if tmpl_usable(pieces, b) && !(first && tmpl_starts_with_dollar(pieces, b)) {
                child.subtree(false, b, out);
            }
        }
    }
}

fn value(b: &[Binding], slot: u16) -> Option<&str> {
    b.get(usize::from(slot)).and_then(Binding::usable)
}

/// Whether a level equals the template with its variables substituted literally.
pub(crate) fn tmpl_matches(pieces: &[Piece], level: &str, b: &[Binding]) -> bool {
    let mut rest = level;
    for p in pieces {
        let part = match p {
            Piece::Text(t) => &**t,
            Piece::Var(s) => match value(b, *s) {
                Some(v) => v,
                None => return false,
            },
        };
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

fn tmpl_usable(pieces: &[Piece], b: &[Binding]) -> bool {
    pieces.iter().all(|p| match p {
        Piece::Text(_) => true,
        Piece::Var(s) => value(b, *s).is_some(),
    })
}

fn tmpl_starts_with_dollar(pieces: &[Piece], b: &[Binding]) -> bool {
    for p in pieces {
        let part = match p {
            Piece::Text(t) => &**t,
            Piece::Var(s) => value(b, *s).unwrap_or(""),
        };
        if let Some(c) = part.chars().next() {
            return c == '$';
        }
    }
    false
}
