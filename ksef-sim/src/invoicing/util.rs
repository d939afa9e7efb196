//! Small helpers shared by the invoicing handlers.

use std::time::Instant;

use super::store::{Session, SessionKind, Store};
use crate::auth::context::AuthContext;
use crate::error::ApiError;

/// 403 unless the caller holds one of the permissions the spec requires for the operation.
pub(crate) fn require(ctx: &AuthContext, method: &str, template: &str) -> Result<(), ApiError> {
    match crate::ops::find(method, template) {
        Some(op) => ctx.require_any(op.required_permissions),
        None => Ok(()),
    }
}

/// 21173: no session with this reference number (in this context).
/// The caller's session `reference` of `kind` while it is open (status 100): 21173 when the caller
/// has no such session, 21180 naming `action` when its status forbids the operation.
pub(crate) fn open_session_mut<'a>(
    store: &'a mut Store,
    ctx: &AuthContext,
    reference: &str,
    kind: SessionKind,
    now: Instant,
    action: &str,
) -> Result<&'a mut Session, ApiError> {
    let context_key = ctx.context_key();
    let sess = store
        .sessions
        .get_mut(reference)
        .filter(|x| x.kind == kind && x.context_key == context_key)
        .ok_or_else(|| no_session(reference))?;
    let code = sess.status(now).code;
    if code != 100 {
        return Err(session_status_forbids(code, action));
    }
    Ok(sess)
}

/// 21180: the session's status does not allow `action`.
pub(crate) fn session_status_forbids(code: i32, action: &str) -> ApiError {
    ApiError::bad_request(
        21180,
        "Status sesji nie pozwala na wykonanie operacji.",
        [format!("Status sesji {code} uniemożliwia {action}.")],
    )
}

pub(crate) fn no_session(reference: &str) -> ApiError {
    ApiError::bad_request(
        21173,
        "Brak sesji o wskazanym numerze referencyjnym.",
        [format!(
            "Sesja o numerze referencyjnym {reference} nie została znaleziona."
        )],
    )
}
