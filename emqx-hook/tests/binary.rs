//! The `mqward-exhook` binary: it announces its address once listening, reloads on SIGHUP
//! (keeping the previous configuration when the new one fails), stops on SIGTERM, and checks a
//! configuration with `--check`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_mqward-exhook");

/// The binary's log lines, as they come.
struct Log(mpsc::Receiver<String>);

impl Log {
    fn follow(stderr: ChildStderr) -> Log {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Log(rx)
    }

    /// The first line (from now on) that contains `needle`.
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.0.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with `{needle}`: {e}"),
            }
        }
    }
}

/// The binary, killed if the test ends early.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_keeps_the_old_configuration_on_error() {
    let s = setup("");
    let mut running = Running(
        Command::new(BIN)
            .arg(s.path("exhook.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let log = Log::follow(running.0.stderr.take().unwrap());
    let line = log.wait_for("listening on ");
    let addr: SocketAddr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(line.contains("plain"), "{line}");
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = Client::over(channel, Version::V2);
    let alice = client("alice", "alice", "correct horse");
    assert_eq!(c.authenticate(alice.clone()).await, stop(true));
    assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(true));

    s.write("policy.json", RELOADED_POLICY);
    signal(&running.0, "HUP");
    log.wait_for("reloaded");
    assert_eq!(c.publish(&alice, "devices/alice/t").await, stop(false));
    assert_eq!(c.publish(&alice, "telemetry/alice/t").await, stop(true));

    s.write("policy.json", "{ not json");
    signal(&running.0, "HUP");
    let refused = log.wait_for("reload refused");
    assert!(refused.contains("policy.json"), "{refused}");
    assert_eq!(c.publish(&alice, "telemetry/alice/t").await, stop(true));

    // A refused login is logged with the client id and never the password.
    let wrong = client("mallory\nforged", "alice", "hunter2-secret");
    assert_eq!(c.authenticate(wrong).await, stop(false));
    let line = log.wait_for("login refused");
    assert!(line.contains(r"`mallory\nforged`"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");

    signal(&running.0, "TERM");
    log.wait_for("stopping");
    let status = tokio::task::spawn_blocking(move || running.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

/// Runs the binary to its end: its exit code and log.
fn run(args: &[&std::path::Path]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_without_serving() {
    let s = setup("");
    let config = s.path("exhook.json");
    let check = std::path::Path::new("--check");
    let (code, log) = run(&[check, &config]);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("is valid"), "{log}");

    let json = r#"{"version": 1, "listen": "127.0.0.1:0", "engine": "engine.json""#;
    s.write("exhook.json", &format!(r#"{json}, "backend": "wasm"}}"#));
    let (code, log) = run(&[&config]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("needs a `wasm` section"), "{log}");
    s.write(
        "exhook.json",
        &format!(r#"{json}, "backend": "wasm", "wasm": {{"module": "missing.wasm"}}}}"#),
    );
    let (code, log) = run(&[check, &config]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("missing.wasm"), "{log}");

    s.write(
        "policy.json",
        r#"{"version": 1, "policies": {"p": [{"id": "x"}]}}"#,
    );
    s.write("exhook.json", &format!("{json}}}"));
    let (code, log) = run(&[check, &config]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("policy.json"), "{log}");
}
