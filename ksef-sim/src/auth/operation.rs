//! Registering an authentication operation: its outcome is decided when it is submitted and
//! shown after the configured processing delay (status 100 until then).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ksef_time::format_utc_millis;
use serde_json::json;

use super::ip_rules::IpRule;
use super::store::{AuthCaps, AuthOperation};
use crate::clock::after;
use crate::identifiers::{self, RefKind};
use crate::jwt::{self, TokenKind};
use crate::ops::OperationInfo;
use crate::state::AppState;

/// Final status of an authentication attempt.
pub(crate) struct Outcome {
    pub code: u16,
    pub description: String,
    pub details: Vec<String>,
    pub permissions: Vec<String>,
}

impl Outcome {
    pub(crate) fn ok(permissions: Vec<String>) -> Self {
        Self {
            code: 200,
            description: "Uwierzytelnianie zakończone sukcesem".into(),
            details: Vec::new(),
            permissions,
        }
    }
    pub(crate) fn fail(code: u16, detail: impl Into<String>) -> Self {
        let description = match code {
            415 => "Uwierzytelnianie zakończone niepowodzeniem",
            450 => "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
            460 => "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
            470 => "Uwierzytelnianie zakończone niepowodzeniem",
            480 => "Uwierzytelnianie zablokowane",
            550 => "Operacja została anulowana przez system",
            _ => "Uwierzytelnianie zakończone niepowodzeniem",
        };
        Self {
            code,
            description: description.into(),
            details: vec![detail.into()],
            permissions: Vec::new(),
        }
    }
}

pub(crate) struct NewOperation {
    pub method: &'static str,
    pub category: &'static str,
    pub context_type: String,
    pub context_value: String,
    pub subject_type: String,
    pub subject_value: String,
    pub outcome: Outcome,
    pub allowed_ips: Vec<IpRule>,
    pub ksef_token_reference: Option<String>,
    pub certificate_der: Option<Vec<u8>>,
}

/// Registers an authentication operation submitted to `submitted_to` (whose `StuckProcessing`
/// and `AsyncFailure` faults apply) and answers 202 with its operation token.
pub(crate) fn start_operation(
    state: &AppState,
    submitted_to: &OperationInfo,
    new: NewOperation,
) -> Response {
    let now = state.now();
    let reference = identifiers::reference_number(RefKind::Auth, ksef_time::business_date(now));
    let mut outcome = new.outcome;
    let mut delay = state.config.auth_processing_delay;
    if let Some(extra) = state.faults.take_stuck_processing(submitted_to) {
        delay = delay.saturating_add(extra);
    }
    if outcome.code == 200 && state.faults.take_async_failure(submitted_to) {
        outcome = Outcome::fail(
            550,
            "Operacja została anulowana przez system (wstrzyknięty błąd).",
        );
    }
    let ctx_key = format!("{}:{}", new.context_type, new.context_value);
    if outcome.code == 200 && state.testdata.is_blocked(&ctx_key) {
        outcome = Outcome::fail(
            480,
            "Uwierzytelnianie w tym kontekście zostało zablokowane.",
        );
    }
    let lifetime = chrono::Duration::from_std(state.config.authentication_token_lifetime)
        .unwrap_or(chrono::Duration::minutes(10));
    let valid_until = now + lifetime;
    let op = AuthOperation {
        reference: reference.clone(),
        start: now,
        method: new.method.into(),
        method_category: new.category.into(),
        context_type: new.context_type,
        context_value: new.context_value,
        subject_type: new.subject_type,
        subject_value: new.subject_value,
        permissions: outcome.permissions,
        ready_at: after(now, delay),
        status_code: outcome.code,
        status_description: outcome.description,
        status_details: outcome.details,
        redeemed: false,
        refresh_jti: None,
        refresh_valid_until: None,
        last_refresh: None,
        revoked_refresh: false,
        revoked_access: false,
        allowed_ips: new.allowed_ips,
        ksef_token_reference: new.ksef_token_reference,
        certificate_der: new.certificate_der,
    };
    let token = jwt::sign(
        &state.jwt_secret,
        &op.claims(TokenKind::Operation, now, valid_until),
    );
    state.auth.insert(op, AuthCaps::of(&state.config));
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "referenceNumber": reference,
            "authenticationToken": { "token": token, "validUntil": format_utc_millis(valid_until) },
        })),
    )
        .into_response()
}
