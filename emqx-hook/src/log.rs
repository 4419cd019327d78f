//! Log lines, one an event, on standard error: `mqward-exhook: <what happened>`. Client ids are
//! shown escaped, so a client cannot forge lines; passwords and tokens never appear.

use std::fmt;

/// Writes one log line.
pub fn line(args: fmt::Arguments<'_>) {
    eprintln!("mqward-exhook: {args}");
}

/// A client id for a log line: in backticks, control characters and quotes escaped.
pub struct ClientId<'a>(pub &'a str);

impl fmt::Display for ClientId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0.escape_debug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_cannot_break_lines() {
        assert_eq!(
            ClientId("a\nmqward-exhook: forged").to_string(),
            "`a\\nmqward-exhook: forged`"
        );
        assert_eq!(ClientId("sensor-1").to_string(), "`sensor-1`");
    }
}
