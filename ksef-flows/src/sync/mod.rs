//! Incremental synchronisation of invoices into a [`SyncStore`], per subject type, with
//! exports over permanent-storage dates and the high-water mark (HWM).
//!
//! ```no_run
//! # async fn demo<S: ksef_flows::sync::SyncStore>(auth: ksef_flows::AuthSession, store: S) -> ksef_flows::Result<()> {
//! use ksef_flows::sync::{IncrementalSync, SyncOptions};
//!
//! let start = chrono::Utc::now() - chrono::Duration::days(30); // when nothing is stored yet
//! let report = IncrementalSync::new(&auth, &store, SyncOptions::new(start)).run().await?;
//! for s in &report.subjects {
//!     println!("{}: {} new, next from {}", s.subject, s.new_invoices, s.next_from);
//! }
//! # Ok(()) }
//! ```
//!
//! For each subject type the synchronisation runs windows one after another until it reaches
//! the HWM:
//! 1. `from` = the stored checkpoint (or [`SyncOptions::start`]); an export with
//!    `dateType = PermanentStorage`, `restrictToPermanentStorageHwmDate = true` and no `to`
//!    (a `to` only when the range would exceed the 100 days the API allows);
//! 2. the package is downloaded, verified, decrypted and unpacked into a staging directory of
//!    the store, every invoice checked against its metadata hash and flushed to disk;
//! 3. [`SyncStore::commit_package`] stores the invoices not stored yet (the windows overlap at
//!    their boundaries: deduplication by KSeF number) and the next checkpoint in one atomic
//!    step: `lastPermanentStorageDate` when the package was truncated, else the HWM (or the
//!    window's `to`, whichever is earlier);
//! 4. a truncated package (or a cut window) continues at once; otherwise the subject is up to
//!    date.
//!
//! A crash anywhere resumes from the last committed checkpoint: the window is exported again and
//! the invoices already stored are skipped. Exports are budgeted per hour (KSeF allows 20 per
//! context; [`SyncOptions::exports_per_hour`]), `Retry-After` is honoured and a context whose
//! export slots are all taken (21182) is waited for.

mod store;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

pub use store::{
    Checkpoint, CommitOutcome, DateField, DateRange, PackageCommit, StagedInvoice, StoreError,
    StoreQuery, StoreResult, StoredInvoice, SyncKey, SyncStore,
};

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::export::{DownloadOptions, ExportPackage, ExportRequest};
use crate::progress::{ExportEvent, Progress, SyncEvent};
use crate::query::{DateType, InvoiceQuery, SubjectType};

use crate::date_range::MAX_DATE_RANGE as MAX_WINDOW;
/// KSeF's limit of exports per hour and context.
const KSEF_EXPORTS_PER_HOUR: u32 = 20;

/// What to do when the hour's export budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BudgetExhausted {
    /// Wait until an export may start (a [`SyncEvent::BudgetWait`] tells until when). Default.
    #[default]
    Wait,
    /// End the run ([`SyncReport::stopped`]); the next run resumes from the checkpoints.
    Stop,
}

/// Settings of an [`IncrementalSync`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Subject types to synchronise, in this order. Default: `Subject1` (issued) and
    /// `Subject2` (received).
    pub subjects: Vec<SubjectType>,
    /// Where a subject type without a checkpoint starts (a permanent-storage date).
    pub start: DateTime<Utc>,
    /// Exports per hour (default: the context's effective `invoiceExport` limit, at most 20).
    pub exports_per_hour: Option<u32>,
    /// When the budget is spent.
    pub on_budget_exhausted: BudgetExhausted,
    /// Most windows (exports) in one run (default: until every subject type is up to date).
    pub max_windows: Option<u32>,
    /// Download settings (the temporary directory is the store's staging directory).
    pub download: DownloadOptions,
    /// Longest wait for one export's package (default 30 minutes).
    pub export_wait: Duration,
    /// Progress callback.
    pub progress: Progress<SyncEvent>,
}

impl SyncOptions {
    /// Defaults, starting at `start` where nothing is stored yet.
    pub fn new<Tz: chrono::TimeZone>(start: DateTime<Tz>) -> Self {
        Self {
            subjects: vec![SubjectType::Subject1, SubjectType::Subject2],
            start: start.with_timezone(&Utc),
            exports_per_hour: None,
            on_budget_exhausted: BudgetExhausted::Wait,
            max_windows: None,
            download: DownloadOptions::default(),
            export_wait: Duration::from_secs(30 * 60),
            progress: Progress::none(),
        }
    }

    /// Subject types to synchronise.
    #[must_use]
    pub fn subjects(mut self, s: impl IntoIterator<Item = SubjectType>) -> Self {
        self.subjects = s.into_iter().collect();
        self
    }

    /// Exports per hour.
    #[must_use]
    pub fn exports_per_hour(mut self, n: u32) -> Self {
        self.exports_per_hour = Some(n);
        self
    }

    /// What to do when the budget is spent.
    #[must_use]
    pub fn on_budget_exhausted(mut self, b: BudgetExhausted) -> Self {
        self.on_budget_exhausted = b;
        self
    }

    /// Most windows in one run.
    #[must_use]
    pub fn max_windows(mut self, n: u32) -> Self {
        self.max_windows = Some(n);
        self
    }

    /// Download settings.
    #[must_use]
    pub fn download(mut self, d: DownloadOptions) -> Self {
        self.download = d;
        self
    }

    /// Progress callback.
    #[must_use]
    pub fn progress(mut self, p: Progress<SyncEvent>) -> Self {
        self.progress = p;
        self
    }
}

/// Why a run ended before every subject type was up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// The hour's export budget is spent ([`BudgetExhausted::Stop`]).
    BudgetExhausted,
    /// [`SyncOptions::max_windows`] was reached.
    MaxWindows,
}

/// What a run did for one subject type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectReport {
    /// The subject type.
    pub subject: SubjectType,
    /// Exports run.
    pub windows: u32,
    /// Invoices stored.
    pub new_invoices: u64,
    /// Invoices received again (window overlap) and skipped.
    pub duplicates: u64,
    /// The checkpoint: where the next run starts.
    pub next_from: DateTime<Utc>,
    /// Whether the subject type reached the high-water mark.
    pub caught_up: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Per subject type, in the order of [`SyncOptions::subjects`] (those reached).
    pub subjects: Vec<SubjectReport>,
    /// Why the run ended early, if it did.
    pub stopped: Option<Stopped>,
}

impl SyncReport {
    /// Invoices stored by the run.
    pub fn new_invoices(&self) -> u64 {
        self.subjects.iter().map(|s| s.new_invoices).sum()
    }
}

/// Export starts of the last hour.
#[derive(Debug)]
struct Budget {
    per_hour: u32,
    starts: VecDeque<tokio::time::Instant>,
}

impl Budget {
    /// `None` when an export may start now, else how long until one may.
    fn wait(&mut self, now: tokio::time::Instant) -> Option<Duration> {
        let hour = Duration::from_secs(3600);
        while self
            .starts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= hour)
        {
            self.starts.pop_front();
        }
        if (self.starts.len() as u64) < u64::from(self.per_hour.max(1)) {
            return None;
        }
        self.starts
            .front()
            .map(|t| (*t + hour).saturating_duration_since(now))
    }
}

/// An incremental synchronisation of one authenticated context into a store.
#[derive(Debug)]
pub struct IncrementalSync<'a, S> {
    auth: &'a AuthSession,
    store: &'a S,
    options: SyncOptions,
}

/// The next checkpoint after a package, or the error that stops the subject.
fn next_from(
    subject: &SubjectType,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    package: &ExportPackage,
) -> Result<DateTime<Utc>> {
    let next = if package.is_truncated {
        let last = package.last_permanent_storage_date.ok_or_else(|| {
            FlowError::PackageInconsistent(format!(
                "export {} is truncated but has no lastPermanentStorageDate",
                package.reference_number
            ))
        })?;
        if last <= from {
            return Err(FlowError::SyncStalled {
                subject: subject.as_str().to_string(),
                date: from,
            });
        }
        last
    } else {
        match (to, package.permanent_storage_hwm_date) {
            (Some(to), Some(hwm)) => to.min(hwm),
            (Some(to), None) => to,
            (None, Some(hwm)) => hwm,
            (None, None) => {
                return Err(FlowError::PackageInconsistent(format!(
                    "export {} of permanent-storage dates has no permanentStorageHwmDate",
                    package.reference_number
                )));
            }
        }
    };
    Ok(next.max(from))
}

impl<'a, S: SyncStore> IncrementalSync<'a, S> {
    /// A synchronisation of `auth`'s context into `store`.
    pub fn new(auth: &'a AuthSession, store: &'a S, options: SyncOptions) -> Self {
        Self {
            auth,
            store,
            options,
        }
    }

    /// The key of `subject` in this context.
    pub fn key(&self, subject: SubjectType) -> SyncKey {
        let c = self.auth.context();
        SyncKey::new(format!("{}:{}", c.type_name(), c.value()), subject)
    }

    fn budget(&self) -> Budget {
        let c = self.auth.context();
        let effective = self
            .auth
            .ksef()
            .rate_limiter()
            .limits_for(
                &format!("{}:{}", c.type_name(), c.value()),
                ksef_api::operations::op::INVOICE_EXPORT_START.name,
            )
            .map_or(KSEF_EXPORTS_PER_HOUR, |l| l.per_hour);
        Budget {
            per_hour: self
                .options
                .exports_per_hour
                .unwrap_or(effective.min(KSEF_EXPORTS_PER_HOUR)),
            starts: VecDeque::new(),
        }
    }

    /// Runs every subject type up to the high-water mark (or until the budget or
    /// [`SyncOptions::max_windows`] stops it).
    pub async fn run(&self) -> Result<SyncReport> {
        let mut budget = self.budget();
        let mut windows_left = self.options.max_windows;
        let mut report = SyncReport {
            subjects: Vec::new(),
            stopped: None,
        };
        for subject in &self.options.subjects {
            let span = tracing::info_span!("ksef_sync", subject = subject.as_str());
            let (r, stopped) = tracing::Instrument::instrument(
                self.run_subject(subject.clone(), &mut budget, &mut windows_left),
                span,
            )
            .await?;
            report.subjects.push(r);
            if stopped.is_some() {
                report.stopped = stopped;
                break;
            }
        }
        Ok(report)
    }

    async fn run_subject(
        &self,
        subject: SubjectType,
        budget: &mut Budget,
        windows_left: &mut Option<u32>,
    ) -> Result<(SubjectReport, Option<Stopped>)> {
        let key = self.key(subject.clone());
        let store_err = |step| move |source| FlowError::Store { step, source };
        let mut from = self
            .store
            .checkpoint(&key)
            .await
            .map_err(store_err("reading the checkpoint"))?
            .map_or(self.options.start, |c| c.next_from);
        let mut report = SubjectReport {
            subject: subject.clone(),
            windows: 0,
            new_invoices: 0,
            duplicates: 0,
            next_from: from,
            caught_up: false,
        };
        let progress = &self.options.progress;
        loop {
            if let Some(left) = windows_left {
                if *left == 0 {
                    return Ok((report, Some(Stopped::MaxWindows)));
                }
                *left -= 1;
            }
            while let Some(wait) = budget.wait(tokio::time::Instant::now()) {
                if self.options.on_budget_exhausted == BudgetExhausted::Stop {
                    tracing::info!("export budget of the hour spent; stopping");
                    return Ok((report, Some(Stopped::BudgetExhausted)));
                }
                let until = self.auth.ksef().now()
                    + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                tracing::info!(%until, "export budget of the hour spent; waiting");
                progress.emit(SyncEvent::BudgetWait { until });
                tokio::time::sleep(wait).await;
            }
            let now = self.auth.ksef().now();
            let to = (now - from > MAX_WINDOW).then(|| from + MAX_WINDOW);
            progress.emit(SyncEvent::WindowStarted {
                subject: subject.as_str().to_string(),
                from,
                to,
            });
            tracing::info!(%from, to = ?to, "synchronisation window");
            budget.starts.push_back(tokio::time::Instant::now());
            report.windows += 1;
            let window = self.window(&key, from, to).await?;
            let Some((package, outcome, next)) = window else {
                // 420: `from` is past the HWM; nothing new yet.
                report.caught_up = true;
                progress.emit(SyncEvent::CaughtUp {
                    subject: subject.as_str().to_string(),
                    next_from: from,
                });
                return Ok((report, None));
            };
            report.new_invoices += outcome.new_invoices;
            report.duplicates += outcome.duplicates;
            report.next_from = next;
            tracing::info!(
                new = outcome.new_invoices,
                duplicates = outcome.duplicates,
                next_from = %next,
                truncated = package.is_truncated,
                "package stored"
            );
            progress.emit(SyncEvent::PackageStored {
                subject: subject.as_str().to_string(),
                new_invoices: outcome.new_invoices,
                duplicates: outcome.duplicates,
                next_from: next,
                truncated: package.is_truncated,
            });
            if !package.is_truncated && to.is_none() {
                report.caught_up = true;
                progress.emit(SyncEvent::CaughtUp {
                    subject: subject.as_str().to_string(),
                    next_from: next,
                });
                return Ok((report, None));
            }
            from = next;
        }
    }

    /// One window: export, download, unpack into staging, commit. `None` when KSeF says the
    /// window starts past the HWM (420).
    async fn window(
        &self,
        key: &SyncKey,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<(ExportPackage, CommitOutcome, DateTime<Utc>)>> {
        let store_err = |step| move |source| FlowError::Store { step, source };
        let mut query = InvoiceQuery::new(key.subject.clone(), DateType::PermanentStorage, from)
            .restrict_to_hwm(true);
        if let Some(to) = to {
            query = query.to(to);
        }
        let request = ExportRequest::new(query).progress(
            self.options
                .progress
                .map(SyncEvent::Export as fn(ExportEvent) -> SyncEvent),
        );
        let export = self.auth.start_export(&request).await?;
        let package = match export.wait_for(self.options.export_wait).await {
            Ok(p) => p,
            Err(FlowError::ExportFailed { code: 420, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let next = next_from(&key.subject, from, to, &package)?;
        let staging = self
            .store
            .staging_dir()
            .await
            .map_err(store_err("creating a staging directory"))?;
        let result = self
            .download_and_commit(&export, &package, key, from, to, next, &staging)
            .await;
        let _ = tokio::fs::remove_dir_all(&staging).await;
        result.map(|outcome| Some((package, outcome, next)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_and_commit(
        &self,
        export: &crate::export::Export,
        package: &ExportPackage,
        key: &SyncKey,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
        staging: &std::path::Path,
    ) -> Result<CommitOutcome> {
        let mut download = self.options.download.clone();
        download.temp_dir = Some(staging.to_path_buf());
        let decrypted = export.download(package, &download).await?;
        let files_dir = staging.join("invoices");
        let files = tokio::task::spawn_blocking(move || decrypted.unpack_to_dir(&files_dir))
            .await
            .map_err(|e| FlowError::Unpack(format!("the unpacking task failed: {e}")))??;
        export.progress().emit(ExportEvent::Unpacked {
            invoices: files.invoices.len() as u64,
            bytes: files.bytes,
        });
        let mut by_number: HashMap<String, crate::export::InvoiceMetadata> = files
            .metadata
            .into_iter()
            .map(|m| (m.ksef_number.0.clone(), m))
            .collect();
        let mut invoices = Vec::with_capacity(files.invoices.len());
        for f in files.invoices {
            let metadata = by_number.remove(&f.ksef_number).ok_or_else(|| {
                FlowError::PackageInconsistent(format!("{} has no metadata", f.ksef_number))
            })?;
            invoices.push(StagedInvoice {
                metadata,
                file: f.path,
                size: f.size,
                sha256: f.sha256,
            });
        }
        let commit = PackageCommit {
            key: key.clone(),
            export_reference: export.reference_number().to_string(),
            window_from: from,
            window_to: to,
            is_truncated: package.is_truncated,
            invoices,
            checkpoint: Checkpoint::new(
                next,
                package.permanent_storage_hwm_date,
                self.auth.ksef().now(),
            ),
        };
        self.store
            .commit_package(commit)
            .await
            .map_err(|source| FlowError::Store {
                step: "committing a package",
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn package(truncated: bool, last: Option<i64>, hwm: Option<i64>) -> ExportPackage {
        let t = |s: i64| Utc.timestamp_opt(s, 0).single().unwrap();
        ExportPackage {
            reference_number: "r".into(),
            invoice_count: 0,
            size: 0,
            compression: crate::export::Compression::Zip,
            parts: Vec::new(),
            is_truncated: truncated,
            last_issue_date: None,
            last_invoicing_date: None,
            last_permanent_storage_date: last.map(t),
            permanent_storage_hwm_date: hwm.map(t),
            expires: None,
        }
    }

    #[test]
    fn next_window_starts_at_the_last_date_or_the_hwm() {
        let t = |s: i64| Utc.timestamp_opt(s, 0).single().unwrap();
        let s = SubjectType::Subject2;
        // truncated: the last record's date (inclusive: the boundary repeats, deduplicated)
        assert_eq!(
            next_from(&s, t(10), None, &package(true, Some(50), Some(90))).unwrap(),
            t(50)
        );
        // complete: the HWM
        assert_eq!(
            next_from(&s, t(10), None, &package(false, None, Some(90))).unwrap(),
            t(90)
        );
        // a cut window never skips past its own end
        assert_eq!(
            next_from(&s, t(10), Some(t(40)), &package(false, None, Some(90))).unwrap(),
            t(40)
        );
        assert_eq!(
            next_from(&s, t(10), Some(t(40)), &package(false, None, Some(30))).unwrap(),
            t(30)
        );
        // never backwards
        assert_eq!(
            next_from(&s, t(10), None, &package(false, None, Some(5))).unwrap(),
            t(10)
        );
        // a truncated package that ends where it started cannot advance
        assert!(matches!(
            next_from(&s, t(10), None, &package(true, Some(10), Some(90))),
            Err(FlowError::SyncStalled { .. })
        ));
        assert!(next_from(&s, t(10), None, &package(true, None, Some(90))).is_err());
        assert!(next_from(&s, t(10), None, &package(false, None, None)).is_err());
    }

    #[test]
    fn budget_counts_the_last_hour() {
        let mut b = Budget {
            per_hour: 2,
            starts: VecDeque::new(),
        };
        let t0 = tokio::time::Instant::now();
        assert_eq!(b.wait(t0), None);
        b.starts.push_back(t0);
        b.starts.push_back(t0 + Duration::from_secs(10));
        assert_eq!(
            b.wait(t0 + Duration::from_secs(20)),
            Some(Duration::from_secs(3580))
        );
        assert_eq!(b.wait(t0 + Duration::from_secs(3600)), None);
        assert_eq!(b.starts.len(), 1);
    }
}

#[cfg(test)]
mod send_tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The flows' futures can be spawned on a multi-threaded runtime.
    #[allow(dead_code, clippy::diverging_sub_expression, unreachable_code)]
    fn futures_are_send<S: SyncStore>(
        auth: &AuthSession,
        store: &S,
        export: &crate::export::Export,
        package: &ExportPackage,
    ) {
        let sync = IncrementalSync::new(auth, store, SyncOptions::new(Utc::now()));
        assert_send(&sync.run());
        assert_send(&auth.start_export(&ExportRequest::new(InvoiceQuery::new(
            SubjectType::Subject2,
            DateType::PermanentStorage,
            Utc::now(),
        ))));
        assert_send(&export.wait());
        assert_send(&export.download(package, &DownloadOptions::default()));
        assert_send(&auth.download_invoice("x"));
        assert_send(&auth.query_metadata(InvoiceQuery::new(
            SubjectType::Subject2,
            DateType::PermanentStorage,
            Utc::now(),
        )));
    }
}
