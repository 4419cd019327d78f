//! A topic, filter or client id split into levels once per decision, so that every matcher walks
//! the same offsets instead of searching for `/` again.

/// Level boundaries kept inline for topics up to this many levels; deeper ones use the heap.
const INLINE: usize = 32;

/// The levels of a text (`a/b/c` has three; an empty level counts).
#[derive(Debug)]
pub(crate) struct Levels<'a> {
    text: &'a str,
    count: usize,
    /// Byte offset where each level ends: the `/` after it, or the end of the text.
    inline: [u32; INLINE],
    heap: Vec<u32>,
}

impl<'a> Levels<'a> {
    /// Splits a text of at most `u32::MAX` bytes (requests are checked to 65,535).
    #[inline]
    pub(crate) fn new(text: &'a str) -> Levels<'a> {
        let mut levels = Levels {
            text,
            count: 0,
            inline: [0; INLINE],
            heap: Vec::new(),
        };
        let bytes = text.as_bytes();
        // Short texts (most topics) are cheaper to scan byte by byte than to hand to the
        // vectorized search, whose setup costs more than the scan itself.
        if bytes.len() <= 128 {
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'/' {
                    levels.push(i);
                }
            }
        } else {
            for i in memchr::memchr_iter(b'/', bytes) {
                levels.push(i);
            }
        }
        levels.push(text.len());
        levels
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

    fn end(&self, i: usize) -> usize {
        let end = if self.heap.is_empty() {
            self.inline.get(i).copied()
        } else {
            self.heap.get(i).copied()
        };
        end.map_or(self.text.len(), |e| e as usize)
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.end(i - 1) + 1
        }
    }

    /// Level `i`, if the text has that many levels.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.count {
            return None;
        }
        self.text.get(self.start(i)..self.end(i))
    }

    /// The text from the start of level `i` to the end, if the text has that many levels.
    pub(crate) fn rest(&self, i: usize) -> Option<&'a str> {
        if i >= self.count {
            return None;
        }
        self.text.get(self.start(i)..)
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a str {
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
            deep.as_str(),
            long.as_str(),
        ] {
            let lv = Levels::new(text);
            let want: Vec<&str> = text.split('/').collect();
            let got: Vec<&str> = (0..).map_while(|i| lv.get(i)).collect();
            assert_eq!(got, want, "{text:?}");
            for i in 0..want.len() {
                assert_eq!(
                    lv.rest(i),
                    Some(want[i..].join("/").as_str()).filter(|_| true)
                );
            }
            assert_eq!(lv.rest(want.len()), None);
        }
    }
}
