//! `ksef operations`, `completions`, `man-pages`, `limits`, `rate-limits`, help texts, and the
//! broken pipe: any command piped into a reader that closes early ends quietly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::Harness;

fn ksef() -> String {
    common::bin()
}

/// Runs `ksef ARGS | head -n N` through a shell with pipefail off; returns (ksef's exit status
/// as seen by the shell, stderr of ksef).
fn piped_into_head(args: &str, n: u32, env: &[(&str, &str)]) -> (String, String) {
    let script = format!(
        "'{}' {args} 2>ksef.err | head -n {n} >/dev/null; echo ${{PIPESTATUS[0]}}",
        ksef()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new("bash");
    c.arg("-c").arg(&script).current_dir(dir.path());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.stderr(Stdio::piped()).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let err = std::fs::read_to_string(dir.path().join("ksef.err")).unwrap_or_default();
    (status, err)
}

#[test]
fn a_reader_that_closes_early_ends_the_output_quietly() {
    let h = Harness::start();
    let home = h.dir.path().to_str().unwrap().to_string();
    let cfg = h.config_dir().to_str().unwrap().to_string();
    let env = [("HOME", home.as_str()), ("KSEF_CONFIG_DIR", cfg.as_str())];
    for args in [
        "operations",
        "--json operations",
        "--help",
        "completions bash",
        "completions zsh",
        "demo",
    ] {
        let (status, err) = piped_into_head(args, 1, &env);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "ksef {args}: {err}"
        );
        assert_eq!(
            status, "0",
            "ksef {args} | head -1: exit {status}, stderr {err}"
        );
    }
}

#[test]
fn operations_json_lines_cover_the_pinned_api() {
    let h = Harness::start();
    let ops = h.json_lines(&["operations"]);
    assert_eq!(ops.len(), ksef_api::operations::OPERATIONS.len());
    let send = ops
        .iter()
        .find(|o| o["name"] == "online_session_send_invoice")
        .unwrap();
    assert_eq!(send["method"], "POST");
    assert_eq!(send["token"], "access");
    assert_eq!(send["rateLimitGroup"], "invoiceSend");
    let filtered = h.json_lines(&["operations", "--filter", "tokens"]);
    assert!(!filtered.is_empty() && filtered.len() < ops.len());
}

#[test]
fn limits_and_rate_limits() {
    let h = Harness::start();
    assert_eq!(
        h.run(&["limits"]).status.code(),
        Some(2),
        "no profile: usage"
    );
    h.login("t");
    let l = h.json(&["limits"], 0);
    assert!(
        l["context"]["onlineSession"]["maxInvoices"]
            .as_i64()
            .unwrap()
            > 0,
        "{l}"
    );
    assert!(l["subject"].is_object());
    let r = h.json(&["rate-limits"], 0);
    assert_eq!(r["invoiceSend"]["perSecond"], 10);
    assert_eq!(r["onlineSessionClose"]["perMinute"], 60);
    let text = h.ok(&["rate-limits"]);
    assert!(
        text.contains("GROUP") && text.contains("invoiceSend"),
        "{text}"
    );
}

#[test]
fn completions_and_man_pages() {
    let h = Harness::start();
    let bash = h.ok(&["completions", "bash"]);
    assert!(
        bash.contains("_ksef") && bash.contains("profile"),
        "bash completion"
    );
    let fish = h.ok(&["completions", "fish"]);
    assert!(fish.contains("complete -c ksef"));
    let dir = h.path("man");
    h.ok(&["man-pages", "--out", dir.to_str().unwrap()]);
    let pages: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for p in [
        "ksef.1",
        "ksef-auth-login.1",
        "ksef-send-online.1",
        "ksef-qr-kod2.1",
        "ksef-profile-add.1",
    ] {
        assert!(pages.contains(p), "{p} missing from {pages:?}");
    }
    let page = std::fs::read_to_string(dir.join("ksef-send-online.1")).unwrap();
    assert!(
        page.contains(".TH") && page.contains("online session"),
        "{page}"
    );
    // man itself renders it, when installed.
    if Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let out = Command::new("man")
            .arg("-l")
            .arg(dir.join("ksef.1"))
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}

/// The subcommands listed in a help text's "Commands:" section.
fn subcommands(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() || !line.starts_with("  ") {
                break;
            }
            let name = line.split_whitespace().next().unwrap_or_default();
            if name != "help" {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn every_command_has_a_readable_help() {
    let h = Harness::start();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = h.ok(&args);
        seen += 1;
        assert!(help.contains("Usage: ksef"), "{path:?}: {help}");
        // A description (a line of prose) comes first, every option and argument is explained.
        let first = help.lines().next().unwrap_or_default();
        assert!(
            first.len() > 10 && !first.starts_with("Usage"),
            "{path:?} has no description: {help}"
        );
        for line in help.lines() {
            let t = line.trim_start();
            if (t.starts_with("--") || t.starts_with('-')) && !t.contains("  ") && line.len() < 30 {
                // An option alone on its line must have its explanation on the next lines.
                assert!(help.contains(t), "{path:?}");
            }
        }
        assert!(!help.contains("TODO"), "{path:?}");
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            queue.push(p);
        }
    }
    assert!(seen > 30, "only {seen} help pages");
}

#[test]
fn version_and_short_help() {
    let h = Harness::start();
    let v = h.ok(&["--version"]);
    assert!(v.starts_with("ksef "), "{v}");
    let help = h.ok(&["-h"]);
    for group in [
        "profile",
        "auth",
        "send",
        "validate",
        "session",
        "token",
        "limits",
        "rate-limits",
        "qr",
        "operations",
        "demo",
        "sim",
        "completions",
    ] {
        assert!(
            help.contains(&format!("  {group}")),
            "{group} missing from --help"
        );
    }
    assert!(!help.contains("man-pages"), "hidden");
}

/// Kills the child process when dropped, also when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sim_prints_its_url_and_serves() {
    let mut child = KillOnDrop(
        Command::new(ksef())
            .args(["sim"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    use std::io::BufRead as _;
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v2"),
        "{url}"
    );
    // A full login through the running simulator.
    let h = Harness::start();
    h.ok(&[
        "profile",
        "add",
        "ext",
        "-e",
        &url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "test-identity",
    ]);
    h.ok(&["auth", "login"]);
}

#[test]
fn demo_with_json_prints_one_document() {
    let h = Harness::start();
    let doc = h.json(&["demo"], 0);
    assert_eq!(doc["ok"], true, "{doc:#}");
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps.iter().any(|s| s.starts_with("1. KSeF simulator at ")),
        "{steps:?}"
    );
    assert!(steps.iter().any(|s| s.starts_with("done in ")), "{steps:?}");
}
