//! The application: every endpoint group's routes under `/v2`, the control API under `/__sim`,
//! the fallbacks, and the request pipeline around all of them.

use axum::Router;

use crate::state::AppState;

/// Builds the whole application: everything under `/v2`, plus the control API under `/__sim`.
pub(crate) fn app(state: AppState) -> Router {
    let v2 = Router::new()
        .merge(crate::auth::routes())
        .merge(crate::tokens::routes())
        .merge(crate::certificates::routes())
        .merge(crate::invoicing::routes())
        .merge(crate::public_keys::routes())
        .merge(crate::limits::routes())
        .merge(crate::permissions::routes())
        .merge(crate::testdata::routes())
        .merge(crate::peppol::routes())
        .fallback(crate::fallback::fallback)
        .method_not_allowed_fallback(crate::fallback::fallback);
    Router::new()
        .nest("/v2", v2)
        .nest("/__sim", crate::control::routes(state.clone()))
        .fallback(crate::fallback::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::pipeline::pipeline,
        ))
        .with_state(state)
}
