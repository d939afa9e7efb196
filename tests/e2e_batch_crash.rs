//! Crash safety of batch sessions: a child process (this test binary re-executed, running
//! `crash_child`) sends a batch and is killed with SIGKILL at a chosen or random point; the
//! batch is then resumed from its state file. Afterwards every valid invoice is registered
//! exactly once, every input has its outcome, and no second session was opened while the first
//! could be completed.
//!
//! `crash_two_points` runs in CI (a kill in the middle of the uploads, one right after the
//! close). `crash_at_random_points` runs 24 seeded trials:
//! `cargo nextest run -p ksef-tests --test e2e_batch_crash --run-ignored only`
//! (seed: `KSEF_CRASH_SEED`, trials: `KSEF_CRASH_TRIALS`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod e2e_common;

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_common::batch::*;
use e2e_common::*;
use ksef_flows::api::Environment;
use ksef_flows::batch::{Batch, BatchEvent, BatchInput, BatchOptions, BatchPhase, StateKey};
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::{Credentials, FlowError, InvoiceOutcome, Ksef, RateLimitMode};
use ksef_sim::{InvoicingConfig, SimConfig};

const INVOICES: usize = 300;
const BROKEN: [usize; 2] = [3, 150];

fn options() -> BatchOptions {
    BatchOptions::default()
        .part_size(20_000)
        .upload_concurrency(2)
}

fn client(base_url: &str) -> Ksef {
    Ksef::builder(Environment::Custom(base_url.to_string()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap()
}

/// The trial's inputs, the same in the child and in the parent (fixed instant and numbers).
fn inputs(nip: &Nip, tag: &str, at: chrono::DateTime<chrono::Utc>) -> Vec<(String, Vec<u8>)> {
    (0..INVOICES)
        .map(|i| {
            let name = format!("{tag}-{i}.xml");
            if BROKEN.contains(&i) {
                (name, b"<Faktura><oops></Faktura>".to_vec())
            } else {
                let xml = ksef_flows::sample::SampleInvoice::new_at(
                    nip.as_str(),
                    &format!("{tag}/{i}"),
                    at,
                )
                .net(100 + i as u64)
                .to_xml();
                (name, xml)
            }
        })
        .collect()
}

fn event_name(e: &BatchEvent) -> &'static str {
    match e {
        BatchEvent::InputPrepared { .. } => "InputPrepared",
        BatchEvent::PartSealed { .. } => "PartSealed",
        BatchEvent::Prepared { .. } => "Prepared",
        BatchEvent::Resumed { .. } => "Resumed",
        BatchEvent::SessionAbandoned { .. } => "SessionAbandoned",
        BatchEvent::SessionOpened { .. } => "SessionOpened",
        BatchEvent::PartUploading { .. } => "PartUploading",
        BatchEvent::PartRetry { .. } => "PartRetry",
        BatchEvent::PartUploaded { .. } => "PartUploaded",
        BatchEvent::SessionClosed { .. } => "SessionClosed",
        BatchEvent::Processing { .. } => "Processing",
        BatchEvent::SessionFinished { .. } => "SessionFinished",
        BatchEvent::ResultsCollected { .. } => "ResultsCollected",
        BatchEvent::UpoVerified { .. } => "UpoVerified",
        _ => "Other",
    }
}

/// The child: sends the batch, printing one line per event (every 50th input only).
#[test]
#[ignore = "entry point of the child process of the crash tests (does nothing on its own)"]
fn crash_child() {
    let Ok(url) = std::env::var("KSEF_CRASH_CHILD_URL") else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap();
    let nip = Nip::parse(&var("KSEF_CRASH_CHILD_NIP")).unwrap();
    let at: chrono::DateTime<chrono::Utc> = var("KSEF_CRASH_CHILD_AT").parse().unwrap();
    let set = inputs(&nip, &var("KSEF_CRASH_CHILD_TAG"), at);
    let key = StateKey::from_text(&var("KSEF_CRASH_CHILD_KEY")).unwrap();
    let dir = var("KSEF_CRASH_CHILD_DIR");
    client_rt().block_on(async {
        let ksef = client(&url);
        let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
        let auth = ksef
            .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
            .await
            .unwrap();
        println!("EVENT Authenticated");
        let batch = Batch::new(dir, key)
            .with_options(options())
            .on_progress(|e| {
                if let BatchEvent::InputPrepared { index, .. } = e
                    && index % 50 != 0
                {
                    return;
                }
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "EVENT {}", event_name(e));
                let _ = out.flush();
            });
        let inputs: Vec<BatchInput> = as_inputs(&set);
        let report = batch.send_inputs(&auth, inputs).await.unwrap();
        println!("DONE {}", report.accepted());
    });
}

/// When to kill the child.
#[derive(Debug, Clone)]
enum KillAt {
    /// After the n-th event line.
    Event(usize),
    /// After the first line with this event name.
    Named(&'static str),
    /// After this many milliseconds.
    Millis(u64),
}

#[derive(Debug)]
struct Trial {
    kill: KillAt,
    /// Extra delay after the trigger (ms).
    extra_ms: u64,
}

/// What happened in one trial.
#[derive(Debug)]
struct Outcome {
    lines: Vec<String>,
    phase_at_kill: Option<BatchPhase>,
    sessions: usize,
}

fn run_trial(sim: &Sim, trial: &Trial, n: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let key = StateKey::generate().unwrap();
    let nip = Nip::random();
    let tag = format!("CR{n}");
    let ksef = client(&sim.base_url);
    let at = ksef.now();
    let set = inputs(&nip, &tag, at);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KSEF_CRASH_CHILD_URL", &sim.base_url)
        .env("KSEF_CRASH_CHILD_NIP", nip.as_str())
        .env("KSEF_CRASH_CHILD_AT", at.to_rfc3339())
        .env("KSEF_CRASH_CHILD_TAG", &tag)
        .env("KSEF_CRASH_CHILD_KEY", key.to_base64().as_str())
        .env("KSEF_CRASH_CHILD_DIR", &work)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if (line.starts_with("EVENT ") || line.starts_with("DONE")) && tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut lines = Vec::new();
    let deadline = Duration::from_secs(120);
    loop {
        let trigger = match &trial.kill {
            KillAt::Event(k) => lines.len() >= *k,
            KillAt::Named(name) => lines.iter().any(|l: &String| l == &format!("EVENT {name}")),
            KillAt::Millis(ms) => started.elapsed() >= Duration::from_millis(*ms),
        };
        if trigger {
            std::thread::sleep(Duration::from_millis(trial.extra_ms));
            break;
        }
        match rx.recv_timeout(Duration::from_millis(2)) {
            Ok(l) => lines.push(l),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        assert!(
            started.elapsed() < deadline,
            "the child did not finish: {lines:?}"
        );
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    while let Ok(l) = rx.try_recv() {
        lines.push(l);
    }
    let completed = lines.iter().any(|l| l.starts_with("DONE"));
    if !completed {
        assert!(!status.success(), "the child was killed: {lines:?}");
    }

    client_rt().block_on(async {
        let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
        let auth = ksef
            .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
            .await
            .unwrap();
        let batch = Batch::new(&work, key.clone()).with_options(options());
        let phase = batch.phase().unwrap();
        let report = match (phase, completed) {
            (Some(_), _) => Some(batch.resume(&auth).await),
            (None, true) => None,
            // killed while preparing (or after the report, before DONE was printed): start again
            (None, false) => Some(batch.send_inputs(&auth, as_inputs(&set)).await),
        };
        let report = match report {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => panic!("trial {n} ({trial:?}, phase {phase:?}): {e}\n{lines:?}"),
            None => None,
        };

        // the server: each valid input accepted exactly once, nothing else
        let counts = accepted_hashes(&auth).await;
        let valid: HashSet<String> = set
            .iter()
            .enumerate()
            .filter(|(i, _)| !BROKEN.contains(i))
            .map(|(_, (_, b))| ksef_flows::crypto::b64::sha256_b64(b))
            .collect();
        assert_eq!(
            counts.keys().cloned().collect::<HashSet<_>>(),
            valid,
            "trial {n}: every valid invoice registered"
        );
        assert!(
            counts.values().all(|c| *c == 1),
            "trial {n}: registered once"
        );
        let sessions = batch_sessions(&auth).await;
        let with_invoices = sessions.iter().filter(|s| s.total > 0).count();
        match phase {
            // a session was open (or its close sent): it was completed, no other opened
            Some(
                BatchPhase::Prepared
                | BatchPhase::Uploading
                | BatchPhase::Closing
                | BatchPhase::Processing
                | BatchPhase::Finished,
            ) => assert_eq!(sessions.len(), 1, "trial {n} ({phase:?}): {sessions:?}"),
            // the open request's answer was lost with the process: that session (if it was
            // opened at all) got nothing and was never closed
            Some(BatchPhase::Opening) => {
                assert!(sessions.len() <= 2, "{sessions:?}");
                assert_eq!(with_invoices, 1, "{sessions:?}");
                assert!(
                    sessions.iter().all(|s| s.total > 0 || s.code == 100),
                    "{sessions:?}"
                );
            }
            _ => assert!(sessions.len() <= 2, "{sessions:?}"),
        }

        // every input has its outcome: accepted, or (sent again after the report) a duplicate
        // of the accepted one; the broken ones stopped by pre-flight
        if let Some(report) = &report {
            assert_eq!(report.results.len(), INVOICES);
            for (i, r) in report.results.iter().enumerate() {
                if BROKEN.contains(&i) {
                    assert!(
                        matches!(
                            r.outcome,
                            InvoiceOutcome::NotSent(FlowError::Preflight { .. })
                        ),
                        "trial {n} #{i}: {:?}",
                        r.outcome
                    );
                } else {
                    assert!(
                        r.outcome.ksef_number().is_some()
                            || (r.outcome.rejection_code() == Some(440)
                                && r.outcome.original_ksef_number().is_some()),
                        "trial {n} #{i}: {:?}",
                        r.outcome
                    );
                }
            }
        }
        Outcome {
            lines,
            phase_at_kill: phase,
            sessions: sessions.len(),
        }
    })
}

fn crash_sim() -> Sim {
    Sim::start(
        SimConfig::default().with_rate_limits(false).with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::from_millis(20))
                .with_session_close_delay(Duration::from_millis(50)),
        ),
    )
}

#[test]
fn crash_two_points() {
    let sim = crash_sim();
    let mid_upload = run_trial(
        &sim,
        &Trial {
            kill: KillAt::Named("PartUploaded"),
            extra_ms: 0,
        },
        0,
    );
    assert_eq!(
        mid_upload.phase_at_kill,
        Some(BatchPhase::Uploading),
        "{:?}",
        mid_upload.lines
    );
    assert_eq!(mid_upload.sessions, 1);
    let after_close = run_trial(
        &sim,
        &Trial {
            kill: KillAt::Named("SessionClosed"),
            extra_ms: 0,
        },
        1,
    );
    assert!(
        matches!(
            after_close.phase_at_kill,
            Some(BatchPhase::Processing | BatchPhase::Finished)
        ),
        "{:?}",
        after_close.phase_at_kill
    );
}

/// A small seeded generator (xorshift64*), so that a failing trial can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
#[ignore = "24 child processes killed at seeded random points (about a minute)"]
fn crash_at_random_points() {
    let seed: u64 = std::env::var("KSEF_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let trials: usize = std::env::var("KSEF_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let sim = crash_sim();
    let mut rng = Rng(seed | 1);
    let mut phases = std::collections::BTreeMap::new();
    for n in 0..trials {
        let trial = Trial {
            kill: if rng.below(3) == 0 {
                KillAt::Millis(rng.below(1200))
            } else {
                KillAt::Event(rng.below(52) as usize)
            },
            extra_ms: rng.below(25),
        };
        let o = run_trial(&sim, &trial, n);
        println!(
            "trial {n}: {trial:?} -> phase {:?}, {} lines, {} sessions",
            o.phase_at_kill,
            o.lines.len(),
            o.sessions
        );
        *phases.entry(format!("{:?}", o.phase_at_kill)).or_insert(0) += 1;
    }
    println!("seed {seed:#x}: phases at the kill {phases:?}");
}
