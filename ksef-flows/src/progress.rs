//! Progress events of exports and incremental synchronisation.
//!
//! A caller passes a callback ([`Progress::new`]); the flows call it from whatever task or
//! thread does the work, so it must be quick (count, forward to a channel, update a progress
//! bar). Events never carry secrets: no keys, tokens or presigned URLs.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A shared progress callback.
type Callback<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// An optional progress callback, cheap to clone.
pub struct Progress<E>(Option<Callback<E>>);

impl<E> Clone for Progress<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<E> Default for Progress<E> {
    fn default() -> Self {
        Self(None)
    }
}

impl<E> fmt::Debug for Progress<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(callback)"
        } else {
            "Progress(none)"
        })
    }
}

impl<E> Progress<E> {
    /// No callback.
    pub fn none() -> Self {
        Self(None)
    }

    /// Calls `f` for every event.
    pub fn new(f: impl Fn(&E) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Whether a callback is set.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn emit(&self, event: E) {
        if let Some(f) = &self.0 {
            f(&event);
        }
    }

    /// A callback for events of another kind that reaches this one through `wrap`.
    pub(crate) fn map<F: Clone + 'static>(&self, wrap: fn(F) -> E) -> Progress<F>
    where
        E: 'static,
    {
        match &self.0 {
            Some(f) => {
                let f = Arc::clone(f);
                Progress(Some(Arc::new(move |e: &F| f(&wrap(e.clone())))))
            }
            None => Progress(None),
        }
    }
}

/// Progress of one export: start, waiting, the package, its parts, unpacking.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportEvent {
    /// `POST /invoices/exports` found every export slot of the context taken (21182); another
    /// attempt follows after a pause (2 s doubling up to 60 s).
    WaitingForSlot {
        /// 21182 answers so far.
        attempts: u32,
    },
    /// KSeF accepted the export.
    Started {
        /// The export's reference number.
        reference_number: String,
    },
    /// KSeF built the package.
    PackageReady {
        /// The export's reference number.
        reference_number: String,
        /// Invoices in the package.
        invoice_count: u64,
        /// Parts to download.
        parts: usize,
        /// Size of the (compressed, unencrypted) package.
        size: u64,
        /// Whether KSeF cut the package at its limits.
        is_truncated: bool,
    },
    /// A part download starts (`attempt` counts from 1).
    PartStarted {
        /// `ordinalNumber`.
        ordinal: u32,
        /// Attempt number.
        attempt: u32,
    },
    /// A part attempt failed; `retrying` tells whether another attempt follows.
    PartFailed {
        /// `ordinalNumber`.
        ordinal: u32,
        /// Attempt number.
        attempt: u32,
        /// What went wrong.
        reason: String,
        /// Whether it is retried.
        retrying: bool,
    },
    /// The presigned URLs expired (or were refused as expired); fresh ones were fetched.
    UrlsRefreshed,
    /// A part was downloaded, its hashes and size verified, and decrypted.
    PartVerified {
        /// `ordinalNumber`.
        ordinal: u32,
        /// Encrypted bytes downloaded.
        encrypted_bytes: u64,
    },
    /// Every invoice of the package was unpacked and checked against its metadata.
    Unpacked {
        /// Invoice files.
        invoices: u64,
        /// Their total size.
        bytes: u64,
    },
}

/// Progress of an incremental synchronisation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A window starts: an export of `subject` from `from`.
    WindowStarted {
        /// Subject type (`Subject1`, `Subject2`, ...).
        subject: String,
        /// `dateRange.from` (permanent-storage date).
        from: DateTime<Utc>,
        /// `dateRange.to`, when the window had to be cut (longer than the API allows).
        to: Option<DateTime<Utc>>,
    },
    /// Progress of the window's export.
    Export(ExportEvent),
    /// The window's package is stored and its checkpoint written.
    PackageStored {
        /// Subject type.
        subject: String,
        /// Invoices stored now.
        new_invoices: u64,
        /// Invoices of the package the store already had (window overlap).
        duplicates: u64,
        /// The next window's `from`.
        next_from: DateTime<Utc>,
        /// Whether the package was truncated (another window follows at once).
        truncated: bool,
    },
    /// The export budget of the hour is spent; the next export waits until `until`.
    BudgetWait {
        /// When the next export may start.
        until: DateTime<Utc>,
    },
    /// A subject type is up to date (its window reached the high-water mark).
    CaughtUp {
        /// Subject type.
        subject: String,
        /// The checkpoint: where the next run starts.
        next_from: DateTime<Utc>,
    },
}
