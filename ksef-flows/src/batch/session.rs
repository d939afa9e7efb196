//! The network side of a batch: open the session with the part plan, upload the parts in
//! parallel, close, wait for the final status, collect the results and the UPO — each step
//! recorded in the state file first, so that a run killed at any point continues where it
//! stopped.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::CertificateUsage;

use super::manifest;
use super::options::BatchOptions;
use super::progress::{BatchEvent, BatchPhase, Progress};
use super::results::{self, Matcher};
use super::state::{
    AbandonedSession, BatchState, Secrets, SessionRecord, StateStore, StatusRecord, UploadTarget,
};
use super::upload::{self, PartUpload};
use crate::auth::{AuthSession, CallError};
use crate::error::{BatchFailure, BatchReport};
use crate::error::{FlowError, Result};
use crate::retry::{Idempotency, is_ambiguous};
use crate::sessions::UpoOf;
use crate::wait::{Backoff, PollSchedule};

fn context_of(auth: &AuthSession) -> String {
    let c = auth.context();
    format!("{}:{}", c.type_name(), c.value())
}

fn now_text(auth: &AuthSession) -> String {
    auth.ksef()
        .now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One run over a batch's state.
pub(crate) struct Runner<'a> {
    pub(crate) auth: &'a AuthSession,
    pub(crate) store: &'a StateStore,
    pub(crate) options: &'a BatchOptions,
    pub(crate) progress: &'a Progress,
    pub(crate) dir: &'a std::path::Path,
    pub(crate) state: BatchState,
    pub(crate) secrets: Secrets,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("phase", &self.state.phase)
            .finish_non_exhaustive()
    }
}

impl Runner<'_> {
    async fn save(&self) -> Result<()> {
        let store = self.store.clone();
        let state = self.state.clone();
        let secrets = self.secrets.clone();
        tokio::task::spawn_blocking(move || store.save(&state, &secrets))
            .await
            .map_err(|e| FlowError::batch_io("saving the state file", std::io::Error::other(e)))?
    }

    fn reference(&self) -> Result<String> {
        self.state
            .session
            .as_ref()
            .map(|s| s.reference_number.clone())
            .ok_or_else(|| FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: format!("phase {:?} without a session", self.state.phase),
            })
    }

    /// Checks that a recorded session belongs to this client's environment and context.
    fn check_session_owner(&self) -> Result<()> {
        let Some(s) = &self.state.session else {
            return Ok(());
        };
        let env = self.auth.ksef().api().base_url().to_string();
        let ctx = context_of(self.auth);
        if s.environment != env || s.context != ctx {
            return Err(FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: format!(
                    "session {} belongs to {} in {}, this client is {} in {}",
                    s.reference_number, s.context, s.environment, ctx, env
                ),
            });
        }
        Ok(())
    }

    /// Runs from the recorded phase to the report.
    pub(crate) async fn run(mut self) -> Result<BatchReport> {
        self.check_session_owner()?;
        let mut resumed = self.state.phase != BatchPhase::Prepared;
        if resumed {
            self.progress.emit(BatchEvent::Resumed {
                phase: self.state.phase,
                reference_number: self
                    .state
                    .session
                    .as_ref()
                    .map(|s| s.reference_number.clone()),
            });
            tracing::info!(phase = ?self.state.phase, "resuming a batch from its state file");
        }
        if self.state.inputs.packed == 0 {
            return self.report(None).await;
        }
        loop {
            match self.state.phase {
                BatchPhase::Prepared => self.open().await?,
                BatchPhase::Opening => {
                    let reason = "the open request's answer was never recorded (the process \
                                  stopped); without its upload URLs that session cannot be \
                                  completed, KSeF cancels it unused"
                        .to_string();
                    tracing::warn!("{reason}");
                    self.progress.emit(BatchEvent::SessionAbandoned {
                        reason: reason.clone(),
                    });
                    self.state.abandoned_sessions.push(AbandonedSession {
                        reference_number: None,
                        reason,
                    });
                    self.open().await?;
                }
                BatchPhase::Uploading => {
                    if resumed && !self.session_still_open().await? {
                        self.state.phase = BatchPhase::Processing;
                        self.save().await?;
                    } else {
                        self.upload_parts().await?;
                        self.state.phase = BatchPhase::Closing;
                        self.save().await?;
                    }
                }
                BatchPhase::Closing => {
                    self.close(resumed).await?;
                }
                BatchPhase::Processing => {
                    let status = self.wait_final().await?;
                    return self.report(Some(status)).await;
                }
                BatchPhase::Finished => {
                    let status = self.status().await?;
                    return self.report(Some(status)).await;
                }
            }
            resumed = false;
        }
    }

    async fn open(&mut self) -> Result<()> {
        let span = tracing::info_span!("ksef_batch_open", parts = self.state.parts.len());
        tracing::Instrument::instrument(self.open_inner(), span).await
    }

    async fn open_inner(&mut self) -> Result<()> {
        self.state.phase = BatchPhase::Opening;
        self.state.session = None;
        self.secrets.uploads.clear();
        self.save().await?;
        let ksef = self.auth.ksef();
        let parts = self
            .state
            .parts
            .iter()
            .map(|p| {
                Ok(types::BatchFilePartInfo {
                    file_hash: types::Sha256HashBase64(p.sha256.clone()),
                    file_size: NonZeroU64::new(p.size).ok_or_else(|| self.corrupt("empty part"))?,
                    ordinal_number: NonZeroU32::new(p.ordinal)
                        .ok_or_else(|| self.corrupt("part ordinal 0"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let compression = match self.state.compression.as_str() {
            "TarGz" => types::CompressionType::TarGz,
            _ => types::CompressionType::Zip,
        };
        let batch_file = types::BatchFileInfo {
            compression_type: Some(compression),
            file_hash: types::Sha256HashBase64(self.state.archive.sha256.clone()),
            file_parts: parts,
            file_size: NonZeroU64::new(self.state.archive.size)
                .ok_or_else(|| self.corrupt("empty archive"))?,
        };
        let form = types::FormCode {
            system_code: self.state.form.system_code.clone(),
            schema_version: self.state.form.schema_version.clone(),
            value: self.state.form.value.clone(),
        };
        let key = &self.secrets.key;
        let offline_mode = self.state.offline_mode;
        let (batch_file, form) = (&batch_file, &form);
        let auth = self.auth;
        let opened = ksef
            .with_public_key(
                CertificateUsage::SymmetricKeyEncryption,
                |cert| async move {
                    let wrapped = key.wrap_for(&cert).map_err(|source| FlowError::Crypto {
                        step: "wrapping the session key",
                        source,
                    })?;
                    let body = types::OpenBatchSessionRequest {
                        batch_file: batch_file.clone(),
                        encryption: types::EncryptionInfo {
                            encrypted_symmetric_key: wrapped,
                            initialization_vector: key.iv_b64(),
                            public_key_id: Some(cert.public_key_id().to_string()),
                        },
                        form_code: form.clone(),
                        offline_mode,
                    };
                    let body = &body;
                    // Repeated after a lost answer: a session opened without its answer
                    // receives no part and expires unused; the batch goes to the one whose
                    // answer arrived.
                    auth.call(op::BATCH_SESSION_OPEN, Idempotency::Safe, |api| {
                        api.batch_session_open().body(body.clone()).send()
                    })
                    .await
                    .map(ksef_api::ResponseValue::into_inner)
                    .map_err(|e| e.into_flow(|source| FlowError::OpenBatchSession { source }))
                },
            )
            .await?;
        let reference = opened.reference_number.0;
        let mut uploads = Vec::with_capacity(opened.part_upload_requests.len());
        for r in opened.part_upload_requests {
            uploads.push(UploadTarget {
                ordinal: r.ordinal_number.get(),
                method: r.method.clone(),
                url: r.url.clone(),
                headers: r
                    .headers
                    .iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                    .collect(),
            });
        }
        self.secrets.uploads = uploads;
        self.state.session = Some(SessionRecord {
            reference_number: reference.clone(),
            environment: ksef.api().base_url().to_string(),
            context: context_of(self.auth),
            opened_at: now_text(self.auth),
            confirmed_parts: BTreeSet::new(),
        });
        self.state.phase = BatchPhase::Uploading;
        self.save().await?;
        let missing: Vec<u32> = self
            .state
            .parts
            .iter()
            .map(|p| p.ordinal)
            .filter(|o| !self.secrets.uploads.iter().any(|u| u.ordinal == *o))
            .collect();
        tracing::info!(reference_number = %reference, parts = self.state.parts.len(), "batch session opened");
        self.progress.emit(BatchEvent::SessionOpened {
            reference_number: reference.clone(),
            parts: u32::try_from(self.state.parts.len()).unwrap_or(u32::MAX),
        });
        if !missing.is_empty() {
            return Err(FlowError::UploadPart {
                ordinal: missing.first().copied().unwrap_or(0),
                status: None,
                detail: format!("KSeF gave no upload URL for parts {missing:?}"),
            });
        }
        Ok(())
    }

    fn corrupt(&self, what: &str) -> FlowError {
        FlowError::BatchState {
            path: Some(self.store.path().to_path_buf()),
            detail: format!("the part plan is invalid: {what}"),
        }
    }

    async fn status(&self) -> Result<types::SessionStatusResponse> {
        let reference = self.reference()?;
        Ok(self
            .auth
            .session_status_answer(&reference)
            .await?
            .into_inner())
    }

    fn past_saving(&self, reason: impl Into<String>) -> FlowError {
        FlowError::BatchPastSaving {
            reference_number: self
                .state
                .session
                .as_ref()
                .map(|s| s.reference_number.clone())
                .unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// After a restart in the upload phase: is the session still open (status 100)? A session
    /// that went on (closed before the crash was recorded) is followed to its final status; one
    /// that is gone or cancelled is past saving.
    async fn session_still_open(&self) -> Result<bool> {
        match self.status().await {
            Ok(s) if s.status.code == 100 => Ok(true),
            Ok(s) if s.status.code == 440 => Err(self.past_saving(format!(
                "KSeF cancelled the session: {} {}",
                s.status.description,
                s.status.details.unwrap_or_default().join("; ")
            ))),
            Ok(_) => Ok(false),
            Err(e) if e.has_code(21173) => {
                Err(self.past_saving("KSeF does not know the session (21173)"))
            }
            Err(e) => Err(e),
        }
    }

    async fn upload_parts(&mut self) -> Result<()> {
        let confirmed = self
            .state
            .session
            .as_ref()
            .map(|s| s.confirmed_parts.clone())
            .unwrap_or_default();
        let total = u32::try_from(self.state.parts.len()).unwrap_or(u32::MAX);
        let mut jobs = Vec::new();
        for p in &self.state.parts {
            if confirmed.contains(&p.ordinal) {
                continue;
            }
            let target = self
                .secrets
                .uploads
                .iter()
                .find(|u| u.ordinal == p.ordinal)
                .cloned()
                .ok_or_else(|| FlowError::UploadPart {
                    ordinal: p.ordinal,
                    status: None,
                    detail: "no upload URL recorded for this part".into(),
                })?;
            jobs.push(PartUpload {
                ordinal: p.ordinal,
                path: self.dir.join(&p.file),
                size: p.size,
                target,
            });
        }
        let http = self.auth.ksef().api().http().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let retry = self.options.upload_retry.clone();
        let progress = self.progress.clone();
        let mut uploads = futures::stream::iter(jobs)
            .map(|job| {
                let (http, stop, retry, progress) =
                    (http.clone(), stop.clone(), retry.clone(), progress.clone());
                async move {
                    if stop.load(Ordering::Acquire) {
                        return (job, None);
                    }
                    let r = upload::upload(&http, &job, &retry, &progress).await;
                    if r.is_err() {
                        stop.store(true, Ordering::Release);
                    }
                    (job, Some(r))
                }
            })
            .buffer_unordered(self.options.upload_concurrency.max(1));
        let mut first_error: Option<FlowError> = None;
        while let Some((job, r)) = uploads.next().await {
            match r {
                None => {}
                Some(Ok(())) => {
                    let confirmed = match self.state.session.as_mut() {
                        Some(s) => {
                            s.confirmed_parts.insert(job.ordinal);
                            u32::try_from(s.confirmed_parts.len()).unwrap_or(u32::MAX)
                        }
                        None => 0,
                    };
                    self.save().await?;
                    self.progress.emit(BatchEvent::PartUploaded {
                        ordinal: job.ordinal,
                        size: job.size,
                        confirmed,
                        parts: total,
                    });
                }
                Some(Err(e)) if first_error.is_none() => first_error = Some(e),
                Some(Err(_)) => {}
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn close(&mut self, resumed: bool) -> Result<()> {
        let reference = self.reference()?;
        if resumed {
            let s = self.status().await?;
            if s.status.code != 100 {
                self.state.phase = BatchPhase::Processing;
                return self.save().await;
            }
        }
        let r = reference.as_str();
        let mut unavailable = 0u32;
        loop {
            let result = self
                .auth
                .call(op::BATCH_SESSION_CLOSE, Idempotency::Unsafe, |api| {
                    api.batch_session_close()
                        .reference_number(r.to_string())
                        .send()
                })
                .await;
            match result {
                Ok(_) => break,
                Err(e) if e.api().is_some_and(is_ambiguous) => {
                    if self.status().await?.status.code != 100 {
                        break;
                    }
                    return Err(e.into_flow(|source| FlowError::CloseSession { source }));
                }
                Err(CallError::Api(_, e)) if e.has_code(21184) && unavailable < 5 => {
                    unavailable += 1;
                    let wait = self.options.upload_retry.backoff(unavailable + 2);
                    tracing::warn!(
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "session temporarily unavailable (21184); closing again later"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(CallError::Api(_, e)) if e.has_code(21208) => {
                    return Err(self.past_saving(
                        "the time for uploading the parts ran out (21208); KSeF cancelled the session",
                    ));
                }
                Err(CallError::Api(_, e)) if e.has_code(21173) => {
                    return Err(self.past_saving("KSeF does not know the session (21173)"));
                }
                Err(CallError::Api(_, e)) if e.has_code(21180) => {
                    // the status forbids closing: already closed (or cancelled)
                    let s = self.status().await?;
                    if s.status.code == 440 {
                        return Err(self.past_saving(format!(
                            "KSeF cancelled the session: {}",
                            s.status.details.unwrap_or_default().join("; ")
                        )));
                    }
                    break;
                }
                Err(e) => return Err(e.into_flow(|source| FlowError::CloseSession { source })),
            }
        }
        tracing::info!(reference_number = %reference, "batch session closed");
        self.state.phase = BatchPhase::Processing;
        self.save().await?;
        self.progress.emit(BatchEvent::SessionClosed {
            reference_number: reference,
        });
        Ok(())
    }

    /// Polls the session status until it is final (or the processing timeout passes): 500 ms
    /// doubling up to 10 s between asks, `Retry-After` honoured.
    async fn wait_final(&mut self) -> Result<types::SessionStatusResponse> {
        let reference = self.reference()?;
        let schedule = PollSchedule {
            backoff: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(10),
            },
            timeout: self.options.processing_timeout,
        };
        let progress = &self.progress;
        let status = self
            .auth
            .wait_session_processed(
                &reference,
                schedule,
                "the batch session to be processed",
                |s| {
                    progress.emit(BatchEvent::Processing {
                        code: s.status.code,
                        description: s.status.description.clone(),
                    })
                },
            )
            .await?;
        self.finish(&status).await?;
        Ok(status)
    }

    async fn finish(&mut self, s: &types::SessionStatusResponse) -> Result<()> {
        self.state.final_status = Some(StatusRecord {
            code: s.status.code,
            description: s.status.description.clone(),
            details: s.status.details.clone().unwrap_or_default(),
        });
        self.state.phase = BatchPhase::Finished;
        self.save().await?;
        tracing::info!(code = s.status.code, description = %s.status.description, "batch session finished");
        self.progress.emit(BatchEvent::SessionFinished {
            code: s.status.code,
            description: s.status.description.clone(),
            accepted: s.successful_invoice_count,
            rejected: s.failed_invoice_count,
        });
        // the encrypted parts are not needed any more
        for p in &self.state.parts {
            let _ = std::fs::remove_file(self.dir.join(&p.file));
        }
        Ok(())
    }

    async fn report(self, status: Option<types::SessionStatusResponse>) -> Result<BatchReport> {
        let span = tracing::info_span!("ksef_batch_results");
        tracing::Instrument::instrument(self.report_inner(status), span).await
    }

    async fn report_inner(
        self,
        status: Option<types::SessionStatusResponse>,
    ) -> Result<BatchReport> {
        let sha: [u8; 32] = ksef_crypto::b64::decode("inputs sha256", &self.state.inputs.sha256)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| self.corrupt("inputs hash"))?;
        let dir = self.dir.to_path_buf();
        let records = tokio::task::spawn_blocking(move || manifest::read_all(&dir, &sha))
            .await
            .map_err(|e| FlowError::batch_io("reading the inputs file", std::io::Error::other(e)))?
            .map_err(|e| FlowError::batch_io("reading the inputs file", e))?;
        let mut matcher = Matcher::new(&records);
        let mut upo = Vec::new();
        let reference = self
            .state
            .session
            .as_ref()
            .map(|s| s.reference_number.clone());
        let why_missing = match &status {
            None => "nothing was sent".to_string(),
            Some(s) => format!(
                "KSeF listed no result for this file (session status {} {})",
                s.status.code, s.status.description
            ),
        };
        if let (Some(s), Some(reference)) = (&status, &reference) {
            results::collect(self.auth, reference, &mut matcher, false).await?;
            if s.failed_invoice_count.unwrap_or(1) > 0 {
                results::collect(self.auth, reference, &mut matcher, true).await?;
            }
        }
        let (results, unmatched) = matcher.finish(&why_missing);
        drop(records);
        if let (Some(s), Some(reference)) = (&status, &reference) {
            let accepted: HashMap<&str, &str> = results
                .iter()
                .filter_map(|r| Some((r.outcome.ksef_number()?, r.invoice_hash.as_deref()?)))
                .collect();
            let mut seen = HashSet::new();
            for page in s
                .upo
                .as_ref()
                .map(|u| u.pages.as_slice())
                .unwrap_or_default()
            {
                let doc = self
                    .auth
                    .fetch_upo(
                        reference,
                        &UpoOf::SessionPage(page.reference_number.0.clone()),
                    )
                    .await?;
                results::check_upo(&doc, &accepted, &mut seen)?;
                self.progress.emit(BatchEvent::UpoVerified {
                    reference_number: page.reference_number.0.clone(),
                    documents: doc.documents.len(),
                });
                upo.push(doc);
            }
            if s.status.code == 200 && seen.len() != accepted.len() {
                return Err(FlowError::UpoMismatch {
                    detail: format!(
                        "the session UPO lists {} invoices, {} inputs were accepted",
                        seen.len(),
                        accepted.len()
                    ),
                });
            }
        }
        let report = BatchReport {
            reference_number: reference,
            status: status.as_ref().map(|s| {
                StatusRecord {
                    code: s.status.code,
                    description: s.status.description.clone(),
                    details: s.status.details.clone().unwrap_or_default(),
                }
                .into()
            }),
            invoice_count: status.as_ref().and_then(|s| s.invoice_count),
            successful_invoice_count: status.as_ref().and_then(|s| s.successful_invoice_count),
            failed_invoice_count: status.as_ref().and_then(|s| s.failed_invoice_count),
            results,
            unmatched,
            upo,
            abandoned_sessions: self
                .state
                .abandoned_sessions
                .iter()
                .filter_map(|a| a.reference_number.clone())
                .collect(),
        };
        self.progress.emit(BatchEvent::ResultsCollected {
            accepted: report.accepted(),
            rejected: report.rejected(),
            stopped: report.not_sent(),
            unknown: report.unknown(),
        });
        if !self.options.keep_work_dir {
            let _ = super::state::remove_work_dir(self.dir);
        }
        match status.map(|s| s.status) {
            Some(st) if st.code != 200 => Err(FlowError::BatchRejected {
                failure: BatchFailure::from_code(st.code),
                code: st.code,
                description: st.description,
                details: st.details.unwrap_or_default(),
                report: Box::new(report),
            }),
            _ => Ok(report),
        }
    }
}
