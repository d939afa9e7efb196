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
//!
//! Times are given twice: wall clock as each side reports it for its preparation, and CPU time
//! (user + system, all threads) of each side's process as the kernel accounts it to this one
//! when the child is reaped, less the CPU time of a run with 1 invoice (interpreter start and
//! imports for the peer). On an idle machine the wall ratio is the one that counts; on a busy
//! one only the CPU ratio is meaningful.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version of the peer measured (the one the anchors in `../shared/bench` name).
const PEER_PACKAGE: &str = "ksef-client==0.20.0";
/// Uplink assumed for the end-to-end comparison, bits per second.
const UPLINK_BPS: f64 = 100_000_000.0;

pub const USAGE: &str = "  cargo xtask bench batch [--sizes 10000,100000,1000000] [--level 0-9] [--peer-max N]
                         [--runs N] [--template FILE] [--peer-script FILE]
                                               batch preparation by ksef-flows and by the PyPI ksef-client
                                               (venv under the target directory) side by side: ratio of
                                               times, peak RSS, archive sizes, end to end at 100 Mbit/s;
                                               each side runs --runs times (default 3, interleaved)
                                               and its median run by wall time is shown; the peer
                                               is skipped above --peer-max invoices";

#[derive(Debug)]
struct Options {
    sizes: Vec<u64>,
    level: u32,
    peer_max: u64,
    runs: usize,
    template: PathBuf,
    peer_script: PathBuf,
}

impl Options {
    fn parse(root: &Path, args: &[String]) -> Result<Self, String> {
        let mut o = Self {
            sizes: vec![10_000, 100_000, 1_000_000],
            level: 6,
            peer_max: u64::MAX,
            runs: 3,
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
                "--runs" => {
                    o.runs = value()?
                        .parse()
                        .ok()
                        .filter(|r| *r >= 1)
                        .ok_or("--runs must be at least 1")?;
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
    /// CPU seconds (user + system) of the process, less its start-up (see the module doc).
    cpu_seconds: f64,
    peak_rss_mb: f64,
    archive_bytes: u64,
}

/// Kernel clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) of this process's reaped children so far (`cutime` + `cstime`
/// of `/proc/self/stat`); 0 where there is no `/proc`.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command name (which may hold spaces) start at field 3
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // cutime and cstime are fields 16 and 17 (1-based), i.e. 13 and 14 after the name
    (tick(13) + tick(14)) / USER_HZ
}

/// Runs `cmd` to completion, returning its standard output and its CPU seconds.
fn timed_output(cmd: &mut Command, what: &str) -> Result<(String, f64), String> {
    let before = children_cpu_seconds();
    let out = output_of(cmd, what)?;
    Ok((out, children_cpu_seconds() - before))
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
            cpu_seconds: 0.0,
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
            "{:>9} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>8} {:>8} | {:>10} {:>10} | {:>8} {:>8}",
            "invoices",
            "ours s",
            "peer s",
            "ratio",
            "ours cpu",
            "peer cpu",
            "ratio",
            "ours MB",
            "peer MB",
            "ours zip",
            "peer zip",
            "ours e2e",
            "peer e2e"
        ),
    ];
    let run_ours = |n: u64| -> Result<Run, String> {
        let (out, cpu) = timed_output(
            Command::new(&ours_bin)
                .arg(n.to_string())
                .arg(&o.template)
                .arg(o.level.to_string()),
            "batch_prep",
        )?;
        Ok(Run {
            cpu_seconds: cpu,
            ..Run::parse(&out)?
        })
    };
    let run_peer = |py: &Path, n: u64| -> Result<Run, String> {
        let (out, cpu) = timed_output(
            Command::new(py)
                .arg(&o.peer_script)
                .arg(n.to_string())
                .arg(&o.template),
            "peer_batch_prep.py",
        )?;
        Ok(Run {
            cpu_seconds: cpu,
            ..Run::parse(&out)?
        })
    };
    let ours_start = run_ours(1)?.cpu_seconds;
    let peer_start = match &python {
        Some(py) => run_peer(py, 1)?.cpu_seconds,
        None => 0.0,
    };
    for &n in &o.sizes {
        let with_peer = python.as_ref().filter(|_| n <= o.peer_max);
        let (mut ours_runs, mut peer_runs) = (Vec::new(), Vec::new());
        for run in 1..=o.runs {
            eprintln!("{n} invoices, run {run}/{}: ksef-flows", o.runs);
            let mut ours = run_ours(n)?;
            ours.cpu_seconds = (ours.cpu_seconds - ours_start).max(0.0);
            ours_runs.push(ours);
            if let Some(py) = with_peer {
                eprintln!("{n} invoices, run {run}/{}: peer", o.runs);
                let mut peer = run_peer(py, n)?;
                peer.cpu_seconds = (peer.cpu_seconds - peer_start).max(0.0);
                peer_runs.push(peer);
            }
        }
        let ours = median(ours_runs).ok_or("no run")?;
        let peer = median(peer_runs);
        lines.push(row(n, &ours, peer.as_ref()));
    }
    lines.push(format!(
        "median of {} runs per side; s = wall seconds of the preparation; cpu = CPU seconds (user + system, all threads) of \
         the process less its start-up; ratio = ours / peer; MB = peak RSS; zip = archive bytes \
         before encryption; e2e = preparation (wall) + archive upload at {} Mbit/s, seconds",
        o.runs,
        UPLINK_BPS / 1e6
    ));
    lines.push(format!("load average at the end: {}", load_average()));
    Ok(lines)
}

/// The run with the median wall time (the slower middle one for an even count).
fn median(mut runs: Vec<Run>) -> Option<Run> {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mid = runs.len() / 2;
    runs.into_iter().nth(mid)
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn row(n: u64, ours: &Run, peer: Option<&Run>) -> String {
    let dash = || "-".to_string();
    let p = |f: fn(&Run) -> String| peer.map_or_else(dash, f);
    format!(
        "{n:>9} | {:>8.3} {:>8} {:>6} | {:>8.2} {:>8} {:>6} | {:>8.0} {:>8} | {:>10} {:>10} | {:>8.2} {:>8}",
        ours.seconds,
        p(|r| format!("{:.3}", r.seconds)),
        peer.map_or_else(dash, |r| format!("{:.2}", ours.seconds / r.seconds)),
        ours.cpu_seconds,
        p(|r| format!("{:.2}", r.cpu_seconds)),
        peer.map_or_else(dash, |r| format!("{:.2}", ours.cpu_seconds / r.cpu_seconds)),
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
                cpu_seconds: 0.0,
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
    fn the_median_run_is_the_middle_one_by_wall_time() {
        let run = |seconds| Run {
            seconds,
            cpu_seconds: 0.0,
            peak_rss_mb: 0.0,
            archive_bytes: 0,
        };
        assert_eq!(median(vec![run(3.0), run(1.0), run(2.0)]), Some(run(2.0)));
        assert_eq!(median(vec![run(1.0), run(4.0)]), Some(run(4.0)));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn options_parse_and_reject() {
        let root = Path::new("/repo");
        let o = Options::parse(root, &[]).unwrap();
        assert_eq!(o.sizes, [10_000, 100_000, 1_000_000]);
        assert_eq!(o.runs, 3);
        let args: Vec<String> = [
            "--sizes",
            "1_000,20",
            "--level",
            "1",
            "--peer-max",
            "5",
            "--runs",
            "5",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        let o = Options::parse(root, &args).unwrap();
        assert_eq!(
            (o.sizes.as_slice(), o.level, o.peer_max, o.runs),
            (&[1000, 20][..], 1, 5, 5)
        );
        for bad in [
            &["--level", "10"][..],
            &["--sizes"],
            &["--what"],
            &["--sizes", "x"],
            &["--runs", "0"],
        ] {
            let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
            assert!(Options::parse(root, &bad).is_err(), "{bad:?}");
        }
    }
}
