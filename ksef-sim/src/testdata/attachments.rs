//! `/testdata/attachment`, `/testdata/attachment/revoke`: whether a taxpayer may send invoices
//! with attachments.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::subjects::NipRequest;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::state::AppState;
use crate::validate;

pub(crate) async fn allow(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NipRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("nip", &req.nip)?;
    state.testdata.allow_attachments(&req.nip);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachmentRevokeRequest {
    nip: String,
    #[serde(default)]
    expected_end_date: Option<chrono::NaiveDate>,
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<AttachmentRevokeRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("nip", &req.nip)?;
    let at = req
        .expected_end_date
        .map(ksef_time::start_of_business_day)
        .unwrap_or_else(|| state.now());
    state.testdata.revoke_attachments(&req.nip, at);
    Ok(StatusCode::OK)
}
