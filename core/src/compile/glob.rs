//! Glob-mode matching for the indexed strategy. Patterns hang in a trie by their leading literal
//! levels (`fleet/fam-1/shadow/*` under `fleet` > `fam-1` > `shadow`), so a request only meets the
//! globs that share its first levels. The rest of a pattern (its tail) is matched by a linear-time
//! matcher, or, where many fixed tails share a node, by one GlobSet.

use std::cell::RefCell;

use crate::policy::pattern::{Binding, GlobTok};
use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

/// From this many fixed (`*`-only) tails at one node on, they are matched by a GlobSet.
const GLOBSET_FROM: usize = 8;

/// What a glob hit reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlobEntry {
    /// The statement.
    pub stmt: u32,
    /// An allow pattern starting with a wildcard: it never matches a `$` topic.
    pub dollar_rule: bool,
}

/// The glob tails hung on one trie node.
#[derive(Debug, Default)]
pub(crate) struct Tails {
    tails: Vec<(Box<[GlobTok]>, GlobEntry)>,
    set: Option<(GlobSet, Box<[GlobEntry]>)>,
}

/// Reused buffers for GlobSet matching, so a decision does not allocate.
#[derive(Default)]
struct Scratch {
    candidate: String,
    hits: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Tails {
    pub(crate) fn push(&mut self, tail: Box<[GlobTok]>, entry: GlobEntry) {
        self.tails.push((tail, entry));
    }

    /// Moves a large group of fixed tails into a GlobSet.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        let fixed = self.tails.iter().filter(|(t, _)| fits_globset(t)).count();
        if fixed >= GLOBSET_FROM {
            let (set_tails, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.tails)
                .into_iter()
                .partition(|(t, _)| fits_globset(t));
            let set = build_set(set_tails.iter().map(|(t, _)| &**t))?;
            self.set = Some((set, set_tails.into_iter().map(|(_, e)| e).collect()));
            self.tails = rest;
        }
        self.tails.shrink_to_fit();
        Ok(())
    }

    /// Reports the tails that match `rest`. With `dollar_root`, `rest` is the whole topic, so
    /// allow patterns starting with a wildcard skip it when it starts with `$`.
    pub(crate) fn matches(
        &self,
        rest: &[u8],
        dollar_root: bool,
        b: &[Binding],
        out: &mut impl FnMut(u32, bool),
    ) {
        let dollar = dollar_root && rest.first() == Some(&b'$');
        let mut report = |e: &GlobEntry| {
            if !(dollar && e.dollar_rule) {
                out(e.stmt, false);
            }
        };
        for (toks, e) in &self.tails {
            if glob_matches(toks, rest, b) {
                report(e);
            }
        }
        if let Some((set, entries)) = &self.set {
            let mut hits_of = |hits: &[usize]| {
                for &h in hits {
                    if let Some(e) = entries.get(h) {
                        report(e);
                    }
                }
            };
            SCRATCH.with(|cell| match cell.try_borrow_mut() {
                Ok(mut scratch) => {
                    let Scratch { candidate, hits } = &mut *scratch;
                    candidate.clear();
                    // The request was validated as UTF-8 and `rest` starts at a level, so the
                    // conversion borrows; it never replaces anything.
                    candidate.push_str(&String::from_utf8_lossy(rest));
                    candidate.push(SENTINEL);
                    set.matches_candidate_into(&Candidate::new(candidate.as_str()), hits);
                    hits_of(hits);
                }
                // Only reachable if matching re-entered itself; allocate rather than fail.
                Err(_) => {
                    hits_of(&set.matches(format!("{}{SENTINEL}", String::from_utf8_lossy(rest))))
                }
            });
        }
    }
}

/// Whether the tokens can go into a GlobSet: no variables, no `?` (GlobSet's `?` is one byte,
/// ours one character).
pub(crate) fn fits_globset(toks: &[GlobTok]) -> bool {
    toks.iter()
        .all(|t| matches!(t, GlobTok::Lit(_) | GlobTok::Star))
}

/// Appended to every GlobSet candidate, and to every pattern that does not end in `*`. GlobSet
/// reads candidates as paths and finds no file name in one ending with `.` (`a/..`), which would
/// make its extension strategy miss; a NUL, which no valid topic, client id or pattern holds,
/// keeps the last byte from ever being `.` while leaving what matches unchanged. A pattern ending
/// in `*` needs no sentinel (its `*` takes the candidate's), and keeps GlobSet's fast prefix
/// strategy instead of falling back to a regex set.
pub(crate) const SENTINEL: char = '\0';

/// Builds a GlobSet from `*`-only token lists, every other character literal.
pub(crate) fn build_set<'a>(
    patterns: impl IntoIterator<Item = &'a [GlobTok]>,
) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for toks in patterns {
        let mut text = String::new();
        for t in toks {
            match t {
                GlobTok::Lit(l) => text.push_str(&globset::escape(l)),
                GlobTok::Star => text.push('*'),
                GlobTok::One | GlobTok::Var(_) => {
                    return Err("internal: pattern not fit for a glob set".into())
                }
            }
        }
        if toks.last() != Some(&GlobTok::Star) {
            text.push(SENTINEL);
        }
        let glob = GlobBuilder::new(&text)
            .literal_separator(false)
            .backslash_escape(false)
            .case_insensitive(false)
            .build()
            .map_err(|e| format!("glob `{text}`: {e}"))?;
        set.add(glob);
    }
    set.build().map_err(|e| format!("glob set: {e}"))
}

/// Matches glob tokens against text in O(len(text) x len(tokens)): on a mismatch only the last
/// `*` is retried one character further, which is exact for `*` and `?` wildcards. The text is
/// valid UTF-8 (a checked request), read as bytes; `?` takes one whole character.
pub(crate) fn glob_matches(toks: &[GlobTok], text: &[u8], b: &[Binding]) -> bool {
    let (mut ti, mut pos) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match toks.get(ti) {
            Some(GlobTok::Star) => {
                star = Some((ti + 1, pos));
                ti += 1;
                continue;
            }
            Some(GlobTok::One) => match char_len(text, pos) {
                Some(n) => {
                    pos += n;
                    true
                }
                None => false,
            },
            Some(GlobTok::Lit(l)) => literal(text, &mut pos, l.as_bytes()),
            Some(GlobTok::Var(s)) => match b.get(usize::from(*s)).and_then(Binding::usable) {
                Some(v) => literal(text, &mut pos, v.as_bytes()),
                None => return false,
            },
            None => {
                if pos == text.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            ti += 1;
            continue;
        }
        match star {
            Some((after, from)) => match char_len(text, from) {
                Some(n) => {
                    let next = from + n;
                    star = Some((after, next));
                    ti = after;
                    pos = next;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// The length of the UTF-8 character starting at `pos`, if there is one.
#[inline]
fn char_len(text: &[u8], pos: usize) -> Option<usize> {
    let first = *text.get(pos)?;
    let len = match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    Some(len.min(text.len() - pos))
}

fn literal(text: &[u8], pos: &mut usize, lit: &[u8]) -> bool {
    if text.get(*pos..).is_some_and(|t| t.starts_with(lit)) {
        *pos += lit.len();
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::pattern::{parse_pattern, Pattern, VarTable};
    use crate::policy::MatchMode;

    fn toks(p: &str) -> Vec<GlobTok> {
        match parse_pattern(p, MatchMode::Glob, &mut VarTable::default()).unwrap() {
            Pattern::Glob(t) => t.into_vec(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn linear_matcher() {
        let cases = [
            ("a/*", "a/b/c", true),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbx", false),
            ("a?c", "abc", true),
            ("a?c", "aéc", true),
            ("a??c", "aéc", false),
            ("?", "😀", true),
            ("*é", "xxé", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("a*", "a", true),
            ("*x*y*z", "xyxyxyz", true),
            ("a/+/#", "a/+/#", true),
            ("a/+/#", "a/b/c", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(
                glob_matches(&toks(p), t.as_bytes(), &[]),
                want,
                "{p} vs {t}"
            );
        }
    }

    #[test]
    fn globset_sees_topics_ending_in_dots() {
        let pats = [toks("*."), toks("*.json")];
        let set = build_set(pats.iter().map(|p| p.as_slice())).unwrap();
        for t in ["a/..", "..", "x.", "."] {
            assert!(set.is_match(format!("{t}{SENTINEL}")), "{t}");
        }
        assert!(set.is_match(format!("a/b.json{SENTINEL}")));
        assert!(!set.is_match(format!("a/b.json/..x{SENTINEL}")));
    }

    #[test]
    fn many_prefix_globs_at_one_node_build_and_match() {
        let pats: Vec<Vec<GlobTok>> = (0..50_000).map(|i| toks(&format!("dev-{i}-*"))).collect();
        let set = build_set(pats.iter().map(|p| p.as_slice())).unwrap();
        assert_eq!(set.matches(format!("dev-41999-x{SENTINEL}")), vec![41_999]);
        assert!(set.matches(format!("dev-41999{SENTINEL}")).is_empty());
    }

    #[test]
    fn hostile_input_stays_linear() {
        let p = toks("*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(60_000);
        assert!(!glob_matches(&p, text.as_bytes(), &[]));
    }

    #[test]
    fn globset_treats_specials_literally() {
        let pats = [toks("a/[x]/*"), toks("b{1,2}*"), toks("c\\*")];
        let set = build_set(pats.iter().map(|p| p.as_slice())).unwrap();
        let is_match = |t: &str| set.is_match(format!("{t}{SENTINEL}"));
        assert!(is_match("a/[x]/y/z"));
        assert!(!is_match("a/x/y"));
        assert!(is_match("b{1,2}"));
        assert!(!is_match("b1"));
        assert!(is_match("c\\anything"));
        assert!(is_match("a/[x]/line\nbreak"), "`*` spans newlines");
    }
}
