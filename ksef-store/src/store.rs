//! [`SqliteStore`]: invoice metadata, keys, checkpoints and the package log in SQLite; each
//! invoice's XML in `xml/YYYY-MM/{ksefNumber}.xml` (month of the KSeF number's date).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ksef_flows::export::{Durability, InvoiceMetadata};
use ksef_flows::query::SubjectType;
use ksef_flows::sync::{
    Checkpoint, CommitOutcome, DateField, DateRange, PackageCommit, StoreQuery, StoreResult,
    StoredInvoice, SyncKey, SyncStore,
};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use crate::error::{Error, Result, io, sql};
use crate::schema;
use crate::worker::Worker;

/// File name of the database in the store's root.
pub const DATABASE_FILE: &str = "ksef.sqlite3";
/// Directory of the XML files in the store's root.
pub const XML_DIR: &str = "xml";
/// Directory of staging areas in the store's root.
pub const STAGING_DIR: &str = "staging";

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct StoreOptions {
    /// [`Durability::Fsync`] (default): the database runs with `synchronous = FULL` and every
    /// directory an invoice is renamed into is flushed before the commit. With
    /// [`Durability::ProcessCrash`] a crash of the process loses nothing, a power failure may.
    pub durability: Durability,
}

impl StoreOptions {
    /// Sets the durability.
    #[must_use]
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    worker: Worker,
    options: StoreOptions,
}

/// The embedded store: a directory with a SQLite database and the invoices' XML files. Cheap
/// to clone; every database call runs on one dedicated thread.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// What [`SqliteStore::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Consistency {
    /// Invoices in the database.
    pub invoices: u64,
    /// Invoices whose file is missing.
    pub missing_files: Vec<String>,
    /// Invoices whose file has another size or (deep check) hash than recorded.
    pub damaged_files: Vec<String>,
    /// XML files no invoice of the database points to (left by a crash between a package's
    /// files and its commit; the next synchronisation of that window commits them).
    pub orphan_files: Vec<PathBuf>,
}

impl Consistency {
    /// No missing or damaged file.
    pub fn is_consistent(&self) -> bool {
        self.missing_files.is_empty() && self.damaged_files.is_empty()
    }
}

fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn from_ns(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

/// `xml/YYYY-MM/{ksef}.xml` from the date in the KSeF number (`other` when it has none).
fn relative_path(ksef: &str) -> PathBuf {
    let month = ksef
        .get(11..17)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .map_or_else(
            || "other".to_string(),
            |d| format!("{}-{}", &d[..4], &d[4..6]),
        );
    Path::new(XML_DIR).join(month).join(format!("{ksef}.xml"))
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("flushing a directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Removes staging areas of processes that no longer run.
fn clean_staging(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root.join(STAGING_DIR)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !process_alive(p)) {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => {
                    tracing::info!(dir = %e.path().display(), "removed a staging area left by a crash")
                }
                Err(err) => {
                    tracing::warn!(dir = %e.path().display(), error = %err, "cannot remove a stale staging area")
                }
            }
        }
    }
}

fn row_to_invoice(root: &Path, r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredRow, PathBuf)> {
    let file: String = r.get(3)?;
    Ok((
        StoredRow {
            seq: r.get(0)?,
            ksef_number: r.get(1)?,
            metadata: r.get(2)?,
            size: r.get(4)?,
            sha256: r.get(5)?,
            stored_at: r.get(6)?,
        },
        root.join(file),
    ))
}

struct StoredRow {
    seq: i64,
    ksef_number: String,
    metadata: String,
    size: i64,
    sha256: String,
    stored_at: i64,
}

impl StoredRow {
    fn into_invoice(self, file: PathBuf) -> Result<StoredInvoice> {
        let metadata: InvoiceMetadata =
            serde_json::from_str(&self.metadata).map_err(|e| Error::Corrupt {
                ksef_number: self.ksef_number.clone(),
                reason: format!("metadata: {e}"),
            })?;
        Ok(StoredInvoice::new(
            u64::try_from(self.seq).unwrap_or(0),
            self.ksef_number,
            metadata,
            file,
            u64::try_from(self.size).unwrap_or(0),
            self.sha256,
            from_ns(self.stored_at),
        ))
    }
}

const SELECT: &str =
    "SELECT seq, ksef_number, metadata, file, size, invoice_hash, stored_at FROM invoices i";

impl SqliteStore {
    /// Opens (or creates) the store in `root` with default options.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with(root, StoreOptions::default())
    }

    /// Opens (or creates) the store in `root`: migrates the schema, removes staging areas left
    /// by crashed processes. Blocking (it is quick): call it before starting work or from a
    /// blocking thread.
    pub fn open_with(root: impl Into<PathBuf>, options: StoreOptions) -> Result<Self> {
        let root: PathBuf = root.into();
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            path: root.clone(),
            source: e,
        };
        for d in [root.clone(), root.join(XML_DIR), root.join(STAGING_DIR)] {
            std::fs::create_dir_all(&d).map_err(|e| open_err(Box::new(e)))?;
        }
        let mut conn =
            Connection::open(root.join(DATABASE_FILE)).map_err(|e| open_err(Box::new(e)))?;
        let synchronous = match options.durability {
            Durability::ProcessCrash => "NORMAL",
            _ => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"
        ))
        .map_err(|e| open_err(Box::new(e)))?;
        schema::migrate(&mut conn)?;
        clean_staging(&root);
        let worker = Worker::start(conn).map_err(|e| open_err(Box::new(e)))?;
        tracing::debug!(root = %root.display(), "store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                worker,
                options,
            }),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Number of stored invoices.
    pub async fn count(&self) -> Result<u64> {
        self.inner
            .worker
            .call(|c| {
                c.query_row("SELECT COUNT(*) FROM invoices", [], |r| r.get::<_, i64>(0))
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(sql("counting invoices"))
            })
            .await
    }

    /// Every checkpoint.
    pub async fn checkpoints(&self) -> Result<Vec<(SyncKey, Checkpoint)>> {
        self.inner
            .worker
            .call(|c| {
                let mut st = c
                    .prepare("SELECT context, subject, next_from, hwm, updated_at FROM checkpoints ORDER BY context, subject")
                    .map_err(sql("reading checkpoints"))?;
                let rows = st
                    .query_map([], |r| {
                        let subject: String = r.get(1)?;
                        Ok((
                            SyncKey::new(r.get::<_, String>(0)?, SubjectType::from(subject.as_str())),
                            Checkpoint::new(
                                from_ns(r.get(2)?),
                                r.get::<_, Option<i64>>(3)?.map(from_ns),
                                from_ns(r.get(4)?),
                            ),
                        ))
                    })
                    .map_err(sql("reading checkpoints"))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(sql("reading checkpoints"))
            })
            .await
    }

    /// Checks every stored invoice's file (size; with `deep` also its SHA-256) and looks for
    /// XML files no invoice points to.
    pub async fn verify(&self, deep: bool) -> Result<Consistency> {
        let root = self.inner.root.clone();
        let rows: Vec<(String, PathBuf, i64, String)> = {
            let root = root.clone();
            self.inner
                .worker
                .call(move |c| {
                    let mut st = c
                        .prepare("SELECT ksef_number, file, size, invoice_hash FROM invoices")
                        .map_err(sql("listing invoices"))?;
                    let rows = st
                        .query_map([], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                root.join(r.get::<_, String>(1)?),
                                r.get::<_, i64>(2)?,
                                r.get::<_, String>(3)?,
                            ))
                        })
                        .map_err(sql("listing invoices"))?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(sql("listing invoices"))
                })
                .await?
        };
        tokio::task::spawn_blocking(move || {
            let mut out = Consistency {
                invoices: rows.len() as u64,
                ..Consistency::default()
            };
            let mut known = BTreeSet::new();
            for (ksef, path, size, hash) in rows {
                known.insert(path.clone());
                match std::fs::metadata(&path) {
                    Err(_) => out.missing_files.push(ksef),
                    Ok(m) if i64::try_from(m.len()).ok() != Some(size) => {
                        out.damaged_files.push(ksef);
                    }
                    Ok(_) if deep => {
                        let ok = std::fs::read(&path)
                            .is_ok_and(|b| ksef_flows::crypto::b64::sha256_b64(&b) == hash);
                        if !ok {
                            out.damaged_files.push(ksef);
                        }
                    }
                    Ok(_) => {}
                }
            }
            if let Ok(months) = std::fs::read_dir(root.join(XML_DIR)) {
                for month in months.flatten() {
                    let Ok(files) = std::fs::read_dir(month.path()) else {
                        continue;
                    };
                    for f in files.flatten() {
                        if !known.contains(&f.path()) {
                            out.orphan_files.push(f.path());
                        }
                    }
                }
            }
            out
        })
        .await
        .map_err(|_| Error::Stopped)
    }

    fn commit_blocking(
        conn: &mut Connection,
        root: &Path,
        options: StoreOptions,
        commit: PackageCommit,
    ) -> Result<CommitOutcome> {
        let now = ns(Utc::now());
        let context = commit.key.context.clone();
        let subject = commit.key.subject.as_str().to_string();
        // The write lock first: checks, renames and inserts happen under it.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting the commit"))?;
        let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
        let (mut new, mut dup) = (0u64, 0u64);
        for inv in &commit.invoices {
            let m = &inv.metadata;
            let ksef = m.ksef_number.0.as_str();
            if inv.sha256 != m.invoice_hash.0 {
                return Err(Error::InvalidArgument {
                    field: "invoices",
                    rule: format!(
                        "{ksef}: the staged file's hash is not the metadata's invoiceHash"
                    ),
                });
            }
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM invoices WHERE ksef_number = ?1",
                    [ksef],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("looking up an invoice"))?;
            let seq = match existing {
                Some(seq) => {
                    dup += 1;
                    seq
                }
                None => {
                    let rel = relative_path(ksef);
                    let dest = root.join(&rel);
                    if let Some(parent) = dest.parent() {
                        if !parent.exists() {
                            std::fs::create_dir_all(parent)
                                .map_err(io("creating a directory of invoices", parent))?;
                            touched.insert(root.join(XML_DIR));
                        }
                        touched.insert(parent.to_path_buf());
                    }
                    // Atomic: an orphan left by a crash is replaced by the same bytes.
                    std::fs::rename(&inv.file, &dest)
                        .map_err(io("moving an invoice into the store", &inv.file))?;
                    let metadata = serde_json::to_string(m).map_err(|e| Error::Corrupt {
                        ksef_number: ksef.to_string(),
                        reason: format!("metadata: {e}"),
                    })?;
                    tx.execute(
                        "INSERT INTO invoices (ksef_number, seller_nip, buyer_id_type, buyer_id, \
                         invoice_number, issue_date, invoicing_date, acquisition_date, \
                         permanent_storage_date, invoice_hash, file, size, metadata, stored_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        params![
                            ksef,
                            m.seller.nip.0,
                            m.buyer.identifier.type_.as_str(),
                            m.buyer.identifier.value,
                            m.invoice_number,
                            m.issue_date.format("%Y-%m-%d").to_string(),
                            ns(m.invoicing_date),
                            ns(m.acquisition_date),
                            ns(m.permanent_storage_date),
                            m.invoice_hash.0,
                            rel.to_string_lossy(),
                            i64::try_from(inv.size).unwrap_or(i64::MAX),
                            metadata,
                            now,
                        ],
                    )
                    .map_err(sql("inserting an invoice"))?;
                    new += 1;
                    tx.last_insert_rowid()
                }
            };
            tx.execute(
                "INSERT OR IGNORE INTO invoice_keys (context, subject, seq) VALUES (?1, ?2, ?3)",
                params![context, subject, seq],
            )
            .map_err(sql("linking an invoice to its key"))?;
        }
        if options.durability == Durability::Fsync {
            for d in &touched {
                sync_dir(d)?;
            }
        }
        let cp = &commit.checkpoint;
        tx.execute(
            "INSERT INTO packages (context, subject, export_reference, window_from, window_to, \
             truncated, invoices, new_invoices, next_from, stored_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                context,
                subject,
                commit.export_reference,
                ns(commit.window_from),
                commit.window_to.map(ns),
                commit.is_truncated,
                i64::try_from(commit.invoices.len()).unwrap_or(i64::MAX),
                i64::try_from(new).unwrap_or(i64::MAX),
                ns(cp.next_from),
                now,
            ],
        )
        .map_err(sql("logging the package"))?;
        // A checkpoint never moves backwards.
        tx.execute(
            "INSERT INTO checkpoints (context, subject, next_from, hwm, updated_at, packages) \
             VALUES (?1, ?2, ?3, ?4, ?5, 1) \
             ON CONFLICT (context, subject) DO UPDATE SET \
               next_from = max(next_from, excluded.next_from), \
               hwm = coalesce(excluded.hwm, hwm), \
               updated_at = excluded.updated_at, \
               packages = packages + 1",
            params![
                context,
                subject,
                ns(cp.next_from),
                cp.hwm.map(ns),
                ns(cp.updated_at)
            ],
        )
        .map_err(sql("writing the checkpoint"))?;
        tx.commit().map_err(sql("committing the package"))?;
        Ok(CommitOutcome::new(new, dup))
    }

    fn query_blocking(
        conn: &Connection,
        root: &Path,
        q: &StoreQuery,
    ) -> Result<Vec<StoredInvoice>> {
        let mut sql_text = format!("{SELECT} WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let arg = |v: rusqlite::types::Value, args: &mut Vec<rusqlite::types::Value>| {
            args.push(v);
            format!("?{}", args.len())
        };
        use rusqlite::types::Value as V;
        if let Some(n) = &q.seller_nip {
            let p = arg(V::Text(n.clone()), &mut args);
            sql_text.push_str(&format!(" AND seller_nip = {p}"));
        }
        if let Some(n) = &q.buyer_nip {
            let p = arg(V::Text(n.clone()), &mut args);
            sql_text.push_str(&format!(" AND buyer_id_type = 'Nip' AND buyer_id = {p}"));
        }
        match &q.date {
            Some(DateRange::IssueDays { from, to }) => {
                let a = arg(V::Text(from.format("%Y-%m-%d").to_string()), &mut args);
                let b = arg(V::Text(to.format("%Y-%m-%d").to_string()), &mut args);
                sql_text.push_str(&format!(" AND issue_date BETWEEN {a} AND {b}"));
            }
            Some(DateRange::Instants { field, from, to }) => {
                let col = match field {
                    DateField::Issue => "issue_date",
                    DateField::Invoicing => "invoicing_date",
                    DateField::Acquisition => "acquisition_date",
                    _ => "permanent_storage_date",
                };
                let (a, b) = if *field == DateField::Issue {
                    let d = |t: &DateTime<Utc>| {
                        ksef_time::business_date(*t).format("%Y-%m-%d").to_string()
                    };
                    (
                        arg(V::Text(d(from)), &mut args),
                        arg(V::Text(d(to)), &mut args),
                    )
                } else {
                    (
                        arg(V::Integer(ns(*from)), &mut args),
                        arg(V::Integer(ns(*to)), &mut args),
                    )
                };
                sql_text.push_str(&format!(" AND {col} BETWEEN {a} AND {b}"));
            }
            _ => {}
        }
        if let Some(k) = &q.key {
            let a = arg(V::Text(k.context.clone()), &mut args);
            let b = arg(V::Text(k.subject.as_str().to_string()), &mut args);
            sql_text.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM invoice_keys k WHERE k.context = {a} AND k.subject = {b} AND k.seq = i.seq)"
            ));
        }
        if let Some(after) = q.stored_after {
            let p = arg(
                V::Integer(i64::try_from(after).unwrap_or(i64::MAX)),
                &mut args,
            );
            sql_text.push_str(&format!(" AND seq > {p}"));
        }
        sql_text.push_str(" ORDER BY seq");
        if let Some(limit) = q.limit {
            let p = arg(V::Integer(i64::from(limit)), &mut args);
            sql_text.push_str(&format!(" LIMIT {p}"));
        }
        let mut st = conn.prepare(&sql_text).map_err(sql("querying invoices"))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| {
                row_to_invoice(root, r)
            })
            .map_err(sql("querying invoices"))?;
        let mut out = Vec::new();
        for row in rows {
            let (row, file) = row.map_err(sql("querying invoices"))?;
            out.push(row.into_invoice(file)?);
        }
        Ok(out)
    }
}

impl SyncStore for SqliteStore {
    async fn staging_dir(&self) -> StoreResult<PathBuf> {
        let dir = self.inner.root.join(STAGING_DIR).join(format!(
            "{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io("creating a staging area", &dir))?;
        Ok(dir)
    }

    async fn checkpoint(&self, key: &SyncKey) -> StoreResult<Option<Checkpoint>> {
        let (context, subject) = (key.context.clone(), key.subject.as_str().to_string());
        Ok(self
            .inner
            .worker
            .call(move |c| {
                c.query_row(
                    "SELECT next_from, hwm, updated_at FROM checkpoints WHERE context = ?1 AND subject = ?2",
                    params![context, subject],
                    |r| {
                        Ok(Checkpoint::new(
                            from_ns(r.get(0)?),
                            r.get::<_, Option<i64>>(1)?.map(from_ns),
                            from_ns(r.get(2)?),
                        ))
                    },
                )
                .optional()
                .map_err(sql("reading a checkpoint"))
            })
            .await?)
    }

    async fn commit_package(&self, commit: PackageCommit) -> StoreResult<CommitOutcome> {
        let root = self.inner.root.clone();
        let options = self.inner.options;
        let invoices = commit.invoices.len();
        let outcome = self
            .inner
            .worker
            .call(move |c| Self::commit_blocking(c, &root, options, commit))
            .await?;
        tracing::debug!(
            invoices,
            new = outcome.new_invoices,
            duplicates = outcome.duplicates,
            "package committed"
        );
        Ok(outcome)
    }

    async fn invoice(&self, ksef_number: &str) -> StoreResult<Option<StoredInvoice>> {
        let root = self.inner.root.clone();
        let ksef = ksef_number.to_string();
        Ok(self
            .inner
            .worker
            .call(move |c| {
                let row = c
                    .query_row(&format!("{SELECT} WHERE ksef_number = ?1"), [ksef], |r| {
                        row_to_invoice(&root, r)
                    })
                    .optional()
                    .map_err(sql("reading an invoice"))?;
                row.map(|(row, file)| row.into_invoice(file)).transpose()
            })
            .await?)
    }

    async fn read_xml(&self, ksef_number: &str) -> StoreResult<Option<Vec<u8>>> {
        let Some(inv) = self.invoice(ksef_number).await? else {
            return Ok(None);
        };
        let bytes = tokio::fs::read(&inv.file)
            .await
            .map_err(io("reading an invoice's XML", &inv.file))?;
        Ok(Some(bytes))
    }

    async fn query(&self, query: &StoreQuery) -> StoreResult<Vec<StoredInvoice>> {
        let root = self.inner.root.clone();
        let q = query.clone();
        Ok(self
            .inner
            .worker
            .call(move |c| Self::query_blocking(c, &root, &q))
            .await?)
    }

    async fn last_seq(&self) -> StoreResult<u64> {
        Ok(self
            .inner
            .worker
            .call(|c| {
                c.query_row("SELECT coalesce(max(seq), 0) FROM invoices", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(sql("reading the last seq"))
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_grouped_by_month() {
        assert_eq!(
            relative_path("5265877635-20250826-0100001AF629-AF"),
            Path::new("xml/2025-08/5265877635-20250826-0100001AF629-AF.xml")
        );
        assert_eq!(relative_path("x"), Path::new("xml/other/x.xml"));
    }
}
