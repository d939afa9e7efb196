//! Platform endpoints: public-key certificates, limits, KSeF tokens, test data.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use axum::Json;

use crate::keys::PublicKeyCertificateWire;
use crate::state::AppState;

/// Routes of the platform part (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/security/public-key-certificates", get(public_key_certificates))
}

async fn public_key_certificates(State(state): State<AppState>) -> Json<Vec<PublicKeyCertificateWire>> {
    Json(state.keys.published())
}
