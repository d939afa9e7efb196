//! `POST /auth/token/redeem` and `POST /auth/token/refresh`: access and refresh tokens of a
//! finished authentication.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use super::context::bearer_claims;
use super::store::{AuthOperation, unknown_operation};
use crate::error::ApiError;
use crate::jwt::{self, TokenKind};
use crate::state::AppState;

/// Signs a new token of `kind` for `op`; returns the token and its `jti`.
pub(crate) fn issue(
    state: &AppState,
    op: &AuthOperation,
    kind: TokenKind,
    valid_until: DateTime<Utc>,
) -> (String, String) {
    let claims = op.claims(kind, state.now(), valid_until);
    (jwt::sign(&state.jwt_secret, &claims), claims.jti)
}

fn lifetime(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(15))
}

fn token_revoked(state: &AppState, op: &AuthOperation) -> bool {
    op.ksef_token_reference
        .as_deref()
        .and_then(|r| state.tokens.get(r))
        .is_some_and(|t| t.revoked)
}

/// The bearer token's claims (a token of `kind`) and the authentication operation it belongs to.
fn operation_of_bearer(
    parts: &Parts,
    state: &AppState,
    kind: TokenKind,
) -> Result<(jwt::Claims, AuthOperation), ApiError> {
    let (claims, _) = bearer_claims(parts, state, kind)?;
    let op = state
        .auth
        .operation(&claims.reference)
        .ok_or_else(|| unknown_operation(&claims.reference))?;
    Ok((claims, op))
}

pub(crate) async fn redeem(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
    let (_, op) = operation_of_bearer(&parts, &state, TokenKind::Operation)?;
    let fail = |d: String| ApiError::bad_request(21301, "Brak autoryzacji.", [d]);
    if op.redeemed {
        return Err(fail(format!(
            "Tokeny dla operacji uwierzytelniania {} zostały już pobrane.",
            op.reference
        )));
    }
    if op.current_code(state.now()) != 200 {
        return Err(fail(format!(
            "Status uwierzytelniania ({}) nie pozwala na pobranie tokenów.",
            op.current_code(state.now())
        )));
    }
    if token_revoked(&state, &op) {
        return Err(fail("Token KSeF został unieważniony.".into()));
    }
    let now = state.now();
    let access_until = now + lifetime(state.config.access_token_lifetime);
    let refresh_until = now + lifetime(state.config.refresh_token_lifetime);
    let (access, _) = issue(&state, &op, TokenKind::Access, access_until);
    let (refresh, jti) = issue(&state, &op, TokenKind::Refresh, refresh_until);
    let first = state
        .auth
        .update(&op.reference, |o| {
            if o.redeemed {
                return false;
            }
            o.redeemed = true;
            o.refresh_jti = Some(jti);
            o.refresh_valid_until = Some(refresh_until);
            true
        })
        .unwrap_or(false);
    if !first {
        return Err(fail(format!(
            "Tokeny dla operacji uwierzytelniania {} zostały już pobrane.",
            op.reference
        )));
    }
    Ok(Json(json!({
        "accessToken": { "token": access, "validUntil": format_utc_millis(access_until) },
        "refreshToken": { "token": refresh, "validUntil": format_utc_millis(refresh_until) },
    })))
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
    let (claims, op) = operation_of_bearer(&parts, &state, TokenKind::Refresh)?;
    if op.revoked_refresh || op.refresh_jti.as_deref() != Some(claims.jti.as_str()) {
        return Err(ApiError::unauthorized("Refresh token został unieważniony."));
    }
    if token_revoked(&state, &op) {
        return Err(ApiError::bad_request(
            21301,
            "Brak autoryzacji.",
            ["Token KSeF został unieważniony."],
        ));
    }
    let now = state.now();
    let access_until = now + lifetime(state.config.access_token_lifetime);
    let (access, _) = issue(&state, &op, TokenKind::Access, access_until);
    state
        .auth
        .update(&op.reference, |o| o.last_refresh = Some(now));
    Ok(Json(json!({
        "accessToken": { "token": access, "validUntil": format_utc_millis(access_until) },
    })))
}
