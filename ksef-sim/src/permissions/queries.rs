//! Permission queries (`POST /permissions/query/{personal,persons,subunits,entities,
//! authorizations,eu-entities}/grants`): the active grants seen from the caller's context,
//! filtered as the request says, newest first, one page of `pageOffset`/`pageSize` with `hasMore`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::grants::{author_of, context_of};
use super::store::{Grant, GrantKind, Ident};
use crate::auth::context::AuthContext;
use crate::auth::permissions::OWNER_PERMISSIONS;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::paging::{OffsetPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::http::response::json as json_response;
use crate::state::AppState;
use ksef_time::format_utc_millis;

/// The page sizes of every permission query.
pub(crate) const PAGE: PageSizes = PageSizes::new(10, 100, 10);

/// The requested page.
pub(crate) fn page(raw: Option<String>) -> Result<OffsetPage, ApiError> {
    OffsetPage::read(&QueryPairs::parse(raw.as_deref()), PAGE)
}

/// The body of one page of `items` under `key`, with `hasMore`.
fn page_body(key: &str, items: &[Value], page: OffsetPage) -> Value {
    let (slice, has_more) = page.of(items);
    json!({ key: slice, "hasMore": has_more })
}

/// One page of `items` under `key`, with `hasMore`.
pub(crate) fn paged(key: &str, items: &[Value], page: OffsetPage) -> Response {
    json_response(StatusCode::OK, &page_body(key, items, page))
}

/// A request body that may be absent (no filters).
pub(crate) fn optional_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::from_json(&e))
}

fn ident_of(v: &Value) -> Option<Ident> {
    Some(Ident::new(
        v.get("type")?.as_str()?,
        v.get("value")?.as_str().unwrap_or_default(),
    ))
}

/// Whether the filter `{type, value}` of the request (absent: no filter) matches `id`.
pub(crate) fn matches_ident(filter: Option<&Value>, id: Option<&Ident>) -> bool {
    match filter.and_then(ident_of) {
        None => true,
        Some(f) => id.is_some_and(|i| {
            i.kind == f.kind && (f.value.is_empty() || i.value.eq_ignore_ascii_case(&f.value))
        }),
    }
}

fn matches_types(filter: Option<&Value>, scope: &str) -> bool {
    match filter.and_then(Value::as_array) {
        None => true,
        Some(list) if list.is_empty() => true,
        Some(list) => list.iter().any(|t| t.as_str() == Some(scope)),
    }
}

/// `permissionState`: grants here are `Active`; asking for `Inactive` finds none.
fn wants_active(req: &Value) -> bool {
    req.get("permissionState")
        .and_then(Value::as_str)
        .is_none_or(|s| s == "Active")
}

/// `subjectPersonDetails` from the request's `subjectDetails` (persons).
fn person_details(g: &Grant) -> Option<Value> {
    let d = &g.subject_details;
    let kind = d.get("subjectDetailsType")?.as_str()?;
    let (inner, mut out) = match kind {
        "PersonByIdentifier" => (d.get("personById")?, json!({})),
        "PersonByFingerprintWithIdentifier" => {
            let i = d.get("personByFpWithId")?;
            (i, json!({ "personIdentifier": i.get("identifier")? }))
        }
        "PersonByFingerprintWithoutIdentifier" => {
            let i = d.get("personByFpNoId")?;
            (
                i,
                json!({ "birthDate": i.get("birthDate")?, "idDocument": i.get("idDocument")? }),
            )
        }
        _ => return None,
    };
    let m = out.as_object_mut()?;
    m.insert("subjectDetailsType".into(), json!(kind));
    m.insert("firstName".into(), inner.get("firstName")?.clone());
    m.insert("lastName".into(), inner.get("lastName")?.clone());
    if kind == "PersonByIdentifier" && matches!(g.authorized.kind.as_str(), "Pesel" | "Nip") {
        m.insert("personIdentifier".into(), g.authorized.json());
    }
    Some(out)
}

/// `subjectEntityDetails` of an entity grant.
fn entity_details(g: &Grant) -> Option<Value> {
    let d = &g.subject_details;
    if let Some(name) = d.get("fullName") {
        return Some(json!({ "subjectDetailsType": "EntityByIdentifier", "fullName": name }));
    }
    let e = d.get("entityByFp")?;
    Some(json!({
        "subjectDetailsType": "EntityByFingerprint",
        "fullName": e.get("fullName")?,
        "address": e.get("address")?,
    }))
}

fn with_details(mut item: Value, g: &Grant) -> Value {
    if let Some(m) = item.as_object_mut() {
        if let Some(p) = person_details(g) {
            m.insert("subjectPersonDetails".into(), p);
        } else if let Some(e) = entity_details(g) {
            m.insert("subjectEntityDetails".into(), e);
        }
    }
    item
}

fn context_json(id: &Ident) -> Value {
    // Person-permission contexts are Nip or InternalId.
    id.json()
}

/// `POST /permissions/query/persons/grants`.
pub(crate) async fn persons(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    JsonBody(req): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let caller = context_of(&ctx);
    let author = author_of(&ctx);
    let granted_by_me =
        req.get("queryType").and_then(Value::as_str) == Some("PermissionsGrantedInCurrentContext");
    if !granted_by_me
        && req.get("queryType").and_then(Value::as_str) != Some("PermissionsInCurrentContext")
    {
        return Err(ApiError::validation(
            "queryType must be PermissionsInCurrentContext or PermissionsGrantedInCurrentContext.",
        ));
    }
    let items: Vec<Value> = if wants_active(&req) {
        state
            .permissions
            .active(state.now(), |g| {
                let kind_ok = matches!(
                    g.kind,
                    GrantKind::Person
                        | GrantKind::Entity
                        | GrantKind::Indirect
                        | GrantKind::Subunit
                );
                let visible = if granted_by_me {
                    g.granted_in == caller && g.author == author
                } else {
                    (g.context == caller && g.kind != GrantKind::Indirect)
                        || (g.kind == GrantKind::Indirect && g.granted_in == caller)
                };
                kind_ok
                    && visible
                    && matches_ident(req.get("authorIdentifier"), Some(&g.author))
                    && matches_ident(req.get("authorizedIdentifier"), Some(&g.authorized))
                    && matches_ident(req.get("contextIdentifier"), Some(&g.context))
                    && matches_ident(req.get("targetIdentifier"), g.target.as_ref())
                    && matches_types(req.get("permissionTypes"), &g.scope)
            })
            .iter()
            .map(|g| {
                let mut item = json!({
                    "id": g.id,
                    "authorizedIdentifier": g.authorized.json(),
                    "contextIdentifier": context_json(&g.context),
                    "authorIdentifier": g.author.json(),
                    "permissionScope": g.scope,
                    "description": g.description,
                    "permissionState": "Active",
                    "startDate": format_utc_millis(g.start),
                    "canDelegate": g.can_delegate,
                });
                if let (Some(t), Some(m)) = (&g.target, item.as_object_mut()) {
                    let t = if t.kind == "AllPartners" {
                        json!({ "type": "AllPartners" })
                    } else {
                        t.json()
                    };
                    m.insert("targetIdentifier".into(), t);
                }
                with_details(item, g)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(paged("permissions", &items, page))
}

/// `POST /permissions/query/personal/grants`: the caller's own permissions in this context, and
/// `ownerPermissions` when the caller owns it.
pub(crate) async fn personal(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    JsonBody(req): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let caller = context_of(&ctx);
    let me = author_of(&ctx);
    let ctx_nip = ctx.nip.clone().unwrap_or_default();
    let owner = OWNER_PERMISSIONS
        .iter()
        .all(|p| ctx.permissions.iter().any(|h| h == p));
    let items: Vec<Value> = if wants_active(&req) {
        state
            .permissions
            .active(state.now(), |g| {
                let mine = g.authorized == me
                    && (g.context == caller
                        || (g.kind == GrantKind::Indirect
                            && g.target
                                .as_ref()
                                .is_some_and(|t| t == &caller || t.kind == "AllPartners")));
                // Entity grants to the context's entity, seen by its owner.
                let entity = owner
                    && g.kind == GrantKind::Entity
                    && g.authorized.kind == "Nip"
                    && g.authorized.value == ctx_nip;
                g.kind != GrantKind::Authorization
                    && (mine || entity)
                    && matches_ident(req.get("contextIdentifier"), Some(&g.context))
                    && matches_ident(req.get("targetIdentifier"), g.target.as_ref())
                    && matches_types(req.get("permissionTypes"), &g.scope)
            })
            .iter()
            .map(|g| {
                let item = json!({
                    "id": g.id,
                    "contextIdentifier": g.context.json(),
                    "authorizedIdentifier": g.authorized.json(),
                    "permissionScope": g.scope,
                    "description": g.description,
                    "permissionState": "Active",
                    "startDate": format_utc_millis(g.start),
                    "canDelegate": g.can_delegate,
                });
                with_details(item, g)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut body = page_body("permissions", &items, page);
    if owner && let Some(m) = body.as_object_mut() {
        let mut scope: Vec<&str> = OWNER_PERMISSIONS.to_vec();
        if ctx.permissions.iter().any(|p| p == "EnforcementOperations") {
            scope.push("EnforcementOperations");
        }
        m.insert("ownerPermissions".into(), json!(scope));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /permissions/query/entities/grants`: the invoice permissions other entities gave the
/// caller's entity.
pub(crate) async fn entities(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let req = optional_body(&body)?;
    let ctx_nip = ctx.nip.clone().unwrap_or_default();
    let items: Vec<Value> = state
        .permissions
        .active(state.now(), |g| {
            g.kind == GrantKind::Entity
                && g.authorized.kind == "Nip"
                && g.authorized.value == ctx_nip
                && matches_ident(req.get("contextIdentifier"), Some(&g.context))
        })
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "contextIdentifier": g.context.json(),
                "permissionScope": g.scope,
                "description": g.description,
                "startDate": format_utc_millis(g.start),
                "canDelegate": g.can_delegate,
            })
        })
        .collect();
    Ok(paged("permissions", &items, page))
}

/// `POST /permissions/query/authorizations/grants`: entity authorizations the caller's entity
/// gave (`Granted`) or received (`Received`).
pub(crate) async fn authorizations(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    JsonBody(req): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let caller = context_of(&ctx);
    let received = match req.get("queryType").and_then(Value::as_str) {
        Some("Granted") => false,
        Some("Received") => true,
        _ => {
            return Err(ApiError::validation(
                "queryType must be Granted or Received.",
            ));
        }
    };
    let items: Vec<Value> = state
        .permissions
        .active(state.now(), |g| {
            g.kind == GrantKind::Authorization
                && if received {
                    g.authorized == caller
                } else {
                    g.context == caller
                }
                && matches_ident(req.get("authorizingIdentifier"), Some(&g.context))
                && matches_ident(req.get("authorizedIdentifier"), Some(&g.authorized))
                && matches_types(req.get("permissionTypes"), &g.scope)
        })
        .iter()
        .map(|g| {
            let mut item = json!({
                "id": g.id,
                "authorIdentifier": g.author.json(),
                "authorizedEntityIdentifier": g.authorized.json(),
                "authorizingEntityIdentifier": g.context.json(),
                "authorizationScope": g.scope,
                "description": g.description,
                "startDate": format_utc_millis(g.start),
            });
            if let (Some(name), Some(m)) = (g.subject_details.get("fullName"), item.as_object_mut())
            {
                m.insert(
                    "subjectEntityDetails".into(),
                    json!({ "subjectDetailsType": "EntityByIdentifier", "fullName": name }),
                );
            }
            item
        })
        .collect();
    Ok(paged("authorizationGrants", &items, page))
}

/// `POST /permissions/query/subunits/grants`: administrators of the caller's subunits.
pub(crate) async fn subunits(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let req = optional_body(&body)?;
    let caller = context_of(&ctx);
    let items: Vec<Value> = state
        .permissions
        .active(state.now(), |g| {
            g.kind == GrantKind::Subunit
                && g.granted_in == caller
                && matches_ident(req.get("subunitIdentifier"), Some(&g.context))
        })
        .iter()
        .map(|g| {
            let mut item = json!({
                "id": g.id,
                "authorizedIdentifier": g.authorized.json(),
                "subunitIdentifier": g.context.json(),
                "authorIdentifier": g.author.json(),
                "permissionScope": g.scope,
                "description": g.description,
                "startDate": format_utc_millis(g.start),
            });
            if let Some(m) = item.as_object_mut() {
                if let Some(p) = person_details(g) {
                    m.insert("subjectPersonDetails".into(), p);
                }
                if let Some(n) = &g.name {
                    m.insert("subunitName".into(), json!(n));
                }
            }
            item
        })
        .collect();
    Ok(paged("permissions", &items, page))
}

/// The EU VAT number of a `NipVatUe` context (`NIP-VATUE`).
fn vat_ue_of(context: &Ident) -> &str {
    context.value.split_once('-').map(|(_, v)| v).unwrap_or("")
}

/// `POST /permissions/query/eu-entities/grants`: EU entity administrators the caller's entity
/// appointed, and the permissions granted in the caller's EU entity context.
pub(crate) async fn eu_entities(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let req = optional_body(&body)?;
    let caller = context_of(&ctx);
    let now = state.now();
    let admin_names = state
        .permissions
        .active(now, |g| g.kind == GrantKind::EuEntityAdministration);
    let items: Vec<Value> = state
        .permissions
        .active(now, |g| {
            let vat_ue = vat_ue_of(&g.context);
            matches!(
                g.kind,
                GrantKind::EuEntityAdministration | GrantKind::EuEntity
            ) && (g.granted_in == caller || g.context == caller)
                && req
                    .get("vatUeIdentifier")
                    .and_then(Value::as_str)
                    .is_none_or(|v| v == vat_ue)
                && req
                    .get("authorizedFingerprintIdentifier")
                    .and_then(Value::as_str)
                    .is_none_or(|f| f.eq_ignore_ascii_case(&g.authorized.value))
                && matches_types(req.get("permissionTypes"), &g.scope)
        })
        .iter()
        .map(|g| {
            let admin = admin_names.iter().find(|a| a.context == g.context);
            let name = g
                .name
                .clone()
                .or_else(|| admin.and_then(|a| a.name.clone()))
                .unwrap_or_default();
            let vat_ue = vat_ue_of(&g.context);
            let mut item = json!({
                "id": g.id,
                "authorIdentifier": g.author.json(),
                "vatUeIdentifier": vat_ue,
                "euEntityName": name,
                "authorizedFingerprintIdentifier": g.authorized.value,
                "permissionScope": g.scope,
                "description": g.description,
                "startDate": format_utc_millis(g.start),
            });
            let eu = g
                .eu_entity_details
                .clone()
                .or_else(|| admin.and_then(|a| a.eu_entity_details.clone()));
            if let (Some(e), Some(m)) = (eu, item.as_object_mut()) {
                m.insert("euEntityDetails".into(), e);
            }
            with_details(item, g)
        })
        .collect();
    Ok(paged("permissions", &items, page))
}
