//! The answer to every operation of the spec no endpoint group implements yet (bearer,
//! required permissions and required body fields checked, then the spec's example of the
//! success answer), and 404 for paths outside the spec.

use axum::body::Body;
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::ops::OperationInfo;
use crate::state::AppState;

/// Fallback under `/v2`: answers the operation the pipeline resolved generically, 404 when the
/// request matches no operation of the spec.
pub(crate) async fn fallback(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let Some(op) = parts.extensions.get::<&'static OperationInfo>().copied() else {
        return not_found_response(uri.path());
    };
    if op.bearer {
        // the access-token extractor checks the operation's required permissions as well
        if let Err(e) = AuthContext::from_request_parts(&mut parts, &state).await {
            return e.into_response();
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
