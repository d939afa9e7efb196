//! The answer to requests no endpoint group serves: 404 naming the path. Every operation of the
//! spec has its handler, so this answers paths outside the spec, methods a path does not have,
//! and near misses of a template (a trailing slash) alike.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Fallback under `/v2` and everywhere else: 404.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    ApiError::plain(
        StatusCode::NOT_FOUND,
        format!("No such operation: {}", uri.path()),
    )
    .into_response()
}
