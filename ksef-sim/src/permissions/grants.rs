//! Granting and revoking permissions: `POST /permissions/{persons,entities,authorizations,
//! indirect,subunits,eu-entities/administration,eu-entities}/grants`, `DELETE
//! /permissions/{common,authorizations}/grants/{permissionId}` and the status of those operations
//! (`GET /permissions/operations/{referenceNumber}`). A grant counts from the next authentication
//! of its holder (permissions travel in the access token).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Grant, GrantKind, Ident};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::response::json as json_response;
use crate::identifiers::{self, RefKind, reference_number};
use crate::ops::OperationInfo;
use crate::state::AppState;
use crate::validate;

#[derive(Debug, Deserialize)]
pub(crate) struct TypedId {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntityPermissionWire {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    can_delegate: bool,
}

/// The body of every grant request (each endpoint uses its own fields).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrantRequest {
    subject_identifier: TypedId,
    #[serde(default)]
    permissions: Option<Vec<Value>>,
    #[serde(default)]
    permission: Option<String>,
    description: String,
    #[serde(default)]
    subject_details: Option<Value>,
    #[serde(default)]
    target_identifier: Option<TypedId>,
    #[serde(default)]
    context_identifier: Option<TypedId>,
    #[serde(default)]
    subunit_name: Option<String>,
    #[serde(default)]
    eu_entity_name: Option<String>,
    #[serde(default)]
    eu_entity_details: Option<Value>,
}

/// The rules of one grant endpoint.
struct Endpoint {
    /// The operation's path template.
    path: &'static str,
    kind: GrantKind,
    /// Allowed `subjectIdentifier.type`s.
    subjects: &'static [&'static str],
    /// Allowed permissions (the request's `permissions`/`permission`).
    scopes: &'static [&'static str],
}

const PERSONS: Endpoint = Endpoint {
    path: "/permissions/persons/grants",
    kind: GrantKind::Person,
    subjects: &["Nip", "Pesel", "Fingerprint"],
    scopes: &[
        "CredentialsManage",
        "CredentialsRead",
        "InvoiceWrite",
        "InvoiceRead",
        "Introspection",
        "SubunitManage",
        "EnforcementOperations",
        "CollectiveIdentifierManage",
    ],
};
const ENTITIES: Endpoint = Endpoint {
    path: "/permissions/entities/grants",
    kind: GrantKind::Entity,
    subjects: &["Nip"],
    scopes: &["InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage"],
};
const AUTHORIZATIONS: Endpoint = Endpoint {
    path: "/permissions/authorizations/grants",
    kind: GrantKind::Authorization,
    subjects: &["Nip", "PeppolId"],
    scopes: &[
        "SelfInvoicing",
        "RRInvoicing",
        "TaxRepresentative",
        "PefInvoicing",
    ],
};
const INDIRECT: Endpoint = Endpoint {
    path: "/permissions/indirect/grants",
    kind: GrantKind::Indirect,
    subjects: &["Nip", "Pesel", "Fingerprint"],
    scopes: &["InvoiceRead", "InvoiceWrite", "CollectiveIdentifierManage"],
};
const SUBUNITS: Endpoint = Endpoint {
    path: "/permissions/subunits/grants",
    kind: GrantKind::Subunit,
    subjects: &["Nip", "Pesel", "Fingerprint"],
    scopes: &["CredentialsManage"],
};
const EU_ADMINISTRATION: Endpoint = Endpoint {
    path: "/permissions/eu-entities/administration/grants",
    kind: GrantKind::EuEntityAdministration,
    subjects: &["Fingerprint"],
    scopes: &["VatUeManage"],
};
const EU_ENTITIES: Endpoint = Endpoint {
    path: "/permissions/eu-entities/grants",
    kind: GrantKind::EuEntity,
    subjects: &["Fingerprint"],
    scopes: &["InvoiceWrite", "InvoiceRead"],
};

const ENDPOINTS: [&Endpoint; 7] = [
    &PERSONS,
    &ENTITIES,
    &AUTHORIZATIONS,
    &INDIRECT,
    &SUBUNITS,
    &EU_ADMINISTRATION,
    &EU_ENTITIES,
];

/// `POST /permissions/{persons,entities,authorizations,indirect,subunits,
/// eu-entities/administration,eu-entities}/grants`, by the rules of the resolved operation.
pub(crate) async fn grant(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    JsonBody(req): JsonBody<GrantRequest>,
) -> Result<Response, ApiError> {
    let endpoint = ENDPOINTS
        .iter()
        .find(|e| e.path == op.path)
        .ok_or_else(|| ApiError::internal(format!("{} is not a grant operation", op.key())))?;
    record_grant(&state, &ctx, req, endpoint)
}

/// Checks an identifier's value for its type.
pub(crate) fn check_identifier(field: &str, kind: &str, value: &str) -> Result<String, ApiError> {
    match kind {
        "Nip" => validate::nip(field, value).map(|()| value.to_string()),
        "Pesel" => validate::pesel(field, value).map(|()| value.to_string()),
        "Fingerprint" if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(value.to_uppercase())
        }
        "InternalId" | "NipVatUe" | "PeppolId"
            if identifiers::validate_context(kind, value).is_ok() =>
        {
            Ok(value.to_string())
        }
        _ => Err(ApiError::validation(format!(
            "{field}: invalid {kind} '{value}'."
        ))),
    }
}

/// The context the caller works in, as an identifier.
pub(crate) fn context_of(ctx: &AuthContext) -> Ident {
    Ident::new(&ctx.context_type, &ctx.context_value)
}

/// The caller, as an identifier.
pub(crate) fn author_of(ctx: &AuthContext) -> Ident {
    Ident::new(&ctx.subject_type, &ctx.subject_value)
}

fn record_grant(
    state: &AppState,
    ctx: &AuthContext,
    req: GrantRequest,
    endpoint: &Endpoint,
) -> Result<Response, ApiError> {
    validate::description(&req.description)?;
    let subject = &req.subject_identifier;
    if !endpoint.subjects.contains(&subject.kind.as_str()) {
        return Err(ApiError::validation(format!(
            "subjectIdentifier.type must be one of {:?}.",
            endpoint.subjects
        )));
    }
    let subject_value = check_identifier(
        "subjectIdentifier.value",
        &subject.kind,
        subject.value.as_deref().unwrap_or_default(),
    )?;
    let authorized = Ident::new(&subject.kind, &subject_value);
    // (scope, canDelegate) pairs.
    let mut scopes: Vec<(String, bool)> = Vec::new();
    if let Some(p) = &req.permission {
        scopes.push((p.clone(), false));
    }
    for p in req.permissions.iter().flatten() {
        match p {
            Value::String(s) => scopes.push((s.clone(), false)),
            other => {
                let e: EntityPermissionWire = serde_json::from_value(other.clone())
                    .map_err(|e| ApiError::validation(format!("permissions: {e}")))?;
                scopes.push((e.kind, e.can_delegate));
            }
        }
    }
    if endpoint.kind == GrantKind::Subunit {
        scopes.push(("CredentialsManage".into(), false));
    }
    if endpoint.kind == GrantKind::EuEntityAdministration {
        scopes.push(("VatUeManage".into(), false));
    }
    if scopes.is_empty() {
        return Err(ApiError::validation("permissions must not be empty."));
    }
    for (s, _) in &scopes {
        if !endpoint.scopes.contains(&s.as_str()) {
            return Err(ApiError::validation(format!(
                "Unknown permission '{s}' (allowed: {:?}).",
                endpoint.scopes
            )));
        }
    }
    let caller_ctx = context_of(ctx);
    let ctx_nip = ctx.nip.clone().unwrap_or_default();
    // The context the grant works in.
    let context = match endpoint.kind {
        GrantKind::Subunit | GrantKind::EuEntityAdministration => {
            let c = req
                .context_identifier
                .as_ref()
                .ok_or_else(|| ApiError::validation("contextIdentifier is required."))?;
            let value = check_identifier(
                "contextIdentifier.value",
                &c.kind,
                c.value.as_deref().unwrap_or_default(),
            )?;
            let allowed = if endpoint.kind == GrantKind::Subunit {
                c.kind == "InternalId" || c.kind == "Nip"
            } else {
                c.kind == "NipVatUe"
            };
            if !allowed {
                return Err(ApiError::validation(format!(
                    "contextIdentifier.type {} is not allowed here.",
                    c.kind
                )));
            }
            // A subunit or an EU entity of the caller's own entity.
            let parent = value.split('-').next().unwrap_or_default();
            if c.kind != "Nip" && parent != ctx_nip {
                return Err(ApiError::validation(format!(
                    "contextIdentifier {value} does not belong to the context's entity {ctx_nip}."
                )));
            }
            if c.kind == "Nip" && value == ctx_nip {
                return Err(ApiError::validation(
                    "contextIdentifier must name a subordinate entity, not the context itself.",
                ));
            }
            if endpoint.kind == GrantKind::EuEntityAdministration
                && (req.eu_entity_name.as_deref().is_none_or(str::is_empty)
                    || req.eu_entity_details.is_none())
            {
                return Err(ApiError::validation(
                    "euEntityName and euEntityDetails are required.",
                ));
            }
            Ident::new(&c.kind, &value)
        }
        GrantKind::EuEntity => {
            if ctx.context_type != "NipVatUe" {
                return Err(ApiError::validation(
                    "Permissions of an EU entity are granted in a NipVatUe context.",
                ));
            }
            caller_ctx.clone()
        }
        GrantKind::Person => caller_ctx.clone(),
        GrantKind::Entity | GrantKind::Authorization | GrantKind::Indirect => {
            if ctx.context_type != "Nip" {
                return Err(ApiError::validation(
                    "This permission is granted in a Nip context.",
                ));
            }
            caller_ctx.clone()
        }
    };
    if matches!(endpoint.kind, GrantKind::Entity | GrantKind::Authorization)
        && authorized.value == ctx_nip
    {
        return Err(ApiError::validation(
            "An entity cannot be granted a permission in its own context.",
        ));
    }
    if endpoint.kind != GrantKind::Authorization
        && endpoint.kind != GrantKind::Entity
        && req.subject_details.is_none()
    {
        return Err(ApiError::validation("subjectDetails is required."));
    }
    let target = match (&req.target_identifier, endpoint.kind) {
        (Some(t), GrantKind::Indirect) => {
            let value = match t.kind.as_str() {
                "AllPartners" => String::new(),
                kind => check_identifier(
                    "targetIdentifier.value",
                    kind,
                    t.value.as_deref().unwrap_or_default(),
                )?,
            };
            Some(Ident::new(&t.kind, &value))
        }
        (None, GrantKind::Indirect) => Some(Ident::new("AllPartners", "")),
        _ => None,
    };
    let now = state.now();
    let reference = reference_number(RefKind::PermissionOperation, now);
    let grants: Vec<Grant> = scopes
        .into_iter()
        .map(|(scope, can_delegate)| Grant {
            id: uuid::Uuid::new_v4().to_string(),
            kind: endpoint.kind,
            context: context.clone(),
            authorized: authorized.clone(),
            target: target.clone(),
            scope,
            description: req.description.clone(),
            can_delegate,
            author: author_of(ctx),
            granted_in: caller_ctx.clone(),
            start: now,
            subject_details: req.subject_details.clone().unwrap_or(Value::Null),
            name: req
                .subunit_name
                .clone()
                .or_else(|| req.eu_entity_name.clone()),
            eu_entity_details: req.eu_entity_details.clone(),
            revoked: None,
        })
        .collect();
    state.permissions.add(&reference, &caller_ctx, grants);
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "referenceNumber": reference }),
    ))
}

fn unknown_permission(id: &str) -> ApiError {
    ApiError::bad_request(
        21405,
        "Błąd walidacji danych wejściowych.",
        [format!(
            "Uprawnienie o identyfikatorze {id} nie istnieje lub nie może zostać odebrane w bieżącym kontekście."
        )],
    )
}

/// Revokes the grant `id` if `may_revoke` lets the caller revoke it; answers the operation.
fn revoke(
    state: &AppState,
    ctx: &AuthContext,
    id: &str,
    may_revoke: impl Fn(&Grant, &Ident) -> bool,
) -> Result<Response, ApiError> {
    let caller = context_of(ctx);
    let now = state.now();
    let reference = reference_number(RefKind::PermissionOperation, now);
    state
        .permissions
        .revoke(&reference, &caller, id, now, |g| may_revoke(g, &caller))
        .ok_or_else(|| unknown_permission(id))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "referenceNumber": reference }),
    ))
}

/// `DELETE /permissions/common/grants/{permissionId}`: any grant but an entity authorization,
/// made in the caller's context (or in one of its subunits or EU entities).
pub(crate) async fn revoke_common(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    revoke(&state, &ctx, &id, |g, caller| {
        g.kind != GrantKind::Authorization && (&g.granted_in == caller || &g.context == caller)
    })
}

/// `DELETE /permissions/authorizations/grants/{permissionId}`: an entity authorization the
/// caller's entity gave.
pub(crate) async fn revoke_authorization(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    revoke(&state, &ctx, &id, |g, caller| {
        g.kind == GrantKind::Authorization && &g.context == caller
    })
}

/// `GET /permissions/operations/{referenceNumber}`.
pub(crate) async fn operation_status(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let op = state
        .permissions
        .operation(&reference, &context_of(&ctx))
        .ok_or_else(|| {
            ApiError::bad_request(
                21405,
                "Błąd walidacji danych wejściowych.",
                [format!(
                    "Operacja o numerze referencyjnym {reference} nie istnieje w bieżącym kontekście."
                )],
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "status": { "code": op.code, "description": op.description, "details": op.details } }),
    ))
}
