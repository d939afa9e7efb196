//! Incremental synchronisation into the SQLite store against ksef-sim over HTTP: truncated
//! windows, invoices arriving during the run, many identical timestamps, a start older than the
//! 100 days one export may span, a damaged package, the export budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ksef_flows::crypto::Nip;
use ksef_flows::export::{DownloadOptions, Durability};
use ksef_flows::query::SubjectType;
use ksef_flows::sync::{
    BudgetExhausted, IncrementalSync, Stopped, StoreQuery, SyncKey, SyncOptions, SyncStore as _,
};
use ksef_flows::{FlowError, Progress, SyncEvent};
use ksef_sim::{InvoicingConfig, SimConfig};
use ksef_store::SqliteStore;

fn sim(max_per_package: usize, data_dir: Option<std::path::PathBuf>) -> Sim {
    let mut config = SimConfig::default().with_rate_limits(false).with_invoicing(
        InvoicingConfig::default()
            .with_export_max_invoices(max_per_package)
            .with_export_part_size(4096),
    );
    if let Some(d) = data_dir {
        config = config.with_data_dir(d);
    }
    Sim::start(config)
}

async fn stored(store: &SqliteStore, key: &SyncKey) -> HashSet<String> {
    store
        .query(&StoreQuery::all().key(key.clone()))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.ksef_number)
        .collect()
}

#[test]
fn windows_truncation_arrivals_and_identical_timestamps_end_exact() {
    let sim = sim(30, None);
    let control = sim.control();
    let dir = tempfile::tempdir().unwrap();
    client_rt().block_on(async {
        let ksef = ksef(&sim.base_url);
        let me = Nip::random();
        let auth = auth_as(&ksef, &me).await;
        let (a, b) = (Nip::random(), Nip::random());
        // 100 bought in 4 groups of 25 sharing one timestamp each (packages hold 30: the cuts
        // fall inside the groups), plus 12 sold (Subject1) and noise of other companies
        let base = ksef.now() - chrono::Duration::minutes(10);
        let mut bought = HashSet::new();
        for g in 0..4 {
            let at = base + chrono::Duration::milliseconds(g);
            bought
                .extend(seed_bought(&control, &a, &me, &format!("G{g}"), 25, Some(at)).into_keys());
        }
        let sold: HashSet<String> = seed_bought(&control, &me, &b, "SOLD", 12, Some(base))
            .into_keys()
            .collect();
        seed_bought(&control, &a, &b, "NOISE", 10, Some(base));

        // invoices arrive while the run goes on: 10 after each of the first three packages
        let arrived = Arc::new(Mutex::new(HashSet::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (ctl, arr, ev, me2, a2) = (
            control.clone(),
            Arc::clone(&arrived),
            Arc::clone(&events),
            me.clone(),
            a.clone(),
        );
        let progress = Progress::new(move |e: &SyncEvent| {
            ev.lock().unwrap().push(e.clone());
            if let SyncEvent::PackageStored { subject, .. } = e {
                let mut arr = arr.lock().unwrap();
                if subject == "Subject2" && arr.len() < 30 {
                    let tag = format!("LATE{}", arr.len());
                    arr.extend(seed_bought(&ctl, &a2, &me2, &tag, 10, None).into_keys());
                }
            }
        });
        let store = SqliteStore::open(dir.path()).unwrap();
        // a start older than one export may span: the first window is cut at 100 days
        let start = ksef.now() - chrono::Duration::days(120);
        let options = SyncOptions::new(start)
            .subjects([SubjectType::Subject1, SubjectType::Subject2])
            .progress(progress);
        let report = IncrementalSync::new(&auth, &store, options.clone())
            .run()
            .await
            .unwrap();
        assert_eq!(report.stopped, None);
        let s2 = &report.subjects[1];
        assert!(s2.caught_up);
        assert!(s2.windows >= 5, "{} windows", s2.windows);
        assert!(s2.duplicates > 0, "windows overlap at their boundaries");

        let events = events.lock().unwrap().clone();
        let windows: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SyncEvent::WindowStarted { subject, from, to } if subject == "Subject2" => {
                    Some((*from, *to))
                }
                _ => None,
            })
            .collect();
        assert!(windows[0].1.is_some(), "the 120-day start is cut");
        assert_eq!(
            windows[1].0,
            windows[0].1.unwrap(),
            "windows are contiguous"
        );
        assert!(events.iter().any(|e| matches!(
            e,
            SyncEvent::Export(ksef_flows::ExportEvent::PartVerified { .. })
        )));

        // a later run picks up whatever arrived after the first one's high-water mark
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = IncrementalSync::new(&auth, &store, options.clone())
            .run()
            .await
            .unwrap();
        assert!(again.subjects.iter().all(|s| s.caught_up));
        let expected: HashSet<String> = bought.union(&arrived.lock().unwrap()).cloned().collect();
        assert_eq!(expected.len(), 130);
        let key2 = SyncKey::new(format!("Nip:{}", me.as_str()), SubjectType::Subject2);
        let key1 = SyncKey::new(format!("Nip:{}", me.as_str()), SubjectType::Subject1);
        assert_eq!(
            stored(&store, &key2).await,
            expected,
            "Subject2: exactly the invoices bought"
        );
        assert_eq!(
            stored(&store, &key1).await,
            sold,
            "Subject1: exactly the invoices sold"
        );
        assert_eq!(store.count().await.unwrap(), 142, "nothing twice, no noise");

        // nothing new: a third run stores nothing
        let third = IncrementalSync::new(&auth, &store, options)
            .run()
            .await
            .unwrap();
        assert_eq!(third.new_invoices(), 0);
        let c = store.verify(true).await.unwrap();
        assert!(c.is_consistent() && c.orphan_files.is_empty(), "{c:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("staging"))
                .unwrap()
                .count(),
            0
        );
        // the files are the invoices' exact bytes
        for inv in store.query(&StoreQuery::all().key(key2)).await.unwrap() {
            let got = ksef_flows::crypto::b64::sha256_b64(std::fs::read(&inv.file).unwrap());
            assert_eq!(got, inv.metadata.invoice_hash.0);
        }
    });
}

#[test]
fn a_damaged_package_stores_nothing_and_keeps_the_checkpoint() {
    let data = tempfile::tempdir().unwrap();
    let sim = sim(100, Some(data.path().to_path_buf()));
    let control = sim.control();
    let dir = tempfile::tempdir().unwrap();
    client_rt().block_on(async {
        let ksef = ksef(&sim.base_url);
        let me = Nip::random();
        let auth = auth_as(&ksef, &me).await;
        let base = ksef.now() - chrono::Duration::minutes(5);
        let sent = seed_bought(&control, &Nip::random(), &me, "D", 10, Some(base));
        let victim = sent.keys().max().unwrap().clone();
        let path = data
            .path()
            .join("invoicing")
            .join("invoices")
            .join(format!("{victim}.xml"));
        let original = std::fs::read(&path).unwrap();
        std::fs::write(&path, [&original[..], b" "].concat()).unwrap();

        let store = SqliteStore::open(dir.path()).unwrap();
        let options = SyncOptions::new(base - chrono::Duration::hours(1))
            .subjects([SubjectType::Subject2])
            .download(DownloadOptions::default().durability(Durability::ProcessCrash));
        let err = IncrementalSync::new(&auth, &store, options.clone())
            .run()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FlowError::InvoiceHash { ksef_number, .. } if *ksef_number == victim),
            "{err:?}"
        );
        assert_eq!(store.count().await.unwrap(), 0);
        assert!(store.checkpoints().await.unwrap().is_empty());
        let c = store.verify(false).await.unwrap();
        assert!(
            c.orphan_files.is_empty(),
            "no file of the damaged package in the store"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("staging"))
                .unwrap()
                .count(),
            0
        );

        // parts that never arrive intact: the error names the part, nothing is stored
        std::fs::write(&path, &original).unwrap();
        control.inject(
            "GET /__presigned/export-part",
            ksef_sim::Fault::CorruptBody { count: 1000 },
        );
        let err = IncrementalSync::new(&auth, &store, options.clone())
            .run()
            .await
            .unwrap_err();
        assert!(
            matches!(err, FlowError::ExportPart { ordinal: 1.., .. }),
            "{err:?}"
        );
        assert_eq!(store.count().await.unwrap(), 0);
        assert!(store.checkpoints().await.unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path().join("staging"))
                .unwrap()
                .count(),
            0
        );
        control.clear_faults();

        // repaired at the source: the same window goes through
        let report = IncrementalSync::new(&auth, &store, options)
            .run()
            .await
            .unwrap();
        assert_eq!(report.new_invoices(), 10);
    });
}

#[test]
fn the_export_budget_stops_a_run_that_resumes_later() {
    let sim = sim(10, None);
    let control = sim.control();
    let dir = tempfile::tempdir().unwrap();
    client_rt().block_on(async {
        let ksef = ksef(&sim.base_url);
        let me = Nip::random();
        let auth = auth_as(&ksef, &me).await;
        let base = ksef.now() - chrono::Duration::minutes(5);
        let mut all = HashSet::new();
        for i in 0..5 {
            let at = base + chrono::Duration::seconds(i);
            all.extend(
                seed_bought(&control, &Nip::random(), &me, &format!("B{i}"), 8, Some(at))
                    .into_keys(),
            );
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let options = SyncOptions::new(base - chrono::Duration::hours(1))
            .subjects([SubjectType::Subject2])
            .exports_per_hour(2)
            .on_budget_exhausted(BudgetExhausted::Stop)
            .download(DownloadOptions::default().durability(Durability::ProcessCrash));
        let first = IncrementalSync::new(&auth, &store, options.clone())
            .run()
            .await
            .unwrap();
        assert_eq!(first.stopped, Some(Stopped::BudgetExhausted));
        assert_eq!(first.subjects[0].windows, 2);
        assert!(!first.subjects[0].caught_up);
        let mut runs = 1;
        loop {
            let r = IncrementalSync::new(&auth, &store, options.clone())
                .run()
                .await
                .unwrap();
            runs += 1;
            if r.subjects[0].caught_up {
                break;
            }
            assert!(runs < 20);
        }
        let key = SyncKey::new(format!("Nip:{}", me.as_str()), SubjectType::Subject2);
        assert_eq!(stored(&store, &key).await, all);
    });
}
