//! Policy documents: the native JSON model, its resource and selection-rule grammars, importers
//! from other brokers' formats, and lints.

pub mod document;
pub mod greengrass;
pub mod lint;
pub mod mosquitto_acl;
pub mod pattern;
pub mod selection;
pub mod token_acl;

pub use document::{
    Document, Effect, Group, MatchMode, OperationName, Statement, DOCUMENT_VERSION,
};

use crate::error::Problem;

/// The result of importing another format: the native document, and every place where the
/// source could not be carried over exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The native document.
    pub document: Document,
    /// Rules that changed meaning or were dropped, with their location in the source.
    pub warnings: Vec<Problem>,
}
