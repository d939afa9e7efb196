//! The authenticated context of a request (`Authorization: Bearer <accessToken>`).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::jwt::{self, Claims, JwtError, TokenKind};
use crate::ops::OperationInfo;
use crate::state::{AppState, ClientIp};

/// Who is calling, in which context, with which permissions. Extract it in a handler
/// (`ctx: AuthContext`) to require a valid access token: 401 without one, 403 `ip-not-allowed`
/// outside the authentication's IP policy, and 403 `missing-permissions` unless the context holds
/// one of the permissions the request's operation requires (`x-required-permissions`) — the one
/// place permissions are checked.
#[derive(Debug, Clone)]
pub(crate) struct AuthContext {
    /// Context identifier type: `Nip`, `InternalId`, `NipVatUe` or `PeppolId`.
    pub context_type: String,
    /// Context identifier value.
    pub context_value: String,
    /// The NIP of the context (the value for `Nip`, the NIP part of `InternalId`/`NipVatUe`).
    pub nip: Option<String>,
    /// The authenticated subject: identifier type (`Nip`, `Pesel`, `Fingerprint`) and value.
    pub subject_type: String,
    /// The authenticated subject's identifier value.
    pub subject_value: String,
    /// Permissions held in this context (e.g. `InvoiceWrite`, `InvoiceRead`).
    pub permissions: Vec<String>,
    /// `AuthenticationMethodInfo.code`-like method: `Token`, `QualifiedSeal`, `QualifiedSignature`...
    pub auth_method: String,
    /// Reference number of the authentication operation.
    pub auth_reference: String,
}

impl AuthContext {
    /// `"Nip:5265877635"` — a stable key for per-context state.
    pub fn context_key(&self) -> String {
        format!("{}:{}", self.context_type, self.context_value)
    }

    /// `"Nip:5265877635"` — the authenticated subject, a key for per-subject state.
    pub fn subject_key(&self) -> String {
        format!("{}:{}", self.subject_type, self.subject_value)
    }

    /// Whether the context holds any of `perms` (true when `perms` is empty).
    pub fn has_any(&self, perms: &[&str]) -> bool {
        perms.is_empty()
            || perms
                .iter()
                .any(|p| self.permissions.iter().any(|h| h == p))
    }

    /// 403 missing-permissions unless the context holds one of `perms`.
    pub fn require_any(&self, perms: &[&str]) -> Result<(), ApiError> {
        if self.has_any(perms) {
            Ok(())
        } else {
            Err(ApiError::missing_permissions(perms))
        }
    }
}

/// The NIP inside a context identifier.
pub(crate) fn nip_of_context(context_type: &str, value: &str) -> Option<String> {
    match context_type {
        "Nip" => Some(value.to_string()),
        "InternalId" | "NipVatUe" => value.split('-').next().map(str::to_string),
        _ => None,
    }
}

/// Extracts and verifies a bearer token of `kind`.
pub(crate) fn bearer_claims(
    parts: &Parts,
    state: &AppState,
    kind: TokenKind,
) -> Result<(Claims, String), ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("Brak tokena uwierzytelniającego (Authorization: Bearer).")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("Oczekiwano schematu Bearer."))?;
    let claims =
        jwt::verify(&state.jwt_secret, token, state.now().timestamp()).map_err(|e| match e {
            JwtError::Expired => ApiError::unauthorized("Token wygasł."),
            JwtError::BadSignature | JwtError::Malformed => {
                ApiError::unauthorized("Nieprawidłowy token.")
            }
        })?;
    if state.faults.token_expired(&claims.jti) {
        return Err(ApiError::unauthorized("Token wygasł."));
    }
    if claims.typ != kind {
        return Err(ApiError::unauthorized(format!(
            "Nieprawidłowy rodzaj tokena: oczekiwano {kind:?}, otrzymano {:?}.",
            claims.typ
        )));
    }
    Ok((claims, token.to_string()))
}

pub(crate) fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ClientIp>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

impl FromRequestParts<AppState> for AuthContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (claims, _) = bearer_claims(parts, state, TokenKind::Access)?;
        let ip = client_ip(parts);
        let op = state
            .auth
            .operation(&claims.reference)
            .ok_or_else(|| ApiError::unauthorized("Nieznana sesja uwierzytelnienia."))?;
        if op.revoked_access {
            return Err(ApiError::unauthorized(
                "Sesja uwierzytelnienia została unieważniona.",
            ));
        }
        if !op.ip_allowed(ip) {
            return Err(ApiError::forbidden(
                "ip-not-allowed",
                "Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.",
            ));
        }
        let ctx = AuthContext {
            nip: nip_of_context(&op.context_type, &op.context_value),
            context_type: op.context_type,
            context_value: op.context_value,
            subject_type: op.subject_type,
            subject_value: op.subject_value,
            permissions: op.permissions,
            auth_method: op.method,
            auth_reference: op.reference,
        };
        if let Some(operation) = parts.extensions.get::<&'static OperationInfo>() {
            ctx.require_any(operation.required_permissions)?;
        }
        Ok(ctx)
    }
}
