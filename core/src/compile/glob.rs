//! Glob-mode matching for the indexed strategy: a GlobSet for fixed `*` patterns, and a linear-time
//! matcher for patterns with variables or `?`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::policy::pattern::{Binding, GlobTok};

/// Whether the tokens can go into a GlobSet: no variables, no `?` (GlobSet's `?` is one byte,
/// ours one character).
pub(crate) fn fits_globset(toks: &[GlobTok]) -> bool {
    toks.iter()
        .all(|t| matches!(t, GlobTok::Lit(_) | GlobTok::Star))
}

/// Appended to every GlobSet pattern and candidate. GlobSet reads candidates as paths and finds
/// no file name in one ending with `.` (`a/..`), which would make its extension strategy miss;
/// a NUL, which no valid topic or client id holds, keeps the last byte from ever being `.` while
/// leaving what matches unchanged.
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
        text.push(SENTINEL);
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
/// `*` is retried one character further, which is exact for `*` and `?` wildcards.
pub(crate) fn glob_matches(toks: &[GlobTok], text: &str, b: &[Binding]) -> bool {
    let (mut ti, mut pos) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match toks.get(ti) {
            Some(GlobTok::Star) => {
                star = Some((ti + 1, pos));
                ti += 1;
                continue;
            }
            Some(GlobTok::One) => match text[pos..].chars().next() {
                Some(c) => {
                    pos += c.len_utf8();
                    true
                }
                None => false,
            },
            Some(GlobTok::Lit(l)) => literal(text, &mut pos, l),
            Some(GlobTok::Var(s)) => match b.get(usize::from(*s)).and_then(Binding::usable) {
                Some(v) => literal(text, &mut pos, v),
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
            Some((after, from)) => match text[from..].chars().next() {
                Some(c) => {
                    let next = from + c.len_utf8();
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

fn literal(text: &str, pos: &mut usize, lit: &str) -> bool {
    if text[*pos..].starts_with(lit) {
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
            ("a?c", "ac", false),
            ("*", "", true),
            ("a*", "a", true),
            ("*x*y*z", "xyxyxyz", true),
            ("a/+/#", "a/+/#", true),
            ("a/+/#", "a/b/c", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob_matches(&toks(p), t, &[]), want, "{p} vs {t}");
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
    fn hostile_input_stays_linear() {
        let p = toks("*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(60_000);
        assert!(!glob_matches(&p, &text, &[]));
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
