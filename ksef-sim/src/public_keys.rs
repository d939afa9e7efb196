//! `GET /security/public-key-certificates`: the certificates of the simulator's encryption keys
//! (the keys themselves live in [`crate::keys`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::keys::PublicKeyCertificateWire;
use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/security/public-key-certificates",
        get(public_key_certificates),
    )
}

async fn public_key_certificates(
    State(state): State<AppState>,
) -> Json<Vec<PublicKeyCertificateWire>> {
    Json(state.keys.published())
}
