//! The topic-level trie for MQTT-mode patterns: a decision walks the request's levels, so its cost
//! depends on the topic and the few patterns along its path, not on how many statements exist.
//!
//! Walks report `(statement, deny_only)`: `deny_only` is set below a wildcard that the `$` topic
//! rule (MQTT 4.7.2-1) closes to allow statements but not to deny statements, so one walk serves
//! both effects.

use rustc_hash::FxHashMap;

use super::glob::{GlobEntry, Tails};
use super::levels::Levels;
use crate::policy::pattern::{Binding, GlobTok, Level, Piece};

/// Up to this many literal children are searched in a list; more go in a hash map.
const LIST_MAX: usize = 8;

/// The literal children of a node. Most nodes have one or a few, where comparing lengths and
/// bytes beats hashing the level.
#[derive(Debug)]
enum Children {
    List(Vec<(Box<[u8]>, Node)>),
    Map(FxHashMap<Box<[u8]>, Node>),
}

impl Default for Children {
    fn default() -> Children {
        Children::List(Vec::new())
    }
}

/// The hash-map lookup, kept out of line so that the list search inlines small.
#[inline(never)]
fn map_get<'n>(map: &'n FxHashMap<Box<[u8]>, Node>, level: &[u8]) -> Option<&'n Node> {
    map.get(level)
}

impl Children {
    #[inline(always)]
    fn get(&self, level: &[u8]) -> Option<&Node> {
        match self {
            Children::List(list) => list.iter().find(|(k, _)| same(k, level)).map(|(_, n)| n),
            Children::Map(map) => map_get(map, level),
        }
    }

    fn entry(&mut self, level: &str) -> &mut Node {
        let level = level.as_bytes();
        if let Children::List(list) = self {
            if list.len() >= LIST_MAX && !list.iter().any(|(k, _)| **k == *level) {
                *self = Children::Map(std::mem::take(list).into_iter().collect());
            }
        }
        match self {
            Children::List(list) => {
                let i = match list.iter().position(|(k, _)| **k == *level) {
                    Some(i) => i,
                    None => {
                        list.push((level.into(), Node::default()));
                        list.len() - 1
                    }
                };
                &mut list[i].1
            }
            Children::Map(map) => map.entry(level.into()).or_default(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Children::List(list) => list.is_empty(),
            Children::Map(map) => map.is_empty(),
        }
    }

    /// Visits every child, without allocating.
    fn for_each(&self, mut f: impl FnMut(&[u8], &Node)) {
        match self {
            Children::List(list) => list.iter().for_each(|(k, n)| f(k, n)),
            Children::Map(map) => map.iter().for_each(|(k, n)| f(k, n)),
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        match self {
            Children::List(list) => {
                list.shrink_to_fit();
                list.iter_mut().try_for_each(|(_, n)| n.finish())
            }
            Children::Map(map) => {
                map.shrink_to_fit();
                map.values_mut().try_for_each(Node::finish)
            }
        }
    }
}

/// One node: the patterns that continue from here, keyed by their next level. Kept small (the
/// trie holds a node per distinct pattern level): what few nodes have lives out of line.
#[derive(Debug, Default)]
pub(crate) struct Node {
    lit: Children,
    /// Statements whose pattern is the path to here followed by `/#` (or `#` at the root).
    hash: Vec<u32>,
    /// Statements whose pattern ends exactly here: MQTT patterns, and exact texts (which only
    /// ever end on all-literal paths, where the two mean the same).
    end: Vec<u32>,
    rare: Option<Box<Rare>>,
}

/// The parts of a node that few nodes have.
#[derive(Debug, Default)]
struct Rare {
    plus: Option<Node>,
    tmpl: Vec<(Box<[Piece]>, Node)>,
    /// Glob-mode patterns whose leading literal levels lead here, by their remaining tails
    /// (only on all-literal paths, so reaching the node means the topic starts with them).
    globs: Option<Tails>,
}

const NO_TMPL: &[(Box<[Piece]>, Node)] = &[];

fn emit(stmts: &[u32], deny_only: bool, out: &mut impl FnMut(u32, bool)) {
    for s in stmts {
        out(*s, deny_only);
    }
}

impl Node {
    #[inline]
    fn plus(&self) -> Option<&Node> {
        self.rare.as_ref().and_then(|r| r.plus.as_ref())
    }

    #[inline]
    fn tmpl(&self) -> &[(Box<[Piece]>, Node)] {
        self.rare.as_ref().map_or(NO_TMPL, |r| &r.tmpl)
    }

    #[inline]
    fn globs(&self) -> Option<&Tails> {
        self.rare.as_ref().and_then(|r| r.globs.as_ref())
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Adds a pattern for a statement.
    pub(crate) fn insert(&mut self, levels: &[Level], stmt: u32) {
        let mut node = self;
        for level in levels {
            node = match level {
                Level::Hash => {
                    node.hash.push(stmt);
                    return;
                }
                Level::Lit(l) => node.lit.entry(l),
                Level::Plus => node.rare_mut().plus.get_or_insert_with(Node::default),
                Level::Tmpl(pieces) => node.edge(pieces.to_vec()),
            };
        }
        node.end.push(stmt);
    }

    /// Adds an exact-mode text for a statement, level by level.
    pub(crate) fn insert_exact(&mut self, text: &str, stmt: u32) {
        let mut node = self;
        for level in text.split('/') {
            node = node.lit.entry(level);
        }
        node.end.push(stmt);
    }

    /// Adds a glob: its complete leading levels without wildcards become edges (literal, or
    /// templates where they hold variables, whose values never contain `/`), the rest its tail.
    pub(crate) fn insert_glob(&mut self, toks: &[GlobTok], entry: GlobEntry) {
        let mut node = self;
        // The pieces of the level being read, and the token (and byte in it) where it began.
        let mut level: Vec<Piece> = Vec::new();
        let mut level_start = (0, 0);
        let mut tail: Option<Vec<GlobTok>> = None;
        'toks: for (t, tok) in toks.iter().enumerate() {
            match tok {
                GlobTok::Star | GlobTok::One => {
                    tail = Some(tail_from(toks, level_start));
                    break 'toks;
                }
                GlobTok::Var(slot) => level.push(Piece::Var(*slot)),
                GlobTok::Lit(text) => {
                    let mut from = 0;
                    for (cut, _) in text.match_indices('/') {
                        if from < cut {
                            level.push(Piece::Text(text[from..cut].into()));
                        }
                        node = node.edge(std::mem::take(&mut level));
                        from = cut + 1;
                        level_start = (t, from);
                    }
                    if from < text.len() {
                        level.push(Piece::Text(text[from..].into()));
                    }
                }
            }
        }
        // A glob without wildcards keeps its last level as its tail, matched as text.
        let tail = tail.unwrap_or_else(|| tail_from(toks, level_start));
        node.rare_mut()
            .globs
            .get_or_insert_with(Tails::default)
            .push(tail.into(), entry);
    }

    /// The child for one complete level: a literal edge, or a template edge.
    fn edge(&mut self, level: Vec<Piece>) -> &mut Node {
        match &level[..] {
            [] => self.lit.entry(""),
            [Piece::Text(t)] => self.lit.entry(t),
            _ => {
                let tmpl = &mut self.rare_mut().tmpl;
                let i = match tmpl.iter().position(|(p, _)| **p == level[..]) {
                    Some(i) => i,
                    None => {
                        tmpl.push((level.into(), Node::default()));
                        tmpl.len() - 1
                    }
                };
                &mut tmpl[i].1
            }
        }
    }

    /// Compiles glob tails (GlobSets where many share a node) and shrinks vectors.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        self.hash.shrink_to_fit();
        self.end.shrink_to_fit();
        self.lit.finish()?;
        if let Some(rare) = &mut self.rare {
            rare.tmpl.shrink_to_fit();
            if let Some(globs) = &mut rare.globs {
                globs.finish()?;
            }
            if let Some(p) = &mut rare.plus {
                p.finish()?;
            }
            for (_, child) in &mut rare.tmpl {
                child.finish()?;
            }
        }
        Ok(())
    }

    /// Statements whose exact text or glob matches the text in `lv`, following literal edges
    /// only (glob and exact filters are compared as text).
    pub(crate) fn literal(
        &self,
        lv: &Levels<'_>,
        i: usize,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        let Some(level) = lv.get(i) else {
            emit(&self.end, false, out);
            return;
        };
        if let (Some(globs), Some(rest)) = (self.globs(), lv.rest(i)) {
            globs.matches(rest, i == 0, b, out);
        }
        if let Some(child) = self.lit.get(level) {
            child.literal(lv, i + 1, b, out);
        }
        for (pieces, child) in self.tmpl() {
            if tmpl_matches(pieces, level, b) {
                child.literal(lv, i + 1, b, out);
            }
        }
    }

    /// Whether nothing was inserted.
    pub(crate) fn is_empty(&self) -> bool {
        self.lit.is_empty() && self.hash.is_empty() && self.end.is_empty() && self.rare.is_none()
    }

    /// Every statement whose pattern matches a topic (or a client id read as a topic), from
    /// level `i`. With `dollar`, wildcards at the root are closed to allow statements for a
    /// first level starting with `$`.
    pub(crate) fn topic(
        &self,
        lv: &Levels<'_>,
        mut i: usize,
        deny_only: bool,
        dollar: bool,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        // The literal path is followed in a loop; only wildcard and template branches recurse.
        let mut node = self;
        loop {
            let Some(level) = lv.get(i) else {
                emit(&node.end, deny_only, out);
                emit(&node.hash, deny_only, out);
                return;
            };
            let wild_deny_only = deny_only || (dollar && i == 0 && level.first() == Some(&b'$'));
            emit(&node.hash, wild_deny_only, out);
            if let Some(rare) = &node.rare {
                if let (Some(globs), Some(rest)) = (&rare.globs, lv.rest(i)) {
                    globs.matches(rest, dollar && i == 0, b, out);
                }
                if let Some(p) = &rare.plus {
                    p.topic(lv, i + 1, wild_deny_only, dollar, b, out);
                }
                for (pieces, child) in &rare.tmpl {
                    if tmpl_matches(pieces, level, b) {
                        child.topic(lv, i + 1, deny_only, dollar, b, out);
                    }
                }
            }
            match node.lit.get(level) {
                Some(child) => node = child,
                None => return,
            }
            i += 1;
        }
    }

    /// Every allow statement whose pattern contains the requested filter (all topics the filter
    /// can match are matched by the pattern), with the `$` rule.
    pub(crate) fn containing(
        &self,
        lv: &Levels<'_>,
        i: usize,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        let level = lv.get(i);
        let blocked = i == 0 && level.is_some_and(|l| l.first() == Some(&b'$'));
        if !blocked {
            emit(&self.hash, false, out);
        }
        match level {
            None => emit(&self.end, false, out),
            Some(b"#") => {
                // Every topic has at least one level, so at the root `+/#` contains `#`.
                if i == 0 {
                    if let Some(p) = self.plus() {
                        emit(&p.hash, false, out);
                    }
                }
            }
            Some(b"+") => {
                if let Some(p) = self.plus() {
                    p.containing(lv, i + 1, b, out);
                }
            }
            Some(l) => {
                if let Some(child) = self.lit.get(l) {
                    child.containing(lv, i + 1, b, out);
                }
                if !blocked {
                    if let Some(p) = self.plus() {
                        p.containing(lv, i + 1, b, out);
                    }
                }
                for (pieces, child) in self.tmpl() {
                    if tmpl_matches(pieces, l, b) {
                        child.containing(lv, i + 1, b, out);
                    }
                }
            }
        }
    }

    /// Every deny statement whose pattern shares at least one topic with the requested filter.
    /// Deny patterns match `$` topics; the requested filter's leading wildcard does not.
    pub(crate) fn overlapping(
        &self,
        lv: &Levels<'_>,
        i: usize,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        let first = i == 0;
        match lv.get(i) {
            None => {
                emit(&self.hash, false, out);
                emit(&self.end, false, out);
            }
            Some(b"#") => self.subtree(first, b, out),
            Some(b"+") => {
                emit(&self.hash, false, out);
                self.lit.for_each(|key, child| {
                    if !(first && key.first() == Some(&b'$')) {
                        child.overlapping(lv, i + 1, b, out);
                    }
                });
                if let Some(p) = self.plus() {
                    p.overlapping(lv, i + 1, b, out);
                }
                for (pieces, child) in self.tmpl() {
                    if tmpl_usable(pieces, b) && !(first && tmpl_starts_with_dollar(pieces, b)) {
                        child.overlapping(lv, i + 1, b, out);
                    }
                }
            }
            Some(l) => {
                emit(&self.hash, false, out);
                if let Some(child) = self.lit.get(l) {
                    child.overlapping(lv, i + 1, b, out);
                }
                if let Some(p) = self.plus() {
                    p.overlapping(lv, i + 1, b, out);
                }
                for (pieces, child) in self.tmpl() {
                    if tmpl_matches(pieces, l, b) {
                        child.overlapping(lv, i + 1, b, out);
                    }
                }
            }
        }
    }

    /// Every statement at or below this node (a requested `#` here overlaps all of them).
    fn subtree(&self, first: bool, b: &[Binding], out: &mut impl FnMut(u32, bool)) {
        emit(&self.end, false, out);
        emit(&self.hash, false, out);
        self.lit.for_each(|key, child| {
            if !(first && key.first() == Some(&b'$')) {
                child.subtree(false, b, out);
            }
        });
        if let Some(p) = self.plus() {
            p.subtree(false, b, out);
        }
        for (pieces, child) in self.tmpl() {
            if tmpl_usable(pieces, b) && !(first && tmpl_starts_with_dollar(pieces, b)) {
                child.subtree(false, b, out);
            }
        }
    }
}

fn value(b: &[Binding], slot: u16) -> Option<&str> {
    b.get(usize::from(slot)).and_then(Binding::usable)
}

/// Byte equality for the short keys of trie edges, compared in place: a call into the C
/// library's `memcmp` costs more than the comparison itself.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (aw, at) = a.as_chunks::<8>();
    let (bw, bt) = b.as_chunks::<8>();
    aw.iter()
        .zip(bw)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && at.iter().zip(bt).all(|(x, y)| x == y)
}

/// The tokens of a glob from token `t`, byte `from` of it (a literal token may be cut).
fn tail_from(toks: &[GlobTok], (t, from): (usize, usize)) -> Vec<GlobTok> {
    let mut tail: Vec<GlobTok> = toks.get(t..).unwrap_or_default().to_vec();
    if let Some(GlobTok::Lit(text)) = tail.first() {
        let rest = text.get(from..).unwrap_or_default();
        if rest.is_empty() {
            tail.remove(0);
        } else {
            tail[0] = GlobTok::Lit(rest.into());
        }
    }
    tail
}

/// Whether a level equals the template with its variables substituted literally.
pub(crate) fn tmpl_matches(pieces: &[Piece], level: &[u8], b: &[Binding]) -> bool {
    let mut rest = level;
    for p in pieces {
        let part = match p {
            Piece::Text(t) => t.as_bytes(),
            Piece::Var(s) => match value(b, *s) {
                Some(v) => v.as_bytes(),
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
