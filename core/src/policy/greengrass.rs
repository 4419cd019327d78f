//! Importer for the AWS Greengrass client device auth configuration (`deviceGroups`).

use crate::error::{Error, Location};
use crate::policy::Import;

/// Whether a JSON value looks like a Greengrass client device auth configuration.
pub fn is_greengrass(value: &serde_json::Value) -> bool {
    value.get("deviceGroups").is_some()
}

/// Imports a parsed Greengrass configuration.
pub fn import_value(_value: &serde_json::Value) -> Result<Import, Error> {
    Err(Error::single(Location::Document, "greengrass import is not built yet"))
}
