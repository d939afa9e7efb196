//! Online (interactive) sessions: open, send invoices, wait for their results, close, UPO.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use ksef_api::KsefHeaders as _;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::invoice::FormCode;
use ksef_crypto::{CertificateUsage, SymmetricKey};

use crate::auth::{AuthSession, CallError};
pub use crate::error::InvoiceOutcome;
use crate::error::{FlowError, Result, SESSION_UNAVAILABLE, boxed};
use crate::lock::lock;
use crate::retry::{Idempotency, is_ambiguous};
use crate::sessions::{InvoiceSelection, UpoOf};

/// Page size of the session invoice listing (the largest KSeF serves).
const LIST_PAGE_SIZE: u32 = 1000;
use crate::upo::Upo;
use crate::wait::Polling;

/// One invoice to send: its exact bytes (never re-encoded) and how to send it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvoiceInput {
    /// The invoice XML, exactly as it will be hashed and encrypted.
    pub bytes: Bytes,
    /// `offlineMode`: the invoice was issued offline.
    pub offline_mode: bool,
    /// `hashOfCorrectedInvoice`: Base64 SHA-256 of the rejected original this invoice corrects
    /// (technical correction of an offline invoice).
    pub hash_of_corrected_invoice: Option<String>,
}

impl InvoiceInput {
    /// An invoice sent online.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: bytes.into(),
            offline_mode: false,
            hash_of_corrected_invoice: None,
        }
    }

    /// An invoice built or read with `ksef-invoice`: serialized once; the bytes are checked by
    /// reading them back strictly, and exactly these bytes are hashed, encrypted and sent.
    pub fn from_invoice(invoice: &ksef_invoice::Invoice) -> Result<Self> {
        let bytes = invoice
            .to_xml()
            .and_then(|bytes| ksef_invoice::Invoice::parse(&bytes).map(|_| bytes))
            .map_err(|source| FlowError::SerializeInvoice { source })?;
        Ok(Self::new(bytes))
    }

    /// Marks the invoice as issued offline (`offlineMode: true`).
    #[must_use]
    pub fn offline(mut self) -> Self {
        self.offline_mode = true;
        self
    }

    /// A technical correction of an offline invoice KSeF rejected: sent with `offlineMode: true`
    /// and `hashOfCorrectedInvoice` = SHA-256 of the original's exact bytes.
    #[must_use]
    pub fn technical_correction_of(mut self, original: &[u8]) -> Self {
        self.offline_mode = true;
        self.hash_of_corrected_invoice = Some(ksef_crypto::b64::sha256_b64(original));
        self
    }
}

/// An invoice KSeF accepted for processing (`202`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentInvoice {
    /// Position of the invoice in the caller's input (0-based).
    pub index: usize,
    /// The invoice's reference number in the session.
    pub reference_number: String,
    /// `invoiceHash`: Base64 SHA-256 of the invoice bytes.
    pub invoice_hash: String,
    /// Whether the reference number was found by reconciliation (the send's answer was lost).
    pub reconciled: bool,
    /// `X-System-Warning` entries of the send's answer.
    pub warnings: Vec<ksef_api::SystemWarning>,
}

impl InvoiceOutcome {
    /// The outcome KSeF reports in an invoice's status: pending (100, 150), accepted (200,
    /// with the KSeF number), or rejected (any other code, with its description, details and
    /// extensions).
    pub(crate) fn from_status(s: &types::SessionInvoiceStatusResponse) -> Self {
        let reference_number = s.reference_number.0.clone();
        match s.status.code {
            100 | 150 => Self::Pending { reference_number },
            200 => Self::Accepted {
                reference_number,
                ksef_number: s
                    .ksef_number
                    .as_ref()
                    .map(|k| k.0.clone())
                    .unwrap_or_default(),
                ordinal_number: s.ordinal_number.get(),
                acquisition_date: s.acquisition_date,
            },
            code => Self::Rejected {
                reference_number,
                code,
                description: s.status.description.clone(),
                details: s.status.details.clone().unwrap_or_default(),
                extensions: s
                    .status
                    .extensions
                    .as_ref()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        }
    }

    /// The outcome in an invoice's status when it is final (not [`Pending`](Self::Pending)).
    fn final_of(s: &types::SessionInvoiceStatusResponse) -> Option<Self> {
        Some(Self::from_status(s)).filter(|o| !matches!(o, Self::Pending { .. }))
    }

    /// The KSeF number, if accepted.
    pub fn ksef_number(&self) -> Option<&str> {
        match self {
            Self::Accepted { ksef_number, .. } => Some(ksef_number),
            _ => None,
        }
    }

    /// The status code of a rejection.
    pub fn rejection_code(&self) -> Option<i32> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// For a duplicate (440): the KSeF number of the original invoice.
    pub fn original_ksef_number(&self) -> Option<&str> {
        match self {
            Self::Rejected {
                code: 440,
                extensions,
                ..
            } => extensions.get("originalKsefNumber").map(String::as_str),
            _ => None,
        }
    }

    /// The invoice's reference number, if it was sent.
    pub fn reference_number(&self) -> Option<&str> {
        match self {
            Self::Accepted {
                reference_number, ..
            }
            | Self::Rejected {
                reference_number, ..
            }
            | Self::Pending { reference_number } => Some(reference_number),
            Self::NotSent(_) | Self::Unknown { .. } => None,
        }
    }
}

/// One input invoice and its outcome.
#[derive(Debug)]
#[non_exhaustive]
pub struct InvoiceResult {
    /// Position of the invoice in the caller's input (0-based).
    pub index: usize,
    /// Base64 SHA-256 of the invoice bytes.
    pub invoice_hash: String,
    /// What became of it.
    pub outcome: InvoiceOutcome,
    /// `X-System-Warning` entries KSeF returned when the invoice was sent.
    pub warnings: Vec<ksef_api::SystemWarning>,
}

impl InvoiceResult {
    /// Whether the invoice was not sent because the session is temporarily unavailable (21184):
    /// send it in a new session.
    pub fn needs_new_session(&self) -> bool {
        matches!(&self.outcome, InvoiceOutcome::NotSent(e) if e.needs_new_session())
    }
}

/// A page of the session UPO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpoPage {
    /// UPO page reference number.
    pub reference_number: String,
    /// Presigned download URL (no token needed).
    pub download_url: String,
    /// When the URL expires.
    pub expires: DateTime<Utc>,
}

/// Final state of a closed session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSummary {
    /// Status code: 200 (≥ 1 invoice accepted), 440 (no invoices), 445 (no valid invoices), 415.
    pub code: i32,
    /// Status description.
    pub description: String,
    /// Status details.
    pub details: Vec<String>,
    /// Invoices received.
    pub invoice_count: Option<i32>,
    /// Invoices accepted.
    pub successful_invoice_count: Option<i32>,
    /// Invoices rejected.
    pub failed_invoice_count: Option<i32>,
    /// Pages of the session UPO.
    pub upo_pages: Vec<UpoPage>,
}

/// An open online session. Invoices are encrypted with the session's AES key (generated here,
/// wrapped for KSeF with the `SymmetricKeyEncryption` key; the key never leaves the process
/// unwrapped and is zeroized on drop).
#[derive(Debug)]
pub struct OnlineSession {
    auth: AuthSession,
    reference_number: String,
    key: SymmetricKey,
    form: FormCode,
    valid_until: DateTime<Utc>,
    concurrency: usize,
    claimed: Mutex<HashSet<String>>,
}

fn api_form(form: FormCode) -> types::FormCode {
    types::FormCode {
        system_code: form.system_code().to_string(),
        schema_version: form.schema_version().to_string(),
        value: form.value().to_string(),
    }
}

impl AuthSession {
    /// Opens an online session for FA (3) invoices.
    pub async fn open_online_session(&self) -> Result<OnlineSession> {
        self.open_online_session_for(FormCode::Fa3).await
    }

    /// Opens an online session for invoices of `form`. A withdrawn encryption key (21470) makes
    /// the client refetch the public-key certificates and retry once.
    pub async fn open_online_session_for(&self, form: FormCode) -> Result<OnlineSession> {
        self.ksef()
            .within_deadline("opening the online session", self.open_online(form))
            .await
    }

    async fn open_online(&self, form: FormCode) -> Result<OnlineSession> {
        let key = SymmetricKey::generate().map_err(|source| FlowError::Crypto {
            step: "generating the session key",
            source,
        })?;
        let key_ref = &key;
        let opened = self
            .ksef()
            .with_public_key(
                CertificateUsage::SymmetricKeyEncryption,
                |cert| async move {
                    let wrapped = key_ref
                        .wrap_for(&cert)
                        .map_err(|source| FlowError::Crypto {
                            step: "wrapping the session key",
                            source,
                        })?;
                    let body = types::OpenOnlineSessionRequest {
                        encryption: types::EncryptionInfo {
                            encrypted_symmetric_key: wrapped,
                            initialization_vector: key_ref.iv_b64(),
                            public_key_id: Some(cert.public_key_id().to_string()),
                        },
                        form_code: api_form(form),
                    };
                    let body = &body;
                    // Repeated after a lost answer: a session opened without its answer
                    // receives no invoice and expires unused.
                    self.call(op::ONLINE_SESSION_OPEN, Idempotency::Safe, |api| {
                        api.online_session_open().body(body.clone()).send()
                    })
                    .await
                    .map(ksef_api::ResponseValue::into_inner)
                    .map_err(|e| e.into_flow(|source| FlowError::OpenSession { source }))
                },
            )
            .await?;
        tracing::info!(reference_number = %opened.reference_number.0, form = form.system_code(), "online session opened");
        Ok(OnlineSession {
            auth: self.clone(),
            reference_number: opened.reference_number.0,
            key,
            form,
            valid_until: opened.valid_until,
            concurrency: 8,
            claimed: Mutex::new(HashSet::new()),
        })
    }
}

/// The outcome of `reference` among the final ones found; an invoice without one was still
/// processing when waiting ended.
fn take_outcome(done: &mut HashMap<String, InvoiceOutcome>, reference: &str) -> InvoiceOutcome {
    done.remove(reference)
        .unwrap_or_else(|| InvoiceOutcome::Pending {
            reference_number: reference.to_string(),
        })
}

fn summary_of(s: types::SessionStatusResponse) -> SessionSummary {
    SessionSummary {
        code: s.status.code,
        description: s.status.description,
        details: s.status.details.unwrap_or_default(),
        invoice_count: s.invoice_count,
        successful_invoice_count: s.successful_invoice_count,
        failed_invoice_count: s.failed_invoice_count,
        upo_pages: s
            .upo
            .map(|u| {
                u.pages
                    .into_iter()
                    .map(|p| UpoPage {
                        reference_number: p.reference_number.0,
                        download_url: p.download_url,
                        expires: p.download_url_expiration_date,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl OnlineSession {
    /// The session's reference number.
    pub fn reference_number(&self) -> &str {
        &self.reference_number
    }

    /// The session's form code.
    pub fn form_code(&self) -> FormCode {
        self.form
    }

    /// Until when the session accepts invoices.
    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    /// The authentication session.
    pub fn auth(&self) -> &AuthSession {
        &self.auth
    }

    /// Most invoices in flight at once in [`send_all`](Self::send_all) (default 8). The rate
    /// limiter decides how fast they actually go.
    pub fn set_concurrency(&mut self, n: usize) {
        self.concurrency = n.max(1);
    }

    /// Builds the `SendInvoiceRequest` of an invoice: pre-flight validation, encryption, hashes.
    /// Nothing is sent. This is the per-invoice client work measured by the bench.
    pub fn prepare(
        &self,
        index: usize,
        invoice: &InvoiceInput,
    ) -> Result<types::SendInvoiceRequest> {
        prepare_request(&self.key, self.form, index, invoice)
    }

    /// Sends one invoice. A 429 is waited out and retried; an ambiguous failure (5xx, broken
    /// connection) is reconciled through the session's invoice list before anything is resent,
    /// so an invoice is never registered twice by a retry. A session temporarily unavailable
    /// (21184, maintenance: nothing was registered) is tried again later as the
    /// [`RetryPolicy`](crate::RetryPolicy) says; when it stays unavailable the invoice fails
    /// with [`FlowError::SessionUnavailable`]: send it in a new session.
    pub async fn send(&self, index: usize, invoice: &InvoiceInput) -> Result<SentInvoice> {
        let request = self.prepare(index, invoice)?;
        let hash = request.invoice_hash.0.clone();
        let span = tracing::info_span!("ksef_send_invoice", index, invoice_hash = %hash);
        tracing::Instrument::instrument(self.send_prepared(index, &request, hash), span).await
    }

    async fn send_prepared(
        &self,
        index: usize,
        request: &types::SendInvoiceRequest,
        hash: String,
    ) -> Result<SentInvoice> {
        let reference = self.reference_number.as_str();
        let policy = self.auth.ksef().retry_policy();
        let mut lost = 0u32;
        let mut unavailable = 0u32;
        loop {
            let result = self
                .auth
                .call(
                    op::ONLINE_SESSION_SEND_INVOICE,
                    Idempotency::Unsafe,
                    |api| {
                        api.online_session_send_invoice()
                            .reference_number(reference.to_string())
                            .body(request.clone())
                            .send()
                    },
                )
                .await;
            let error = match result {
                Ok(v) => {
                    let warnings = v.system_warnings();
                    let r = v.into_inner().reference_number.0;
                    lock(&self.claimed).insert(r.clone());
                    tracing::debug!(reference_number = %r, "invoice accepted for processing");
                    return Ok(SentInvoice {
                        index,
                        reference_number: r,
                        invoice_hash: hash,
                        reconciled: false,
                        warnings,
                    });
                }
                // 21184: nothing was registered; the session may take it after maintenance.
                Err(CallError::Api(_, e)) if e.has_code(SESSION_UNAVAILABLE) => {
                    unavailable += 1;
                    if let Some(wait) = policy.retry_unavailable(unavailable) {
                        tracing::warn!(
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "session temporarily unavailable (21184); trying again later"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    tracing::warn!(
                        session = %reference,
                        "session temporarily unavailable (21184); a new session is needed"
                    );
                    return Err(FlowError::SessionUnavailable {
                        index,
                        session: self.reference_number.clone(),
                        source: Some(boxed(e)),
                    });
                }
                Err(e) => e,
            };
            // An ambiguous failure: look for the invoice on the server before sending it again.
            let resend = if error.api().is_some_and(is_ambiguous) {
                lost += 1;
                policy.resend_after_ambiguous(lost)
            } else {
                None
            };
            let Some(wait) = resend else {
                return Err(error.into_flow(|source| FlowError::SendInvoice { index, source }));
            };
            tracing::warn!(
                error = %error.api().map(ToString::to_string).unwrap_or_default(),
                "ambiguous send failure; reconciling through the session's invoice list"
            );
            tokio::time::sleep(wait).await;
            if let Some(r) = self.reconcile(&hash).await? {
                tracing::info!(reference_number = %r, "the invoice had been registered; not resending");
                return Ok(SentInvoice {
                    index,
                    reference_number: r,
                    invoice_hash: hash,
                    reconciled: true,
                    warnings: Vec::new(),
                });
            }
        }
    }

    /// Finds an invoice of this session with `hash` that no input has claimed yet, and claims it.
    async fn reconcile(&self, hash: &str) -> Result<Option<String>> {
        let all = self.list_invoices().await?;
        let mut claimed = lock(&self.claimed);
        for inv in all {
            if inv.invoice_hash.0 == hash && !claimed.contains(&inv.reference_number.0) {
                claimed.insert(inv.reference_number.0.clone());
                return Ok(Some(inv.reference_number.0));
            }
        }
        Ok(None)
    }

    /// Every invoice of the session (`GET /sessions/{ref}/invoices`, all pages).
    pub async fn list_invoices(&self) -> Result<Vec<types::SessionInvoiceStatusResponse>> {
        self.auth
            .ksef()
            .within_deadline("listing the session's invoices", self.list_all_invoices())
            .await
    }

    async fn list_all_invoices(&self) -> Result<Vec<types::SessionInvoiceStatusResponse>> {
        self.auth
            .all_session_invoices(
                &self.reference_number,
                InvoiceSelection::All,
                Some(LIST_PAGE_SIZE),
            )
            .try_collect()
            .await
    }

    /// Sends all invoices concurrently (bounded by the concurrency setting and the rate limiter).
    /// The result at position `i` belongs to `invoices[i]`. Once an invoice finds the session
    /// unavailable (21184, after the retries), the invoices not started yet are not sent either:
    /// they fail with [`FlowError::SessionUnavailable`] without a source, ready for a new session.
    pub async fn send_all(&self, invoices: &[InvoiceInput]) -> Vec<Result<SentInvoice>> {
        let unavailable = AtomicBool::new(false);
        // The futures are made first and then run as a stream: a stream that maps over borrowed
        // inputs with a closure would make this future lose `Send`.
        let sends: Vec<_> = invoices
            .iter()
            .enumerate()
            .map(|(i, inv)| self.send_unless_unavailable(i, inv, &unavailable))
            .collect();
        let mut results: Vec<(usize, Result<SentInvoice>)> = futures::stream::iter(sends)
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// One send of [`send_all`](Self::send_all): held back once another invoice found the
    /// session unavailable, else sent (and, if it finds the session unavailable, it holds back
    /// the rest).
    async fn send_unless_unavailable(
        &self,
        index: usize,
        invoice: &InvoiceInput,
        unavailable: &AtomicBool,
    ) -> (usize, Result<SentInvoice>) {
        if unavailable.load(Ordering::Acquire) {
            let held_back = FlowError::SessionUnavailable {
                index,
                session: self.reference_number.clone(),
                source: None,
            };
            return (index, Err(held_back));
        }
        let r = self.send(index, invoice).await;
        if r.as_ref().err().is_some_and(FlowError::needs_new_session) {
            unavailable.store(true, Ordering::Release);
        }
        (index, r)
    }

    /// Waits until KSeF has processed the sent invoices (or the client's poll timeout passes:
    /// those still processing come back as [`InvoiceOutcome::Pending`]). The outcome at
    /// position `i` belongs to `sent[i]`. Many pending invoices are polled through the session's
    /// invoice list, a few through their own status.
    pub async fn wait_for(&self, sent: &[SentInvoice]) -> Result<Vec<InvoiceOutcome>> {
        let mut done = self
            .outcomes_of(sent.iter().map(|s| s.reference_number.clone()).collect())
            .await?;
        Ok(sent
            .iter()
            .map(|s| take_outcome(&mut done, &s.reference_number))
            .collect())
    }

    /// Polls the invoices with these reference numbers until each has a final status or the
    /// poll timeout passes; returns the final outcomes found, by reference number.
    async fn outcomes_of(
        &self,
        mut pending: HashSet<String>,
    ) -> Result<HashMap<String, InvoiceOutcome>> {
        let mut done = HashMap::with_capacity(pending.len());
        let reference = self.reference_number.as_str();
        let mut polling = Polling::start(self.auth.ksef().poll_schedule());
        while !pending.is_empty() {
            let mut retry_after = None;
            if pending.len() > 3 {
                for inv in self.list_invoices().await? {
                    if pending.contains(&inv.reference_number.0)
                        && let Some(o) = InvoiceOutcome::final_of(&inv)
                    {
                        pending.remove(&inv.reference_number.0);
                        done.insert(inv.reference_number.0, o);
                    }
                }
            } else {
                for r in pending.clone() {
                    let rr = r.as_str();
                    let answer = self
                        .auth
                        .call(op::SESSION_INVOICE_STATUS, Idempotency::Safe, |api| {
                            api.session_invoice_status()
                                .reference_number(reference.to_string())
                                .invoice_reference_number(rr.to_string())
                                .send()
                        })
                        .await
                        .map_err(|e| e.into_flow(|source| FlowError::InvoiceStatus { source }))?;
                    retry_after = retry_after.max(answer.retry_after());
                    if let Some(o) = InvoiceOutcome::final_of(&answer.into_inner()) {
                        pending.remove(&r);
                        done.insert(r, o);
                    }
                }
            }
            if !pending.is_empty() && !polling.pause(retry_after).await {
                tracing::warn!(
                    pending = pending.len(),
                    "invoices still processing when waiting ended"
                );
                break;
            }
        }
        Ok(done)
    }

    /// Sends all invoices and waits for their outcomes: `result[i]` is the outcome of
    /// `invoices[i]`, whatever happened to it (not sent, rejected with its code, accepted with
    /// its KSeF number, still pending when the poll timeout passed). Only a failure that
    /// prevents finding out (status queries failing) is an `Err`.
    pub async fn send_and_wait(&self, invoices: &[InvoiceInput]) -> Result<Vec<InvoiceResult>> {
        let sent = self.send_all(invoices).await;
        let mut done = self
            .outcomes_of(
                sent.iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|s| s.reference_number.clone())
                    .collect(),
            )
            .await?;
        Ok(sent
            .into_iter()
            .zip(invoices)
            .enumerate()
            .map(|(index, (r, input))| {
                let (outcome, warnings) = match r {
                    Ok(s) => (take_outcome(&mut done, &s.reference_number), s.warnings),
                    Err(e) => (InvoiceOutcome::NotSent(e), Vec::new()),
                };
                InvoiceResult {
                    index,
                    invoice_hash: ksef_crypto::b64::sha256_b64(&input.bytes),
                    outcome,
                    warnings,
                }
            })
            .collect())
    }

    /// Session status (`GET /sessions/{ref}`).
    pub async fn status(&self) -> Result<types::SessionStatusResponse> {
        Ok(self
            .auth
            .session_status_answer(&self.reference_number)
            .await?
            .into_inner())
    }

    /// Closes the session (UPO generation starts). After an ambiguous failure the session
    /// status tells whether the close went through.
    pub async fn close(&self) -> Result<()> {
        let reference = self.reference_number.as_str();
        match self
            .auth
            .call(op::ONLINE_SESSION_CLOSE, Idempotency::Unsafe, |api| {
                api.online_session_close()
                    .reference_number(reference.to_string())
                    .send()
            })
            .await
        {
            Ok(_) => {
                tracing::info!(reference_number = %reference, "online session closed");
                Ok(())
            }
            Err(e) if e.api().is_some_and(is_ambiguous) => {
                if self.status().await?.status.code != 100 {
                    Ok(())
                } else {
                    Err(e.into_flow(|source| FlowError::CloseSession { source }))
                }
            }
            Err(e) => Err(e.into_flow(|source| FlowError::CloseSession { source })),
        }
    }

    /// Closes the session and waits for its final status and UPO.
    pub async fn close_and_wait(&self) -> Result<SessionSummary> {
        self.auth
            .ksef()
            .within_deadline("closing the session", self.close_then_wait())
            .await
    }

    async fn close_then_wait(&self) -> Result<SessionSummary> {
        self.close().await?;
        let status = self
            .auth
            .wait_session_processed(
                &self.reference_number,
                self.auth.ksef().poll_schedule(),
                "the session to be processed",
                |_| {},
            )
            .await?;
        Ok(summary_of(status))
    }

    /// Downloads a page of the session UPO, verifies `x-ms-meta-hash` and parses it.
    pub async fn session_upo(&self, page: &UpoPage) -> Result<Upo> {
        let page = UpoOf::SessionPage(page.reference_number.clone());
        self.auth
            .ksef()
            .within_deadline(
                "downloading the session UPO",
                self.auth.fetch_upo(&self.reference_number, &page),
            )
            .await
    }

    /// Downloads the UPO of one invoice, verifies `x-ms-meta-hash` and parses it.
    pub async fn invoice_upo(&self, invoice_reference_number: &str) -> Result<Upo> {
        let invoice = UpoOf::Invoice(invoice_reference_number.to_string());
        self.auth
            .ksef()
            .within_deadline(
                "downloading the invoice UPO",
                self.auth.fetch_upo(&self.reference_number, &invoice),
            )
            .await
    }
}

/// Builds the `SendInvoiceRequest` of one invoice with a session key: pre-flight validation
/// (nothing is sent for an invalid invoice), AES-256-CBC encryption, SHA-256 of plaintext and
/// ciphertext, Base64. `index` only labels errors.
pub fn prepare_request(
    key: &SymmetricKey,
    form: FormCode,
    index: usize,
    invoice: &InvoiceInput,
) -> Result<types::SendInvoiceRequest> {
    let facts = ksef_crypto::preflight(&invoice.bytes)
        .map_err(|source| FlowError::Preflight { index, source })?;
    if facts.form_code != form {
        return Err(FlowError::FormMismatch {
            index,
            expected: form.system_code(),
            found: facts.form_code.system_code(),
        });
    }
    let enc = key.encrypt(&invoice.bytes);
    let nz = |n: u64| std::num::NonZeroU64::new(n);
    let (Some(size), Some(enc_size)) = (nz(enc.digests.plain.size), nz(enc.digests.encrypted.size))
    else {
        return Err(FlowError::Preflight {
            index,
            source: ksef_crypto::CryptoError::Preflight {
                rule: ksef_crypto::PreflightRule::Empty,
                position: None,
                detail: "no bytes".into(),
            },
        });
    };
    Ok(types::SendInvoiceRequest {
        encrypted_invoice_content: enc.ciphertext_b64(),
        encrypted_invoice_hash: types::Sha256HashBase64(enc.digests.encrypted.sha256_b64()),
        encrypted_invoice_size: enc_size,
        hash_of_corrected_invoice: invoice
            .hash_of_corrected_invoice
            .clone()
            .map(types::Sha256HashBase64),
        invoice_hash: types::Sha256HashBase64(enc.digests.plain.sha256_b64()),
        invoice_size: size,
        offline_mode: invoice.offline_mode,
    })
}
