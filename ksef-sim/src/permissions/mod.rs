//! Permissions: grants, revocations and their operations in [`grants`], the queries in
//! [`queries`], the granted permissions in [`store`] (counted at authentication by
//! [`crate::auth::permissions`]), the roles of entities (from the test data) in [`roles`],
//! `GET /permissions/attachments/status` in [`attachments`].

pub(crate) mod attachments;
pub(crate) mod grants;
pub(crate) mod queries;
pub(crate) mod roles;
pub(crate) mod store;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/permissions/attachments/status", get(attachments::status))
        .route("/permissions/persons/grants", post(grants::grant))
        .route("/permissions/entities/grants", post(grants::grant))
        .route("/permissions/authorizations/grants", post(grants::grant))
        .route("/permissions/indirect/grants", post(grants::grant))
        .route("/permissions/subunits/grants", post(grants::grant))
        .route(
            "/permissions/eu-entities/administration/grants",
            post(grants::grant),
        )
        .route("/permissions/eu-entities/grants", post(grants::grant))
        .route(
            "/permissions/common/grants/{permissionId}",
            delete(grants::revoke_common),
        )
        .route(
            "/permissions/authorizations/grants/{permissionId}",
            delete(grants::revoke_authorization),
        )
        .route(
            "/permissions/operations/{referenceNumber}",
            get(grants::operation_status),
        )
        .route("/permissions/query/persons/grants", post(queries::persons))
        .route(
            "/permissions/query/personal/grants",
            post(queries::personal),
        )
        .route(
            "/permissions/query/entities/grants",
            post(queries::entities),
        )
        .route(
            "/permissions/query/authorizations/grants",
            post(queries::authorizations),
        )
        .route(
            "/permissions/query/subunits/grants",
            post(queries::subunits),
        )
        .route(
            "/permissions/query/eu-entities/grants",
            post(queries::eu_entities),
        )
        .route(
            "/permissions/query/entities/roles",
            get(roles::entity_roles),
        )
        .route(
            "/permissions/query/subordinate-entities/roles",
            post(roles::subordinate_roles),
        )
}
