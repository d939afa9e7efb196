//! The store an incremental synchronisation writes to: the [`SyncStore`] trait and its records.
//! The trait knows nothing of the backend: the embedded default (SQLite + a directory of XML
//! files) lives in the `ksef-store` crate; a server-backed one can implement the same trait.

use std::future::Future;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use crate::query::InvoiceMetadata;
use crate::query::SubjectType;

pub use crate::error::StoreError;

/// The stream of invoices one checkpoint follows: a context (`Nip:5265877635`) and a subject
/// type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncKey {
    /// The context, as `{type}:{value}` (`Nip:5265877635`, `InternalId:...`).
    pub context: String,
    /// The subject type.
    pub subject: SubjectType,
}

impl SyncKey {
    /// A key.
    pub fn new(context: impl Into<String>, subject: SubjectType) -> Self {
        Self {
            context: context.into(),
            subject,
        }
    }
}

/// Where the next window of a [`SyncKey`] starts, written atomically with the package that
/// moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// `dateRange.from` of the next export (a permanent-storage date).
    pub next_from: DateTime<Utc>,
    /// The last `permanentStorageHwmDate` KSeF reported.
    pub hwm: Option<DateTime<Utc>>,
    /// When the checkpoint was written (client clock).
    pub updated_at: DateTime<Utc>,
}

impl Checkpoint {
    /// A checkpoint.
    pub fn new(
        next_from: DateTime<Utc>,
        hwm: Option<DateTime<Utc>>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            next_from,
            hwm,
            updated_at,
        }
    }
}

/// One invoice of a package, checked against its metadata and written durably to a staging
/// file on the store's file system.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StagedInvoice {
    /// Its metadata (from `_metadata.json`).
    pub metadata: InvoiceMetadata,
    /// The staged file (in a directory from [`SyncStore::staging_dir`]).
    pub file: PathBuf,
    /// Its size.
    pub size: u64,
    /// Base64 SHA-256 of its bytes (equal to `metadata.invoice_hash`).
    pub sha256: String,
}

impl StagedInvoice {
    /// A staged invoice.
    pub fn new(metadata: InvoiceMetadata, file: PathBuf, size: u64, sha256: String) -> Self {
        Self {
            metadata,
            file,
            size,
            sha256,
        }
    }
}

/// A package to store with the checkpoint it moves to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PackageCommit {
    /// The stream the package belongs to.
    pub key: SyncKey,
    /// The export's reference number.
    pub export_reference: String,
    /// `dateRange.from` of the export.
    pub window_from: DateTime<Utc>,
    /// `dateRange.to` of the export, when it was cut.
    pub window_to: Option<DateTime<Utc>>,
    /// `isTruncated` of the package.
    pub is_truncated: bool,
    /// The invoices (some may be stored already: the windows overlap at their boundaries).
    pub invoices: Vec<StagedInvoice>,
    /// The checkpoint after this package.
    pub checkpoint: Checkpoint,
}

impl PackageCommit {
    /// A package commit.
    pub fn new(
        key: SyncKey,
        export_reference: impl Into<String>,
        window_from: DateTime<Utc>,
        window_to: Option<DateTime<Utc>>,
        is_truncated: bool,
        invoices: Vec<StagedInvoice>,
        checkpoint: Checkpoint,
    ) -> Self {
        Self {
            key,
            export_reference: export_reference.into(),
            window_from,
            window_to,
            is_truncated,
            invoices,
            checkpoint,
        }
    }
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommitOutcome {
    /// Invoices stored now.
    pub new_invoices: u64,
    /// Invoices of the package that were stored already.
    pub duplicates: u64,
}

impl CommitOutcome {
    /// An outcome.
    pub fn new(new_invoices: u64, duplicates: u64) -> Self {
        Self {
            new_invoices,
            duplicates,
        }
    }
}

/// An invoice in the store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredInvoice {
    /// Position in the store's order of arrival (grows with every stored invoice): the cursor
    /// of [`StoreQuery::stored_after`].
    pub seq: u64,
    /// The KSeF number.
    pub ksef_number: String,
    /// Its metadata.
    pub metadata: InvoiceMetadata,
    /// Where its XML is.
    pub file: PathBuf,
    /// The XML's size.
    pub size: u64,
    /// Base64 SHA-256 of the XML.
    pub sha256: String,
    /// When it was stored.
    pub stored_at: DateTime<Utc>,
}

impl StoredInvoice {
    /// A record (for store backends).
    pub fn new(
        seq: u64,
        ksef_number: String,
        metadata: InvoiceMetadata,
        file: PathBuf,
        size: u64,
        sha256: String,
        stored_at: DateTime<Utc>,
    ) -> Self {
        Self {
            seq,
            ksef_number,
            metadata,
            file,
            size,
            sha256,
            stored_at,
        }
    }

    /// The KOD I verification link of the invoice (seller NIP, issue date and hash from its
    /// metadata, which the XML was checked against).
    pub fn kod1_url(&self, qr: &ksef_crypto::qr::QrEnvironment) -> crate::error::Result<String> {
        crate::retrieval::kod1_url_of(&self.metadata, qr)
    }
}

/// Which date a [`StoreQuery`] range applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DateField {
    /// `issueDate` (`P_1`).
    Issue,
    /// `invoicingDate`.
    Invoicing,
    /// `acquisitionDate` (KSeF number assigned).
    Acquisition,
    /// `permanentStorageDate`.
    PermanentStorage,
}

/// A date range of a [`StoreQuery`] (both ends inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DateRange {
    /// Calendar days of the issue date.
    IssueDays {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// Instants of one of the KSeF dates.
    Instants {
        /// The date.
        field: DateField,
        /// From.
        from: DateTime<Utc>,
        /// To.
        to: DateTime<Utc>,
    },
}

/// A query of the store. Every filter set narrows it; results come in the store's order of
/// arrival (`seq`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreQuery {
    /// Seller NIP (`Podmiot1`).
    pub seller_nip: Option<String>,
    /// Buyer NIP (`Podmiot2` identified by NIP).
    pub buyer_nip: Option<String>,
    /// A date range.
    pub date: Option<DateRange>,
    /// Only invoices a synchronisation of this key stored.
    pub key: Option<SyncKey>,
    /// Only invoices stored after this `seq` ("new since").
    pub stored_after: Option<u64>,
    /// At most this many (default: all).
    pub limit: Option<u32>,
}

impl StoreQuery {
    /// Every invoice.
    pub fn all() -> Self {
        Self::default()
    }

    /// Invoices of this seller.
    #[must_use]
    pub fn seller(mut self, nip: impl Into<String>) -> Self {
        self.seller_nip = Some(nip.into());
        self
    }

    /// Invoices of this buyer.
    #[must_use]
    pub fn buyer(mut self, nip: impl Into<String>) -> Self {
        self.buyer_nip = Some(nip.into());
        self
    }

    /// Invoices issued from `from` to `to` (days, inclusive).
    #[must_use]
    pub fn issued_between(mut self, from: NaiveDate, to: NaiveDate) -> Self {
        self.date = Some(DateRange::IssueDays { from, to });
        self
    }

    /// Invoices with `field` from `from` to `to` (inclusive).
    #[must_use]
    pub fn between(mut self, field: DateField, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.date = Some(DateRange::Instants { field, from, to });
        self
    }

    /// Invoices a synchronisation of `key` stored.
    #[must_use]
    pub fn key(mut self, key: SyncKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Invoices stored after `seq` (see [`SyncStore::last_seq`]).
    #[must_use]
    pub fn stored_after(mut self, seq: u64) -> Self {
        self.stored_after = Some(seq);
        self
    }

    /// At most `n` results.
    #[must_use]
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
}

/// Result of a store operation.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Where an incremental synchronisation keeps invoices and checkpoints.
///
/// The contract that makes a synchronisation crash-safe: [`SyncStore::commit_package`] stores
/// the package's invoices that are not stored yet (by KSeF number) **and** writes the
/// checkpoint in one atomic step, after the invoice files are durable. A crash before the commit
/// leaves the old checkpoint, so the window is exported again; a crash after leaves the new one.
/// Either way nothing is skipped and nothing is stored twice.
pub trait SyncStore: Send + Sync {
    /// A fresh, empty directory on the store's file system for the files of one package
    /// (renaming from it into the store must be atomic). The synchronisation removes it when
    /// the package is committed or abandoned; the store may remove leftovers of a crash when
    /// it opens.
    fn staging_dir(&self) -> impl Future<Output = StoreResult<PathBuf>> + Send;

    /// The checkpoint of `key`, if a package was ever committed for it.
    fn checkpoint(
        &self,
        key: &SyncKey,
    ) -> impl Future<Output = StoreResult<Option<Checkpoint>>> + Send;

    /// Stores the invoices of `commit` not stored yet and moves the checkpoint, atomically.
    /// A checkpoint never moves backwards.
    fn commit_package(
        &self,
        commit: PackageCommit,
    ) -> impl Future<Output = StoreResult<CommitOutcome>> + Send;

    /// The invoice with this KSeF number.
    fn invoice(
        &self,
        ksef_number: &str,
    ) -> impl Future<Output = StoreResult<Option<StoredInvoice>>> + Send;

    /// The XML of the invoice with this KSeF number, exactly as KSeF delivered it.
    fn read_xml(
        &self,
        ksef_number: &str,
    ) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// Invoices matching `query`.
    fn query(
        &self,
        query: &StoreQuery,
    ) -> impl Future<Output = StoreResult<Vec<StoredInvoice>>> + Send;

    /// The `seq` of the last stored invoice (0 when empty): remember it to ask later for the
    /// invoices stored since ([`StoreQuery::stored_after`]).
    fn last_seq(&self) -> impl Future<Output = StoreResult<u64>> + Send;
}
