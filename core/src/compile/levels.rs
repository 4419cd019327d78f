//! A topic, filter or client id split into levels once per decision, so that every matcher reads
//! the same slices instead of searching for `/` again. The split works on the request's bytes:
//! the request check has validated them, and a level boundary (`/`) is always a character
//! boundary.

use arrayvec::ArrayVec;

/// Levels kept inline for texts up to this many; deeper ones go on the heap.
const INLINE: usize = 16;

/// The levels of a text (`a/b/c` has three; an empty level counts).
#[derive(Debug)]
pub(crate) struct Levels<'a> {
    text: &'a [u8],
    /// Each level, as a slice of `text`: inline while they fit (an `ArrayVec`, which costs
    /// nothing to create, where an array would be filled first), else all on the heap.
    inline: ArrayVec<&'a [u8], INLINE>,
    heap: Vec<&'a [u8]>,
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

/// Whether this target splits with 16-byte vectors: where `wide` has hardware instructions for
/// them. Elsewhere (wasm32 without `simd128`, say) its lanes would be plain arrays, and the
/// eight-bytes-at-a-time scan is faster.
const VECTORS: bool = cfg!(any(
    target_feature = "sse2",
    target_feature = "simd128",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// The levels a split has cut so far.
struct Cuts<'s, 'a> {
    text: &'a [u8],
    inline: &'s mut ArrayVec<&'a [u8], INLINE>,
    /// Where the current level starts.
    from: usize,
    /// More levels than fit inline: the text is split again onto the heap.
    overflow: bool,
}

impl<'a> Cuts<'_, 'a> {
    /// Ends the current level at a separator at byte `at`.
    #[inline(always)]
    fn cut(&mut self, at: usize) {
        // Past the inline capacity (or out of the text, which cannot happen) the text is split
        // again onto the heap, so a level is never lost.
        let pushed = match self.text.get(self.from..at) {
            Some(level) => self.inline.try_push(level).is_ok(),
            None => false,
        };
        if !pushed {
            self.overflow = true;
        }
        self.from = at + 1;
    }

    /// Ends the last level at the end of the text; gives whether the levels overflowed.
    #[inline(always)]
    fn end(mut self) -> bool {
        self.cut(self.text.len());
        self.overflow
    }
}

impl<'a> Levels<'a> {
    /// Levels of no text yet; [`Levels::split`] fills them in place.
    #[inline]
    pub(crate) fn empty() -> Levels<'a> {
        Levels {
            text: &[],
            inline: ArrayVec::new_const(),
            heap: Vec::new(),
        }
    }

    /// Splits a text.
    #[cfg(test)]
    pub(crate) fn new(text: &'a [u8]) -> Levels<'a> {
        let mut levels = Levels::empty();
        levels.split(text);
        levels
    }

    /// Splits a text, in place, and reports in the same pass whether it holds a NUL, `+`, `#`
    /// or a non-ASCII byte (whose UTF-8 the caller must then validate).
    #[inline]
    pub(crate) fn split(&mut self, text: &'a [u8]) -> bool {
        if VECTORS {
            self.split_vectors(text)
        } else {
            self.split_words(text)
        }
    }

    /// Cuts for a split of `text` into this value's inline levels.
    #[inline(always)]
    fn cuts<'s>(&'s mut self, text: &'a [u8]) -> Cuts<'s, 'a> {
        self.inline.clear();
        Cuts {
            text,
            inline: &mut self.inline,
            from: 0,
            overflow: false,
        }
    }

    /// Ends a split: the heap when the text is deeper than [`INLINE`].
    #[inline(always)]
    fn finish(&mut self, text: &'a [u8], overflow: bool) {
        self.text = text;
        if overflow {
            self.heap = deep(text);
        } else if !self.heap.is_empty() {
            self.heap = Vec::new();
        }
    }

    /// The split sixteen bytes at a time: one compare per byte class over the whole vector.
    #[cfg_attr(
        not(any(
            test,
            target_feature = "sse2",
            target_feature = "simd128",
            all(target_arch = "aarch64", target_feature = "neon")
        )),
        allow(dead_code)
    )]
    #[inline(always)]
    fn split_vectors(&mut self, text: &'a [u8]) -> bool {
        use wide::u8x16;
        let mut cuts = self.cuts(text);
        let slash = u8x16::splat(b'/');
        let (nul, plus, hash) = (u8x16::ZERO, u8x16::splat(b'+'), u8x16::splat(b'#'));
        // Every unusual byte leaves its high bit set here: compares give all ones, and a
        // non-ASCII byte has the bit already.
        let mut odd = u8x16::ZERO;
        let look = |v: u8x16, odd: &mut u8x16| {
            *odd |= v | v.simd_eq(nul) | v.simd_eq(plus) | v.simd_eq(hash);
            v.simd_eq(slash).to_bitmask()
        };
        let (chunks, tail) = text.as_chunks::<16>();
        let mut base = 0usize;
        for chunk in chunks {
            let mut mask = look(u8x16::new(*chunk), &mut odd);
            while mask != 0 {
                cuts.cut(base + mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
            base += 16;
        }
        if !tail.is_empty() {
            // The last sixteen bytes when there are that many (bytes seen already are shifted
            // out of the mask and only repeat what `odd` holds), else the tail padded with a
            // byte that is neither a separator nor unusual.
            let mut mask = match text.last_chunk::<16>() {
                Some(last) => look(u8x16::new(*last), &mut odd) >> (16 - tail.len()),
                None => {
                    let mut padded = [b'a'; 16];
                    if let Some(head) = padded.get_mut(..tail.len()) {
                        head.copy_from_slice(tail);
                    }
                    look(u8x16::new(padded), &mut odd)
                }
            };
            while mask != 0 {
                cuts.cut(base + mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
        }
        let done = cuts.end();
        self.finish(text, done);
        odd.to_bitmask() != 0
    }

    /// The split eight bytes at a time in a `u64`, for targets without vector instructions.
    #[cfg_attr(
        all(
            not(test),
            any(
                target_feature = "sse2",
                target_feature = "simd128",
                all(target_arch = "aarch64", target_feature = "neon")
            )
        ),
        allow(dead_code)
    )]
    #[inline(always)]
    fn split_words(&mut self, text: &'a [u8]) -> bool {
        let mut cuts = self.cuts(text);
        // The separators of a word come out of one exact mask, lowest first; the unusual
        // bytes only need a yes or no, which the cheaper zero-byte test gives (no false
        // negatives, no false positives for "is there one"). `b | 8` maps `#` (0x23) onto `+`
        // (0x2b) and nothing else onto either.
        let mut unusual = 0u64;
        let (words, tail) = text.as_chunks::<8>();
        let mut base = 0usize;
        for word in words {
            let word = u64::from_le_bytes(*word);
            unusual |=
                word | has_zero(word) | has_zero((word | (ONES * 8)) ^ (ONES * u64::from(b'+')));
            let mut mask = bytes_equal(word, b'/');
            while mask != 0 {
                cuts.cut(base + mask.trailing_zeros() as usize / 8);
                mask &= mask - 1;
            }
            base += 8;
        }
        let mut odd = unusual & HIGH != 0;
        for b in tail {
            if *b == b'/' {
                cuts.cut(base);
            }
            odd |= !b.is_ascii() || UNUSUAL.contains(b);
            base += 1;
        }
        let done = cuts.end();
        self.finish(text, done);
        odd
    }

    /// The levels, in order.
    #[inline]
    pub(crate) fn levels(&self) -> &[&'a [u8]] {
        if self.heap.is_empty() {
            &self.inline
        } else {
            &self.heap
        }
    }

    /// Level `i`, if the text has that many levels.
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.levels().get(i).copied()
    }

    /// The text from the start of level `i` to the end, if the text has that many levels.
    #[cfg(test)]
    pub(crate) fn rest(&self, i: usize) -> Option<&'a [u8]> {
        rest(self.text, self.levels(), i)
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a [u8] {
        self.text
    }
}

/// The levels of a text of more than [`INLINE`] levels, on the heap.
#[cold]
fn deep(text: &[u8]) -> Vec<&[u8]> {
    text.split(|b| *b == b'/').collect()
}

/// The text from the start of level `i` to the end, for `levels` split from `text`: level `i`
/// starts after the `i` levels before it and their separators.
#[inline]
pub(crate) fn rest<'t>(text: &'t [u8], levels: &[&[u8]], i: usize) -> Option<&'t [u8]> {
    let before = levels.get(..i)?;
    if i >= levels.len() {
        return None;
    }
    let start: usize = before.iter().map(|l| l.len() + 1).sum();
    text.get(start..)
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
            let unusual = text.bytes().any(|b| !b.is_ascii() || b"\0+#".contains(&b));
            // Both scans, whichever this target uses, on a used value too.
            let mut words = Levels::new(b"x/y/z/w/v/u/t/s/r/q/p/o/n/m/l/k/j/i/h/g");
            assert_eq!(words.split_words(text.as_bytes()), unusual, "{text:?}");
            let mut lv = Levels::new(b"x/y");
            assert_eq!(lv.split_vectors(text.as_bytes()), unusual, "{text:?}");
            assert_eq!(lv.levels(), words.levels(), "{text:?}");
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

    #[test]
    fn every_length_and_position() {
        // Across the vector and word boundaries: one separator, or one unusual byte, at each
        // place of texts up to three vectors long, and separators everywhere.
        for len in 0..=48usize {
            let mut texts = vec![vec![b'/'; len]];
            for at in 0..len {
                for b in [b'/', 0, b'+', b'#', 0x80, 0xff, b'.'] {
                    let mut t = vec![b'k'; len];
                    t[at] = b;
                    texts.push(t);
                }
            }
            for text in &texts {
                let unusual = text.iter().any(|b| !b.is_ascii() || b"\0+#".contains(b));
                let want: Vec<&[u8]> = text.split(|b| *b == b'/').collect();
                let mut lv = Levels::empty();
                assert_eq!(lv.split_vectors(text), unusual, "{text:?}");
                let got = |lv: &Levels<'_>| -> Vec<Vec<u8>> {
                    (0..).map_while(|i| lv.get(i)).map(<[u8]>::to_vec).collect()
                };
                assert_eq!(got(&lv), want, "{text:?}");
                let mut words = Levels::empty();
                assert_eq!(words.split_words(text), unusual, "{text:?}");
                assert_eq!(words.levels(), lv.levels(), "{text:?}");
                for i in 0..=want.len() {
                    let rest = (i < want.len()).then(|| want[i..].join(&b'/'));
                    assert_eq!(lv.rest(i).map(<[u8]>::to_vec), rest, "{text:?} {i}");
                }
            }
        }
    }
}
