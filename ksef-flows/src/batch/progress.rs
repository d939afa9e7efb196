//! Progress events of a batch, for progress bars and logs. No event carries a secret: no key,
//! no token, no presigned URL.

use std::sync::Arc;
use std::time::Duration;

/// Where a batch stands (as persisted in its state file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum BatchPhase {
    /// The archive and its parts are on disk; no session yet.
    Prepared,
    /// The session open request was (or was about to be) sent; its answer is not recorded.
    Opening,
    /// The session is open; parts are being uploaded.
    Uploading,
    /// The close request was (or was about to be) sent.
    Closing,
    /// The session is closed; KSeF is processing it.
    Processing,
    /// KSeF reported the session's final status.
    Finished,
}

/// Something that happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchEvent {
    /// An input went through pre-flight, in input order: packed into the archive, or left out.
    InputPrepared {
        /// Position of the input (0-based).
        index: usize,
        /// Whether it went into the archive.
        packed: bool,
        /// Archive bytes written so far.
        archive_bytes: u64,
    },
    /// A part of the archive was encrypted and written to the work directory.
    PartSealed {
        /// 1-based.
        ordinal: u32,
        /// Plaintext bytes of the archive in the part.
        plain_size: u64,
        /// Size of the encrypted part.
        size: u64,
    },
    /// The batch is ready to be sent.
    Prepared {
        /// Inputs seen.
        inputs: usize,
        /// Inputs in the archive.
        packed: usize,
        /// Inputs stopped by pre-flight (or unreadable).
        stopped: usize,
        /// Archive size before encryption.
        archive_size: u64,
        /// Parts.
        parts: u32,
    },
    /// A batch was picked up from its state file.
    Resumed {
        /// The phase recorded there.
        phase: BatchPhase,
        /// The session, when one was open.
        reference_number: Option<String>,
    },
    /// A session whose open request got no recorded answer was left behind (it can never be
    /// completed: its upload URLs are unknown; KSeF cancels it unused).
    SessionAbandoned {
        /// Why.
        reason: String,
    },
    /// The batch session is open.
    SessionOpened {
        /// Session reference number.
        reference_number: String,
        /// Parts to upload.
        parts: u32,
    },
    /// A part upload is starting.
    PartUploading {
        /// 1-based.
        ordinal: u32,
        /// 1 for the first try.
        attempt: u32,
    },
    /// A part upload failed transiently and will be retried.
    PartRetry {
        /// 1-based.
        ordinal: u32,
        /// The attempt that failed.
        attempt: u32,
        /// Wait before the next attempt.
        wait: Duration,
        /// What went wrong (HTTP status or transport error, without the URL).
        reason: String,
    },
    /// KSeF confirmed a part.
    PartUploaded {
        /// 1-based.
        ordinal: u32,
        /// Bytes uploaded.
        size: u64,
        /// Parts confirmed so far.
        confirmed: u32,
        /// Parts in all.
        parts: u32,
    },
    /// The session was closed; KSeF processes it.
    SessionClosed {
        /// Session reference number.
        reference_number: String,
    },
    /// A status poll while KSeF processes the session.
    Processing {
        /// Status code (100, 150, ...).
        code: i32,
        /// Status description.
        description: String,
    },
    /// KSeF reported the session's final status.
    SessionFinished {
        /// Status code (200, 405, 415, 420, 430, 435, 440, 445, 500).
        code: i32,
        /// Status description.
        description: String,
        /// Invoices accepted, when known.
        accepted: Option<i32>,
        /// Invoices rejected, when known.
        rejected: Option<i32>,
    },
    /// Every input has its outcome.
    ResultsCollected {
        /// Accepted.
        accepted: usize,
        /// Rejected by KSeF.
        rejected: usize,
        /// Stopped before sending.
        stopped: usize,
        /// Unknown.
        unknown: usize,
    },
    /// A page of the session UPO was downloaded, its hash checked and its entries matched.
    UpoVerified {
        /// UPO page reference number.
        reference_number: String,
        /// Invoices listed.
        documents: usize,
    },
}

/// A progress callback. It runs on the thread that made progress (a preparation thread or an
/// async task): keep it quick and non-blocking.
pub type ProgressFn = Arc<dyn Fn(&BatchEvent) + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct Progress(Option<ProgressFn>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(callback)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    pub(crate) fn new(f: Option<ProgressFn>) -> Self {
        Self(f)
    }

    pub(crate) fn emit(&self, e: BatchEvent) {
        if let Some(f) = &self.0 {
            f(&e);
        }
    }
}
