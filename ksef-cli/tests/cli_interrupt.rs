//! Ctrl-C: `ksef send batch` and `ksef sync` get SIGINT while they work (the simulator slows the
//! part uploads and downloads so that the signal lands mid-flight). Each exits 130 with a
//! message that says how to continue, leaves its state consistent (a sealed batch state file, a
//! store whose checkpoints match its invoices), and continuing completes the work with every
//! invoice registered, and stored, exactly once.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Harness, s};
use ksef_sim::{Fault, PresignedRoute};

fn interrupt(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT failed");
}

/// Waits for the child to end (at most five minutes); exit code, stdout, stderr.
fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("the interrupted ksef did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), out, err)
}

/// Polls `cond` every 50 ms, for at most five minutes.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn phase(state_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state_file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["state"]["phase"].as_str().map(str::to_string)
}

#[test]
fn an_interrupted_batch_is_kept_sealed_and_resumes_registering_each_invoice_once() {
    let h = Harness::start();
    h.login("t");
    let dir = h.path("invoices");
    std::fs::create_dir(&dir).unwrap();
    let mut numbers = BTreeSet::new();
    for i in 1..=8 {
        let number = format!("FV/INT/{i}");
        let f = h.invoice_with(&number, |x| x.net(1_000 + i));
        std::fs::rename(&f, dir.join(format!("{i}.xml"))).unwrap();
        numbers.insert(number);
    }
    // Every part upload takes seconds: the signal lands while parts are uploading.
    h.control().inject(
        PresignedRoute::BatchPart,
        Fault::Latency {
            delay_ms: 4_000,
            count: None,
        },
    );
    let work = h.path("work");
    let child = h
        .process()
        .args([
            "send",
            "batch",
            s(&dir),
            "--work-dir",
            s(&work),
            "--part-size",
            "1kB",
            "--parallel",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state_file = work.join("batch-state.json");
    wait_for("the upload phase", || {
        phase(&state_file).as_deref() == Some("Uploading")
    });
    interrupt(&child);
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(130), "stdout: {out}\nstderr: {err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        err.contains(&format!(
            "ksef send batch --resume {}",
            s(&std::fs::canonicalize(&work).unwrap())
        )),
        "{err}"
    );

    // The state file: the clear part says where the batch stands, the secrets (the session key,
    // the presigned upload URLs) are sealed.
    let text = std::fs::read_to_string(&state_file).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["sealed"]["algorithm"], "AES-256-GCM");
    assert!(v["sealed"]["ciphertext"].as_str().unwrap().len() > 100);
    // The session was open when the signal came; the upload URLs it gave are sealed.
    let session = v["state"]["session"]["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !text.contains("__presigned") && !text.contains("sig="),
        "an upload URL is in clear in the state file"
    );
    let parts = v["state"]["parts"].as_array().unwrap().len();
    assert!(parts >= 3, "{parts} parts");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state file mode {mode:o}");
    }

    // Continue at full speed.
    h.control().clear_faults();
    let r = h.json(&["send", "batch", "--resume", s(&work)], 0);
    assert_eq!(r["accepted"], 8, "{r:#}");
    assert_eq!(r["rejected"], 0);
    assert_eq!(r["abandonedSessions"].as_array().map_or(0, Vec::len), 0);
    assert_eq!(
        r["session"],
        session.as_str(),
        "a second session was opened"
    );
    let ksef_numbers: BTreeSet<&str> = r["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap())
        .collect();
    assert_eq!(ksef_numbers.len(), 8);

    // KSeF holds each invoice once: one batch session with eight invoices, and the seller's
    // metadata names each invoice number once.
    let sessions = h.json_lines(&["session", "list", "--type", "batch"]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let reference = r["session"].as_str().unwrap();
    let invoices = h.json_lines(&["session", "invoices", reference]);
    assert_eq!(invoices.len(), 8);
    let today = ksef_time::business_date(chrono::Utc::now()).to_string();
    let yesterday =
        (ksef_time::business_date(chrono::Utc::now()) - chrono::TimeDelta::days(1)).to_string();
    let meta = h.json_lines(&[
        "invoice",
        "query",
        "--role",
        "seller",
        "--date-type",
        "invoicing",
        "--from",
        &yesterday,
        "--to",
        &today,
    ]);
    let mut seen: Vec<&str> = meta
        .iter()
        .map(|m| m["invoiceNumber"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    let expected: Vec<&str> = numbers.iter().map(String::as_str).collect();
    assert_eq!(seen, expected);
}

#[test]
fn an_interrupted_sync_keeps_a_consistent_store_and_the_next_run_completes_it() {
    let h = Harness::start();
    h.login("t");
    let files: Vec<_> = (1..=4)
        .map(|i| h.invoice_with(&format!("FV/SYNC/{i}"), |x| x.net(2_000 + i)))
        .collect();
    let mut args = vec!["send", "online"];
    args.extend(files.iter().map(|f| s(f)));
    let sent = h.json(&args, 0);
    let sent: BTreeSet<String> = sent["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent.len(), 4);

    // Downloads of export parts take seconds: the signal lands while a package is on its way.
    h.control().inject(
        PresignedRoute::ExportPart,
        Fault::Latency {
            delay_ms: 4_000,
            count: None,
        },
    );
    let store = h.path("store");
    let since =
        (ksef_time::business_date(chrono::Utc::now()) - chrono::TimeDelta::days(1)).to_string();
    let child = h
        .process()
        .args(["sync", "--store", s(&store), "--since", &since])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The store is opened after the signals are taken over and before the first export.
    wait_for("the store", || {
        store.join(ksef_store::DATABASE_FILE).exists()
    });
    // Usually lands while the first package is downloading; anywhere later or earlier in the
    // run the same holds.
    std::thread::sleep(Duration::from_millis(1_500));
    interrupt(&child);
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(130), "stdout: {out}\nstderr: {err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("next `ksef sync` continues"), "{err}");

    // Whatever was committed is whole: every stored invoice has its file.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let check = |deep: bool| {
        rt.block_on(async {
            let st = ksef_store::SqliteStore::open(&store).unwrap();
            st.verify(deep).await.unwrap()
        })
    };
    let c = check(true);
    assert!(c.missing_files.is_empty(), "{c:?}");
    assert!(c.damaged_files.is_empty(), "{c:?}");

    // The next run continues from the checkpoints and ends with each invoice once.
    h.control().clear_faults();
    let r = h.json(&["sync", "--store", s(&store)], 0);
    assert_eq!(r["storedInvoices"], 4, "{r:#}");
    let stored = h.json_lines(&["store", "query", "--store", s(&store)]);
    let numbers: BTreeSet<String> = stored
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 4);
    assert_eq!(numbers, sent);
    let c = check(true);
    assert_eq!(c.invoices, 4);
    assert!(
        c.missing_files.is_empty() && c.damaged_files.is_empty(),
        "{c:?}"
    );
    // A further run finds nothing new.
    let again = h.json(&["sync", "--store", s(&store)], 0);
    assert_eq!(again["newInvoices"], 0);
}
