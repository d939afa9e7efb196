//! KSeF certificates: `GET /certificates/limits`, `GET /certificates/enrollments/data`,
//! `POST /certificates/enrollments`, `GET /certificates/enrollments/{ref}`,
//! `POST /certificates/retrieve`, `POST /certificates/query`,
//! `POST /certificates/{serial}/revoke` and `PUT /testdata/certificates/{serial}`.
//!
//! [`authority`] is the simulator's certificate authority (it signs every KSeF certificate and is
//! served at `GET /__sim/certificates/ca`), [`subject`] reads DN attributes, [`csr`] checks a
//! PKCS#10 request, [`store`] keeps enrollments and issued certificates, [`handlers`] answers the
//! endpoints and [`authentication`] judges the certificate of a XAdES authentication (KSeF
//! certificates: revoked, expired or `Offline` → 460; `verifyCertificateChain=true`: chain to the
//! simulator's authority or a configured root).

pub(crate) mod authentication;
pub(crate) mod authority;
pub(crate) mod config;
pub(crate) mod csr;
pub(crate) mod handlers;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod subject;

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/certificates/limits", get(handlers::limits))
        .route(
            "/certificates/enrollments/data",
            get(handlers::enrollment_data),
        )
        .route("/certificates/enrollments", post(handlers::enroll))
        .route(
            "/certificates/enrollments/{referenceNumber}",
            get(handlers::enrollment_status),
        )
        .route("/certificates/retrieve", post(handlers::retrieve))
        .route("/certificates/query", post(handlers::query))
        .route(
            "/certificates/{certificateSerialNumber}/revoke",
            post(handlers::revoke),
        )
        .route(
            "/testdata/certificates/{serialNumber}",
            put(handlers::testdata_update),
        )
}
