//! Memory of a large batch: a child process (this test binary re-executed, running
//! `memory_child`) prepares and sends a ~2 GB batch (10 000 invoices of ~370 KB each: ~520 lines
//! whose descriptions are 512 characters of random text — the schema's longest `P_7` — so the
//! archive stays large and every invoice is valid FA (3)) to the simulator running in this process, and
//! reports its own peak RSS (`VmHWM` of `/proc/self/status`). RSS does not depend on the load of
//! the machine, only on what the process holds.
//!
//! `cargo nextest run -p ksef-tests --test e2e_batch_memory --run-ignored only --no-capture`
//! (archive size: `KSEF_BATCH_MEMORY_BYTES`, default 2 000 000 000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod e2e_common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_common::*;
use ksef_flows::api::Environment;
use ksef_flows::batch::{Batch, BatchEvent, BatchInput, BatchOptions, StateKey};
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::{Credentials, Ksef, RateLimitMode};
use ksef_sim::{InvoicingConfig, SimConfig};

const LIMIT_KIB: u64 = 64 * 1024;
const INVOICES: usize = 10_000;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Random text of `len` characters from the Base64 alphabet (about 6 bits of entropy each).
fn noise(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed | 1;
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for shift in (0..60).step_by(6) {
            s.push(ALPHABET[((x >> shift) & 63) as usize] as char);
        }
    }
    s.truncate(len);
    s
}

/// Longest `P_7` (line description) FA (3) allows.
const P7_MAX: usize = 512;

/// A valid FA (3) invoice of `nip` carrying `noise_len` characters of random text, in lines of
/// at most [`P7_MAX`] characters.
fn big_invoice(
    nip: &str,
    i: usize,
    now: chrono::DateTime<chrono::Utc>,
    noise_len: usize,
) -> Vec<u8> {
    let text = noise(i as u64 + 1, noise_len);
    let mut chunks = text
        .as_bytes()
        .chunks(P7_MAX)
        .map(|c| std::str::from_utf8(c).unwrap());
    let xml = ksef_flows::sample::SampleInvoice::new_at(nip, &format!("MEM/{i}"), now)
        .item(chunks.next().unwrap_or("-"))
        .to_xml();
    let xml = String::from_utf8(xml).unwrap();
    let mut rows = String::with_capacity(noise_len + noise_len / 2);
    for (n, chunk) in chunks.enumerate() {
        rows.push_str(&format!(
            "    <FaWiersz>\n      <NrWierszaFa>{}</NrWierszaFa>\n      <P_7>{chunk}</P_7>\n      \
             <P_8A>szt.</P_8A>\n      <P_8B>1</P_8B>\n      <P_9A>0.01</P_9A>\n      \
             <P_11>0.01</P_11>\n      <P_12>23</P_12>\n    </FaWiersz>\n",
            n + 2
        ));
    }
    let tail = "</FaWiersz>\n</Fa>";
    assert!(
        xml.contains(tail),
        "the sample invoice ends its only line before </Fa>"
    );
    xml.replacen(tail, &format!("</FaWiersz>\n{rows}</Fa>"), 1)
        .into_bytes()
}

#[test]
#[ignore = "entry point of the child process of the memory test (does nothing on its own)"]
fn memory_child() {
    let Ok(url) = std::env::var("KSEF_MEMORY_CHILD_URL") else {
        return;
    };
    let nip = Nip::parse(&std::env::var("KSEF_MEMORY_CHILD_NIP").unwrap()).unwrap();
    let size: usize = std::env::var("KSEF_MEMORY_CHILD_SIZE")
        .unwrap()
        .parse()
        .unwrap();
    let dir = std::env::var("KSEF_MEMORY_CHILD_DIR").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ksef = Ksef::builder(Environment::Custom(url))
            .rate_limit_mode(RateLimitMode::Off)
            .build()
            .unwrap();
        let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
        let auth = ksef
            .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
            .await
            .unwrap();
        let now = ksef.now();
        let n2 = nip.clone();
        let inputs = (0..INVOICES).map(move |i| {
            BatchInput::bytes(
                format!("mem-{i}.xml"),
                big_invoice(n2.as_str(), i, now, size),
            )
        });
        let started = Instant::now();
        let batch = Batch::new(dir, StateKey::generate().unwrap())
            .with_options(BatchOptions::default())
            .on_progress(move |e| {
                if let BatchEvent::InputPrepared { index, .. } = e
                    && index % 2000 == 0
                {
                    println!(
                        "{:>7.1}s input {index}, peak RSS {} KiB",
                        started.elapsed().as_secs_f64(),
                        vm_hwm_kib()
                    );
                }
                if let BatchEvent::SessionFinished { .. }
                | BatchEvent::SessionClosed { .. }
                | BatchEvent::UpoVerified { .. }
                | BatchEvent::ResultsCollected { .. } = e
                {
                    println!("peak RSS {} KiB", vm_hwm_kib());
                }
                if !matches!(
                    e,
                    BatchEvent::InputPrepared { .. }
                        | BatchEvent::PartUploading { .. }
                        | BatchEvent::Processing { .. }
                ) {
                    println!("{:>7.1}s {e:?}", started.elapsed().as_secs_f64());
                }
            });
        let prepared = batch.prepare_async(inputs).await.unwrap();
        println!(
            "PREPARED {} {}",
            prepared.archive_size,
            prepared.parts.len()
        );
        println!("peak RSS after preparing: {} KiB", vm_hwm_kib());
        let report = batch.send(&auth).await.unwrap();
        println!("ACCEPTED {}", report.accepted());
        println!("RSS {}", vm_hwm_kib());
    });
}

#[test]
#[ignore = "sends a ~2 GB batch (several minutes, ~4 GB of temporary disk)"]
fn two_gigabyte_batch_in_64_mb() {
    let target: u64 = std::env::var("KSEF_BATCH_MEMORY_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000_000);
    // the Base64-alphabet text deflates to about 3/4 of its size
    let size = usize::try_from(target * 4 / 3 / INVOICES as u64).unwrap();
    let sim = Sim::start(
        SimConfig::default().with_rate_limits(false).with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::from_millis(10))
                .with_session_close_delay(Duration::from_millis(10)),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let nip = Nip::random();
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "memory_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KSEF_MEMORY_CHILD_URL", &sim.base_url)
        .env("KSEF_MEMORY_CHILD_NIP", nip.as_str())
        .env("KSEF_MEMORY_CHILD_SIZE", size.to_string())
        .env("KSEF_MEMORY_CHILD_DIR", dir.path().join("work"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut archive = 0u64;
    let mut accepted = 0usize;
    let mut rss = 0u64;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        println!("child: {line}");
        let mut w = line.split_whitespace();
        match (w.next(), w.next()) {
            (Some("PREPARED"), Some(v)) => archive = v.parse().unwrap(),
            (Some("ACCEPTED"), Some(v)) => accepted = v.parse().unwrap(),
            (Some("RSS"), Some(v)) => rss = v.parse().unwrap(),
            _ => {}
        }
    }
    assert!(child.wait().unwrap().success());
    println!(
        "archive {:.2} GB, {accepted} invoices accepted, client peak RSS {:.1} MiB, {:.0} s",
        archive as f64 / 1e9,
        rss as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
    assert!(archive >= target * 9 / 10, "the archive is {archive} bytes");
    assert_eq!(accepted, INVOICES);
    assert!(rss > 0 && rss <= LIMIT_KIB, "client peak RSS {rss} KiB");
}
