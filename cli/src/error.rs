//! The one error type of the `mqward` binary: everything that ends a command with exit code 2.

use std::fmt;
use std::io;
use std::path::PathBuf;

use mqward_core::Problem;

/// Why a command could not do what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A text file holds bytes that are not UTF-8.
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// A policy (or a file to import) is invalid: every problem found.
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems, each with its location.
        problems: Vec<Problem>,
    },
    /// The arguments do not make a request (a required option for this action is missing, a
    /// configuration without what the command checks).
    Usage(String),
    /// Standard output could not be written.
    Write(io::Error),
    /// A registry or token store could not be written (it is left as it was, unless the message
    /// says the new contents are in place).
    Save {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A certificate argument is neither a fingerprint nor a file that can be read.
    CertArgument {
        /// The argument, taken as a file name.
        argument: PathBuf,
        /// Why the file could not be read.
        source: io::Error,
    },
    /// A certificate file holds no certificate that can be used.
    NotCertificate {
        /// The file.
        path: PathBuf,
        /// Why, in plain words (never the file's bytes).
        reason: String,
    },
    /// The registry or token store does not allow the change (a revoked certificate made
    /// active, an unknown fingerprint or name); nothing was written.
    Refused(String),
    /// The operating system could not supply random bytes.
    Random(String),
    /// The system clock is set before 1970.
    Clock,
}

impl Error {
    /// A change or an input that core refuses, in core's words without a location (core
    /// places these at `document`, which means nothing to someone at the command line).
    pub fn refused(e: &mqward_core::Error) -> Error {
        let problems = e.problems();
        if problems.is_empty() {
            return Error::Refused(e.to_string());
        }
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        Error::Refused(messages.join("; "))
    }

    /// The problems of an invalid file; empty for other errors.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            Error::NotUtf8 { path } => write!(f, "`{}` is not valid UTF-8 text", path.display()),
            Error::Invalid { path, problems } => {
                let n = problems.len();
                let s = if n == 1 { "" } else { "s" };
                write!(f, "`{}` is invalid: {n} problem{s}", path.display())
            }
            Error::Usage(message) => f.write_str(message),
            Error::Write(source) => write!(f, "cannot write the output: {source}"),
            Error::Save { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Error::CertArgument { argument, source } => write!(
                f,
                "`{}` is neither a fingerprint (64 hex digits) nor a readable certificate file: \
                 {source}",
                argument.display()
            ),
            Error::NotCertificate { path, reason } => {
                write!(f, "`{}` holds no certificate: {reason}", path.display())
            }
            Error::Refused(message) => f.write_str(message),
            Error::Random(message) => write!(f, "no random bytes from the system: {message}"),
            Error::Clock => f.write_str("the system clock is set before 1970"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. }
            | Error::Write(source)
            | Error::Save { source, .. }
            | Error::CertArgument { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::Location;

    #[test]
    fn messages_are_lowercase_with_input_in_backticks() {
        let e = Error::Read {
            path: "p.json".into(),
            source: io::Error::new(io::ErrorKind::NotFound, "not found"),
        };
        assert_eq!(e.to_string(), "cannot read `p.json`: not found");
        let e = Error::Invalid {
            path: "p.json".into(),
            problems: vec![Problem::new(Location::Document, "x")],
        };
        assert_eq!(e.to_string(), "`p.json` is invalid: 1 problem");
        assert_eq!(e.problems().len(), 1);
        assert!(Error::NotUtf8 { path: "acl".into() }.problems().is_empty());
        let e = Error::CertArgument {
            argument: "abc".into(),
            source: io::Error::new(io::ErrorKind::NotFound, "not found"),
        };
        assert_eq!(
            e.to_string(),
            "`abc` is neither a fingerprint (64 hex digits) nor a readable certificate file: \
             not found"
        );
    }
}
