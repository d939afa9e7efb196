//! Batch preparation benchmark, our side of `cargo xtask bench batch`: generates `N` FA (3)
//! invoices from a template exactly as `../shared/bench/peer_batch_prep.py` does (the same
//! substitutions, so the same bytes), and prepares a batch of them — pre-flight, Zip archive,
//! parts, AES-256-CBC, every SHA-256, the sealed state file: everything up to the open request.
//! Prints one line of `key=value` pairs, peak RSS read from `/proc/self/status` (`VmHWM`), CPU
//! time of the preparation (all threads) from `/proc/self/stat`.
//!
//! `cargo run --release -p ksef-flows --example batch_prep -- N TEMPLATE.xml [LEVEL]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use ksef_flows::batch::{Batch, BatchInput, BatchOptions, StateKey};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system, all threads) of this process so far, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime (fields 14 and 15) in USER_HZ ticks
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).expect("N");
    let template = std::fs::read_to_string(args.next().expect("TEMPLATE.xml")).expect("template");
    let level: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(6);
    let base = template
        .replace("#nip#", "5265877635")
        .replace("#invoicing_date#", "2026-11-20");
    let dir = tempfile::tempdir().expect("temporary directory");
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let inputs = (0..n).map(move |i| {
        let xml = base.replace("#invoice_number#", &i.to_string());
        BatchInput::bytes(format!("invoice_{i}.xml"), xml.into_bytes())
    });
    let batch = Batch::new(dir.path().join("work"), StateKey::generate().unwrap()).with_options(
        BatchOptions::default()
            .compression_level(level)
            .check_session_limits(n as u64 <= ksef_flows::batch::MAX_INVOICES),
    );
    let prepared = batch.prepare(inputs).expect("prepare");
    let total = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_started;
    assert_eq!(prepared.packed, n, "every invoice passed pre-flight");
    println!(
        "n={n} raw_bytes~{} zip_bytes={} parts={} level={level} total_s={total:.3} cpu_s={cpu:.2} peak_rss_mb={:.0}",
        n * template.len(),
        prepared.archive_size,
        prepared.parts.len(),
        vm_hwm_kib() as f64 / 1024.0
    );
}
