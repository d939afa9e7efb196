//! KSeF tokens of the authenticated context: list, status, revoke (creation is
//! [`AuthSession::create_ksef_token`]).

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

/// Filters of [`AuthSession::list_ksef_tokens`] (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenFilter {
    /// Only tokens in these statuses.
    pub statuses: Vec<types::AuthenticationTokenStatus>,
    /// Only tokens whose description contains this text.
    pub description: Option<String>,
    /// Page size (10–100; KSeF's default when `None`).
    pub page_size: Option<u32>,
}

impl TokenFilter {
    /// No filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only tokens in `status` (may be called several times).
    pub fn status(mut self, status: types::AuthenticationTokenStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// Only tokens whose description contains `text`.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Page size (10–100).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }
}

fn token_error(e: crate::auth::CallError) -> FlowError {
    e.into_flow(|source| FlowError::KsefToken { source })
}

impl AuthSession {
    /// One page of the context's KSeF tokens (`GET /tokens`). Pass the previous page's
    /// continuation token to get the next page.
    pub async fn list_ksef_tokens(
        &self,
        filter: &TokenFilter,
        continuation_token: Option<&str>,
    ) -> Result<Page<types::QueryTokensResponseItem>> {
        let page_size = check_page_size("page size", filter.page_size, 10, 100)?;
        if let Some(d) = &filter.description
            && d.chars().count() < 3
        {
            return Err(FlowError::InvalidArgument {
                field: "description filter",
                rule: "at least 3 characters".into(),
            });
        }
        let r = self
            .call(op::KSEF_TOKENS_LIST, Idempotency::Safe, |api| {
                let mut b = api.ksef_tokens_list();
                if !filter.statuses.is_empty() {
                    b = b.status(filter.statuses.clone());
                }
                if let Some(d) = &filter.description {
                    b = b.description(d.clone());
                }
                b.page(page_size, continuation_token).send()
            })
            .await
            .map_err(token_error)?
            .into_inner();
        Ok(Page::new(r.tokens, r.continuation_token))
    }

    /// All the context's KSeF tokens that `filter` selects, page after page
    /// ([`list_ksef_tokens`](Self::list_ksef_tokens)), as a stream that ends with
    /// [`FlowError::EndlessPaging`] when the server never stops paging.
    pub fn all_ksef_tokens(
        &self,
        filter: &TokenFilter,
    ) -> BoxStream<'static, Result<types::QueryTokensResponseItem>> {
        let (auth, filter) = (self.clone(), filter.clone());
        let guard = PageGuard::new(
            op::KSEF_TOKENS_LIST.name,
            MAX_OPEN_LISTING,
            filter.page_size,
        );
        continuation_listing(guard, move |token| {
            let (auth, filter) = (auth.clone(), filter.clone());
            async move { auth.list_ksef_tokens(&filter, token.as_deref()).await }
        })
    }

    /// Status and details of one KSeF token (`GET /tokens/{ref}`).
    pub async fn ksef_token_status(
        &self,
        reference_number: &str,
    ) -> Result<types::TokenStatusResponse> {
        let r = reference(reference_number)?;
        Ok(self
            .call(op::KSEF_TOKEN_STATUS, Idempotency::Safe, |api| {
                api.ksef_token_status().reference_number(r.clone()).send()
            })
            .await
            .map_err(token_error)?
            .into_inner())
    }

    /// Revokes a KSeF token (`DELETE /tokens/{ref}`); sessions it opened keep working until
    /// their own tokens expire.
    pub async fn revoke_ksef_token(&self, reference_number: &str) -> Result<()> {
        let r = reference(reference_number)?;
        self.call(op::KSEF_TOKEN_REVOKE, Idempotency::Safe, |api| {
            api.ksef_token_revoke().reference_number(r.clone()).send()
        })
        .await
        .map_err(token_error)?;
        tracing::info!(reference_number = %r, "KSeF token revoked");
        Ok(())
    }
}
