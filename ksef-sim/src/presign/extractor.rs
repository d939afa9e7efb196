//! The extractor that guards presigned routes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// Extractor that accepts only a request whose presigned URL is valid (signature and expiry).
/// Put it first among a presigned handler's arguments.
#[derive(Debug, Clone, Copy)]
pub struct Presigned;

impl FromRequestParts<AppState> for Presigned {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Inside the nested `/v2` router the URI is stripped; the signature covers the full path.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let path = uri.path().to_string();
        let query = uri.query().unwrap_or("");
        state
            .presign
            .verify(parts.method.as_str(), &path, query)
            .map(|()| Presigned)
    }
}
