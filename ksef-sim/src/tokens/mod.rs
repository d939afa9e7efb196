//! KSeF tokens: `POST /tokens`, `GET /tokens`, `GET /tokens/{referenceNumber}`,
//! `DELETE /tokens/{referenceNumber}`. Handlers in [`handlers`], the tokens in [`store`]
//! (authentication with a token is [`crate::auth::ksef_token`]).

pub(crate) mod handlers;
pub(crate) mod store;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", post(handlers::create).get(handlers::list))
        .route(
            "/tokens/{referenceNumber}",
            get(handlers::get).delete(handlers::revoke),
        )
}
