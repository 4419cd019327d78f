//! Runs the built `mqward` binary: exit codes, output lines, and the example files.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, run, stderr, stdout, temp_file, BIN};
use mqward_core::{Builder, Document};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join(name)
}

/// `mqward explain --policy examples/policy.json ARGS...`
fn explain(args: &[&str]) -> Output {
    let policy = example("policy.json");
    let mut all: Vec<OsString> = vec!["explain".into(), "--policy".into(), policy.into()];
    all.extend(args.iter().map(OsString::from));
    run(all)
}

/// The first two lines of standard output.
fn head(out: &Output) -> (String, String) {
    let text = stdout(out);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_owned();
    let second = lines.next().unwrap_or_default().to_owned();
    (first, second)
}

const BROKEN: &str = r#"{"version":2,
  "groups":[{"name":"g","selectionRule":"thingName sensor","policies":["p"]},
            {"name":"h","selectionRule":"*","policies":["missing"]}],
  "policies":{"p":[
    {"id":"s","effect":"allow","operations":[],"resources":["topic:a/#/b"]},
    {"id":"s","effect":"allow","operations":["publish"],"resources":["queue:x"],"qos":[3]}]}}"#;

// ---- check ----

#[test]
fn check_example_is_valid_without_warnings() {
    let out = run([OsString::from("check"), example("policy.json").into()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: 19 statements in 6 policies, 5 groups\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn check_reads_greengrass() {
    let out = run([OsString::from("check"), example("greengrass.json").into()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
}

#[test]
fn check_warnings_keep_exit_zero() {
    let path = temp_file(
        "warn.json",
        br#"{"version":1,
            "groups":[{"name":"all","selectionRule":"*","policies":["open"]}],
            "policies":{
              "open":[{"id":"pub","effect":"allow","operations":["publish"],"resources":["topic:#"]}],
              "orphan":[{"id":"x","effect":"deny","operations":["connect"],"resources":["clientId:a"]}]}}"#,
    );
    let out = run([OsString::from("check"), path.into()]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "ok: 2 statements in 2 policies, 1 group\n");
    let err = stderr(&out);
    assert!(
        err.contains("warning: policy `orphan`: attached to no group"),
        "{err}"
    );
    assert!(
        err.contains(
            "warning: statement `open/pub`, resource 0: grants every topic to every identity"
        ),
        "{err}"
    );
    assert!(err.lines().all(|l| l.starts_with("warning: ")), "{err}");
}

#[test]
fn check_broken_policy_lists_every_problem() {
    let path = temp_file("broken.json", BROKEN.as_bytes());
    let out = run([OsString::from("check"), path.into()]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    for expected in [
        "error: document: unsupported version `2`",
        "error: statement `p/s`: no operations",
        "error: statement `p/s`, resource 0: `#` must be the last level",
        "error: statement `p/s`: duplicate statement id",
        "error: statement `p/s`: QoS `3` is not 0, 1 or 2",
        "error: statement `p/s`, resource 0: unknown resource type `queue`",
        "error: group `g`: expected `attribute: value` in selection rule",
        "error: group `h`: unknown policy `missing`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert_eq!(err.lines().count(), 8, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn check_invalid_json_names_the_position() {
    let path = temp_file("syntax.json", b"{\"version\": 1,\n \"groups\": [}");
    let out = run([OsString::from("check"), path.into()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: line 2, column "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_unreadable_file() {
    let out = run(["check", "/nonexistent/mqward/policy.json"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: cannot read `/nonexistent/mqward/policy.json`: "),
        "{}",
        stderr(&out)
    );
}

// ---- usage ----

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["check", "--bogus", "x"][..],
        &["check"],
        &["explain", "--policy", "x.json"],
        &[
            "explain", "--policy", "x.json", "--action", "read", "--topic", "a",
        ],
        &["import", "yaml", "x"],
        &["frobnicate"],
        &[],
    ] {
        let out = run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    let out = explain(&["--action", "publish", "--topic", "a", "--bogus"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--bogus"), "{}", stderr(&out));
}

#[test]
fn help_documents_the_default_kind() {
    let out = run(["explain", "--help"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out)
            .contains("Defaults to `password` when --username is given, else `certificate`"),
        "{}",
        stdout(&out)
    );
}

// ---- explain ----

#[test]
fn explain_allow_exits_zero() {
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--client-id",
        "sensor-7",
        "--action",
        "publish",
        "--topic",
        "sensors/sensor-7/telemetry/temp",
        "--qos",
        "1",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        head(&out),
        (
            "allow".into(),
            "decided by statement `sensor/telemetry` (allow)".into()
        )
    );
    assert!(
        stdout(&out).contains("groups: sensors, everyone"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn explain_deny_exits_one() {
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--action",
        "publish",
        "--topic",
        "sensors/sensor-8/telemetry/temp",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        head(&out),
        (
            "deny".into(),
            "no statement matched: denied by default".into()
        )
    );
    let out = explain(&[
        "--thing",
        "gateway-1",
        "--action",
        "subscribe",
        "--topic",
        "$SYS/#",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        head(&out).1,
        "decided by statement `device-limits/no-sys` (deny)"
    );
}

#[test]
fn explain_subscription_containment() {
    let sub = |filter: &str| {
        explain(&[
            "--thing",
            "gateway-1",
            "--action",
            "subscribe",
            "--topic",
            filter,
        ])
    };
    assert_eq!(code(&sub("sensors/+/telemetry/#")), 0);
    assert_eq!(code(&sub("sensors/sensor-1/telemetry/temp")), 0);
    assert_eq!(code(&sub("$share/relays/sensors/+/telemetry/#")), 0);
    assert_eq!(code(&sub("sensors/#")), 1);
    assert_eq!(code(&sub("#")), 1);
}

#[test]
fn explain_connect_uses_the_client_id() {
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--client-id",
        "sensor-7",
        "--action",
        "connect",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--client-id",
        "sensor-7",
        "--action",
        "connect",
        "--topic",
        "sensor-8",
    ]);
    assert_eq!(code(&out), 1);
    let out = explain(&["--thing", "sensor-7", "--action", "connect"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`connect` needs `--client-id`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explain_topic_is_required_for_other_actions() {
    let out = explain(&["--thing", "sensor-7", "--action", "publish"]);
    assert_eq!(code(&out), 2);
    assert_eq!(stderr(&out), "error: `publish` needs `--topic`\n");
    assert_eq!(stdout(&out), "");
}

#[test]
fn explain_malformed_topic_is_a_deny() {
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--action",
        "publish",
        "--topic",
        "sensors/sensor-7/telemetry/+",
    ]);
    assert_eq!(code(&out), 1);
    let (first, second) = head(&out);
    assert_eq!(first, "deny");
    assert_eq!(second, "malformed request: `+` or `#` in a topic name");
    let out = explain(&[
        "--thing",
        "sensor-7",
        "--action",
        "subscribe",
        "--topic",
        "a/#/b",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(head(&out).0, "deny");
}

#[cfg(unix)]
#[test]
fn explain_invalid_utf8_topic_is_a_deny() {
    use std::os::unix::ffi::OsStringExt;
    let policy = example("policy.json");
    let topic = OsString::from_vec(b"sensors/sensor-7/telemetry/\xff".to_vec());
    let out = run([
        OsString::from("explain"),
        "--policy".into(),
        policy.into(),
        "--thing".into(),
        "sensor-7".into(),
        "--action".into(),
        "publish".into(),
        "--topic".into(),
        topic,
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        head(&out),
        ("deny".into(), "malformed request: not valid UTF-8".into())
    );
}

#[test]
fn explain_attr_claim_selects_a_group() {
    let reboot = |extra: &[&str]| {
        let mut args = vec![
            "--kind",
            "jwt",
            "--client-id",
            "ops-ana",
            "--action",
            "publish",
            "--topic",
            "commands/sensor-7/reboot",
        ];
        args.extend_from_slice(extra);
        explain(&args)
    };
    let out = reboot(&["--attr", "claim.role=ops", "--qos", "1"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        head(&out).1,
        "decided by statement `operator/reboot` (allow)"
    );
    assert!(
        stdout(&out).contains("groups: operators, everyone"),
        "{}",
        stdout(&out)
    );
    assert_eq!(code(&reboot(&["--qos", "1"])), 1);
    assert_eq!(
        code(&reboot(&["--attr", "claim.role=viewer", "--qos", "1"])),
        1
    );
    // The statement requires retain false and QoS 1 (absent, QoS is 0 for publish).
    let ops = ["--attr", "claim.role=ops"];
    assert_eq!(
        code(&reboot(&[&ops[..], &["--qos", "1", "--retain"]].concat())),
        1
    );
    assert_eq!(code(&reboot(&[&ops[..], &["--qos", "0"]].concat())), 1);
    assert_eq!(code(&reboot(&ops)), 1);
}

#[test]
fn explain_default_kind_follows_username() {
    let uptime = |extra: &[&str]| {
        let mut args = vec![
            "--username",
            "admin",
            "--action",
            "receive",
            "--topic",
            "$SYS/broker/uptime",
        ];
        args.extend_from_slice(extra);
        explain(&args)
    };
    let out = uptime(&[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(head(&out).1, "decided by statement `admin/sys` (allow)");
    // The admins group also requires kind password.
    assert_eq!(code(&uptime(&["--kind", "certificate"])), 1);
    assert_eq!(code(&uptime(&["--attr", "kind=psk"])), 1);
}

#[test]
fn explain_bad_input_exits_two() {
    let base = ["--thing", "sensor-7", "--action", "publish", "--topic", "a"];
    for extra in [
        &["--attr", "role=ops"][..],
        &["--attr", "claim.role"],
        &["--attr", "kind=robot"],
        &["--kind", "robot"],
        &["--qos", "one"],
        &["--qos", "-1"],
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = explain(&args);
        assert_eq!(code(&out), 2, "{extra:?}: {}", stdout(&out));
        assert_eq!(stdout(&out), "");
    }
    // QoS 3 is a number, but not a valid QoS: a malformed request.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--qos", "3"]);
    let out = explain(&args);
    assert_eq!(code(&out), 1);
    assert_eq!(head(&out).1, "malformed request: QoS above 2");
}

#[test]
fn explain_unreadable_or_invalid_policy_exits_two() {
    let args = ["--action", "publish", "--topic", "a"];
    let out = run(["explain", "--policy", "/nonexistent/mqward/policy.json"]
        .iter()
        .chain(&args));
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: cannot read "),
        "{}",
        stderr(&out)
    );
    let broken = temp_file("broken.json", BROKEN.as_bytes());
    let mut all: Vec<OsString> = vec!["explain".into(), "--policy".into(), broken.into()];
    all.extend(args.iter().map(OsString::from));
    let out = run(all);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out).lines().count(), 8, "{}", stderr(&out));
}

#[test]
fn explain_greengrass_policy() {
    let mut args: Vec<OsString> = vec![
        "explain".into(),
        "--policy".into(),
        example("greengrass.json").into(),
    ];
    args.extend(
        [
            "--thing",
            "sensor-1",
            "--action",
            "publish",
            "--topic",
            "sensors/sensor-1/telemetry/temp",
        ]
        .map(OsString::from),
    );
    let out = run(&args);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(head(&out).0, "allow");
}

// ---- import ----

/// Checks a successful import: exit 0, a document on stdout that parses and compiles.
fn imported(out: &Output) -> Document {
    assert_eq!(code(out), 0, "{}", stderr(out));
    let doc = Document::from_json(&out.stdout).expect("the output re-parses");
    Builder::new().build(&doc).expect("the output compiles");
    assert!(
        stderr(out).lines().all(|l| l.starts_with("warning: ")),
        "{}",
        stderr(out)
    );
    doc
}

#[test]
fn import_greengrass_example() {
    let out = run([
        OsString::from("import"),
        "greengrass".into(),
        example("greengrass.json").into(),
    ]);
    let doc = imported(&out);
    let groups: Vec<&str> = doc.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["Gateways", "Sensors"]);
    assert!(doc.policies.contains_key("SensorPolicy"));
}

#[test]
fn import_mosquitto_acl_example() {
    let out = run([
        OsString::from("import"),
        "mosquitto-acl".into(),
        example("acl").into(),
    ]);
    let doc = imported(&out);
    assert!(doc.groups.iter().any(|g| g.name == "user:admin"), "{doc:?}");
    assert!(stderr(&out).contains("warning: line "), "{}", stderr(&out));
}

#[test]
fn import_output_explains_like_the_source() {
    // The imported acl document decides through `explain` like any other.
    let out = run([
        OsString::from("import"),
        "mosquitto-acl".into(),
        example("acl").into(),
    ]);
    let path = temp_file("from-acl.json", &out.stdout);
    let decide = |user: &str, topic: &str| {
        run([
            OsString::from("explain"),
            "--policy".into(),
            path.clone().into(),
            "--username".into(),
            user.into(),
            "--client-id".into(),
            "c1".into(),
            "--action".into(),
            "publish".into(),
            "--topic".into(),
            topic.into(),
        ])
    };
    assert_eq!(code(&decide("admin", "plant/line-1")), 0);
    assert_eq!(code(&decide("admin", "vault/keys")), 1);
    assert_eq!(code(&decide("dashboard", "plant/line-1")), 1);
}

#[test]
fn import_errors_exit_two() {
    // A native document is not a Greengrass configuration.
    let out = run([
        OsString::from("import"),
        "greengrass".into(),
        example("policy.json").into(),
    ]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    // Mosquitto 2.0 refuses an unknown first word.
    let acl = temp_file("acl", b"topic read a/#\nallow everything\n");
    let out = run([OsString::from("import"), "mosquitto-acl".into(), acl.into()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("error: line 2"), "{}", stderr(&out));
    let acl = temp_file("acl", b"topic read caf\xe9\n");
    let out = run([OsString::from("import"), "mosquitto-acl".into(), acl.into()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
    let out = run(["import", "greengrass", "/nonexistent/mqward/gg.json"]);
    assert_eq!(code(&out), 2);
}

// ---- demo ----

#[cfg(unix)]
#[test]
fn demo_script_runs() {
    if Command::new("bash").arg("--version").output().is_err() {
        return;
    }
    let out = Command::new("bash")
        .arg(example("demo.sh"))
        .arg(BIN)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    let headers = text.lines().filter(|l| l.starts_with("=== ")).count();
    assert!(headers >= 12, "{text}");
    // Each explained case says which way it went: allowed cases allow, denied ones deny.
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("=== ") && (line.contains(": allowed") || line.contains(": denied")) {
            let want = if line.contains(": allowed") {
                "allow"
            } else {
                "deny"
            };
            assert_eq!(lines.peek().copied(), Some(want), "{line}");
        }
    }
}
