//! Authentication sessions of the context (`GET /auth/sessions`) and revoking one of them.

use futures::stream::BoxStream;
use ksef_api::operations::op;
use ksef_api::types;

use crate::arguments::reference;
use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::paging::{
    ContinuationRequest as _, MAX_OPEN_LISTING, Page, PageGuard, check_page_size,
    continuation_listing,
};
use crate::retry::Idempotency;

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
                api.auth_sessions_list()
                    .page(page_size, continuation_token)
                    .send()
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

    /// All the context's authentication sessions, page after page
    /// ([`list_auth_sessions`](Self::list_auth_sessions)), as a stream that ends with
    /// [`FlowError::EndlessPaging`] when the server never stops paging.
    pub fn all_auth_sessions(
        &self,
        page_size: Option<u32>,
    ) -> BoxStream<'static, Result<types::AuthenticationListItem>> {
        let auth = self.clone();
        let guard = PageGuard::new(op::AUTH_SESSIONS_LIST.name, MAX_OPEN_LISTING, page_size);
        continuation_listing(guard, move |token| {
            let auth = auth.clone();
            async move { auth.list_auth_sessions(page_size, token.as_deref()).await }
        })
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
