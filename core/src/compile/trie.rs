//! The topic-level trie, frozen: a decision walks the request's levels, so its cost depends on the
//! topic and the few patterns along its path, not on how many statements exist.
//!
//! Walks report `(statement, deny_only)`: `deny_only` is set below a wildcard that the `$` topic
//! rule (MQTT 4.7.2-1) closes to allow statements but not to deny statements, so one walk serves
//! both effects.
//!
//! Memory is what this layout is for: 100,000 statements hang here, most on nodes of their own.
//! Nodes sit in one array and refer to each other by `u32` index; a node's literal children are
//! contiguous (followed by its `+` child), so a node names them with a start and a count. Keys are
//! byte ranges of the snapshot's text, where the statements' resources already hold every literal
//! level. A node's statements are one `u32`: a single statement inline, or an offset into a shared
//! pool. What few nodes have (template edges, glob tails, a hash table over many children) lives
//! in a side table.

use std::cell::Cell;

use super::glob::Tails;
use super::levels::{rest, Levels};
use crate::policy::pattern::{Binding, Piece};

/// No node, no statements, no side-table entry.
pub(crate) const NONE: u32 = u32::MAX;

/// A node's statements: set when they are in the pool (the low bits give the offset).
const POOLED: u32 = 1 << 31;
/// Inline, the bits above this say which list the one statement is on.
const LIST_SHIFT: u32 = 29;
/// Inline, the statement's index.
const ID_MASK: u32 = (1 << LIST_SHIFT) - 1;
/// Statement indexes must stay below this to fit a node inline.
pub(crate) const MAX_STATEMENTS: usize = 1 << LIST_SHIFT;

/// Up to this many literal children are compared one by one; more are found by hashing.
pub(crate) const LIST_MAX: usize = 8;

/// Node flag: the node has a `+` child, right after its literal children.
pub(crate) const HAS_PLUS: u16 = 1;
/// Node flag: the literal children are found through the side table's hash table.
pub(crate) const HASHED: u16 = 2;
/// Node flag: the node has a side-table entry.
pub(crate) const HAS_RARE: u16 = 4;

/// Template and `+` branches a topic walk keeps pending on its stack before it recurses.
const PENDING: usize = 8;

/// The three statement lists a node can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// Patterns that end exactly here: MQTT patterns, and exact texts (which only ever end on
    /// all-literal paths, where the two mean the same).
    End = 0,
    /// Patterns that are the path to here followed by `/#` (or `#` at the root).
    Hash = 1,
    /// Globs that are the path to here followed by `/*`: any rest, even an empty one. Never at
    /// the root, so the `$` rule never applies to them.
    Star = 2,
}

/// One node; 24 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// Where the key of the edge leading here (a literal level) starts in the snapshot's text.
    pub key: u32,
    /// The key's length (a level of a pattern, at most 65,535 bytes).
    pub key_len: u16,
    /// [`HAS_PLUS`], [`HASHED`], [`HAS_RARE`].
    pub flags: u16,
    /// The first literal child.
    pub kids: u32,
    /// How many literal children.
    pub n_kids: u32,
    /// The statements: [`NONE`], one inline, or [`POOLED`] with an offset into the pool.
    pub stmts: u32,
    /// The side-table entry, or [`NONE`].
    pub rare: u32,
}

impl Node {
    /// A node with nothing yet.
    pub(crate) const EMPTY: Node = Node {
        key: 0,
        key_len: 0,
        flags: 0,
        kids: 0,
        n_kids: 0,
        stmts: NONE,
        rare: NONE,
    };
}

/// The parts few nodes have.
#[derive(Debug, Default)]
pub(crate) struct Rare {
    /// Edges for levels holding variables, each with its child.
    pub tmpl: Box<[(Box<[Piece]>, u32)]>,
    /// Glob-mode patterns whose leading literal levels lead here, by their remaining tails (only
    /// on all-literal paths, so reaching the node means the topic starts with them).
    pub globs: Option<Tails>,
    /// For many literal children: open addressing over their node indexes, a power of two long
    /// (see [`table_slot`]).
    pub table: Box<[u64]>,
}

/// A frozen trie; empty when nothing was inserted.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    /// Node 0 is the root.
    pub nodes: Box<[Node]>,
    /// Pooled statement lists: three counts (end, hash, star), then the statements.
    pub lists: Box<[u32]>,
    /// Side-table entries.
    pub rare: Box<[Rare]>,
    /// For each node, the smallest statement at or below it (empty unless
    /// [`Trie::with_subtree_minimum`] made it): lets a walk skip a subtree that cannot lower the
    /// deny it has found already.
    pub sub_min: Box<[u32]>,
    /// The first levels a topic can have to match anything here, as a 64-bit filter of their
    /// [`first_level_bit`]s; all ones when the root holds more than literal children (a `+`,
    /// `#`, template or glob), and none when the trie is empty. A topic walk whose first level's
    /// bit is clear cannot match and is skipped.
    pub first: u64,
}

/// The bit a level sets in [`Trie::first`]: a multiplicative hash of its length and first and
/// last bytes, cheap for a level of any length. A collision only costs a walk.
#[inline]
pub(crate) fn first_level_bit(level: &[u8]) -> u64 {
    let (first, last) = (level.first().copied(), level.last().copied());
    let mix = u64::from(first.unwrap_or(0))
        | u64::from(last.unwrap_or(0)) << 8
        | (level.len() as u64) << 16;
    1 << (mix.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

/// The statements of a node that holds one, on one list.
pub(crate) fn inline(list: List, stmt: u32) -> Option<u32> {
    (stmt <= ID_MASK).then_some(((list as u32) << LIST_SHIFT) | stmt)
}

/// The handle of pooled statements at `offset`.
pub(crate) fn pooled(offset: usize) -> Option<u32> {
    u32::try_from(offset)
        .ok()
        .filter(|o| o & POOLED == 0)
        .map(|o| o | POOLED)
}

/// The hash of a key, for the children's hash table: its low bits pick the slot, its high bits
/// the slot's tag. Every byte counts (keys that differ in one byte only, like numbered device
/// names, must not collide), eight at a time, each word folded in with a multiply.
#[inline]
pub(crate) fn key_hash(key: &[u8]) -> usize {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let fold = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(26);
    let mut h = (key.len() as u64).wrapping_mul(K);
    let (words, _) = key.as_chunks::<8>();
    if let Some(last) = key.last_chunk::<8>() {
        // Whole words, then the last eight bytes (overlapping the words when the length is
        // not a multiple of eight).
        for w in words {
            h = fold(h, u64::from_le_bytes(*w));
        }
        if !key.len().is_multiple_of(8) {
            h = fold(h, u64::from_le_bytes(*last));
        }
    } else {
        // Under eight bytes: one word, zero-padded, from at most two overlapping halves.
        let w = match (key.first_chunk::<4>(), key.last_chunk::<4>()) {
            (Some(a), Some(b)) => {
                u64::from(u32::from_le_bytes(*a)) | u64::from(u32::from_le_bytes(*b)) << 32
            }
            _ => key.iter().fold(0u64, |w, &byte| (w << 8) | u64::from(byte)),
        };
        h = fold(h, w);
    }
    let h = h.wrapping_mul(K);
    (h ^ (h >> 29)) as usize
}

/// A slot of the children's hash table: the key's tag in the high half, the child's node index
/// in the low half.
pub(crate) fn table_slot(hash: usize, node: u32) -> u64 {
    (u64::from(slot_tag(hash)) << 32) | u64::from(node)
}

/// A free slot of the children's hash table (no node has index [`NONE`]).
pub(crate) const EMPTY_SLOT: u64 = u64::MAX;

/// The tag kept with a slot, from bits of the hash that do not pick the slot.
#[inline]
fn slot_tag(hash: usize) -> u32 {
    ((hash as u64).rotate_left(32) as u32) | 1
}

const NO_TMPL: &[(Box<[Piece]>, u32)] = &[];

/// A request as walks read it, worked out once per decision.
pub(crate) struct Probe<'a> {
    /// The snapshot's text, which holds the keys.
    keys: &'a [u8],
    /// The request's text.
    req: &'a [u8],
    /// Its levels.
    levels: &'a [&'a [u8]],
    /// The [`first_level_bit`] of its first level.
    first: u64,
    /// The identity's variable values.
    b: &'a [Binding],
}

impl<'a> Probe<'a> {
    /// The request split in `lv`, against a snapshot's text `keys`, for variable values `b`.
    #[inline]
    pub(crate) fn new(keys: &'a [u8], lv: &'a Levels<'_>, b: &'a [Binding]) -> Probe<'a> {
        Probe {
            keys,
            req: lv.text(),
            levels: lv.levels(),
            first: lv.levels().first().map_or(0, |l| first_level_bit(l)),
            b,
        }
    }

    /// The request's text.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.req
    }

    /// The identity's variable values.
    pub(crate) fn bindings(&self) -> &'a [Binding] {
        self.b
    }

    /// Whether a topic walk of `trie` can match: the request's first level is among those
    /// [`Trie::first`] admits.
    #[inline(always)]
    pub(crate) fn may_enter(&self, trie: &Trie) -> bool {
        trie.first & self.first != 0
    }
}

/// One trie walked for one request.
pub(crate) struct Walk<'w> {
    trie: &'w Trie,
    p: &'w Probe<'w>,
}

impl Trie {
    /// Computes [`Trie::sub_min`]. Children come after their parent (the layout is breadth
    /// first), so one backward pass sees every child before its parent.
    pub(crate) fn with_subtree_minimum(mut self) -> Trie {
        let mut min = vec![u32::MAX; self.nodes.len()];
        for n in (0..self.nodes.len()).rev() {
            let Some(node) = self.nodes.get(n) else {
                continue;
            };
            let mut m = u32::MAX;
            for list in [List::End, List::Hash, List::Star] {
                self.emit(node.stmts, list, false, &mut |s, _| m = m.min(s));
            }
            let below = Trie::kids(node)
                .chain(Trie::plus(node))
                .chain(self.tmpl(node).iter().map(|(_, child)| *child));
            for child in below {
                // A child before its parent would break the layout's promise: fail safe by
                // not pruning there.
                match min.get(child as usize) {
                    Some(&c) if child as usize > n => m = m.min(c),
                    _ => m = 0,
                }
            }
            if let Some(slot) = min.get_mut(n) {
                *slot = m;
            }
        }
        self.sub_min = min.into();
        self
    }

    /// Computes [`Trie::first`] from the root; `keys` is the snapshot's text.
    pub(crate) fn first_levels(&self, keys: &[u8]) -> u64 {
        let Some(root) = self.node(0) else {
            return 0;
        };
        let rare = self.rare_of(root);
        let open = root.stmts != NONE
            || Trie::plus(root).is_some()
            || rare.is_some_and(|r| !r.tmpl.is_empty() || r.globs.is_some());
        if open {
            return u64::MAX;
        }
        Trie::kids(root)
            .filter_map(|k| self.node(k))
            .map(|kid| {
                let at = kid.key as usize;
                let key = keys.get(at..at + usize::from(kid.key_len));
                // A key outside the text would be a bug: then never skip.
                key.map_or(u64::MAX, first_level_bit)
            })
            .fold(0, |f, bit| f | bit)
    }

    /// Whether nothing at or below node `n` is smaller than `bound` (always false without
    /// [`Trie::sub_min`]).
    #[inline]
    fn nothing_below(&self, n: u32, bound: u32) -> bool {
        self.sub_min.get(n as usize).is_some_and(|&m| m >= bound)
    }

    /// Whether nothing was inserted.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A walk of this trie for a request, unless the trie is empty.
    #[inline]
    pub(crate) fn walk<'w>(&'w self, p: &'w Probe<'w>) -> Option<Walk<'w>> {
        (!self.is_empty()).then_some(Walk { trie: self, p })
    }

    #[inline]
    fn node(&self, n: u32) -> Option<&Node> {
        self.nodes.get(n as usize)
    }

    #[inline]
    fn rare_of(&self, node: &Node) -> Option<&Rare> {
        if node.flags & HAS_RARE == 0 {
            None
        } else {
            self.rare.get(node.rare as usize)
        }
    }

    #[inline]
    fn tmpl(&self, node: &Node) -> &[(Box<[Piece]>, u32)] {
        self.rare_of(node).map_or(NO_TMPL, |r| &r.tmpl)
    }

    /// The `+` child.
    #[inline]
    fn plus(node: &Node) -> Option<u32> {
        (node.flags & HAS_PLUS != 0).then(|| node.kids.wrapping_add(node.n_kids))
    }

    /// The literal children, as node indexes.
    #[inline]
    fn kids(node: &Node) -> std::ops::Range<u32> {
        node.kids..node.kids.saturating_add(node.n_kids)
    }

    /// Reports the statements of one list.
    #[inline(always)]
    fn emit(&self, stmts: u32, list: List, deny_only: bool, out: &mut impl FnMut(u32, bool)) {
        if stmts == NONE {
            return;
        }
        if stmts & POOLED == 0 {
            if stmts >> LIST_SHIFT == list as u32 {
                out(stmts & ID_MASK, deny_only);
            }
            return;
        }
        self.emit_pooled(stmts & !POOLED, list, deny_only, out);
    }

    fn emit_pooled(&self, at: u32, list: List, deny_only: bool, out: &mut impl FnMut(u32, bool)) {
        let at = at as usize;
        let Some(&[end, hash, star]) = self.lists.get(at..at + 3) else {
            return;
        };
        let (skip, len) = match list {
            List::End => (0, end),
            List::Hash => (end, hash),
            List::Star => (end + hash, star),
        };
        let from = at + 3 + skip as usize;
        for s in self
            .lists
            .get(from..from + len as usize)
            .unwrap_or_default()
        {
            out(*s, deny_only);
        }
    }
}

impl Walk<'_> {
    /// Every statement whose pattern matches a topic (or a client id read as a topic). With
    /// `dollar`, wildcards at the root are closed to allow statements for a first level
    /// starting with `$`.
    #[inline]
    pub(crate) fn topics(&self, dollar: bool, out: &mut impl FnMut(u32, bool)) {
        self.topic(0, 0, false, dollar, out);
    }

    /// Statements whose exact text or glob matches the request's text, following literal and
    /// template edges only (glob and exact filters are compared as text).
    pub(crate) fn texts(&self, out: &mut impl FnMut(u32, bool)) {
        self.literal(0, 0, out);
    }

    /// Every allow statement whose pattern contains the requested filter (all topics the filter
    /// can match are matched by the pattern), with the `$` rule.
    pub(crate) fn containers(&self, out: &mut impl FnMut(u32, bool)) {
        self.containing(0, 0, out);
    }

    /// Every deny statement whose pattern shares at least one topic with the requested filter.
    /// Deny patterns match `$` topics; the requested filter's leading wildcard does not.
    /// Subtrees holding nothing smaller than `deny` (the smallest deny accepted so far) are
    /// skipped when the trie has [`Trie::sub_min`].
    pub(crate) fn overlaps(&self, deny: &Cell<u32>, out: &mut impl FnMut(u32, bool)) {
        self.overlapping(0, 0, deny, out);
    }

    /// Level `i` of the request.
    #[inline(always)]
    fn level(&self, i: usize) -> Option<&[u8]> {
        self.p.levels.get(i).copied()
    }

    /// The request from level `i` on.
    #[inline]
    fn rest(&self, i: usize) -> Option<&[u8]> {
        rest(self.p.req, self.p.levels, i)
    }

    #[inline]
    fn key(&self, node: &Node) -> &[u8] {
        let start = node.key as usize;
        self.p
            .keys
            .get(start..start + usize::from(node.key_len))
            .unwrap_or_default()
    }

    /// The literal child for a level.
    #[inline(always)]
    fn child(&self, node: &Node, level: &[u8]) -> Option<u32> {
        if node.flags & HASHED != 0 {
            return self.hashed_child(node, level);
        }
        let len = level.len();
        let mut k = node.kids as usize;
        let end = k + node.n_kids as usize;
        while k < end {
            let kid = self.trie.nodes.get(k)?;
            if usize::from(kid.key_len) == len {
                let at = kid.key as usize;
                if self
                    .p
                    .keys
                    .get(at..at + len)
                    .is_some_and(|key| same(key, level))
                {
                    return Some(k as u32);
                }
            }
            k += 1;
        }
        None
    }

    /// The hash-table lookup.
    #[inline(always)]
    fn hashed_child(&self, node: &Node, level: &[u8]) -> Option<u32> {
        let table = &self.trie.rare_of(node)?.table;
        let mask = table.len().checked_sub(1)?;
        let hash = key_hash(level);
        let tag = slot_tag(hash);
        let mut i = hash & mask;
        // The table is at most two thirds full, so probing meets an empty slot.
        loop {
            let slot = *table.get(i)?;
            if slot == EMPTY_SLOT {
                return None;
            }
            if (slot >> 32) as u32 == tag {
                let n = slot as u32;
                if let Some(kid) = self.trie.node(n) {
                    if same(self.key(kid), level) {
                        return Some(n);
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn topic<O: FnMut(u32, bool)>(
        &self,
        n: u32,
        i: usize,
        deny_only: bool,
        dollar: bool,
        out: &mut O,
    ) {
        let trie = self.trie;
        let (mut n, mut i, mut deny_only) = (n, i, deny_only);
        // Template and `+` branches still to walk: kept here while they fit, rather than
        // recursed into, which costs a call per branch.
        let mut pending = [0u64; PENDING];
        let mut len = 0;
        loop {
            // The literal path is followed in a loop; branches wait in `pending`.
            while let Some(node) = trie.node(n) {
                let Some(level) = self.level(i) else {
                    trie.emit(node.stmts, List::End, deny_only, out);
                    trie.emit(node.stmts, List::Hash, deny_only, out);
                    break;
                };
                // Below a wildcard at the root, a `$` topic is open to deny statements only.
                let wild = |deny_only: bool| {
                    deny_only || (dollar && i == 0 && level.first() == Some(&b'$'))
                };
                if node.stmts != NONE {
                    if node.stmts & POOLED == 0 {
                        let s = node.stmts & ID_MASK;
                        match node.stmts >> LIST_SHIFT {
                            x if x == List::Hash as u32 => out(s, wild(deny_only)),
                            // Globs are only on literal and template paths, never below a `+`.
                            x if x == List::Star as u32 => out(s, false),
                            _ => {}
                        }
                    } else {
                        trie.emit(node.stmts, List::Hash, wild(deny_only), out);
                        trie.emit(node.stmts, List::Star, false, out);
                    }
                }
                if node.flags & (HAS_RARE | HAS_PLUS) != 0 {
                    let mut branch =
                        |child: u32, deny_only: bool, out: &mut O| match pending.get_mut(len) {
                            Some(slot) => {
                                *slot = pack(child, i + 1, deny_only);
                                len += 1;
                            }
                            None => self.topic(child, i + 1, deny_only, dollar, out),
                        };
                    if let Some(rare) = trie.rare_of(node) {
                        if let Some(globs) = &rare.globs {
                            if let Some(rest) = self.rest(i) {
                                globs.matches(rest, dollar && i == 0, self.p.b, out);
                            }
                        }
                        for (pieces, child) in rare.tmpl.iter() {
                            if tmpl_matches(pieces, level, self.p.b) {
                                branch(*child, deny_only, out);
                            }
                        }
                    }
                    if let Some(p) = Trie::plus(node) {
                        branch(p, wild(deny_only), out);
                    }
                }
                match self.child(node, level) {
                    Some(child) => n = child,
                    None => break,
                }
                i += 1;
            }
            let Some(next) = len.checked_sub(1).and_then(|l| pending.get(l)) else {
                return;
            };
            (n, i, deny_only) = unpack(*next);
            len -= 1;
        }
    }

    fn literal(&self, n: u32, i: usize, out: &mut impl FnMut(u32, bool)) {
        let trie = self.trie;
        let Some(node) = trie.node(n) else {
            return;
        };
        let Some(level) = self.level(i) else {
            trie.emit(node.stmts, List::End, false, out);
            return;
        };
        trie.emit(node.stmts, List::Star, false, out);
        if let Some(rare) = trie.rare_of(node) {
            if let Some(globs) = &rare.globs {
                if let Some(rest) = self.rest(i) {
                    globs.matches(rest, i == 0, self.p.b, out);
                }
            }
        }
        if let Some(child) = self.child(node, level) {
            self.literal(child, i + 1, out);
        }
        for (pieces, child) in trie.tmpl(node) {
            if tmpl_matches(pieces, level, self.p.b) {
                self.literal(*child, i + 1, out);
            }
        }
    }

    fn containing(&self, n: u32, i: usize, out: &mut impl FnMut(u32, bool)) {
        let trie = self.trie;
        let Some(node) = trie.node(n) else {
            return;
        };
        let level = self.level(i);
        let blocked = i == 0 && level.is_some_and(|l| l.first() == Some(&b'$'));
        if !blocked {
            trie.emit(node.stmts, List::Hash, false, out);
        }
        let plus = Trie::plus(node);
        match level {
            None => trie.emit(node.stmts, List::End, false, out),
            Some(b"#") => {
                // Every topic has at least one level, so at the root `+/#` contains `#`.
                if i == 0 {
                    if let Some(p) = plus.and_then(|p| trie.node(p)) {
                        trie.emit(p.stmts, List::Hash, false, out);
                    }
                }
            }
            Some(b"+") => {
                if let Some(p) = plus {
                    self.containing(p, i + 1, out);
                }
            }
            Some(l) => {
                if let Some(child) = self.child(node, l) {
                    self.containing(child, i + 1, out);
                }
                if !blocked {
                    if let Some(p) = plus {
                        self.containing(p, i + 1, out);
                    }
                }
                for (pieces, child) in trie.tmpl(node) {
                    if tmpl_matches(pieces, l, self.p.b) {
                        self.containing(*child, i + 1, out);
                    }
                }
            }
        }
    }

    fn overlapping(&self, n: u32, i: usize, deny: &Cell<u32>, out: &mut impl FnMut(u32, bool)) {
        let trie = self.trie;
        if trie.nothing_below(n, deny.get()) {
            return;
        }
        let Some(node) = trie.node(n) else {
            return;
        };
        let first = i == 0;
        match self.level(i) {
            None => {
                trie.emit(node.stmts, List::Hash, false, out);
                trie.emit(node.stmts, List::End, false, out);
            }
            Some(b"#") => self.subtree(n, first, deny, out),
            Some(b"+") => {
                trie.emit(node.stmts, List::Hash, false, out);
                for k in Trie::kids(node) {
                    let Some(kid) = trie.node(k) else { continue };
                    if !(first && self.key(kid).first() == Some(&b'$')) {
                        self.overlapping(k, i + 1, deny, out);
                    }
                }
                if let Some(p) = Trie::plus(node) {
                    self.overlapping(p, i + 1, deny, out);
                }
                for (pieces, child) in trie.tmpl(node) {
                    if tmpl_usable(pieces, self.p.b)
                        && !(first && tmpl_starts_with_dollar(pieces, self.p.b))
                    {
                        self.overlapping(*child, i + 1, deny, out);
                    }
                }
            }
            Some(l) => {
                trie.emit(node.stmts, List::Hash, false, out);
                if let Some(child) = self.child(node, l) {
                    self.overlapping(child, i + 1, deny, out);
                }
                if let Some(p) = Trie::plus(node) {
                    self.overlapping(p, i + 1, deny, out);
                }
                for (pieces, child) in trie.tmpl(node) {
                    if tmpl_matches(pieces, l, self.p.b) {
                        self.overlapping(*child, i + 1, deny, out);
                    }
                }
            }
        }
    }

    /// Every statement at or below a node (a requested `#` there overlaps all of them).
    fn subtree(&self, n: u32, first: bool, deny: &Cell<u32>, out: &mut impl FnMut(u32, bool)) {
        let trie = self.trie;
        let (mut n, mut first) = (n, first);
        // Each branch but the last recurses; the last continues the loop, so that a chain of
        // single children costs no calls.
        while let Some(node) = trie.node(n) {
            if trie.nothing_below(n, deny.get()) {
                return;
            }
            if node.stmts != NONE {
                trie.emit(node.stmts, List::End, false, out);
                trie.emit(node.stmts, List::Hash, false, out);
            }
            let mut last = None;
            let mut branch = |child: u32, out: &mut _| {
                // Checked here too, so that a node with many children skips the ones that
                // cannot lower the deny without a call each.
                if trie.nothing_below(child, deny.get()) {
                    return;
                }
                if let Some(before) = last.replace(child) {
                    self.subtree(before, false, deny, out);
                }
            };
            for k in Trie::kids(node) {
                // At the root, a requested `#` does not reach `$` topics.
                if first
                    && trie
                        .node(k)
                        .is_some_and(|kid| self.key(kid).first() == Some(&b'$'))
                {
                    continue;
                }
                branch(k, out);
            }
            if let Some(p) = Trie::plus(node) {
                branch(p, out);
            }
            for (pieces, child) in trie.tmpl(node) {
                if tmpl_usable(pieces, self.p.b)
                    && !(first && tmpl_starts_with_dollar(pieces, self.p.b))
                {
                    branch(*child, out);
                }
            }
            match last {
                Some(next) => (n, first) = (next, false),
                None => return,
            }
        }
    }
}

/// A pending branch of a topic walk as one word: node, level, `deny_only`.
#[inline(always)]
fn pack(node: u32, i: usize, deny_only: bool) -> u64 {
    (u64::from(node) << 32) | ((i as u64 & 0x7fff_ffff) << 1) | u64::from(deny_only)
}

/// The node, level and `deny_only` of a pending branch.
#[inline(always)]
fn unpack(word: u64) -> (u32, usize, bool) {
    (
        (word >> 32) as u32,
        ((word >> 1) & 0x7fff_ffff) as usize,
        word & 1 != 0,
    )
}

fn value(b: &[Binding], slot: u16) -> Option<&str> {
    b.get(usize::from(slot)).and_then(Binding::usable)
}

/// Byte equality for the short keys of trie edges, compared in place: a call into the C
/// library's `memcmp` costs more than the comparison itself. Whole words, then the last word
/// again (overlapping), so that no byte is compared alone from 4 bytes on.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |x: Option<&[u8; 8]>| x.map(|w| u64::from_ne_bytes(*w));
    let half = |x: Option<&[u8; 4]>| x.map(|w| u32::from_ne_bytes(*w));
    if a.len() >= 8 {
        let (aw, _) = a.as_chunks::<8>();
        let (bw, _) = b.as_chunks::<8>();
        aw.iter()
            .zip(bw)
            .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
            && word(a.last_chunk()) == word(b.last_chunk())
    } else if a.len() >= 4 {
        half(a.first_chunk()) == half(b.first_chunk())
            && half(a.last_chunk()) == half(b.last_chunk())
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

/// Whether a level equals the template with its variables substituted literally.
pub(crate) fn tmpl_matches(pieces: &[Piece], level: &[u8], b: &[Binding]) -> bool {
    // The common template, one variable for the whole level, is one comparison.
    if let [Piece::Var(s)] = pieces {
        return value(b, *s).is_some_and(|v| same(v.as_bytes(), level));
    }
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
