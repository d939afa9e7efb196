//! Helpers for tests that use external oracles (openssl, xmlsec1, xmllint).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns false when the tool is missing and KSEF_SKIP_EXTERNAL_ORACLES=1; panics with a clear
/// message when it is missing otherwise.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("KSEF_SKIP_EXTERNAL_ORACLES").as_deref() == Ok("1") {
        eprintln!("SKIPPED: external oracle `{tool}` not installed (KSEF_SKIP_EXTERNAL_ORACLES=1)");
        return false;
    }
    panic!(
        "external oracle `{tool}` is not installed; install it (Debian: apt-get install -y xmlsec1 libxml2-utils openssl) \
         or set KSEF_SKIP_EXTERNAL_ORACLES=1 to skip oracle tests"
    );
}

/// Run a command, returning its output (does not check the status).
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Run a command and assert success.
pub fn run_ok(cmd: &str, args: &[&str]) -> Output {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

pub fn shared(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).join(rel)
}
