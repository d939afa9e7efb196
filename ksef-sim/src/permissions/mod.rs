//! Permissions: `GET /permissions/attachments/status` in [`attachments`].

pub(crate) mod attachments;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/permissions/attachments/status", get(attachments::status))
}
