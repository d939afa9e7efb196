//! Authentication: challenges, KSeF-token and XAdES authentication, operation status, access
//! and refresh tokens, active authentication sessions.
//!
//! One file per endpoint group: [`challenge`], [`ksef_token`], [`xades_signature`], [`status`],
//! [`access_tokens`], [`sessions`]. Shared by them: [`operation`] (registering an
//! authentication operation), [`permissions`] (what the subject may do in the context),
//! [`ip_rules`] (authorization policies). State: [`store`]. [`context`] is the extractor every
//! endpoint that needs an access token takes.

pub(crate) mod access_tokens;
pub(crate) mod challenge;
pub(crate) mod context;
pub(crate) mod ip_rules;
pub(crate) mod ksef_token;
pub(crate) mod operation;
pub(crate) mod permissions;
pub(crate) mod sessions;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod xades_signature;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

/// Routes of the authentication part (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/challenge", post(challenge::challenge))
        .route("/auth/ksef-token", post(ksef_token::ksef_token))
        .route(
            "/auth/xades-signature",
            post(xades_signature::xades_signature),
        )
        .route("/auth/token/redeem", post(access_tokens::redeem))
        .route("/auth/token/refresh", post(access_tokens::refresh))
        .route("/auth/sessions", get(sessions::list))
        .route("/auth/sessions/current", delete(sessions::revoke_current))
        .route("/auth/sessions/{referenceNumber}", delete(sessions::revoke))
        .route("/auth/{referenceNumber}", get(status::status))
}
