//! Spec-valid answers for operations no specific handler implements, and 404 for paths
//! outside the spec.

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Fallback under `/v2`: answers spec operations generically, 404 otherwise.
pub(crate) async fn fallback(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    req: axum::extract::Request,
) -> Response {
    let path = uri.path().strip_prefix("/v2").unwrap_or(uri.path());
    let Some(op) = crate::server::resolve(method.as_str(), path) else {
        return not_found_response(uri.path());
    };
    let (mut parts, _body) = req.into_parts();
    if op.bearer {
        if let Err(e) = <crate::auth::AuthContext as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await {
            return e.into_response();
        }
    }
    let status = StatusCode::from_u16(op.success_status).unwrap_or(StatusCode::OK);
    if op.success_content_type.is_empty() {
        return status.into_response();
    }
    if op.success_content_type.contains("json") {
        let body = if op.success_example.is_empty() {
            "{}".to_string()
        } else {
            op.success_example.to_string()
        };
        let mut resp = (status, Body::from(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return resp;
    }
    ApiError::bad_request(21164, "Nie znaleziono zasobu.", [format!("{} {}", op.method, op.path)])
        .into_response()
}

fn not_found_response(path: &str) -> Response {
    ApiError::plain(StatusCode::NOT_FOUND, format!("No such operation: {path}")).into_response()
}

/// Fallback outside `/v2` and `/__sim`.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    not_found_response(uri.path())
}
