//! The limits KSeF applies to the authenticated context and subject, and its effective rate
//! limits.

use ksef_api::operations::op;
use ksef_api::types;

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::retry::Idempotency;

/// The limits in force for the authenticated context and subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EffectiveLimits {
    /// Session sizes and counts of the context (`GET /limits/context`).
    pub context: types::EffectiveContextLimits,
    /// Certificate and enrollment limits of the subject (`GET /limits/subject`).
    pub subject: types::EffectiveSubjectLimits,
}

impl AuthSession {
    /// Reads `GET /limits/context` and `GET /limits/subject`.
    pub async fn limits(&self) -> Result<EffectiveLimits> {
        let err = |operation: &'static str| {
            move |e: crate::auth::CallError| {
                e.into_flow(|source| FlowError::Call { operation, source })
            }
        };
        let context = self
            .call(op::LIMITS_CONTEXT, Idempotency::Safe, |api| {
                api.limits_context().send()
            })
            .await
            .map_err(err(op::LIMITS_CONTEXT.name))?
            .into_inner();
        let subject = self
            .call(op::LIMITS_SUBJECT, Idempotency::Safe, |api| {
                api.limits_subject().send()
            })
            .await
            .map_err(err(op::LIMITS_SUBJECT.name))?
            .into_inner();
        Ok(EffectiveLimits { context, subject })
    }

    /// The effective API rate limits of the context as KSeF answers them (`GET /rate-limits`);
    /// `-1` means unlimited. [`AuthSession::load_effective_rate_limits`] also feeds them to the
    /// client-side limiter.
    pub async fn rate_limits(&self) -> Result<types::EffectiveApiRateLimits> {
        Ok(self
            .call(op::RATE_LIMITS, Idempotency::Safe, |api| {
                api.rate_limits().send()
            })
            .await
            .map_err(|e| {
                e.into_flow(|source| FlowError::Call {
                    operation: op::RATE_LIMITS.name,
                    source,
                })
            })?
            .into_inner())
    }
}
