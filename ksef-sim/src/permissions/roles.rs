//! The role queries: `GET /permissions/query/entities/roles` (the roles of the context's entity)
//! and `POST /permissions/query/subordinate-entities/roles` (the members of the context's VAT
//! group or the units under its JST), both from the subjects and persons of the test data.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use super::queries::{matches_ident, optional_body, page, paged};
use super::store::Ident;
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /permissions/query/entities/roles`.
pub(crate) async fn entity_roles(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let roles = ctx
        .nip
        .as_deref()
        .map(|n| state.testdata.entity_roles(n))
        .unwrap_or_default();
    let items: Vec<Value> = roles
        .iter()
        .map(|r| {
            let mut v = json!({
                "role": r.role,
                "description": r.description,
                "startDate": format_utc_millis(r.start),
            });
            if let (Some(p), Some(m)) = (&r.parent_nip, v.as_object_mut()) {
                m.insert("parentEntityIdentifier".into(), Ident::new("Nip", p).json());
            }
            v
        })
        .collect();
    Ok(paged("roles", &items, page))
}

/// `POST /permissions/query/subordinate-entities/roles`, filtered by
/// `subordinateEntityIdentifier`.
pub(crate) async fn subordinate_roles(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let page = page(raw)?;
    let req = optional_body(&body)?;
    let roles = ctx
        .nip
        .as_deref()
        .map(|n| state.testdata.subordinate_roles(n))
        .unwrap_or_default();
    let items: Vec<Value> = roles
        .iter()
        .filter(|r| {
            matches_ident(
                req.get("subordinateEntityIdentifier"),
                Some(&Ident::new("Nip", &r.nip)),
            )
        })
        .map(|r| {
            json!({
                "subordinateEntityIdentifier": Ident::new("Nip", &r.nip).json(),
                "role": r.role,
                "description": r.description,
                "startDate": format_utc_millis(r.start),
            })
        })
        .collect();
    Ok(paged("roles", &items, page))
}
