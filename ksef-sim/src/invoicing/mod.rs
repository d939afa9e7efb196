//! Sessions, invoices, UPO, retrieval and exports.
//!
//! * [`online`]: `POST /sessions/online`, sending invoices, closing.
//! * [`batch`]: `POST /sessions/batch`, presigned part uploads, closing and the
//!   background processing (streaming decryption, unpacking).
//! * [`sessions`]: session and invoice status, lists, UPO downloads.
//! * [`query`]: `GET /invoices/ksef/{ksefNumber}`, `POST /invoices/query/metadata`.
//! * [`export`]: `POST /invoices/exports`, `GET /invoices/exports/{ref}`, part downloads.
//!
//! What both kinds of session share: opening (key unwrapping, form code) in [`opening`], the
//! intake of one invoice (decryption, hashes, rules, duplicates) in [`intake`]. Pure logic
//! lives in [`form`] (the forms), [`rules`] (invoice rules), [`upo`], [`archive`] and [`crypto`];
//! state in [`store`]; `SimControl::seed_invoices` (fast test data through the same rules) in
//! [`seed`].
//!
//! Asynchronous behaviour is modelled with deadlines (an accepted invoice shows
//! 150 until its KSeF number appears; a closed session 170/150 until its final
//! status) plus background blocking tasks for batch processing and export
//! building. Large data never sits in memory: batch parts, the decrypted
//! archive, stored invoices and export packages live under
//! `data_dir/invoicing/`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::presign::PresignedRoute;
use crate::state::AppState;

pub(crate) mod archive;
pub(crate) mod batch;
pub(crate) mod crypto;
pub(crate) mod export;
pub(crate) mod form;
pub(crate) mod form_schemas;
pub(crate) mod intake;
pub(crate) mod issuer;
pub(crate) mod online;
pub(crate) mod opening;
pub(crate) mod query;
pub(crate) mod rules;
pub(crate) mod seed;
pub(crate) mod sessions;
pub(crate) mod store;
pub(crate) mod upo;

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
            PresignedRoute::BatchPart.template(),
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
            PresignedRoute::SessionUpo.template(),
            get(sessions::presigned_session_upo),
        )
        .route(
            PresignedRoute::InvoiceUpo.template(),
            get(sessions::presigned_invoice_upo),
        )
        .route("/invoices/ksef/{ksefNumber}", get(query::download))
        .route("/invoices/query/metadata", post(query::metadata))
        .route("/invoices/exports", post(export::start))
        .route("/invoices/exports/{referenceNumber}", get(export::status))
        .route(
            PresignedRoute::ExportPart.template(),
            get(export::download_part),
        )
}
