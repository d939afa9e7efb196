//! A `ksef` process harness: an embedded simulator on 127.0.0.1, a private config and state
//! directory, and a record of everything the CLI printed (for the secret checks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;

use serde_json::Value;

pub struct Harness {
    pub dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    sim: Option<ksef_sim::SimHandle>,
    pub url: String,
    pub nip: String,
    /// (argv, stdout, stderr) of every run.
    pub runs: Mutex<Vec<(Vec<String>, String, String)>>,
}

impl Harness {
    /// A simulator (rate limits off: tests run many commands quickly) and empty directories.
    pub fn start() -> Self {
        Self::with_config(ksef_sim::SimConfig::default().with_rate_limits(false))
    }

    pub fn with_config(config: ksef_sim::SimConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(ksef_sim::KsefSim::start(config)).unwrap();
        let url = sim.base_url();
        Self {
            dir: tempfile::tempdir().unwrap(),
            rt,
            sim: Some(sim),
            url,
            nip: ksef_flows::crypto::Nip::random().as_str().to_string(),
            runs: Mutex::new(Vec::new()),
        }
    }

    /// The simulator's control handle (faults, rate limits).
    pub fn control(&self) -> &ksef_sim::SimControl {
        self.sim.as_ref().unwrap().control()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The `ksef` command with this harness's directories and a clean environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(bin());
        c.env("KSEF_CONFIG_DIR", self.config_dir())
            .env("KSEF_STATE_DIR", self.state_dir())
            .env("KSEF_DATA_DIR", self.dir.path().join("data"))
            .env("HOME", self.dir.path())
            .env_remove("KSEF_PROFILE")
            .env_remove("KSEF_SEAL_KEY")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .timeout(std::time::Duration::from_secs(300));
        c
    }

    /// The `ksef` command as a plain process (for runs that are killed or watched).
    pub fn process(&self) -> std::process::Command {
        let mut c = std::process::Command::new(bin());
        c.env("KSEF_CONFIG_DIR", self.config_dir())
            .env("KSEF_STATE_DIR", self.state_dir())
            .env("KSEF_DATA_DIR", self.dir.path().join("data"))
            .env("HOME", self.dir.path())
            .env_remove("KSEF_PROFILE")
            .env_remove("KSEF_SEAL_KEY")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path());
        c
    }

    /// Runs `ksef ARGS` and records its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.cmd();
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        self.runs.lock().unwrap().push((
            args.iter().map(|s| s.to_string()).collect(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
        out
    }

    /// Runs `ksef --json ARGS`, expects exit code `code`, parses stdout as one JSON document.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "ksef {args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "ksef {args:?}: stdout is not one JSON document ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs `ksef --json ARGS` (exit 0) and parses stdout as JSON Lines.
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "ksef {args:?}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Runs `ksef ARGS` and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ksef {args:?} exited {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds profile `name` for the simulator with a generated test identity and logs in.
    pub fn login(&self, name: &str) {
        self.ok(&[
            "profile",
            "add",
            name,
            "--environment",
            &self.url,
            "--context",
            &format!("Nip:{}", self.nip),
            "--credential",
            "test-identity",
        ]);
        self.ok(&["--profile", name, "auth", "login"]);
    }

    /// Writes a valid FA (3) sample invoice of this harness's NIP, issued today (Warsaw).
    pub fn invoice(&self, number: &str) -> PathBuf {
        self.invoice_with(number, |s| s)
    }

    pub fn invoice_with(
        &self,
        number: &str,
        f: impl FnOnce(ksef_flows::sample::SampleInvoice) -> ksef_flows::sample::SampleInvoice,
    ) -> PathBuf {
        let xml = f(ksef_flows::sample::SampleInvoice::new_at(
            &self.nip,
            number,
            chrono::Utc::now(),
        ))
        .to_xml();
        let path = self
            .dir
            .path()
            .join(format!("{}.xml", number.replace('/', "_")));
        std::fs::write(&path, xml).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every file under `dir`, recursively.
    pub fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(dir) else {
            return out;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(Self::files_under(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

/// The `ksef` binary under test: `$KSEF_TEST_BIN` when set (checkouts that share a target
/// directory overwrite each other's `target/debug/ksef`), else cargo's.
pub fn bin() -> String {
    std::env::var("KSEF_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ksef").to_string())
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
