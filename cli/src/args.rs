//! The command line, as clap parses it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mqward_core::{Attribute, IdentityKind, Operation};

/// Check, explain and import MQTT authorization policies.
///
/// Exit codes: 0 success (for `explain`: allowed), 1 denied (`explain` only),
/// 2 bad input (usage, unreadable or invalid file).
#[derive(Debug, Parser)]
#[command(name = "mqward", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a policy (native or Greengrass JSON) and lint it.
    ///
    /// Prints `ok: ...` when valid, then any warnings on standard error. Exit 0 when valid
    /// (warnings or not), 2 when invalid or unreadable, with every problem on its own line.
    Check(CheckArgs),
    /// Decide one request for one identity and explain the decision.
    ///
    /// Prints `allow` or `deny` on the first line and the deciding statement on the second,
    /// then the identity's groups and every matching statement. Exit 0 allow, 1 deny,
    /// 2 bad input. A malformed topic, filter or client id is a request like any other: denied.
    Explain(ExplainArgs),
    /// Convert another broker's format into a native policy document.
    ///
    /// Prints the document on standard output and, on standard error, every rule that could
    /// not be carried over exactly. Exit 0 imported, 2 unreadable or invalid.
    Import(ImportArgs),
}

/// `mqward check FILE`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy document.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `mqward explain --policy FILE ...`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The policy document (native or Greengrass JSON).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The identity's client id (also the resource of `connect` when `--topic` is absent).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The identity's username.
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    /// The identity's thing name.
    #[arg(long, value_name = "NAME")]
    pub thing: Option<String>,
    /// How the identity authenticated: certificate, psk, jwt, password, token, declared or
    /// anonymous. Defaults to `password` when --username is given, else `certificate`.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Option<IdentityKind>,
    /// Any other attribute, repeatable: `claim.<name>=VALUE`, `cert.<field>=VALUE` (fields:
    /// subject.cn, subject.o, subject.ou, subject.serialnumber, issuer.cn, san.dns, san.uri,
    /// san.email, serial, fingerprint), or `clientId`, `username`, `thingName`, `kind`.
    #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
    pub attrs: Vec<(Attribute, String)>,
    /// The operation: connect, publish, subscribe, receive or unsubscribe.
    #[arg(long, value_name = "ACTION", value_parser = parse_action)]
    pub action: Operation,
    /// The topic (publish, receive), topic filter (subscribe, unsubscribe) or client id
    /// (connect; defaults to --client-id). Passed on byte for byte.
    #[arg(long, value_name = "T")]
    pub topic: Option<OsString>,
    /// The message's or subscription's QoS. Absent: 0 for publish, receive and subscribe,
    /// unknown for connect and unsubscribe (where statements with a `qos` condition do not
    /// allow). Above 2: a malformed request (denied).
    #[arg(long, value_name = "N")]
    pub qos: Option<u8>,
    /// The message has the retain flag. Absent: retain is false for publish and receive,
    /// unknown for the other actions.
    #[arg(long)]
    pub retain: bool,
}

/// `mqward import FORMAT FILE`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source format.
    #[arg(value_name = "FORMAT")]
    pub format: Format,
    /// The file to import.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// AWS Greengrass client device auth configuration (JSON with `deviceGroups`).
    Greengrass,
    /// Mosquitto `acl_file`.
    MosquittoAcl,
}

fn parse_kind(text: &str) -> Result<IdentityKind, String> {
    IdentityKind::parse(text).ok_or_else(|| {
        format!(
            "unknown kind `{text}`: expected {}",
            IdentityKind::ALL.map(IdentityKind::as_str).join(", ")
        )
    })
}

fn parse_action(text: &str) -> Result<Operation, String> {
    Operation::parse(text).ok_or_else(|| {
        format!(
            "unknown action `{text}`: expected {}",
            Operation::ALL.map(Operation::as_str).join(", ")
        )
    })
}

fn parse_attr(text: &str) -> Result<(Attribute, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, found `{text}`"))?;
    let attribute = Attribute::parse(key).ok_or_else(|| {
        format!(
            "unknown attribute `{key}`: expected `clientId`, `username`, `thingName`, `kind`, \
             `cert.<field>` or `claim.<name>`"
        )
    })?;
    if attribute == Attribute::Kind {
        parse_kind(value)?;
    }
    Ok((attribute, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn attributes() {
        assert_eq!(
            parse_attr("claim.role=ops=1"),
            Ok((Attribute::Claim("role".into()), "ops=1".into()))
        );
        assert_eq!(
            parse_attr("cert.subject.cn=a"),
            Ok((
                Attribute::Cert(mqward_core::CertField::SubjectCn),
                "a".into()
            ))
        );
        assert!(parse_attr("role=ops")
            .unwrap_err()
            .contains("unknown attribute `role`"));
        assert!(parse_attr("claim.role").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_attr("kind=robot")
            .unwrap_err()
            .contains("unknown kind `robot`"));
        assert!(parse_attr("kind=psk").is_ok());
    }

    #[test]
    fn kinds_and_actions() {
        assert_eq!(parse_kind("psk"), Ok(IdentityKind::Psk));
        assert!(parse_kind("x").is_err());
        assert_eq!(parse_action("receive"), Ok(Operation::Receive));
        assert!(parse_action("read")
            .unwrap_err()
            .contains("connect, publish"));
    }
}
