//! The handlers of the certificate endpoints. Every operation concerns the authenticated subject
//! (the owner of the certificates), whatever the context of the access token.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use der::Decode;
use ksef_time::format_utc_millis;
use serde::Deserialize;
use serde_json::{Value, json};
use x509_cert::Certificate;

use super::authority::CertificateKind;
use super::store::{Enrollment, EnrollmentOutcome, IssuedCertificate};
use super::subject::{EnrollmentSubject, attribute};
use crate::auth::context::AuthContext;
use crate::clock::after;
use crate::error::ApiError;
use crate::http::json_body::{JsonBody, parse};
use crate::http::paging::{OffsetPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::identifiers::{self, RefKind};
use crate::invoicing::store::Status;
use crate::ops::OperationInfo;
use crate::state::AppState;

const QUERY_PAGE: PageSizes = PageSizes::new(10, 50, 10);
const MAX_RETRIEVE: usize = 10;

/// The certificate the caller authenticated with, when it authenticated with a signature.
fn authenticating_certificate(state: &AppState, ctx: &AuthContext) -> Option<Certificate> {
    if ctx.auth_method == "Token" {
        return None;
    }
    state
        .auth
        .operation(&ctx.auth_reference)
        .and_then(|op| op.certificate_der)
        .and_then(|der| Certificate::from_der(&der).ok())
}

fn is_serial(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn check_serial(field: &str, s: &str) -> Result<(), ApiError> {
    if is_serial(s) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field} must be 16 uppercase hexadecimal digits, got '{s}'."
        )))
    }
}

fn not_found(serial: &str) -> ApiError {
    ApiError::bad_request(
        25008,
        "Certyfikat o podanym numerze seryjnym nie istnieje.",
        [format!("Certificate {serial} not found.")],
    )
}

fn date(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    ksef_time::parse_api_datetime(s)
        .ok_or_else(|| ApiError::validation(format!("{field} is not a date-time: '{s}'.")))
}

/// A request body that may be absent (no filters).
fn optional_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(body)
}

pub(crate) async fn limits(State(state): State<AppState>, ctx: AuthContext) -> Json<Value> {
    let owner = ctx.subject_key();
    let (max_enrollments, max_certificates) = state.limits.subject(&owner);
    let store = &state.certificates.store;
    let used = u32::try_from(store.enrollments_of(&owner)).unwrap_or(u32::MAX);
    let active = u32::try_from(store.active_of(&owner, state.now())).unwrap_or(u32::MAX);
    let enrollments_left = max_enrollments.saturating_sub(used);
    let certificates_left = max_certificates.saturating_sub(active);
    Json(json!({
        "canRequest": enrollments_left > 0 && certificates_left > 0,
        "enrollment": { "limit": max_enrollments, "remaining": enrollments_left },
        "certificate": { "limit": max_certificates, "remaining": certificates_left },
    }))
}

pub(crate) async fn enrollment_data(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Result<Json<Value>, ApiError> {
    let cert = authenticating_certificate(&state, &ctx).ok_or_else(|| {
        ApiError::bad_request(
            25001,
            "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
            [format!(
                "Authentication method {} carries no certificate.",
                ctx.auth_method
            )],
        )
    })?;
    Ok(Json(
        EnrollmentSubject::of(cert.tbs_certificate().subject()).to_json(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollRequest {
    certificate_name: String,
    certificate_type: String,
    csr: String,
    #[serde(default)]
    valid_from: Option<String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | ' ')
            || "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".contains(c)
    };
    if !(5..=100).contains(&len) || !name.chars().all(allowed) {
        return Err(ApiError::validation(
            "certificateName must have 5-100 characters: letters, digits, '_', '-', space.",
        ));
    }
    Ok(())
}

pub(crate) async fn enroll(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    JsonBody(req): JsonBody<EnrollRequest>,
) -> Result<Response, ApiError> {
    check_name(&req.certificate_name)?;
    let kind = CertificateKind::parse(&req.certificate_type).ok_or_else(|| {
        ApiError::validation(format!(
            "certificateType must be Authentication or Offline, got '{}'.",
            req.certificate_type
        ))
    })?;
    let now = state.now();
    let valid_from = req
        .valid_from
        .as_deref()
        .map(|s| date("validFrom", s))
        .transpose()?;
    let csr_der = STANDARD
        .decode(req.csr.trim())
        .map_err(|e| ApiError::validation(format!("csr is not Base64: {e}.")))?;
    let cert = authenticating_certificate(&state, &ctx).ok_or_else(|| {
        ApiError::bad_request(
            25002,
            "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.",
            [format!(
                "Authentication method {} carries no certificate.",
                ctx.auth_method
            )],
        )
    })?;
    let checked = super::csr::check(&csr_der)?;
    let differences =
        EnrollmentSubject::of(cert.tbs_certificate().subject()).differences(&checked.subject);
    if !differences.is_empty() {
        return Err(ApiError::bad_request(
            25003,
            "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
            differences,
        ));
    }
    let owner = ctx.subject_key();
    let (max_enrollments, max_certificates) = state.limits.subject(&owner);
    let store = &state.certificates.store;
    if u32::try_from(store.enrollments_of(&owner)).unwrap_or(u32::MAX) >= max_enrollments {
        return Err(ApiError::bad_request(
            25006,
            "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.",
            [format!("Limit: {max_enrollments}.")],
        ));
    }
    if u32::try_from(store.active_of(&owner, now)).unwrap_or(u32::MAX) >= max_certificates {
        return Err(ApiError::bad_request(
            25007,
            "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.",
            [format!("Limit: {max_certificates}.")],
        ));
    }

    let reference = identifiers::reference_number(RefKind::CertificateEnrollment, now);
    let mut delay = state.config.certificates.enrollment_delay;
    if let Some(extra) = state.faults.take_stuck_processing(op) {
        delay = delay.saturating_add(extra);
    }
    let ready_at = after(now, delay);
    let failed = |status: Status| EnrollmentOutcome::Failed {
        code: status.code,
        description: status.description,
        details: status.details,
    };
    let (outcome, certificate) = if state.faults.take_async_failure(op) {
        (
            failed(Status::cancelled_by_system().with_detail(
                "Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie (wstrzyknięty błąd).",
            )),
            None,
        )
    } else if store.key_certified_for_other(&checked.spki_der, &owner) {
        (
            failed(
                Status::new(400, "Wniosek odrzucony")
                    .with_detail("Klucz publiczny został już certyfikowany przez inny podmiot."),
            ),
            None,
        )
    } else {
        let from = valid_from.unwrap_or(now);
        let to = after(from, state.config.certificates.validity);
        let common_name = attribute(&checked.subject, "2.5.4.3").unwrap_or_default();
        let (der, serial) = state
            .certificates
            .authority
            .issue(checked.subject, checked.spki, kind, from, to)
            .map_err(|e| ApiError::internal(format!("Issuing the certificate failed: {e}")))?;
        (
            EnrollmentOutcome::Issued(serial.clone()),
            Some(IssuedCertificate {
                serial,
                name: req.certificate_name,
                kind,
                der,
                spki_der: checked.spki_der,
                common_name,
                owner: owner.clone(),
                subject_type: ctx.subject_type.clone(),
                subject_value: ctx.subject_value.clone(),
                valid_from: from,
                valid_to: to,
                requested: now,
                issued_at: ready_at,
                revoked: None,
                last_use: None,
            }),
        )
    };
    store.record(
        Enrollment {
            reference: reference.clone(),
            owner,
            requested: now,
            ready_at,
            outcome,
        },
        certificate,
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "referenceNumber": reference, "timestamp": format_utc_millis(now) })),
    )
        .into_response())
}

pub(crate) async fn enrollment_status(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !identifiers::is_reference_number(&reference, None) {
        return Err(ApiError::validation(format!(
            "Invalid reference number '{reference}'."
        )));
    }
    let e = state
        .certificates
        .store
        .enrollment(&reference)
        .filter(|e| e.owner == ctx.subject_key())
        .ok_or_else(|| {
            ApiError::bad_request(
                25005,
                "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.",
                [format!("Enrollment {reference} not found.")],
            )
        })?;
    let now = state.now();
    let mut v = json!({ "requestDate": format_utc_millis(e.requested) });
    let status = if now < e.ready_at {
        json!({ "code": 100, "description": "Wniosek przyjęty do realizacji" })
    } else {
        match &e.outcome {
            EnrollmentOutcome::Issued(serial) => {
                if let Some(m) = v.as_object_mut() {
                    m.insert("certificateSerialNumber".into(), json!(serial));
                }
                json!({ "code": 200, "description": "Wniosek obsłużony (certyfikat wygenerowany)" })
            }
            EnrollmentOutcome::Failed {
                code,
                description,
                details,
            } => json!({ "code": code, "description": description, "details": details }),
        }
    };
    if let Some(m) = v.as_object_mut() {
        m.insert("status".into(), status);
    }
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetrieveRequest {
    certificate_serial_numbers: Vec<String>,
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<RetrieveRequest>,
) -> Result<Json<Value>, ApiError> {
    let serials = req.certificate_serial_numbers;
    if serials.is_empty() || serials.len() > MAX_RETRIEVE {
        return Err(ApiError::validation(format!(
            "certificateSerialNumbers must list 1 to {MAX_RETRIEVE} serial numbers."
        )));
    }
    for s in &serials {
        check_serial("certificateSerialNumbers", s)?;
    }
    let owner = ctx.subject_key();
    let now = state.now();
    let items: Vec<Value> = serials
        .iter()
        .filter_map(|s| state.certificates.store.certificate(s, now))
        .filter(|c| c.owner == owner)
        .map(|c| {
            json!({
                "certificate": STANDARD.encode(&c.der),
                "certificateName": c.name,
                "certificateSerialNumber": c.serial,
                "certificateType": c.kind.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({ "certificates": items })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryRequest {
    #[serde(default)]
    certificate_serial_number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expires_after: Option<String>,
}

fn list_item(c: &IssuedCertificate, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "certificateSerialNumber": c.serial,
        "name": c.name,
        "type": c.kind.as_str(),
        "commonName": c.common_name,
        "status": c.status(now),
        "subjectIdentifier": { "type": c.subject_type, "value": c.subject_value },
        "validFrom": format_utc_millis(c.valid_from),
        "validTo": format_utc_millis(c.valid_to),
        "requestDate": format_utc_millis(c.requested),
    });
    if let (Some(d), Some(m)) = (c.last_use, v.as_object_mut()) {
        m.insert("lastUseDate".into(), json!(format_utc_millis(d)));
    }
    v
}

pub(crate) async fn query(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let page = OffsetPage::read(&QueryPairs::parse(raw.as_deref()), QUERY_PAGE)?;
    let req: QueryRequest = optional_body(&body)?;
    if let Some(s) = &req.certificate_serial_number {
        check_serial("certificateSerialNumber", s)?;
    }
    if let Some(k) = &req.kind
        && CertificateKind::parse(k).is_none()
    {
        return Err(ApiError::validation(format!(
            "type must be Authentication or Offline, got '{k}'."
        )));
    }
    if let Some(s) = &req.status
        && !["Active", "Blocked", "Revoked", "Expired"].contains(&s.as_str())
    {
        return Err(ApiError::validation(format!(
            "status must be Active, Blocked, Revoked or Expired, got '{s}'."
        )));
    }
    let expires_after = req
        .expires_after
        .as_deref()
        .map(|s| date("expiresAfter", s))
        .transpose()?;
    let now = state.now();
    let items = state
        .certificates
        .store
        .of_owner(&ctx.subject_key(), now, |c| {
            req.certificate_serial_number
                .as_deref()
                .is_none_or(|s| c.serial == s)
                && req.name.as_deref().is_none_or(|n| c.name.contains(n))
                && req.kind.as_deref().is_none_or(|k| c.kind.as_str() == k)
                && req.status.as_deref().is_none_or(|s| c.status(now) == s)
                && expires_after.is_none_or(|d| c.valid_to > d)
        });
    let (slice, has_more) = page.of(&items);
    let certificates: Vec<Value> = slice.iter().map(|c| list_item(c, now)).collect();
    Ok(Json(
        json!({ "certificates": certificates, "hasMore": has_more }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RevokeRequest {
    #[serde(default)]
    revocation_reason: Option<String>,
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(serial): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    check_serial("certificateSerialNumber", &serial)?;
    let req: RevokeRequest = optional_body(&body)?;
    let reason = req
        .revocation_reason
        .unwrap_or_else(|| "Unspecified".to_string());
    if !["Unspecified", "Superseded", "KeyCompromise"].contains(&reason.as_str()) {
        return Err(ApiError::validation(format!(
            "revocationReason must be Unspecified, Superseded or KeyCompromise, got '{reason}'."
        )));
    }
    if ctx.auth_method == "Token" {
        return Err(ApiError::forbidden(
            "auth-method-not-allowed",
            "Certyfikatu nie można unieważnić po uwierzytelnieniu tokenem KSeF.",
        ));
    }
    let now = state.now();
    let store = &state.certificates.store;
    let c = store
        .certificate(&serial, now)
        .filter(|c| c.owner == ctx.subject_key())
        .ok_or_else(|| not_found(&serial))?;
    if c.status(now) != "Active" {
        return Err(ApiError::bad_request(
            25009,
            "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany lub nieważny.",
            [format!("Certificate {serial} is {}.", c.status(now))],
        ));
    }
    store.update(&serial, |c| c.revoked = Some((now, reason)));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestDataUpdateRequest {
    valid_to: String,
}

pub(crate) async fn testdata_update(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(serial): Path<String>,
    JsonBody(req): JsonBody<TestDataUpdateRequest>,
) -> Result<StatusCode, ApiError> {
    check_serial("serialNumber", &serial)?;
    let valid_to = date("validTo", &req.valid_to)?;
    let now = state.now();
    let store = &state.certificates.store;
    let c = store
        .certificate(&serial, now)
        .filter(|c| c.owner == ctx.subject_key())
        .ok_or_else(|| not_found(&serial))?;
    if valid_to > c.valid_to {
        return Err(ApiError::validation(format!(
            "validTo must not be later than the certificate's current validTo ({}).",
            format_utc_millis(c.valid_to)
        )));
    }
    store.update(&serial, |c| c.valid_to = valid_to);
    Ok(StatusCode::OK)
}
