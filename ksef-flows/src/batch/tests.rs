//! Preparation checked by independent tools: each part decrypted with `openssl enc`, the parts
//! concatenated and hashed, the archive read back by Python.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::{Arc, Mutex};

use sha2::Digest as _;

use super::*;

fn invoice(nip: &str, n: usize) -> Vec<u8> {
    crate::sample::SampleInvoice::new_at(
        nip,
        &format!("FV/{n}"),
        "2026-11-30T10:00:00Z".parse().unwrap(),
    )
    .item(&format!("Pozycja {n} {}", "x".repeat(n % 500)))
    .to_xml()
}

fn inputs() -> Vec<BatchInput> {
    let mut v: Vec<BatchInput> = (0..300)
        .map(|i| BatchInput::bytes(format!("in/faktura {i}.xml"), invoice("5265877635", i)))
        .collect();
    v[7] = BatchInput::bytes("broken.xml", b"<Faktura><a></Faktura>".to_vec());
    v[8] = BatchInput::bytes(
        "bom.xml",
        [b"\xEF\xBB\xBF".as_slice(), &invoice("5265877635", 8)].concat(),
    );
    v[9] = BatchInput::file("/nonexistent/ksef-rs-test.xml");
    v
}

fn openssl_decrypt(key: &SymmetricKey, part: &std::path::Path) -> Vec<u8> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let out = Command::new("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-K"])
        .arg(hex(key.key_bytes()))
        .arg("-iv")
        .arg(hex(key.iv()))
        .arg("-in")
        .arg(part)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(compression: Compression) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("work");
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let batch = Batch::new(&dir, StateKey::from_bytes([3; 32]))
        .with_options(
            BatchOptions::default()
                .compression(compression)
                .part_size(50_000)
                .workers(3),
        )
        .on_progress(move |e| ev.lock().unwrap().push(e.clone()));
    let prepared = batch.prepare(inputs()).unwrap();
    assert_eq!(
        (prepared.inputs, prepared.packed, prepared.stopped),
        (300, 297, 3)
    );
    assert!(prepared.parts.len() >= 3, "{}", prepared.parts.len());

    let (state, secrets) = batch.store.load().unwrap().unwrap();
    assert_eq!(state.phase, BatchPhase::Prepared);
    let mut archive = Vec::new();
    for (i, p) in prepared.parts.iter().enumerate() {
        let path = dir.join(&state.parts[i].file);
        let enc = std::fs::read(&path).unwrap();
        assert_eq!(enc.len() as u64, p.size);
        assert_eq!(ksef_crypto::b64::sha256_b64(&enc), p.sha256);
        let plain = openssl_decrypt(&secrets.key, &path);
        assert_eq!(plain.len() as u64, p.plain_size);
        if i + 1 < prepared.parts.len() {
            assert_eq!(
                plain.len(),
                50_000,
                "parts are contiguous and full but the last"
            );
        }
        archive.extend_from_slice(&plain);
    }
    assert_eq!(archive.len() as u64, prepared.archive_size);
    assert_eq!(
        ksef_crypto::b64::sha256_b64(&archive),
        prepared.archive_sha256
    );

    // the archive holds exactly the valid inputs, under their entry names, byte for byte
    let path = d.path().join("archive");
    std::fs::write(&path, &archive).unwrap();
    let script = match compression {
        Compression::Zip => {
            "import sys,zipfile,hashlib\nz=zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist(): print(i.filename, hashlib.sha256(z.read(i)).hexdigest())"
        }
        Compression::TarGz => {
            "import sys,tarfile,hashlib\nt=tarfile.open(sys.argv[1],'r:gz')\nfor m in t.getmembers(): print(m.name, hashlib.sha256(t.extractfile(m).read()).hexdigest())"
        }
    };
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let expected: String = (0..300)
        .filter(|i| ![7, 8, 9].contains(i))
        .map(|i| {
            let bytes = invoice("5265877635", i);
            format!(
                "{} {}\n",
                input::entry_name(i, &format!("in/faktura {i}.xml")),
                sha2::Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        })
        .collect();
    assert_eq!(listed, expected);

    // the inputs file maps every input, the stopped ones with their typed errors
    let sha: [u8; 32] = ksef_crypto::b64::decode("t", &state.inputs.sha256)
        .unwrap()
        .try_into()
        .unwrap();
    let records = manifest::read_all(&dir, &sha).unwrap();
    assert_eq!(records.len(), 300);
    assert!(matches!(
        records[7].stopped.as_ref().unwrap().to_error(7),
        FlowError::Preflight {
            index: 7,
            source: ksef_crypto::CryptoError::Preflight {
                rule: ksef_crypto::PreflightRule::WellFormed,
                ..
            }
        }
    ));
    assert!(matches!(
        records[8].stopped.as_ref().unwrap().to_error(8),
        FlowError::Preflight {
            source: ksef_crypto::CryptoError::Preflight {
                rule: ksef_crypto::PreflightRule::Utf8Bom,
                ..
            },
            ..
        }
    ));
    assert!(matches!(
        records[9].stopped.as_ref().unwrap().to_error(9),
        FlowError::ReadInput { index: 9, .. }
    ));
    assert_eq!(
        records[10].hash.as_deref(),
        Some(ksef_crypto::b64::sha256_b64(invoice("5265877635", 10)).as_str())
    );

    // progress: every input once, in order; every part sealed; the summary last
    let events = events.lock().unwrap();
    let indices: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            BatchEvent::InputPrepared { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(indices, (0..300).collect::<Vec<_>>());
    let sealed = events
        .iter()
        .filter(|e| matches!(e, BatchEvent::PartSealed { .. }))
        .count();
    assert_eq!(sealed, prepared.parts.len());
    assert!(matches!(
        events.last(),
        Some(BatchEvent::Prepared { packed: 297, .. })
    ));

    // a second preparation in the same directory is refused
    let again = batch.prepare(inputs()).unwrap_err();
    assert!(matches!(again, FlowError::BatchState { .. }), "{again}");
}

#[test]
fn zip_parts_decrypt_with_openssl_to_the_declared_archive() {
    check(Compression::Zip);
}

#[test]
fn targz_parts_decrypt_with_openssl_to_the_declared_archive() {
    check(Compression::TarGz);
}

#[test]
fn limits_are_checked_before_anything_is_sent() {
    let d = tempfile::tempdir().unwrap();
    // too many parts: 50 at most
    let batch = Batch::new(d.path().join("a"), StateKey::from_bytes([1; 32]))
        .with_options(BatchOptions::default().part_size(1000));
    let e = batch.prepare(inputs()).unwrap_err();
    assert!(
        matches!(
            e,
            FlowError::BatchLimit {
                limit: BatchLimit::Parts,
                max: 50,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("parts per archive"), "{e}");
    // nothing is left behind, and the directory can be used again
    assert!(batch.phase().unwrap().is_none());
    let names: Vec<_> = std::fs::read_dir(d.path().join("a")).unwrap().collect();
    assert!(names.is_empty(), "{names:?}");

    // part size above 100 MB
    let batch = Batch::new(d.path().join("b"), StateKey::from_bytes([1; 32]))
        .with_options(BatchOptions::default().part_size(MAX_PART_SIZE + 1));
    let e = batch.prepare(inputs()).unwrap_err();
    assert!(
        matches!(
            e,
            FlowError::BatchLimit {
                limit: BatchLimit::PartSize,
                ..
            }
        ),
        "{e}"
    );

    // more than 10 000 invoices (tiny identical inputs are enough: the count is the limit)
    let tiny = invoice("5265877635", 1);
    let many = (0..10_001).map(move |i| BatchInput::bytes(format!("{i}"), tiny.clone()));
    let batch = Batch::new(d.path().join("c"), StateKey::from_bytes([1; 32]));
    let e = batch.prepare(many).unwrap_err();
    assert!(
        matches!(
            e,
            FlowError::BatchLimit {
                limit: BatchLimit::Invoices,
                max: 10_000,
                actual: 10_001
            }
        ),
        "{e}"
    );
    // without the session checks the same batch is prepared
    let tiny = invoice("5265877635", 1);
    let many = (0..10_001).map(move |i| BatchInput::bytes(format!("{i}"), tiny.clone()));
    let batch = Batch::new(d.path().join("d"), StateKey::from_bytes([1; 32]))
        .with_options(BatchOptions::default().check_session_limits(false));
    assert_eq!(batch.prepare(many).unwrap().packed, 10_001);
}

#[test]
fn every_final_failure_status_has_its_type() {
    let table = [
        (405, BatchFailure::Verification),
        (415, BatchFailure::KeyDecryption),
        (420, BatchFailure::TooManyInvoices),
        (430, BatchFailure::Decompression),
        (435, BatchFailure::PartDecryption),
        (440, BatchFailure::Cancelled),
        (445, BatchFailure::NoValidInvoices),
        (500, BatchFailure::Internal),
        (499, BatchFailure::Other(499)),
    ];
    for (code, failure) in table {
        assert_eq!(BatchFailure::from_code(code), failure, "{code}");
    }
}
