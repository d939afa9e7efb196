//! Request-body extractors that answer 400 with 21001 (not JSON) or 21405 (wrong shape), with the
//! reason, instead of axum's defaults.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// JSON body; a body that is not JSON answers 21001, one that misses required fields or has a
/// wrong type 21405, with the serde error as the reason. Content type is not enforced (clients
/// differ).
#[derive(Debug, Clone)]
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::unreadable(format!("Cannot read the request body: {e}")))?;
        serde_json::from_slice::<T>(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::from_json(&e))
    }
}
