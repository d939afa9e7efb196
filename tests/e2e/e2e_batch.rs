//! Batch sessions end to end against `ksef-sim` over loopback HTTP: every input's outcome at its
//! position, Zip and TarGz in several parts, limits checked before a session is opened, faults
//! on the part uploads and on polling, an expired upload URL, and the state file read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_common::batch::*;
use e2e_common::*;
use ksef_flows::api::Environment;
use ksef_flows::batch::{
    Batch, BatchEvent, BatchFailure, BatchLimit, BatchOptions, BatchPhase, Compression, StateKey,
};
use ksef_flows::{FlowError, InvoiceOutcome, Ksef, RateLimitMode};
use ksef_sim::{Fault, InvoicingConfig, SimConfig};

const PART_PUT: &str = "PUT /__presigned/batch-part";
const STATUS: &str = "GET /sessions/{referenceNumber}";

fn sim() -> Sim {
    Sim::start(
        SimConfig::default().with_rate_limits(false).with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::from_millis(20))
                .with_session_close_delay(Duration::from_millis(50)),
        ),
    )
}

fn client(sim: &Sim) -> Ksef {
    Ksef::builder(Environment::Custom(sim.base_url.clone()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap()
}

/// Checks every result against its expectation, in input order; returns the KSeF numbers.
fn check_outcomes(
    report: &ksef_flows::batch::BatchReport,
    set: &[(String, Vec<u8>)],
    expect: &[Expect],
) -> Vec<String> {
    assert_eq!(report.results.len(), expect.len());
    let mut numbers = Vec::new();
    for (i, (r, e)) in report.results.iter().zip(expect).enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.name, set[i].0);
        match e {
            Expect::Accepted => {
                let InvoiceOutcome::Accepted { ksef_number, .. } = &r.outcome else {
                    panic!("#{i}: {:?}", r.outcome);
                };
                assert!(
                    ksef_flows::crypto::KsefNumber::parse(ksef_number).is_ok(),
                    "{ksef_number}"
                );
                assert_eq!(
                    r.invoice_hash.as_deref(),
                    Some(ksef_flows::crypto::b64::sha256_b64(&set[i].1).as_str())
                );
                numbers.push(ksef_number.clone());
            }
            Expect::Rejected(code) => {
                assert_eq!(
                    r.outcome.rejection_code(),
                    Some(*code),
                    "#{i}: {:?}",
                    r.outcome
                )
            }
            Expect::Stopped => assert!(
                matches!(
                    r.outcome,
                    InvoiceOutcome::NotSent(FlowError::Preflight { index, .. }) if index == i
                ),
                "#{i}: {:?}",
                r.outcome
            ),
        }
    }
    let unique: HashSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), numbers.len(), "KSeF numbers are unique");
    assert!(report.unmatched.is_empty(), "{:?}", report.unmatched);
    numbers
}

/// The session UPO lists exactly the accepted invoices, with the hashes of the input bytes.
fn check_upo(report: &ksef_flows::batch::BatchReport, numbers: &[String]) {
    assert!(!report.upo.is_empty(), "the session UPO was downloaded");
    let in_upo: HashSet<&str> = report
        .upo
        .iter()
        .flat_map(|u| u.documents.iter().map(|d| d.ksef_number.as_str()))
        .collect();
    let accepted: HashSet<&str> = numbers.iter().map(String::as_str).collect();
    assert_eq!(in_upo, accepted);
    for u in &report.upo {
        assert_eq!(
            Some(u.session_reference_number.as_str()),
            report.reference_number.as_deref()
        );
    }
}

#[test]
fn ten_thousand_invoices_each_get_their_outcome_in_input_order() {
    let sim = sim();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let broken = [17, 4242, 9998];
        let (set, expect) = invoice_set(&ksef, &nip, "BIG", 10_000, 100, &broken);
        let dir = tempfile::tempdir().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let batch = Batch::new(dir.path().join("work"), StateKey::generate().unwrap())
            .with_options(BatchOptions::default().part_size(400_000))
            .on_progress(move |e| {
                if !matches!(e, BatchEvent::InputPrepared { .. }) {
                    ev.lock().unwrap().push(e.clone())
                }
            });
        let report = batch.send_inputs(&auth, as_inputs(&set)).await.unwrap();
        let numbers = check_outcomes(&report, &set, &expect);
        assert_eq!(numbers.len(), 10_000 - 100 - 3);
        assert_eq!(report.rejected(), 100);
        assert_eq!(report.not_sent(), 3);
        assert_eq!(report.unknown(), 0);
        assert_eq!(report.status.as_ref().unwrap().code, 200);
        assert_eq!(report.invoice_count, Some(9_997));
        assert_eq!(report.successful_invoice_count, Some(9_897));
        check_upo(&report, &numbers);

        let events = events.lock().unwrap().clone();
        let parts = events
            .iter()
            .filter(|e| matches!(e, BatchEvent::PartUploaded { .. }))
            .count();
        assert!(parts >= 3, "several parts: {parts}");
        assert!(events.iter().any(|e| matches!(
            e,
            BatchEvent::UpoVerified {
                documents: 9_897,
                ..
            }
        )));
        // the work directory is gone once the report is out
        assert!(!dir.path().join("work").exists());
        // the server's view: each accepted input exactly once, one session
        let counts = accepted_hashes(&auth).await;
        assert_eq!(counts.len(), 9_897);
        assert!(counts.values().all(|c| *c == 1));
        assert_eq!(batch_sessions(&auth).await.len(), 1);
    });
}

#[test]
fn targz_in_several_parts_with_a_duplicate_of_an_earlier_batch() {
    let sim = sim();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let (set, expect) = invoice_set(&ksef, &nip, "TGZ", 120, 40, &[5]);
        let dir = tempfile::tempdir().unwrap();
        let options = BatchOptions::default()
            .compression(Compression::TarGz)
            .part_size(20_000);
        let first = Batch::new(dir.path().join("a"), StateKey::generate().unwrap())
            .with_options(options.clone());
        let prepared = first.prepare_async(as_inputs(&set)).await.unwrap();
        assert!(prepared.parts.len() >= 3, "{}", prepared.parts.len());
        let report = first.send(&auth).await.unwrap();
        let numbers = check_outcomes(&report, &set, &expect);
        check_upo(&report, &numbers);

        // a second batch repeats input #0 (same seller, kind and number): 440 with the
        // original's KSeF number; the new one is accepted
        let (more, _) = invoice_set(&ksef, &nip, "TGZ2", 2, 0, &[]);
        let again = vec![set[0].clone(), more[0].clone(), more[1].clone()];
        let second =
            Batch::new(dir.path().join("b"), StateKey::generate().unwrap()).with_options(options);
        let report2 = second.send_inputs(&auth, as_inputs(&again)).await.unwrap();
        assert_eq!(report2.results[0].outcome.rejection_code(), Some(440));
        assert_eq!(
            report2.results[0].outcome.original_ksef_number(),
            report.results[0].outcome.ksef_number()
        );
        assert!(report2.results[1].outcome.ksef_number().is_some());
        assert!(report2.results[2].outcome.ksef_number().is_some());
    });
}

#[test]
fn limits_are_rejected_before_a_session_is_opened() {
    let sim = sim();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let (set, _) = invoice_set(&ksef, &nip, "LIM", 300, 0, &[]);
        let dir = tempfile::tempdir().unwrap();
        // 300 invoices in parts of 1 000 bytes: far more than 50 parts
        let batch = Batch::new(dir.path().join("w"), StateKey::generate().unwrap())
            .with_options(BatchOptions::default().part_size(1_000));
        let e = batch.send_inputs(&auth, as_inputs(&set)).await.unwrap_err();
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
        let tiny = set[0].1.clone();
        let many = (0..10_001)
            .map(move |i| ksef_flows::batch::BatchInput::bytes(format!("{i}"), tiny.clone()));
        let batch = Batch::new(dir.path().join("v"), StateKey::generate().unwrap());
        let e = batch.send_inputs(&auth, many).await.unwrap_err();
        assert!(
            matches!(
                e,
                FlowError::BatchLimit {
                    limit: BatchLimit::Invoices,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            batch_sessions(&auth).await.is_empty(),
            "no session was opened"
        );
    });
}

#[test]
fn faults_on_part_uploads_and_polling_lose_and_duplicate_nothing() {
    let sim = sim();
    let control = sim.control();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let (set, expect) = invoice_set(&ksef, &nip, "FLT", 400, 0, &[]);
        let dir = tempfile::tempdir().unwrap();
        let retries = Arc::new(Mutex::new(Vec::new()));
        let r2 = retries.clone();
        let c2 = control.clone();
        let mut retry = ksef_flows::RetryPolicy::default();
        retry.max_attempts = 8;
        retry.base_delay = Duration::from_millis(20);
        retry.max_delay = Duration::from_millis(200);
        let batch = Batch::new(dir.path().join("w"), StateKey::generate().unwrap())
            .with_options(
                BatchOptions::default()
                    .part_size(30_000)
                    .upload_concurrency(3)
                    .upload_retry(retry),
            )
            .on_progress(move |e| {
                if let BatchEvent::PartRetry {
                    ordinal, reason, ..
                } = e
                {
                    let mut r = r2.lock().unwrap();
                    r.push((*ordinal, reason.clone()));
                    if r.len() == 2 {
                        // after the two dropped connections: a burst of 503s and a 500
                        c2.inject(
                            PART_PUT,
                            Fault::ServerError {
                                status: 503,
                                count: 4,
                            },
                        );
                        c2.inject(
                            PART_PUT,
                            Fault::ServerError {
                                status: 500,
                                count: 1,
                            },
                        );
                    }
                }
            });
        let prepared = batch.prepare_async(as_inputs(&set)).await.unwrap();
        assert!(prepared.parts.len() >= 4, "{}", prepared.parts.len());
        // part uploads: two connections dropped mid-body (then 5xx, armed above);
        // status polling: a 429 storm with Retry-After
        control.inject(
            PART_PUT,
            Fault::DropConnection {
                after_bytes: 5_000,
                count: 2,
            },
        );
        control.inject(
            STATUS,
            Fault::RateLimitStorm {
                count: 3,
                retry_after: 1,
            },
        );
        let report = batch.send(&auth).await.unwrap();
        let numbers = check_outcomes(&report, &set, &expect);
        check_upo(&report, &numbers);
        let retries = retries.lock().unwrap().clone();
        assert_eq!(
            retries.len(),
            7,
            "every injected failure was retried: {retries:?}"
        );
        assert!(
            retries[..2].iter().all(|(_, r)| !r.starts_with("HTTP 5")),
            "{retries:?}"
        );
        assert_eq!(
            retries
                .iter()
                .filter(|(_, r)| r.starts_with("HTTP 503"))
                .count(),
            4
        );
        for (_, reason) in retries.iter() {
            assert!(
                !reason.contains("sig="),
                "no presigned URL in an event: {reason}"
            );
        }
        assert!(ksef.rate_limited_responses() >= 3);
        let counts = accepted_hashes(&auth).await;
        assert_eq!(counts.len(), 400);
        assert!(counts.values().all(|c| *c == 1));
        assert_eq!(batch_sessions(&auth).await.len(), 1);
    });
}

#[test]
fn an_expired_upload_url_is_typed_and_the_package_goes_to_a_new_session() {
    let sim = sim();
    let control = sim.control();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let (set, expect) = invoice_set(&ksef, &nip, "EXP", 150, 50, &[]);
        let dir = tempfile::tempdir().unwrap();
        let batch = Batch::new(dir.path().join("w"), StateKey::generate().unwrap()).with_options(
            BatchOptions::default()
                .part_size(20_000)
                .upload_concurrency(1),
        );
        batch.prepare_async(as_inputs(&set)).await.unwrap();
        // the first URL KSeF hands out is already expired
        control.inject(
            "POST /sessions/batch",
            Fault::ExpiredPresignedUrls { count: 1 },
        );
        let e = batch.send(&auth).await.unwrap_err();
        assert!(
            matches!(
                e,
                FlowError::PartUrlExpired {
                    ordinal: 1,
                    status: 403,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.batch_needs_new_session());
        // never closed, never silently re-opened: one open session, nothing registered
        let sessions = batch_sessions(&auth).await;
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].code, 100);
        assert_eq!(batch.phase().unwrap(), Some(BatchPhase::Uploading));
        // resuming does not open a second session either: the same typed error
        let e = batch.resume(&auth).await.unwrap_err();
        assert!(matches!(e, FlowError::PartUrlExpired { .. }), "{e}");
        assert_eq!(batch_sessions(&auth).await.len(), 1);

        let first = sessions[0].reference_number.clone();
        let report = batch.resend_in_new_session(&auth).await.unwrap();
        assert_ne!(report.reference_number.as_deref(), Some(first.as_str()));
        assert_eq!(report.abandoned_sessions, vec![first]);
        let numbers = check_outcomes(&report, &set, &expect);
        check_upo(&report, &numbers);
        let counts = accepted_hashes(&auth).await;
        assert_eq!(counts.len(), numbers.len());
        assert!(counts.values().all(|c| *c == 1));
    });
}

/// Reads the state file the way an outsider would: the clear JSON, and the sealed part opened
/// with the state key (AES-256-GCM, the clear state as associated data).
fn open_state_file(path: &std::path::Path, key: &StateKey) -> (String, serde_json::Value) {
    use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
    let text = std::fs::read_to_string(path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let raw_key = ksef_flows::crypto::b64::decode("k", &key.to_base64()).unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&raw_key).unwrap();
    let nonce: [u8; 12] =
        ksef_flows::crypto::b64::decode("n", v["sealed"]["nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
    let ct =
        ksef_flows::crypto::b64::decode("c", v["sealed"]["ciphertext"].as_str().unwrap()).unwrap();
    let mut aad = format!("{}/{}\n", v["format"].as_str().unwrap(), v["version"]).into_bytes();
    canonical(&v["state"], &mut aad);
    let plain = cipher
        .decrypt(
            &aes_gcm::Nonce::from(nonce),
            Payload {
                msg: &ct,
                aad: &aad,
            },
        )
        .expect("the sealed part opens with the state key");
    (text, serde_json::from_slice(&plain).unwrap())
}

/// JSON with sorted keys and no whitespace.
fn canonical(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(serde_json::to_string(k).unwrap().as_bytes());
                out.push(b':');
                canonical(&m[k], out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(serde_json::to_string(other).unwrap().as_bytes()),
    }
}

#[test]
fn the_state_file_holds_no_secret_in_clear() {
    let sim = sim();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let (set, _) = invoice_set(&ksef, &nip, "SEC", 60, 0, &[]);
        let dir = tempfile::tempdir().unwrap();
        let key = StateKey::generate().unwrap();
        let state_path = dir.path().join("w").join("batch-state.json");
        let snapshots = Arc::new(Mutex::new(Vec::new()));
        let (s2, p2) = (snapshots.clone(), state_path.clone());
        // read the file back at every step of the run
        let batch = Batch::new(dir.path().join("w"), key.clone())
            .with_options(
                BatchOptions::default()
                    .part_size(10_000)
                    .keep_work_dir(true),
            )
            .on_progress(move |e| {
                if !matches!(
                    e,
                    BatchEvent::InputPrepared { .. } | BatchEvent::PartSealed { .. }
                ) && let Ok(t) = std::fs::read_to_string(&p2)
                {
                    s2.lock().unwrap().push(t);
                }
            });
        let report = batch.send_inputs(&auth, as_inputs(&set)).await.unwrap();
        assert_eq!(report.accepted(), 60);
        let (text, sealed) = open_state_file(&state_path, &key);
        snapshots.lock().unwrap().push(text);
        let sym_key =
            ksef_flows::crypto::b64::decode("k", sealed["key"].as_str().unwrap()).unwrap();
        assert_eq!(sym_key.len(), 32);
        let upload_urls: Vec<String> = sealed["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["url"].as_str().unwrap().to_string())
            .collect();
        assert!(!upload_urls.is_empty());
        let access = auth.access_token().unwrap();
        let refresh = auth.refresh_token().unwrap();
        let mut needles: Vec<String> = vec![
            ksef_flows::crypto::b64::encode(&sym_key),
            ksef_flows::crypto::b64::encode_url(&sym_key),
            sym_key.iter().map(|b| format!("{b:02x}")).collect(),
            sym_key.iter().map(|b| format!("{b:02X}")).collect(),
            key.to_base64().to_string(),
            access.expose().to_string(),
            refresh.expose().to_string(),
            "eyJ".into(),
            "Bearer".into(),
            "sig=".into(),
        ];
        needles.extend(upload_urls);
        let snapshots = snapshots.lock().unwrap();
        assert!(snapshots.len() >= 5, "{}", snapshots.len());
        for s in snapshots.iter() {
            for n in &needles {
                assert!(!s.contains(n.as_str()), "secret {n:.12}… in the state file");
            }
            assert!(!s.as_bytes().windows(32).any(|w| w == sym_key.as_slice()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&state_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    });
}

#[test]
fn a_session_with_no_valid_invoice_fails_typed_with_every_rejection_in_the_report() {
    let sim = sim();
    client_rt().block_on(async {
        let ksef = client(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        // every invoice is issued tomorrow: KSeF rejects each (450) and fails the session (445)
        let (set, expect) = invoice_set(&ksef, &nip, "NONE", 12, 1, &[]);
        assert!(expect.iter().all(|e| matches!(e, Expect::Rejected(450))));
        let dir = tempfile::tempdir().unwrap();
        let batch = Batch::new(dir.path().join("w"), StateKey::generate().unwrap())
            .with_options(BatchOptions::default().part_size(10_000));
        let e = batch.send_inputs(&auth, as_inputs(&set)).await.unwrap_err();
        let FlowError::BatchRejected {
            failure,
            code,
            report,
            ..
        } = e
        else {
            panic!("{e}");
        };
        assert_eq!((failure, code), (BatchFailure::NoValidInvoices, 445));
        assert_eq!(report.status.as_ref().map(|s| s.code), Some(445));
        check_outcomes(&report, &set, &expect);
        assert_eq!(report.rejected(), 12);
        assert!(accepted_hashes(&auth).await.is_empty());
        // one session, not re-opened
        assert_eq!(batch_sessions(&auth).await.len(), 1);
    });
}
