//! `cargo xtask bench batch`: batch preparation (archive, parts, AES-256-CBC, SHA-256 — everything
//! up to the open request) by `ksef-flows` and by the Python peer (PyPI `ksef-client`), side by
//! side in one run, at several batch sizes.
//!
//! Our side is the release build of `ksef-flows/examples/batch_prep.rs`; the peer's side is
//! `../shared/bench/peer_batch_prep.py` run by a venv of its own (created on first use under the
//! target directory, `ksef-client` installed with pip). Both generate the same invoices from the
//! same template and print one line of `key=value` fields; this module runs them in turn and
//! prints the ratio of times, both peak RSS figures, both archive sizes and the time end to end
//! (preparation plus upload of the archive) on a 100 Mbit/s uplink.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version of the peer measured (the one the anchors in `../shared/bench` name).
const PEER_PACKAGE: &str = "ksef-client==0.20.0";
/// Uplink assumed for the end-to-end comparison, bits per second.
const UPLINK_BPS: f64 = 100_000_000.0;

pub const USAGE: &str = "  cargo xtask bench batch [--sizes 10000,100000,1000000] [--level 0-9] [--peer-max N]
                         [--template FILE] [--peer-script FILE]
                                               batch preparation by ksef-flows and by the PyPI ksef-client
                                               (venv under the target directory) side by side: ratio of
                                               times, peak RSS, archive sizes, end to end at 100 Mbit/s;
                                               the peer is skipped above --peer-max invoices";

#[derive(Debug)]
struct Options {
    sizes: Vec<u64>,
    level: u32,
    peer_max: u64,
    template: PathBuf,
    peer_script: PathBuf,
}

impl Options {
    fn parse(root: &Path, args: &[String]) -> Result<Self, String> {
        let mut o = Self {
            sizes: vec![10_000, 100_000, 1_000_000],
            level: 6,
            peer_max: u64::MAX,
            template: root.join("../shared/ksef-samples/invoice-template_v3.xml"),
            peer_script: root.join("../shared/bench/peer_batch_prep.py"),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--sizes" => {
                    o.sizes = value()?
                        .split(',')
                        .map(|s| s.trim().replace('_', "").parse::<u64>())
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("--sizes: {e}"))?;
                }
                "--level" => {
                    o.level = value()?
                        .parse()
                        .ok()
                        .filter(|l| *l <= 9)
                        .ok_or("--level must be 0-9")?;
                }
                "--peer-max" => {
                    o.peer_max = value()?.parse().map_err(|e| format!("--peer-max: {e}"))?;
                }
                "--template" => o.template = PathBuf::from(value()?),
                "--peer-script" => o.peer_script = PathBuf::from(value()?),
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        if o.sizes.is_empty() {
            return Err("--sizes is empty".into());
        }
        Ok(o)
    }
}

/// One side's measurement at one size.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    seconds: f64,
    peak_rss_mb: f64,
    archive_bytes: u64,
}

impl Run {
    /// Reads the `key=value` line both sides print.
    fn parse(output: &str) -> Result<Self, String> {
        let line = output
            .lines()
            .rev()
            .find(|l| l.starts_with("n="))
            .ok_or_else(|| format!("no result line in:\n{output}"))?;
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let get = |k: &str| {
            fields
                .get(k)
                .ok_or_else(|| format!("`{k}` missing in `{line}`"))
        };
        let num = |k: &str| -> Result<f64, String> {
            get(k)?
                .parse::<f64>()
                .map_err(|e| format!("`{k}` in `{line}`: {e}"))
        };
        Ok(Self {
            seconds: num("total_s")?,
            peak_rss_mb: num("peak_rss_mb")?,
            archive_bytes: get("zip_bytes")?
                .parse()
                .map_err(|e| format!("`zip_bytes` in `{line}`: {e}"))?,
        })
    }

    /// Preparation plus upload of the archive on the assumed uplink.
    fn end_to_end(&self) -> f64 {
        self.seconds + self.archive_bytes as f64 * 8.0 / UPLINK_BPS
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<Vec<String>, String> {
    match args.first().map(String::as_str) {
        Some("batch") => batch(root, &Options::parse(root, &args[1..])?),
        _ => Err(format!("usage:\n{USAGE}")),
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn status_ok(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

fn output_of(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The peer's venv, created and filled on first use.
fn peer_python(target: &Path) -> Result<PathBuf, String> {
    let venv = target.join("bench").join("venv-peer");
    let python = venv.join("bin").join("python");
    let marker = venv.join(PEER_PACKAGE);
    if !marker.exists() {
        eprintln!("installing {PEER_PACKAGE} into {}", venv.display());
        status_ok(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
        status_ok(
            Command::new(&python).args(["-m", "pip", "install", "--quiet", PEER_PACKAGE]),
            "pip install",
        )?;
        std::fs::write(&marker, b"").map_err(|e| format!("{}: {e}", marker.display()))?;
    }
    Ok(python)
}

fn batch(root: &Path, o: &Options) -> Result<Vec<String>, String> {
    for f in [&o.template, &o.peer_script] {
        if !f.exists() {
            return Err(format!("{} not found", f.display()));
        }
    }
    let target = target_dir(root);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the example batch_prep (release)");
    status_ok(
        Command::new(cargo).current_dir(root).args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "-p",
            "ksef-flows",
            "--example",
            "batch_prep",
        ]),
        "cargo build",
    )?;
    let ours_bin = target.join("release").join("examples").join("batch_prep");
    let python = if o.sizes.iter().any(|n| *n <= o.peer_max) {
        Some(peer_python(&target)?)
    } else {
        None
    };

    let mut lines = vec![
        format!(
            "batch preparation, FA (3) invoices from {}, deflate level {} (ours) / zipfile default (peer)",
            o.template.display(),
            o.level
        ),
        format!(
            "{:>9} | {:>8} {:>8} {:>6} | {:>8} {:>8} | {:>10} {:>10} | {:>8} {:>8}",
            "invoices",
            "ours s",
            "peer s",
            "ratio",
            "ours MB",
            "peer MB",
            "ours zip",
            "peer zip",
            "ours e2e",
            "peer e2e"
        ),
    ];
    for &n in &o.sizes {
        eprintln!("{n} invoices: ksef-flows");
        let ours = Run::parse(&output_of(
            Command::new(&ours_bin)
                .arg(n.to_string())
                .arg(&o.template)
                .arg(o.level.to_string()),
            "batch_prep",
        )?)?;
        let peer = match &python {
            Some(py) if n <= o.peer_max => {
                eprintln!("{n} invoices: peer");
                Some(Run::parse(&output_of(
                    Command::new(py)
                        .arg(&o.peer_script)
                        .arg(n.to_string())
                        .arg(&o.template),
                    "peer_batch_prep.py",
                )?)?)
            }
            _ => None,
        };
        lines.push(row(n, &ours, peer.as_ref()));
    }
    lines.push(format!(
        "ratio = our time / peer time; MB = peak RSS; zip = archive bytes before encryption; \
         e2e = preparation + archive upload at {} Mbit/s, seconds",
        UPLINK_BPS / 1e6
    ));
    Ok(lines)
}

fn row(n: u64, ours: &Run, peer: Option<&Run>) -> String {
    let dash = || "-".to_string();
    let p = |f: fn(&Run) -> String| peer.map_or_else(dash, f);
    format!(
        "{n:>9} | {:>8.3} {:>8} {:>6} | {:>8.0} {:>8} | {:>10} {:>10} | {:>8.2} {:>8}",
        ours.seconds,
        p(|r| format!("{:.3}", r.seconds)),
        peer.map_or_else(dash, |r| format!("{:.2}", ours.seconds / r.seconds)),
        ours.peak_rss_mb,
        p(|r| format!("{:.0}", r.peak_rss_mb)),
        ours.archive_bytes,
        p(|r| r.archive_bytes.to_string()),
        ours.end_to_end(),
        p(|r| format!("{:.2}", r.end_to_end())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_sides_result_lines() {
        let ours = Run::parse(
            "n=10 raw_bytes~46560 zip_bytes=15598 parts=1 level=6 total_s=1.665 peak_rss_mb=5\n",
        )
        .unwrap();
        assert_eq!(
            ours,
            Run {
                seconds: 1.665,
                peak_rss_mb: 5.0,
                archive_bytes: 15598
            }
        );
        let peer = Run::parse(
            "noise\nn=10 raw_bytes~4 zip_bytes=12500000 parts=1 zip_s=1.3 encrypt_hash_s=0.1 total_s=1.5 peak_rss_mb=108",
        )
        .unwrap();
        assert!((peer.end_to_end() - 2.5).abs() < 1e-9);
        assert!(Run::parse("n=1 total_s=1").is_err());
        assert!(Run::parse("").is_err());
    }

    #[test]
    fn options_parse_and_reject() {
        let root = Path::new("/repo");
        let o = Options::parse(root, &[]).unwrap();
        assert_eq!(o.sizes, [10_000, 100_000, 1_000_000]);
        let args: Vec<String> = ["--sizes", "1_000,20", "--level", "1", "--peer-max", "5"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let o = Options::parse(root, &args).unwrap();
        assert_eq!(
            (o.sizes.as_slice(), o.level, o.peer_max),
            (&[1000, 20][..], 1, 5)
        );
        for bad in [
            &["--level", "10"][..],
            &["--sizes"],
            &["--what"],
            &["--sizes", "x"],
        ] {
            let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
            assert!(Options::parse(root, &bad).is_err(), "{bad:?}");
        }
    }
}
