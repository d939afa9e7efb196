//! `cargo xtask` — the project's small automation binary.
//!
//! ```text
//! cargo xtask regen-spec [--from PATH_OR_URL]   pin a document: validate, copy, lock, refresh snapshots
//! cargo xtask regen-spec --check               offline: lock, document and snapshots agree
//! cargo xtask regen-schemas [--from DIR]        pin the invoice XSDs: lock, local copy, surface snapshot
//! cargo xtask regen-schemas --check            lock, schemas and surface snapshot agree
//! cargo xtask fuzz TARGET [--time SECONDS]     run one fuzz target of fuzz/ (cargo-fuzz, libFuzzer)
//! cargo xtask man [DIR]                        man pages of `ksef` (default target/man)
//! cargo xtask module-cycles CRATE_DIR...       import cycles between a crate's modules (exit 1 if any)
//! cargo xtask feature-drift                    the demo build and the test build share the dependencies' features
//! cargo xtask bench batch [--sizes N,N,..]      batch preparation against the Python peer, side by side
//! ```
//! The logic lives in `ksef_codegen::regen` so that tests exercise it on a scratch workspace.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod feature_drift;
mod fuzz;

use std::{path::PathBuf, process::ExitCode};

use ksef_codegen::{locate::SPEC_ENV, regen, schemas::SCHEMAS_ENV, schemas_regen};

mod module_cycles;

const USAGE: &str = "usage:
  cargo xtask regen-spec [--from PATH_OR_URL]   download (default: the official TEST endpoint) or read a
                                               document, validate it, write spec/ksef-openapi.json (git-ignored),
                                               spec/ksef-openapi.lock and the drift snapshots
  cargo xtask regen-spec --check               offline: fail with a diff when lock, document and snapshots disagree
  cargo xtask regen-schemas [--from DIR]        pin the invoice XSDs of DIR (default: $KSEF_SCHEMAS_DIR): write
                                               spec/ksef-schemas.lock, spec/ksef-schemas/ (git-ignored) and the
                                               schema surface snapshot
  cargo xtask regen-schemas --check            fail with a diff when lock, schemas and surface snapshot disagree
  cargo xtask fuzz TARGET [--time SECONDS]     run one fuzz target of fuzz/fuzz_targets/ for SECONDS (default 60)
                                               with libFuzzer (installs cargo-fuzz when missing); prints the figures
  cargo xtask man [DIR]                        write the man pages of `ksef` (one per command) to DIR (default target/man)
  cargo xtask module-cycles CRATE_DIR...       report import cycles between the modules of each crate
                                               (paths relative to the workspace root); exit 1 if any
  cargo xtask feature-drift                    check that `cargo run -p ksef-cli` resolves its dependencies with the
                                               features of the workspace's test build (one build serves both); exit 1 if not
";

fn usage() -> String {
    format!("{USAGE}{}", bench::USAGE)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("regen-spec") => regen::Options::parse(&args[1..]).and_then(|o| {
            regen::run(
                &workspace_root(),
                &o,
                std::env::var(SPEC_ENV).ok().as_deref(),
            )
        }),
        Some("man") => man(args.get(1).map(PathBuf::from)),
        Some("module-cycles") => match module_cycles::run(&workspace_root(), &args[1..]) {
            Ok((lines, false)) => Ok(lines),
            Ok((lines, true)) => Err(lines.join("\n")),
            Err(e) => Err(e),
        },
        Some("regen-schemas") => schemas_regen::Options::parse(&args[1..]).and_then(|o| {
            schemas_regen::run(
                &workspace_root(),
                &o,
                std::env::var(SCHEMAS_ENV).ok().as_deref(),
            )
        }),
        Some("feature-drift") => feature_drift::run(&workspace_root(), &args[1..]),
        Some("fuzz") => fuzz::run(&workspace_root(), &args[1..]),
        Some("bench") => bench::run(&workspace_root(), &args[1..]),
        Some("-h" | "--help" | "help") | None => Ok(vec![usage()]),
        Some(other) => Err(format!("unknown command `{other}`\n{}", usage())),
    };
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Man pages: the `ksef` binary renders them from its own command definitions (clap_mangen).
fn man(dir: Option<PathBuf>) -> Result<Vec<String>, String> {
    let root = workspace_root();
    let dir = dir.unwrap_or_else(|| root.join("target").join("man"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args([
            "run",
            "--quiet",
            "--locked",
            "--package",
            "ksef-cli",
            "--",
            "man-pages",
            "--out",
        ])
        .arg(&dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`ksef man-pages` failed ({status})"));
    }
    Ok(vec![format!("man pages written to {}", dir.display())])
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
