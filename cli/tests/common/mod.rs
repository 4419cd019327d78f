//! What every test of the built `mqward` binary needs: running it, reading what it said, and
//! fresh files in the temporary directory.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_mqward");

/// A fresh, empty directory in the temporary directory.
pub fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mqward-cli-test-{}-{}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `contents` to a fresh file in the temporary directory.
pub fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `mqward ARGS...` to the end.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(BIN).args(args).output().unwrap()
}

/// The exit code.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts that a command was refused: exit code 2, nothing on standard output, `said` on
/// standard error, and `file` still holding `before`.
#[track_caller]
pub fn assert_refused(out: &Output, said: &str, file: &Path, before: &[u8]) {
    let err = stderr(out);
    assert_eq!(code(out), 2, "{err}");
    assert_eq!(stdout(out), "", "{err}");
    assert!(err.contains(said), "wanted {said:?} in: {err}");
    assert_eq!(std::fs::read(file).unwrap(), before, "{err}");
}

/// The names in `dir`, sorted: no temporary file may be left behind.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
