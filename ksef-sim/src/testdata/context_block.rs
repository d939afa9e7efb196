//! `/testdata/context/block`, `/testdata/context/unblock`: authentication in a blocked context
//! ends with status 480.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::permissions::TypedId;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::identifiers;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockRequest {
    #[serde(default)]
    context_identifier: Option<TypedId>,
}

fn block_key(req: &BlockRequest) -> Result<String, ApiError> {
    let id = req
        .context_identifier
        .as_ref()
        .ok_or_else(|| ApiError::validation("contextIdentifier is required."))?;
    identifiers::validate_context(&id.kind, &id.value).map_err(ApiError::validation)?;
    Ok(format!("{}:{}", id.kind, id.value))
}

pub(crate) async fn block(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.testdata.block(&block_key(&req)?);
    Ok(StatusCode::OK)
}

pub(crate) async fn unblock(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.testdata.unblock(&block_key(&req)?);
    Ok(StatusCode::OK)
}
