//! `ksef send batch` against the embedded simulator: files and directories, every file's
//! outcome in `--json` and in the table, the UPO, exit codes, a killed run resumed without a
//! second session, expired upload URLs answered with a new session, and the state key rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Harness, s};
use ksef_sim::Fault;

const UPLOAD: &str = "PUT /__presigned/batch-part";

/// `n` valid invoices in a new directory `name`.
fn invoices(h: &Harness, name: &str, n: usize) -> std::path::PathBuf {
    let dir = h.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let f = h.invoice(&format!("FV/{name}/{i}"));
        std::fs::rename(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    dir
}

fn batch_sessions(h: &Harness) -> Vec<serde_json::Value> {
    h.json_lines(&["session", "list", "--type", "batch"])
}

fn sealed_batch_keys(h: &Harness) -> usize {
    Harness::files_under(&h.state_dir().join("batch-keys")).len()
}

#[test]
fn a_batch_of_files_and_directories_reports_every_file() {
    let h = Harness::start();
    h.login("t");
    let dir = invoices(&h, "outbox", 4);
    let broken = dir.join("zz-broken.xml");
    std::fs::write(&broken, b"<Faktura><oops></Faktura>").unwrap();
    let extra = h.invoice_with("FV/extra/1", |i| i.net(4_321));
    let upo_dir = h.path("upo");
    let sent = h.json(
        &[
            "send",
            "batch",
            s(&dir),
            s(&extra),
            "--part-size",
            "2KiB",
            "--upo-dir",
            s(&upo_dir),
        ],
        3,
    );
    let invoices = sent["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 6, "{sent:#}");
    assert_eq!(sent["accepted"], 5);
    assert_eq!(sent["notSent"], 1);
    assert_eq!(sent["rejected"], 0);
    assert_eq!(sent["status"]["code"], 200, "{sent:#}");
    // Directory entries first (sorted), then the file as given; every row names its file.
    assert_eq!(invoices[4]["file"], s(&broken));
    assert_eq!(invoices[4]["status"], "notSent");
    assert!(
        invoices[4]["error"]
            .as_str()
            .unwrap()
            .contains("pre-flight")
    );
    assert_eq!(invoices[5]["file"], s(&extra));
    let mut numbers = Vec::new();
    for (i, inv) in invoices.iter().enumerate() {
        assert_eq!(inv["index"], i);
        if inv["status"] == "accepted" {
            let k = inv["ksefNumber"].as_str().unwrap();
            assert!(k.starts_with(&h.nip), "{k}");
            assert!(inv["invoiceFileName"].as_str().unwrap().ends_with(".xml"));
            numbers.push(k.to_string());
        }
    }
    assert_eq!(numbers.len(), 5);
    // The UPO pages were written and list every accepted invoice.
    let files = sent["upoFiles"].as_array().unwrap();
    assert!(!files.is_empty());
    let upo: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f.as_str().unwrap()).unwrap())
        .collect();
    for k in &numbers {
        assert!(upo.contains(k.as_str()), "{k} not in the UPO");
    }
    // Finished: the work directory and its sealed key are gone.
    assert!(sent["workDir"].is_null());
    assert_eq!(sealed_batch_keys(&h), 0);
    assert!(Harness::files_under(&h.state_dir().join("batches")).is_empty());
    let session = sent["session"].as_str().unwrap();
    assert!(
        batch_sessions(&h)
            .iter()
            .any(|x| x["referenceNumber"] == session)
    );

    // Human output: the table names every file; a duplicate is rejected with 440 (exit 3).
    let dup = h.path("dup");
    std::fs::create_dir_all(&dup).unwrap();
    let again = dup.join("again.xml");
    std::fs::copy(dir.join("FV_outbox_0.xml"), &again).unwrap();
    let fresh = h.invoice("FV/fresh/1");
    let out = h.run(&["send", "batch", s(&again), s(&fresh)]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FILE") && text.contains("RESULT"), "{text}");
    let row = text.lines().find(|l| l.contains("again.xml")).unwrap();
    assert!(row.contains("rejected") && row.contains("440"), "{row}");
    let row = text.lines().find(|l| l.contains("FV_fresh_1.xml")).unwrap();
    assert!(row.contains("accepted") && row.contains(&h.nip), "{row}");
    // Nothing but bars and errors on stderr, and no bars without a terminal.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("uploading"), "{err}");
}

#[test]
fn a_killed_batch_resumes_in_the_same_session() {
    let h = Harness::start();
    h.login("t");
    let dir = invoices(&h, "big", 6);
    let work = h.path("work");
    // Slow uploads, one at a time: the run is killed while parts are still going up.
    h.control().inject(
        UPLOAD,
        Fault::Latency {
            delay_ms: 1500,
            count: None,
        },
    );
    let mut child = h
        .process()
        .args([
            "send",
            "batch",
            s(&dir),
            "--part-size",
            "1kB",
            "--parallel",
            "1",
            "--work-dir",
            s(&work),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(Instant::now() < deadline, "no batch session was opened");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        if work.join("batch-state.json").is_file() && !batch_sessions(&h).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    h.control().clear_faults();
    assert_eq!(sealed_batch_keys(&h), 1, "the key stays for the resume");

    let resumed = h.json(&["send", "batch", "--resume", s(&work)], 0);
    assert_eq!(resumed["accepted"], 6, "{resumed:#}");
    assert!(resumed["abandonedSessions"].as_array().unwrap().is_empty());
    let sessions = batch_sessions(&h);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["referenceNumber"], resumed["session"]);
    assert!(
        !work.exists(),
        "a finished batch removes its work directory"
    );
    assert_eq!(sealed_batch_keys(&h), 0);
    // Nothing left to continue.
    let out = h.run(&["send", "batch", "--resume", s(&work)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn expired_upload_urls_are_answered_with_a_new_session() {
    let h = Harness::start();
    h.login("t");
    let dir = invoices(&h, "exp", 2);
    let work = h.path("work");
    h.control().inject(
        "POST /sessions/batch",
        Fault::ExpiredPresignedUrls { count: 1 },
    );
    let out = h.run(&["send", "batch", s(&dir), "--work-dir", s(&work)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--new-session"), "{err}");
    assert!(work.join("batch-state.json").is_file());

    let sent = h.json(&["send", "batch", "--resume", s(&work), "--new-session"], 0);
    assert_eq!(sent["accepted"], 2, "{sent:#}");
    assert_eq!(sent["abandonedSessions"].as_array().unwrap().len(), 1);
    assert_eq!(batch_sessions(&h).len(), 2);
}

#[test]
fn state_keys_and_bad_arguments() {
    let h = Harness::start();
    h.login("t");
    let dir = invoices(&h, "keys", 1);
    let work = h.path("work");
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // Base64 of 32 bytes
    let out = h.run_env(
        &[
            "send",
            "batch",
            s(&dir),
            "--work-dir",
            s(&work),
            "--state-key",
            "env:BATCH_KEY",
            "--keep-work-dir",
        ],
        &[("BATCH_KEY", key)],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(work.join("batch-state.json").is_file(), "--keep-work-dir");
    assert_eq!(sealed_batch_keys(&h), 0, "a given key is never stored");
    let state = std::fs::read(work.join("batch-state.json")).unwrap();
    assert!(!String::from_utf8_lossy(&state).contains(key));
    // Without the key, or with another one, the state does not open.
    let out = h.run(&["send", "batch", "--resume", s(&work)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--state-key"));
    let other = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let out = h.run_env(
        &[
            "send",
            "batch",
            "--resume",
            s(&work),
            "--state-key",
            "env:K",
        ],
        &[("K", other)],
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");

    for (args, why) in [
        (vec!["send", "batch"], "no inputs"),
        (vec!["send", "batch", "nowhere.xml"], "missing file"),
        (
            vec!["send", "batch", "--resume", "nowhere"],
            "no batch there",
        ),
        (
            vec!["send", "batch", s(&dir), "--part-size", "0"],
            "zero part size",
        ),
        (
            vec!["send", "batch", s(&dir), "--part-size", "3 parsecs"],
            "bad unit",
        ),
        (
            vec!["send", "batch", s(&dir), "--new-session"],
            "--new-session without --resume",
        ),
        (
            vec!["send", "batch", s(&dir), "--state-key", "plain-secret"],
            "a secret in argv",
        ),
    ] {
        let out = h.run(&args);
        assert_eq!(out.status.code(), Some(2), "{why}: {out:?}");
    }
    let empty = h.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(h.run(&["send", "batch", s(&empty)]).status.code(), Some(2));
}
