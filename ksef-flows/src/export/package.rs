//! What an export produces: the package, its parts and how they are downloaded.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use ksef_api::types;

/// The archive format of a package (`compressionType`).
pub type Compression = types::CompressionType;

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
    pub(crate) fn from_api(
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

/// Settings of [`Export::download`](super::Export::download).
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
    /// Durability of files written by [`DecryptedPackage::unpack_to_dir`](super::DecryptedPackage::unpack_to_dir).
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
