//! `GET /permissions/attachments/status`: whether the context's taxpayer may send invoices with
//! attachments (set with `/testdata/attachment`).

use axum::Json;
use axum::extract::State;
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use crate::auth::context::AuthContext;
use crate::state::AppState;

pub(crate) async fn status(State(state): State<AppState>, ctx: AuthContext) -> Json<Value> {
    let (allowed, revoked) = ctx
        .nip
        .as_deref()
        .map(|n| state.testdata.attachment_status(n, state.now()))
        .unwrap_or((false, None));
    let mut v = json!({ "isAttachmentAllowed": allowed });
    if let (Some(r), Some(m)) = (revoked, v.as_object_mut()) {
        m.insert("revokedDate".into(), json!(format_utc_millis(r)));
    }
    Json(v)
}
