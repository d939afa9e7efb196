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
    let judgement = crate::certificates::authentication::judge(
        &state,
        &verified.certificate_der,
        q.verify_certificate_chain == Some(true),
        now,
    );
    // A KSeF certificate authenticates the subject it was issued to.
    let (method, subject_type, subject_value) = match &judgement.ksef_certificate {
        Some((_, (t, v))) => ("InternalCertificate", t.clone(), v.clone()),
        None => (
            verified.method,
            verified.subject_type.clone(),
            verified.subject_value.clone(),
        ),
    };
    let outcome = if q.verify_certificate_chain == Some(true)
        && let Some(problem) = judgement.problem.clone()
    {
        // TEST accepts self-signed certificates unless the chain is to be verified.
        Outcome::fail(460, problem)
    } else {
        take_challenge(&state, &verified.challenge)?;
        if let Some(cert_problem) = judgement
            .problem
            .clone()
            .or_else(|| verified.certificate_problem.clone())
        {
            Outcome::fail(460, cert_problem)
        } else {
            // The seal is accepted. A Peppol provider registers itself here, before its
            // permissions are resolved: in its own `PeppolId` context it holds none yet, so
            // its authentication ends 415 and gating on 200 would never register it.
            register_peppol_provider(&state, &verified);
            resolve_permissions(
                &state,
                &verified.context_type,
                &verified.context_value,
                &subject_type,
                &subject_value,
            )
        }
    };
    if outcome.code == 200
        && let Some((serial, _)) = &judgement.ksef_certificate
    {
        crate::certificates::authentication::record_use(&state, serial, now);
    }
    Ok(start_operation(
        &state,
        op,
        NewOperation {
            method,
            category: "XadesSignature",
            context_type: verified.context_type,
            context_value: verified.context_value,
            subject_type,
            subject_value,
            outcome,
            allowed_ips: verified.allowed_ips,
            ksef_token_reference: None,
            certificate_der: Some(verified.certificate_der),
        },
    ))
}

/// A Peppol service provider registers itself with its first authentication in its `PeppolId`
/// context, signed with a valid seal whose common name is that identifier; its name is the
/// seal's organization. Called only once the challenge is taken and the certificate accepted
/// (no chain, validity, revocation or subject problem).
fn register_peppol_provider(state: &AppState, verified: &VerifiedAuth) {
    if verified.context_type == "PeppolId"
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
