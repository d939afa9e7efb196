//! Test data (`/testdata/...`): subjects and persons ([`subjects`]), granted permissions
//! ([`permissions`]), attachment consent ([`attachments`]), blocked contexts
//! ([`context_block`]); all kept in [`store`]. The limit overrides are in [`crate::limits`].

pub(crate) mod attachments;
pub(crate) mod context_block;
pub(crate) mod permissions;
pub(crate) mod store;
pub(crate) mod subjects;

use axum::Router;
use axum::routing::post;

use crate::state::AppState;

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/testdata/subject", post(subjects::add_subject))
        .route("/testdata/subject/remove", post(subjects::remove_subject))
        .route("/testdata/person", post(subjects::add_person))
        .route("/testdata/person/remove", post(subjects::remove_person))
        .route("/testdata/permissions", post(permissions::grant))
        .route("/testdata/permissions/revoke", post(permissions::revoke))
        .route("/testdata/attachment", post(attachments::allow))
        .route("/testdata/attachment/revoke", post(attachments::revoke))
        .route("/testdata/context/block", post(context_block::block))
        .route("/testdata/context/unblock", post(context_block::unblock))
}
