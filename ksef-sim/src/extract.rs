//! Request-body extractors that answer 400/21405 (with the reason) instead of axum's defaults.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// JSON body; a body that is not valid JSON or misses required fields answers 21405 with the
/// serde error as the reason. Content type is not enforced (clients differ).
#[derive(Debug, Clone)]
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::validation(format!("Cannot read the request body: {e}")))?;
        serde_json::from_slice::<T>(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::validation(format!("Invalid request body: {e}")))
    }
}
