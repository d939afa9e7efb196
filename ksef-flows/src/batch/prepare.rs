//! Preparation of a batch (no network): pre-flight of every input in parallel, the archive
//! built entry by entry in input order, cut into parts, each part encrypted into the work
//! directory, every hash computed on the way — one pass, with memory bounded by a byte budget
//! of entries in flight, whatever the size of the batch.
//!
//! Threads: the calling thread reads the inputs and hands them out in chunks of consecutive
//! inputs (small invoices travel by the dozen, so that the threads synchronise once per chunk,
//! not once per invoice); `workers` threads run pre-flight and compress the entries; one writer
//! thread puts the chunks back in input order and writes the archive through the part sink and
//! the inputs file.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ksef_crypto::SymmetricKey;
use ksef_crypto::invoice::{FormCode, MAX_SIZE_WITH_ATTACHMENTS};

use super::archive_writer::{ArchiveWriter, EntryPacker, PackedEntry};
use super::input::{BatchInput, entry_name};
use super::limits::{BatchLimit, LimitExceeded, MAX_ARCHIVE_SIZE, MAX_INVOICES, MAX_PARTS};
use super::manifest::{InputRecord, ManifestWriter, Stopped};
use super::options::{BatchOptions, Compression};
use super::parts::{PartSink, SealedArchive};
use super::progress::{BatchEvent, Progress};
use crate::error::{FlowError, Result};

/// Bytes of inputs (and their compressed form) in flight between the reader and the writer.
const IN_FLIGHT_BYTES: u64 = 16 * 1024 * 1024;
/// Entries in flight, whatever their size.
const IN_FLIGHT_ENTRIES: usize = 512;
/// A chunk is handed out when it holds this many bytes of inputs…
const CHUNK_BYTES: u64 = 256 * 1024;
/// …or this many inputs.
const CHUNK_INPUTS: usize = 32;

/// What the pipeline produced.
#[derive(Debug)]
pub(crate) struct Packed {
    pub(crate) archive: SealedArchive,
    pub(crate) inputs: usize,
    pub(crate) packed: usize,
    pub(crate) stopped: usize,
    pub(crate) manifest_sha256: [u8; 32],
}

/// Consecutive inputs, the first at position `first`.
#[derive(Default)]
struct Job {
    first: usize,
    items: Vec<(String, io::Result<Bytes>)>,
    /// Bytes of the inputs.
    size: u64,
    /// Budget the job takes while in flight: its inputs and their compressed form.
    cost: u64,
}

enum Checked {
    Packed {
        record: InputRecord,
        entry: PackedEntry,
    },
    Stopped(InputRecord),
}

/// A job's outcomes, one per input, in order.
struct Done {
    first: usize,
    cost: u64,
    checked: Vec<io::Result<Checked>>,
}

/// In-flight byte and entry budget; `abort` wakes everyone up.
struct Budget {
    state: Mutex<(u64, usize)>,
    cv: Condvar,
    aborted: AtomicBool,
}

impl Budget {
    fn new() -> Self {
        Self {
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
            aborted: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, usize)> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Waits for room for `cost` bytes in `n` entries; false when aborted. One chunk always
    /// fits.
    fn acquire(&self, cost: u64, n: usize) -> bool {
        let mut g = self.lock();
        loop {
            if self.aborted.load(Ordering::Acquire) {
                return false;
            }
            let (bytes, entries) = *g;
            if entries == 0 || (bytes + cost <= IN_FLIGHT_BYTES && entries + n <= IN_FLIGHT_ENTRIES)
            {
                *g = (bytes + cost, entries + n);
                return true;
            }
            g = match self.cv.wait(g) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    fn release(&self, cost: u64, n: usize) {
        let mut g = self.lock();
        g.0 = g.0.saturating_sub(cost);
        g.1 = g.1.saturating_sub(n);
        drop(g);
        self.cv.notify_all();
    }

    fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        let _g = self.lock();
        self.cv.notify_all();
    }
}

fn check(
    packer: &mut EntryPacker,
    form: FormCode,
    index: usize,
    name: String,
    bytes: io::Result<Bytes>,
) -> io::Result<Checked> {
    let record = |stopped| InputRecord {
        index,
        name: name.clone(),
        entry: None,
        hash: None,
        size: None,
        stopped: Some(stopped),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            return Ok(Checked::Stopped(record(Stopped::Read {
                detail: e.to_string(),
            })));
        }
    };
    let facts = match ksef_crypto::preflight(&bytes) {
        Ok(f) => f,
        Err(e) => return Ok(Checked::Stopped(record(Stopped::from_crypto(&e)))),
    };
    if facts.form_code != form {
        return Ok(Checked::Stopped(record(Stopped::FormMismatch {
            expected: form.system_code().into(),
            found: facts.form_code.system_code().into(),
        })));
    }
    let entry_name = entry_name(index, &name);
    let entry = packer.pack(entry_name.clone(), &bytes)?;
    Ok(Checked::Packed {
        record: InputRecord {
            index,
            name,
            entry: Some(entry_name),
            hash: Some(facts.sha256_b64()),
            size: Some(bytes.len() as u64),
            stopped: None,
        },
        entry,
    })
}

fn worker(
    jobs: &Mutex<Receiver<Job>>,
    done: SyncSender<Done>,
    format: Compression,
    level: u32,
    form: FormCode,
    timestamp: DateTime<Utc>,
) {
    let mut packer = EntryPacker::new(format, level, timestamp);
    loop {
        let job = {
            let rx = match jobs.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            rx.recv()
        };
        let Ok(job) = job else { return };
        let checked = job
            .items
            .into_iter()
            .enumerate()
            .map(|(i, (name, bytes))| check(&mut packer, form, job.first + i, name, bytes))
            .collect();
        if done
            .send(Done {
                first: job.first,
                cost: job.cost,
                checked,
            })
            .is_err()
        {
            return;
        }
    }
}

struct Writer<'p> {
    options: &'p BatchOptions,
    progress: &'p Progress,
    budget: &'p Budget,
}

impl Writer<'_> {
    fn run(
        &self,
        done: Receiver<Done>,
        dir: &Path,
        key: SymmetricKey,
        timestamp: DateTime<Utc>,
    ) -> Result<Packed> {
        let io = |step: &'static str| move |source: io::Error| FlowError::batch_io(step, source);
        let checked_limits = self.options.check_session_limits;
        let mut on_part = |p: &super::parts::SealedPart| {
            self.progress.emit(BatchEvent::PartSealed {
                ordinal: p.ordinal,
                plain_size: p.plain_size,
                size: p.size,
            });
        };
        let sink = PartSink::new(
            dir,
            key,
            self.options.part_size,
            checked_limits.then_some(MAX_PARTS),
            checked_limits.then_some(MAX_ARCHIVE_SIZE),
            &mut on_part,
        );
        let mut archive = ArchiveWriter::new(
            self.options.compression,
            sink,
            dir.join("central-directory.tmp"),
            timestamp,
            self.options.compression_level,
        )
        .map_err(io("starting the archive"))?;
        let mut manifest = ManifestWriter::create(dir).map_err(io("creating the inputs file"))?;
        let mut waiting: BTreeMap<usize, Done> = BTreeMap::new();
        let mut next = 0usize;
        let (mut packed, mut stopped) = (0usize, 0usize);
        for d in done {
            waiting.insert(d.first, d);
            while let Some(d) = waiting.remove(&next) {
                let n = d.checked.len();
                for checked in d.checked {
                    let is_packed = match checked.map_err(io("compressing an invoice"))? {
                        Checked::Packed { record, entry } => {
                            packed += 1;
                            if checked_limits && packed as u64 > MAX_INVOICES {
                                return Err(FlowError::BatchLimit {
                                    limit: BatchLimit::Invoices,
                                    max: MAX_INVOICES,
                                    actual: packed as u64,
                                });
                            }
                            archive
                                .add(&entry)
                                .map_err(limit_or(io("writing the archive")))?;
                            manifest
                                .write(&record)
                                .map_err(io("writing the inputs file"))?;
                            true
                        }
                        Checked::Stopped(record) => {
                            stopped += 1;
                            manifest
                                .write(&record)
                                .map_err(io("writing the inputs file"))?;
                            false
                        }
                    };
                    self.progress.emit(BatchEvent::InputPrepared {
                        index: next,
                        packed: is_packed,
                        archive_bytes: archive.get_mut().archive_len(),
                    });
                    next += 1;
                }
                self.budget.release(d.cost, n);
            }
        }
        if !waiting.is_empty() {
            return Err(FlowError::batch_io(
                "preparing the batch",
                io::Error::other("a preparation thread stopped early"),
            ));
        }
        let sink = archive
            .finish()
            .map_err(limit_or(io("finishing the archive")))?;
        let (archive, syncs) = sink
            .finish()
            .map_err(limit_or(io("sealing the last part")))?;
        let (manifest_sha256, records) =
            manifest.finish().map_err(io("writing the inputs file"))?;
        // the state that names the parts is written after this returns
        syncs.wait().map_err(io("syncing the parts to disk"))?;
        Ok(Packed {
            archive,
            inputs: records,
            packed,
            stopped,
            manifest_sha256,
        })
    }
}

/// Maps an I/O error carrying a [`LimitExceeded`] to [`FlowError::BatchLimit`].
fn limit_or(other: impl Fn(io::Error) -> FlowError) -> impl Fn(io::Error) -> FlowError {
    move |e: io::Error| {
        let limit = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
            .copied();
        match limit {
            Some(l) => FlowError::BatchLimit {
                limit: l.limit,
                max: l.max,
                actual: l.at_least,
            },
            None => other(e),
        }
    }
}

/// Runs the pipeline over `inputs` into `dir`, encrypting with `key`.
pub(crate) fn pack<I>(
    inputs: I,
    options: &BatchOptions,
    progress: &Progress,
    dir: &Path,
    key: SymmetricKey,
    timestamp: DateTime<Utc>,
) -> Result<Packed>
where
    I: IntoIterator<Item = BatchInput>,
{
    let workers = options.workers.max(1);
    let budget = Budget::new();
    let (job_tx, job_rx) = sync_channel::<Job>(workers * 2);
    let (done_tx, done_rx) = sync_channel::<Done>(workers * 2);
    // shared by the workers only: when the last one stops, sending a job fails
    let job_rx = std::sync::Arc::new(Mutex::new(job_rx));
    let writer = Writer {
        options,
        progress,
        budget: &budget,
    };
    std::thread::scope(|s| {
        let written = s.spawn(|| {
            let r = writer.run(done_rx, dir, key, timestamp);
            if r.is_err() {
                budget.abort();
            }
            r
        });
        for _ in 0..workers {
            let done = done_tx.clone();
            let jobs = job_rx.clone();
            let (format, level, form) =
                (options.compression, options.compression_level, options.form);
            s.spawn(move || worker(&jobs, done, format, level, form, timestamp));
        }
        drop(done_tx);
        drop(job_rx);
        let send = |job: Job| budget.acquire(job.cost, job.items.len()) && job_tx.send(job).is_ok();
        let mut job = Job::default();
        for (index, input) in inputs.into_iter().enumerate() {
            let name = input.name.clone();
            let bytes = input.read(MAX_SIZE_WITH_ATTACHMENTS);
            let len = bytes.as_ref().map_or(0, |b| b.len() as u64);
            // the input and its compressed form
            job.cost += 2 * len + 1024;
            job.items.push((name, bytes));
            job.size += len;
            if job.size >= CHUNK_BYTES || job.items.len() >= CHUNK_INPUTS {
                let full = std::mem::replace(
                    &mut job,
                    Job {
                        first: index + 1,
                        ..Job::default()
                    },
                );
                if !send(full) {
                    break;
                }
            }
        }
        if !job.items.is_empty() {
            send(job);
        }
        drop(job_tx);
        match written.join() {
            Ok(r) => r,
            Err(_) => Err(FlowError::batch_io(
                "preparing the batch",
                io::Error::other("the archive writer thread panicked"),
            )),
        }
    })
}
