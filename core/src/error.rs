//! The one error type of `mqward-core`: every problem found while loading, with its location.

use std::fmt;

/// Where in a document a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The document as a whole.
    Document,
    /// A position in the JSON text (1-based line and column).
    Json {
        /// Line, counting from 1.
        line: usize,
        /// Column, counting from 1.
        column: usize,
    },
    /// A line of a text file (Mosquitto acl_file), counting from 1.
    Line(usize),
    /// A group, by name.
    Group(String),
    /// A policy, by name.
    Policy(String),
    /// A statement, by policy name and statement id.
    Statement {
        /// The policy holding the statement.
        policy: String,
        /// The statement id.
        statement: String,
    },
    /// One resource of a statement.
    Resource {
        /// The policy holding the statement.
        policy: String,
        /// The statement id.
        statement: String,
        /// Index of the resource in the statement's `resources` list, from 0.
        index: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Document => f.write_str("document"),
            Location::Json { line, column } => write!(f, "line {line}, column {column}"),
            Location::Line(line) => write!(f, "line {line}"),
            Location::Group(name) => write!(f, "group `{name}`"),
            Location::Policy(name) => write!(f, "policy `{name}`"),
            Location::Statement { policy, statement } => {
                write!(f, "statement `{policy}/{statement}`")
            }
            Location::Resource {
                policy,
                statement,
                index,
            } => write!(f, "statement `{policy}/{statement}`, resource {index}"),
        }
    }
}

/// One problem with its location, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is.
    pub location: Location,
    /// What is wrong, lowercase, user input in backticks.
    pub message: String,
}

impl Problem {
    /// A problem at a location.
    pub fn new(location: Location, message: impl Into<String>) -> Problem {
        Problem {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Loading failed: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The document (or imported file) is invalid; nothing was loaded.
    Invalid(Vec<Problem>),
}

impl Error {
    /// An error from a list of problems (an empty list still means failure).
    pub fn from_problems(problems: Vec<Problem>) -> Error {
        Error::Invalid(problems)
    }

    /// A single problem.
    pub fn single(location: Location, message: impl Into<String>) -> Error {
        Error::Invalid(vec![Problem::new(location, message)])
    }

    /// The problems, in the order found.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(problems) => problems,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems = self.problems();
        match problems {
            [] => f.write_str("invalid policy"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}
