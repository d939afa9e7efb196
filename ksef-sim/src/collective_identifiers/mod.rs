//! Collective identifiers (`/collective-identifiers*`): a seller's list of invoices paid
//! together under one number. [`generate`] checks and stores one, [`queries`] answers the three
//! lists (by creation date, the invoices of given identifiers, the identifiers of one invoice),
//! [`store`] keeps them.

pub(crate) mod generate;
pub(crate) mod queries;
pub(crate) mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/collective-identifiers", post(generate::generate))
        .route("/collective-identifiers/query", post(queries::by_date))
        .route("/collective-identifiers/invoices", post(queries::invoices))
        .route(
            "/collective-identifiers/ksef/{ksefNumber}",
            get(queries::by_ksef_number),
        )
}
