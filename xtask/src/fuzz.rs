//! `cargo xtask fuzz TARGET --time SECONDS`: one fuzz target of `fuzz/` under libFuzzer, through
//! cargo-fuzz on the stable toolchain (no sanitizer: the workspace forbids `unsafe`, and without
//! ASan the targets run about twice as fast), installing cargo-fuzz first when it is missing.
//! New inputs go to a work corpus in the target directory, the committed seeds stay as they are;
//! a crash leaves its input in `fuzz/artifacts/TARGET/`. Ends with one line of figures.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Parses `TARGET [--time SECONDS]` and runs the target; the summary line on success.
pub fn run(root: &Path, args: &[String]) -> Result<Vec<String>, String> {
    let mut target = None;
    let mut seconds: u64 = 60;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time needs a number of seconds")?;
            }
            t if !t.starts_with('-') && target.is_none() => target = Some(t.to_string()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let target = target.ok_or("name a target (the files of fuzz/fuzz_targets/)")?;
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir
        .join("fuzz_targets")
        .join(format!("{target}.rs"))
        .is_file()
    {
        return Err(format!("no fuzz target `{target}` in fuzz/fuzz_targets/"));
    }
    ensure_cargo_fuzz()?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let work = target_dir.join("fuzz-corpus").join(&target);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let seeds = fuzz_dir.join("corpus").join(&target);
    let mut child = Command::new("cargo")
        .current_dir(root)
        .args(["fuzz", "run", &target, "--fuzz-dir"])
        .arg(&fuzz_dir)
        .args(["--sanitizer", "none", "--features", "libfuzzer"])
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .args(["-print_final_stats=1", "-timeout=20", "-rss_limit_mb=3072"])
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo fuzz: {e}"))?;
    let mut figures = Figures::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            figures.read(&line);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let summary = figures.summary(&target);
    if !status.success() {
        return Err(format!(
            "{summary}\nthe fuzzer stopped with {status}: see the input it saved in fuzz/artifacts/{target}/"
        ));
    }
    Ok(vec![summary])
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing: cargo install cargo-fuzz --locked");
    let ok = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
        .ok_or_else(|| "installing cargo-fuzz failed".to_string())
}

/// What libFuzzer reported: its last status line (`#N ... cov: C ft: F corp: K/...`) and the
/// final statistics of `-print_final_stats=1`.
#[derive(Debug, Default)]
struct Figures {
    status: Option<String>,
    execs: Option<String>,
    per_second: Option<String>,
    new_units: Option<String>,
    peak_rss_mb: Option<String>,
}

impl Figures {
    fn read(&mut self, line: &str) {
        if line.starts_with('#') && line.contains("cov:") {
            self.status = Some(line.to_string());
        }
        let stat = |key: &str| {
            line.strip_prefix(key)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        };
        if let Some(v) = stat("stat::number_of_executed_units") {
            self.execs = Some(v);
        }
        if let Some(v) = stat("stat::average_exec_per_sec") {
            self.per_second = Some(v);
        }
        if let Some(v) = stat("stat::new_units_added") {
            self.new_units = Some(v);
        }
        if let Some(v) = stat("stat::peak_rss_mb") {
            self.peak_rss_mb = Some(v);
        }
    }

    /// `cov: C ft: F corp: K/S` of the last status line.
    fn coverage(&self) -> String {
        let Some(s) = &self.status else {
            return "no status line".into();
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        let pick = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .map_or("?", |v| v)
        };
        format!(
            "cov {} ft {} corpus {}",
            pick("cov:"),
            pick("ft:"),
            pick("corp:")
        )
    }

    fn summary(&self, target: &str) -> String {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        format!(
            "{target}: {} execs, {} execs/s, {}, {} new inputs, peak RSS {} MB",
            or(&self.execs),
            or(&self.per_second),
            self.coverage(),
            or(&self.new_units),
            or(&self.peak_rss_mb)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzers_figures() {
        let mut f = Figures::default();
        for line in [
            "#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536\tpulse  cov: 812 ft: 2301 corp: 190/20Kb lim: 4096 exec/s: 3276 rss: 61Mb",
            "#120000\tDONE   cov: 815 ft: 2310 corp: 193/21Kb lim: 4096 exec/s: 2000 rss: 62Mb",
            "stat::number_of_executed_units: 120000",
            "stat::average_exec_per_sec:     2000",
            "stat::new_units_added:          192",
            "stat::peak_rss_mb:              62",
        ] {
            f.read(line);
        }
        assert_eq!(
            f.summary("upo_parse"),
            "upo_parse: 120000 execs, 2000 execs/s, cov 815 ft 2310 corpus 193/21Kb, 192 new inputs, peak RSS 62 MB"
        );
    }
}
