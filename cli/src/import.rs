//! `mqward import`: convert Greengrass and Mosquitto files into native documents.

use mqward_core::policy::{greengrass, mosquitto_acl};
use mqward_core::Builder;

use crate::args::{Format, ImportArgs};
use crate::error::Error;
use crate::files::{invalid, read, read_text};
use crate::report;

/// Imports the file, prints the document and the import warnings.
pub fn run(args: &ImportArgs) -> Result<u8, Error> {
    let path = &args.file;
    let import = match args.format {
        Format::Greengrass => greengrass::import(&read(path)?),
        Format::MosquittoAcl => mosquitto_acl::import(&read_text(path)?),
    }
    .map_err(|e| invalid(path, &e))?;
    // An importer writes valid documents; compiling it here catches one that does not before
    // anyone deploys it.
    Builder::new()
        .build(&import.document)
        .map_err(|e| invalid(path, &e))?;
    let mut text = import.document.to_json_pretty();
    text.push('\n');
    report::out(&text)?;
    report::warnings(&import.warnings);
    Ok(crate::EXIT_OK)
}
