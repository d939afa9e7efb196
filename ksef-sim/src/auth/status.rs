//! `GET /auth/{referenceNumber}`: the status of an authentication operation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use serde_json::Value;

use super::context::bearer_claims;
use super::store::{operation_json, unknown_operation};
use crate::error::ApiError;
use crate::jwt::TokenKind;
use crate::state::AppState;

pub(crate) async fn status(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
    let (claims, _) = bearer_claims(&parts, &state, TokenKind::Operation)?;
    if claims.reference != reference {
        return Err(ApiError::forbidden(
            "insufficient-resource-access",
            "Token operacji nie dotyczy tej operacji uwierzytelnienia.",
        ));
    }
    let op = state
        .auth
        .operation(&reference)
        .ok_or_else(|| unknown_operation(&reference))?;
    Ok(Json(operation_json(&op, state.now())))
}
