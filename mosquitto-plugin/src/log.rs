//! Log lines: their levels, and how client-supplied text (client ids, topics) is shown so that
//! it cannot forge lines or hide in a log. Secrets (passwords, tokens, keys, usernames that
//! carry a signed token) are never passed here.

use std::fmt::Write as _;

/// How important a line is; each maps to one `MOSQ_LOG_*` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug detail (denied deliveries: expected on wide subscriptions).
    Debug,
    /// Normal operation (loaded, reloaded).
    Info,
    /// A decision worth reading: a refused connection, a denied request, a kick.
    Notice,
    /// Something the operator should fix.
    Warning,
    /// A failure: the configuration cannot be loaded, a file cannot be written.
    Error,
}

/// The longest piece of client text shown in a line, in bytes; longer text is cut.
const MAX_SHOWN: usize = 256;

/// Client-supplied text for a log line: control characters, backslashes and backticks escaped,
/// cut at [`MAX_SHOWN`] bytes with `...`, in backticks.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN) + 2);
    out.push('`');
    for (at, c) in text.char_indices() {
        if at >= MAX_SHOWN {
            out.push_str("...");
            break;
        }
        match c {
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// [`shown`] for bytes that may not be UTF-8.
pub fn shown_bytes(bytes: &[u8]) -> String {
    shown(&String::from_utf8_lossy(bytes))
}

/// A client id for a log line, or `(none)`.
pub fn client(id: Option<&str>) -> String {
    id.map_or_else(|| "(none)".to_owned(), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_cannot_forge_lines() {
        assert_eq!(shown("sensor-7"), "`sensor-7`");
        assert_eq!(shown("a\nmqward: allowed"), "`a\\u{a}mqward: allowed`");
        assert_eq!(shown("x`y\\z"), "`x\\`y\\\\z`");
        assert_eq!(shown("\u{1b}[31m"), "`\\u{1b}[31m`");
        assert_eq!(shown_bytes(b"\xff/a"), "`\u{fffd}/a`");
        assert_eq!(client(None), "(none)");
        let long = "é".repeat(200);
        let out = shown(&long);
        assert!(out.ends_with("...`"), "{out}");
        assert!(out.len() < MAX_SHOWN + 10);
    }
}
