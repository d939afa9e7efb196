//! HTTP handlers of the authentication endpoints.

use axum::Router;

use crate::state::AppState;

/// Routes of the authentication part (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
