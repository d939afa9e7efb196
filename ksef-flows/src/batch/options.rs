//! The settings of a batch: archive format, form, limits, concurrency, retries, timeouts.

use std::time::Duration;

use ksef_crypto::invoice::FormCode;

use super::limits::MAX_PART_SIZE;
use crate::retry::RetryPolicy;

/// Archive format of a batch (`compressionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Zip (the default).
    #[default]
    Zip,
    /// A tar archive compressed with gzip.
    TarGz,
}

impl Compression {
    /// The API value.
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Zip => "Zip",
            Self::TarGz => "TarGz",
        }
    }
}

/// Settings of a batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Form of the invoices (default FA (3)); an input of another form is stopped.
    pub form: FormCode,
    /// Archive format (default Zip).
    pub compression: Compression,
    /// Deflate level 0–9 (default 6).
    pub compression_level: u32,
    /// Largest part before encryption (default and maximum 100 000 000 bytes).
    pub part_size: u64,
    /// Check the session limits before anything is sent (default true; off only to measure
    /// preparation beyond them).
    pub check_session_limits: bool,
    /// Pre-flight and compression threads (default: the available parallelism).
    pub workers: usize,
    /// Parts uploaded at once (default 4).
    pub upload_concurrency: usize,
    /// Retries of a part upload after 5xx/408/429 answers, dropped connections and timeouts
    /// (default 8 attempts, backoff 200 ms doubling up to 10 s).
    pub upload_retry: RetryPolicy,
    /// Longest wait for KSeF to process the closed session (default 1 hour); the batch can be
    /// resumed later to wait again.
    pub processing_timeout: Duration,
    /// `offlineMode` of the session: the invoices were issued offline.
    pub offline_mode: bool,
    /// Keep the work directory after the report (default false: it is removed).
    pub keep_work_dir: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        let upload_retry = RetryPolicy {
            max_attempts: 8,
            ..RetryPolicy::default()
        };
        Self {
            form: FormCode::Fa3,
            compression: Compression::Zip,
            compression_level: 6,
            part_size: MAX_PART_SIZE,
            check_session_limits: true,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            upload_concurrency: 4,
            upload_retry,
            processing_timeout: Duration::from_secs(3600),
            offline_mode: false,
            keep_work_dir: false,
        }
    }
}

impl BatchOptions {
    /// Sets the form.
    #[must_use]
    pub fn form(mut self, form: FormCode) -> Self {
        self.form = form;
        self
    }
    /// Sets the archive format.
    #[must_use]
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Sets the deflate level (0–9).
    #[must_use]
    pub fn compression_level(mut self, level: u32) -> Self {
        self.compression_level = level.min(9);
        self
    }
    /// Sets the part size (at most [`MAX_PART_SIZE`]; checked when the batch is prepared).
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }
    /// Turns the session-limit checks on or off.
    #[must_use]
    pub fn check_session_limits(mut self, on: bool) -> Self {
        self.check_session_limits = on;
        self
    }
    /// Sets the number of preparation threads.
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }
    /// Sets the number of parts uploaded at once.
    #[must_use]
    pub fn upload_concurrency(mut self, n: usize) -> Self {
        self.upload_concurrency = n.max(1);
        self
    }
    /// Sets the part-upload retry policy.
    #[must_use]
    pub fn upload_retry(mut self, p: RetryPolicy) -> Self {
        self.upload_retry = p;
        self
    }
    /// Sets the processing timeout.
    #[must_use]
    pub fn processing_timeout(mut self, d: Duration) -> Self {
        self.processing_timeout = d;
        self
    }
    /// Marks the session's invoices as issued offline.
    #[must_use]
    pub fn offline_mode(mut self, on: bool) -> Self {
        self.offline_mode = on;
        self
    }
    /// Keeps the work directory after the report.
    #[must_use]
    pub fn keep_work_dir(mut self, on: bool) -> Self {
        self.keep_work_dir = on;
        self
    }
}
