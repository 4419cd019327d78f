//! `mqward token`: issue, list and revoke identity tokens in a token store file.
//!
//! The store holds only each token's SHA-256 with its name and times; the credential
//! (`IDENTITY-TOKEN//...`) exists in one place, the standard output of `token issue`. No other
//! output and no error message carries it.

use std::path::Path;

use mqward_core::authn::identity_token::{self, TokenRecord, TokenStore};

use crate::args::{TokenCommand, TokenIssueArgs, TokenListArgs, TokenRevokeArgs};
use crate::error::Error;
use crate::files::{self, invalid};
use crate::random;
use crate::report;
use crate::time;

/// Runs one `token` command.
pub fn run(command: &TokenCommand) -> Result<u8, Error> {
    match command {
        TokenCommand::Issue(args) => issue(args),
        TokenCommand::List(args) => list(args),
        TokenCommand::Revoke(args) => revoke(args),
    }
}

fn issue(args: &TokenIssueArgs) -> Result<u8, Error> {
    let _lock = files::lock(&args.store)?;
    let mut store = match files::read_if_exists(&args.store)? {
        Some(bytes) => parse(&args.store, &bytes)?,
        None => TokenStore::new(),
    };
    let now = time::now()?;
    let random = random::bytes::<32>()?;
    let (credential, record) = identity_token::issue(&args.name, args.ttl, now, &random)
        .map_err(|e| Error::refused(&e))?;
    let expires = record.expires_at();
    store.insert(record).map_err(|e| Error::refused(&e))?;
    save(&args.store, &store)?;
    if let Err(e) = report::out(&format!("{credential}\n")) {
        report::note(&format!(
            "the token is in `{}` but could not be shown; revoke it with `mqward token revoke \
             --name {}`",
            args.store.display(),
            report::printable(&args.name)
        ));
        return Err(e);
    }
    report::note(&format!(
        "issued a token for `{}`, expires {}",
        report::printable(&args.name),
        time::utc(expires)
    ));
    Ok(crate::EXIT_OK)
}

fn list(args: &TokenListArgs) -> Result<u8, Error> {
    let store = parse(&args.store, &files::read(&args.store)?)?;
    let now = time::now()?;
    let mut records: Vec<&TokenRecord> = store.records().collect();
    records.sort_by(|a, b| {
        (a.name(), a.issued_at(), a.expires_at()).cmp(&(b.name(), b.issued_at(), b.expires_at()))
    });
    let text = if args.json {
        let entries: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name(),
                    "issued": r.issued_at(),
                    "expires": r.expires_at(),
                    "expired": r.is_expired(now),
                })
            })
            .collect();
        format!("{:#}\n", serde_json::Value::Array(entries))
    } else {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                vec![
                    report::printable(r.name()).into_owned(),
                    time::utc(r.issued_at()),
                    time::utc(r.expires_at()),
                    if r.is_expired(now) {
                        "expired"
                    } else {
                        "valid"
                    }
                    .to_owned(),
                ]
            })
            .collect();
        report::table(&["NAME", "ISSUED", "EXPIRES", "STATUS"], &rows)
    };
    report::out(&text)?;
    Ok(crate::EXIT_OK)
}

fn revoke(args: &TokenRevokeArgs) -> Result<u8, Error> {
    let _lock = files::lock(&args.store)?;
    let mut store = parse(&args.store, &files::read(&args.store)?)?;
    let name = report::printable(&args.name);
    let revoked = store.revoke(&args.name);
    if revoked == 0 {
        return Err(Error::Refused(format!(
            "no token named `{name}` in `{}`; nothing changed",
            args.store.display()
        )));
    }
    save(&args.store, &store)?;
    let s = if revoked == 1 { "" } else { "s" };
    report::out(&format!("revoked {revoked} token{s} of `{name}`\n"))?;
    Ok(crate::EXIT_OK)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<TokenStore, Error> {
    TokenStore::from_json(&path.display().to_string(), bytes).map_err(|e| invalid(path, &e))
}

fn save(path: &Path, store: &TokenStore) -> Result<(), Error> {
    let mut text = store.to_json();
    text.push('\n');
    files::save(path, text.as_bytes())
}
