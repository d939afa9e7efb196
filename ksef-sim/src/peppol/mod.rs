//! `GET /peppol/query`: the Peppol service providers registered so far ([`store`]), each at its
//! first authentication in its `PeppolId` context with a seal whose common name is that
//! identifier (see [`crate::auth::xades_signature`]).

pub(crate) mod store;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::paging::{OffsetPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/peppol/query", get(peppol_query))
}

async fn peppol_query(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let page = OffsetPage::read(
        &QueryPairs::parse(raw.as_deref()),
        PageSizes::new(10, 100, 10),
    )?;
    let items: Vec<Value> = state
        .peppol
        .all()
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name, "dateCreated": format_utc_millis(p.registered) }))
        .collect();
    let (slice, has_more) = page.of(&items);
    Ok(Json(
        json!({ "peppolProviders": slice, "hasMore": has_more }),
    ))
}
