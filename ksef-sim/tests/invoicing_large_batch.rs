//! Release-mode measurement (ignored by default): pushes a ~2 GB batch through
//! the simulator and reports the process's peak RSS (VmHWM).
//!
//! ```text
//! cargo test --release -p ksef-sim --test invoicing_large_batch -- --ignored --nocapture
//! ```
//!
//! The simulator runs in a child process (this test binary re-executed with
//! `KSEF_SIM_CHILD=1`, running `sim_child_process`), so its peak RSS is measured
//! alone; the client (this process) streams too: archive written to disk,
//! parts encrypted file to file, uploads streamed from disk. Size:
//! `KSEF_SIM_LARGE_BATCH_BYTES` (default 2 000 000 000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod harness;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use cbc::cipher::{Array, BlockModeEncrypt, KeyIvInit, consts::U16};
use harness::*;
use ksef_sim::InvoicingConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PART: u64 = 100_000_000;

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Encrypts `len` bytes of `input` (AES-256-CBC/PKCS#7, streaming) into `out`;
/// returns (encrypted size, Base64 SHA-256 of the ciphertext).
fn encrypt_stream(k: &Keys, mut input: impl Read, out: &mut impl Write) -> (u64, String) {
    let mut enc = cbc::Encryptor::<aes::Aes256>::new(&k.key.into(), &k.iv.into());
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let cap = buf.len() - 16;
    let mut held = 0usize;
    let mut total = 0u64;
    loop {
        let mut n = 0;
        while held + n < cap {
            let r = input.read(&mut buf[held + n..cap]).unwrap();
            if r == 0 {
                break;
            }
            n += r;
        }
        let avail = held + n;
        if n == 0 {
            let pad = 16 - avail % 16;
            buf[avail..avail + pad].fill(pad as u8);
            let len = avail + pad;
            let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..len]);
            enc.encrypt_blocks(blocks);
            hash.update(&buf[..len]);
            out.write_all(&buf[..len]).unwrap();
            total += len as u64;
            return (total, b64(&hash.finalize()));
        }
        let complete = avail / 16 * 16;
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..complete]);
        enc.encrypt_blocks(blocks);
        hash.update(&buf[..complete]);
        out.write_all(&buf[..complete]).unwrap();
        total += complete as u64;
        buf.copy_within(complete..avail, 0);
        held = avail - complete;
    }
}

/// Writes a stored (uncompressed) Zip of ~950 kB invoices totalling `target` bytes.
fn write_archive(path: &Path, nip: &str, target: u64) -> (u64, String, usize) {
    let filler: String = (0..940_000)
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    let mut w = zip::ZipWriter::new(BufWriter::with_capacity(
        1 << 20,
        File::create(path).unwrap(),
    ));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut written = 0u64;
    let mut count = 0usize;
    while written < target {
        let inv = String::from_utf8(invoice_fa3(nip, &format!("L{count}")))
            .unwrap()
            .replace("<Fa>", &format!("<Fa><!--{filler}-->"));
        assert!(inv.len() < 1_000_000);
        w.start_file(format!("inv-{count:05}.xml"), opts).unwrap();
        w.write_all(inv.as_bytes()).unwrap();
        written += inv.len() as u64;
        count += 1;
    }
    w.finish().unwrap().flush().unwrap();
    let mut f = BufReader::with_capacity(1 << 20, File::open(path).unwrap());
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    (size, b64(&h.finalize()), count)
}

/// Child mode: start a simulator, print its URL, NIP and token, serve until
/// stdin closes, then print the peak RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper of two_gigabyte_batch_peak_rss (runs only with KSEF_SIM_CHILD=1)"]
async fn sim_child_process() {
    if std::env::var("KSEF_SIM_CHILD").as_deref() != Ok("1") {
        return;
    }
    let cfg = default_config().with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(1))
            .with_session_close_delay(Duration::from_millis(1)),
    );
    let sim = ksef_sim::KsefSim::start(cfg).await.unwrap();
    let nip = random_nip();
    let token = sim.control().issue_test_access_token(&nip);
    println!("SIM-URL {}", sim.base_url());
    println!("SIM-NIP {nip}");
    println!("SIM-TOKEN {token}");
    println!("SIM-HWM-START {}", vm_hwm_kib());
    std::io::stdout().flush().unwrap();
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
    println!("SIM-HWM {}", vm_hwm_kib());
    std::io::stdout().flush().unwrap();
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "release-mode measurement: ~2 GB of disk traffic"]
async fn two_gigabyte_batch_peak_rss() {
    use std::io::BufRead;
    let target: u64 = std::env::var("KSEF_SIM_LARGE_BATCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000_000);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "sim_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KSEF_SIM_CHILD", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut field = |key: &str| -> String {
        for line in lines.by_ref() {
            let line = line.unwrap();
            // libtest may print "test name ... " on the same line first.
            let marker = format!("{key} ");
            if let Some(pos) = line.find(&marker) {
                return line[pos + marker.len()..].trim().to_string();
            }
        }
        panic!("child did not report {key}");
    };
    let (base, nip, token) = (field("SIM-URL"), field("SIM-NIP"), field("SIM-TOKEN"));
    let rss_start: u64 = field("SIM-HWM-START").parse().unwrap();
    let env = connect(None, base, token, nip).await;

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("batch.zip");
    let t0 = Instant::now();
    let (size, hash, count) = {
        let (a, nip) = (archive.clone(), env.nip.clone());
        tokio::task::spawn_blocking(move || write_archive(&a, &nip, target))
            .await
            .unwrap()
    };
    let k = Keys::random();
    let parts = size.div_ceil(PART);
    let chunk = size.div_ceil(parts);
    let mut file_parts = Vec::new();
    for i in 0..parts {
        let (a, p) = (archive.clone(), dir.path().join(format!("part-{i}")));
        let kk = Keys {
            key: k.key,
            iv: k.iv,
        };
        let (esize, ehash) = tokio::task::spawn_blocking(move || {
            let mut f = File::open(&a).unwrap();
            f.seek(SeekFrom::Start(i * chunk)).unwrap();
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&p).unwrap());
            let r = encrypt_stream(
                &kk,
                BufReader::with_capacity(1 << 20, f).take(chunk),
                &mut out,
            );
            out.flush().unwrap();
            r
        })
        .await
        .unwrap();
        file_parts.push(json!({ "ordinalNumber": i + 1, "fileSize": esize, "fileHash": ehash }));
    }
    std::fs::remove_file(&archive).unwrap();
    let prep = t0.elapsed();
    let body = json!({
        "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
        "batchFile": { "fileSize": size, "fileHash": hash, "fileParts": file_parts },
        "encryption": env.encryption(&k),
    });
    let r = env.post("/sessions/batch", &body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let session = v["referenceNumber"].as_str().unwrap().to_string();
    let t1 = Instant::now();
    for (i, req) in v["partUploadRequests"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let p = dir.path().join(format!("part-{i}"));
        let file = tokio::fs::File::open(&p).await.unwrap();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
        let mut b = env
            .http
            .put(req["url"].as_str().unwrap())
            .body(reqwest::Body::wrap_stream(stream));
        for (hk, hv) in req["headers"].as_object().unwrap() {
            b = b.header(hk.as_str(), hv.as_str().unwrap());
        }
        assert_eq!(b.send().await.unwrap().status(), 201);
        std::fs::remove_file(&p).unwrap();
    }
    let upload = t1.elapsed();
    let t2 = Instant::now();
    assert_eq!(
        env.post(&format!("/sessions/batch/{session}/close"), &json!({}))
            .await
            .status(),
        204
    );
    let fin = env.wait_session(&session).await;
    let processing = t2.elapsed();
    assert_eq!(fin["status"]["code"], 200, "{fin}");
    assert_eq!(
        fin["successfulInvoiceCount"].as_u64().unwrap() as usize,
        count
    );
    // Stop the child and read its peak RSS.
    drop(child.stdin.take());
    let peak: u64 = field("SIM-HWM").parse().unwrap();
    let _ = child.wait();
    let client_peak = vm_hwm_kib();
    println!(
        "large batch: archive {size} B ({count} invoices, {parts} parts); prep {prep:?}, upload {upload:?}, processing {processing:?}; \
         simulator VmHWM after start {} MiB, peak {} MiB (client process peak {} MiB)",
        rss_start / 1024,
        peak / 1024,
        client_peak / 1024
    );
    assert!(
        peak < 200 * 1024,
        "simulator peak RSS {peak} KiB exceeds 200 MiB"
    );
}
