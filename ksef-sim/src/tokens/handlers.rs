//! The handlers of the KSeF-token endpoints.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ksef_time::format_utc_millis;
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{KsefToken, NewToken};
use crate::auth::context::AuthContext;
use crate::auth::permissions::PERMISSION_TYPES;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::paging::{ContinuationPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::identifiers;
use crate::state::AppState;
use crate::validate;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateTokenRequest {
    permissions: Vec<String>,
    description: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<GenerateTokenRequest>,
) -> Result<Response, ApiError> {
    validate::description(&req.description)?;
    if req.permissions.is_empty() {
        return Err(ApiError::validation("permissions must not be empty."));
    }
    if let Some(p) = req
        .permissions
        .iter()
        .find(|p| !PERMISSION_TYPES.contains(&p.as_str()))
    {
        return Err(ApiError::validation(format!("Unknown permission '{p}'.")));
    }
    if !matches!(ctx.context_type.as_str(), "Nip" | "InternalId") {
        return Err(ApiError::bad_request(
            26002,
            "Nie można wygenerować tokena dla obecnego typu kontekstu.",
            [format!(
                "Current context type: {}; allowed: Nip, InternalId.",
                ctx.context_type
            )],
        ));
    }
    if ctx.auth_method == "Token" {
        return Err(ApiError::forbidden(
            "auth-method-not-allowed",
            "Tokeny KSeF można generować tylko po uwierzytelnieniu podpisem.",
        ));
    }
    let missing: Vec<&String> = req
        .permissions
        .iter()
        .filter(|p| !ctx.permissions.contains(p))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            26001,
            "Nie można nadać tokenowi uprawnień których nie posiadasz.",
            missing.iter().map(|p| format!("Missing permission: {p}")),
        ));
    }
    let now = state.now();
    let delay = chrono::Duration::from_std(state.config.token_activation_delay).unwrap_or_default();
    let (reference, token) = state.tokens.issue(NewToken {
        context_type: ctx.context_type.clone(),
        context_value: ctx.context_value.clone(),
        author_type: ctx.subject_type.clone(),
        author_value: ctx.subject_value.clone(),
        permissions: req.permissions,
        description: req.description,
        created: now,
        active_from: now + delay,
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "referenceNumber": reference, "token": token })),
    )
        .into_response())
}

fn token_json(t: &KsefToken, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "referenceNumber": t.reference,
        "authorIdentifier": { "type": t.author_type, "value": t.author_value },
        "contextIdentifier": { "type": t.context_type, "value": t.context_value },
        "description": t.description,
        "requestedPermissions": t.permissions,
        "dateCreated": format_utc_millis(t.created),
        "status": t.status(now),
    });
    if let (Some(d), Some(m)) = (t.last_use, v.as_object_mut()) {
        m.insert("lastUseDate".into(), json!(format_utc_millis(d)));
    }
    v
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = QueryPairs::parse(raw.as_deref());
    let statuses: Vec<&str> = query.all("status").collect();
    let description = query.first("description");
    let author = query.first("authorIdentifier");
    let author_type = query.first("authorIdentifierType");
    let page = ContinuationPage::read(
        &headers,
        query.int("pageSize")?,
        PageSizes::new(10, 100, 10),
    )?;
    let tokens = state.tokens.list(|t| {
        t.context_type == ctx.context_type
            && t.context_value == ctx.context_value
            && (statuses.is_empty() || statuses.contains(&t.status(state.now())))
            && description.is_none_or(|d| t.description.contains(d))
            && author.is_none_or(|a| t.author_value == a)
            && author_type.is_none_or(|a| t.author_type == a)
    });
    let (page, next) = page.of(&tokens);
    let mut body =
        json!({ "tokens": page.iter().map(|t| token_json(t, state.now())).collect::<Vec<_>>() });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("continuationToken".into(), json!(n));
    }
    Ok(Json(body))
}

fn token_in_context(
    state: &AppState,
    ctx: &AuthContext,
    reference: &str,
) -> Result<KsefToken, ApiError> {
    if !identifiers::is_reference_number(reference, None) {
        return Err(ApiError::validation(format!(
            "Invalid reference number '{reference}'."
        )));
    }
    state
        .tokens
        .get(reference)
        .filter(|t| t.context_type == ctx.context_type && t.context_value == ctx.context_value)
        .ok_or_else(|| {
            ApiError::bad_request(
                21405,
                "Błąd walidacji danych wejściowych.",
                [format!("Token {reference} not found.")],
            )
        })
}

pub(crate) async fn get(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    token_in_context(&state, &ctx, &reference).map(|t| Json(token_json(&t, state.now())))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = token_in_context(&state, &ctx, &reference)?;
    state.tokens.revoke(&t.reference);
    Ok(StatusCode::NO_CONTENT)
}
