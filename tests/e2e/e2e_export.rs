//! End-to-end: exports and retrieval of ksef-flows against ksef-sim over loopback HTTP — a
//! package of 10 000 invoices over many parts (Zip and TarGz) byte-identical to what was sent,
//! `onlyMetadata`, faults on the part downloads (wrong hash, HTML page, dropped connection,
//! expired URLs), a waiting export slot (21182), the metadata stream over more than 10 000
//! records with truncation, one invoice by KSeF number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_common::*;
use futures::TryStreamExt as _;
use ksef_flows::api::Environment;
use ksef_flows::crypto::Nip;
use ksef_flows::export::{
    Compression, DownloadOptions, Durability, ExportPackage, ExportRequest, PartFailure,
};
use ksef_flows::query::{DateType, InvoiceQuery, SortOrder, SubjectType};
use ksef_flows::sample::SampleInvoice;
use ksef_flows::{AuthSession, ExportEvent, FlowError, Ksef, Progress, RateLimitMode};
use ksef_sim::{Fault, InvoicingConfig, SeedInvoice, SimConfig};

const PART: &str = "GET /__presigned/export-part";
const STATUS: &str = "GET /invoices/exports/{referenceNumber}";

/// `n` invoices bought by `buyer` from one random seller, seeded straight into the simulator;
/// KSeF number → exact bytes.
fn seed_bought(sim: &Sim, buyer: &Nip, tag: &str, n: usize) -> HashMap<String, Vec<u8>> {
    let seller = Nip::random();
    let xmls: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut s =
                SampleInvoice::new(seller.as_str(), &format!("{tag}/{i}")).net(100 + i as u64);
            s.buyer_nip = buyer.as_str().to_string();
            s.to_xml()
        })
        .collect();
    let numbers = sim
        .control()
        .seed_invoices(xmls.iter().map(|x| SeedInvoice::new(x.clone())));
    numbers
        .into_iter()
        .zip(xmls)
        .map(|(k, x)| (k.unwrap(), x))
        .collect()
}

fn since_yesterday(ksef: &Ksef) -> chrono::DateTime<chrono::Utc> {
    ksef_time::start_of_business_day(ksef.today() - chrono::Days::new(1))
}

fn received(ksef: &Ksef) -> InvoiceQuery {
    InvoiceQuery::new(
        SubjectType::Subject2,
        DateType::PermanentStorage,
        since_yesterday(ksef),
    )
}

fn unlimited(sim: &Sim) -> Ksef {
    Ksef::builder(Environment::Custom(sim.base_url.clone()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap()
}

fn quick() -> DownloadOptions {
    DownloadOptions::default().durability(Durability::ProcessCrash)
}

async fn export(
    auth: &AuthSession,
    request: ExportRequest,
) -> (ksef_flows::export::Export, ExportPackage) {
    let e = auth.start_export(&request).await.unwrap();
    let p = e.wait().await.unwrap();
    (e, p)
}

#[test]
fn ten_thousand_invoices_in_many_parts_zip_and_targz_byte_identical() {
    let sim = Sim::start(
        SimConfig::default()
            .with_invoicing(InvoicingConfig::default().with_export_part_size(512 * 1024)),
    );
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let sent = seed_bought(&sim, &nip, "BIG", 10_000);
        // noise: invoices this NIP sold must not be in a Subject2 export
        let _sold = {
            let xmls: Vec<Vec<u8>> = valid_invoices(&nip, "SOLD", 20);
            sim.control()
                .seed_invoices(xmls.into_iter().map(SeedInvoice::new))
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dir = tempfile::tempdir().unwrap();
        for compression in [Compression::Zip, Compression::TarGz] {
            let events = Arc::new(Mutex::new(Vec::new()));
            let ev = Arc::clone(&events);
            let request = ExportRequest::new(received(&ksef))
                .compression(compression.clone())
                .progress(Progress::new(move |e: &ExportEvent| {
                    ev.lock().unwrap().push(e.clone())
                }));
            let (e, package) = export(&auth, request).await;
            assert_eq!(package.invoice_count, 10_000);
            assert!(!package.is_truncated);
            assert_eq!(package.compression, compression);
            assert!(package.parts.len() >= 3, "{} parts", package.parts.len());
            let out = dir.path().join(compression.as_str());
            let decrypted = e.download(&package, &quick()).await.unwrap();
            let files = tokio::task::spawn_blocking(move || decrypted.unpack_to_dir(&out))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(files.invoices.len(), 10_000);
            for f in &files.invoices {
                let bytes = std::fs::read(&f.path).unwrap();
                assert_eq!(
                    Some(&bytes),
                    sent.get(&f.ksef_number),
                    "{} differs from what was sent",
                    f.ksef_number
                );
                assert_eq!(
                    f.path.file_name().unwrap().to_str().unwrap(),
                    format!("{}.xml", f.ksef_number)
                );
            }
            // metadata: every record describes the invoice sent
            let numbers: HashSet<&str> = files
                .metadata
                .iter()
                .map(|m| m.ksef_number.0.as_str())
                .collect();
            assert_eq!(numbers, sent.keys().map(String::as_str).collect());
            for m in &files.metadata {
                let bytes = &sent[&m.ksef_number.0];
                assert_eq!(m.invoice_hash.0, ksef_flows::crypto::b64::sha256_b64(bytes));
                assert_eq!(m.buyer.identifier.value.as_deref(), Some(nip.as_str()));
                assert!(
                    String::from_utf8_lossy(bytes)
                        .contains(&format!("<P_2>{}</P_2>", m.invoice_number))
                );
            }
            // progress: every part verified once, nothing secret in the events
            let events = events.lock().unwrap();
            let verified = events
                .iter()
                .filter(|e| matches!(e, ExportEvent::PartVerified { .. }))
                .count();
            assert_eq!(verified, package.parts.len());
            assert!(format!("{events:?}").find("sig=").is_none());
            assert!(
                format!("{package:?}").find("sig=").is_none(),
                "URLs are redacted"
            );
        }
        // no temporary file stays next to the unpacked invoices
        for sub in ["Zip", "TarGz"] {
            let names: Vec<String> = std::fs::read_dir(dir.path().join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names.len(), 10_000);
            assert!(
                names
                    .iter()
                    .all(|n| n.ends_with(".xml") && !n.starts_with('.'))
            );
        }
    });
}

#[test]
fn only_metadata_iterator_and_metadata_match_the_query() {
    let sim = Sim::start(
        SimConfig::default().with_invoicing(InvoicingConfig::default().with_export_part_size(4096)),
    );
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let sent = seed_bought(&sim, &nip, "META", 60);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // the metadata query, an independent path in the simulator
        let queried: Vec<_> = auth
            .query_metadata(received(&ksef).page_size(10))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(queried.len(), 60);

        let (e, package) = export(
            &auth,
            ExportRequest::new(received(&ksef)).only_metadata(true),
        )
        .await;
        assert_eq!(package.invoice_count, 60);
        let decrypted = e.download(&package, &quick()).await.unwrap();
        let metadata = decrypted.metadata().unwrap();
        assert_eq!(
            metadata, queried,
            "_metadata.json equals the metadata query"
        );
        let dir = tempfile::tempdir().unwrap();
        let files = decrypted.unpack_to_dir(dir.path()).unwrap();
        assert!(files.invoices.is_empty());
        assert_eq!(files.metadata.len(), 60);

        // the iterator form, Zip and TarGz
        for compression in [Compression::Zip, Compression::TarGz] {
            let (e, package) = export(
                &auth,
                ExportRequest::new(received(&ksef)).compression(compression),
            )
            .await;
            let decrypted = e.download(&package, &quick()).await.unwrap();
            let got: Vec<_> = tokio::task::spawn_blocking(move || {
                decrypted.invoices().unwrap().collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(got.len(), 60);
            for inv in got {
                assert_eq!(&inv.bytes, &sent[&inv.ksef_number]);
                assert_eq!(inv.metadata.ksef_number.0, inv.ksef_number);
            }
        }
    });
}

/// A package whose parts are small, for the fault tests.
async fn faulty_setup(sim: &Sim) -> (Ksef, AuthSession, HashMap<String, Vec<u8>>) {
    let ksef = ksef(sim);
    let (nip, auth) = xades_auth(&ksef).await;
    let sent = seed_bought(sim, &nip, "FAULT", 40);
    tokio::time::sleep(Duration::from_millis(300)).await;
    (ksef, auth, sent)
}

fn fault_sim() -> Sim {
    Sim::start(
        SimConfig::default().with_invoicing(InvoicingConfig::default().with_export_part_size(2048)),
    )
}

fn part_error(e: FlowError) -> (u32, PartFailure) {
    match e {
        FlowError::ExportPart {
            ordinal, failure, ..
        } => (ordinal, failure),
        other => panic!("expected an ExportPart error, got {other:?}"),
    }
}

#[test]
fn transient_part_faults_are_retried_and_the_result_is_exact() {
    let sim = fault_sim();
    let control = sim.control();
    client_rt().block_on(async {
        let (ksef, auth, sent) = faulty_setup(&sim).await;
        let retried = Arc::new(Mutex::new(Vec::new()));
        let r = Arc::clone(&retried);
        let request = ExportRequest::new(received(&ksef)).progress(Progress::new(move |ev| {
            if let ExportEvent::PartFailed {
                retrying, reason, ..
            } = ev
            {
                r.lock().unwrap().push((*retrying, reason.clone()));
            }
        }));
        let (e, package) = export(&auth, request).await;
        assert!(package.parts.len() >= 3);
        // one download at a time: corrupted bytes, an HTML page, a dropped connection, a 503
        // (the simulator applies every armed fault kind to the next request)
        let faults = [
            (Fault::CorruptBody { count: 1 }, "x-ms-meta-hash"),
            (Fault::HtmlPage { count: 1 }, "text/html"),
            (
                Fault::DropConnection {
                    after_bytes: 100,
                    count: 1,
                },
                "transport",
            ),
            (
                Fault::ServerError {
                    status: 503,
                    count: 1,
                },
                "HTTP 503",
            ),
        ];
        for (fault, reason) in faults {
            retried.lock().unwrap().clear();
            control.inject(PART, fault);
            let decrypted = e.download(&package, &quick()).await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let files = decrypted.unpack_to_dir(dir.path()).unwrap();
            assert_eq!(files.invoices.len(), 40);
            for inv in &files.invoices {
                assert_eq!(std::fs::read(&inv.path).unwrap(), sent[&inv.ksef_number]);
            }
            let retried = retried.lock().unwrap();
            assert_eq!(retried.len(), 1, "{retried:?}");
            assert!(retried[0].0, "retried");
            assert!(retried[0].1.contains(reason), "{reason} in {retried:?}");
        }
    });
}

#[test]
fn an_invoice_that_does_not_match_its_metadata_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let sim = Sim::start(
        SimConfig::default()
            .with_data_dir(data.path().to_path_buf())
            .with_invoicing(InvoicingConfig::default().with_export_part_size(2048)),
    );
    client_rt().block_on(async {
        let (ksef, auth, sent) = faulty_setup(&sim).await;
        // damage one stored invoice behind the simulator's back: the package carries the
        // damaged bytes, its metadata the hash of the original
        let victim = sent.keys().min().unwrap().clone();
        let stored = data
            .path()
            .join("invoicing")
            .join("invoices")
            .join(format!("{victim}.xml"));
        let mut bytes = std::fs::read(&stored).unwrap();
        bytes.extend_from_slice(b"\n");
        std::fs::write(&stored, &bytes).unwrap();
        for compression in [Compression::Zip, Compression::TarGz] {
            let (e, package) = export(
                &auth,
                ExportRequest::new(received(&ksef)).compression(compression),
            )
            .await;
            let decrypted = e.download(&package, &quick()).await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let err = decrypted.unpack_to_dir(dir.path()).unwrap_err();
            match &err {
                FlowError::InvoiceHash { ksef_number, .. } => assert_eq!(ksef_number, &victim),
                other => panic!("expected InvoiceHash, got {other:?}"),
            }
            // the damaged invoice never got its name; nothing unchecked is left
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                assert_ne!(name, format!("{victim}.xml"));
                assert!(!name.starts_with('.'), "temporary file {name} left behind");
            }
            let items: Vec<_> = tokio::task::spawn_blocking(move || {
                decrypted.invoices().map(|it| it.collect::<Vec<_>>())
            })
            .await
            .unwrap()
            .unwrap_or_else(|e| vec![Err(e)]);
            let bad = items.iter().filter(|r| r.is_err()).count();
            assert_eq!(bad, 1, "the iterator stops at the damaged invoice");
            assert!(items.iter().flatten().all(|i| i.ksef_number != victim));
        }
    });
}

#[test]
fn persistent_part_faults_name_the_part_and_leave_no_file() {
    let sim = fault_sim();
    let control = sim.control();
    client_rt().block_on(async {
        let (ksef, auth, _sent) = faulty_setup(&sim).await;
        let (e, package) = export(&auth, ExportRequest::new(received(&ksef))).await;
        let options = quick().concurrency(1).max_attempts(3);

        // every download of every part corrupted: a wrong hash, named
        control.inject(PART, Fault::CorruptBody { count: 1000 });
        let (ordinal, failure) = part_error(e.download(&package, &options).await.unwrap_err());
        assert!(package.parts.iter().any(|p| p.ordinal == ordinal));
        assert!(
            matches!(
                failure,
                PartFailure::MetaHash { .. } | PartFailure::EncryptedHash { .. }
            ),
            "{failure:?}"
        );
        control.clear_faults();

        // an HTML page instead of the part
        control.inject(PART, Fault::HtmlPage { count: 1000 });
        let err = e.download(&package, &options).await.unwrap_err();
        let text = err.to_string();
        let (_, failure) = part_error(err);
        assert!(
            matches!(failure, PartFailure::ContentType { .. }),
            "{failure:?}"
        );
        assert!(
            text.contains("export part") && text.contains("text/html"),
            "{text}"
        );
        control.clear_faults();

        // the connection always dropped
        control.inject(
            PART,
            Fault::DropConnection {
                after_bytes: 10,
                count: 1000,
            },
        );
        let (_, failure) = part_error(e.download(&package, &options).await.unwrap_err());
        assert!(
            matches!(
                failure,
                PartFailure::Transport(_) | PartFailure::Size { .. }
            ),
            "{failure:?}"
        );
        control.clear_faults();

        // and then it works, with nothing left from the failures
        let dir = tempfile::tempdir().unwrap();
        let files = e
            .download(&package, &options)
            .await
            .unwrap()
            .unwrap_to(dir.path());
        assert_eq!(files, 40);
    });
}

trait UnpackCount {
    fn unwrap_to(self, dir: &std::path::Path) -> usize;
}

impl UnpackCount for ksef_flows::export::DecryptedPackage {
    fn unwrap_to(self, dir: &std::path::Path) -> usize {
        self.unpack_to_dir(dir).unwrap();
        std::fs::read_dir(dir).unwrap().count()
    }
}

#[test]
fn expired_urls_are_refreshed_or_named() {
    let sim = fault_sim();
    let control = sim.control();
    client_rt().block_on(async {
        let (ksef, auth, _sent) = faulty_setup(&sim).await;
        // the URLs of the first status answer are already expired
        control.inject(STATUS, Fault::ExpiredPresignedUrls { count: 2 });
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = Arc::clone(&events);
        let request =
            ExportRequest::new(received(&ksef)).progress(Progress::new(move |e: &ExportEvent| {
                ev.lock().unwrap().push(e.clone())
            }));
        let (e, package) = export(&auth, request).await;
        assert!(package.parts.iter().any(|p| p.expires <= ksef.now()));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            e.download(&package, &quick())
                .await
                .unwrap()
                .unwrap_to(dir.path()),
            40
        );
        assert!(events.lock().unwrap().contains(&ExportEvent::UrlsRefreshed));

        // URLs that stay expired: the error says so and names the part
        control.inject(STATUS, Fault::ExpiredPresignedUrls { count: 10_000 });
        let package = e.wait().await.unwrap();
        let options = quick().max_url_refreshes(2);
        let (_, failure) = part_error(e.download(&package, &options).await.unwrap_err());
        assert!(matches!(failure, PartFailure::Expired), "{failure:?}");
    });
}

#[test]
fn a_busy_context_waits_for_an_export_slot() {
    let sim = Sim::start(
        SimConfig::default()
            .with_invoicing(InvoicingConfig::default().with_max_concurrent_exports(1)),
    );
    let control = sim.control();
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        seed_bought(&sim, &nip, "SLOT", 5);
        control.inject(
            "POST /invoices/exports",
            Fault::StuckProcessing {
                duration_ms: 2500,
                count: 1,
            },
        );
        let (_first, _) = {
            let e = auth
                .start_export(&ExportRequest::new(received(&ksef)))
                .await
                .unwrap();
            (e, ())
        };
        let waited = Arc::new(Mutex::new(0u32));
        let w = Arc::clone(&waited);
        let request = ExportRequest::new(received(&ksef)).progress(Progress::new(move |e| {
            if matches!(e, ExportEvent::WaitingForSlot { .. }) {
                *w.lock().unwrap() += 1;
            }
        }));
        let (_e, package) = export(&auth, request).await;
        assert_eq!(package.invoice_count, 5);
        assert!(
            *waited.lock().unwrap() >= 1,
            "21182 was answered and waited out"
        );
        // without patience: the 21182 comes back typed
        control.inject(
            "POST /invoices/exports",
            Fault::StuckProcessing {
                duration_ms: 5000,
                count: 1,
            },
        );
        let _busy = auth
            .start_export(&ExportRequest::new(received(&ksef)))
            .await
            .unwrap();
        let err = auth
            .start_export(&ExportRequest::new(received(&ksef)).slot_wait(Duration::ZERO))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FlowError::StartExport { .. }) && err.has_code(21182),
            "{err:?}"
        );
    });
}

#[test]
fn metadata_stream_over_the_truncation_cap_yields_every_record_once() {
    // 10 500 records, the API's cap lowered to 1 000 (the real one is 10 000): ten restarts,
    // with groups of identical dates across the boundaries
    let sim = Sim::start(
        SimConfig::default()
            .with_rate_limits(false)
            .with_invoicing(InvoicingConfig::default().with_query_truncation_cap(1000)),
    );
    client_rt().block_on(async {
        let ksef = unlimited(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let seller = Nip::random();
        let base = ksef.now() - chrono::Duration::minutes(30);
        let mut expected = HashSet::new();
        for batch in 0..105 {
            // 100 invoices sharing one received instant per batch
            let at = base + chrono::Duration::milliseconds(batch * 7);
            let xmls: Vec<SeedInvoice> = (0..100)
                .map(|i| {
                    let mut s = SampleInvoice::new(seller.as_str(), &format!("Q/{batch}/{i}"));
                    s.buyer_nip = nip.as_str().to_string();
                    SeedInvoice::new(s.to_xml()).received_at(at)
                })
                .collect();
            for k in sim.control().seed_invoices(xmls) {
                expected.insert(k.unwrap());
            }
        }
        assert_eq!(expected.len(), 10_500);
        for (sort, date_type) in [
            (SortOrder::Asc, DateType::PermanentStorage),
            (SortOrder::Desc, DateType::Invoicing),
        ] {
            let query = InvoiceQuery::new(SubjectType::Subject2, date_type, since_yesterday(&ksef))
                .sort(sort.clone());
            let got: Vec<_> = auth.query_metadata(query).try_collect().await.unwrap();
            let numbers: Vec<&str> = got.iter().map(|m| m.ksef_number.0.as_str()).collect();
            let unique: HashSet<&str> = numbers.iter().copied().collect();
            assert_eq!(numbers.len(), unique.len(), "{sort:?}: a record came twice");
            assert_eq!(unique.len(), 10_500, "{sort:?}");
            assert!(unique.iter().all(|k| expected.contains(*k)));
            // in order
            let dates: Vec<_> = got
                .iter()
                .map(|m| (m.permanent_storage_date, m.invoicing_date))
                .collect();
            let mut sorted = dates.clone();
            sorted.sort();
            if sort == SortOrder::Desc {
                sorted.reverse();
            }
            assert_eq!(dates, sorted, "{sort:?}");
        }
        // more records on one date than the cap: a clear error, not an endless loop
        let at = base + chrono::Duration::seconds(5);
        let many: Vec<SeedInvoice> = (0..1001)
            .map(|i| {
                let mut s = SampleInvoice::new(seller.as_str(), &format!("SAME/{i}"));
                s.buyer_nip = nip.as_str().to_string();
                SeedInvoice::new(s.to_xml()).received_at(at)
            })
            .collect();
        sim.control().seed_invoices(many);
        let query = InvoiceQuery::new(SubjectType::Subject2, DateType::Invoicing, at);
        let err = auth
            .query_metadata(query)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(matches!(err, FlowError::QueryStalled { .. }), "{err:?}");
    });
}

#[test]
fn one_invoice_by_ksef_number_with_its_hash_and_kod1() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let sent = seed_bought(&sim, &nip, "ONE", 1);
        let (k, bytes) = sent.into_iter().next().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got = auth.download_invoice(&k).await.unwrap();
        assert_eq!(&got[..], &bytes[..]);
        let m: Vec<_> = auth
            .query_metadata(received(&ksef))
            .try_collect()
            .await
            .unwrap();
        let link = ksef_flows::kod1_url_of(&m[0], ksef.qr_environment()).unwrap();
        assert_eq!(
            link,
            ksef.kod1_url(&bytes).unwrap(),
            "KOD I from metadata = from the bytes"
        );
        // an unknown number: 21164, typed; a malformed one is refused before sending
        let missing = ksef_flows::crypto::KsefNumber::generate(&nip, ksef.today(), [0; 6]).unwrap();
        let err = auth.download_invoice(missing.as_str()).await.unwrap_err();
        assert!(
            matches!(err, FlowError::DownloadInvoice { .. }) && err.has_code(21164),
            "{err:?}"
        );
        let err = auth.download_invoice("not-a-number").await.unwrap_err();
        assert!(
            matches!(
                err,
                FlowError::InvalidArgument {
                    field: "KSeF number",
                    ..
                }
            ),
            "{err:?}"
        );
    });
}
