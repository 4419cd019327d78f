//! Independent makers of test credentials: Debian's `mosquitto_passwd`, Python's `hashlib`,
//! `argon2-cffi` and `base64`, and `openssl rand`. Nothing here uses mqward's own code, so the
//! tests check mqward against other implementations. A missing tool fails the test with the
//! command to install it (`scripts/setup.sh` installs them all).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn run(mut command: Command, stdin: &[u8]) -> Output {
    let name = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}); run scripts/setup.sh"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a Python script; arguments arrive as `sys.argv[1:]`, `stdin` as `sys.stdin.buffer`.
pub fn python(script: &str, args: &[&str], stdin: &[u8]) -> String {
    let mut command = Command::new("python3");
    command.arg("-c").arg(script).args(args);
    let out = run(command, stdin);
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim_end()
        .to_owned()
}

/// A fresh scratch directory under the system temp directory.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqward-password-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A password file written by `mosquitto_passwd -b` (Mosquitto 2.0: `$7$`, 101 iterations,
/// 12-byte salt), one user after another.
pub fn mosquitto_passwd(users: &[(&str, &str)]) -> String {
    let scratch = Scratch::new();
    let file = scratch.path("passwd");
    for (i, (user, password)) in users.iter().enumerate() {
        let mut command = Command::new("mosquitto_passwd");
        if i == 0 {
            command.arg("-c");
        }
        command.arg("-b").arg(&file).arg(user).arg(password);
        run(command, b"");
    }
    std::fs::read_to_string(&file).expect("read password file")
}

/// A `$6$` line (Mosquitto 1.x): base64 salt, base64 SHA-512 of password then salt.
pub fn sha512_line(user: &str, password: &[u8], salt_len: usize) -> String {
    let hash = python(
        "import base64, hashlib, os, sys\n\
         pw = sys.stdin.buffer.read(); salt = os.urandom(int(sys.argv[1]))\n\
         d = hashlib.sha512(pw + salt).digest()\n\
         print('$6$' + base64.b64encode(salt).decode() + '$' + base64.b64encode(d).decode())",
        &[&salt_len.to_string()],
        password,
    );
    format!("{user}:{hash}")
}

/// A `$7$` line: PBKDF2-HMAC-SHA512, 64-byte output, random salt of `salt_len` bytes.
pub fn pbkdf2_line(user: &str, password: &[u8], salt_len: usize, iterations: u32) -> String {
    let hash = python(
        "import base64, hashlib, os, sys\n\
         pw = sys.stdin.buffer.read(); salt = os.urandom(int(sys.argv[1])); n = int(sys.argv[2])\n\
         d = hashlib.pbkdf2_hmac('sha512', pw, salt, n, 64)\n\
         print('$7$%d$%s$%s' % (n, base64.b64encode(salt).decode(), base64.b64encode(d).decode()))",
        &[&salt_len.to_string(), &iterations.to_string()],
        password,
    );
    format!("{user}:{hash}")
}

/// An argon2id PHC line made by argon2-cffi (the reference C implementation).
pub fn argon2id_line(
    user: &str,
    password: &[u8],
    salt_len: usize,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    hash_len: usize,
) -> String {
    let hash = python(
        "import os, sys\n\
         from argon2.low_level import hash_secret, Type\n\
         pw = sys.stdin.buffer.read(); a = [int(x) for x in sys.argv[1:]]\n\
         print(hash_secret(pw, os.urandom(a[0]), time_cost=a[2], memory_cost=a[1],\n\
               parallelism=a[3], hash_len=a[4], type=Type.ID).decode())",
        &[
            &salt_len.to_string(),
            &memory_kib.to_string(),
            &passes.to_string(),
            &lanes.to_string(),
            &hash_len.to_string(),
        ],
        password,
    );
    format!("{user}:{hash}")
}

/// `openssl rand -hex n`: n random bytes as hex.
pub fn openssl_hex(n: usize) -> String {
    let mut command = Command::new("openssl");
    command.args(["rand", "-hex", &n.to_string()]);
    String::from_utf8(run(command, b"").stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// `openssl rand n`: n random bytes.
pub fn openssl_bytes<const N: usize>() -> [u8; N] {
    let mut command = Command::new("openssl");
    command.args(["rand", &N.to_string()]);
    run(command, b"")
        .stdout
        .try_into()
        .expect("openssl rand length")
}

/// The SHA-256, as hex, of the bytes a base64url (unpadded) text decodes to, by Python.
pub fn sha256_of_base64url(text: &str) -> String {
    python(
        "import base64, hashlib, sys\n\
         t = sys.argv[1]; t += '=' * (-len(t) % 4)\n\
         print(hashlib.sha256(base64.urlsafe_b64decode(t)).hexdigest())",
        &[text],
        b"",
    )
}
