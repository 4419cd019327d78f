//! The one error type of `mqward-emqx`: why the server cannot start, or why a reload was
//! refused. Messages are lowercase, put names in backticks and never hold a secret.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use mqward_core::Problem;

/// Why the server cannot start or a reload was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The hook's configuration file is invalid.
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The engine configuration, or a file it names, is invalid: every problem found.
    Engine {
        /// The engine configuration file.
        path: PathBuf,
        /// Each problem with its place.
        problems: Vec<Problem>,
    },
    /// The WebAssembly module cannot be read, compiled or run.
    Wasm {
        /// The module.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A listener off loopback without TLS, and `insecure` is not set.
    PlainText(SocketAddr),
    /// A TLS certificate, key or client CA file is unusable.
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The listen address could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The operating system gave no random bytes.
    Random(String),
    /// The gRPC transport failed (TLS setup or serving).
    Transport(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => write!(f, "cannot read `{}`: {source}", path.display()),
            Error::Config { path, message } => write!(f, "`{}`: {message}", path.display()),
            Error::Engine { path, problems } => {
                // One line, so that a log line holds the whole error.
                write!(f, "engine configuration `{}` is invalid: ", path.display())?;
                for (i, p) in problems.iter().enumerate() {
                    let separator = if i == 0 { "" } else { "; " };
                    write!(f, "{separator}{p}")?;
                }
                Ok(())
            }
            Error::Wasm { path, message } => {
                write!(f, "WebAssembly module `{}`: {message}", path.display())
            }
            Error::PlainText(addr) => write!(
                f,
                "listen address `{addr}` is not loopback: configure `tls` (ClientInfo carries \
                 passwords in clear), or set `\"insecure\": true` to accept that"
            ),
            Error::Tls { path, message } => write!(f, "TLS file `{}`: {message}", path.display()),
            Error::Bind { addr, source } => write!(f, "cannot listen on `{addr}`: {source}"),
            Error::Random(why) => write!(f, "no random bytes from the operating system: {why}"),
            Error::Transport(why) => write!(f, "gRPC transport: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqward_core::Location;

    #[test]
    fn engine_errors_list_every_problem() {
        let e = Error::Engine {
            path: "engine.json".into(),
            problems: vec![
                Problem::new(Location::File("p.json".into()), "bad"),
                Problem::new(Location::File("passwd".into()), "worse"),
            ],
        };
        let text = e.to_string();
        assert!(text.contains("`engine.json`"), "{text}");
        assert!(text.contains("`p.json`: bad"), "{text}");
        assert!(text.contains("`p.json`: bad; `passwd`: worse"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn plain_text_names_the_way_out() {
        let text = Error::PlainText("0.0.0.0:9000".parse().unwrap()).to_string();
        assert!(
            text.contains("`tls`") && text.contains("insecure"),
            "{text}"
        );
    }
}
