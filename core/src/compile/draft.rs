//! The growing trie: patterns are inserted here while a policy is compiled, then
//! [`Draft::freeze`] lays the nodes out in the compact [`Trie`] that decisions walk.
//!
//! Keys are byte ranges of the snapshot's text (the statements' resources), found where the
//! pattern was written; the draft compares them through that text.

use std::collections::VecDeque;
use std::ops::Range;

use rustc_hash::FxHashMap;

use super::glob::{GlobEntry, Tails};
use super::trie::{
    inline, key_hash, pooled, table_slot, List, Node, Rare, Trie, EMPTY_SLOT, HASHED, HAS_PLUS,
    HAS_RARE, LIST_MAX, NONE,
};
use crate::policy::pattern::{GlobTok, Level, Piece};

/// A literal edge's key: where it is in the text, and how long.
#[derive(Debug, Clone, Copy)]
struct Key {
    at: u32,
    len: u32,
}

impl Key {
    fn bytes(self, text: &str) -> &[u8] {
        let start = self.at as usize;
        text.as_bytes()
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// Finds `level` in the text of the resource being inserted (`src`), or appends it to the text
/// when it is not there (it always is: literal levels are cut from what the resource says).
fn locate(text: &mut String, src: &Range<usize>, level: &str) -> Result<Key, String> {
    let at = match text.get(src.clone()).and_then(|s| s.find(level)) {
        Some(i) => src.start + i,
        None => {
            let at = text.len();
            text.push_str(level);
            at
        }
    };
    match (u32::try_from(at), u32::try_from(level.len())) {
        (Ok(at), Ok(len)) if at.checked_add(len).is_some() => Ok(Key { at, len }),
        _ => Err("the document's text is longer than 4 GiB".into()),
    }
}

/// One node of the growing trie.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    lit: Vec<(Key, Draft)>,
    /// Once there are many literal children: their positions in `lit`, by key.
    lit_index: Option<Box<FxHashMap<Box<[u8]>, u32>>>,
    end: Vec<u32>,
    hash: Vec<u32>,
    star: Vec<u32>,
    rare: Option<Box<DraftRare>>,
}

/// What few growing nodes have.
#[derive(Debug, Default)]
struct DraftRare {
    plus: Option<Draft>,
    tmpl: Vec<(Box<[Piece]>, Draft)>,
    globs: Option<Tails>,
}

impl Draft {
    fn rare_mut(&mut self) -> &mut DraftRare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Whether nothing was inserted.
    pub(crate) fn is_empty(&self) -> bool {
        self.lit.is_empty()
            && self.end.is_empty()
            && self.hash.is_empty()
            && self.star.is_empty()
            && self.rare.is_none()
    }

    /// The literal child for a level, added when new.
    fn entry(
        &mut self,
        text: &mut String,
        src: &Range<usize>,
        level: &str,
    ) -> Result<&mut Draft, String> {
        let found = match &self.lit_index {
            Some(index) => index.get(level.as_bytes()).map(|i| *i as usize),
            None => self
                .lit
                .iter()
                .position(|(k, _)| k.bytes(text) == level.as_bytes()),
        };
        let i = match found {
            Some(i) => i,
            None => {
                let key = locate(text, src, level)?;
                let i = self.lit.len();
                self.lit.push((key, Draft::default()));
                if let Some(index) = &mut self.lit_index {
                    index.insert(level.as_bytes().into(), i as u32);
                } else if self.lit.len() > LIST_MAX {
                    let index = self
                        .lit
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.bytes(text).into(), i as u32))
                        .collect();
                    self.lit_index = Some(Box::new(index));
                }
                i
            }
        };
        // `i` is a position in `lit`: found there or just pushed.
        self.lit
            .get_mut(i)
            .map(|(_, d)| d)
            .ok_or_else(|| "internal: trie child missing".to_string())
    }

    /// The child for one complete level: a literal edge, or a template edge.
    fn edge(
        &mut self,
        text: &mut String,
        src: &Range<usize>,
        level: Vec<Piece>,
    ) -> Result<&mut Draft, String> {
        match &level[..] {
            [] => self.entry(text, src, ""),
            [Piece::Text(t)] => self.entry(text, src, t),
            _ => {
                let tmpl = &mut self.rare_mut().tmpl;
                let i = match tmpl.iter().position(|(p, _)| **p == level[..]) {
                    Some(i) => i,
                    None => {
                        tmpl.push((level.into(), Draft::default()));
                        tmpl.len() - 1
                    }
                };
                tmpl.get_mut(i)
                    .map(|(_, d)| d)
                    .ok_or_else(|| "internal: trie template missing".to_string())
            }
        }
    }

    /// Adds an MQTT-mode pattern for a statement; `src` is its resource's range in `text`.
    pub(crate) fn insert(
        &mut self,
        text: &mut String,
        src: &Range<usize>,
        levels: &[Level],
        stmt: u32,
    ) -> Result<(), String> {
        let mut node = self;
        for level in levels {
            node = match level {
                Level::Hash => {
                    node.hash.push(stmt);
                    return Ok(());
                }
                Level::Lit(l) => node.entry(text, src, l)?,
                Level::Plus => node.rare_mut().plus.get_or_insert_with(Draft::default),
                Level::Tmpl(pieces) => node.edge(text, src, pieces.to_vec())?,
            };
        }
        node.end.push(stmt);
        Ok(())
    }

    /// Adds an exact-mode text for a statement, level by level.
    pub(crate) fn insert_exact(
        &mut self,
        text: &mut String,
        src: &Range<usize>,
        exact: &str,
        stmt: u32,
    ) -> Result<(), String> {
        let mut node = self;
        for level in exact.split('/') {
            node = node.entry(text, src, level)?;
        }
        node.end.push(stmt);
        Ok(())
    }

    /// Adds a glob: its complete leading levels without wildcards become edges (literal, or
    /// templates where they hold variables, whose values never contain `/`), the rest its tail.
    /// A tail that is a lone `*` below the root goes on the node's star list.
    pub(crate) fn insert_glob(
        &mut self,
        text: &mut String,
        src: &Range<usize>,
        toks: &[GlobTok],
        entry: GlobEntry,
    ) -> Result<(), String> {
        let mut node = self;
        let mut depth = 0usize;
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
                GlobTok::Lit(lit) => {
                    let mut from = 0;
                    for (cut, _) in lit.match_indices('/') {
                        if from < cut {
                            level.push(Piece::Text(lit[from..cut].into()));
                        }
                        node = node.edge(text, src, std::mem::take(&mut level))?;
                        depth += 1;
                        from = cut + 1;
                        level_start = (t, from);
                    }
                    if from < lit.len() {
                        level.push(Piece::Text(lit[from..].into()));
                    }
                }
            }
        }
        // A glob without wildcards keeps its last level as its tail, matched as text.
        let tail = tail.unwrap_or_else(|| tail_from(toks, level_start));
        if depth > 0 && tail == [GlobTok::Star] {
            node.star.push(entry.stmt);
        } else {
            node.rare_mut()
                .globs
                .get_or_insert_with(Tails::default)
                .push(tail.into(), entry);
        }
        Ok(())
    }

    /// Lays the trie out compactly: breadth first, so that each node's literal children (and
    /// then its `+` child) are contiguous. `text` holds the keys.
    pub(crate) fn freeze(self, text: &str) -> Result<Trie, String> {
        if self.is_empty() {
            return Ok(Trie::default());
        }
        let mut nodes = vec![Node::EMPTY];
        let mut lists: Vec<u32> = Vec::new();
        let mut rares: Vec<Rare> = Vec::new();
        let mut queue: VecDeque<(Draft, usize)> = VecDeque::from([(self, 0)]);
        let too_many = || "too many trie nodes".to_string();
        while let Some((draft, at)) = queue.pop_front() {
            let Draft {
                lit,
                lit_index: _,
                end,
                hash,
                star,
                rare,
            } = draft;
            let kids = nodes.len();
            let n_kids = lit.len();
            for (key, child) in lit {
                let key_len =
                    u16::try_from(key.len).map_err(|_| "a level longer than 65,535 bytes")?;
                queue.push_back((child, nodes.len()));
                nodes.push(Node {
                    key: key.at,
                    key_len,
                    ..Node::EMPTY
                });
            }
            let mut flags = 0;
            let mut tmpl = Vec::new();
            let mut globs = None;
            if let Some(rare) = rare {
                let DraftRare {
                    plus,
                    tmpl: edges,
                    globs: tails,
                } = *rare;
                if let Some(plus) = plus {
                    flags |= HAS_PLUS;
                    queue.push_back((plus, nodes.len()));
                    nodes.push(Node::EMPTY);
                }
                for (pieces, child) in edges {
                    tmpl.push((pieces, u32::try_from(nodes.len()).map_err(|_| too_many())?));
                    queue.push_back((child, nodes.len()));
                    nodes.push(Node::EMPTY);
                }
                if let Some(mut tails) = tails {
                    tails.finish()?;
                    globs = Some(tails);
                }
            }
            let mut table = Vec::new();
            if n_kids > LIST_MAX {
                flags |= HASHED;
                table = vec![EMPTY_SLOT; (n_kids + n_kids / 2 + 1).next_power_of_two()];
                let mask = table.len() - 1;
                for k in kids..kids + n_kids {
                    let key = nodes.get(k).map_or(&[][..], |n| {
                        Key {
                            at: n.key,
                            len: u32::from(n.key_len),
                        }
                        .bytes(text)
                    });
                    let hash = key_hash(key);
                    let mut i = hash & mask;
                    // At most two thirds of the slots are taken, so there is a free one.
                    while table.get(i).is_some_and(|s| *s != EMPTY_SLOT) {
                        i = (i + 1) & mask;
                    }
                    if let Some(slot) = table.get_mut(i) {
                        *slot = table_slot(hash, u32::try_from(k).map_err(|_| too_many())?);
                    }
                }
            }
            let rare = if tmpl.is_empty() && globs.is_none() && table.is_empty() {
                NONE
            } else {
                rares.push(Rare {
                    tmpl: tmpl.into(),
                    globs,
                    table: table.into(),
                });
                flags |= HAS_RARE;
                u32::try_from(rares.len() - 1).map_err(|_| too_many())?
            };
            let stmts = statements(&mut lists, end, hash, star)?;
            let node = nodes
                .get_mut(at)
                .ok_or_else(|| "internal: node missing".to_string())?;
            *node = Node {
                flags,
                kids: u32::try_from(kids).map_err(|_| too_many())?,
                n_kids: u32::try_from(n_kids).map_err(|_| too_many())?,
                stmts,
                rare,
                ..*node
            };
        }
        if nodes.len() >= NONE as usize {
            return Err(too_many());
        }
        let mut trie = Trie {
            nodes: nodes.into(),
            lists: lists.into(),
            rare: rares.into(),
            sub_min: Box::new([]),
            first: u64::MAX,
        };
        trie.first = trie.first_levels(text.as_bytes());
        Ok(trie)
    }
}

/// A node's statements as one handle: one inline, several in the pool.
fn statements(
    lists: &mut Vec<u32>,
    end: Vec<u32>,
    hash: Vec<u32>,
    star: Vec<u32>,
) -> Result<u32, String> {
    let one = match (&end[..], &hash[..], &star[..]) {
        ([], [], []) => return Ok(NONE),
        ([s], [], []) => inline(List::End, *s),
        ([], [s], []) => inline(List::Hash, *s),
        ([], [], [s]) => inline(List::Star, *s),
        _ => None,
    };
    if let Some(handle) = one {
        return Ok(handle);
    }
    let handle = pooled(lists.len()).ok_or_else(|| "too many statements".to_string())?;
    let count =
        |l: &Vec<u32>| u32::try_from(l.len()).map_err(|_| "too many statements".to_string());
    lists.extend([count(&end)?, count(&hash)?, count(&star)?]);
    lists.extend(end);
    lists.extend(hash);
    lists.extend(star);
    Ok(handle)
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
