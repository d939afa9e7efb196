//! `POST /auth/xades-signature`: authentication with a signed `AuthTokenRequest` (the signature
//! is checked by [`crate::xml::xades`]).

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::challenge::take_challenge;
use super::operation::{NewOperation, Outcome, start_operation};
use super::permissions::resolve_permissions;
use crate::error::ApiError;
use crate::ops::OperationInfo;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct XadesQuery {
    #[serde(default)]
    verify_certificate_chain: Option<bool>,
}

pub(crate) async fn xades_signature(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    Query(q): Query<XadesQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let now = state.now();
    let verified = state
        .blocking
        .run(move || crate::xml::xades::verify_auth_request(&body, now))
        .await??;
    let outcome = if q.verify_certificate_chain == Some(true) && verified.self_signed {
        // TEST accepts self-signed certificates unless the chain is to be verified.
        Outcome::fail(
            460,
            "Nie można zbudować ścieżki certyfikacji (certyfikat samopodpisany).",
        )
    } else {
        take_challenge(&state, &verified.challenge)?;
        if let Some(cert_problem) = verified.certificate_problem.clone() {
            Outcome::fail(460, cert_problem)
        } else {
            resolve_permissions(
                &state,
                &verified.context_type,
                &verified.context_value,
                &verified.subject_type,
                &verified.subject_value,
            )
        }
    };
    Ok(start_operation(
        &state,
        op,
        NewOperation {
            method: verified.method,
            category: "XadesSignature",
            context_type: verified.context_type,
            context_value: verified.context_value,
            subject_type: verified.subject_type,
            subject_value: verified.subject_value,
            outcome,
            allowed_ips: verified.allowed_ips,
            ksef_token_reference: None,
        },
    ))
}
