//! Invoice exports: `POST /invoices/exports` with a fresh key, status polling, parallel
//! download of the encrypted parts from their presigned URLs, verification, decryption and a
//! streaming unpack of the package.
//!
//! ```no_run
//! # async fn demo(auth: ksef_flows::AuthSession) -> ksef_flows::Result<()> {
//! use ksef_flows::export::{DownloadOptions, ExportRequest};
//! use ksef_flows::query::{DateType, InvoiceQuery, SubjectType};
//!
//! let from = chrono::Utc::now() - chrono::Duration::days(7);
//! let query = InvoiceQuery::new(SubjectType::Subject2, DateType::PermanentStorage, from);
//! let export = auth.start_export(&ExportRequest::new(query)).await?;
//! let package = export.wait().await?;
//! let files = export
//!     .download(&package, &DownloadOptions::default())
//!     .await?
//!     .unpack_to_dir("invoices".as_ref())?; // {ksefNumber}.xml, each checked against its metadata
//! println!("{} invoices, truncated: {}", files.invoices.len(), package.is_truncated);
//! # Ok(()) }
//! ```
//!
//! * [`AuthSession::start_export`]: filters, `onlyMetadata`, Zip or TarGz; a new AES key per
//!   export; when every export slot of the context is taken (21182) it waits for one.
//! * [`Export::wait`]: polls the status (the crate's waiting primitive: backoff up to 10 s,
//!   never earlier than `Retry-After`) until the package is built.
//! * [`Export::download`]: downloads the parts in parallel without `Authorization`, checks
//!   their size, content type, `x-ms-meta-hash`, `encryptedPartHash`, decrypts each part and
//!   checks `partHash`, retrying transient failures and refreshing expired URLs. The decrypted
//!   parts go to temporary files: memory does not grow with the package.
//! * [`DecryptedPackage`]: `_metadata.json` as typed records, and the invoices unpacked as a
//!   stream to a directory ([`DecryptedPackage::unpack_to_dir`], atomic renames) or to an
//!   iterator of (KSeF number, bytes) ([`DecryptedPackage::invoices`]), every invoice checked
//!   against the hash its metadata declares.

mod archive;
mod download;
mod handle;
mod multifile;
mod package;

use std::time::Duration;

use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::{CertificateUsage, SymmetricKey};

pub use archive::{DecryptedPackage, PackageInvoice, PackageInvoices, UnpackedFiles};
pub use handle::Export;
pub use package::{Compression, DownloadOptions, Durability, ExportPackage, PackagePart};

use crate::auth::AuthSession;
pub use crate::error::PartFailure;
use crate::error::{FlowError, Result};
use crate::progress::{ExportEvent, Progress};
pub use crate::query::InvoiceMetadata;
use crate::query::InvoiceQuery;
use crate::retry::Idempotency;
use crate::wait::{Backoff, PollSchedule, Polling};

/// KSeF code: every export slot of the context is taken.
const TOO_MANY_EXPORTS: i64 = 21182;
/// Pauses between attempts while every export slot is taken: exports take minutes, and each
/// attempt counts against the hourly limit of starts.
const SLOT_BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(2),
    max: Duration::from_secs(60),
};

/// What to export.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExportRequest {
    /// The filters (the query's sort order and page size do not apply to exports).
    pub query: InvoiceQuery,
    /// `onlyMetadata`: the package holds only `_metadata.json`.
    pub only_metadata: bool,
    /// `compressionType` (`None`: the API's default, Zip).
    pub compression: Option<Compression>,
    /// Longest wait for a free export slot when KSeF answers 21182 (default 30 minutes; zero:
    /// fail at once).
    pub slot_wait: Duration,
    /// Progress callback.
    pub progress: Progress<ExportEvent>,
}

impl ExportRequest {
    /// An export of the invoices `query` selects, Zip, with the invoice files.
    pub fn new(query: InvoiceQuery) -> Self {
        Self {
            query,
            only_metadata: false,
            compression: None,
            slot_wait: Duration::from_secs(30 * 60),
            progress: Progress::none(),
        }
    }

    /// Only `_metadata.json`, no invoice files.
    #[must_use]
    pub fn only_metadata(mut self, only: bool) -> Self {
        self.only_metadata = only;
        self
    }

    /// The archive format.
    #[must_use]
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = Some(c);
        self
    }

    /// Longest wait for a free export slot (21182).
    #[must_use]
    pub fn slot_wait(mut self, d: Duration) -> Self {
        self.slot_wait = d;
        self
    }

    /// Progress callback.
    #[must_use]
    pub fn progress(mut self, p: Progress<ExportEvent>) -> Self {
        self.progress = p;
        self
    }
}

impl AuthSession {
    /// Starts an export with a fresh AES-256 key (wrapped for KSeF with the
    /// `SymmetricKeyEncryption` certificate). When every export slot of the context is taken
    /// (21182) it waits for one, up to [`ExportRequest::slot_wait`]; a withdrawn key (21470)
    /// makes it refetch the certificates and retry once.
    pub async fn start_export(&self, request: &ExportRequest) -> Result<Export> {
        let key = SymmetricKey::generate().map_err(|source| FlowError::Crypto {
            step: "generating the export key",
            source,
        })?;
        let filters = request.query.to_api_filters_at(self.ksef().now())?;
        let mut slot = Polling::start(PollSchedule {
            backoff: SLOT_BACKOFF,
            timeout: request.slot_wait,
        });
        let mut busy = 0u32;
        let reference_number = loop {
            match self.request_export(request, &filters, &key).await {
                Ok(r) => break r,
                Err(e) if e.has_code(TOO_MANY_EXPORTS) => {
                    busy += 1;
                    tracing::info!(
                        attempts = busy,
                        "every export slot is taken (21182); waiting for one"
                    );
                    request
                        .progress
                        .emit(ExportEvent::WaitingForSlot { attempts: busy });
                    if !slot.pause(None).await {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        tracing::info!(reference_number = %reference_number, only_metadata = request.only_metadata, "export started");
        request.progress.emit(ExportEvent::Started {
            reference_number: reference_number.clone(),
        });
        Ok(Export {
            auth: self.clone(),
            reference_number,
            key,
            progress: request.progress.clone(),
        })
    }

    /// One `POST /invoices/exports` with `key` wrapped for the current `SymmetricKeyEncryption`
    /// certificate (refetched and retried once on 21470).
    async fn request_export(
        &self,
        request: &ExportRequest,
        filters: &types::InvoiceQueryFilters,
        key: &SymmetricKey,
    ) -> Result<String> {
        self.ksef()
            .with_public_key(
                CertificateUsage::SymmetricKeyEncryption,
                |cert| async move {
                    let wrapped = key.wrap_for(&cert).map_err(|source| FlowError::Crypto {
                        step: "wrapping the export key",
                        source,
                    })?;
                    let body = types::InvoiceExportRequest {
                        compression_type: request.compression.clone(),
                        encryption: types::EncryptionInfo {
                            encrypted_symmetric_key: wrapped,
                            initialization_vector: key.iv_b64(),
                            public_key_id: Some(cert.public_key_id().to_string()),
                        },
                        filters: filters.clone(),
                        only_metadata: request.only_metadata,
                    };
                    let body = &body;
                    // An export only reads: repeating one after an ambiguous failure costs an
                    // export slot, never data.
                    self.call(op::INVOICE_EXPORT_START, Idempotency::Safe, |api| {
                        api.invoice_export_start().body(body.clone()).send()
                    })
                    .await
                    .map(|v| v.into_inner().reference_number.0)
                    .map_err(|e| e.into_flow(|source| FlowError::StartExport { source }))
                },
            )
            .await
    }
}

impl Export {
    /// Downloads every part of `package` in parallel, verifies and decrypts it into a temporary
    /// directory (removed when the returned package is dropped).
    pub async fn download(
        &self,
        package: &ExportPackage,
        options: &DownloadOptions,
    ) -> Result<DecryptedPackage> {
        download::download(self, package, options).await
    }

    /// Waits for the package, downloads it and unpacks it into `dir` (see
    /// [`DecryptedPackage::unpack_to_dir`]).
    pub async fn download_to_dir(
        &self,
        dir: &std::path::Path,
        options: &DownloadOptions,
    ) -> Result<(ExportPackage, UnpackedFiles)> {
        let package = self.wait().await?;
        let decrypted = self.download(&package, options).await?;
        let dir = dir.to_path_buf();
        let files = tokio::task::spawn_blocking(move || decrypted.unpack_to_dir(&dir))
            .await
            .map_err(|e| FlowError::Unpack(format!("the unpacking task failed: {e}")))??;
        Ok((package, files))
    }
}
