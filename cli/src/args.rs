//! The command line, as clap parses it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mqward_core::{Attribute, IdentityKind, Operation};

/// Check, explain and import MQTT authorization policies; manage client certificates and
/// identity tokens.
///
/// Exit codes: 0 success (for `explain`: allowed; `verify-cert`, `authenticate`: accepted),
/// 1 denied or rejected (`explain`, `verify-cert`, `authenticate`), 2 bad input (usage,
/// unreadable or invalid file or configuration, a change the registry or store refuses).
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
    /// Manage the certificate registry: the operator state of each client certificate.
    ///
    /// Every change is written atomically (the file keeps its mode and owner) and printed as
    /// `<fingerprint> <before> -> <after>`; a command that changes nothing says so and writes
    /// nothing. Exit 0 done or nothing to do, 2 bad input or a refused change (revoked is final).
    #[command(subcommand)]
    Cert(CertCommand),
    /// Issue, list and revoke identity tokens (`IDENTITY-TOKEN//...` bearer credentials).
    ///
    /// The store keeps only a hash of each token; `issue` prints the credential once, on
    /// standard output. Exit 0 done, 2 bad input.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check a client certificate alone against an engine configuration: chain, validity,
    /// revocation lists and registry state.
    ///
    /// Prints `valid` or `rejected: <reason>`, then the certificate's fingerprint. Exit 0 valid,
    /// 1 rejected, 2 bad input (unreadable or invalid configuration, no certificate in the file,
    /// no certificate authentication configured). Nothing is written.
    VerifyCert(VerifyCertArgs),
    /// Authenticate a client's credentials as the engine would at CONNECT.
    ///
    /// Prints `kind: <kind>` and every attribute of the identity, one `name: value` per line
    /// (`thingName: sensor-1`, `cert.subject.cn: ...`, `claim.<name>: ...`), with the expiry on
    /// standard error; or `rejected: <reason>`. Exit 0 authenticated, 1 rejected, 2 bad input
    /// (unreadable or invalid configuration or file, no certificate in the --cert file).
    /// Nothing is written (a certificate's first use is reported, not recorded).
    Authenticate(AuthenticateArgs),
}

/// `mqward verify-cert --config FILE CERT`.
#[derive(Debug, Args)]
pub struct VerifyCertArgs {
    /// The engine configuration (JSON); the files it names are read relative to its directory.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The client certificate, PEM or DER; a PEM bundle is the leaf first, then intermediates.
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,
}

/// `mqward authenticate --config FILE [credentials]`.
#[derive(Debug, Args)]
pub struct AuthenticateArgs {
    /// The engine configuration (JSON); the files it names are read relative to its directory.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The MQTT client id.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The MQTT username.
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    /// The MQTT password (or a token, `IDENTITY-TOKEN//...`, or a JWT). Other users can see
    /// command lines: prefer --password-file.
    #[arg(long, value_name = "P", conflicts_with = "password_file")]
    pub password: Option<String>,
    /// A file holding the MQTT password, `-` for standard input; one trailing newline is
    /// removed.
    #[arg(long, value_name = "F")]
    pub password_file: Option<PathBuf>,
    /// The client certificate, PEM or DER (leaf first), as the TLS layer would pass it on.
    #[arg(long, value_name = "CERT")]
    pub cert: Option<PathBuf>,
}

/// `mqward cert ...`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// List the registered certificates: fingerprint, state and name, sorted by fingerprint.
    List(CertListArgs),
    /// Register a certificate as `inactive` (it becomes `active` on first use); creates the
    /// registry file if there is none.
    Register(CertRegisterArgs),
    /// Refuse a certificate until it is reactivated.
    Suspend(CertChangeArgs),
    /// Make a suspended or inactive certificate active (never a revoked one).
    Reactivate(CertChangeArgs),
    /// Refuse a certificate for good; it stays in the registry as `revoked`.
    Revoke(CertChangeArgs),
}

/// `mqward cert list --registry FILE [--json]`.
#[derive(Debug, Args)]
pub struct CertListArgs {
    /// The registry file.
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// Print a JSON array of `{fingerprint, state, name}` (name null when absent) instead of a
    /// table.
    #[arg(long)]
    pub json: bool,
}

/// `mqward cert register --registry FILE CERT [--name N]`.
#[derive(Debug, Args)]
pub struct CertRegisterArgs {
    /// The registry file (created if missing).
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// The certificate: a PEM or DER file (of a bundle, the first certificate), or its SHA-256
    /// fingerprint as 64 hex digits (colons allowed, as `openssl x509 -fingerprint -sha256`
    /// prints it).
    #[arg(value_name = "CERT|FINGERPRINT")]
    pub cert: OsString,
    /// A name for the operator's benefit (free text without control characters).
    #[arg(long, value_name = "N", value_parser = parse_cert_name)]
    pub name: Option<String>,
}

/// `mqward cert suspend|reactivate|revoke --registry FILE CERT`.
#[derive(Debug, Args)]
pub struct CertChangeArgs {
    /// The registry file.
    #[arg(long, value_name = "FILE")]
    pub registry: PathBuf,
    /// The certificate: its SHA-256 fingerprint (64 hex digits, colons allowed) or a PEM or DER
    /// file holding it.
    #[arg(value_name = "FINGERPRINT|CERT")]
    pub cert: OsString,
}

/// `mqward token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a thing name, print the credential once on standard output and the
    /// expiry on standard error; creates the store file if there is none.
    Issue(TokenIssueArgs),
    /// List the tokens: name, issue time, expiry (UTC) and whether expired. Never hashes.
    List(TokenListArgs),
    /// Revoke every token of a name.
    Revoke(TokenRevokeArgs),
}

/// `mqward token issue --store FILE --name NAME --ttl DURATION`.
#[derive(Debug, Args)]
pub struct TokenIssueArgs {
    /// The token store file (created if missing).
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// The thing name the token stands for (1 to 128 bytes, no control characters).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// How long the token is valid: seconds (`3600`) or a number with a unit s, m, h or d
    /// (`90m`, `24h`, `30d`).
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_ttl)]
    pub ttl: u64,
}

/// `mqward token list --store FILE [--json]`.
#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// The token store file.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// Print a JSON array of `{name, issued, expires, expired}` (times in seconds since the Unix
    /// epoch) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mqward token revoke --store FILE --name NAME`.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token store file.
    #[arg(long, value_name = "FILE")]
    pub store: PathBuf,
    /// The thing name whose tokens to revoke (all of them).
    #[arg(long, value_name = "NAME")]
    pub name: String,
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

fn parse_cert_name(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("a certificate name cannot be empty".to_owned());
    }
    if text.chars().any(char::is_control) {
        return Err("a certificate name cannot hold control characters".to_owned());
    }
    Ok(text.to_owned())
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
    fn certificate_names() {
        assert_eq!(parse_cert_name("sensor 1 é"), Ok("sensor 1 é".to_owned()));
        assert!(parse_cert_name("").is_err());
        assert!(parse_cert_name("a\nb").unwrap_err().contains("control"));
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
