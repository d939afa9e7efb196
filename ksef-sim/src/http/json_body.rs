//! The JSON request body: 21001 when it is not JSON, 21405 when it has the wrong shape, with the
//! serde reason, instead of axum's defaults.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON body; a body that is not JSON answers 21001, one that misses required fields or has a
/// wrong type 21405, with the serde error as the reason. Content type is not enforced (clients
/// differ).
#[derive(Debug, Clone)]
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::unreadable(format!("Cannot read the request body: {e}")))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body read as bytes, with the answers of [`JsonBody`].
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::from_json(&e))
}
