//! The README's main job, `ksef demo`, run as a process at every instant where the UTC and
//! Europe/Warsaw calendar dates differ or the offset changes (`ksef_time::HARD_INSTANTS`):
//! the embedded simulator and the client both read a clock started at that instant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn run_demo(instant: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ksef"))
        .args(["demo", "--at", instant])
        .env("RUST_LOG", "warn")
        .output()
        .expect("running ksef demo");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn demo_passes_at_every_hard_instant() {
    // Two at a time: each run starts a simulator and a client in its own process.
    let instants: Vec<&str> = ksef_time::HARD_INSTANTS.to_vec();
    let mut failures = Vec::new();
    for pair in instants.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|i| {
                let i = (*i).to_string();
                std::thread::spawn(move || (i.clone(), run_demo(&i)))
            })
            .collect();
        for h in handles {
            let (instant, (ok, text)) = h.join().unwrap();
            // The demo prints the business date it runs on: the Warsaw date of the instant.
            let t = chrono::DateTime::parse_from_rfc3339(&instant)
                .unwrap()
                .to_utc();
            let date = ksef_time::business_date(t).to_string();
            let next = ksef_time::business_date(t + chrono::Duration::minutes(5)).to_string();
            let dated = text.contains(&format!("KSeF business date {date}"))
                || text.contains(&format!("KSeF business date {next}"));
            if !ok || !dated || !text.contains("done in") {
                failures.push(format!("--- at {instant}:\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn demo_rejects_an_instant_that_is_not_rfc3339() {
    let out = Command::new(env!("CARGO_BIN_EXE_ksef"))
        .args(["demo", "--at", "tomorrow"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}
