//! `/testdata/permissions`, `/testdata/permissions/revoke`: permissions granted to a subject in
//! a context, applied at its next authentication.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::auth::permissions::PERMISSION_TYPES;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::identifiers;
use crate::state::AppState;
use crate::validate;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TypedId {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TdPermission {
    description: String,
    permission_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TdPermissionsRequest {
    context_identifier: TypedId,
    authorized_identifier: TypedId,
    #[serde(default)]
    permissions: Vec<TdPermission>,
}

/// Checks the identifiers of a grant or revocation; returns the context NIP and the authorized
/// subject's (type, value), fingerprints in upper case.
fn grant_key<'a>(ctx: &'a TypedId, who: &TypedId) -> Result<(&'a str, String, String), ApiError> {
    if ctx.kind != "Nip" {
        return Err(ApiError::validation("contextIdentifier.type must be Nip."));
    }
    validate::nip("contextIdentifier.value", &ctx.value)?;
    let value = match who.kind.as_str() {
        "Nip" => {
            validate::nip("authorizedIdentifier.value", &who.value)?;
            who.value.clone()
        }
        "Pesel" if identifiers::is_valid_pesel(&who.value) => who.value.clone(),
        "Fingerprint"
            if who.value.len() == 64 && who.value.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            who.value.to_uppercase()
        }
        _ => {
            return Err(ApiError::validation(format!(
                "authorizedIdentifier: invalid {} '{}'.",
                who.kind, who.value
            )));
        }
    };
    Ok((&ctx.value, who.kind.clone(), value))
}

pub(crate) async fn grant(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TdPermissionsRequest>,
) -> Result<StatusCode, ApiError> {
    let (ctx_nip, kind, value) = grant_key(&req.context_identifier, &req.authorized_identifier)?;
    let mut perms = Vec::new();
    for p in &req.permissions {
        validate::description(&p.description)?;
        if !PERMISSION_TYPES.contains(&p.permission_type.as_str()) {
            return Err(ApiError::validation(format!(
                "Unknown permissionType '{}'.",
                p.permission_type
            )));
        }
        perms.push(p.permission_type.clone());
    }
    state.testdata.grant(ctx_nip, &kind, &value, perms);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TdPermissionsRevokeRequest {
    context_identifier: TypedId,
    authorized_identifier: TypedId,
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TdPermissionsRevokeRequest>,
) -> Result<StatusCode, ApiError> {
    let (ctx_nip, kind, value) = grant_key(&req.context_identifier, &req.authorized_identifier)?;
    state.testdata.revoke(ctx_nip, &kind, &value);
    Ok(StatusCode::OK)
}
