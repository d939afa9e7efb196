//! Run-time control of a running simulator: [`SimControl`] in-process, and the same controls
//! over HTTP under `/__sim/` (for the binary).
//!
//! The HTTP control API answers only requests that carry the simulator's per-run control token
//! in the `x-ksef-sim-token` header (printed by the binary at start, read from
//! [`SimControl::control_token`]) and, for POST, a JSON content type — a web page the user
//! visits can neither guess the token nor send a cross-site "simple" request. Only
//! `GET /__sim/health` is open.

use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::access_tokens;
use crate::auth::permissions::OWNER_PERMISSIONS;
use crate::auth::store::{AuthCaps, AuthOperation};
use crate::error::{ApiError, SimError};
use crate::faults::{Fault, FaultKey, MAX_FAULT_DELAY_MS};
use crate::identifiers::{RefKind, reference_number};
use crate::jwt::TokenKind;
use crate::keys::KeyUsage;
use crate::state::AppState;
use crate::tokens::store::NewToken;

/// Handle for changing a running simulator's behaviour (faults, rate limits, keys, test data).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct SimControl {
    pub(crate) state: AppState,
}

impl SimControl {
    /// Arms a fault for an operation (`ksef_sim::ops::ONLINE_SESSION_SEND_INVOICE`, or as text
    /// `"POST /sessions/online/{referenceNumber}/invoices"`), a kind of presigned URL
    /// ([`crate::PresignedRoute`], `"PUT /__presigned/batch-part"`), or every request
    /// ([`FaultKey::all`], `"*"`).
    pub fn inject(&self, target: impl Into<FaultKey>, fault: Fault) {
        self.state.faults.inject(target.into(), fault);
    }

    /// Removes every armed fault.
    pub fn clear_faults(&self) {
        self.state.faults.clear(None);
    }

    /// How many armed uses of faults with a count have not fired yet (a test checks that the
    /// faults it armed were met).
    pub fn unfired_faults(&self) -> u64 {
        self.state.faults.unfired()
    }

    /// Enables or disables rate limiting.
    pub fn set_rate_limits_enabled(&self, enabled: bool) {
        self.state.rate_limiter.set_enabled(enabled);
    }

    /// Scales every rate limit (2.0 = twice as many requests allowed).
    pub fn set_rate_limit_scale(&self, scale: f64) {
        self.state.rate_limiter.set_scale(scale);
    }

    /// Forgets all rate-limit counters.
    pub fn reset_rate_limit_counters(&self) {
        self.state.rate_limiter.reset_counters();
    }

    /// Adds a new key pair and certificate for `usage` valid in `[from, to]`; returns its
    /// `publicKeyId`.
    pub fn add_key(
        &self,
        usage: KeyUsage,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<String, SimError> {
        self.state.keys.add(usage, from, to)
    }

    /// Emergency rotation: a fresh key for `usage` (valid from a minute ago for two years)
    /// replaces every other key of that usage, which leaves the list at once and whose id
    /// answers 21470 from now on. Returns the new `publicKeyId`.
    pub fn rotate_key(&self, usage: KeyUsage) -> Result<String, SimError> {
        let now = self.state.now();
        self.state.keys.rotate(
            usage,
            now - chrono::Duration::minutes(1),
            now + chrono::Duration::days(730),
        )
    }

    /// Withdraws a key (emergency rotation): it leaves the list and its id answers 21470.
    pub fn withdraw_key(&self, public_key_id: &str) -> bool {
        self.state.keys.withdraw(public_key_id)
    }

    /// Registers an `Active` KSeF token for the `Nip` context `nip` (author: the same NIP) with
    /// `permissions`, as if created with `POST /tokens` after a signature authentication.
    /// Returns the token string to encrypt in `/auth/ksef-token`.
    pub fn create_ksef_token(&self, nip: &str, permissions: &[&str]) -> String {
        let now = self.state.now();
        let (_, token) = self.state.tokens.issue(NewToken {
            context_type: "Nip".into(),
            context_value: nip.to_string(),
            author_type: "Nip".into(),
            author_value: nip.to_string(),
            permissions: permissions.iter().map(|p| (*p).to_string()).collect(),
            description: "created by SimControl".into(),
            created: now,
            active_from: now,
        });
        token
    }

    /// Blocks (or unblocks) authentication in a context (`"Nip"`, `"5265877635"`): new
    /// authentications end with status 480, like `/testdata/context/block`.
    pub fn set_context_blocked(&self, context_type: &str, value: &str, blocked: bool) {
        let key = format!("{context_type}:{value}");
        if blocked {
            self.state.testdata.block(&key);
        } else {
            self.state.testdata.unblock(&key);
        }
    }

    /// Registers a completed owner authentication in the `Nip` context `nip`
    /// (all owner permissions, KSeF-token method) and returns an access token for
    /// it, skipping the challenge and signature steps. Meant for tests of the
    /// invoicing endpoints that do not exercise authentication itself.
    pub fn issue_test_access_token(&self, nip: &str) -> String {
        self.issue_access_token(
            ("Nip", nip),
            ("Nip", nip),
            OWNER_PERMISSIONS.iter().map(|p| (*p).to_string()).collect(),
        )
    }

    /// Registers a completed authentication of `subject` (`Nip`, `Pesel` or `Fingerprint` and
    /// its value) in `context` (`Nip`, `InternalId`, `NipVatUe` and its value) with the
    /// permissions the subject holds there — as an owner, through test data, and through grants
    /// made with the permissions API — and returns an access token for it. `None` when the
    /// subject holds no permission there (authentication status 415).
    pub fn issue_access_token_as(
        &self,
        context: (&str, &str),
        subject: (&str, &str),
    ) -> Option<String> {
        let outcome = crate::auth::permissions::resolve_permissions(
            &self.state,
            context.0,
            context.1,
            subject.0,
            subject.1,
        );
        (outcome.code == 200)
            .then(|| self.issue_access_token(context, subject, outcome.permissions))
    }

    fn issue_access_token(
        &self,
        context: (&str, &str),
        subject: (&str, &str),
        permissions: Vec<String>,
    ) -> String {
        let state = &self.state;
        let now = state.now();
        let date = ksef_time::business_date(now);
        let reference = reference_number(RefKind::Auth, date);
        let token_ref = reference_number(RefKind::KsefToken, date);
        let op = AuthOperation {
            reference: reference.clone(),
            start: now,
            method: "Token".into(),
            method_category: "Token".into(),
            context_type: context.0.to_string(),
            context_value: context.1.to_string(),
            subject_type: subject.0.to_string(),
            subject_value: subject.1.to_string(),
            permissions,
            ready_at: now,
            status_code: 200,
            status_description: "Uwierzytelnianie zakończone sukcesem".into(),
            status_details: Vec::new(),
            redeemed: true,
            refresh_jti: None,
            refresh_valid_until: None,
            last_refresh: None,
            revoked_refresh: false,
            revoked_access: false,
            allowed_ips: Vec::new(),
            ksef_token_reference: Some(token_ref),
            certificate_der: None,
        };
        state.auth.insert(op.clone(), AuthCaps::of(&state.config));
        let lifetime = chrono::Duration::from_std(state.config.access_token_lifetime)
            .unwrap_or(chrono::Duration::minutes(15));
        access_tokens::issue(state, &op, TokenKind::Access, now + lifetime).0
    }

    /// The base URL, `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The control token of this run: send it in the `x-ksef-sim-token` header of every request
    /// to the HTTP control API (`/__sim/...`).
    pub fn control_token(&self) -> &str {
        self.state.control_token.as_str()
    }

    /// DER of the simulator's CA certificate, the issuer of every KSeF certificate it enrolls
    /// (also served, as PEM, at `GET /__sim/certificates/ca` without the control token).
    pub fn certificate_authority_der(&self) -> Vec<u8> {
        self.state.certificates.authority.certificate_der().to_vec()
    }

    /// The simulator's CA certificate as PEM.
    pub fn certificate_authority_pem(&self) -> String {
        crate::certificates::authority::pem(self.state.certificates.authority.certificate_der())
    }
}

/// The header that carries the control token.
pub const CONTROL_TOKEN_HEADER: &str = "x-ksef-sim-token";

/// Admits a request to the control API: the token, and a JSON body for POST.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if req.method() == Method::GET && (path.ends_with("/health") || path.ends_with(CA_PATH)) {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(CONTROL_TOKEN_HEADER)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    if !state.control_token.matches(&presented) {
        return ApiError::unauthorized(format!(
            "The control API requires this run's control token in the {CONTROL_TOKEN_HEADER} header."
        ))
        .into_response();
    }
    if req.method() == Method::POST {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return ApiError::plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The control API accepts only Content-Type: application/json.",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Where the CA certificate is served (public, like `/health`).
const CA_PATH: &str = "/certificates/ca";

/// `GET /__sim/certificates/ca`: the CA certificate as PEM.
async fn certificate_authority(State(state): State<AppState>) -> Response {
    let pem = crate::certificates::authority::pem(state.certificates.authority.certificate_der());
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

/// Routes of the HTTP control API (nested under `/__sim`), behind [`guard`].
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/faults", post(inject_fault).delete(clear_faults))
        .route("/rate-limits", post(rate_limits))
        .route("/keys", post(add_key))
        .route("/keys/{public_key_id}/withdraw", post(withdraw_key))
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(CA_PATH, axum::routing::get(certificate_authority))
        .route("/faults/{op}", delete(clear_op))
        .route_layer(axum::middleware::from_fn_with_state(state, guard))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultRequest {
    operation: String,
    fault: Fault,
}

async fn inject_fault(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultRequest>(&body) {
        Ok(r) if fault_delay_ms(&r.fault) > MAX_FAULT_DELAY_MS => ApiError::validation(format!(
            "fault.delayMs / fault.durationMs must be at most {MAX_FAULT_DELAY_MS} (one day)."
        ))
        .into_response(),
        Ok(r) => {
            state.faults.inject(FaultKey::from(r.operation), r.fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => ApiError::validation(e.to_string()).into_response(),
    }
}

/// The delay a fault adds, in milliseconds (0 for faults without one).
fn fault_delay_ms(fault: &Fault) -> u64 {
    match fault {
        Fault::Latency { delay_ms, .. } => *delay_ms,
        Fault::StuckProcessing { duration_ms, .. } => *duration_ms,
        _ => 0,
    }
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear(None);
    StatusCode::NO_CONTENT
}

async fn clear_op(State(state): State<AppState>, Path(op): Path<String>) -> StatusCode {
    state.faults.clear(Some(&FaultKey::from(op)));
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RateLimitRequest {
    enabled: Option<bool>,
    scale: Option<f64>,
    #[serde(default)]
    reset_counters: bool,
}

async fn rate_limits(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<RateLimitRequest>(&body) {
        Ok(r) => {
            if let Some(e) = r.enabled {
                state.rate_limiter.set_enabled(e);
            }
            if let Some(s) = r.scale {
                state.rate_limiter.set_scale(s);
            }
            if r.reset_counters {
                state.rate_limiter.reset_counters();
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => ApiError::validation(e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddKeyRequest {
    usage: KeyUsage,
    valid_from: Option<DateTime<Utc>>,
    valid_to: Option<DateTime<Utc>>,
}

async fn add_key(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let r = match serde_json::from_slice::<AddKeyRequest>(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::validation(e.to_string()).into_response(),
    };
    let now = state.now();
    let from = r.valid_from.unwrap_or(now - chrono::Duration::minutes(1));
    let to = r.valid_to.unwrap_or(now + chrono::Duration::days(730));
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.keys.add(r.usage, from, to)).await {
        Ok(Ok(id)) => Json(serde_json::json!({ "publicKeyId": id })).into_response(),
        Ok(Err(e)) => ApiError::internal(e.to_string()).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

async fn withdraw_key(State(state): State<AppState>, Path(id): Path<String>) -> StatusCode {
    if state.keys.withdraw(&id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
