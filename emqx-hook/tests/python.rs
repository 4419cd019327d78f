//! The ExHook contract, checked by an independent client: Python's grpcio, with stubs that
//! grpcio-tools generates at test time from the repository's `.proto` files
//! (`tests/python/contract.py`), over both the v2 and v3 paths, with a reload in between.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_client_agrees() {
    let s = setup("");
    let server = start(&s).await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(manifest.join("tests/python/contract.py"))
        .arg(manifest.join("proto"))
        .arg(server.local_addr().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run scripts/setup.sh"));
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();

    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut output = Vec::new();
    while let Some(line) = lines.recv().await {
        if line == "RELOAD" {
            s.write("policy.json", RELOADED_POLICY);
            server.reload().await.unwrap();
            stdin.write_all(b"reloaded\n").unwrap();
            stdin.flush().unwrap();
        }
        output.push(line);
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let errors = errors.join().unwrap();
    assert!(
        output.iter().any(|l| l == "RELOAD"),
        "no reload asked: {output:?}\n{errors}"
    );
    assert!(
        status.success(),
        "contract.py failed ({status}):\n{}\n{errors}",
        output.join("\n")
    );
    assert!(output.iter().any(|l| l == "checks failed: 0"), "{output:?}");
}
