//! The 100-day windows of `split_date_range` against the simulator's 2.9.0 range check: every
//! window of a long range is accepted by `POST /invoices/query/metadata`, the whole range is not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::e2e_common;

use chrono::{FixedOffset, TimeZone};
use e2e_common::*;
use ksef_flows::api::DecodeError as _;
use ksef_flows::api::types::{self, InvoiceQueryDateType, InvoiceQuerySubjectType};
use ksef_flows::{AuthSession, DateWindow, split_date_range};
use ksef_sim::SimConfig;

async fn query(
    auth: &AuthSession,
    window: &DateWindow,
) -> Result<types::QueryInvoicesMetadataResponse, ksef_flows::api::KsefError> {
    auth.api()
        .invoice_metadata_query()
        .body(
            types::builder::InvoiceQueryFilters::default()
                .subject_type(InvoiceQuerySubjectType::Subject1)
                .date_range(window.query_range(InvoiceQueryDateType::Invoicing)),
        )
        .send()
        .await
        .decode_error()
        .await
        .map(|r| r.into_inner())
}

#[test]
fn every_window_of_a_long_range_is_accepted_and_the_whole_range_is_not() {
    let sim = Sim::start(SimConfig::default().with_rate_limits(false));
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (_nip, auth) = xades_auth(&ksef).await;
        // Warsaw wall-clock dates across both DST switches: 2025-08-01 (CEST) to 2026-04-01 (CEST).
        let cest = FixedOffset::east_opt(2 * 3600).unwrap();
        let from = cest.with_ymd_and_hms(2025, 8, 1, 0, 0, 0).unwrap();
        let to = cest.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let windows: Vec<DateWindow> = split_date_range(&from, &to).unwrap().collect();
        assert_eq!(windows.len(), 3);
        for w in &windows {
            let r = query(&auth, w).await;
            assert!(r.is_ok(), "{w:?}: {r:?}");
        }
        let whole = DateWindow {
            from: windows[0].from,
            to: windows[2].to,
        };
        let err = query(&auth, &whole).await.unwrap_err();
        assert!(err.has_code(21405), "{err}");
    });
}
