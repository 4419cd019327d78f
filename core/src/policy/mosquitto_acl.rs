//! Importer for Mosquitto's `acl_file` format.
//!
//! ```text
//! # anonymous clients (no username) may read the public tree
//! topic read public/#
//!
//! user alice
//! topic readwrite home/alice/#
//! topic deny home/alice/secret
//!
//! pattern write devices/%c/status
//! pattern read users/%u/inbox/#
//! ```
//!
//! # Mosquitto 2.0's semantics, as read in its source
//!
//! From `src/security_default.c` of the 2.0 series (and the `acl_file` plugin of the
//! development branch, which behaves the same), plus `lib/util_topic.c`:
//!
//! - Lines are read with trailing white space removed. A line whose first character is `#` is a
//!   comment; a line that is empty is skipped. Words are separated by spaces only. The first word
//!   must be `topic`, `pattern` or `user`: any other line (a `#` after leading spaces included)
//!   makes Mosquitto 2.0 refuse the whole file. (1.x silently ignored unknown lines.)
//! - `user <name>`: the rest of the line, blanks trimmed, names the user whose `topic` lines
//!   follow. Sections with the same name add up. `topic` lines before the first `user` line
//!   belong to clients that connected without a username.
//! - `topic [read|write|readwrite|deny] <topic>`: with a single word after `topic`, that word is
//!   the topic and the access is `readwrite` (so `topic read` names the topic `read`); with more,
//!   the second word is the access and the rest of the line, blanks trimmed, is the topic (spaces
//!   allowed). Any other access word, or an invalid topic filter, makes Mosquitto refuse the file.
//!   Mosquitto substitutes nothing in `topic` lines.
//! - `pattern ...`: the same shape; applies to every client, whatever section it appears in.
//!   `%c` becomes the client id and `%u` the username; a pattern with `%u` is skipped for a
//!   client without a username.
//! - Checking: `deny` lines are kept before the others and a matching one refuses any access,
//!   read or write. A client's own `topic` lines (its user section, or the anonymous section) are
//!   checked first, then the patterns; the first matching line with the access wanted decides.
//!   A user `topic` line that allows therefore wins over a `pattern ... deny`.
//! - Only publishing (write) and message delivery (read, checked for every message sent to a
//!   subscriber, retained ones included) are checked. SUBSCRIBE and UNSUBSCRIBE always pass the
//!   `acl_file` check ("FIXME - implement ACL subscription strings"), and connecting is not an
//!   `acl_file` matter at all.
//! - Before the patterns, a client whose client id or username contains `+` or `#` is refused
//!   (Mosquitto 1.x refused `/` as well; 2.0 substitutes such values, `/` included).
//! - A topic starting with `$` is matched only by rules starting with `$`.
//! - An `acl_file` with no rules denies all reads and writes in 2.0; 1.x before 1.5.3 treated it
//!   as no ACL at all and allowed everything (CVE-2018-12550).
//!
//! # Mapping
//!
//! | acl_file | native |
//! | --- | --- |
//! | `read` | allow `receive` (message delivery) |
//! | `write` | allow `publish` |
//! | `readwrite` | allow `publish` and `receive` |
//! | `deny` | deny `publish` and `receive` |
//! | `%c`, `%u` | `${clientid}`, `${username}` |
//!
//! Every statement uses match mode `mqtt` and is named `line-<n>` after its source line. Each
//! user section becomes a group `user:<name>` selecting `username: <name>` (a name the selection
//! grammar cannot state exactly, with white space or a leading or trailing `*`, skips its section
//! with a warning); the anonymous section becomes the group `anonymous` selecting
//! `kind: anonymous`; the group `everyone` (rule `*`) gets the policy `patterns` and the policy
//! `unrestricted`, which allows `connect`, `subscribe` and `unsubscribe` on `*` because
//! `acl_file` restricts none of them: as in Mosquitto, a client may subscribe to any filter and
//! each delivery is then checked by the `receive` statements.
//!
//! An unknown first word, a bad access word, an empty topic and a missing username are errors
//! (Mosquitto 2.0 would not start). Everything else that cannot be carried over exactly is a
//! warning on its line: invalid topic filters (dropped; no topic could match them, and Mosquitto
//! 2.0 would refuse the file), `%c`/`%u` in `topic` lines (kept literal, as Mosquitto does and as
//! mqward reads them anyway), topics holding `${` (dropped: mqward would read a variable), and the
//! behavioural differences: a
//! `pattern ... deny` overrides user `topic` lines, a `deny` line starting with a wildcard also
//! covers `$` topics, the anonymous section selects `kind: anonymous` identities rather than every
//! client without a username, and a pattern never matches for a client id or username holding
//! `/`, `+`, `#`, `*` or `?`. A file without any rule imports to a document without any allow
//! statement, which denies everything, with a warning about CVE-2018-12550.

use crate::error::{Error, Location, Problem};
use crate::identity::Attribute;
use crate::policy::pattern::{parse_pattern, VarTable};
use crate::policy::selection::{Clause, SelectionRule, ValuePattern};
use crate::policy::{
    Document, Effect, Group, Import, MatchMode, OperationName, Statement, DOCUMENT_VERSION,
};

/// Name of the group (and policy) for clients without a username.
const ANONYMOUS: &str = "anonymous";
/// Name of the group selecting every identity.
const EVERYONE: &str = "everyone";
/// Name of the policy holding every `pattern` line.
const PATTERNS: &str = "patterns";
/// Name of the policy allowing what `acl_file` does not restrict.
const UNRESTRICTED: &str = "unrestricted";

/// Imports the text of a Mosquitto `acl_file`.
pub fn import(text: &str) -> Result<Import, Error> {
    let mut importer = Importer::default();
    for (index, raw) in text.lines().enumerate() {
        importer.line(index + 1, raw);
    }
    if importer.errors.is_empty() {
        Ok(importer.finish())
    } else {
        Err(Error::from_problems(importer.errors))
    }
}

/// The access word of a `topic` or `pattern` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Access {
    fn parse(word: &str) -> Option<Access> {
        Some(match word {
            "read" => Access::Read,
            "write" => Access::Write,
            "readwrite" => Access::ReadWrite,
            "deny" => Access::Deny,
            _ => return None,
        })
    }
}

/// Where `topic` lines currently go.
enum Section {
    /// Before the first `user` line.
    Anonymous,
    /// After `user <name>`, by index into `Importer::users`.
    User(usize),
    /// After a `user` line whose name cannot be selected: its lines are dropped.
    Skipped,
}

/// The statements of one user, gathered from all of its sections.
struct UserRules {
    name: String,
    statements: Vec<Statement>,
}

/// Line-by-line state.
struct Importer {
    section: Section,
    anonymous: Vec<Statement>,
    users: Vec<UserRules>,
    patterns: Vec<Statement>,
    /// Whether some imported `topic` line allows something, for the pattern-deny warning.
    topic_allows: bool,
    /// Line numbers of the `pattern ... deny` lines.
    pattern_denies: Vec<usize>,
    /// How many `topic` and `pattern` lines were read, imported or not.
    rules: usize,
    warned_anonymous: bool,
    warned_substitution: bool,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Default for Importer {
    fn default() -> Importer {
        Importer {
            section: Section::Anonymous,
            anonymous: Vec::new(),
            users: Vec::new(),
            patterns: Vec::new(),
            topic_allows: false,
            pattern_denies: Vec::new(),
            rules: 0,
            warned_anonymous: false,
            warned_substitution: false,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Splits off the first space-separated word (leading spaces skipped), as `strtok` with `" "`
/// does; the rest starts after the one space that ended the word.
fn word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(' ');
    if text.is_empty() {
        return None;
    }
    Some(match text.split_once(' ') {
        Some((w, rest)) => (w, rest),
        None => (text, ""),
    })
}

/// Mosquitto's blank trimming: spaces and tabs at both ends.
fn trim_blanks(text: &str) -> &str {
    text.trim_matches(|c| c == ' ' || c == '\t')
}

impl Importer {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors
            .push(Problem::new(Location::Line(line), message));
    }

    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings
            .push(Problem::new(Location::Line(line), message));
    }

    fn line(&mut self, n: usize, raw: &str) {
        let line = raw.trim_end_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
        if line.starts_with('#') {
            return;
        }
        let Some((first, rest)) = word(line) else {
            return;
        };
        match first {
            "topic" | "pattern" => self.rule(n, first == "pattern", line, rest),
            "user" => self.user(n, rest),
            comment if comment.starts_with('#') => self.warn(
                n,
                "mosquitto 2.0 treats `#` as a comment only in the first column and refuses to \
                 load a file with this line; read as a comment",
            ),
            other => {
                let hint = if other.contains('\t') {
                    " (mosquitto separates words with spaces, not tabs)"
                } else {
                    ""
                };
                self.error(
                    n,
                    format!(
                        "unknown directive `{other}`: an acl_file line starts with `user`, \
                         `topic` or `pattern`, and mosquitto 2.0 refuses any other{hint}"
                    ),
                );
            }
        }
    }

    fn user(&mut self, n: usize, rest: &str) {
        let name = trim_blanks(rest);
        if name.is_empty() {
            self.error(n, "missing username after `user`");
            return;
        }
        if !selectable(name) {
            self.warn(
                n,
                format!(
                    "the username `{name}` cannot be stated exactly in a selection rule (white \
                     space, a leading or trailing `*`, or a lone `AND`/`OR`); the `topic` lines \
                     of this section are dropped"
                ),
            );
            self.section = Section::Skipped;
            return;
        }
        let index = match self.users.iter().position(|u| u.name == name) {
            Some(i) => i,
            None => {
                self.users.push(UserRules {
                    name: name.to_string(),
                    statements: Vec::new(),
                });
                self.users.len() - 1
            }
        };
        self.section = Section::User(index);
    }

    fn rule(&mut self, n: usize, is_pattern: bool, line: &str, rest: &str) {
        let Some((first, after)) = word(rest) else {
            self.error(n, "empty topic");
            return;
        };
        let after = trim_blanks(after);
        let (access, topic) = if after.is_empty() {
            if Access::parse(first).is_some() {
                self.warn(
                    n,
                    format!(
                        "`{first}` alone is read as the topic `{first}` with readwrite access, \
                         as mosquitto does; write `topic readwrite {first}` if that is meant"
                    ),
                );
            }
            (Access::ReadWrite, first)
        } else {
            let Some(access) = Access::parse(first) else {
                self.error(
                    n,
                    format!(
                        "invalid access `{first}`: expected `read`, `write`, `readwrite` or \
                         `deny` (a topic with spaces needs the access first, as in \
                         `topic readwrite {first} {after}`)"
                    ),
                );
                return;
            };
            (access, after)
        };
        self.rules += 1;
        if matches!(self.section, Section::Skipped) && !is_pattern {
            return;
        }
        if topic.contains("${") {
            self.warn(
                n,
                format!(
                    "topic `{topic}` holds `${{`, which mqward would read as a variable; dropped"
                ),
            );
            return;
        }
        let body = if is_pattern {
            substitute(topic)
        } else {
            if topic.contains("%c") || topic.contains("%u") {
                self.warn(
                    n,
                    "mosquitto substitutes `%c` and `%u` only in `pattern` lines: kept literal \
                     (mqward reads `%c` and `%u` literally too; write a `pattern` line to \
                     substitute)",
                );
            }
            topic.to_string()
        };
        if let Err(e) = parse_pattern(&body, MatchMode::Mqtt, &mut VarTable::default()) {
            self.warn(
                n,
                format!(
                    "invalid topic filter `{topic}` ({e}); dropped: no topic can match it, and \
                     mosquitto 2.0 refuses to load a file holding it"
                ),
            );
            return;
        }

        // Behavioural differences.
        if access == Access::Deny {
            if body.starts_with('+') || body.starts_with('#') {
                self.warn(
                    n,
                    "in mosquitto a rule starting with a wildcard never matches topics starting \
                     with `$`; in mqward a deny also covers them",
                );
            }
            if is_pattern {
                self.pattern_denies.push(n);
            }
        } else if !is_pattern {
            self.topic_allows = true;
        }
        if is_pattern && !self.warned_substitution && body.contains("${") {
            self.warned_substitution = true;
            self.warn(
                n,
                "mosquitto 2.0 substitutes any client id or username here (refusing all pattern \
                 access to one holding `+` or `#`, but letting `/` span levels); mqward never \
                 matches a pattern for a value holding `/`, `+`, `#`, `*` or `?`, or starting with `$`",
            );
        }

        let statement = statement(n, line, access, &body);
        match self.section {
            _ if is_pattern => self.patterns.push(statement),
            Section::Anonymous => {
                if !self.warned_anonymous {
                    self.warned_anonymous = true;
                    self.warn(
                        n,
                        "mosquitto applies `topic` lines before the first `user` line to every \
                         client without a username; the import gives them to identities of \
                         kind `anonymous` only",
                    );
                }
                self.anonymous.push(statement);
            }
            Section::User(i) => {
                if let Some(user) = self.users.get_mut(i) {
                    user.statements.push(statement);
                }
            }
            Section::Skipped => {}
        }
    }

    fn finish(mut self) -> Import {
        let mut document = Document {
            version: DOCUMENT_VERSION,
            description: Some("imported from a mosquitto acl_file".into()),
            groups: Vec::new(),
            policies: Default::default(),
        };
        if self.rules == 0 {
            self.warnings.push(Problem::new(
                Location::Document,
                "the acl_file has no `topic` or `pattern` line: the import allows nothing, not \
                 even connecting (mosquitto 2.0 denies every publish and delivery; mosquitto 1.x \
                 before 1.5.3 treated such a file as no ACL at all and allowed everything, \
                 CVE-2018-12550)",
            ));
            return Import {
                document,
                warnings: self.warnings,
            };
        }
        if self.topic_allows {
            for n in std::mem::take(&mut self.pattern_denies) {
                self.warn(
                    n,
                    "mosquitto checks a client's own `topic` lines before patterns, so a `topic` \
                     line allowing the same access wins over this `pattern ... deny`; in mqward \
                     the deny wins for every client",
                );
            }
        }
        if !self.anonymous.is_empty() {
            document.groups.push(Group {
                name: ANONYMOUS.into(),
                description: Some(
                    "mosquitto acl_file: `topic` lines before the first `user` line".into(),
                ),
                selection_rule: "kind: anonymous".into(),
                policies: vec![ANONYMOUS.into()],
            });
            document.policies.insert(ANONYMOUS.into(), self.anonymous);
        }
        for user in self.users {
            if user.statements.is_empty() {
                continue;
            }
            let name = format!("user:{}", user.name);
            document.groups.push(Group {
                name: name.clone(),
                description: Some(format!("mosquitto acl_file: `user {}`", user.name)),
                selection_rule: format!("username: {}", user.name),
                policies: vec![name.clone()],
            });
            document.policies.insert(name, user.statements);
        }
        let mut everyone = vec![UNRESTRICTED.to_string()];
        document.policies.insert(
            UNRESTRICTED.into(),
            vec![
                unrestricted(
                    "connect",
                    OperationName::Connect,
                    "mosquitto's acl_file does not restrict connecting",
                ),
                unrestricted(
                    "subscribe",
                    OperationName::Subscribe,
                    "mosquitto's acl_file does not restrict subscribing: every delivery is \
                     checked by the `receive` statements instead",
                ),
                unrestricted(
                    "unsubscribe",
                    OperationName::Unsubscribe,
                    "mosquitto's acl_file does not restrict unsubscribing",
                ),
            ],
        );
        if !self.patterns.is_empty() {
            everyone.push(PATTERNS.into());
            document.policies.insert(PATTERNS.into(), self.patterns);
        }
        document.groups.push(Group {
            name: EVERYONE.into(),
            description: Some(
                "every client: what acl_file leaves open, and its `pattern` lines".into(),
            ),
            selection_rule: "*".into(),
            policies: everyone,
        });
        Import {
            document,
            warnings: self.warnings,
        }
    }
}

/// Whether `username: <name>` selects exactly the identities with this username.
fn selectable(name: &str) -> bool {
    let Ok(rule) = SelectionRule::parse(&format!("username: {name}")) else {
        return false;
    };
    let expected = Clause {
        attribute: Attribute::Username,
        pattern: ValuePattern::Exact(name.to_string()),
    };
    rule.alternatives == [vec![expected]]
}

/// Replaces `%c` and `%u`, left to right, with the native variables.
fn substitute(topic: &str) -> String {
    let mut out = String::with_capacity(topic.len() + 16);
    let mut chars = topic.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.peek() {
                Some('c') => {
                    chars.next();
                    out.push_str("${clientid}");
                    continue;
                }
                Some('u') => {
                    chars.next();
                    out.push_str("${username}");
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// The statement for one `topic` or `pattern` line.
fn statement(n: usize, line: &str, access: Access, body: &str) -> Statement {
    use OperationName::{Publish, Receive};
    let (effect, operations) = match access {
        Access::Read => (Effect::Allow, vec![Receive]),
        Access::Write => (Effect::Allow, vec![Publish]),
        Access::ReadWrite => (Effect::Allow, vec![Publish, Receive]),
        Access::Deny => (Effect::Deny, vec![Publish, Receive]),
    };
    let resources = vec![format!("topic:{body}")];
    Statement {
        id: format!("line-{n}"),
        description: Some(format!("mosquitto acl_file line {n}: `{}`", line.trim())),
        effect,
        operations,
        resources,
        match_mode: MatchMode::Mqtt,
        qos: None,
        retain: None,
    }
}

fn unrestricted(id: &str, operation: OperationName, description: &str) -> Statement {
    Statement {
        id: id.into(),
        description: Some(description.into()),
        effect: Effect::Allow,
        operations: vec![operation],
        resources: vec!["*".into()],
        match_mode: MatchMode::Mqtt,
        qos: None,
        retain: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACL: &str = include_str!("../../tests/data/import/mosquitto.acl");

    fn ok(text: &str) -> Import {
        match import(text) {
            Ok(import) => import,
            Err(e) => panic!("import failed: {e}"),
        }
    }

    fn statement<'d>(doc: &'d Document, policy: &str, id: &str) -> &'d Statement {
        doc.policies[policy]
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no statement {policy}/{id}"))
    }

    fn group<'d>(doc: &'d Document, name: &str) -> &'d Group {
        doc.groups
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    }

    fn warned_lines(import: &Import) -> Vec<usize> {
        import
            .warnings
            .iter()
            .filter_map(|w| match w.location {
                Location::Line(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    fn warning_at<'i>(import: &'i Import, line: usize, needle: &str) -> &'i Problem {
        import
            .warnings
            .iter()
            .find(|w| w.location == Location::Line(line) && w.message.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no warning on line {line} about {needle:?}: {:#?}",
                    import.warnings
                )
            })
    }

    use OperationName::{Connect, Publish, Receive, Subscribe, Unsubscribe};

    #[test]
    fn imports_a_realistic_file() {
        let import = ok(ACL);
        let doc = &import.document;
        let names: Vec<&str> = doc.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["anonymous", "user:alice", "user:svc-backend", "everyone"]
        );
        assert_eq!(group(doc, "anonymous").selection_rule, "kind: anonymous");
        assert_eq!(group(doc, "user:alice").selection_rule, "username: alice");
        assert_eq!(group(doc, "user:alice").policies, ["user:alice"]);
        assert_eq!(group(doc, "everyone").selection_rule, "*");
        assert_eq!(
            group(doc, "everyone").policies,
            ["unrestricted", "patterns"]
        );
        for st in doc.policies.values().flatten() {
            assert_eq!(st.match_mode, MatchMode::Mqtt, "{}", st.id);
        }

        // Anonymous section: default access is readwrite.
        let anon: Vec<&str> = doc.policies["anonymous"]
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(anon, ["line-4", "line-5"]);
        let public = statement(doc, "anonymous", "line-4");
        assert_eq!(public.effect, Effect::Allow);
        assert_eq!(public.operations, [Receive]);
        assert_eq!(public.resources, ["topic:public/#"]);
        let lobby = statement(doc, "anonymous", "line-5");
        assert_eq!(lobby.operations, [Publish, Receive]);
        assert_eq!(lobby.resources, ["topic:lobby"]);

        // User sections, the second `user alice` section adding to the first.
        let alice: Vec<&str> = doc.policies["user:alice"]
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(
            alice,
            ["line-9", "line-10", "line-11", "line-12", "line-24"]
        );
        let rw = statement(doc, "user:alice", "line-9");
        assert_eq!(rw.operations, [Publish, Receive]);
        assert_eq!(rw.resources, ["topic:home/alice/#"]);
        let deny = statement(doc, "user:alice", "line-10");
        assert_eq!(deny.effect, Effect::Deny);
        assert_eq!(deny.operations, [Publish, Receive]);
        assert_eq!(deny.resources, ["topic:home/alice/secret"]);
        // The rest of the line is the topic, spaces included.
        let spaced = statement(doc, "user:alice", "line-11");
        assert_eq!(spaced.operations, [Receive]);
        assert_eq!(spaced.resources, ["topic:living room/lamp"]);
        let write = statement(doc, "user:svc-backend", "line-15");
        assert_eq!(write.operations, [Publish]);
        assert_eq!(write.resources, ["topic:commands/+/set"]);
        assert!(write
            .description
            .as_deref()
            .is_some_and(|d| d.contains("topic write commands/+/set")));

        // Patterns apply to everyone, wherever they appear.
        let patterns: Vec<&str> = doc.policies["patterns"]
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(patterns, ["line-16", "line-19", "line-20", "line-21"]);
        assert_eq!(
            statement(doc, "patterns", "line-16").resources,
            ["topic:devices/${clientid}/status"]
        );
        assert_eq!(
            statement(doc, "patterns", "line-19").resources,
            ["topic:users/${username}/inbox/#"]
        );
        let mixed = statement(doc, "patterns", "line-20");
        assert_eq!(mixed.resources, ["topic:acct/${username}/${clientid}/100%"]);
        let pattern_deny = statement(doc, "patterns", "line-21");
        assert_eq!(pattern_deny.effect, Effect::Deny);

        // What acl_file leaves open.
        let unrestricted = &doc.policies["unrestricted"];
        assert_eq!(unrestricted.len(), 3);
        assert_eq!(unrestricted[0].operations, [Connect]);
        assert_eq!(unrestricted[1].operations, [Subscribe]);
        assert_eq!(unrestricted[2].operations, [Unsubscribe]);
        for st in unrestricted {
            assert_eq!(st.resources, ["*"]);
            assert!(st
                .description
                .as_deref()
                .is_some_and(|d| d.contains("does not restrict")));
        }
    }

    #[test]
    fn warns_where_the_import_is_not_exact() {
        let import = ok(ACL);
        warning_at(&import, 4, "kind `anonymous`");
        warning_at(&import, 12, "`%c`");
        warning_at(&import, 13, "invalid topic filter");
        warning_at(&import, 16, "`/`, `+`, `#`");
        warning_at(&import, 17, "cannot be stated exactly");
        warning_at(&import, 21, "wins over this `pattern ... deny`");
        warning_at(&import, 21, "starting with `$`");
        assert_eq!(
            warned_lines(&import),
            [4, 12, 13, 16, 17, 21, 21],
            "{:#?}",
            import.warnings
        );
        // The invalid line and the skipped section's lines are gone.
        let doc = &import.document;
        assert!(!doc.policies.values().flatten().any(|s| s.id == "line-13"));
        assert!(!doc.policies.values().flatten().any(|s| s.id == "line-18"));
        // `%c` in a `topic` line stays literal.
        assert_eq!(
            statement(doc, "user:alice", "line-12").resources,
            ["topic:clients/%c"]
        );
    }

    #[test]
    fn unknown_directives_and_bad_lines_are_errors() {
        let err =
            import("topic read a\nsubscribe b\nuser\ntopic readonly c d\ntopic\ntopic\tread x\n")
                .unwrap_err();
        let lines: Vec<&Location> = err.problems().iter().map(|p| &p.location).collect();
        assert_eq!(
            lines,
            [
                &Location::Line(2),
                &Location::Line(3),
                &Location::Line(4),
                &Location::Line(5),
                &Location::Line(6)
            ],
            "{err}"
        );
        assert!(err.problems()[0].message.contains("`subscribe`"));
        assert!(err.problems()[2].message.contains("`readonly`"));
        assert!(err.problems()[4].message.contains("tabs"));
    }

    #[test]
    fn comments_blank_lines_and_line_endings() {
        let import = ok("# comment\r\n\r\n   \r\ntopic read a/#   \r\n  # indented\r\n");
        let doc = &import.document;
        assert_eq!(
            statement(doc, "anonymous", "line-4").resources,
            ["topic:a/#"]
        );
        warning_at(&import, 5, "first column");
    }

    #[test]
    fn lone_access_word_is_a_topic() {
        let import = ok("user bob\ntopic read\n");
        let st = statement(&import.document, "user:bob", "line-2");
        assert_eq!(st.operations, [Publish, Receive]);
        assert_eq!(st.resources, ["topic:read"]);
        warning_at(&import, 2, "alone");
    }

    #[test]
    fn empty_file_denies_everything() {
        for text in ["", "# only a comment\n\n", "user alice\n"] {
            let import = ok(text);
            assert!(import.document.groups.is_empty(), "{text:?}");
            assert!(import.document.policies.is_empty(), "{text:?}");
            assert_eq!(import.warnings.len(), 1, "{text:?}");
            assert_eq!(import.warnings[0].location, Location::Document);
            assert!(import.warnings[0].message.contains("CVE-2018-12550"));
        }
    }

    #[test]
    fn usernames_the_selection_grammar_cannot_state() {
        for name in ["John Smith", "admin*", "*admin", "a*b", "OR"] {
            assert!(!selectable(name), "{name:?}");
        }
        for name in ["alice", "svc-backend", "a:b", "a+", "x:"] {
            assert!(selectable(name), "{name:?}");
        }
        let import = ok("user ops*\ntopic a\npattern read b/%c\n");
        assert!(!import
            .document
            .groups
            .iter()
            .any(|g| g.name.starts_with("user:")));
        assert_eq!(import.document.policies["patterns"].len(), 1);
        warning_at(&import, 1, "`ops*`");
    }

    #[test]
    fn substitution() {
        assert_eq!(substitute("a/%c/%u"), "a/${clientid}/${username}");
        assert_eq!(substitute("%%c%x%"), "%${clientid}%x%");
        assert_eq!(substitute("dev-%c-x"), "dev-${clientid}-x");
    }

    #[test]
    fn dollar_braces_cannot_be_carried() {
        let import = ok("topic read a/${clientid}\ntopic read b\n");
        assert!(!import.document.policies["anonymous"]
            .iter()
            .any(|s| s.id == "line-1"));
        warning_at(&import, 1, "variable");
    }
}
