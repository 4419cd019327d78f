//! The native policy document: what operators write, as JSON.
//!
//! ```json
//! {
//!   "version": 1,
//!   "groups": [
//!     { "name": "sensors", "selectionRule": "thingName: sensor-*", "policies": ["sensor"] }
//!   ],
//!   "policies": {
//!     "sensor": [
//!       { "id": "connect-own", "effect": "allow", "operations": ["connect"],
//!         "resources": ["clientId:${thingName}"] },
//!       { "id": "telemetry", "effect": "allow", "operations": ["publish"],
//!         "resources": ["topic:sensors/${thingName}/#"], "qos": [0, 1] }
//!     ]
//!   }
//! }
//! ```
//!
//! Unknown fields are rejected everywhere so that a misspelt `"efect"` never silently widens access.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Problem};

/// The only document version this release reads.
pub const DOCUMENT_VERSION: u32 = 1;

/// A whole policy document: groups that select identities, and the named policies they attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Document {
    /// Format version; must be [`DOCUMENT_VERSION`].
    pub version: u32,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Groups, in order. An identity belongs to every group whose selection rule it satisfies.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Named policies: each is a list of statements.
    #[serde(default)]
    pub policies: BTreeMap<String, Vec<Statement>>,
}

/// A selection rule and the policies that apply to the identities it selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Group {
    /// Unique name of the group.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which identities belong: `thingName: sensor-* AND kind: certificate OR username: admin`,
    /// or `*` for every identity.
    pub selection_rule: String,
    /// Names of policies in [`Document::policies`].
    pub policies: Vec<String>,
}

/// One allow or deny rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Statement {
    /// Identifier, unique within its policy; decisions name it as `policy/id`.
    pub id: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a match allows or denies.
    pub effect: Effect,
    /// The operations the statement covers.
    pub operations: Vec<OperationName>,
    /// Typed resource patterns: `clientId:<pattern>`, `topic:<pattern>`, `topicfilter:<pattern>`,
    /// or `*` for every resource.
    pub resources: Vec<String>,
    /// How patterns are matched.
    #[serde(default, rename = "match")]
    pub match_mode: MatchMode,
    /// When present, the statement only covers requests with one of these QoS levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<Vec<u8>>,
    /// When present, the statement only covers requests whose retain flag equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
}

/// The effect of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants the request, unless a deny also matches.
    Allow,
    /// Refuses the request, whatever else matches.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        })
    }
}

/// An operation as written in a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationName {
    /// Opening a connection with a client id.
    Connect,
    /// Sending a message to a topic.
    Publish,
    /// Subscribing to a topic filter.
    Subscribe,
    /// Having a message delivered to a subscription.
    Receive,
    /// Removing a subscription.
    Unsubscribe,
    /// Every operation.
    #[serde(rename = "*")]
    All,
}

/// How a statement's resource patterns match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// MQTT filter semantics, level by level: `+` one level, `#` the rest (and the parent).
    #[default]
    Mqtt,
    /// AWS IoT / Greengrass glob: `*` any characters including `/`, `?` one character,
    /// `+` and `#` literal.
    Glob,
    /// The literal string, nothing special.
    Exact,
}

impl fmt::Display for MatchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchMode::Mqtt => "mqtt",
            MatchMode::Glob => "glob",
            MatchMode::Exact => "exact",
        })
    }
}

impl Document {
    /// Reads a document from JSON. A Greengrass client device auth configuration (an object with
    /// `deviceGroups`) is recognised and imported with its own semantics.
    pub fn from_json(bytes: &[u8]) -> Result<Document, Error> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_error)?;
        if crate::policy::greengrass::is_greengrass(&value) {
            return crate::policy::greengrass::import_value(&value).map(|import| import.document);
        }
        match serde_json::from_value::<Document>(value.clone()) {
            Ok(doc) => Ok(doc),
            Err(e) => {
                // Name every statement and group that fails on its own; the position of the
                // first problem comes from parsing the bytes again (values carry no positions).
                let mut problems = located_problems(&value);
                let positioned = serde_json::from_slice::<Document>(bytes).err().unwrap_or(e);
                if problems.is_empty() {
                    return Err(json_error(positioned));
                }
                if let Some(first) = problems.first_mut() {
                    first.message = format!(
                        "{} (line {}, column {})",
                        first.message,
                        positioned.line(),
                        positioned.column()
                    );
                }
                Err(Error::from_problems(problems))
            }
        }
    }

    /// Writes the document as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        // Serializing this plain tree of strings, numbers and maps cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Tries each statement and group on its own and reports those that fail, by name.
fn located_problems(value: &serde_json::Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(policies) = value.get("policies").and_then(|p| p.as_object()) {
        for (policy, statements) in policies {
            let Some(list) = statements.as_array() else {
                continue;
            };
            for (i, st) in list.iter().enumerate() {
                if let Err(e) = serde_json::from_value::<Statement>(st.clone()) {
                    let statement = st
                        .get("id")
                        .and_then(|id| id.as_str())
                        .map_or_else(|| format!("#{i}"), str::to_owned);
                    problems.push(Problem::new(
                        Location::Statement {
                            policy: policy.clone(),
                            statement,
                        },
                        format!("invalid statement: {e}"),
                    ));
                }
            }
        }
    }
    if let Some(groups) = value.get("groups").and_then(|g| g.as_array()) {
        for (i, g) in groups.iter().enumerate() {
            if let Err(e) = serde_json::from_value::<Group>(g.clone()) {
                let name = g
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map_or_else(|| format!("#{i}"), str::to_owned);
                problems.push(Problem::new(
                    Location::Group(name),
                    format!("invalid group: {e}"),
                ));
            }
        }
    }
    problems
}

fn json_error(e: serde_json::Error) -> Error {
    Error::from_problems(vec![Problem::new(
        Location::Json {
            line: e.line(),
            column: e.column(),
        },
        format!("invalid policy document: {e}"),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_document() {
        let doc = Document::from_json(
            br#"{"version":1,"groups":[{"name":"g","selectionRule":"*","policies":["p"]}],
                "policies":{"p":[{"id":"s","effect":"allow","operations":["publish","*"],
                "resources":["topic:a/#"],"match":"glob","qos":[0],"retain":false}]}}"#,
        )
        .unwrap();
        let st = &doc.policies["p"][0];
        assert_eq!(st.effect, Effect::Allow);
        assert_eq!(
            st.operations,
            vec![OperationName::Publish, OperationName::All]
        );
        assert_eq!(st.match_mode, MatchMode::Glob);
        assert_eq!(st.qos, Some(vec![0]));
        assert_eq!(st.retain, Some(false));
    }

    #[test]
    fn rejects_unknown_fields_with_position() {
        let err = Document::from_json(
            b"{\"version\":1,\n\"policies\":{\"p\":[{\"id\":\"s\",\"efect\":\"allow\"}]}}",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("efect"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("statement `p/s`"), "{text}");
    }

    #[test]
    fn names_every_bad_statement_and_group() {
        let err = Document::from_json(
            br#"{"version":1,"groups":[{"name":"g","selectionRule":"*","polices":[]}],
                "policies":{"p":[{"id":"a","effect":"alow","operations":[],"resources":[]},
                                 {"id":"b","effect":"allow","operations":["publish"],"resources":[]},
                                 {"id":"c","effect":"deny","operations":["jump"],"resources":[]}]}}"#,
        )
        .unwrap_err();
        let at: Vec<String> = err
            .problems()
            .iter()
            .map(|p| p.location.to_string())
            .collect();
        assert_eq!(
            at,
            ["statement `p/a`", "statement `p/c`", "group `g`"],
            "{err}"
        );
    }

    #[test]
    fn round_trips() {
        let doc = Document {
            version: 1,
            description: None,
            groups: vec![Group {
                name: "g".into(),
                description: None,
                selection_rule: "*".into(),
                policies: vec!["p".into()],
            }],
            policies: BTreeMap::from([(
                "p".to_string(),
                vec![Statement {
                    id: "s".into(),
                    description: None,
                    effect: Effect::Deny,
                    operations: vec![OperationName::All],
                    resources: vec!["*".into()],
                    match_mode: MatchMode::Exact,
                    qos: None,
                    retain: None,
                }],
            )]),
        };
        let again = Document::from_json(doc.to_json_pretty().as_bytes()).unwrap();
        assert_eq!(doc, again);
    }
}
