//! Importer for the AWS Greengrass client device auth configuration (`deviceGroups`).
//!
//! # Input
//!
//! Either the whole configuration of the `aws.greengrass.clientdevices.Auth` component, or just
//! its `deviceGroups` object:
//!
//! ```json
//! { "deviceGroups": {
//!     "formatVersion": "2021-03-05",
//!     "definitions": {
//!       "Sensors": { "selectionRule": "thingName: sensor-* OR thingName: probe", "policyName": "Sensor" }
//!     },
//!     "policies": {
//!       "Sensor": {
//!         "AllowConnect": { "statementDescription": "own client id", "operations": ["mqtt:connect"],
//!                           "resources": ["mqtt:clientId:${iot:Connection.Thing.ThingName}"] },
//!         "AllowPublish": { "operations": ["mqtt:publish"],
//!                           "resources": ["mqtt:topic:sensors/${iot:Connection.Thing.ThingName}/*"] }
//!       }
//!     } },
//!   "certificates": { "serverCertificateValidityDays": 7 } }
//! ```
//!
//! Of the whole configuration only `deviceGroups` matters; the component's other keys
//! (`certificateAuthority`, `certificates`, `metrics`, `performance`, `security`) are ignored
//! and any other key is an error, as is any unknown field inside `deviceGroups`, a definition or
//! a statement.
//!
//! # Semantics carried over
//!
//! Read from the component's source (aws-greengrass-client-device-auth: `GroupConfiguration`,
//! `PermissionEvaluationUtils`, `PolicyVariable`, the selection rule grammar `RuleExpression.jj`)
//! and the nucleus's `WildcardTrie`, which that component uses to match resources:
//!
//! - Statements only allow (their optional `effect` field can only be `ALLOW`); a device in
//!   several groups gets the union of their policies; no matching statement means deny.
//! - An operation matches when it is equal, `mqtt:*`, or `*`. The brokers ask only about
//!   `mqtt:connect`, `mqtt:publish` and `mqtt:subscribe`, so `*` and `mqtt:*` become those three
//!   native operations, and any other operation, which Greengrass never matches, is dropped with a
//!   warning.
//! - A resource is a glob over the whole request string (`mqtt:clientId:<id>`,
//!   `mqtt:topic:<topic>`, `mqtt:topicfilter:<filter>`): `*` matches any characters, `/` and `:`
//!   included, while `+`, `#` and `?` are literal. The importer strips the `mqtt:<type>:` prefix
//!   from the glob exactly (so `mqtt:topic*` becomes both `topic:*` and `topicfilter:*`, and
//!   `mqtt:*` becomes `*`), and every statement it writes uses match mode `glob`. A resource that
//!   can match no request (a misspelt `mqtt:clientid:`, for one) is dropped with a warning.
//! - mqward's glob mode follows MQTT in letting a leading wildcard skip topics that start with
//!   `$`; Greengrass's `*` does not, so for a topic or filter pattern that starts with `*` the
//!   importer adds the `$`-prefixed pattern too (`topic:*` comes with `topic:$*`).
//! - `?` is literal in Greengrass but a one-character wildcard in mqward's glob mode: a resource
//!   holding `?` gets a warning (the import is wider there).
//! - Greengrass substitutes `${iot:Connection.Thing.ThingName}` and rejects a configuration with
//!   any other variable (current versions also know `${iot:Connection.Thing.Attributes[..]}`,
//!   which mqward cannot express: an error). Other variables that mqward knows, such as
//!   `${iot:ClientId}`, are imported with a warning; unknown ones are errors.
//! - Greengrass authorizes only connect, publish and subscribe: message delivery and unsubscribe
//!   are never checked. Each imported policy therefore gets one more statement,
//!   [`IMPLICIT_STATEMENT_ID`], allowing `receive` and `unsubscribe` on `*`.
//! - A definition naming a policy that `policies` lacks is an error, as is a `formatVersion`
//!   other than `2021-03-05` (when absent, Greengrass assumes that version).
//! - Selection rules are checked with mqward's grammar, a superset of Greengrass's (which
//!   accepts only `thingName:` clauses with at most a trailing `*`); a rule outside Greengrass's
//!   grammar is imported with a warning.
//!
//! # Order and names
//!
//! Each definition becomes a group of the same name attached to its one policy; each statement
//! keeps its Greengrass name as its id. JSON objects are read into sorted maps (serde_json's
//! `preserve_order` feature is off), so groups come out sorted by definition name and statements
//! by statement name, whatever the order in the file: the import is deterministic. Problems are
//! all collected and returned together; a resource's location counts its index in the Greengrass
//! `resources` list.

use serde_json::{Map, Value};

use crate::error::{Error, Location, Problem};
use crate::identity::Attribute;
use crate::policy::pattern::{parse_resource, Var, VarTable};
use crate::policy::selection::{SelectionRule, ValuePattern};
use crate::policy::{
    Document, Effect, Group, Import, MatchMode, OperationName, Statement, DOCUMENT_VERSION,
};

/// The id of the statement added to every imported policy to allow `receive` and
/// `unsubscribe`, which Greengrass never restricts.
pub const IMPLICIT_STATEMENT_ID: &str = "greengrass-implicit-receive-unsubscribe";

/// The only `formatVersion` Greengrass defines.
const FORMAT_VERSION: &str = "2021-03-05";

/// Keys of the component configuration that say nothing about authorization.
const OTHER_COMPONENT_KEYS: [&str; 5] = [
    "certificateAuthority",
    "certificates",
    "metrics",
    "performance",
    "security",
];

/// The one variable Greengrass substitutes that mqward also knows.
const THING_NAME_VAR: &str = "iot:Connection.Thing.ThingName";

/// The request prefixes Greengrass matches resources against, with the native resource type
/// each becomes and whether the MQTT `$` rule applies to it in mqward.
const REQUEST_PREFIXES: [(&str, &str, bool); 3] = [
    ("mqtt:clientId:", "clientId", false),
    ("mqtt:topic:", "topic", true),
    ("mqtt:topicfilter:", "topicfilter", true),
];

/// Whether a JSON value looks like a Greengrass client device auth configuration: an object
/// with `deviceGroups` (the whole component configuration) or with `definitions` or
/// `formatVersion` (just the `deviceGroups` part). Native documents have none of these fields.
pub fn is_greengrass(value: &serde_json::Value) -> bool {
    // A native document always has `version`: a typo next to it must not switch formats.
    value.as_object().is_some_and(|o| {
        o.contains_key("deviceGroups")
            || (!o.contains_key("version")
                && ["definitions", "formatVersion"]
                    .iter()
                    .any(|k| o.contains_key(*k)))
    })
}

/// Imports a Greengrass configuration from JSON text; a syntax error is reported with its line
/// and column.
pub fn import(bytes: &[u8]) -> Result<Import, Error> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::single(
            Location::Json {
                line: e.line(),
                column: e.column(),
            },
            format!("invalid greengrass configuration: {e}"),
        )
    })?;
    import_value(&value)
}

/// Imports a parsed Greengrass configuration: the whole component configuration or just its
/// `deviceGroups` object.
pub fn import_value(value: &serde_json::Value) -> Result<Import, Error> {
    let mut importer = Importer::default();
    let document = importer.document(value);
    if importer.errors.is_empty() {
        Ok(Import {
            document,
            warnings: importer.warnings,
        })
    } else {
        Err(Error::from_problems(importer.errors))
    }
}

/// Collects problems while walking the configuration.
#[derive(Default)]
struct Importer {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Importer {
    fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(Problem::new(location, message));
    }

    fn warn(&mut self, location: Location, message: impl Into<String>) {
        self.warnings.push(Problem::new(location, message));
    }

    fn document(&mut self, value: &Value) -> Document {
        let mut document = Document {
            version: DOCUMENT_VERSION,
            description: Some("imported from a greengrass client device auth configuration".into()),
            groups: Vec::new(),
            policies: Default::default(),
        };
        let Some(root) = value.as_object() else {
            self.error(
                Location::Document,
                "a greengrass configuration must be a json object",
            );
            return document;
        };
        let whole_component = root.contains_key("deviceGroups")
            || OTHER_COMPONENT_KEYS.iter().any(|k| root.contains_key(*k));
        let device_groups = if whole_component {
            self.check_component_keys(root);
            let found = root.get("deviceGroups");
            if found.is_none() {
                self.warn(
                    Location::Document,
                    "the configuration has no `deviceGroups`: greengrass authorizes no client \
                     device, and neither does the import",
                );
            }
            found
        } else {
            Some(value)
        };
        if let Some(device_groups) = device_groups {
            self.device_groups(device_groups, &mut document);
        }
        document
    }

    fn check_component_keys(&mut self, root: &Map<String, Value>) {
        let unknown: Vec<&str> = root
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "deviceGroups" && !OTHER_COMPONENT_KEYS.contains(k))
            .collect();
        if unknown.is_empty() {
            return;
        }
        let hint = if unknown.iter().any(|k| matches!(*k, "merge" | "reset")) {
            " (from a deployment's `configurationUpdate`, pass the object under `merge`)"
        } else {
            ""
        };
        let message = format!(
            "unknown configuration {} {}: the client device auth component knows \
             `deviceGroups`, `certificateAuthority`, `certificates`, `metrics`, `performance` \
             and `security`{hint}",
            if unknown.len() == 1 { "key" } else { "keys" },
            backticked(&unknown),
        );
        self.error(Location::Document, message);
    }

    fn device_groups(&mut self, value: &Value, document: &mut Document) {
        let Some(obj) = value.as_object() else {
            self.error(Location::Document, "`deviceGroups` must be an object");
            return;
        };
        for key in obj.keys() {
            if !matches!(key.as_str(), "formatVersion" | "definitions" | "policies") {
                self.error(
                    Location::Document,
                    format!(
                        "unknown field `{key}` in `deviceGroups`: expected `formatVersion`, \
                         `definitions` or `policies`"
                    ),
                );
            }
        }
        match obj.get("formatVersion") {
            None => {}
            Some(Value::String(v)) if v == FORMAT_VERSION => {}
            Some(other) => self.error(
                Location::Document,
                format!(
                    "unsupported `formatVersion` {}: greengrass defines only `{FORMAT_VERSION}`",
                    shown(other)
                ),
            ),
        }
        let empty = Map::new();
        let policies = match obj.get("policies") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(_) => {
                self.error(Location::Document, "`policies` must be an object");
                &empty
            }
        };
        for (name, statements) in policies {
            let imported = self.policy(name, statements);
            document.policies.insert(name.clone(), imported);
        }
        match obj.get("definitions") {
            None => {}
            Some(Value::Object(definitions)) => {
                for (name, definition) in definitions {
                    if let Some(group) = self.definition(name, definition, policies) {
                        document.groups.push(group);
                    }
                }
            }
            Some(_) => self.error(Location::Document, "`definitions` must be an object"),
        }
        if document.groups.is_empty() {
            self.warn(
                Location::Document,
                "no device group is defined: greengrass authorizes no client device, and neither \
                 does the import",
            );
        }
    }

    fn definition(
        &mut self,
        name: &str,
        value: &Value,
        policies: &Map<String, Value>,
    ) -> Option<Group> {
        let here = || Location::Group(name.to_string());
        let Some(obj) = value.as_object() else {
            self.error(here(), "a device group definition must be an object");
            return None;
        };
        for key in obj.keys() {
            if !matches!(key.as_str(), "selectionRule" | "policyName") {
                self.error(
                    here(),
                    format!(
                        "unknown field `{key}` in a device group definition: expected \
                         `selectionRule` and `policyName`"
                    ),
                );
            }
        }
        let rule = match obj.get("selectionRule") {
            Some(Value::String(rule)) => match SelectionRule::parse(rule) {
                Ok(parsed) => {
                    if !within_greengrass_grammar(&parsed) {
                        self.warn(
                            here(),
                            format!(
                                "greengrass would reject the selection rule `{rule}` (it accepts \
                                 only `thingName: <name>` clauses, the name made of letters, \
                                 digits, `-`, `_` and `\\:`, with at most a trailing `*`); \
                                 mqward reads it with its wider grammar"
                            ),
                        );
                    }
                    Some(rule.clone())
                }
                Err(e) => {
                    self.error(here(), format!("invalid selection rule: {e}"));
                    None
                }
            },
            Some(other) => {
                self.error(
                    here(),
                    format!("`selectionRule` must be a string, found {}", shown(other)),
                );
                None
            }
            None => {
                self.error(here(), "missing `selectionRule`");
                None
            }
        };
        let policy = match obj.get("policyName") {
            Some(Value::String(policy)) if policies.contains_key(policy) => Some(policy.clone()),
            Some(Value::String(policy)) => {
                self.error(
                    here(),
                    format!("policy `{policy}` is not defined in `policies`"),
                );
                None
            }
            Some(other) => {
                self.error(
                    here(),
                    format!("`policyName` must be a string, found {}", shown(other)),
                );
                None
            }
            None => {
                self.error(here(), "missing `policyName`");
                None
            }
        };
        Some(Group {
            name: name.to_string(),
            description: None,
            selection_rule: rule?,
            policies: vec![policy?],
        })
    }

    fn policy(&mut self, name: &str, value: &Value) -> Vec<Statement> {
        let mut out = Vec::new();
        let Some(statements) = value.as_object() else {
            self.error(
                Location::Document,
                format!("policy `{name}` must be an object of named statements"),
            );
            return out;
        };
        for (id, statement) in statements {
            if id == IMPLICIT_STATEMENT_ID {
                self.error(
                    Location::Statement {
                        policy: name.to_string(),
                        statement: id.clone(),
                    },
                    format!("the statement name `{id}` is reserved by the importer"),
                );
                continue;
            }
            if let Some(st) = self.statement(name, id, statement) {
                out.push(st);
            }
        }
        out.push(Statement {
            id: IMPLICIT_STATEMENT_ID.into(),
            description: Some(
                "added by the greengrass import: greengrass authorizes only connect, publish and \
                 subscribe, so it never restricts message delivery (receive) or unsubscribe"
                    .into(),
            ),
            effect: Effect::Allow,
            operations: vec![OperationName::Receive, OperationName::Unsubscribe],
            resources: vec!["*".into()],
            match_mode: MatchMode::Glob,
            qos: None,
            retain: None,
        });
        out
    }

    fn statement(&mut self, policy: &str, id: &str, value: &Value) -> Option<Statement> {
        let here = || Location::Statement {
            policy: policy.to_string(),
            statement: id.to_string(),
        };
        let Some(obj) = value.as_object() else {
            self.error(here(), "a policy statement must be an object");
            return None;
        };
        let errors_before = self.errors.len();
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "statementDescription" | "operations" | "resources" | "effect"
            ) {
                self.error(
                    here(),
                    format!(
                        "unknown field `{key}` in a policy statement: expected \
                         `statementDescription`, `operations`, `resources` or `effect`"
                    ),
                );
            }
        }
        let description = match obj.get("statementDescription") {
            None => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(other) => {
                self.error(
                    here(),
                    format!(
                        "`statementDescription` must be a string, found {}",
                        shown(other)
                    ),
                );
                None
            }
        };
        match obj.get("effect") {
            None => {}
            Some(Value::String(e)) if e.eq_ignore_ascii_case("allow") => {}
            Some(other) => self.error(
                here(),
                format!(
                    "unsupported `effect` {}: greengrass statements can only be `ALLOW`",
                    shown(other)
                ),
            ),
        }
        let operations = self.strings(obj, "operations", &here);
        let resources = self.strings(obj, "resources", &here);
        let (Some(operations), Some(resources)) = (operations, resources) else {
            return None;
        };

        let mut ops = [false; 3];
        for op in operations {
            match op {
                "" => {}
                "mqtt:connect" => ops[0] = true,
                "mqtt:publish" => ops[1] = true,
                "mqtt:subscribe" => ops[2] = true,
                "*" | "mqtt:*" => ops = [true; 3],
                other => self.warn(
                    here(),
                    format!(
                        "operation `{other}` matches no request greengrass authorizes \
                         (`mqtt:connect`, `mqtt:publish`, `mqtt:subscribe`); dropped"
                    ),
                ),
            }
        }
        let operations: Vec<OperationName> = [
            OperationName::Connect,
            OperationName::Publish,
            OperationName::Subscribe,
        ]
        .into_iter()
        .zip(ops)
        .filter_map(|(op, on)| on.then_some(op))
        .collect();

        let mut native: Vec<String> = Vec::new();
        for (index, raw) in resources.into_iter().enumerate() {
            if raw.is_empty() {
                continue;
            }
            let at = || Location::Resource {
                policy: policy.to_string(),
                statement: id.to_string(),
                index,
            };
            match self.resource(raw, &at) {
                Some(converted) if converted.is_empty() => self.warn(
                    at(),
                    format!(
                        "resource `{raw}` matches no request greengrass authorizes (they look \
                         like `mqtt:clientId:<id>`, `mqtt:topic:<topic>` and \
                         `mqtt:topicfilter:<filter>`); dropped"
                    ),
                ),
                Some(converted) => {
                    for r in converted {
                        if let Err(e) =
                            parse_resource(&r, MatchMode::Glob, &mut VarTable::default())
                        {
                            self.error(at(), format!("resource `{raw}` cannot be imported: {e}"));
                        } else if !native.contains(&r) {
                            native.push(r);
                        }
                    }
                }
                None => {}
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        if operations.is_empty() || native.is_empty() {
            self.warn(
                here(),
                "the statement grants nothing (no usable operation or resource); dropped",
            );
            return None;
        }
        Some(Statement {
            id: id.to_string(),
            description,
            effect: Effect::Allow,
            operations,
            resources: native,
            match_mode: MatchMode::Glob,
            qos: None,
            retain: None,
        })
    }

    /// Reads an optional array of strings (absent means empty, as in Greengrass).
    fn strings<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        field: &str,
        here: &dyn Fn() -> Location,
    ) -> Option<Vec<&'v str>> {
        match obj.get(field) {
            None => Some(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.as_str()),
                        other => {
                            self.error(
                                here(),
                                format!("`{field}` must hold strings, found {}", shown(other)),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Some(other) => {
                self.error(
                    here(),
                    format!(
                        "`{field}` must be an array of strings, found {}",
                        shown(other)
                    ),
                );
                None
            }
        }
    }

    /// Converts one Greengrass resource into native resources (empty when it can match no
    /// request); `None` after reporting an error.
    fn resource(&mut self, raw: &str, at: &dyn Fn() -> Location) -> Option<Vec<String>> {
        let toks = match tokens(raw) {
            Ok(toks) => toks,
            Err(e) => {
                self.error(at(), e);
                return None;
            }
        };
        let mut ok = true;
        for tok in &toks {
            let Tok::Var(name) = tok else { continue };
            if *name == THING_NAME_VAR {
                continue;
            }
            if name.starts_with("iot:Connection.Thing.Attributes[") {
                self.error(
                    at(),
                    format!(
                        "the thing attribute variable `${{{name}}}` is not supported by mqward"
                    ),
                );
                ok = false;
            } else if Var::parse(name).is_some() {
                self.warn(
                    at(),
                    format!(
                        "greengrass substitutes only `${{{THING_NAME_VAR}}}` and rejects \
                         `${{{name}}}`; mqward substitutes it"
                    ),
                );
            } else {
                self.error(at(), format!("unknown variable `${{{name}}}`"));
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        if raw.contains('?') {
            self.warn(
                at(),
                format!(
                    "`?` in `{raw}` is a literal character for greengrass but matches any one \
                     character in mqward's glob mode: the import allows more here"
                ),
            );
        }
        Some(convert(&toks))
    }
}

/// Whether a parsed rule stays within Greengrass's grammar: `thingName:` clauses whose value is
/// letters, digits, `-`, `_` and escaped colons (`\:`, which Greengrass then compares with the
/// backslash, as mqward does), with at most a trailing `*`, or `*` alone.
fn within_greengrass_grammar(rule: &SelectionRule) -> bool {
    let name_ok = |v: &str| {
        !v.is_empty()
            && v.replace("\\:", "")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    };
    !rule.selects_everyone()
        && rule.alternatives.iter().flatten().all(|clause| {
            clause.attribute == Attribute::ThingName
                && match &clause.pattern {
                    ValuePattern::Any => true,
                    ValuePattern::Exact(v) | ValuePattern::Prefix(v) => name_ok(v),
                    ValuePattern::Suffix(_) | ValuePattern::Contains(_) => false,
                }
        })
}

/// A piece of a Greengrass resource glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    /// Literal text (`+`, `#` and `?` included).
    Lit(&'a str),
    /// `*`: any characters.
    Star,
    /// `${name}`, by name.
    Var(&'a str),
}

/// Splits a Greengrass resource into literals, stars (runs collapsed) and variables.
fn tokens(raw: &str) -> Result<Vec<Tok<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("${") {
            let Some((name, tail)) = after.split_once('}') else {
                return Err(format!(
                    "`${{` without a closing `}}` in `{raw}`: mqward would read a variable there"
                ));
            };
            out.push(Tok::Var(name));
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('*') {
            if out.last() != Some(&Tok::Star) {
                out.push(Tok::Star);
            }
            rest = after;
        } else {
            let end = [rest.find('*'), rest.find("${")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            // `end` is a char boundary (a `find` result or the length) and is not 0, since
            // `rest` starts with neither `*` nor `${`.
            let (lit, tail) = rest.split_at(end);
            out.push(Tok::Lit(lit));
            rest = tail;
        }
    }
    Ok(out)
}

fn render(toks: &[Tok<'_>]) -> String {
    let mut out = String::new();
    for tok in toks {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Star => out.push('*'),
            Tok::Var(name) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
        }
    }
    out
}

/// Native resources matching exactly the requests the Greengrass glob matches.
fn convert(toks: &[Tok<'_>]) -> Vec<String> {
    let per_kind: Vec<(&str, bool, Vec<Vec<Tok<'_>>>)> = REQUEST_PREFIXES
        .iter()
        .map(|(prefix, kind, dollar)| (*kind, *dollar, after_prefix(toks, prefix)))
        .collect();
    let everything = per_kind
        .iter()
        .all(|(_, _, residuals)| residuals.as_slice() == [vec![Tok::Star]]);
    if everything {
        return vec!["*".into()];
    }
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for (kind, dollar, residuals) in per_kind {
        for residual in residuals {
            push(format!("{kind}:{}", render(&residual)));
            if dollar {
                for extra in dollar_variants(&residual) {
                    push(format!("{kind}:{}", render(&extra)));
                }
            }
        }
    }
    out
}

/// For a pattern starting with `*`, the patterns that give back the `$` topics it matches in
/// Greengrass, which mqward's glob mode would skip: `$` then the pattern (the star takes at
/// least the `$`), and the rest of the pattern when it starts with a literal `$` itself (the star
/// takes nothing).
fn dollar_variants<'a>(residual: &[Tok<'a>]) -> Vec<Vec<Tok<'a>>> {
    let mut out = Vec::new();
    if let Some((Tok::Star, rest)) = residual.split_first() {
        let mut prefixed = vec![Tok::Lit("$")];
        prefixed.extend(residual.iter().cloned());
        out.push(prefixed);
        if matches!(rest.first(), Some(Tok::Lit(s)) if s.starts_with('$')) {
            out.push(rest.to_vec());
        }
    }
    out
}

/// A position in a token list: the token's index and, inside a literal, a byte offset.
type Pos = (usize, usize);

/// The globs that match exactly the strings `s` for which `prefix + s` matches `toks` (the left
/// quotient), leaving out the empty glob (Greengrass resource names are never empty).
fn after_prefix<'a>(toks: &[Tok<'a>], prefix: &str) -> Vec<Vec<Tok<'a>>> {
    let mut states = closure(toks, vec![(0, 0)]);
    for c in prefix.chars() {
        let mut next = Vec::new();
        for &(i, off) in &states {
            match toks.get(i) {
                Some(Tok::Lit(s)) => {
                    if s.get(off..).is_some_and(|rest| rest.starts_with(c)) {
                        let off = off + c.len_utf8();
                        next.push(if off >= s.len() { (i + 1, 0) } else { (i, off) });
                    }
                }
                Some(Tok::Star) => next.push((i, 0)),
                Some(Tok::Var(_)) | None => {}
            }
        }
        states = closure(toks, next);
        if states.is_empty() {
            return Vec::new();
        }
    }
    let mut out: Vec<Vec<Tok<'a>>> = Vec::new();
    for &(i, off) in &states {
        // The position right after a star that is itself live adds nothing to the star.
        if off == 0 && i > 0 && toks.get(i - 1) == Some(&Tok::Star) && states.contains(&(i - 1, 0))
        {
            continue;
        }
        let mut residual = Vec::new();
        match toks.get(i) {
            Some(Tok::Lit(s)) => {
                if let Some(rest) = s.get(off..).filter(|r| !r.is_empty()) {
                    residual.push(Tok::Lit(rest));
                }
                residual.extend(toks.iter().skip(i + 1).cloned());
            }
            Some(_) => residual.extend(toks.iter().skip(i).cloned()),
            None => {}
        }
        if !residual.is_empty() && !out.contains(&residual) {
            out.push(residual);
        }
    }
    out
}

/// Adds the positions reachable by letting a star match nothing.
fn closure(toks: &[Tok<'_>], mut states: Vec<Pos>) -> Vec<Pos> {
    let mut k = 0;
    while let Some(&(i, off)) = states.get(k) {
        if off == 0 && toks.get(i) == Some(&Tok::Star) && !states.contains(&(i + 1, 0)) {
            states.push((i + 1, 0));
        }
        k += 1;
    }
    states.sort_unstable();
    states.dedup();
    states
}

/// A JSON value as shown in a message: strings in backticks, anything else as JSON in backticks.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &str = include_str!("../../tests/data/import/greengrass-component.json");

    fn ok(json: &str) -> Import {
        match import(json.as_bytes()) {
            Ok(import) => import,
            Err(e) => panic!("import failed: {e}"),
        }
    }

    fn err(json: &str) -> Vec<Problem> {
        match import(json.as_bytes()) {
            Ok(import) => panic!("import succeeded: {:?}", import.document),
            Err(e) => e.problems().to_vec(),
        }
    }

    fn statement<'d>(doc: &'d Document, policy: &str, id: &str) -> &'d Statement {
        doc.policies[policy]
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no statement {policy}/{id}"))
    }

    /// A `deviceGroups` object with one group and one policy holding `statements`.
    fn groups_with(statements: &str) -> String {
        format!(
            r#"{{"formatVersion": "2021-03-05",
                "definitions": {{"g": {{"selectionRule": "thingName: t", "policyName": "p"}}}},
                "policies": {{"p": {statements}}}}}"#
        )
    }

    #[test]
    fn imports_whole_component_configuration() {
        let value: Value = serde_json::from_str(COMPONENT).unwrap();
        assert!(is_greengrass(&value));
        let import = ok(COMPONENT);
        let doc = &import.document;
        assert_eq!(doc.version, DOCUMENT_VERSION);

        // Groups sorted by definition name, each attached to its one policy.
        let names: Vec<&str> = doc.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Gateways", "MyDeviceGroup", "Sensors"]);
        let my = &doc.groups[1];
        assert_eq!(
            my.selection_rule,
            "thingName: MyClientDevice* OR thingName: MyOtherClientDevice"
        );
        assert_eq!(my.policies, ["MyClientDevicePolicy"]);
        assert_eq!(doc.groups[0].policies, ["GatewayPolicy"]);
        assert_eq!(doc.groups[2].policies, ["SensorPolicy"]);

        // Statements sorted by name, then the implicit one.
        let ids: Vec<&str> = doc.policies["MyClientDevicePolicy"]
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "AllowConnect",
                "AllowPublish",
                "AllowSubscribe",
                IMPLICIT_STATEMENT_ID
            ]
        );

        let connect = statement(doc, "MyClientDevicePolicy", "AllowConnect");
        assert_eq!(connect.effect, Effect::Allow);
        assert_eq!(connect.operations, [OperationName::Connect]);
        assert_eq!(connect.resources, ["clientId:MyClientDevice*"]);
        assert_eq!(connect.match_mode, MatchMode::Glob);
        assert_eq!(
            connect.description.as_deref(),
            Some("Allow client devices to connect with their own kind of client id.")
        );

        let publish = statement(doc, "MyClientDevicePolicy", "AllowPublish");
        assert_eq!(publish.operations, [OperationName::Publish]);
        assert_eq!(
            publish.resources,
            ["topic:clients/${iot:Connection.Thing.ThingName}/*"]
        );

        // `+` and `#` stay literal characters in glob mode.
        let subscribe = statement(doc, "MyClientDevicePolicy", "AllowSubscribe");
        assert_eq!(subscribe.operations, [OperationName::Subscribe]);
        assert_eq!(subscribe.resources, ["topicfilter:clients/+/status"]);
        assert_eq!(subscribe.match_mode, MatchMode::Glob);

        // `*` operations are the three Greengrass authorizes; a leading `*` also gets its `$`
        // twin.
        let all = statement(doc, "GatewayPolicy", "AllowEverything");
        assert_eq!(
            all.operations,
            [
                OperationName::Connect,
                OperationName::Publish,
                OperationName::Subscribe
            ]
        );
        assert_eq!(all.resources, ["*"]);
        let sensor = statement(doc, "SensorPolicy", "AllowTelemetry");
        assert_eq!(sensor.operations, [OperationName::Publish]);
        assert_eq!(
            sensor.resources,
            [
                "topic:sensors/${iot:Connection.Thing.ThingName}/telemetry",
                "topic:*/alerts",
                "topic:$*/alerts",
            ]
        );
        for st in doc.policies.values().flatten() {
            assert_eq!(st.effect, Effect::Allow, "{}", st.id);
            assert_eq!(st.match_mode, MatchMode::Glob, "{}", st.id);
        }
        assert!(import.warnings.is_empty(), "{:?}", import.warnings);
    }

    #[test]
    fn every_policy_gets_the_implicit_receive_unsubscribe_statement() {
        let doc = ok(COMPONENT).document;
        assert_eq!(doc.policies.len(), 3);
        for (name, statements) in &doc.policies {
            let implicit = statements
                .iter()
                .find(|s| s.id == IMPLICIT_STATEMENT_ID)
                .unwrap_or_else(|| panic!("{name} lacks the implicit statement"));
            assert_eq!(implicit.effect, Effect::Allow);
            assert_eq!(
                implicit.operations,
                [OperationName::Receive, OperationName::Unsubscribe]
            );
            assert_eq!(implicit.resources, ["*"]);
            assert!(implicit
                .description
                .as_deref()
                .is_some_and(|d| d.contains("never restricts")));
        }
    }

    #[test]
    fn imports_just_the_device_groups_part() {
        let json = groups_with(
            r#"{"S": {"operations": ["mqtt:connect"], "resources": ["mqtt:clientId:t"]}}"#,
        );
        let value: Value = serde_json::from_str(&json).unwrap();
        assert!(is_greengrass(&value));
        let doc = ok(&json).document;
        assert_eq!(doc.groups.len(), 1);
        assert_eq!(doc.groups[0].selection_rule, "thingName: t");
        assert_eq!(statement(&doc, "p", "S").resources, ["clientId:t"]);
        // Through the native entry point as well.
        assert_eq!(Document::from_json(json.as_bytes()).unwrap(), doc);
    }

    #[test]
    fn native_documents_are_not_greengrass() {
        let value: Value =
            serde_json::from_str(r#"{"version": 1, "groups": [], "policies": {}}"#).unwrap();
        assert!(!is_greengrass(&value));
        assert!(!is_greengrass(&Value::Null));
    }

    #[test]
    fn resource_prefixes_are_stripped_exactly() {
        let toks = |s| tokens(s).unwrap();
        assert_eq!(convert(&toks("mqtt:topic:a/*")), ["topic:a/*"]);
        assert_eq!(convert(&toks("mqtt:clientId:dev-*")), ["clientId:dev-*"]);
        assert_eq!(convert(&toks("mqtt:topicfilter:a/#")), ["topicfilter:a/#"]);
        assert_eq!(convert(&toks("*")), ["*"]);
        assert_eq!(convert(&toks("mqtt:*")), ["*"]);
        assert_eq!(convert(&toks("**")), ["*"]);
        // `mqtt:topic*` reaches topic filters too, exactly as in Greengrass.
        assert_eq!(
            convert(&toks("mqtt:topic*")),
            ["topic:*", "topic:$*", "topicfilter:*", "topicfilter:$*"]
        );
        // The star may also run on into the name (`mqtt:topic:x:a/b` matches).
        assert_eq!(
            convert(&toks("mqtt:*:a/*")),
            [
                "clientId:*:a/*",
                "clientId:a/*",
                "topic:*:a/*",
                "topic:$*:a/*",
                "topic:a/*",
                "topicfilter:*:a/*",
                "topicfilter:$*:a/*",
                "topicfilter:a/*"
            ]
        );
        // A star before the type can also eat into the name.
        assert_eq!(
            convert(&toks("mqtt:topic*x")),
            ["topic:*x", "topic:$*x", "topicfilter:*x", "topicfilter:$*x"]
        );
        // Nothing a request can be.
        assert!(convert(&toks("mqtt:clientid:a")).is_empty());
        assert!(convert(&toks("mqtt:topic:")).is_empty());
        assert!(convert(&toks("mqtt:queue:a")).is_empty());
        // `$` patterns: a literal `$` start needs nothing more.
        assert_eq!(
            convert(&toks("mqtt:topic:$aws/things/*")),
            ["topic:$aws/things/*"]
        );
        assert_eq!(
            convert(&toks("mqtt:topic:*$aws")),
            ["topic:*$aws", "topic:$*$aws", "topic:$aws"]
        );
        assert_eq!(
            convert(&toks("mqtt:topic:${iot:Connection.Thing.ThingName}/*")),
            ["topic:${iot:Connection.Thing.ThingName}/*"]
        );
    }

    #[test]
    fn collects_every_error() {
        let json = r#"{
          "deviceGroups": {
            "formatVersion": "2020-01-01",
            "definitions": {
              "Bad": {"selectionRule": "thingName: a*b", "policyName": "P"},
              "Missing": {"selectionRule": "thingName: x", "policyName": "Nope"},
              "Extra": {"selectionRule": "thingName: y", "policyName": "P", "priority": 1}
            },
            "policies": {
              "P": {
                "Typo": {"operations": ["mqtt:publish"], "resources": ["mqtt:topic:a"], "efect": "ALLOW"},
                "Deny": {"effect": "DENY", "operations": ["mqtt:publish"], "resources": ["mqtt:topic:a"]},
                "Var": {"operations": ["mqtt:publish"], "resources": ["mqtt:topic:${iot:Nope}", "mqtt:topic:${iot:Connection.Thing.Attributes[room]}"]}
              }
            }
          },
          "certificates": {},
          "logging": {}
        }"#;
        let problems = err(json);
        let has = |location: &Location, needle: &str| {
            problems
                .iter()
                .any(|p| &p.location == location && p.message.contains(needle))
        };
        let st = |s: &str| Location::Statement {
            policy: "P".into(),
            statement: s.into(),
        };
        let res = |s: &str, index| Location::Resource {
            policy: "P".into(),
            statement: s.into(),
            index,
        };
        assert!(has(&Location::Document, "`logging`"), "{problems:#?}");
        assert!(has(&Location::Document, "`2020-01-01`"), "{problems:#?}");
        assert!(has(&Location::Group("Bad".into()), "selection rule"));
        assert!(has(&Location::Group("Missing".into()), "`Nope`"));
        assert!(has(&Location::Group("Extra".into()), "`priority`"));
        assert!(has(&st("Typo"), "`efect`"));
        assert!(has(&st("Deny"), "`DENY`"));
        assert!(has(&res("Var", 0), "`${iot:Nope}`"));
        assert!(has(&res("Var", 1), "not supported"));
        assert_eq!(problems.len(), 9, "{problems:#?}");
    }

    #[test]
    fn missing_policy_is_an_error() {
        let json = r#"{"definitions": {"g": {"selectionRule": "thingName: t", "policyName": "p"}},
                       "policies": {}}"#;
        let problems = err(json);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location, Location::Group("g".into()));
        assert!(
            problems[0].message.contains("`p`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn bad_format_version_is_an_error() {
        let problems = err(r#"{"formatVersion": "2021-03-06", "definitions": {}}"#);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("`2021-03-06`"));
        // Absent means the one version there is.
        assert!(import(br#"{"definitions": {}, "policies": {}}"#).is_ok());
    }

    #[test]
    fn json_syntax_errors_have_positions() {
        let problems = err("{\"deviceGroups\": {\n  \"definitions\": {,}\n}}");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].location,
            Location::Json {
                line: 2,
                column: 19
            }
        );
    }

    #[test]
    fn question_mark_warns() {
        let json = groups_with(
            r#"{"S": {"operations": ["mqtt:publish"], "resources": ["mqtt:topic:a", "mqtt:topic:what?"]}}"#,
        );
        let import = ok(&json);
        assert_eq!(import.warnings.len(), 1, "{:?}", import.warnings);
        assert_eq!(
            import.warnings[0].location,
            Location::Resource {
                policy: "p".into(),
                statement: "S".into(),
                index: 1
            }
        );
        assert!(import.warnings[0].message.contains("`?`"));
        assert_eq!(
            statement(&import.document, "p", "S").resources,
            ["topic:a", "topic:what?"]
        );
    }

    #[test]
    fn inexact_inputs_warn_and_drop() {
        let json = groups_with(
            r#"{"Odd": {"operations": ["mqtt:publish", "mqtt:Receive"],
                        "resources": ["mqtt:clientid:x", "mqtt:topic:${iot:ClientId}/x"]},
                "Nothing": {"operations": ["iot:Publish"], "resources": ["*"]}}"#,
        );
        let import = ok(&json);
        let odd = statement(&import.document, "p", "Odd");
        assert_eq!(odd.operations, [OperationName::Publish]);
        assert_eq!(odd.resources, ["topic:${iot:ClientId}/x"]);
        assert!(!import.document.policies["p"]
            .iter()
            .any(|s| s.id == "Nothing"));
        let at = |st: &str| Location::Statement {
            policy: "p".into(),
            statement: st.into(),
        };
        let res = |index| Location::Resource {
            policy: "p".into(),
            statement: "Odd".into(),
            index,
        };
        let locations: Vec<&Location> = import.warnings.iter().map(|w| &w.location).collect();
        assert_eq!(
            locations,
            [&at("Nothing"), &at("Nothing"), &at("Odd"), &res(0), &res(1)],
            "{:#?}",
            import.warnings
        );
    }

    #[test]
    fn rules_outside_greengrass_grammar_warn() {
        let json = r#"{"definitions": {
                "a": {"selectionRule": "thingName: *-01", "policyName": "p"},
                "b": {"selectionRule": "username: admin", "policyName": "p"},
                "c": {"selectionRule": "thingName: x AND thingName: y* OR thingName: *", "policyName": "p"},
                "d": {"selectionRule": "thingName: plant\\:line-1", "policyName": "p"},
                "e": {"selectionRule": "thingName: plant:line-1", "policyName": "p"}},
              "policies": {"p": {}}}"#;
        let import = ok(json);
        let warned: Vec<&Location> = import.warnings.iter().map(|w| &w.location).collect();
        assert_eq!(
            warned,
            [
                &Location::Group("a".into()),
                &Location::Group("b".into()),
                &Location::Group("e".into())
            ]
        );
        // An empty policy still carries the implicit statement.
        assert_eq!(import.document.policies["p"].len(), 1);
    }

    #[test]
    fn component_without_device_groups_authorizes_nothing() {
        let import = ok(r#"{"certificates": {"serverCertificateValidityDays": 7}}"#);
        assert!(import.document.groups.is_empty());
        assert!(import.document.policies.is_empty());
        assert!(!import.warnings.is_empty());
        let problems = err(r#"{"merge": {"deviceGroups": {}}, "security": {}}"#);
        assert!(problems[0].message.contains("under `merge`"));
    }
}
