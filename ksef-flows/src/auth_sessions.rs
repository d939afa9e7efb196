//! Authentication sessions of the context (`GET /auth/sessions`) and revoking one of them.

use ksef_api::operations::op;
use ksef_api::types;

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::pages::{Page, check_page_size};
use crate::retry::Idempotency;
use crate::tokens::reference;

impl AuthSession {
    /// One page of the context's authentication sessions (page size 10–100, KSeF's default
    /// when `None`). `is_current` marks this session.
    pub async fn list_auth_sessions(
        &self,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<Page<types::AuthenticationListItem>> {
        let page_size = check_page_size("page size", page_size, 10, 100)?;
        let r = self
            .call(op::AUTH_SESSIONS_LIST, Idempotency::Safe, |api| {
                let mut b = api.auth_sessions_list();
                if let Some(n) = page_size {
                    b = b.page_size(n);
                }
                if let Some(t) = continuation_token {
                    b = b.x_continuation_token(t.to_string());
                }
                b.send()
            })
            .await
            .map_err(|e| {
                e.into_flow(|source| FlowError::Call {
                    operation: op::AUTH_SESSIONS_LIST.name,
                    source,
                })
            })?
            .into_inner();
        Ok(Page::new(r.items, r.continuation_token))
    }

    /// Revokes another authentication session of the context (`DELETE /auth/sessions/{ref}`):
    /// its refresh token stops working. Revoke this session with [`AuthSession::revoke`].
    pub async fn revoke_auth_session(&self, reference_number: &str) -> Result<()> {
        let r = reference(reference_number)?;
        self.call(op::AUTH_SESSION_REVOKE, Idempotency::Safe, |api| {
            api.auth_session_revoke().reference_number(r.clone()).send()
        })
        .await
        .map_err(|e| e.into_flow(|source| FlowError::Revoke { source }))?;
        tracing::info!(reference_number = %r, "authentication session revoked");
        Ok(())
    }
}
