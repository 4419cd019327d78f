//! A topic, filter or client id split into levels once per decision, so that every matcher walks
//! the same offsets instead of searching for `/` again. The split works on the request's bytes:
//! the request check has validated them, and a level boundary (`/`) is always a character
//! boundary.

/// Level boundaries kept inline for texts up to this many levels; deeper ones use the heap.
const INLINE: usize = 16;

/// The levels of a text (`a/b/c` has three; an empty level counts).
#[derive(Debug)]
pub(crate) struct Levels<'a> {
    text: &'a [u8],
    /// Where each level starts, then one past the end of the text: level `i` is
    /// `starts[i]..starts[i + 1] - 1`. Inline while they fit, else all on the heap.
    inline: [u32; INLINE + 1],
    /// How many of `inline` are used.
    used: usize,
    heap: Vec<u32>,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that equals `byte`, and no other bit. Exact: the sum
/// `(b & 0x7f) + 0x7f` stays within its byte, so no carry marks a neighbour.
#[inline]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & !HIGH).wrapping_add(!HIGH)) | x) & HIGH
}

/// Bytes a one-pass scan flags for a closer look: NUL, `+`, `#` and every non-ASCII byte.
const UNUSUAL: &[u8] = b"\0+#";

/// The high bit of some byte is set if `word` has a zero byte (and only then; which bytes is not
/// exact above the first zero).
#[inline]
fn has_zero(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word
}

impl<'a> Levels<'a> {
    /// Splits a text of fewer than `u32::MAX` bytes (requests are checked to 65,535).
    #[inline]
    pub(crate) fn new(text: &'a [u8]) -> Levels<'a> {
        Levels::scan(text).0
    }

    /// Splits a text and reports, in the same pass, whether it holds a NUL, `+`, `#` or a
    /// non-ASCII byte (whose UTF-8 the caller must then validate).
    #[inline]
    pub(crate) fn scan(text: &'a [u8]) -> (Levels<'a>, bool) {
        // Level starts go to a local array while they fit; a deeper text is split again, onto
        // the heap, by the slow path.
        let mut inline = [0u32; INLINE + 1];
        let mut used = 1usize;
        let mut overflow = false;
        // Eight bytes at a time: the separators of a word come out of one exact mask, lowest
        // first; the unusual bytes only need a yes or no, which the cheaper zero-byte test
        // (no false negatives, no false positives for "is there one") gives.
        let mut unusual = 0u64;
        let (words, tail) = text.as_chunks::<8>();
        let mut base = 1u32;
        for word in words {
            let word = u64::from_le_bytes(*word);
            unusual |= word
                | has_zero(word)
                | has_zero(word ^ (ONES * u64::from(b'+')))
                | has_zero(word ^ (ONES * u64::from(b'#')));
            let mut mask = bytes_equal(word, b'/');
            while mask != 0 {
                match inline.get_mut(used) {
                    Some(slot) => *slot = base + mask.trailing_zeros() / 8,
                    None => overflow = true,
                }
                used += 1;
                mask &= mask - 1;
            }
            base = base.wrapping_add(8);
        }
        let mut odd = unusual & HIGH != 0;
        for b in tail {
            if *b == b'/' {
                match inline.get_mut(used) {
                    Some(slot) => *slot = base,
                    None => overflow = true,
                }
                used += 1;
            }
            odd |= !b.is_ascii() || UNUSUAL.contains(b);
            base = base.wrapping_add(1);
        }
        let end = u32::try_from(text.len() + 1).unwrap_or(u32::MAX);
        match inline.get_mut(used) {
            Some(slot) => *slot = end,
            None => overflow = true,
        }
        used += 1;
        if overflow {
            return (Levels::deep(text), odd);
        }
        let levels = Levels {
            text,
            inline,
            used,
            heap: Vec::new(),
        };
        (levels, odd)
    }

    /// Splits a text of more than [`INLINE`] levels onto the heap.
    #[cold]
    fn deep(text: &'a [u8]) -> Levels<'a> {
        let mut heap = vec![0u32];
        heap.extend(
            text.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'/')
                .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        heap.push(u32::try_from(text.len() + 1).unwrap_or(u32::MAX));
        Levels {
            text,
            inline: [0; INLINE + 1],
            used: 0,
            heap,
        }
    }

    /// Where each level starts, then one past the end of the text.
    #[inline]
    pub(crate) fn starts(&self) -> &[u32] {
        if self.heap.is_empty() {
            self.inline.get(..self.used).unwrap_or_default()
        } else {
            &self.heap
        }
    }

    /// Level `i` as bytes, if the text has that many levels.
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        level(self.text, self.starts(), i)
    }

    /// The text from the start of level `i` to the end, if the text has that many levels.
    #[cfg(test)]
    pub(crate) fn rest(&self, i: usize) -> Option<&'a [u8]> {
        rest(self.text, self.starts(), i)
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.text
    }
}

/// Level `i` of `text` split at `starts` (see [`Levels::starts`]).
#[inline(always)]
pub(crate) fn level<'t>(text: &'t [u8], starts: &[u32], i: usize) -> Option<&'t [u8]> {
    let start = *starts.get(i)? as usize;
    let next = *starts.get(i + 1)? as usize;
    text.get(start..next.saturating_sub(1))
}

/// The text from the start of level `i` to the end (see [`Levels::starts`]).
#[inline]
pub(crate) fn rest<'t>(text: &'t [u8], starts: &[u32], i: usize) -> Option<&'t [u8]> {
    // The last entry is not the start of a level.
    if i + 1 >= starts.len() {
        return None;
    }
    text.get(*starts.get(i)? as usize..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_str_split() {
        let deep = vec!["x"; 70].join("/");
        let long = vec!["long-level"; 20].join("/");
        for text in [
            "a",
            "a/b/c",
            "/",
            "",
            "a//b/",
            "$SYS/x",
            "a/bcdefgh/ijklmnop/q/r/s/t/u/v/w/x/y/z/0/1/2/3/4/5/6/7",
            "//////////////////",
            "é/ü/ß",
            "abcdefg+/x",
            "abcdefgh/ijklmn#",
            "abcdefgh\0ijklmn",
            "a+",
            deep.as_str(),
            long.as_str(),
        ] {
            let (lv, unusual) = Levels::scan(text.as_bytes());
            assert_eq!(
                unusual,
                text.bytes().any(|b| !b.is_ascii() || b"\0+#".contains(&b)),
                "{text:?}"
            );
            let want: Vec<&str> = text.split('/').collect();
            let got: Vec<&str> = (0..)
                .map_while(|i| lv.get(i))
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect();
            assert_eq!(got, want, "{text:?}");
            for i in 0..want.len() {
                assert_eq!(lv.rest(i), Some(want[i..].join("/").as_bytes()));
            }
            assert_eq!(lv.rest(want.len()), None);
        }
    }
}
