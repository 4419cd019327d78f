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
    count: usize,
    /// Byte offset where each level ends: the `/` after it, or the end of the text.
    inline: [u32; INLINE],
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
    /// Splits a text of at most `u32::MAX` bytes (requests are checked to 65,535).
    #[inline]
    pub(crate) fn new(text: &'a [u8]) -> Levels<'a> {
        Levels::scan(text).0
    }

    /// Splits a text and reports, in the same pass, whether it holds a NUL, `+`, `#` or a
    /// non-ASCII byte (whose UTF-8 the caller must then validate).
    #[inline]
    pub(crate) fn scan(text: &'a [u8]) -> (Levels<'a>, bool) {
        let mut levels = Levels {
            text,
            count: 0,
            inline: [0; INLINE],
            heap: Vec::new(),
        };
        // Eight bytes at a time: the separators of a word come out of one exact mask, lowest
        // first; the unusual bytes only need a yes or no, which the cheaper zero-byte test
        // (no false negatives, no false positives for "is there one") gives.
        let mut unusual = 0u64;
        let (words, tail) = text.as_chunks::<8>();
        for (w, word) in words.iter().enumerate() {
            let word = u64::from_le_bytes(*word);
            unusual |= word
                | has_zero(word)
                | has_zero(word ^ (ONES * u64::from(b'+')))
                | has_zero(word ^ (ONES * u64::from(b'#')));
            let mut mask = bytes_equal(word, b'/');
            while mask != 0 {
                levels.push(w * 8 + (mask.trailing_zeros() / 8) as usize);
                mask &= mask - 1;
            }
        }
        let unusual = unusual & HIGH != 0;
        let base = words.len() * 8;
        let mut odd = false;
        for (i, b) in tail.iter().enumerate() {
            if *b == b'/' {
                levels.push(base + i);
            }
            odd |= !b.is_ascii() || UNUSUAL.contains(b);
        }
        levels.push(text.len());
        (levels, odd || unusual)
    }

    #[inline]
    fn push(&mut self, end: usize) {
        let end = u32::try_from(end).unwrap_or(u32::MAX);
        if self.count < INLINE {
            self.inline[self.count] = end;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(end);
        }
        self.count += 1;
    }

    #[inline]
    fn end(&self, i: usize) -> usize {
        let end = if self.count <= INLINE {
            self.inline.get(i).copied()
        } else {
            self.heap.get(i).copied()
        };
        end.map_or(self.text.len(), |e| e as usize)
    }

    #[inline]
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.end(i - 1) + 1
        }
    }

    /// Level `i` as bytes, if the text has that many levels.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        self.text.get(self.start(i)..self.end(i))
    }

    /// The text from the start of level `i` to the end, if the text has that many levels.
    pub(crate) fn rest(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        self.text.get(self.start(i)..)
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.text
    }
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
