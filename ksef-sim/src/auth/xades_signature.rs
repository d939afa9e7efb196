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
