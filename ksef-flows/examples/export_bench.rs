//! Export throughput: download + verify + decrypt + unpack of a package of at least 1 GB served
//! by an in-process `ksef-sim`, with the client's peak RSS, side by side with `openssl enc -d` +
//! `sha256sum` (both hashes) over the same encrypted parts, in the same run.
//!
//! ```text
//! cargo run --release -p ksef-flows --example export_bench [MEGABYTES] [--fsync] [--dir DIR]
//! ```
//!
//! The driver (this process) runs the simulator and seeds it with invoices of ~900 KB of random
//! printable text (deflate keeps ~80 % of it) until the package is about MEGABYTES (default
//! 1 050; the simulator's 1 GB cut is lifted). `--dir` puts the simulator's data and the
//! client's files there (e.g. `/dev/shm` to take the disk out of the measurement; default: the
//! system's temporary directory). The client runs in a child
//! process (this binary again) so that its peak RSS (`VmHWM`) is its own. The reference decrypts
//! and hashes the parts the simulator serves, two at a time (both cores), with the export's key.
//! Files are unpacked into the page cache (`Durability::ProcessCrash`) unless `--fsync` is given.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::process::Command;
use std::time::{Duration, Instant};

use ksef_flows::api::Environment;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::export::{DownloadOptions, Durability, ExportRequest};
use ksef_flows::query::{DateType, InvoiceQuery, SubjectType};
use ksef_flows::sample::SampleInvoice;
use ksef_flows::{Credentials, Ksef, RateLimitMode};

/// Size of the random text in each invoice.
const ITEM_BYTES: usize = 900_000;

/// Random printable ASCII without `<` and `&` (the invoice writer escapes nothing else that
/// matters), as little compressible as XML text gets.
fn random_text(seed: u64, n: usize) -> String {
    let alphabet: Vec<u8> = (0x21u8..0x7F)
        .filter(|b| *b != b'<' && *b != b'&' && *b != b'>')
        .collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = String::with_capacity(n);
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for i in 0..8 {
            if s.len() < n {
                let b = ((x >> (i * 8)) & 0xFF) as usize;
                s.push(char::from(alphabet[b % alphabet.len()]));
            }
        }
    }
    s
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Fields 14–17 of `/proc/self/stat` (utime, stime, cutime, cstime) in seconds.
fn stat_times() -> [f64; 4] {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // USER_HZ ticks; field 14 is the 12th after the command name
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    [t(11), t(12), t(13), t(14)]
}

/// CPU seconds (user + system, all threads) of this process so far.
fn own_cpu() -> f64 {
    let t = stat_times();
    t[0] + t[1]
}

/// CPU seconds of this process's reaped children so far.
fn children_cpu() -> f64 {
    let t = stat_times();
    t[2] + t[3]
}

/// The client: export, then download + verify + decrypt + unpack, timed.
async fn child(base_url: &str, nip: &str, out: &str, fsync: bool) {
    let ksef = Ksef::builder(Environment::Custom(base_url.to_string()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap();
    let nip = Nip::parse(nip).unwrap();
    let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
    let auth = ksef
        .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
        .await
        .unwrap();
    let from = ksef.now() - chrono::Duration::days(1);
    let query = InvoiceQuery::new(SubjectType::Subject2, DateType::PermanentStorage, from);
    let export = auth.start_export(&ExportRequest::new(query)).await.unwrap();
    let package = export.wait_for(Duration::from_secs(3600)).await.unwrap();
    let encrypted: u64 = package.parts.iter().map(|p| p.encrypted_size).sum();
    let options = DownloadOptions::default()
        .temp_dir(out)
        .durability(if fsync {
            Durability::Fsync
        } else {
            Durability::ProcessCrash
        });
    let rss_before = vm_hwm_kb();
    let cpu_started = own_cpu();
    let started = Instant::now();
    let decrypted = export.download(&package, &options).await.unwrap();
    let downloaded = started.elapsed();
    let dir = std::path::Path::new(out).join("invoices");
    let files = tokio::task::spawn_blocking(move || decrypted.unpack_to_dir(&dir))
        .await
        .unwrap()
        .unwrap();
    let total = started.elapsed();
    let cpu = own_cpu() - cpu_started;
    assert_eq!(files.invoices.len() as u64, package.invoice_count);
    let key = export.key();
    println!(
        "RESULT {} {} {} {} {:.3} {:.3} {} {} {} {} {:.2}",
        package.reference_number,
        package.parts.len(),
        encrypted,
        files.bytes,
        downloaded.as_secs_f64(),
        total.as_secs_f64(),
        vm_hwm_kb(),
        rss_before,
        hex(key.key_bytes()),
        hex(key.iv()),
        cpu,
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(child(
            &args[1],
            &args[2],
            &args[3],
            args.get(4).is_some_and(|a| a == "--fsync"),
        ));
        return;
    }
    let megabytes: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1050);
    let fsync = args.iter().any(|a| a == "--fsync");
    let base = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let data = tempfile::Builder::new()
        .prefix("ksef-export-bench-")
        .tempdir_in(&base)
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(ksef_sim::KsefSim::start(
            ksef_sim::SimConfig::default()
                .with_rate_limits(false)
                .with_data_dir(data.path().join("sim"))
                .with_invoicing(
                    ksef_sim::InvoicingConfig::default()
                        .with_processing_delay(Duration::ZERO)
                        .with_export_max_package_bytes(u64::MAX),
                ),
        ))
        .unwrap();
    let buyer = Nip::random();
    let seller = Nip::random();
    // deflate keeps about 82 % of the random text
    let count = (megabytes * 1_000_000 * 100 / 82).div_ceil(ITEM_BYTES as u64 + 2_000);
    eprintln!("seeding {count} invoices of ~{} KB ...", ITEM_BYTES / 1000);
    let t = Instant::now();
    for chunk in (0..count).collect::<Vec<_>>().chunks(64) {
        let xmls = chunk.iter().map(|i| {
            let mut s = SampleInvoice::new(seller.as_str(), &format!("BENCH/{i}"))
                .item(&random_text(*i, ITEM_BYTES));
            s.buyer_nip = buyer.as_str().to_string();
            ksef_sim::SeedInvoice::new(s.to_xml())
        });
        for r in sim.control().seed_invoices(xmls) {
            r.unwrap();
        }
    }
    eprintln!(
        "seeded in {:.1} s; the client exports (the simulator builds the package) ...",
        t.elapsed().as_secs_f64()
    );
    let out = data.path().join("client");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child",
        &sim.base_url(),
        buyer.as_str(),
        out.to_str().unwrap(),
    ]);
    if fsync {
        cmd.arg("--fsync");
    }
    let output = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(line) = text.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        panic!(
            "the client failed: {}\n{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let f: Vec<&str> = line.split(' ').collect();
    let (reference, parts, encrypted, unpacked) = (f[0], f[1], f[2].parse::<f64>().unwrap(), f[3]);
    let (downloaded_s, total_s, rss_kb, rss_before_kb) = (
        f[4].parse::<f64>().unwrap(),
        f[5].parse::<f64>().unwrap(),
        f[6],
        f[7],
    );
    let (key, iv) = (f[8], f[9]);
    let client_cpu = f[10].parse::<f64>().unwrap();
    // Reference: the same encrypted parts, as the simulator stores them.
    let parts_dir = data.path().join("sim/invoicing/exports").join(reference);
    let script = format!(
        "ls {dir}/*.aes | xargs -P2 -I{{}} sh -c 'sha256sum {{}} >/dev/null && \
         openssl enc -d -aes-256-cbc -K {key} -iv {iv} -in {{}} | sha256sum >/dev/null'",
        dir = parts_dir.display()
    );
    let t = Instant::now();
    let cpu_before = children_cpu();
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    let reference_s = t.elapsed().as_secs_f64();
    let reference_cpu = children_cpu() - cpu_before;
    assert!(status.success(), "the reference pipeline failed");
    let mb = encrypted / 1e6;
    let ours = mb / total_s;
    let theirs = mb / reference_s;
    println!("package: {mb:.0} MB encrypted in {parts} parts, {unpacked} bytes unpacked");
    println!(
        "ksef-flows  download+verify+decrypt: {downloaded_s:.2} s, + unpack{}: {total_s:.2} s = {ours:.0} MB/s, peak RSS {} MB (before the download {} MB)",
        if fsync { " (fsync)" } else { "" },
        rss_kb.parse::<u64>().unwrap_or(0) / 1024,
        rss_before_kb.parse::<u64>().unwrap_or(0) / 1024,
    );
    println!(
        "openssl enc -d + sha256sum x2 (2 parts at a time): {reference_s:.2} s = {theirs:.0} MB/s"
    );
    println!(
        "ratio: {:.2} (download+verify+decrypt alone: {:.2})",
        ours / theirs,
        reference_s / downloaded_s
    );
    // The client's CPU time includes the HTTP download (the simulator serving it runs in this
    // process and is not counted); the reference reads files.
    println!(
        "CPU (user+system): ksef-flows {client_cpu:.2} s, reference {reference_cpu:.2} s, ratio (reference / ours) {:.2}",
        reference_cpu / client_cpu
    );
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    rt.block_on(sim.shutdown());
}
