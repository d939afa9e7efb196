//! The simulator's date rules at the instants where the UTC and Europe/Warsaw calendar dates
//! differ or the offset changes (ksef_time::HARD_INSTANTS): the issue-date rule, the dates in
//! reference and KSeF numbers, and Issue-date ranges of queries and exports all follow the
//! KSeF business date, never the UTC date.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use harness::*;
use ksef_sim::InvoicingConfig;
use serde_json::{Value, json};

fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// The date part of a KSeF number (`NIP-YYYYMMDD-...`) or reference number (`YYYYMMDD-...`).
fn date_in_ksef_number(k: &str) -> &str {
    &k[11..19]
}

async fn check_at(instant: chrono::DateTime<chrono::Utc>) {
    let clock: ksef_time::SharedClock = Arc::new(ksef_time::ShiftedClock::starting_at(instant));
    let cfg = default_config().with_clock(clock.clone()).with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(10))
            .with_session_close_delay(Duration::from_millis(10)),
    );
    let env = start(cfg).await;
    // The whole check takes seconds; an instant one minute before midnight may cross it, so
    // every date is compared with the business dates before and after the step.
    let today = clock.today();
    let warsaw_days = |d: &str| {
        let now = ymd(clock.today());
        d == ymd(today) || d == now
    };

    let k = Keys::random();
    let session = env.open_online(&k).await;
    assert!(warsaw_days(&session[..8]), "{instant}: session {session}");

    // Issued on the Warsaw date: accepted, even when the UTC date is the day before.
    let on_today = invoice_fa3_on(&env.nip, &unique_number(), today);
    let accepted = env.send(&session, &k, &on_today).await;
    assert!(
        warsaw_days(&accepted[..8]),
        "{instant}: invoice ref {accepted}"
    );
    let st = env.wait_invoice(&session, &accepted).await;
    assert_eq!(st["status"]["code"], 200, "{instant}: {st}");
    let ksef = st["ksefNumber"].as_str().unwrap().to_string();
    assert!(
        warsaw_days(date_in_ksef_number(&ksef)),
        "{instant}: KSeF number {ksef}"
    );

    // Issued on the next Warsaw date: in the future → 450.
    let tomorrow = today.succ_opt().unwrap();
    let future = invoice_fa3_on(&env.nip, &unique_number(), tomorrow);
    let rejected = env.send(&session, &k, &future).await;
    let st = env.wait_invoice(&session, &rejected).await;
    if clock.today() == today {
        assert_eq!(st["status"]["code"], 450, "{instant}: {st}");
    }

    // The UTC date of the instant is never in the future.
    let utc_date = instant.date_naive();
    let by_utc = invoice_fa3_on(&env.nip, &unique_number(), utc_date);
    let r = env.send(&session, &k, &by_utc).await;
    let st = env.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 200, "{instant}: {st}");
    env.close_online(&session).await;

    // An Issue range that starts at Warsaw midnight of today finds today's invoice; one that
    // ends a second before it does not.
    let midnight = ksef_time::start_of_business_day(today);
    let query = |from: String, to: String| {
        json!({ "subjectType": "Subject1",
                "dateRange": { "dateType": "Issue", "from": from, "to": to } })
    };
    let found = |v: &Value| {
        v["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["ksefNumber"] == ksef.as_str())
    };
    let from = ksef_time::format_warsaw_millis(midnight);
    let to = ksef_time::format_warsaw_millis(clock.now() + chrono::Duration::hours(1));
    let v: Value = env
        .post("/invoices/query/metadata?pageSize=250", &query(from, to))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        found(&v),
        "{instant}: Issue range from Warsaw midnight: {v}"
    );
    let before = ksef_time::format_utc_millis(midnight - chrono::Duration::seconds(1));
    let day_before = ksef_time::format_utc_millis(midnight - chrono::Duration::days(1));
    let v: Value = env
        .post(
            "/invoices/query/metadata?pageSize=250",
            &query(day_before, before),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !found(&v),
        "{instant}: Issue range ending before midnight: {v}"
    );

    // An export's reference number is dated by the Warsaw date too.
    let r = env
        .post(
            "/invoices/exports",
            &json!({
                "encryption": env.encryption(&Keys::random()),
                "onlyMetadata": true,
                "filters": { "subjectType": "Subject1",
                             "dateRange": { "dateType": "Issue",
                                            "from": ksef_time::format_warsaw_millis(midnight) } },
            }),
        )
        .await;
    assert_eq!(r.status(), 201, "{instant}");
    let v: Value = r.json().await.unwrap();
    let export = v["referenceNumber"].as_str().unwrap();
    assert!(warsaw_days(&export[..8]), "{instant}: export {export}");
    let done = env.wait_export(export).await;
    assert_eq!(done["status"]["code"], 200, "{instant}: {done}");
    assert!(
        done["package"]["invoiceCount"].as_i64().unwrap() >= 1,
        "{instant}: {done}"
    );
}

#[tokio::test]
async fn date_rules_follow_warsaw_at_every_hard_instant() {
    let instants = ksef_time::hard_instants();
    assert_eq!(instants.len(), ksef_time::HARD_INSTANTS.len());
    for instant in instants {
        check_at(instant).await;
    }
}
