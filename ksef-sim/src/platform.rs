//! Platform endpoints: public-key certificates, KSeF tokens, limits, test data.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthContext;
use crate::auth::handlers::{paginate, rfc3339};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::ids;
use crate::keys::PublicKeyCertificateWire;
use crate::ratelimit::RateLimitValues;
use crate::state::AppState;
use crate::testdata::{ContextLimits, Person, Subject};
use crate::tokens::KsefToken;

/// Routes of the platform part (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/security/public-key-certificates",
            get(public_key_certificates),
        )
        .route("/tokens", post(create_token).get(list_tokens))
        .route(
            "/tokens/{referenceNumber}",
            get(get_token).delete(revoke_token),
        )
        .route("/limits/context", get(limits_context))
        .route("/limits/subject", get(limits_subject))
        .route("/rate-limits", get(rate_limits))
        .route("/permissions/attachments/status", get(attachment_status))
        .route("/peppol/query", get(peppol_query))
        .route("/testdata/subject", post(td_subject))
        .route("/testdata/subject/remove", post(td_subject_remove))
        .route("/testdata/person", post(td_person))
        .route("/testdata/person/remove", post(td_person_remove))
        .route("/testdata/permissions", post(td_permissions))
        .route("/testdata/permissions/revoke", post(td_permissions_revoke))
        .route("/testdata/attachment", post(td_attachment))
        .route("/testdata/attachment/revoke", post(td_attachment_revoke))
        .route("/testdata/context/block", post(td_block))
        .route("/testdata/context/unblock", post(td_unblock))
        .route(
            "/testdata/limits/context/session",
            post(td_session_limits).delete(td_session_limits_reset),
        )
        .route(
            "/testdata/limits/subject/certificate",
            post(td_subject_limits).delete(td_subject_limits_reset),
        )
        .route(
            "/testdata/rate-limits",
            post(td_rate_limits).delete(td_rate_limits_reset),
        )
        .route(
            "/testdata/rate-limits/production",
            post(td_rate_limits_production),
        )
}

async fn public_key_certificates(
    State(state): State<AppState>,
) -> Json<Vec<PublicKeyCertificateWire>> {
    Json(state.keys.published())
}

// ---------------------------------------------------------------- tokens

const TOKEN_PERMISSIONS: &[&str] = &[
    "InvoiceRead",
    "InvoiceWrite",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "EnforcementOperations",
    "Introspection",
    "CollectiveIdentifierManage",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateTokenRequest {
    permissions: Vec<String>,
    description: String,
}

async fn create_token(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<GenerateTokenRequest>,
) -> Result<Response, ApiError> {
    let len = req.description.chars().count();
    if !(5..=256).contains(&len) {
        return Err(ApiError::validation(
            "description must have 5 to 256 characters.",
        ));
    }
    if req.permissions.is_empty() {
        return Err(ApiError::validation("permissions must not be empty."));
    }
    if let Some(p) = req
        .permissions
        .iter()
        .find(|p| !TOKEN_PERMISSIONS.contains(&p.as_str()))
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
    let reference = ids::reference_number("EC", ksef_time::business_date(now));
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let token = format!(
        "{reference}|{}-{}|{}",
        ctx.context_type.to_lowercase(),
        ctx.context_value,
        hex::encode(secret)
    );
    let delay = chrono::Duration::from_std(state.config.token_activation_delay).unwrap_or_default();
    state.tokens.insert(KsefToken {
        reference: reference.clone(),
        token: token.clone(),
        permissions: req.permissions,
        description: req.description,
        context_type: ctx.context_type.clone(),
        context_value: ctx.context_value.clone(),
        author_type: ctx.subject_type.clone(),
        author_value: ctx.subject_value.clone(),
        created: now,
        active_from: now + delay,
        revoked: false,
        last_use: None,
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
        "dateCreated": rfc3339(t.created),
        "status": t.status(now),
    });
    if let (Some(d), Some(m)) = (t.last_use, v.as_object_mut()) {
        m.insert("lastUseDate".into(), json!(rfc3339(d)));
    }
    v
}

async fn list_tokens(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut statuses = Vec::new();
    let mut description = None;
    let mut author = None;
    let mut author_type = None;
    let mut page_size = None;
    for pair in raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "status" => statuses.push(v),
            "description" => description = Some(v),
            "authorIdentifier" => author = Some(v),
            "authorIdentifierType" => author_type = Some(v),
            "pageSize" => {
                page_size = Some(
                    v.parse::<u32>()
                        .map_err(|_| ApiError::validation("pageSize must be an integer."))?,
                )
            }
            _ => {}
        }
    }
    let tokens = state.tokens.list(|t| {
        t.context_type == ctx.context_type
            && t.context_value == ctx.context_value
            && (statuses.is_empty() || statuses.iter().any(|s| s == t.status(state.now())))
            && description
                .as_deref()
                .is_none_or(|d| t.description.contains(d))
            && author.as_deref().is_none_or(|a| t.author_value == a)
            && author_type.as_deref().is_none_or(|a| t.author_type == a)
    });
    let (page, next) = paginate(&tokens, &headers, page_size, 10, 100, 10)?;
    let mut body =
        json!({ "tokens": page.iter().map(|t| token_json(t, state.now())).collect::<Vec<_>>() });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("continuationToken".into(), json!(n));
    }
    Ok(Json(body))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn token_in_context(
    state: &AppState,
    ctx: &AuthContext,
    reference: &str,
) -> Result<KsefToken, ApiError> {
    if !ids::is_reference_number(reference, None) {
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

async fn get_token(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    token_in_context(&state, &ctx, &reference).map(|t| Json(token_json(&t, state.now())))
}

async fn revoke_token(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = token_in_context(&state, &ctx, &reference)?;
    state.tokens.revoke(&t.reference);
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- limits

async fn limits_context(State(state): State<AppState>, ctx: AuthContext) -> Json<ContextLimits> {
    Json(state.testdata.context_limits(&ctx.context_key()))
}

fn subject_key(ctx: &AuthContext) -> String {
    format!("{}:{}", ctx.subject_type, ctx.subject_value)
}

async fn limits_subject(State(state): State<AppState>, ctx: AuthContext) -> Json<Value> {
    let (e, c) = state.testdata.subject_limits(&subject_key(&ctx));
    Json(json!({ "enrollment": { "maxEnrollments": e }, "certificate": { "maxCertificates": c } }))
}

async fn rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
) -> Json<BTreeMap<String, RateLimitValues>> {
    Json(state.limits.effective(&ctx.context_key()))
}

async fn attachment_status(State(state): State<AppState>, ctx: AuthContext) -> Json<Value> {
    let (allowed, revoked) = ctx
        .nip
        .as_deref()
        .map(|n| state.testdata.attachment_status(n, state.now()))
        .unwrap_or((false, None));
    let mut v = json!({ "isAttachmentAllowed": allowed });
    if let (Some(r), Some(m)) = (revoked, v.as_object_mut()) {
        m.insert("revokedDate".into(), json!(rfc3339(r)));
    }
    Json(v)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeppolQuery {
    page_offset: Option<u32>,
    page_size: Option<u32>,
}

/// The simulator's fixed list of Peppol service providers (ids match `^P[A-Z]{2}[0-9]{6}$`).
const PEPPOL_PROVIDERS: &[(&str, &str)] = &[
    ("PPL000001", "Symulowany dostawca Peppol 1"),
    ("PPL000002", "Symulowany dostawca Peppol 2"),
    ("PDE000003", "Simulated Peppol provider 3"),
];

async fn peppol_query(
    axum::extract::Query(q): axum::extract::Query<PeppolQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = q.page_size.unwrap_or(10);
    if !(10..=100).contains(&size) {
        return Err(ApiError::validation("pageSize must be between 10 and 100."));
    }
    let offset = q.page_offset.unwrap_or(0) as usize;
    let start = offset.saturating_mul(size as usize);
    let page: Vec<Value> = PEPPOL_PROVIDERS
        .iter()
        .skip(start)
        .take(size as usize)
        .map(|(id, name)| json!({"id": id, "name": name, "dateCreated": "2025-07-01T00:00:00+00:00"}))
        .collect();
    let has_more = start + page.len() < PEPPOL_PROVIDERS.len();
    Ok(Json(
        json!({ "peppolProviders": page, "hasMore": has_more }),
    ))
}

// ---------------------------------------------------------------- test data

fn check_nip(field: &str, nip: &str) -> Result<(), ApiError> {
    if ids::is_valid_nip(nip) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field}: invalid NIP '{nip}'."
        )))
    }
}

fn check_description(d: &str) -> Result<(), ApiError> {
    if (5..=256).contains(&d.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "description must have 5 to 256 characters.",
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubunitReq {
    subject_nip: String,
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectCreateRequest {
    subject_nip: String,
    subject_type: String,
    description: String,
    #[serde(default)]
    subunits: Option<Vec<SubunitReq>>,
}

async fn td_subject(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SubjectCreateRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("subjectNip", &req.subject_nip)?;
    check_description(&req.description)?;
    if !["EnforcementAuthority", "VatGroup", "JST"].contains(&req.subject_type.as_str()) {
        return Err(ApiError::validation(format!(
            "Unknown subjectType '{}'.",
            req.subject_type
        )));
    }
    let mut subunits = Vec::new();
    for s in req.subunits.unwrap_or_default() {
        check_nip("subunits.subjectNip", &s.subject_nip)?;
        check_description(&s.description)?;
        subunits.push(s.subject_nip);
    }
    state.testdata.add_subject(
        &req.subject_nip,
        Subject {
            subject_type: req.subject_type,
            subunits,
        },
    );
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectRemoveRequest {
    subject_nip: String,
}

async fn td_subject_remove(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SubjectRemoveRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("subjectNip", &req.subject_nip)?;
    state.testdata.remove_subject(&req.subject_nip);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonCreateRequest {
    nip: String,
    pesel: String,
    is_bailiff: bool,
    description: String,
    #[serde(default)]
    is_deceased: bool,
}

async fn td_person(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<PersonCreateRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("nip", &req.nip)?;
    if !ids::is_valid_pesel(&req.pesel) {
        return Err(ApiError::validation(format!(
            "pesel: invalid PESEL '{}'.",
            req.pesel
        )));
    }
    check_description(&req.description)?;
    state.testdata.add_person(
        &req.nip,
        Person {
            pesel: req.pesel,
            is_bailiff: req.is_bailiff,
            is_deceased: req.is_deceased,
        },
    );
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NipRequest {
    nip: String,
}

async fn td_person_remove(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NipRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("nip", &req.nip)?;
    state.testdata.remove_person(&req.nip);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypedId {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TdPermission {
    description: String,
    permission_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TdPermissionsRequest {
    context_identifier: TypedId,
    authorized_identifier: TypedId,
    #[serde(default)]
    permissions: Vec<TdPermission>,
}

const TD_PERMISSION_TYPES: &[&str] = &[
    "InvoiceRead",
    "InvoiceWrite",
    "Introspection",
    "CredentialsRead",
    "CredentialsManage",
    "EnforcementOperations",
    "SubunitManage",
    "CollectiveIdentifierManage",
];

fn check_td_ids(ctx: &TypedId, who: &TypedId) -> Result<(), ApiError> {
    if ctx.kind != "Nip" {
        return Err(ApiError::validation("contextIdentifier.type must be Nip."));
    }
    check_nip("contextIdentifier.value", &ctx.value)?;
    match who.kind.as_str() {
        "Nip" => check_nip("authorizedIdentifier.value", &who.value),
        "Pesel" if ids::is_valid_pesel(&who.value) => Ok(()),
        "Fingerprint"
            if who.value.len() == 64 && who.value.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::validation(format!(
            "authorizedIdentifier: invalid {} '{}'.",
            who.kind, who.value
        ))),
    }
}

async fn td_permissions(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TdPermissionsRequest>,
) -> Result<StatusCode, ApiError> {
    check_td_ids(&req.context_identifier, &req.authorized_identifier)?;
    let mut perms = Vec::new();
    for p in &req.permissions {
        check_description(&p.description)?;
        if !TD_PERMISSION_TYPES.contains(&p.permission_type.as_str()) {
            return Err(ApiError::validation(format!(
                "Unknown permissionType '{}'.",
                p.permission_type
            )));
        }
        perms.push(p.permission_type.clone());
    }
    let who = &req.authorized_identifier;
    let value = if who.kind == "Fingerprint" {
        who.value.to_uppercase()
    } else {
        who.value.clone()
    };
    state
        .testdata
        .grant(&req.context_identifier.value, &who.kind, &value, perms);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TdPermissionsRevokeRequest {
    context_identifier: TypedId,
    authorized_identifier: TypedId,
}

async fn td_permissions_revoke(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TdPermissionsRevokeRequest>,
) -> Result<StatusCode, ApiError> {
    check_td_ids(&req.context_identifier, &req.authorized_identifier)?;
    let who = &req.authorized_identifier;
    let value = if who.kind == "Fingerprint" {
        who.value.to_uppercase()
    } else {
        who.value.clone()
    };
    state
        .testdata
        .revoke(&req.context_identifier.value, &who.kind, &value);
    Ok(StatusCode::OK)
}

async fn td_attachment(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NipRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("nip", &req.nip)?;
    state.testdata.allow_attachments(&req.nip);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentRevokeRequest {
    nip: String,
    #[serde(default)]
    expected_end_date: Option<chrono::NaiveDate>,
}

async fn td_attachment_revoke(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<AttachmentRevokeRequest>,
) -> Result<StatusCode, ApiError> {
    check_nip("nip", &req.nip)?;
    let at = req
        .expected_end_date
        .map(ksef_time::start_of_business_day)
        .unwrap_or_else(|| state.now());
    state.testdata.revoke_attachments(&req.nip, at);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockRequest {
    #[serde(default)]
    context_identifier: Option<TypedId>,
}

fn block_key(req: &BlockRequest) -> Result<String, ApiError> {
    let id = req
        .context_identifier
        .as_ref()
        .ok_or_else(|| ApiError::validation("contextIdentifier is required."))?;
    ids::validate_context(&id.kind, &id.value).map_err(ApiError::validation)?;
    Ok(format!("{}:{}", id.kind, id.value))
}

async fn td_block(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.testdata.block(&block_key(&req)?);
    Ok(StatusCode::OK)
}

async fn td_unblock(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<BlockRequest>,
) -> Result<StatusCode, ApiError> {
    state.testdata.unblock(&block_key(&req)?);
    Ok(StatusCode::OK)
}

async fn td_session_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<ContextLimits>,
) -> Result<StatusCode, ApiError> {
    for (name, l) in [
        ("onlineSession", req.online_session),
        ("batchSession", req.batch_session),
    ] {
        if l.max_invoice_size_mb > 5
            || l.max_invoice_with_attachment_size_mb > 10
            || l.max_invoices > 100_000
        {
            return Err(ApiError::validation(format!("{name}: value out of range.")));
        }
    }
    if !(2..=5000).contains(&req.collective_identifier.max_invoices) {
        return Err(ApiError::validation(
            "collectiveIdentifier.maxInvoices must be between 2 and 5000.",
        ));
    }
    state
        .testdata
        .set_context_limits(&ctx.context_key(), Some(req));
    Ok(StatusCode::OK)
}

async fn td_session_limits_reset(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    state.testdata.set_context_limits(&ctx.context_key(), None);
    StatusCode::OK
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectLimitsReq {
    #[serde(default)]
    enrollment: Option<EnrollmentLimit>,
    #[serde(default)]
    certificate: Option<CertificateLimit>,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollmentLimit {
    max_enrollments: Option<u32>,
}
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificateLimit {
    max_certificates: Option<u32>,
}

async fn td_subject_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<SubjectLimitsReq>,
) -> StatusCode {
    state.testdata.set_subject_limits(
        &subject_key(&ctx),
        Some((
            req.enrollment.and_then(|e| e.max_enrollments),
            req.certificate.and_then(|c| c.max_certificates),
        )),
    );
    StatusCode::OK
}

async fn td_subject_limits_reset(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    state.testdata.set_subject_limits(&subject_key(&ctx), None);
    StatusCode::OK
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetRateLimitsRequest {
    rate_limits: BTreeMap<String, RateLimitValues>,
}

async fn td_rate_limits(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<SetRateLimitsRequest>,
) -> Result<StatusCode, ApiError> {
    use crate::ops::{OVERRIDABLE_GROUPS, REQUIRED_OVERRIDE_GROUPS};
    if let Some(missing) = REQUIRED_OVERRIDE_GROUPS
        .iter()
        .find(|g| !req.rate_limits.contains_key(**g))
    {
        return Err(ApiError::validation(format!(
            "rateLimits.{missing} is required."
        )));
    }
    // Groups `GET /rate-limits` reports but the override schema lacks (the close groups,
    // anonymous, global) are ignored like any property the schema does not define; a name no
    // group has is refused.
    let groups = crate::ratelimit::default_group_limits();
    if let Some(unknown) = req.rate_limits.keys().find(|g| !groups.contains_key(*g)) {
        return Err(ApiError::validation(format!(
            "rateLimits.{unknown} is not a rate-limit group."
        )));
    }
    let overrides = req
        .rate_limits
        .into_iter()
        .filter(|(g, _)| OVERRIDABLE_GROUPS.contains(&g.as_str()))
        .collect();
    state.limits.set_overrides(&ctx.context_key(), overrides);
    Ok(StatusCode::OK)
}

async fn td_rate_limits_reset(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    state.limits.clear_overrides(&ctx.context_key());
    StatusCode::OK
}

async fn td_rate_limits_production(State(state): State<AppState>, ctx: AuthContext) -> StatusCode {
    state
        .limits
        .set_overrides(&ctx.context_key(), crate::ratelimit::default_group_limits());
    StatusCode::OK
}
