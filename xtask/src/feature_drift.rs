//! `cargo xtask feature-drift`: do the README's two commands share one build of the dependencies?
//!
//! Cargo turns on a dependency's features per command: `cargo run -p ksef-cli` resolves them for
//! the CLI's own dependencies, `cargo nextest run --workspace` for every member including its
//! dev-dependencies. A dependency that ends up with other features in the two builds is compiled
//! twice, and so is everything above it (tokio's `test-util` alone rebuilds hyper, reqwest, axum,
//! ksef-api, ksef-sim, …). `ksef-cli/Cargo.toml` therefore names the features the test build adds
//! ("feature alignment"); this check lists every package the demo build would compile with features
//! the test build does not use, from `cargo tree` (no compilation).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Packages the demo build may compile with their own feature set: FA_RR (1) stays out of the
/// CLI to keep its cold build short, the test build has it (`ksef-invoice`'s default feature).
const ALLOWED: &[&str] = &["ksef-invoice", "ksef-invoice-xsd"];

/// One line per package and feature set the demo build would compile that the test build does
/// not; `Err` lists them (exit 1), `Ok` says how many packages were compared.
pub fn run(root: &Path, args: &[String]) -> Result<Vec<String>, String> {
    if let Some(a) = args.first() {
        return Err(format!("unexpected argument `{a}`"));
    }
    let demo = tree(root, &["-p", "ksef-cli", "-e", "normal"])?;
    let test = tree(root, &["--workspace", "-e", "normal,dev"])?;
    let drift: Vec<String> = demo
        .difference(&test)
        .filter(|line| {
            let name = line.split(' ').next().unwrap_or_default();
            !ALLOWED.contains(&name)
        })
        .map(|line| format!("  {line}"))
        .collect();
    if drift.is_empty() {
        return Ok(vec![format!(
            "feature-drift: the {} packages of `cargo run -p ksef-cli` build with the features of the workspace's test build",
            demo.len()
        )]);
    }
    let mut lines = vec![
        "feature-drift: `cargo run -p ksef-cli` would build these packages with other features than \
         `cargo nextest run --workspace` (name the test build's features in the \"feature alignment\" \
         block of ksef-cli/Cargo.toml):"
            .to_string(),
    ];
    lines.extend(drift);
    Err(lines.join("\n"))
}

/// `cargo tree` as a set of `name version (source) [features]` lines, one per resolved package.
fn tree(root: &Path, selection: &[&str]) -> Result<BTreeSet<String>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "tree",
            "--locked",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
        ])
        .args(selection)
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree {} failed: {}",
            selection.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.replace(" (*)", "").replace(" (proc-macro)", ""))
        .filter(|l| !l.trim().is_empty())
        .collect())
}
