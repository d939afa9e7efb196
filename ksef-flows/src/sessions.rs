//! Online and batch sessions of the context, looked up by reference number from any process:
//! list, status, invoices, UPO (each UPO checked against its `x-ms-meta-hash`).

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_api::{KsefHeaders as _, ResponseValue};

use crate::arguments::reference;
use crate::auth::{AuthSession, CallError};
use crate::error::{FlowError, Result};
use crate::paging::{
    ContinuationRequest as _, MAX_OPEN_LISTING, MAX_SESSION_INVOICES, Page, PageGuard,
    check_page_size, continuation_listing,
};
use crate::retry::Idempotency;
use crate::upo::{Upo, read_upo};
use crate::wait::{PollSchedule, Polling};

/// Filters of [`AuthSession::list_sessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionFilter {
    /// Online or batch sessions (KSeF requires one of them).
    pub session_type: types::SessionType,
    /// Only sessions in these states.
    pub statuses: Vec<types::CommonSessionStatus>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub created_to: Option<DateTime<Utc>>,
    /// Page size (10–1000; KSeF's default when `None`).
    pub page_size: Option<u32>,
}

impl SessionFilter {
    /// Sessions of `session_type`, no other filter.
    pub fn new(session_type: types::SessionType) -> Self {
        Self {
            session_type,
            statuses: Vec::new(),
            created_from: None,
            created_to: None,
            page_size: None,
        }
    }

    /// Only sessions in `status` (may be called several times).
    pub fn status(mut self, status: types::CommonSessionStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// Only sessions created within `[from, to]` (either end open).
    pub fn created(mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        self.created_from = from;
        self.created_to = to;
        self
    }

    /// Page size (10–1000).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }
}

/// Which invoices of a session [`AuthSession::session_invoices`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InvoiceSelection {
    /// Every invoice the session received.
    #[default]
    All,
    /// Only the rejected ones (`/invoices/failed`).
    Failed,
}

/// Which UPO [`AuthSession::download_upo`] fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpoOf {
    /// A page of the session UPO, by its reference number (from the session status).
    SessionPage(String),
    /// The UPO of one invoice, by the invoice's reference number.
    Invoice(String),
    /// The UPO of one invoice, by its KSeF number.
    KsefNumber(String),
}

fn session_status_error(e: CallError) -> FlowError {
    e.into_flow(|source| FlowError::SessionStatus { source })
}

impl AuthSession {
    /// One page of the context's sessions (`GET /sessions`).
    pub async fn list_sessions(
        &self,
        filter: &SessionFilter,
        continuation_token: Option<&str>,
    ) -> Result<Page<types::SessionsQueryResponseItem>> {
        let page_size = check_page_size("page size", filter.page_size, 10, 1000)?;
        if let (Some(f), Some(t)) = (filter.created_from, filter.created_to)
            && f > t
        {
            return Err(FlowError::InvalidArgument {
                field: "created range",
                rule: format!("from {f} is after to {t}"),
            });
        }
        let r = self
            .call(op::SESSIONS_LIST, Idempotency::Safe, |api| {
                let mut b = api
                    .sessions_list()
                    .session_type(filter.session_type.clone());
                if !filter.statuses.is_empty() {
                    b = b.statuses(filter.statuses.clone());
                }
                if let Some(f) = filter.created_from {
                    b = b.date_created_from(f);
                }
                if let Some(t) = filter.created_to {
                    b = b.date_created_to(t);
                }
                b.page(page_size, continuation_token).send()
            })
            .await
            .map_err(session_status_error)?
            .into_inner();
        Ok(Page::new(r.sessions, r.continuation_token))
    }

    /// All the context's sessions that `filter` selects, page after page
    /// ([`list_sessions`](Self::list_sessions)), as a stream that ends with
    /// [`FlowError::EndlessPaging`] when the server never stops paging.
    pub fn all_sessions(
        &self,
        filter: &SessionFilter,
    ) -> BoxStream<'static, Result<types::SessionsQueryResponseItem>> {
        let (auth, filter) = (self.clone(), filter.clone());
        let guard = PageGuard::new(op::SESSIONS_LIST.name, MAX_OPEN_LISTING, filter.page_size);
        continuation_listing(guard, move |token| {
            let (auth, filter) = (auth.clone(), filter.clone());
            async move { auth.list_sessions(&filter, token.as_deref()).await }
        })
    }

    /// Status of any session of the context (`GET /sessions/{ref}`).
    pub async fn session_status(
        &self,
        reference_number: &str,
    ) -> Result<types::SessionStatusResponse> {
        let r = reference(reference_number)?;
        Ok(self.session_status_answer(&r).await?.into_inner())
    }

    /// One page of a session's invoices with their statuses (page size 10–1000).
    pub async fn session_invoices(
        &self,
        reference_number: &str,
        which: InvoiceSelection,
        page_size: Option<u32>,
        continuation_token: Option<&str>,
    ) -> Result<Page<types::SessionInvoiceStatusResponse>> {
        let r = reference(reference_number)?;
        let page_size = check_page_size("page size", page_size, 10, 1000)?;
        let err = |e: CallError| e.into_flow(|source| FlowError::InvoiceStatus { source });
        let page = match which {
            InvoiceSelection::All => self
                .call(op::SESSION_INVOICES, Idempotency::Safe, |api| {
                    api.session_invoices()
                        .reference_number(r.clone())
                        .page(page_size, continuation_token)
                        .send()
                })
                .await
                .map_err(err)?
                .into_inner(),
            InvoiceSelection::Failed => self
                .call(op::SESSION_FAILED_INVOICES, Idempotency::Safe, |api| {
                    api.session_failed_invoices()
                        .reference_number(r.clone())
                        .page(page_size, continuation_token)
                        .send()
                })
                .await
                .map_err(err)?
                .into_inner(),
        };
        Ok(Page::new(page.invoices, page.continuation_token))
    }

    /// All invoices of a session ([`session_invoices`](Self::session_invoices), page after page),
    /// as a stream that ends with [`FlowError::EndlessPaging`] when the server pages past what
    /// a session can hold.
    pub fn all_session_invoices(
        &self,
        reference_number: &str,
        which: InvoiceSelection,
        page_size: Option<u32>,
    ) -> BoxStream<'static, Result<types::SessionInvoiceStatusResponse>> {
        let (auth, reference_number) = (self.clone(), reference_number.to_string());
        let operation = match which {
            InvoiceSelection::All => op::SESSION_INVOICES,
            InvoiceSelection::Failed => op::SESSION_FAILED_INVOICES,
        };
        let guard = PageGuard::new(operation.name, MAX_SESSION_INVOICES, page_size);
        continuation_listing(guard, move |token| {
            let (auth, reference_number) = (auth.clone(), reference_number.clone());
            async move {
                auth.session_invoices(&reference_number, which, page_size, token.as_deref())
                    .await
            }
        })
    }

    /// Downloads a UPO of a session, verifies its `x-ms-meta-hash` and parses it.
    pub async fn download_upo(&self, session_reference: &str, which: &UpoOf) -> Result<Upo> {
        let session = reference(session_reference)?;
        let which = match which {
            UpoOf::SessionPage(page) => UpoOf::SessionPage(reference(page)?),
            UpoOf::Invoice(invoice) => UpoOf::Invoice(reference(invoice)?),
            UpoOf::KsefNumber(number) => UpoOf::KsefNumber(crate::arguments::ksef_number(number)?),
        };
        self.fetch_upo(&session, &which).await
    }

    /// [`download_upo`](Self::download_upo) with the references used as they are (they come
    /// from KSeF).
    pub(crate) async fn fetch_upo(&self, session: &str, which: &UpoOf) -> Result<Upo> {
        let (what, answer) = match which {
            UpoOf::SessionPage(page) => (
                "session UPO",
                self.call(op::SESSION_UPO, Idempotency::Safe, |api| {
                    api.session_upo()
                        .reference_number(session.to_string())
                        .upo_reference_number(page.clone())
                        .send()
                })
                .await,
            ),
            UpoOf::Invoice(invoice) => (
                "invoice UPO",
                self.call(op::SESSION_INVOICE_UPO, Idempotency::Safe, |api| {
                    api.session_invoice_upo()
                        .reference_number(session.to_string())
                        .invoice_reference_number(invoice.clone())
                        .send()
                })
                .await,
            ),
            UpoOf::KsefNumber(number) => (
                "invoice UPO",
                self.call(
                    op::SESSION_INVOICE_UPO_BY_KSEF_NUMBER,
                    Idempotency::Safe,
                    |api| {
                        api.session_invoice_upo_by_ksef_number()
                            .reference_number(session.to_string())
                            .ksef_number(number.clone())
                            .send()
                    },
                )
                .await,
            ),
        };
        let answer = answer.map_err(|e| e.into_flow(|source| FlowError::DownloadUpo { source }))?;
        read_upo(what, answer, self.ksef().call_timeout()).await
    }

    /// The status answer of a session (`GET /sessions/{ref}`), its `Retry-After` included, with
    /// the reference used as it is.
    pub(crate) async fn session_status_answer(
        &self,
        session: &str,
    ) -> Result<ResponseValue<types::SessionStatusResponse>> {
        self.call(op::SESSION_STATUS, Idempotency::Safe, |api| {
            api.session_status()
                .reference_number(session.to_string())
                .send()
        })
        .await
        .map_err(session_status_error)
    }

    /// Polls a closed session's status on `schedule` until it is final (not 100 open, 150 or
    /// 170 being processed), honouring `Retry-After`; `processing` sees every status that is not
    /// final yet. Past the deadline: [`FlowError::Timeout`] naming `what`.
    pub(crate) async fn wait_session_processed(
        &self,
        session: &str,
        schedule: PollSchedule,
        what: &'static str,
        mut processing: impl FnMut(&types::SessionStatusResponse) + Send,
    ) -> Result<types::SessionStatusResponse> {
        let mut polling = Polling::start(schedule);
        loop {
            let answer = self.session_status_answer(session).await?;
            let retry_after = answer.retry_after();
            let status = answer.into_inner();
            if !matches!(status.status.code, 100 | 150 | 170) {
                return Ok(status);
            }
            processing(&status);
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout(what));
            }
        }
    }
}
