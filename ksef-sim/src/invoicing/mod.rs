//! Sessions, invoices, UPO, retrieval and exports (issue 4 items 4–6).
//!
//! * [`online`]: `POST /sessions/online`, sending invoices, closing.
//! * [`batch`]: `POST /sessions/batch`, presigned part uploads, closing and the
//!   background processing (streaming decryption, unpacking).
//! * [`sessions`]: session and invoice status, lists, UPO downloads.
//! * [`query`]: `GET /invoices/ksef/{ksefNumber}`, `POST /invoices/query/metadata`.
//! * [`export`]: `POST /invoices/exports`, `GET /invoices/exports/{ref}`, part downloads.
//!
//! Pure logic lives in [`rules`] (invoice rules), [`ksef_number`], [`upo`],
//! [`archive`] and [`crypto`]; state in [`store`]; helpers in [`util`];
//! the test affordances `SimControl::issue_test_access_token` in [`control_ext`] and
//! `SimControl::seed_invoices` (fast test data) in [`seed`].
//!
//! Asynchronous behaviour is modelled with deadlines (an accepted invoice shows
//! 150 until its KSeF number appears; a closed session 170/150 until its final
//! status) plus background blocking tasks for batch processing and export
//! building. Large data never sits in memory: batch parts, the decrypted
//! archive, stored invoices and export packages live under
//! `data_dir/invoicing/`.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::config::SimConfig;
use crate::state::AppState;

pub(crate) mod archive;
pub(crate) mod batch;
pub(crate) mod control_ext;
pub(crate) mod crypto;
pub(crate) mod export;
pub(crate) mod ksef_number;
pub(crate) mod online;
pub(crate) mod query;
pub(crate) mod rules;
pub(crate) mod seed;
pub(crate) mod sessions;
pub(crate) mod store;
pub(crate) mod upo;
pub(crate) mod util;

pub(crate) use store::InvoicingState;

/// Configuration of the invoicing part (sessions, invoices, UPO, retrieval, exports).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvoicingConfig {
    /// Time an accepted invoice stays at status 150 before its KSeF number and
    /// `acquisitionDate` appear (and before it can be downloaded or queried).
    /// Default 200 ms.
    pub processing_delay: Duration,
    /// Time between `acquisitionDate` and `permanentStorageDate`. Default 0.
    pub permanent_storage_delay: Duration,
    /// Time a closed online session stays at 170 (a batch session at 150 after
    /// its processing) before its final status and UPO appear. Default 200 ms.
    pub session_close_delay: Duration,
    /// Lifetime of a session (`validUntil`). Default 12 hours.
    pub session_validity: Duration,
    /// Most invoices per session. Default 10 000.
    pub max_invoices_per_session: usize,
    /// Records a metadata query can reach before `isTruncated` (the real cap is 10 000).
    pub query_truncation_cap: usize,
    /// Most invoices in one export package (real: 10 000).
    pub export_max_invoices: usize,
    /// Size of export parts before encryption (real: 50 MB).
    pub export_part_size: u64,
    /// Invoice bytes after which an export package is cut (`isTruncated`). The real service cuts
    /// at 1 GB of compressed data; the simulator counts the invoices' own bytes. Default 1 GB.
    pub export_max_package_bytes: u64,
    /// Concurrent exports per context (real: 10).
    pub max_concurrent_exports: usize,
    /// How long a built export package can be downloaded before its status
    /// becomes 210 (expired). Default 7 days.
    pub export_package_validity: Duration,
    /// Documents per session UPO page (real and maximum: 10 000).
    pub upo_page_size: usize,
    /// Whether invoices with attachments (`Zalacznik`) are accepted in batch sessions
    /// of every taxpayer. Default `false`: as on TEST, only taxpayers enabled through
    /// `/testdata/attachment` may send them (online sessions never accept them).
    pub attachments_allowed: bool,
}

impl Default for InvoicingConfig {
    fn default() -> Self {
        Self {
            processing_delay: Duration::from_millis(200),
            permanent_storage_delay: Duration::ZERO,
            session_close_delay: Duration::from_millis(200),
            session_validity: Duration::from_secs(12 * 3600),
            max_invoices_per_session: 10_000,
            query_truncation_cap: 10_000,
            export_max_invoices: 10_000,
            export_part_size: 50_000_000,
            export_max_package_bytes: 1_000_000_000,
            max_concurrent_exports: 10,
            upo_page_size: 10_000,
            export_package_validity: Duration::from_secs(7 * 24 * 3600),
            attachments_allowed: false,
        }
    }
}

impl InvoicingConfig {
    /// Sets the invoice processing delay.
    #[must_use]
    pub fn with_processing_delay(mut self, d: Duration) -> Self {
        self.processing_delay = d;
        self
    }
    /// Sets the delay between acquisition and permanent storage.
    #[must_use]
    pub fn with_permanent_storage_delay(mut self, d: Duration) -> Self {
        self.permanent_storage_delay = d;
        self
    }
    /// Sets the session close delay.
    #[must_use]
    pub fn with_session_close_delay(mut self, d: Duration) -> Self {
        self.session_close_delay = d;
        self
    }
    /// Sets the metadata query truncation cap.
    #[must_use]
    pub fn with_query_truncation_cap(mut self, cap: usize) -> Self {
        self.query_truncation_cap = cap;
        self
    }
    /// Sets the most invoices in one export package.
    #[must_use]
    pub fn with_export_max_invoices(mut self, n: usize) -> Self {
        self.export_max_invoices = n;
        self
    }
    /// Sets the export part size (before encryption).
    #[must_use]
    pub fn with_export_part_size(mut self, bytes: u64) -> Self {
        self.export_part_size = bytes.max(16);
        self
    }
    /// Sets the invoice bytes after which an export package is cut.
    #[must_use]
    pub fn with_export_max_package_bytes(mut self, bytes: u64) -> Self {
        self.export_max_package_bytes = bytes;
        self
    }
    /// Sets the limit of concurrent exports per context.
    #[must_use]
    pub fn with_max_concurrent_exports(mut self, n: usize) -> Self {
        self.max_concurrent_exports = n;
        self
    }
    /// Sets the limit of invoices per session.
    #[must_use]
    pub fn with_max_invoices_per_session(mut self, n: usize) -> Self {
        self.max_invoices_per_session = n;
        self
    }
    /// Sets how long export packages stay downloadable.
    #[must_use]
    pub fn with_export_package_validity(mut self, d: Duration) -> Self {
        self.export_package_validity = d;
        self
    }
    /// Sets the number of documents per session UPO page (1..=10 000).
    #[must_use]
    pub fn with_upo_page_size(mut self, n: usize) -> Self {
        self.upo_page_size = n;
        self
    }
    /// Allows or forbids attachments in batch sessions.
    #[must_use]
    pub fn with_attachments_allowed(mut self, allowed: bool) -> Self {
        self.attachments_allowed = allowed;
        self
    }
}

impl InvoicingState {
    /// Creates the state when the simulator starts.
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self::with_config(config.invoicing.clone())
    }
}

/// Largest JSON body of `POST /sessions/online/{ref}/invoices` (3 MB invoice, Base64, slack).
const SEND_INVOICE_BODY_LIMIT: usize = 6 * 1024 * 1024;

/// Routes of the invoicing part, merged under `/v2`. Paths use the spec's templates.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/online", post(online::open))
        .route(
            "/sessions/online/{referenceNumber}/invoices",
            post(online::send).layer(DefaultBodyLimit::max(SEND_INVOICE_BODY_LIMIT)),
        )
        .route(
            "/sessions/online/{referenceNumber}/close",
            post(online::close),
        )
        .route("/sessions/batch", post(batch::open))
        .route(
            "/sessions/batch/{referenceNumber}/close",
            post(batch::close),
        )
        .route(
            "/__presigned/batch-part/{referenceNumber}/{ordinal}",
            put(batch::upload_part).layer(DefaultBodyLimit::disable()),
        )
        .route("/sessions", get(sessions::list))
        .route("/sessions/{referenceNumber}", get(sessions::status))
        .route(
            "/sessions/{referenceNumber}/invoices",
            get(sessions::invoices),
        )
        .route(
            "/sessions/{referenceNumber}/invoices/failed",
            get(sessions::failed_invoices),
        )
        .route(
            "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}",
            get(sessions::invoice_status),
        )
        .route(
            "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo",
            get(sessions::invoice_upo),
        )
        .route(
            "/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo",
            get(sessions::invoice_upo_by_ksef),
        )
        .route(
            "/sessions/{referenceNumber}/upo/{upoReferenceNumber}",
            get(sessions::session_upo),
        )
        .route(
            "/__presigned/upo/{referenceNumber}/{upoReferenceNumber}",
            get(sessions::presigned_session_upo),
        )
        .route(
            "/__presigned/invoice-upo/{referenceNumber}/{invoiceReferenceNumber}",
            get(sessions::presigned_invoice_upo),
        )
        .route("/invoices/ksef/{ksefNumber}", get(query::download))
        .route("/invoices/query/metadata", post(query::metadata))
        .route("/invoices/exports", post(export::start))
        .route("/invoices/exports/{referenceNumber}", get(export::status))
        .route(
            "/__presigned/export-part/{referenceNumber}/{ordinal}",
            get(export::download_part),
        )
}
