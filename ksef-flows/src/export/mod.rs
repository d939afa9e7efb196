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
mod multifile;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use ksef_api::KsefHeaders as _;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::{CertificateUsage, SymmetricKey};

pub use archive::{DecryptedPackage, PackageInvoice, PackageInvoices, UnpackedFiles};

use crate::auth::AuthSession;
pub use crate::error::PartFailure;
use crate::error::{FlowError, Result};
use crate::progress::{ExportEvent, Progress};
use crate::query::InvoiceQuery;
use crate::retry::Idempotency;
use crate::wait::{Backoff, PollSchedule, Polling};

/// The archive format of a package (`compressionType`).
pub type Compression = types::CompressionType;
/// One invoice's metadata (`InvoiceMetadata`, as in `_metadata.json` and the metadata query).
pub type InvoiceMetadata = types::InvoiceMetadata;

/// KSeF code: every export slot of the context is taken.
const TOO_MANY_EXPORTS: i64 = 21182;
/// Pauses between attempts while every export slot is taken: exports take minutes, and each
/// attempt counts against the hourly limit of starts.
const SLOT_BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(2),
    max: Duration::from_secs(60),
};
/// Pauses between status queries of an export: building a package takes seconds to minutes,
/// and the status is limited to 60 queries a minute and 600 an hour.
const STATUS_BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(250),
    max: Duration::from_secs(10),
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

/// A started export: its reference number and the key its package is encrypted with (zeroized
/// on drop, never logged).
#[derive(Debug)]
pub struct Export {
    auth: AuthSession,
    reference_number: String,
    key: SymmetricKey,
    progress: Progress<ExportEvent>,
}

/// One part of a package. The presigned URL is a credential: it is redacted in `Debug` and never
/// logged.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PackagePart {
    /// `ordinalNumber` (from 1).
    pub ordinal: u32,
    /// `partName`.
    pub name: String,
    /// HTTP method of the download (`GET`).
    pub method: String,
    /// Presigned download URL.
    pub url: String,
    /// `partSize`: size of the decrypted part.
    pub size: u64,
    /// `partHash`: Base64 SHA-256 of the decrypted part.
    pub hash: String,
    /// `encryptedPartSize`.
    pub encrypted_size: u64,
    /// `encryptedPartHash`: Base64 SHA-256 of the encrypted part.
    pub encrypted_hash: String,
    /// When the URL stops working.
    pub expires: DateTime<Utc>,
}

impl std::fmt::Debug for PackagePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackagePart")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &"<redacted>")
            .field("size", &self.size)
            .field("hash", &self.hash)
            .field("encrypted_size", &self.encrypted_size)
            .field("encrypted_hash", &self.encrypted_hash)
            .field("expires", &self.expires)
            .finish()
    }
}

/// A built export package (`package` of the export status).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportPackage {
    /// The export's reference number.
    pub reference_number: String,
    /// `invoiceCount`.
    pub invoice_count: u64,
    /// `size`: the whole (decrypted) archive.
    pub size: u64,
    /// `compressionType`.
    pub compression: Compression,
    /// The parts, in ordinal order.
    pub parts: Vec<PackagePart>,
    /// `isTruncated`: KSeF stopped at its limits (10 000 invoices or 1 GB); continue from the
    /// `last_*` date of the filter's date type.
    pub is_truncated: bool,
    /// `lastIssueDate` (truncated packages of `Issue` exports).
    pub last_issue_date: Option<NaiveDate>,
    /// `lastInvoicingDate` (truncated packages of `Invoicing` exports).
    pub last_invoicing_date: Option<DateTime<Utc>>,
    /// `lastPermanentStorageDate` (truncated packages of `PermanentStorage` exports).
    pub last_permanent_storage_date: Option<DateTime<Utc>>,
    /// `permanentStorageHwmDate` (`PermanentStorage` exports).
    pub permanent_storage_hwm_date: Option<DateTime<Utc>>,
    /// `packageExpirationDate`.
    pub expires: Option<DateTime<Utc>>,
}

impl ExportPackage {
    fn from_api(
        reference_number: &str,
        p: types::InvoicePackage,
        expires: Option<DateTime<Utc>>,
    ) -> Self {
        let mut parts: Vec<PackagePart> = p
            .parts
            .into_iter()
            .map(|x| PackagePart {
                ordinal: x.ordinal_number.get(),
                name: x.part_name,
                method: x.method,
                url: x.url,
                size: x.part_size.get(),
                hash: x.part_hash.0,
                encrypted_size: x.encrypted_part_size.get(),
                encrypted_hash: x.encrypted_part_hash.0,
                expires: x.expiration_date,
            })
            .collect();
        parts.sort_by_key(|x| x.ordinal);
        Self {
            reference_number: reference_number.to_string(),
            invoice_count: u64::try_from(p.invoice_count).unwrap_or(0),
            size: u64::try_from(p.size).unwrap_or(0),
            compression: p.compression_type,
            parts,
            is_truncated: p.is_truncated,
            last_issue_date: p.last_issue_date,
            last_invoicing_date: p.last_invoicing_date,
            last_permanent_storage_date: p.last_permanent_storage_date,
            permanent_storage_hwm_date: p.permanent_storage_hwm_date,
            expires,
        }
    }
}

/// How durable unpacked files are when a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every file and its directory are flushed to the device (`fsync`) before it is renamed
    /// into place: nothing is lost even on power failure. Default.
    #[default]
    Fsync,
    /// No `fsync`: files survive a crash of the process, not of the machine.
    ProcessCrash,
}

/// Settings of [`Export::download`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Parts downloaded at once (default 4). Presigned downloads are not rate limited.
    pub concurrency: usize,
    /// Attempts per part for transient failures (default 4).
    pub max_attempts: u32,
    /// Fresh URLs fetched at most this many times when they expire (default 3).
    pub max_url_refreshes: u32,
    /// Where the decrypted parts are written (a fresh temporary directory inside it). Default:
    /// the system's temporary directory.
    pub temp_dir: Option<PathBuf>,
    /// Durability of files written by [`DecryptedPackage::unpack_to_dir`].
    pub durability: Durability,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_attempts: 4,
            max_url_refreshes: 3,
            temp_dir: None,
            durability: Durability::Fsync,
        }
    }
}

impl DownloadOptions {
    /// Parts downloaded at once.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Where the decrypted parts are written.
    #[must_use]
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// Durability of unpacked files.
    #[must_use]
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Attempts per part.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How often fresh URLs may be fetched when they expire.
    #[must_use]
    pub fn max_url_refreshes(mut self, n: u32) -> Self {
        self.max_url_refreshes = n;
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

    /// The AES-256 key and IV the package is encrypted with (a secret: redacted in `Debug`,
    /// zeroized on drop), for downloading or archiving the encrypted parts with other tools.
    pub fn key(&self) -> &SymmetricKey {
        &self.key
    }

    pub(crate) fn progress(&self) -> &Progress<ExportEvent> {
        &self.progress
    }
}
