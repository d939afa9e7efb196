//! Sessions, invoices, UPO and retrieval (owned by the invoicing part; this is a stub).

use axum::Router;

use crate::config::SimConfig;
use crate::state::AppState;

/// Configuration of the invoicing part.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InvoicingConfig {}

/// Run-time state of the invoicing part, stored in [`AppState`].
#[derive(Debug, Default)]
pub(crate) struct InvoicingState {}

impl InvoicingState {
    /// Creates the state when the simulator starts.
    pub(crate) fn new(_config: &SimConfig) -> Self {
        Self::default()
    }
}

/// Routes of the invoicing part, merged under `/v2`. Paths use the spec's templates.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
