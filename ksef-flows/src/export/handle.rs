//! A started export: its status, waiting for the package, fresh part URLs.

use std::time::Duration;

use ksef_api::KsefHeaders as _;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::SymmetricKey;

use super::package::ExportPackage;
use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::progress::{ExportEvent, Progress};
use crate::retry::Idempotency;
use crate::wait::{Backoff, PollSchedule, Polling};

/// Pauses between status queries of an export: building a package takes seconds to minutes,
/// and the status is limited to 60 queries a minute and 600 an hour.
const STATUS_BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(250),
    max: Duration::from_secs(10),
};

/// A started export: its reference number and the key its package is encrypted with (zeroized
/// on drop, never logged).
#[derive(Debug)]
pub struct Export {
    pub(super) auth: AuthSession,
    pub(super) reference_number: String,
    pub(super) key: SymmetricKey,
    pub(super) progress: Progress<ExportEvent>,
}

impl Export {
    /// The export's reference number.
    pub fn reference_number(&self) -> &str {
        &self.reference_number
    }

    /// The authentication session the export belongs to.
    pub fn auth(&self) -> &AuthSession {
        &self.auth
    }

    /// The export status (`GET /invoices/exports/{referenceNumber}`) and its `Retry-After`.
    pub async fn status(&self) -> Result<types::InvoiceExportStatusResponse> {
        self.status_with_hint().await.map(|(s, _)| s)
    }

    async fn status_with_hint(
        &self,
    ) -> Result<(types::InvoiceExportStatusResponse, Option<Duration>)> {
        let reference = self.reference_number.as_str();
        let r = self
            .auth
            .call(op::INVOICE_EXPORT_STATUS, Idempotency::Safe, |api| {
                api.invoice_export_status()
                    .reference_number(reference.to_string())
                    .send()
            })
            .await
            .map_err(|e| {
                e.into_flow(|source| FlowError::ExportStatus {
                    reference_number: self.reference_number.clone(),
                    source,
                })
            })?;
        let hint = r.retry_after();
        Ok((r.into_inner(), hint))
    }

    /// Polls the status until the package is built (at most 30 minutes); a failure status
    /// (210, 415, 420, 500, 550) is [`FlowError::ExportFailed`].
    pub async fn wait(&self) -> Result<ExportPackage> {
        self.wait_for(Duration::from_secs(30 * 60)).await
    }

    /// [`Export::wait`] with another longest wait.
    pub async fn wait_for(&self, timeout: Duration) -> Result<ExportPackage> {
        let mut polling = Polling::start(PollSchedule {
            backoff: STATUS_BACKOFF,
            timeout,
        });
        let package = loop {
            let (status, retry_after) = self.status_with_hint().await?;
            if let Some(p) = self.ready_package(status)? {
                break p;
            }
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout("the export package"));
            }
        };
        tracing::info!(
            reference_number = %self.reference_number,
            invoices = package.invoice_count,
            parts = package.parts.len(),
            size = package.size,
            truncated = package.is_truncated,
            "export package ready"
        );
        self.progress.emit(ExportEvent::PackageReady {
            reference_number: self.reference_number.clone(),
            invoice_count: package.invoice_count,
            parts: package.parts.len(),
            size: package.size,
            is_truncated: package.is_truncated,
        });
        Ok(package)
    }

    /// `Some(package)` for status 200, `None` while processing, an error for a failure.
    fn ready_package(
        &self,
        status: types::InvoiceExportStatusResponse,
    ) -> Result<Option<ExportPackage>> {
        match (status.status.code, status.package) {
            (100, _) => Ok(None),
            (200, Some(p)) => Ok(Some(ExportPackage::from_api(
                &self.reference_number,
                p,
                status.package_expiration_date,
            ))),
            (code, _) => Err(FlowError::ExportFailed {
                reference_number: self.reference_number.clone(),
                code,
                description: status.status.description,
                details: status.status.details.unwrap_or_default(),
            }),
        }
    }

    /// Fresh presigned URLs: the status again (KSeF issues new URLs on every status query).
    pub(crate) async fn refreshed_package(&self) -> Result<ExportPackage> {
        let (status, _) = self.status_with_hint().await?;
        self.ready_package(status)?.ok_or(FlowError::Timeout(
            "the export package (status went back to 100)",
        ))
    }

    /// The AES-256 key and IV the package is encrypted with (a secret: redacted in `Debug`,
    /// zeroized on drop), for downloading or archiving the encrypted parts with other tools.
    pub fn key(&self) -> &SymmetricKey {
        &self.key
    }

    pub(crate) fn progress(&self) -> &Progress<ExportEvent> {
        &self.progress
    }
}
