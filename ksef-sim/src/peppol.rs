//! `GET /peppol/query`: the Peppol service providers (a fixed list in the simulator).

use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::paging::PageSizes;
use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/peppol/query", get(peppol_query))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeppolQuery {
    page_offset: Option<u32>,
    page_size: Option<i64>,
}

/// The simulator's fixed list of Peppol service providers (ids match `^P[A-Z]{2}[0-9]{6}$`).
const PEPPOL_PROVIDERS: &[(&str, &str)] = &[
    ("PPL000001", "Symulowany dostawca Peppol 1"),
    ("PPL000002", "Symulowany dostawca Peppol 2"),
    ("PDE000003", "Simulated Peppol provider 3"),
];

async fn peppol_query(
    axum::extract::Query(q): axum::extract::Query<PeppolQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = PageSizes::new(10, 100, 10).check(q.page_size)?;
    let offset = q.page_offset.unwrap_or(0) as usize;
    let start = offset.saturating_mul(size);
    let page: Vec<Value> = PEPPOL_PROVIDERS
        .iter()
        .skip(start)
        .take(size)
        .map(|(id, name)| json!({"id": id, "name": name, "dateCreated": "2025-07-01T00:00:00+00:00"}))
        .collect();
    let has_more = start + page.len() < PEPPOL_PROVIDERS.len();
    Ok(Json(
        json!({ "peppolProviders": page, "hasMore": has_more }),
    ))
}
