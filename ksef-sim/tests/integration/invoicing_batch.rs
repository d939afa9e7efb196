//! Batch sessions over real HTTP: Zip and TarGz happy paths (multi-part,
//! presigned uploads, per-invoice statuses, UPO validated by xmllint), missing
//! part → 21205, bad part hash, wrong key → 415, bad archive → 430, Authorization
//! on upload and expired presigned URLs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::io::Write;

use harness::*;
use ksef_sim::Fault;
use serde_json::{Value, json};

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn targz_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

/// Splits the archive into `n` contiguous parts and encrypts each separately.
fn encrypted_parts(k: &Keys, archive: &[u8], n: usize) -> Vec<Vec<u8>> {
    let chunk = archive.len().div_ceil(n);
    archive
        .chunks(chunk)
        .map(|c| aes_encrypt(&k.key, &k.iv, c))
        .collect()
}

fn open_body(
    env: &Env,
    k: &Keys,
    archive: &[u8],
    parts: &[Vec<u8>],
    compression: Option<&str>,
) -> Value {
    let file_parts: Vec<Value> = parts
        .iter()
        .enumerate()
        .map(
            |(i, p)| json!({ "ordinalNumber": i + 1, "fileSize": p.len(), "fileHash": sha_b64(p) }),
        )
        .collect();
    let mut batch_file =
        json!({ "fileSize": archive.len(), "fileHash": sha_b64(archive), "fileParts": file_parts });
    if let Some(c) = compression {
        batch_file["compressionType"] = json!(c);
    }
    json!({
        "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
        "batchFile": batch_file,
        "encryption": env.encryption(k),
        "offlineMode": false,
    })
}

async fn open_batch(env: &Env, body: &Value) -> (String, Vec<Value>) {
    let r = env.post("/sessions/batch", body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let reqs = v["partUploadRequests"].as_array().unwrap().clone();
    (v["referenceNumber"].as_str().unwrap().to_string(), reqs)
}

/// Uploads exactly as instructed: method, URL and headers, no Authorization.
async fn upload(env: &Env, req: &Value, data: &[u8]) -> reqwest::StatusCode {
    assert_eq!(req["method"], "PUT");
    let mut b = env.http.put(req["url"].as_str().unwrap());
    for (k, v) in req["headers"].as_object().unwrap() {
        b = b.header(k.as_str(), v.as_str().unwrap());
    }
    b.body(data.to_vec()).send().await.unwrap().status()
}

async fn close_batch(env: &Env, session: &str) -> reqwest::Response {
    env.post(&format!("/sessions/batch/{session}/close"), &json!({}))
        .await
}

fn invoices(env: &Env, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("invoice-{i}.xml"),
                invoice_fa3(&env.nip, &unique_number()),
            )
        })
        .collect()
}

async fn happy_path(compression: Option<&str>) {
    let env = start(default_config()).await;
    let k = Keys::random();
    let mut entries = invoices(&env, 5);
    let bad = String::from_utf8(invoice_fa3(&env.nip, &unique_number()))
        .unwrap()
        .replace("</Faktura>", "");
    entries.push(("broken.xml".into(), bad.into_bytes()));
    let archive = if compression == Some("TarGz") {
        targz_of(&entries)
    } else {
        zip_of(&entries)
    };
    let parts = encrypted_parts(&k, &archive, 3);
    let (session, reqs) =
        open_batch(&env, &open_body(&env, &k, &archive, &parts, compression)).await;
    assert_eq!(&session[8..12], "-SB-");
    assert_eq!(reqs.len(), 3);
    // Upload in reverse order: order must not matter.
    for (req, part) in reqs.iter().zip(&parts).rev() {
        assert_eq!(upload(&env, req, part).await, 201);
    }
    assert_eq!(
        env.get_json(&format!("/sessions/{session}")).await["status"]["code"],
        100
    );
    let r = close_batch(&env, &session).await;
    assert_eq!(r.status(), 204);
    let fin = env.wait_session(&session).await;
    assert_eq!(fin["status"]["code"], 200, "{fin}");
    assert_eq!(fin["invoiceCount"], 6);
    assert_eq!(fin["successfulInvoiceCount"], 5);
    assert_eq!(fin["failedInvoiceCount"], 1);

    let list = env
        .get_json(&format!("/sessions/{session}/invoices?pageSize=100"))
        .await;
    let list = list["invoices"].as_array().unwrap();
    assert_eq!(list.len(), 6);
    for (name, data) in &entries[..5] {
        let inv = list
            .iter()
            .find(|i| i["invoiceFileName"] == name.as_str())
            .unwrap();
        assert_eq!(inv["status"]["code"], 200, "{inv}");
        assert_eq!(inv["invoiceHash"], sha_b64(data));
        let ksef = inv["ksefNumber"].as_str().unwrap();
        assert!(ksef_number_ok(ksef));
        // The stored invoice is byte-identical.
        let r = env.get_as_owner(&format!("/invoices/ksef/{ksef}")).await;
        assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
    }
    let failed = env
        .get_json(&format!("/sessions/{session}/invoices/failed"))
        .await;
    let failed = failed["invoices"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["invoiceFileName"], "broken.xml");
    assert_eq!(failed[0]["status"]["code"], 450);

    let page = &fin["upo"]["pages"][0];
    let upo = reqwest::get(page["downloadUrl"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&upo)
            .contains("<CalkowitaLiczbaDokumentow>5</CalkowitaLiczbaDokumentow>")
    );
    assert_upo_valid(&upo);
    // Uploads after close are refused.
    assert_ne!(upload(&env, &reqs[0], &parts[0]).await, 201);
}

#[tokio::test]
async fn batch_zip_happy_path() {
    happy_path(None).await;
}

#[tokio::test]
async fn batch_targz_happy_path() {
    happy_path(Some("TarGz")).await;
}

#[tokio::test]
async fn missing_part_gives_21205_and_bad_part_hash_is_refused() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let entries = invoices(&env, 2);
    let archive = zip_of(&entries);
    let parts = encrypted_parts(&k, &archive, 2);
    let (session, reqs) =
        open_batch(&env, &open_body(&env, &k, &archive, &parts, Some("Zip"))).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    // Part 2 with wrong bytes (same length): hash mismatch, not stored.
    let mut corrupted = parts[1].clone();
    corrupted[0] ^= 1;
    assert_eq!(upload(&env, &reqs[1], &corrupted).await, 400);
    // Truncated: size mismatch.
    assert_eq!(
        upload(&env, &reqs[1], &parts[1][..parts[1].len() - 1]).await,
        400
    );
    let r = close_batch(&env, &session).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let detail = &v["exception"]["exceptionDetailList"][0];
    assert_eq!(detail["exceptionCode"], 21205);
    assert!(
        detail["details"][0].as_str().unwrap().contains("'2'"),
        "{v}"
    );
    // Now upload it properly and close.
    assert_eq!(upload(&env, &reqs[1], &parts[1]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 200);
}

#[tokio::test]
async fn presigned_upload_rules() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let archive = zip_of(&invoices(&env, 1));
    let parts = encrypted_parts(&k, &archive, 1);
    let (_session, reqs) = open_batch(&env, &open_body(&env, &k, &archive, &parts, None)).await;
    let url = reqs[0]["url"].as_str().unwrap();
    // Authorization header breaks a presigned URL.
    let r = env
        .http
        .put(url)
        .bearer_auth(&env.token)
        .header("x-ms-blob-type", "BlockBlob")
        .body(parts[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Missing the required header.
    let r = env
        .http
        .put(url)
        .body(parts[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Tampered signature.
    let r = env
        .http
        .put(url.replace("sig=", "sig=00"))
        .header("x-ms-blob-type", "BlockBlob")
        .body(parts[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Expired presigned URLs (fault injection on the opening operation).
    env.control().inject(
        ksef_sim::ops::BATCH_SESSION_OPEN,
        Fault::ExpiredPresignedUrls { count: 1 },
    );
    let (_s2, reqs2) = open_batch(&env, &open_body(&env, &k, &archive, &parts, None)).await;
    assert_eq!(upload(&env, &reqs2[0], &parts[0]).await, 403);
}

#[tokio::test]
async fn wrong_key_gives_415_and_bad_archive_gives_430() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let archive = zip_of(&invoices(&env, 1));
    let parts = encrypted_parts(&k, &archive, 1);
    let mut body = open_body(&env, &k, &archive, &parts, None);
    body["encryption"] = env.encryption_of(&[1u8; 16], &k.iv); // AES-128-sized key: not a session key
    let (session, reqs) = open_batch(&env, &body).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 415);

    // Not an archive at all (hash and size declared correctly).
    let garbage = b"this is not a zip file, just some bytes".repeat(10);
    let parts = encrypted_parts(&k, &garbage, 1);
    let (session, reqs) = open_batch(&env, &open_body(&env, &k, &garbage, &parts, None)).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 430);

    // Declared archive hash does not match the decrypted content → 405.
    let parts = encrypted_parts(&k, &archive, 1);
    let mut body = open_body(&env, &k, &archive, &parts, None);
    body["batchFile"]["fileHash"] = json!(sha_b64(b"another archive"));
    let (session, reqs) = open_batch(&env, &body).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 405);

    // Parts encrypted with another key: part decryption fails → 435.
    let other = key_that_fails_padding(&k, &archive);
    let parts = encrypted_parts(&other, &archive, 1);
    let (session, reqs) = open_batch(&env, &open_body(&env, &k, &archive, &parts, None)).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 435);
}

#[tokio::test]
async fn open_validation_and_stuck_processing() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let archive = zip_of(&invoices(&env, 1));
    let parts = encrypted_parts(&k, &archive, 1);
    // 51 parts → 21161.
    let mut body = open_body(&env, &k, &archive, &parts, None);
    body["batchFile"]["fileParts"] = json!(
        (1..=51)
            .map(|i| json!({ "ordinalNumber": i, "fileSize": 16, "fileHash": sha_b64(b"x") }))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        exception_code(env.post("/sessions/batch", &body).await).await,
        21161
    );
    // Part larger than 100 MB (+ padding) → 21157.
    let mut body = open_body(&env, &k, &archive, &parts, None);
    body["batchFile"]["fileParts"][0]["fileSize"] = json!(100_000_017u64);
    assert_eq!(
        exception_code(env.post("/sessions/batch", &body).await).await,
        21157
    );
    // Unknown compression type → 21405.
    let body = open_body(&env, &k, &archive, &parts, Some("Rar"));
    assert_eq!(
        exception_code(env.post("/sessions/batch", &body).await).await,
        21405
    );

    // Processing stuck at 150 for a while, then completes.
    env.control().inject(
        ksef_sim::ops::BATCH_SESSION_CLOSE,
        Fault::StuckProcessing {
            duration_ms: 2000,
            count: 1,
        },
    );
    let (session, reqs) = open_batch(&env, &open_body(&env, &k, &archive, &parts, None)).await;
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    let first = env.get_json(&format!("/sessions/{session}")).await;
    assert_eq!(first["status"]["code"], 150);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 200);
}

/// Runs one single-part Zip batch and returns the final session status and invoice list.
async fn run_batch(env: &Env, entries: &[(String, Vec<u8>)]) -> (Value, Vec<Value>) {
    let k = Keys::random();
    let archive = zip_of(entries);
    let parts = encrypted_parts(&k, &archive, 1);
    let (session, reqs) = open_batch(env, &open_body(env, &k, &archive, &parts, None)).await;
    assert_eq!(upload(env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(env, &session).await.status(), 204);
    let fin = env.wait_session(&session).await;
    let list = env
        .get_json(&format!("/sessions/{session}/invoices?pageSize=100"))
        .await;
    (fin, list["invoices"].as_array().unwrap().clone())
}

#[tokio::test]
async fn attachments_need_the_taxpayer_option() {
    let env = start(default_config()).await;
    let with_attachment = |n: &str| {
        String::from_utf8(invoice_fa3(&env.nip, n))
            .unwrap()
            .replace("</Faktura>", "<Zalacznik><BlokDanych><ZNaglowek>x</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>")
            .into_bytes()
    };
    let (fin, list) = run_batch(&env, &[("a.xml".into(), with_attachment(&unique_number()))]).await;
    assert_eq!(fin["status"]["code"], 445);
    assert_eq!(list[0]["status"]["code"], 415);
    // Enable attachments for this taxpayer through the test-data endpoint.
    let r = env
        .post("/testdata/attachment", &json!({ "nip": env.nip }))
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let (fin, list) = run_batch(&env, &[("a.xml".into(), with_attachment(&unique_number()))]).await;
    assert_eq!(fin["status"]["code"], 200, "{fin}");
    assert_eq!(list[0]["status"]["code"], 200);
}

#[tokio::test]
async fn dropped_upload_can_be_resumed() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let archive = zip_of(&invoices(&env, 2));
    let parts = encrypted_parts(&k, &archive, 1);
    let (session, reqs) = open_batch(&env, &open_body(&env, &k, &archive, &parts, None)).await;
    env.control().inject(
        ksef_sim::PresignedRoute::BatchPart,
        Fault::DropConnection {
            after_bytes: 100,
            count: 1,
        },
    );
    let mut b = env
        .http
        .put(reqs[0]["url"].as_str().unwrap())
        .header("x-ms-blob-type", "BlockBlob");
    b = b.body(parts[0].clone());
    let outcome = b.send().await;
    let failed = match outcome {
        Err(_) => true,
        Ok(r) => r.status() != 201 || r.bytes().await.is_err(),
    };
    assert!(failed, "the dropped upload must not succeed");
    // Not stored: closing now reports the missing part; the upload can be repeated.
    assert_eq!(
        exception_code(close_batch(&env, &session).await).await,
        21205
    );
    assert_eq!(upload(&env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(&env, &session).await.status(), 204);
    assert_eq!(env.wait_session(&session).await["status"]["code"], 200);
}

/// An archive already built, sent as one part (archive type `compression`).
async fn run_batch_archive(env: &Env, archive: &[u8], compression: Option<&str>) -> Value {
    let k = Keys::random();
    let parts = encrypted_parts(&k, archive, 1);
    let (session, reqs) = open_batch(env, &open_body(env, &k, archive, &parts, compression)).await;
    assert_eq!(upload(env, &reqs[0], &parts[0]).await, 201);
    assert_eq!(close_batch(env, &session).await.status(), 204);
    env.wait_session(&session).await
}

#[tokio::test]
async fn oversized_invoice_fails_alone_read_no_further_than_past_the_limit() {
    let env = start(default_config()).await;
    let big = String::from_utf8(invoice_fa3(&env.nip, &unique_number()))
        .unwrap()
        .replace("<Fa>", &format!("<Fa><!--{}-->", "x".repeat(3_100_000)))
        .into_bytes();
    let small = invoice_fa3(&env.nip, &unique_number());
    let (fin, list) = run_batch(
        &env,
        &[
            ("big.xml".into(), big.clone()),
            ("small.xml".into(), small.clone()),
        ],
    )
    .await;
    assert_eq!(fin["status"]["code"], 200);
    let b = list
        .iter()
        .find(|i| i["invoiceFileName"] == "big.xml")
        .unwrap();
    assert_eq!(b["status"]["code"], 450);
    // The oversized file is read one byte past the 3 MB limit, not to its end: its hash is of
    // what was read.
    assert_eq!(b["invoiceHash"], sha_b64(&big[..3_000_001]));
    let s = list
        .iter()
        .find(|i| i["invoiceFileName"] == "small.xml")
        .unwrap();
    assert_eq!(s["status"]["code"], 200);
    assert_eq!(s["invoiceHash"], sha_b64(&small));
}

#[tokio::test]
async fn decompression_bombs_end_in_430_and_the_simulator_keeps_serving() {
    let env = start(default_config()).await;
    // 40 files of 3 MB of zeros: ~120 MB from a ~120 KB archive, far past the ratio budget
    // (100 times the archive, at least 64 MB).
    let zeros: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("bomb-{i}.xml"), vec![0u8; 3_000_000]))
        .collect();
    for (compression, archive) in [(None, zip_of(&zeros)), (Some("TarGz"), targz_of(&zeros))] {
        assert!(archive.len() < 1_000_000, "{}", archive.len());
        let fin = run_batch_archive(&env, &archive, compression).await;
        assert_eq!(fin["status"]["code"], 430, "{compression:?}: {fin}");
        let detail = fin["status"]["details"][0].as_str().unwrap_or_default();
        assert!(detail.contains("rozpakowuje"), "{detail}");
    }
    // Still answering.
    assert!(env.challenge().await["challenge"].is_string());
}

/// A Zip whose second central-directory entry points at the first file's bytes.
fn overlapping_zip(data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("a.xml", opts).unwrap();
    w.write_all(data).unwrap();
    w.shallow_copy_file("a.xml", "b.xml").unwrap();
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn overlapping_zip_entries_are_refused() {
    let env = start(default_config()).await;
    let invoice = invoice_fa3(&env.nip, &unique_number());
    let archive = overlapping_zip(&invoice);
    let fin = run_batch_archive(&env, &archive, None).await;
    assert_eq!(fin["status"]["code"], 430, "{fin}");
    let detail = fin["status"]["details"][0].as_str().unwrap_or_default();
    assert!(detail.contains("overlap"), "{detail}");
}
