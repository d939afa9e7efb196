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
    let (mut parts, body) = req.into_parts();
    if op.bearer {
        match <crate::auth::AuthContext as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await
        {
            Ok(ctx) => {
                if let Err(e) = ctx.require_any(op.required_permissions) {
                    return e.into_response();
                }
            }
            Err(e) => return e.into_response(),
        }
    }
    if op.json_body {
        let bytes = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
            Ok(b) => b,
            Err(e) => {
                return ApiError::unreadable(format!("Cannot read the request body: {e}"))
                    .into_response();
            }
        };
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return ApiError::from_json(&e).into_response(),
        };
        let Some(obj) = value.as_object() else {
            return ApiError::validation("The request body must be a JSON object.").into_response();
        };
        if let Some(missing) = op.body_required.iter().find(|f| !obj.contains_key(**f)) {
            return ApiError::validation(format!("The field '{missing}' is required."))
                .into_response();
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
    ApiError::bad_request(
        21164,
        "Nie znaleziono zasobu.",
        [format!("{} {}", op.method, op.path)],
    )
    .into_response()
}

fn not_found_response(path: &str) -> Response {
    ApiError::plain(StatusCode::NOT_FOUND, format!("No such operation: {path}")).into_response()
}

/// Fallback outside `/v2` and `/__sim`.
pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    not_found_response(uri.path())
}
