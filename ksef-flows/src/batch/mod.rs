//! Batch sessions: many invoices in one encrypted archive, uploaded in parallel parts, with
//! every result mapped back to its input and a state file that lets a killed run continue.
//!
//! ```no_run
//! # async fn demo(auth: &ksef_flows::AuthSession) -> Result<(), ksef_flows::FlowError> {
//! use ksef_flows::batch::{Batch, BatchInput, BatchOptions, StateKey, xml_files_in};
//!
//! let key = StateKey::from_env("KSEF_BATCH_STATE_KEY")?;       // seals the state file
//! let batch = Batch::new("/var/lib/erp/batch-2026-11-30", key)
//!     .with_options(BatchOptions::default())                    // FA (3), Zip, 100 MB parts
//!     .on_progress(|e| eprintln!("{e:?}"));
//! batch.prepare(xml_files_in("/var/lib/erp/outbox").map_err(|e| ksef_flows::FlowError::batch_io("listing", e))?)?;
//! let report = batch.send(auth).await?;                         // after a crash: the same call
//! for r in &report.results {
//!     println!("#{} {} {:?}", r.index, r.name, r.outcome.ksef_number());
//! }
//! # Ok(()) }
//! ```
//!
//! How it works:
//!
//! 1. **Prepare** ([`Batch::prepare`], no network): every input goes through `ksef-crypto`'s
//!    pre-flight on worker threads; a failing input is left out of the archive and gets its
//!    typed error as its outcome. The archive (Zip or TarGz) is written in input order, cut into
//!    contiguous parts of at most [`BatchOptions::part_size`] bytes, and each part is encrypted
//!    (AES-256-CBC, its own stream) into a file of the work directory while the SHA-256 of the
//!    archive and of every encrypted part are computed — one streaming pass, with memory bounded
//!    by a 16 MiB budget of entries in flight, whatever the size of the batch. The encrypted
//!    parts are spilled to the work directory rather than regenerated at upload time: inputs may
//!    be one-shot streams, and a resumed run must upload the exact bytes whose hashes were
//!    declared. Every limit (10 000 invoices, 5 GB archive, 50 parts, 100 MB per part) is
//!    checked here, before any session is opened.
//! 2. **Send** ([`Batch::send`]): open the session with the part plan, upload the parts to their
//!    presigned URLs in parallel (exactly the given method and headers, never `Authorization`,
//!    bytes streamed from disk, per-part retries), close only when every part is confirmed,
//!    poll to the final status, page through the session's invoice lists and map every result
//!    to its input by archive file name and invoice hash, download and check the session UPO.
//! 3. **State**: before and after each step the state file is rewritten atomically (mode 0600)
//!    with the secrets sealed under the caller's [`StateKey`]. [`Batch::send`] (alias
//!    [`Batch::resume`]) always continues from the recorded phase: no confirmed part is uploaded
//!    again and no second session is opened while the first can still be completed. When it
//!    cannot ([`FlowError::BatchPastSaving`], [`FlowError::PartUrlExpired`]),
//!    [`Batch::resend_in_new_session`] sends the same package in a new session; invoices the
//!    first one registered come back as duplicates (440 with the original KSeF number).

mod archive_writer;
mod input;
pub(crate) mod limits;
mod manifest;
mod options;
mod parts;
mod prepare;
mod progress;
mod results;
mod session;
mod state;
mod upload;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use ksef_crypto::SymmetricKey;
use ksef_time::SharedClock;

pub use self::input::{BatchInput, xml_files_in};
pub use self::limits::{BatchLimit, MAX_ARCHIVE_SIZE, MAX_INVOICES, MAX_PART_SIZE, MAX_PARTS};
pub use self::options::{BatchOptions, Compression};
use self::progress::Progress;
pub use self::progress::{BatchEvent, BatchPhase, ProgressFn};
pub use self::state::StateKey;
use self::state::{
    ArchiveRecord, BatchState, FormRecord, InputsRecord, PartRecord, Secrets, StateStore,
};
use crate::auth::AuthSession;
use crate::error::InvoiceOutcome;
use crate::error::{FlowError, Result};

pub use crate::error::{
    BatchFailure, BatchInvoiceResult, BatchReport, SessionStatus, UnmatchedInvoice,
};

impl From<state::StatusRecord> for SessionStatus {
    fn from(s: state::StatusRecord) -> Self {
        Self {
            code: s.code,
            description: s.description,
            details: s.details,
        }
    }
}

impl BatchReport {
    fn count(&self, f: impl Fn(&InvoiceOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }
    /// Inputs KSeF accepted.
    pub fn accepted(&self) -> usize {
        self.count(|o| matches!(o, InvoiceOutcome::Accepted { .. }))
    }
    /// Inputs KSeF rejected.
    pub fn rejected(&self) -> usize {
        self.count(|o| matches!(o, InvoiceOutcome::Rejected { .. }))
    }
    /// Inputs never sent (pre-flight, unreadable).
    pub fn not_sent(&self) -> usize {
        self.count(|o| matches!(o, InvoiceOutcome::NotSent(_)))
    }
    /// Inputs whose fate is unknown (or still pending).
    pub fn unknown(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                InvoiceOutcome::Unknown { .. } | InvoiceOutcome::Pending { .. }
            )
        })
    }
}

/// One encrypted part of a prepared batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedPart {
    /// 1-based.
    pub ordinal: u32,
    /// Plaintext bytes of the archive in the part.
    pub plain_size: u64,
    /// Encrypted size (`fileParts[].fileSize`).
    pub size: u64,
    /// Base64 SHA-256 of the encrypted part (`fileParts[].fileHash`).
    pub sha256: String,
}

/// A batch ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedBatch {
    /// Inputs seen.
    pub inputs: usize,
    /// Inputs in the archive.
    pub packed: usize,
    /// Inputs left out (pre-flight, unreadable).
    pub stopped: usize,
    /// Archive size before encryption (`batchFile.fileSize`).
    pub archive_size: u64,
    /// Base64 SHA-256 of the archive (`batchFile.fileHash`).
    pub archive_sha256: String,
    /// The encrypted parts.
    pub parts: Vec<PreparedPart>,
}

/// A batch bound to its work directory (parts, inputs file, state file) and state key.
pub struct Batch {
    dir: PathBuf,
    store: StateStore,
    options: BatchOptions,
    progress: Progress,
    clock: SharedClock,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Files the batch writes in its work directory (removed again by an aborted preparation).
fn own_file(name: &str) -> bool {
    (name.starts_with("part-") && name.ends_with(".aes"))
        || name == manifest::INPUTS_FILE
        || name == "central-directory.tmp"
        || name.starts_with(state::STATE_FILE)
}

impl Batch {
    /// A batch in `work_dir` (created when missing, mode 0700), its state sealed with `key`.
    pub fn new(work_dir: impl Into<PathBuf>, key: StateKey) -> Self {
        let dir = work_dir.into();
        Self {
            store: StateStore::new(&dir, key),
            dir,
            options: BatchOptions::default(),
            progress: Progress::default(),
            clock: ksef_time::system_clock(),
        }
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(mut self, options: BatchOptions) -> Self {
        self.options = options;
        self
    }

    /// Receives progress events.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(&BatchEvent) + Send + Sync + 'static) -> Self {
        self.progress = Progress::new(Some(std::sync::Arc::new(f)));
        self
    }

    /// The clock that dates the archive entries (default: the machine's).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        &self.dir
    }

    /// The state file.
    pub fn state_file(&self) -> &Path {
        self.store.path()
    }

    /// The phase recorded in the state file (`None`: not prepared).
    pub fn phase(&self) -> Result<Option<BatchPhase>> {
        Ok(self.store.load()?.map(|(s, _)| s.phase))
    }

    /// The session reference number recorded in the state file.
    pub fn session_reference(&self) -> Result<Option<String>> {
        Ok(self
            .store
            .load()?
            .and_then(|(s, _)| s.session.map(|s| s.reference_number)))
    }

    fn start_dir(&self) -> Result<()> {
        let io = |step| move |e| FlowError::batch_io(step, e);
        if self.store.load()?.is_some() {
            return Err(FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: "a batch is already prepared in this directory: send (resume) it, or \
                         remove the directory"
                    .into(),
            });
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(io("creating the work directory"))?;
        // leftovers of a preparation that did not finish
        for e in std::fs::read_dir(&self.dir).map_err(io("reading the work directory"))? {
            let e = e.map_err(io("reading the work directory"))?;
            if e.file_name().to_str().is_some_and(own_file) {
                std::fs::remove_file(e.path()).map_err(io("removing an old file"))?;
            }
        }
        Ok(())
    }

    /// Prepares the batch (blocking; no network): pre-flight, archive, parts, hashes, and the
    /// state file (phase [`BatchPhase::Prepared`]). Fails with [`FlowError::BatchLimit`] when a
    /// session limit is exceeded, naming the limit.
    pub fn prepare<I>(&self, inputs: I) -> Result<PreparedBatch>
    where
        I: IntoIterator<Item = BatchInput>,
    {
        let span = tracing::info_span!("ksef_batch_prepare", dir = %self.dir.display());
        let _guard = span.enter();
        if self.options.part_size == 0 || self.options.part_size > MAX_PART_SIZE {
            return Err(FlowError::BatchLimit {
                limit: BatchLimit::PartSize,
                max: MAX_PART_SIZE,
                actual: self.options.part_size,
            });
        }
        self.start_dir()?;
        let key = SymmetricKey::generate().map_err(|source| FlowError::Crypto {
            step: "generating the session key",
            source,
        })?;
        let timestamp = self.clock.now();
        let packed = prepare::pack(
            inputs,
            &self.options,
            &self.progress,
            &self.dir,
            key.clone(),
            timestamp,
        );
        let packed = match packed {
            Ok(p) => p,
            Err(e) => {
                self.remove_own_files();
                return Err(e);
            }
        };
        let state = BatchState {
            batch_id: batch_id(),
            created_at: timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            form: FormRecord {
                system_code: self.options.form.system_code().into(),
                schema_version: self.options.form.schema_version().into(),
                value: self.options.form.value().into(),
            },
            compression: self.options.compression.api_name().into(),
            offline_mode: self.options.offline_mode,
            archive: ArchiveRecord {
                size: packed.archive.size,
                sha256: ksef_crypto::b64::encode(packed.archive.sha256),
            },
            parts: packed
                .archive
                .parts
                .iter()
                .map(|p| PartRecord {
                    ordinal: p.ordinal,
                    file: p.file.clone(),
                    plain_size: p.plain_size,
                    size: p.size,
                    sha256: ksef_crypto::b64::encode(p.sha256),
                })
                .collect(),
            inputs: InputsRecord {
                file: manifest::INPUTS_FILE.into(),
                count: packed.inputs,
                packed: packed.packed,
                stopped: packed.stopped,
                sha256: ksef_crypto::b64::encode(packed.manifest_sha256),
            },
            phase: BatchPhase::Prepared,
            session: None,
            abandoned_sessions: Vec::new(),
            final_status: None,
        };
        state::sync_dir(&self.dir)
            .map_err(|e| FlowError::batch_io("syncing the work directory", e))?;
        self.store.save(
            &state,
            &Secrets {
                key,
                uploads: Vec::new(),
            },
        )?;
        let prepared = PreparedBatch {
            inputs: packed.inputs,
            packed: packed.packed,
            stopped: packed.stopped,
            archive_size: packed.archive.size,
            archive_sha256: state.archive.sha256.clone(),
            parts: state
                .parts
                .iter()
                .map(|p| PreparedPart {
                    ordinal: p.ordinal,
                    plain_size: p.plain_size,
                    size: p.size,
                    sha256: p.sha256.clone(),
                })
                .collect(),
        };
        tracing::info!(
            inputs = prepared.inputs,
            packed = prepared.packed,
            stopped = prepared.stopped,
            archive_size = prepared.archive_size,
            parts = prepared.parts.len(),
            "batch prepared"
        );
        self.progress.emit(BatchEvent::Prepared {
            inputs: prepared.inputs,
            packed: prepared.packed,
            stopped: prepared.stopped,
            archive_size: prepared.archive_size,
            parts: u32::try_from(prepared.parts.len()).unwrap_or(u32::MAX),
        });
        Ok(prepared)
    }

    fn remove_own_files(&self) {
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                if e.file_name().to_str().is_some_and(own_file) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// [`prepare`](Self::prepare) on a blocking thread.
    pub async fn prepare_async<I>(&self, inputs: I) -> Result<PreparedBatch>
    where
        I: IntoIterator<Item = BatchInput> + Send + 'static,
    {
        let this = self.detached();
        tokio::task::spawn_blocking(move || this.prepare(inputs))
            .await
            .map_err(|e| FlowError::batch_io("preparing the batch", std::io::Error::other(e)))?
    }

    /// [`prepare`](Self::prepare) from an asynchronous stream of inputs.
    pub async fn prepare_stream<S>(&self, inputs: S) -> Result<PreparedBatch>
    where
        S: futures::Stream<Item = BatchInput> + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<BatchInput>(16);
        let forward = tokio::spawn(async move {
            use futures::StreamExt as _;
            let mut inputs = std::pin::pin!(inputs);
            while let Some(i) = inputs.next().await {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        });
        let iter = std::iter::from_fn(move || rx.blocking_recv());
        let r = self.prepare_async(iter).await;
        forward.abort();
        r
    }

    fn detached(&self) -> Self {
        Self {
            dir: self.dir.clone(),
            store: self.store.clone(),
            options: self.options.clone(),
            progress: self.progress.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Sends the prepared batch, or continues it from the phase its state file records (after
    /// a crash, a timeout, a failed upload): open, upload the parts not yet confirmed, close,
    /// wait, results, UPO. A session that can no longer be completed is an error
    /// ([`FlowError::BatchPastSaving`], [`FlowError::PartUrlExpired`]), never silently
    /// replaced. A final status other than 200 is [`FlowError::BatchRejected`], carrying the
    /// report.
    pub async fn send(&self, auth: &AuthSession) -> Result<BatchReport> {
        let Some((state, secrets)) = self.store.load()? else {
            return Err(FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: "no prepared batch in this directory".into(),
            });
        };
        session::Runner {
            auth,
            store: &self.store,
            options: &self.options,
            progress: &self.progress,
            dir: &self.dir,
            state,
            secrets,
        }
        .run()
        .await
    }

    /// The same as [`send`](Self::send): continues the batch from its state file.
    pub async fn resume(&self, auth: &AuthSession) -> Result<BatchReport> {
        self.send(auth).await
    }

    /// Prepares `inputs` and sends them.
    pub async fn send_inputs<I>(&self, auth: &AuthSession, inputs: I) -> Result<BatchReport>
    where
        I: IntoIterator<Item = BatchInput> + Send + 'static,
    {
        self.prepare_async(inputs).await?;
        self.send(auth).await
    }

    /// After [`FlowError::BatchPastSaving`] or [`FlowError::PartUrlExpired`]: sends the same
    /// package in a new session. Invoices the first session registered after all are reported
    /// as duplicates (440, with the original KSeF number), never lost.
    pub async fn resend_in_new_session(&self, auth: &AuthSession) -> Result<BatchReport> {
        let Some((mut state, secrets)) = self.store.load()? else {
            return Err(FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: "no prepared batch in this directory".into(),
            });
        };
        if state.phase == BatchPhase::Finished {
            return Err(FlowError::BatchState {
                path: Some(self.store.path().to_path_buf()),
                detail: "the batch session was processed; there is nothing to resend".into(),
            });
        }
        if let Some(old) = state.session.take() {
            state.abandoned_sessions.push(state::AbandonedSession {
                reference_number: Some(old.reference_number),
                reason: "past saving; the package was sent again in a new session".into(),
            });
        }
        state.phase = BatchPhase::Prepared;
        let secrets = Secrets {
            key: secrets.key.clone(),
            uploads: Vec::new(),
        };
        self.store.save(&state, &secrets)?;
        self.send(auth).await
    }

    /// Removes the work directory (parts, inputs file, state file).
    pub fn remove_work_dir(&self) -> Result<()> {
        state::remove_work_dir(&self.dir)
            .map_err(|e| FlowError::batch_io("removing the work directory", e))
    }
}

fn batch_id() -> String {
    use rand::RngExt as _;
    let n: u128 = rand::rng().random();
    format!("{n:032x}")
}
