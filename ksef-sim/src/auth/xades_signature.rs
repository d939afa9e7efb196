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
use crate::xml::xades::VerifiedAuth;

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
        register_peppol_provider(&state, &verified);
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

/// A Peppol service provider registers itself with its first authentication in its `PeppolId`
/// context, signed with a valid seal whose common name is that identifier; its name is the
/// seal's organization.
fn register_peppol_provider(state: &AppState, verified: &VerifiedAuth) {
    if verified.context_type == "PeppolId"
        && verified.certificate_problem.is_none()
        && verified.common_name.as_deref() == Some(verified.context_value.as_str())
    {
        let name = verified
            .organization
            .as_deref()
            .unwrap_or(&verified.context_value);
        state
            .peppol
            .register(&verified.context_value, name, state.now());
    }
}
