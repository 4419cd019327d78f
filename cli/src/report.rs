//! Writing results: documents, explanations and tables to standard output, problems and notes
//! to standard error.

use std::borrow::Cow;
use std::io::{self, Write};

use mqward_core::Problem;

use crate::error::Error;

/// Writes text to standard output.
pub fn out(text: &str) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Write)
}

/// Writes one line to standard error. Nothing is left to report a failure to, so it is ignored.
fn err_line(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A line of information for the operator on standard error (standard output stays for what
/// scripts read).
pub fn note(line: &str) {
    err_line(line);
}

/// `warning: <location>: <message>`, one line per problem.
pub fn warnings(problems: &[Problem]) {
    for p in problems {
        err_line(&format!("warning: {p}"));
    }
}

/// An error: each problem of an invalid file on its own line, else the message.
pub fn error(e: &Error) {
    let problems = e.problems();
    if problems.is_empty() {
        err_line(&format!("error: {e}"));
    }
    for p in problems {
        err_line(&format!("error: {p}"));
    }
}

/// A table: columns separated by two spaces and padded to their widest cell, the last column
/// not padded, one line per row after the header. Cells should be [`printable`].
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Text safe to print on one line: control characters (a newline in a name) escaped as `\n`,
/// `\u{1b}` and so on; everything else as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a".to_owned(), "active".to_owned(), "first one".to_owned()],
            vec!["bbbb".to_owned(), "x".to_owned(), String::new()],
        ];
        assert_eq!(
            table(&["FP", "STATE", "NAME"], &rows),
            "FP    STATE   NAME\na     active  first one\nbbbb  x\n"
        );
        assert_eq!(table(&["NAME", "EXPIRES"], &[]), "NAME  EXPIRES\n");
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("sensor-1 é"), "sensor-1 é");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("a\nb\t\u{1b}[31m"), "a\\nb\\t\\u{1b}[31m");
    }
}
