//! Reading the files the commands name.

use std::path::Path;

use mqward_core::{Builder, Document, Snapshot};

use crate::error::Error;

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a whole file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| Error::NotUtf8 {
        path: path.to_owned(),
    })
}

/// Wraps a core error with the file it came from.
pub fn invalid(path: &Path, e: &mqward_core::Error) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        problems: e.problems().to_vec(),
    }
}

/// Reads a policy document (native or Greengrass JSON) and compiles it.
pub fn load_policy(path: &Path) -> Result<(Document, Snapshot), Error> {
    let bytes = read(path)?;
    let doc = Document::from_json(&bytes).map_err(|e| invalid(path, &e))?;
    let snapshot = Builder::new().build(&doc).map_err(|e| invalid(path, &e))?;
    Ok((doc, snapshot))
}
