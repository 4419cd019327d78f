//! Writing results: documents and explanations to standard output, problems to standard error.

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
