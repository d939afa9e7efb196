//! Limits: the effective session, certificate and rate limits (`GET /limits/context`,
//! `/limits/subject`, `/rate-limits`) in [`current`], and the test-data overrides of them
//! (`/testdata/limits/...`, `/testdata/rate-limits...`) in [`test_overrides`]. Session and
//! certificate limits live in [`store`]; rate limits in [`crate::ratelimit`].

pub(crate) mod current;
pub(crate) mod store;
pub(crate) mod test_overrides;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/limits/context", get(current::context))
        .route("/limits/subject", get(current::subject))
        .route("/rate-limits", get(current::rate_limits))
        .route(
            "/testdata/limits/context/session",
            post(test_overrides::set_session_limits).delete(test_overrides::reset_session_limits),
        )
        .route(
            "/testdata/limits/subject/certificate",
            post(test_overrides::set_subject_limits).delete(test_overrides::reset_subject_limits),
        )
        .route(
            "/testdata/rate-limits",
            post(test_overrides::set_rate_limits).delete(test_overrides::reset_rate_limits),
        )
        .route(
            "/testdata/rate-limits/production",
            post(test_overrides::production_rate_limits),
        )
}
