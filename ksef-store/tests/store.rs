//! The store alone: commits with deduplication, checkpoints that never move backwards, the
//! queries a user needs, the XML exactly as committed, KOD I, consistency checks, reopening.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, TimeZone as _, Utc};
use common::*;
use ksef_flows::crypto::Nip;
use ksef_flows::crypto::qr::QrEnvironment;
use ksef_flows::query::SubjectType;
use ksef_flows::sync::{DateField, StoreQuery, SyncKey, SyncStore as _};
use ksef_store::SqliteStore;

#[tokio::test]
async fn commits_deduplicate_and_checkpoints_only_move_forward() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let (seller, buyer, other) = (Nip::random(), Nip::random(), Nip::random());
    let key = SyncKey::new(format!("Nip:{}", buyer.as_str()), SubjectType::Subject2);
    let t0 = Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap();
    assert_eq!(store.checkpoint(&key).await.unwrap(), None);
    assert_eq!(store.last_seq().await.unwrap(), 0);

    let s1 = store.staging_dir().await.unwrap();
    let p1 = synthetic_package(
        &s1,
        &key,
        &seller,
        &buyer,
        0..10,
        t0,
        t0 + Duration::hours(1),
    );
    let o = store.commit_package(p1).await.unwrap();
    assert_eq!((o.new_invoices, o.duplicates), (10, 0));
    let cursor = store.last_seq().await.unwrap();
    assert_eq!(cursor, 10);

    // the next window overlaps: 5 known, 5 new
    let s2 = store.staging_dir().await.unwrap();
    let p2 = synthetic_package(
        &s2,
        &key,
        &seller,
        &buyer,
        5..15,
        t0,
        t0 + Duration::hours(2),
    );
    let o = store.commit_package(p2).await.unwrap();
    assert_eq!((o.new_invoices, o.duplicates), (5, 5));
    assert_eq!(store.count().await.unwrap(), 15);
    assert_eq!(
        store.checkpoint(&key).await.unwrap().unwrap().next_from,
        t0 + Duration::hours(2)
    );
    // an older checkpoint (a late writer) does not move it back
    let s3 = store.staging_dir().await.unwrap();
    let p3 = synthetic_package(&s3, &key, &seller, &buyer, 0..1, t0, t0);
    store.commit_package(p3).await.unwrap();
    assert_eq!(
        store.checkpoint(&key).await.unwrap().unwrap().next_from,
        t0 + Duration::hours(2)
    );

    // another seller's invoices under another key, on another day
    let sold_key = SyncKey::new(format!("Nip:{}", other.as_str()), SubjectType::Subject1);
    let s4 = store.staging_dir().await.unwrap();
    let t1 = t0 + Duration::days(40);
    let p4 = synthetic_package(&s4, &sold_key, &other, &buyer, 100..103, t1, t1);
    store.commit_package(p4).await.unwrap();

    // queries
    let all = store.query(&StoreQuery::all()).await.unwrap();
    assert_eq!(all.len(), 18);
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "in order of arrival"
    );
    let by_seller = store
        .query(&StoreQuery::all().seller(seller.as_str()))
        .await
        .unwrap();
    assert_eq!(by_seller.len(), 15);
    assert_eq!(
        store
            .query(&StoreQuery::all().buyer(buyer.as_str()))
            .await
            .unwrap()
            .len(),
        18
    );
    assert!(
        store
            .query(&StoreQuery::all().buyer(seller.as_str()))
            .await
            .unwrap()
            .is_empty()
    );
    let new_since = store
        .query(&StoreQuery::all().stored_after(cursor))
        .await
        .unwrap();
    assert_eq!(
        new_since.len(),
        8,
        "5 of the second package and 3 of the fourth"
    );
    let day = t1.date_naive();
    assert_eq!(
        store
            .query(&StoreQuery::all().issued_between(day, day))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .query(&StoreQuery::all().between(
                DateField::PermanentStorage,
                t0 - Duration::seconds(1),
                t0 + Duration::seconds(1)
            ))
            .await
            .unwrap()
            .len(),
        15
    );
    assert_eq!(
        store
            .query(&StoreQuery::all().key(sold_key.clone()))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .query(&StoreQuery::all().key(key.clone()).limit(4))
            .await
            .unwrap()
            .len(),
        4
    );

    // one invoice: its XML exactly as committed, its KOD I
    let first = &by_seller[0];
    let xml = store.read_xml(&first.ksef_number).await.unwrap().unwrap();
    assert_eq!(ksef_flows::crypto::b64::sha256_b64(&xml), first.sha256);
    assert_eq!(first.metadata.invoice_hash.0, first.sha256);
    assert!(
        first
            .file
            .starts_with(dir.path().join("xml").join("2026-03"))
    );
    let link = first.kod1_url(&QrEnvironment::Test).unwrap();
    assert!(
        link.starts_with(&format!(
            "https://qr-test.ksef.mf.gov.pl/invoice/{}/10-03-2026/",
            seller.as_str()
        )),
        "{link}"
    );
    assert!(
        store
            .invoice("5265877635-20250826-0100001AF629-AF")
            .await
            .unwrap()
            .is_none()
    );

    // consistency, and again after reopening
    let c = store.verify(true).await.unwrap();
    assert!(c.is_consistent() && c.orphan_files.is_empty(), "{c:?}");
    assert_eq!(c.invoices, 18);
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.count().await.unwrap(), 18);
    assert_eq!(store.checkpoints().await.unwrap().len(), 2);
    // damage a file: the deep check finds it
    std::fs::write(&first.file, b"tampered").unwrap();
    let c = store.verify(true).await.unwrap();
    assert_eq!(c.damaged_files, vec![first.ksef_number.clone()]);
}

#[tokio::test]
async fn a_crash_before_the_commit_leaves_orphans_the_next_commit_adopts() {
    let dir = tempfile::tempdir().unwrap();
    let (seller, buyer) = (Nip::random(), Nip::random());
    let key = SyncKey::new(format!("Nip:{}", buyer.as_str()), SubjectType::Subject2);
    let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        let s = store.staging_dir().await.unwrap();
        synthetic_package(&s, &key, &seller, &buyer, 0..5, t0, t0);
        // as if the process died here: a staging area of a dead process, and an orphan file
        // moved into place before a commit that never happened
        let dead = dir.path().join("staging").join("999999999-00");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("x.xml"), b"x").unwrap();
        let k = ksef_number(&seller, t0.date_naive(), 0);
        let month = dir.path().join("xml").join("2026-05");
        std::fs::create_dir_all(&month).unwrap();
        std::fs::write(month.join(format!("{k}.xml")), b"half-written?").unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(
        !dir.path().join("staging").join("999999999-00").exists(),
        "stale staging removed"
    );
    let c = store.verify(false).await.unwrap();
    assert_eq!(c.orphan_files.len(), 1);
    // the same window again: the orphan is replaced by the checked bytes and committed
    let s = store.staging_dir().await.unwrap();
    let p = synthetic_package(&s, &key, &seller, &buyer, 0..5, t0, t0);
    assert_eq!(store.commit_package(p).await.unwrap().new_invoices, 5);
    let c = store.verify(true).await.unwrap();
    assert!(c.is_consistent() && c.orphan_files.is_empty(), "{c:?}");
}
