//! Importer for Mosquitto's `acl_file` format.

use crate::error::{Error, Location};
use crate::policy::Import;

/// Imports the text of a Mosquitto `acl_file`.
pub fn import(_text: &str) -> Result<Import, Error> {
    Err(Error::single(Location::Document, "mosquitto acl import is not built yet"))
}
