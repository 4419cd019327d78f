//! `mqward`: check, explain and import MQTT authorization policies, and manage the certificate
//! registry and identity tokens, from the command line.
//!
//! Every command reads a file, works with `mqward-core`, and maps the outcome to an exit code:
//! 0 success (allowed, accepted), 1 denied (`explain`) or rejected (`verify-cert`,
//! `authenticate`), 2 bad input of any kind (including a change the registry or token store
//! refuses). Files are changed atomically.
#![forbid(unsafe_code)]

mod args;
mod atomic;
mod authenticate;
mod cert;
mod check;
mod error;
mod explain;
mod files;
mod import;
mod random;
mod report;
mod time;
mod token;
mod verify_cert;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// The command did what was asked; for `explain`, the request is allowed.
const EXIT_OK: u8 = 0;
/// `explain`: the request is denied; `verify-cert` and `authenticate`: the credential is
/// rejected.
const EXIT_DENY: u8 = 1;
/// Bad input: usage, an unreadable file, an invalid policy, a failed import, or a registry or
/// token store change that is refused or cannot be written.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    // Clap prints its own usage errors and exits with 2 (`--help` and `--version` with 0).
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(a) => check::run(&a),
        Command::Explain(a) => explain::run(&a),
        Command::Import(a) => import::run(&a),
        Command::Cert(c) => cert::run(&c),
        Command::Token(c) => token::run(&c),
        Command::VerifyCert(a) => verify_cert::run(&a),
        Command::Authenticate(a) => authenticate::run(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report::error(&e);
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
