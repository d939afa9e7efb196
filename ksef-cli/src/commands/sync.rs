//! `ksef sync` (incremental synchronisation into a [`SqliteStore`]) and `ksef store
//! query|status`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ksef_flows::SyncEvent;
use ksef_flows::progress::Progress;
use ksef_flows::query::SubjectType;
use ksef_flows::sync::{
    IncrementalSync, Stopped, StoreQuery, SyncOptions, SyncReport, SyncStore as _,
};
use ksef_store::SqliteStore;
use serde_json::json;

use crate::cli::{Role, StoreCmd, StoreQueryArgs, SyncArgs};
use crate::connect::{Ctx, Target, with_session};
use crate::exit::{CliError, CliResult, Exit};
use crate::progress::ExportBars;

fn store_failure(e: impl std::error::Error + Send + Sync + 'static) -> CliError {
    CliError::new(
        Exit::Failure,
        anyhow::Error::from(e).context("the invoice store"),
    )
}

/// The store of `--store`, or the profile's (`stores/PROFILE` under the data directory).
fn store_dir(explicit: Option<PathBuf>, t: Option<&Target>) -> CliResult<PathBuf> {
    if let Some(d) = explicit {
        return Ok(d);
    }
    let Some(t) = t else {
        return Err(CliError::usage("no profile selected: pass --store DIR"));
    };
    Ok(crate::paths::data_dir()?.join("stores").join(&t.name))
}

fn open(dir: &std::path::Path) -> CliResult<SqliteStore> {
    SqliteStore::open(dir).map_err(store_failure)
}

fn subject(r: Role) -> SubjectType {
    match r {
        Role::Seller => SubjectType::Subject1,
        Role::Buyer => SubjectType::Subject2,
        Role::ThirdParty => SubjectType::Subject3,
        Role::Authorized => SubjectType::SubjectAuthorized,
    }
}

/// `Subject1` → `seller`, as the flags name it.
fn role_name(s: &SubjectType) -> &'static str {
    match s {
        SubjectType::Subject1 => "seller",
        SubjectType::Subject2 => "buyer",
        SubjectType::Subject3 => "third-party",
        SubjectType::SubjectAuthorized => "authorized",
        _ => "other",
    }
}

fn role_of_api(name: &str) -> &str {
    match name {
        "Subject1" => "seller",
        "Subject2" => "buyer",
        "Subject3" => "third-party",
        "SubjectAuthorized" => "authorized",
        other => other,
    }
}

pub async fn sync(ctx: &Ctx, a: SyncArgs) -> CliResult {
    crate::interrupt::install().map_err(|e| CliError::new(Exit::Failure, e))?;
    let t = ctx.target()?;
    let dir = store_dir(a.store.clone(), Some(&t))?;
    crate::paths::create_private_dir(&dir)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    let store = open(&dir)?;
    let since = a
        .since
        .as_deref()
        .map(crate::commands::session::parse_since)
        .transpose()?;
    let roles: Vec<SubjectType> = if a.roles.is_empty() {
        vec![SubjectType::Subject1, SubjectType::Subject2]
    } else {
        a.roles.iter().copied().map(subject).collect()
    };
    let mut run = 0u64;
    loop {
        run += 1;
        let report = sync_once(ctx, &a, &store, since, &roles).await;
        match (report, a.every) {
            (Ok(r), _) => print_report(ctx, &dir, &store, run, &r).await?,
            (Err(e), _) if e.exit == Exit::Interrupted => return Err(e),
            (Err(e), None) => return Err(e),
            // Repeated runs outlive a failed one: the next starts from the checkpoints.
            (Err(e), Some(_)) => {
                crate::output::write_stderr(&format!("ksef: sync run {run} failed: {e}\n"));
            }
        }
        let Some(every) = a.every else {
            return Ok(());
        };
        ctx.out
            .note(format!("next run in {}s (Ctrl-C ends)", every.as_secs()));
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = crate::interrupt::interrupted() => return Ok(()),
        }
    }
}

async fn sync_once(
    ctx: &Ctx,
    a: &SyncArgs,
    store: &SqliteStore,
    since: Option<DateTime<Utc>>,
    roles: &[SubjectType],
) -> CliResult<SyncReport> {
    let bars = Arc::new(ExportBars::new(ctx));
    let sink = Arc::clone(&bars);
    let progress = Progress::new(move |e: &SyncEvent| match e {
        SyncEvent::WindowStarted { subject, from, to } => {
            let to = to
                .map(|t| format!(" to {}", t.to_rfc3339()))
                .unwrap_or_default();
            sink.status(
                role_of_api(subject).to_string(),
                format!("exporting from {}{to}", from.to_rfc3339()),
            );
        }
        SyncEvent::Export(e) => sink.on_event(e),
        SyncEvent::PackageStored {
            subject,
            new_invoices,
            duplicates,
            ..
        } => sink.println(&format!(
            "{}: {new_invoices} new, {duplicates} already stored",
            role_of_api(subject)
        )),
        SyncEvent::BudgetWait { until } => sink.status(
            "budget".into(),
            format!(
                "the hour's exports are spent; waiting until {}",
                until.to_rfc3339()
            ),
        ),
        SyncEvent::CaughtUp { subject, next_from } => sink.println(&format!(
            "{}: up to date (next from {})",
            role_of_api(subject),
            next_from.to_rfc3339()
        )),
        _ => {}
    });
    let max_windows = a.max_windows;
    let roles = roles.to_vec();
    let result = with_session(ctx, |_, ksef, auth| async move {
        let start = since.unwrap_or_else(|| ksef.now() - TimeDelta::days(30));
        let mut options = SyncOptions::new(start).subjects(roles).progress(progress);
        if let Some(n) = max_windows {
            options = options.max_windows(n);
        }
        // An interrupt drops the run between two awaits: every package is committed to the
        // store with its checkpoint in one transaction, so the store holds whole packages and
        // the next run starts where the last commit left off.
        let sync = IncrementalSync::new(&auth, store, options);
        tokio::select! {
            r = sync.run() => r.map_err(CliError::from),
            () = crate::interrupt::interrupted() => Err(CliError::new(
                Exit::Interrupted,
                anyhow::anyhow!(
                    "interrupted; the store keeps every package committed so far and the next `ksef sync` continues from its checkpoints"
                ),
            )),
        }
    })
    .await;
    bars.finish(match &result {
        Ok(r) => format!("{} new invoices", r.new_invoices()),
        Err(e) if e.exit == Exit::Interrupted => "interrupted".into(),
        Err(_) => "failed".into(),
    });
    result
}

async fn print_report(
    ctx: &Ctx,
    dir: &std::path::Path,
    store: &SqliteStore,
    run: u64,
    r: &SyncReport,
) -> CliResult {
    let total = store.count().await.map_err(store_failure)?;
    let stopped = r.stopped.map(|s| match s {
        Stopped::BudgetExhausted => "budgetExhausted",
        Stopped::MaxWindows => "maxWindows",
        _ => "other",
    });
    // One document per run: JSON Lines when runs repeat.
    ctx.out.json_line(&json!({
        "run": run,
        "store": dir.display().to_string(),
        "newInvoices": r.new_invoices(),
        "storedInvoices": total,
        "stopped": stopped,
        "roles": r.subjects.iter().map(|s| json!({
            "role": role_name(&s.subject),
            "subjectType": s.subject.as_str(),
            "windows": s.windows,
            "newInvoices": s.new_invoices,
            "duplicates": s.duplicates,
            "nextFrom": s.next_from,
            "caughtUp": s.caught_up,
        })).collect::<Vec<_>>(),
    }));
    let rows: Vec<_> = r
        .subjects
        .iter()
        .map(|s| {
            vec![
                role_name(&s.subject).to_string(),
                s.new_invoices.to_string(),
                s.duplicates.to_string(),
                s.windows.to_string(),
                if s.caught_up { "yes" } else { "no" }.to_string(),
                s.next_from.to_rfc3339(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "ROLE",
            "NEW",
            "ALREADY STORED",
            "EXPORTS",
            "UP TO DATE",
            "NEXT FROM",
        ],
        &rows,
    );
    ctx.out.note(format!(
        "{} new invoices; {total} in the store {}{}",
        r.new_invoices(),
        dir.display(),
        stopped
            .map(|s| format!(" (stopped early: {s}; the next run continues)"))
            .unwrap_or_default()
    ));
    Ok(())
}

pub async fn store(ctx: &Ctx, cmd: StoreCmd) -> CliResult {
    match cmd {
        StoreCmd::Query(a) => query(ctx, a).await,
        StoreCmd::Status { store } => status(ctx, store).await,
    }
}

fn existing_store(ctx: &Ctx, explicit: Option<PathBuf>) -> CliResult<(PathBuf, SqliteStore)> {
    let target = if explicit.is_some() {
        None
    } else {
        Some(ctx.target()?)
    };
    let dir = store_dir(explicit, target.as_ref())?;
    if !dir.join(ksef_store::DATABASE_FILE).is_file() {
        return Err(CliError::usage(format!(
            "{} is not a store yet: fill it with `ksef sync`",
            dir.display()
        )));
    }
    let store = open(&dir)?;
    Ok((dir, store))
}

async fn query(ctx: &Ctx, a: StoreQueryArgs) -> CliResult {
    let (_, store) = existing_store(ctx, a.store.clone())?;
    let mut q = StoreQuery::all();
    if let Some(n) = a.seller_nip {
        q = q.seller(n);
    }
    if let Some(n) = a.buyer_nip {
        q = q.buyer(n);
    }
    if a.issued_from.is_some() || a.issued_to.is_some() {
        q = q.issued_between(
            a.issued_from.unwrap_or(NaiveDate::MIN),
            a.issued_to.unwrap_or(NaiveDate::MAX),
        );
    }
    if let Some(seq) = a.after {
        q = q.stored_after(seq);
    }
    if let Some(n) = a.limit {
        q = q.limit(n);
    }
    let found = store.query(&q).await.map_err(store_failure)?;
    let mut rows = Vec::with_capacity(found.len());
    for inv in &found {
        ctx.out.json_line(&json!({
            "seq": inv.seq,
            "ksefNumber": inv.ksef_number,
            "file": inv.file.display().to_string(),
            "size": inv.size,
            "sha256": inv.sha256,
            "storedAt": inv.stored_at,
            "metadata": inv.metadata,
        }));
        rows.push(vec![
            inv.seq.to_string(),
            inv.ksef_number.clone(),
            inv.metadata.invoice_number.clone(),
            inv.metadata.issue_date.to_string(),
            inv.metadata.seller.nip.0.clone(),
            format!("{:.2} {}", inv.metadata.gross_amount, inv.metadata.currency),
            inv.file.display().to_string(),
        ]);
    }
    ctx.out.table(
        &[
            "SEQ",
            "KSEF NUMBER",
            "INVOICE NUMBER",
            "ISSUED",
            "SELLER",
            "GROSS",
            "FILE",
        ],
        &rows,
    );
    ctx.out.note(format!("{} invoices", found.len()));
    Ok(())
}

async fn status(ctx: &Ctx, explicit: Option<PathBuf>) -> CliResult {
    let (dir, store) = existing_store(ctx, explicit)?;
    let count = store.count().await.map_err(store_failure)?;
    let last_seq = store.last_seq().await.map_err(store_failure)?;
    let checkpoints = store.checkpoints().await.map_err(store_failure)?;
    ctx.out.json(&json!({
        "store": dir.display().to_string(),
        "invoices": count,
        "lastSeq": last_seq,
        "checkpoints": checkpoints.iter().map(|(k, c)| json!({
            "context": k.context,
            "role": role_name(&k.subject),
            "nextFrom": c.next_from,
            "hwm": c.hwm,
            "updatedAt": c.updated_at,
        })).collect::<Vec<_>>(),
    }));
    ctx.out.line(format!(
        "store {}: {count} invoices (last seq {last_seq})",
        dir.display()
    ));
    let rows: Vec<_> = checkpoints
        .iter()
        .map(|(k, c)| {
            vec![
                k.context.clone(),
                role_name(&k.subject).to_string(),
                c.next_from.to_rfc3339(),
                c.updated_at.to_rfc3339(),
            ]
        })
        .collect();
    ctx.out
        .table(&["CONTEXT", "ROLE", "NEXT FROM", "UPDATED"], &rows);
    Ok(())
}
