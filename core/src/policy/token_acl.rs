//! Statements a token carries in a claim (EMQX's `acl`), turned into a small policy document
//! that a session consults before the operator's policy.
//!
//! Three shapes are read:
//!
//! - EMQX's list form (5.5 and later): `[{"permission": "allow", "action": "publish",
//!   "topic": "t/${clientid}", "qos": [0, 1], "retain": false}]`. A request no rule matches falls
//!   through to the operator's policy.
//! - EMQX's older object form: `{"pub": [...], "sub": [...], "all": [...]}`, allow lists. A request
//!   none of them matches is denied: the lists are the whole grant.
//! - A list of native statements (`effect`, `operations`, `resources`, ...), falling through like
//!   the list form.
//!
//! Topics may use `${clientid}`, `${username}` (also EMQX 4's `%c` and `%u`) and
//! `${cert_common_name}`; `eq <topic>` matches the topic literally. A subscribe grant also grants
//! delivery (`receive`) on the same topics, as Mosquitto's `read` does. Within the token's rules a
//! deny overrides an allow, where EMQX takes the first rule that matches: a token can only be
//! stricter here, never looser.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::Rejection;
use crate::policy::{Document, Effect, Group, MatchMode, OperationName, Statement};

/// The most rules one token may carry (its size is capped too).
pub const MAX_TOKEN_RULES: usize = 64;

/// The policy a token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAcl {
    /// The rules as a document with one group selecting every identity.
    pub document: Document,
    /// Whether a request no rule matches goes on to the operator's policy (true) or is denied.
    pub fallthrough: bool,
}

fn bad(message: impl Into<String>) -> Rejection {
    Rejection::Malformed(format!("the token's policy claim: {}", message.into()))
}

/// Reads a token's policy claim.
pub fn from_claim(value: &Value) -> Result<TokenAcl, Rejection> {
    let (statements, fallthrough) = match value {
        Value::Array(rules) => {
            if rules.len() > MAX_TOKEN_RULES {
                return Err(bad(format!("more than {MAX_TOKEN_RULES} rules")));
            }
            let mut out = Vec::new();
            for (i, rule) in rules.iter().enumerate() {
                let obj = rule
                    .as_object()
                    .ok_or_else(|| bad(format!("rule {i} is not an object")))?;
                if obj.contains_key("effect") {
                    let mut st: Statement = serde_json::from_value(rule.clone())
                        .map_err(|e| bad(format!("rule {i}: {e}")))?;
                    st.id = format!("token-{i}");
                    out.push(st);
                } else {
                    out.extend(list_rule(i, rule)?);
                }
            }
            (out, true)
        }
        Value::Object(lists) => (object_rules(lists)?, false),
        _ => return Err(bad("neither a list of rules nor an object of topic lists")),
    };
    let document = Document {
        version: crate::policy::DOCUMENT_VERSION,
        description: Some("statements carried by the client's token".to_owned()),
        groups: vec![Group {
            name: "token".to_owned(),
            description: None,
            selection_rule: "*".to_owned(),
            policies: vec!["token".to_owned()],
        }],
        policies: BTreeMap::from([("token".to_owned(), statements)]),
    };
    Ok(TokenAcl {
        document,
        fallthrough,
    })
}

/// A topic as EMQX writes it: the mode and the pattern in mqward's spelling.
fn topic(i: usize, text: &str) -> Result<(MatchMode, String), Rejection> {
    let (mode, text) = match text.strip_prefix("eq ") {
        Some(rest) => (MatchMode::Exact, rest),
        None => (MatchMode::Mqtt, text),
    };
    if text.is_empty() {
        return Err(bad(format!("rule {i} has an empty topic")));
    }
    let text = text
        .replace("%c", "${clientid}")
        .replace("%u", "${username}")
        .replace("${cert_common_name}", "${cert.subject.cn}");
    Ok((mode, text))
}

fn statement(
    id: String,
    effect: Effect,
    operations: Vec<OperationName>,
    resources: Vec<String>,
    mode: MatchMode,
) -> Statement {
    Statement {
        id,
        description: None,
        effect,
        operations,
        resources,
        match_mode: mode,
        qos: None,
        retain: None,
    }
}

/// Statements for one rule of EMQX's list form.
fn list_rule(i: usize, rule: &Value) -> Result<Vec<Statement>, Rejection> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        permission: Effect,
        action: String,
        topic: String,
        #[serde(default)]
        qos: Option<Vec<u8>>,
        #[serde(default)]
        retain: Option<bool>,
    }
    let rule: Rule =
        serde_json::from_value(rule.clone()).map_err(|e| bad(format!("rule {i}: {e}")))?;
    let (publish, subscribe) = match rule.action.as_str() {
        "publish" => (true, false),
        "subscribe" => (false, true),
        "all" => (true, true),
        other => {
            return Err(bad(format!(
                "rule {i} has action `{other}`: expected publish, subscribe or all"
            )))
        }
    };
    let (mode, pattern) = topic(i, &rule.topic)?;
    let mut out = Vec::new();
    if publish {
        let mut st = statement(
            format!("token-{i}-publish"),
            rule.permission,
            vec![OperationName::Publish],
            vec![format!("topic:{pattern}")],
            mode,
        );
        st.qos.clone_from(&rule.qos);
        st.retain = rule.retain;
        out.push(st);
    }
    if subscribe {
        let mut st = statement(
            format!("token-{i}-subscribe"),
            rule.permission,
            vec![OperationName::Subscribe],
            vec![format!("topicfilter:{pattern}")],
            mode,
        );
        st.qos.clone_from(&rule.qos);
        out.push(st);
        out.push(statement(
            format!("token-{i}-receive"),
            rule.permission,
            vec![OperationName::Receive],
            vec![format!("topic:{pattern}")],
            mode,
        ));
    }
    Ok(out)
}

/// Statements for EMQX's object form: allow lists under `pub`, `sub` and `all`.
fn object_rules(lists: &serde_json::Map<String, Value>) -> Result<Vec<Statement>, Rejection> {
    let mut out = Vec::new();
    let mut count = 0;
    for (key, topics) in lists {
        let action = match key.as_str() {
            "pub" => "publish",
            "sub" => "subscribe",
            "all" => "all",
            other => {
                return Err(bad(format!(
                    "unknown list `{other}`: expected pub, sub or all"
                )))
            }
        };
        let topics = topics
            .as_array()
            .ok_or_else(|| bad(format!("`{key}` is not a list of topics")))?;
        for t in topics {
            let t = t
                .as_str()
                .ok_or_else(|| bad(format!("`{key}` holds something other than a topic")))?;
            count += 1;
            if count > MAX_TOKEN_RULES {
                return Err(bad(format!("more than {MAX_TOKEN_RULES} rules")));
            }
            let rule = serde_json::json!({"permission": "allow", "action": action, "topic": t});
            out.extend(list_rule(count - 1, &rule)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statements(acl: &TokenAcl) -> &[Statement] {
        &acl.document.policies["token"]
    }

    #[test]
    fn the_list_form_falls_through_and_keeps_conditions() {
        let acl = from_claim(&json!([
            {"permission": "allow", "action": "publish", "topic": "t/%c", "qos": [1], "retain": false},
            {"permission": "deny", "action": "subscribe", "topic": "eq t/#"}
        ]))
        .unwrap();
        assert!(acl.fallthrough);
        let s = statements(&acl);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].resources, ["topic:t/${clientid}"]);
        assert_eq!(s[0].qos, Some(vec![1]));
        assert_eq!(s[0].retain, Some(false));
        assert_eq!(s[1].operations, [OperationName::Subscribe]);
        assert_eq!(s[1].match_mode, MatchMode::Exact);
        assert_eq!(s[1].resources, ["topicfilter:t/#"]);
        assert_eq!(s[2].operations, [OperationName::Receive]);
        assert_eq!(s[2].effect, Effect::Deny);
    }

    #[test]
    fn the_object_form_is_the_whole_grant() {
        let acl = from_claim(&json!({"pub": ["a/${username}"], "all": ["b/#"]})).unwrap();
        assert!(!acl.fallthrough);
        let s = statements(&acl);
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|s| s.effect == Effect::Allow));
    }

    #[test]
    fn native_statements_are_read_as_they_are() {
        let acl = from_claim(&json!([{
            "id": "x", "effect": "deny", "operations": ["publish"], "resources": ["topic:a/#"]
        }]))
        .unwrap();
        assert_eq!(statements(&acl)[0].id, "token-0");
        assert!(acl.fallthrough);
    }

    #[test]
    fn bad_claims_are_rejected() {
        for bad in [
            json!("pub"),
            json!(7),
            json!([1]),
            json!([{"permission": "allow", "action": "connect", "topic": "a"}]),
            json!([{"permission": "maybe", "action": "publish", "topic": "a"}]),
            json!([{"permission": "allow", "action": "publish", "topic": ""}]),
            json!([{"permission": "allow", "action": "publish", "topic": "a", "extra": 1}]),
            json!({"pub": "a"}),
            json!({"pub": [1]}),
            json!({"deny": ["a"]}),
            Value::Array(vec![
                json!({"permission": "allow", "action": "publish", "topic": "a"});
                65
            ]),
        ] {
            let e = from_claim(&bad).unwrap_err();
            assert!(e.to_string().contains("policy claim"), "{bad}: {e}");
        }
    }
}
