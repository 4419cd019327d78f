//! The `name:value` line layout that Mosquitto's `password_file` and `psk_file` share.
//!
//! Mosquitto reads both files with one parser: a line whose first byte is `#` is a comment, a
//! line without `:` is skipped, and the name and value are trimmed of white space. This reader
//! accepts the same comments and blank lines but reports every other oddity Mosquitto skips in
//! silence (a line without `:`, an empty name or value, a second `:`, a duplicate name), so a
//! typo is an error that names the file and line instead of a user who cannot log in. Messages
//! never repeat the value: it is a password hash or a key.

use rustc_hash::FxHashMap;

use crate::error::{Location, Problem};

/// The longest name Mosquitto accepts (an MQTT string).
pub(crate) const MAX_NAME_LEN: usize = 65_535;

/// What a file's names and values are called in messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels {
    /// The name column: `user`, `identity`.
    pub name: &'static str,
    /// The value column: `hash`, `key`.
    pub value: &'static str,
}

/// One `name:value` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// The line number, from 1.
    pub number: usize,
    /// The name, trimmed.
    pub name: &'a str,
    /// The value, trimmed.
    pub value: &'a str,
}

/// The location of a line of a named file.
pub(crate) fn at(file: &str, line: usize) -> Location {
    Location::FileLine {
        file: file.to_owned(),
        line,
    }
}

/// Reads every entry of a Mosquitto-style file. Problems are appended to `problems`; lines with
/// a problem yield no entry. Names are unique among the entries returned.
pub(crate) fn entries<'a>(
    file: &str,
    bytes: &'a [u8],
    labels: Labels,
    problems: &mut Vec<Problem>,
) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let mut first_seen: FxHashMap<&'a str, usize> = FxHashMap::default();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            problems.push(Problem::new(at(file, number), "line is not UTF-8"));
            continue;
        };
        let text = trim(text);
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((name, value)) = text.split_once(':') else {
            problems.push(Problem::new(
                at(file, number),
                format!("line is not `{}:{}`", labels.name, labels.value),
            ));
            continue;
        };
        let (name, value) = (trim(name), trim(value));
        let message = if name.is_empty() {
            Some(format!("empty {}", labels.name))
        } else if name.len() > MAX_NAME_LEN {
            Some(format!("{} longer than {MAX_NAME_LEN} bytes", labels.name))
        } else if value.is_empty() {
            Some(format!("{} `{name}` has no {}", labels.name, labels.value))
        } else if value.contains(':') {
            Some(format!(
                "more than one `:` on the line of {} `{name}`",
                labels.name
            ))
        } else {
            None
        };
        if let Some(message) = message {
            problems.push(Problem::new(at(file, number), message));
            continue;
        }
        if let Some(first) = first_seen.get(name) {
            problems.push(Problem::new(
                at(file, number),
                format!("duplicate {} `{name}` (first on line {first})", labels.name),
            ));
            continue;
        }
        first_seen.insert(name, number);
        out.push(Line {
            number,
            name,
            value,
        });
    }
    out
}

/// Orders problems by line (those without a line first), keeping the order within a line.
pub(crate) fn sort_by_line(problems: &mut [Problem]) {
    problems.sort_by_key(|p| match p.location {
        Location::FileLine { line, .. } => line,
        _ => 0,
    });
}

/// Trims what C's `isspace` calls white space, as Mosquitto does (ASCII white space and the
/// vertical tab).
pub(crate) fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b')
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: Labels = Labels {
        name: "user",
        value: "hash",
    };

    fn read(text: &str) -> (Vec<Line<'_>>, Vec<Problem>) {
        let mut problems = Vec::new();
        let lines = entries("pw", text.as_bytes(), LABELS, &mut problems);
        (lines, problems)
    }

    #[test]
    fn comments_blank_lines_and_trimming() {
        let (lines, problems) = read("# c\n\n  \r\n a : x \r\n\t# indented comment\nb:y");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            lines,
            vec![
                Line {
                    number: 4,
                    name: "a",
                    value: "x"
                },
                Line {
                    number: 6,
                    name: "b",
                    value: "y"
                }
            ]
        );
    }

    #[test]
    fn problems_name_the_line_and_never_the_value() {
        let (lines, problems) =
            read("nocolon-secret\n:h1\nu:\nu:h2:h3\nok:h4\nok:h5\n\u{7f}x:\x0b");
        assert_eq!(lines.len(), 1);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "`pw`, line 1: line is not `user:hash`",
                "`pw`, line 2: empty user",
                "`pw`, line 3: user `u` has no hash",
                "`pw`, line 4: more than one `:` on the line of user `u`",
                "`pw`, line 6: duplicate user `ok` (first on line 5)",
                "`pw`, line 7: user `\u{7f}x` has no hash",
            ]
        );
        for t in &text {
            assert!(!t.contains("secret") && !t.contains("h4") && !t.contains("h3"));
        }
    }

    #[test]
    fn non_utf8_and_long_names() {
        let mut bytes = b"\xff:x\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', MAX_NAME_LEN + 1));
        bytes.extend(b":x\n");
        let mut problems = Vec::new();
        let lines = entries("pw", &bytes, LABELS, &mut problems);
        assert!(lines.is_empty());
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].message, "line is not UTF-8");
        assert_eq!(problems[1].location, at("pw", 2));
    }
}
