//! HTTP handlers of the authentication endpoints.

use ksef_time::format_utc_millis;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::{bearer_claims, client_ip};
use super::permissions::resolve_permissions;
use super::{AuthContext, AuthOperation, ChallengeRecord, IpRule};
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::paging::{ContinuationPage, PageSizes};
use crate::identifiers::{self, RefKind};
use crate::jwt::{self, Claims, TokenKind};
use crate::keys::KeyUsage;
use crate::state::AppState;

/// Routes of the authentication part (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/challenge", post(challenge))
        .route("/auth/ksef-token", post(ksef_token))
        .route("/auth/xades-signature", post(xades_signature))
        .route("/auth/token/redeem", post(redeem))
        .route("/auth/token/refresh", post(refresh))
        .route("/auth/sessions", get(list_sessions))
        .route("/auth/sessions/current", delete(revoke_current))
        .route("/auth/sessions/{referenceNumber}", delete(revoke_session))
        .route("/auth/{referenceNumber}", get(status))
}

async fn challenge(State(state): State<AppState>, parts: Parts) -> Json<Value> {
    let now = state.now();
    let ip = client_ip(&parts);
    let challenge =
        identifiers::reference_number(RefKind::Challenge, ksef_time::business_date(now));
    state.auth.add_challenge(
        challenge.clone(),
        ChallengeRecord {
            timestamp: now,
            used: false,
        },
    );
    Json(json!({
        "challenge": challenge,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "timestampMs": now.timestamp_millis(),
        "clientIp": ip.to_string(),
    }))
}

fn bad_challenge(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        21111,
        "Nieprawidłowe wyzwanie autoryzacyjne.",
        [detail.into()],
    )
}

/// Checks that a challenge exists, is unused and not expired; marks it used.
pub(crate) fn take_challenge(
    state: &AppState,
    challenge: &str,
) -> Result<ChallengeRecord, ApiError> {
    if !identifiers::is_reference_number(challenge, Some(RefKind::Challenge)) {
        return Err(bad_challenge(format!(
            "Challenge '{challenge}' has an invalid format."
        )));
    }
    let rec = state
        .auth
        .challenge(challenge)
        .ok_or_else(|| bad_challenge(format!("Challenge '{challenge}' is unknown.")))?;
    if rec.used {
        return Err(bad_challenge(format!(
            "Challenge '{challenge}' was already used."
        )));
    }
    let validity = chrono::Duration::from_std(state.config.challenge_validity)
        .unwrap_or(chrono::Duration::minutes(10));
    if state.now() > rec.timestamp + validity {
        return Err(bad_challenge(format!(
            "Challenge '{challenge}' has expired."
        )));
    }
    state.auth.mark_challenge_used(challenge);
    Ok(rec)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextIdentifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AllowedIps {
    #[serde(default)]
    ip4_addresses: Option<Vec<String>>,
    #[serde(default)]
    ip4_ranges: Option<Vec<String>>,
    #[serde(default)]
    ip4_masks: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthorizationPolicy {
    #[serde(default)]
    allowed_ips: Option<AllowedIps>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitTokenAuthenticationRequest {
    challenge: String,
    context_identifier: ContextIdentifier,
    encrypted_token: String,
    #[serde(default)]
    public_key_id: Option<String>,
    #[serde(default)]
    authorization_policy: Option<AuthorizationPolicy>,
}

/// Parses IP rules; `Err(reason)` on a malformed entry or more than 10 of a kind.
pub(crate) fn parse_ip_rules(
    addrs: &[String],
    ranges: &[String],
    masks: &[String],
) -> Result<Vec<IpRule>, String> {
    if addrs.len() > 10 || ranges.len() > 10 || masks.len() > 10 {
        return Err("At most 10 entries of each kind of allowed IPs.".into());
    }
    let ip = |s: &str| {
        s.trim()
            .parse::<std::net::Ipv4Addr>()
            .map_err(|_| format!("Invalid IPv4 address '{s}'."))
    };
    let mut out = Vec::new();
    for a in addrs {
        out.push(IpRule::Addr(ip(a)?));
    }
    for r in ranges {
        let (a, b) = r
            .split_once('-')
            .ok_or_else(|| format!("Invalid IPv4 range '{r}'."))?;
        out.push(IpRule::Range(ip(a)?, ip(b)?));
    }
    for m in masks {
        let (a, bits) = m
            .split_once('/')
            .ok_or_else(|| format!("Invalid IPv4 mask '{m}'."))?;
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= 32)
            .ok_or_else(|| format!("Invalid IPv4 mask '{m}'."))?;
        out.push(IpRule::Mask(ip(a)?, bits));
    }
    Ok(out)
}

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
}

/// Registers an authentication operation and answers 202 with its operation token.
pub(crate) fn start_operation(state: &AppState, op_key: &str, new: NewOperation) -> Response {
    let now = state.now();
    let reference = identifiers::reference_number(RefKind::Auth, ksef_time::business_date(now));
    let mut outcome = new.outcome;
    let mut delay = state.config.auth_processing_delay;
    if let Some(extra) = state.faults.take_stuck_processing(op_key) {
        delay += extra;
    }
    if outcome.code == 200 && state.faults.take_async_failure(op_key) {
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
    let claims = Claims {
        typ: TokenKind::Operation,
        reference: reference.clone(),
        ctt: new.context_type.clone(),
        ctv: new.context_value.clone(),
        sub: format!("{}:{}", new.subject_type, new.subject_value),
        iat: now.timestamp(),
        exp: valid_until.timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let token = jwt::sign(&state.jwt_secret, &claims);
    state.auth.insert(AuthOperation {
        reference: reference.clone(),
        start: now,
        method: new.method.into(),
        method_category: new.category.into(),
        context_type: new.context_type,
        context_value: new.context_value,
        subject_type: new.subject_type,
        subject_value: new.subject_value,
        permissions: outcome.permissions,
        ready_at: Instant::now() + delay,
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
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "referenceNumber": reference,
            "authenticationToken": { "token": token, "validUntil": format_utc_millis(valid_until) },
        })),
    )
        .into_response()
}

async fn ksef_token(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<InitTokenAuthenticationRequest>,
) -> Result<Response, ApiError> {
    let ctx = &req.context_identifier;
    identifiers::validate_context(&ctx.kind, &ctx.value).map_err(ApiError::validation)?;
    if let Some(id) = &req.public_key_id
        && id.len() != 44
    {
        return Err(ApiError::validation(
            "publicKeyId must be 44 characters (Base64 of SHA-256).",
        ));
    }
    let ciphertext = STANDARD
        .decode(req.encrypted_token.trim())
        .map_err(|e| ApiError::validation(format!("encryptedToken is not Base64: {e}")))?;
    let policy = req.authorization_policy.unwrap_or_default();
    let ips = policy.allowed_ips.unwrap_or_default();
    let allowed_ips = parse_ip_rules(
        ips.ip4_addresses.as_deref().unwrap_or_default(),
        ips.ip4_ranges.as_deref().unwrap_or_default(),
        ips.ip4_masks.as_deref().unwrap_or_default(),
    )
    .map_err(ApiError::validation)?;
    let rec = take_challenge(&state, &req.challenge)?;
    // 21470 for an unknown/withdrawn key is synchronous.
    let plaintext = state.keys.oaep_decrypt(
        KeyUsage::KsefTokenEncryption,
        req.public_key_id.as_deref(),
        &ciphertext,
        state.now(),
    )?;
    let mut token_ref = None;
    let (outcome, subject) = match plaintext.as_deref().map(std::str::from_utf8) {
        None | Some(Err(_)) => (
            Outcome::fail(450, "Nie udało się odszyfrować tokena."),
            ("Nip".to_string(), ctx.value.clone()),
        ),
        Some(Ok(text)) => match text.rsplit_once('|') {
            None => (
                Outcome::fail(450, "Zaszyfrowana treść nie ma postaci token|timestamp."),
                ("Nip".to_string(), ctx.value.clone()),
            ),
            Some((token, ts)) => {
                let ts_ok = ts.trim().parse::<i64>().ok() == Some(rec.timestamp.timestamp_millis());
                match state.tokens.find_by_token(token) {
                    None => (
                        Outcome::fail(450, "Nieznany token KSeF."),
                        ("Nip".to_string(), ctx.value.clone()),
                    ),
                    Some(t) => {
                        token_ref = Some(t.reference.clone());
                        let subject = (t.author_type.clone(), t.author_value.clone());
                        let outcome = if !ts_ok {
                            Outcome::fail(450, "Znacznik czasu nie odpowiada wyzwaniu.")
                        } else if t.status(state.now()) != "Active" {
                            Outcome::fail(
                                450,
                                format!("Token KSeF ma status {}.", t.status(state.now())),
                            )
                        } else if t.context_type != ctx.kind || t.context_value != ctx.value {
                            Outcome::fail(450, "Token KSeF nie należy do wskazanego kontekstu.")
                        } else {
                            state.tokens.touch(&t.reference, state.now());
                            Outcome::ok(t.permissions.clone())
                        };
                        (outcome, subject)
                    }
                }
            }
        },
    };
    Ok(start_operation(
        &state,
        "POST /auth/ksef-token",
        NewOperation {
            method: "Token",
            category: "Token",
            context_type: ctx.kind.clone(),
            context_value: ctx.value.clone(),
            subject_type: subject.0,
            subject_value: subject.1,
            outcome,
            allowed_ips,
            ksef_token_reference: token_ref,
        },
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct XadesQuery {
    #[serde(default)]
    verify_certificate_chain: Option<bool>,
}

async fn xades_signature(
    State(state): State<AppState>,
    Query(q): Query<XadesQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let verified = crate::xml::xades::verify_auth_request(&body, state.now())?;
    if q.verify_certificate_chain == Some(true) && verified.self_signed {
        // TEST accepts self-signed certificates unless the chain is to be verified.
        return Ok(start_operation(
            &state,
            "POST /auth/xades-signature",
            NewOperation {
                method: verified.method,
                category: "XadesSignature",
                context_type: verified.context_type,
                context_value: verified.context_value,
                subject_type: verified.subject_type,
                subject_value: verified.subject_value,
                outcome: Outcome::fail(
                    460,
                    "Nie można zbudować ścieżki certyfikacji (certyfikat samopodpisany).",
                ),
                allowed_ips: verified.allowed_ips,
                ksef_token_reference: None,
            },
        ));
    }
    take_challenge(&state, &verified.challenge)?;
    let outcome = if let Some(cert_problem) = verified.certificate_problem.clone() {
        Outcome::fail(460, cert_problem)
    } else {
        resolve_permissions(
            &state,
            &verified.context_type,
            &verified.context_value,
            &verified.subject_type,
            &verified.subject_value,
        )
    };
    Ok(start_operation(
        &state,
        "POST /auth/xades-signature",
        NewOperation {
            method: verified.method,
            category: "XadesSignature",
            context_type: verified.context_type,
            context_value: verified.context_value,
            subject_type: verified.subject_type,
            subject_value: verified.subject_value,
            outcome,
            allowed_ips: verified.allowed_ips,
            ksef_token_reference: None,
        },
    ))
}

fn method_info(op: &AuthOperation) -> Value {
    let display = match op.method.as_str() {
        "Token" => "Token KSeF",
        "QualifiedSeal" => "Pieczęć kwalifikowana",
        "QualifiedSignature" => "Podpis kwalifikowany",
        "PersonalSignature" => "Podpis osobisty",
        _ => "Inna metoda",
    };
    json!({ "category": op.method_category, "code": op.method, "displayName": display })
}

fn status_json(op: &AuthOperation) -> Value {
    let code = op.current_code();
    let (code, description, details) = if op.revoked_refresh && code == 200 {
        (
            425,
            "Uwierzytelnienie unieważnione".to_string(),
            vec!["Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika".to_string()],
        )
    } else if code == 100 {
        (100, "Uwierzytelnianie w toku".to_string(), Vec::new())
    } else {
        (
            code,
            op.status_description.clone(),
            op.status_details.clone(),
        )
    };
    let mut status = json!({ "code": code, "description": description });
    if !details.is_empty()
        && let Some(o) = status.as_object_mut()
    {
        o.insert("details".into(), json!(details));
    }
    status
}

fn operation_json(op: &AuthOperation) -> Value {
    let mut v = json!({
        "startDate": format_utc_millis(op.start),
        "authenticationMethod": op.method,
        "authenticationMethodInfo": method_info(op),
        "status": status_json(op),
        "isTokenRedeemed": op.redeemed,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(t) = op.last_refresh {
            o.insert("lastTokenRefreshDate".into(), json!(format_utc_millis(t)));
        }
        if let Some(t) = op.refresh_valid_until {
            o.insert("refreshTokenValidUntil".into(), json!(format_utc_millis(t)));
        }
    }
    v
}

fn not_found_op(reference: &str) -> ApiError {
    ApiError::bad_request(
        21304,
        "Brak uwierzytelnienia.",
        [format!(
            "Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona."
        )],
    )
}

async fn status(
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
        .ok_or_else(|| not_found_op(&reference))?;
    Ok(Json(operation_json(&op)))
}

fn issue(
    state: &AppState,
    op: &AuthOperation,
    kind: TokenKind,
    valid_until: DateTime<Utc>,
) -> (String, String) {
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = Claims {
        typ: kind,
        reference: op.reference.clone(),
        ctt: op.context_type.clone(),
        ctv: op.context_value.clone(),
        sub: format!("{}:{}", op.subject_type, op.subject_value),
        iat: state.now().timestamp(),
        exp: valid_until.timestamp(),
        jti: jti.clone(),
    };
    (jwt::sign(&state.jwt_secret, &claims), jti)
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

async fn redeem(State(state): State<AppState>, parts: Parts) -> Result<Json<Value>, ApiError> {
    let (claims, _) = bearer_claims(&parts, &state, TokenKind::Operation)?;
    let op = state
        .auth
        .operation(&claims.reference)
        .ok_or_else(|| not_found_op(&claims.reference))?;
    let fail = |d: String| ApiError::bad_request(21301, "Brak autoryzacji.", [d]);
    if op.redeemed {
        return Err(fail(format!(
            "Tokeny dla operacji uwierzytelniania {} zostały już pobrane.",
            op.reference
        )));
    }
    if op.current_code() != 200 {
        return Err(fail(format!(
            "Status uwierzytelniania ({}) nie pozwala na pobranie tokenów.",
            op.current_code()
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

async fn refresh(State(state): State<AppState>, parts: Parts) -> Result<Json<Value>, ApiError> {
    let (claims, _) = bearer_claims(&parts, &state, TokenKind::Refresh)?;
    let op = state
        .auth
        .operation(&claims.reference)
        .ok_or_else(|| not_found_op(&claims.reference))?;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    page_size: Option<i64>,
}

async fn list_sessions(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let mut ops = state.auth.filter(|o| {
        o.context_type == ctx.context_type
            && o.context_value == ctx.context_value
            && o.redeemed
            && !o.revoked_refresh
    });
    ops.sort_by_key(|o| std::cmp::Reverse(o.start));
    let page = ContinuationPage::read(&headers, q.page_size, PageSizes::new(10, 100, 10))?;
    let (page, next) = page.of(&ops);
    let items: Vec<Value> = page
        .iter()
        .map(|o| {
            let mut v = operation_json(o);
            if let Some(m) = v.as_object_mut() {
                m.insert("referenceNumber".into(), json!(o.reference));
                m.insert("isCurrent".into(), json!(o.reference == ctx.auth_reference));
            }
            v
        })
        .collect();
    let mut body = json!({ "items": items });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("continuationToken".into(), json!(n));
    }
    Ok(Json(body))
}

fn revoke(state: &AppState, reference: &str) -> bool {
    state
        .auth
        .update(reference, |o| {
            o.revoked_refresh = true;
        })
        .is_some()
}

async fn revoke_current(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    revoke(&state, &ctx.auth_reference);
    StatusCode::NO_CONTENT
}

async fn revoke_session(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !identifiers::is_reference_number(&reference, None) {
        return Err(ApiError::validation(format!(
            "Invalid reference number '{reference}'."
        )));
    }
    let op = state
        .auth
        .operation(&reference)
        .filter(|o| o.context_type == ctx.context_type && o.context_value == ctx.context_value)
        .ok_or_else(|| not_found_op(&reference))?;
    revoke(&state, &op.reference);
    Ok(StatusCode::NO_CONTENT)
}
