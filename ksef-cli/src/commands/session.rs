//! `ksef session list|status|invoices|upo`.

use std::path::{Path, PathBuf};

use futures::{StreamExt as _, TryStreamExt as _};
use ksef_api::types;
use ksef_flows::{InvoiceSelection, SessionFilter, Upo, UpoOf};
use serde_json::json;

use crate::cli::{SessionCmd, SessionKind, SessionList, SessionState, SessionUpo};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    ksef_time::format_warsaw_millis(t)
}

/// `YYYY-MM-DD` (the start of that Warsaw business day) or an RFC 3339 instant.
pub fn parse_since(s: &str) -> CliResult<chrono::DateTime<chrono::Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(ksef_time::start_of_business_day(d));
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.to_utc())
        .map_err(|_| {
            CliError::usage(format!(
                "{s:?} is neither a date (YYYY-MM-DD, Europe/Warsaw) nor an RFC 3339 instant"
            ))
        })
}

pub async fn run(ctx: &Ctx, cmd: SessionCmd) -> CliResult {
    match cmd {
        SessionCmd::List(a) => list(ctx, a).await,
        SessionCmd::Status { reference } => {
            with_session(ctx, |_, _, auth| async move {
                let s = auth.session_status(&reference).await?;
                ctx.out.json(&s);
                let mut rows = vec![
                    vec!["session".into(), reference.trim().to_string()],
                    vec![
                        "status".into(),
                        format!("{} {}", s.status.code, s.status.description),
                    ],
                    vec!["created".into(), time(s.date_created)],
                    vec!["updated".into(), time(s.date_updated)],
                    vec![
                        "invoices".into(),
                        format!(
                            "{} ({} accepted, {} rejected)",
                            s.invoice_count.unwrap_or(0),
                            s.successful_invoice_count.unwrap_or(0),
                            s.failed_invoice_count.unwrap_or(0)
                        ),
                    ],
                ];
                if let Some(details) = &s.status.details {
                    rows.push(vec!["details".into(), details.join("; ")]);
                }
                if let Some(upo) = &s.upo {
                    for p in &upo.pages {
                        rows.push(vec!["UPO page".into(), p.reference_number.0.clone()]);
                    }
                }
                ctx.out.table(&["FIELD", "VALUE"], &rows);
                Ok(())
            })
            .await
        }
        SessionCmd::Invoices { reference, failed } => {
            with_session(ctx, |_, _, auth| async move {
                let which = if failed {
                    InvoiceSelection::Failed
                } else {
                    InvoiceSelection::All
                };
                let mut rows = Vec::new();
                let mut invoices = auth.all_session_invoices(&reference, which, Some(1000));
                while let Some(i) = invoices.try_next().await? {
                    ctx.out.json_line(&i);
                    rows.push(vec![
                        i.ordinal_number.to_string(),
                        i.invoice_number.clone().unwrap_or_default(),
                        format!("{} {}", i.status.code, i.status.description),
                        i.ksef_number.as_ref().map_or("-".into(), |n| n.0.clone()),
                        i.reference_number.0.clone(),
                    ]);
                }
                ctx.out.table(
                    &["#", "NUMBER", "STATUS", "KSEF NUMBER", "REFERENCE"],
                    &rows,
                );
                Ok(())
            })
            .await
        }
        SessionCmd::Upo(a) => upo(ctx, a).await,
    }
}

async fn list(ctx: &Ctx, a: SessionList) -> CliResult {
    let kind = match a.kind {
        SessionKind::Online => types::SessionType::Online,
        SessionKind::Batch => types::SessionType::Batch,
    };
    let mut filter = SessionFilter::new(kind).page_size(100);
    for s in &a.status {
        filter = filter.status(match s {
            SessionState::InProgress => types::CommonSessionStatus::InProgress,
            SessionState::Succeeded => types::CommonSessionStatus::Succeeded,
            SessionState::Failed => types::CommonSessionStatus::Failed,
            SessionState::Cancelled => types::CommonSessionStatus::Cancelled,
        });
    }
    if let Some(since) = &a.since {
        filter = filter.created(Some(parse_since(since)?), None);
    }
    with_session(ctx, |_, _, auth| async move {
        let mut rows = Vec::new();
        let mut sessions = auth.all_sessions(&filter).take(a.limit);
        while let Some(s) = sessions.try_next().await? {
            ctx.out.json_line(&s);
            rows.push(vec![
                s.reference_number.0.clone(),
                time(s.date_created),
                format!("{} {}", s.status.code, s.status.description),
                s.total_invoice_count.to_string(),
                s.successful_invoice_count.to_string(),
                s.failed_invoice_count.to_string(),
            ]);
        }
        ctx.out.table(
            &[
                "SESSION", "CREATED", "STATUS", "INVOICES", "ACCEPTED", "REJECTED",
            ],
            &rows,
        );
        Ok(())
    })
    .await
}

fn page_path(base: &Path, page: usize, pages: usize) -> PathBuf {
    if pages <= 1 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match base.extension() {
        Some(ext) => format!("{stem}-{page}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{page}"),
    };
    base.with_file_name(name)
}

async fn upo(ctx: &Ctx, a: SessionUpo) -> CliResult {
    with_session(ctx, |_, _, auth| async move {
        let which: Vec<UpoOf> = if let Some(i) = &a.invoice {
            vec![UpoOf::Invoice(i.clone())]
        } else if let Some(n) = &a.ksef_number {
            vec![UpoOf::KsefNumber(n.clone())]
        } else if let Some(p) = &a.page {
            vec![UpoOf::SessionPage(p.clone())]
        } else {
            let s = auth.session_status(&a.reference).await?;
            let pages: Vec<UpoOf> = s
                .upo
                .map(|u| {
                    u.pages
                        .into_iter()
                        .map(|p| UpoOf::SessionPage(p.reference_number.0))
                        .collect()
                })
                .unwrap_or_default();
            if pages.is_empty() {
                return Err(CliError::new(
                    Exit::Failure,
                    anyhow::anyhow!(
                        "session {} has no UPO yet (status {} {})",
                        a.reference.trim(),
                        s.status.code,
                        s.status.description
                    ),
                ));
            }
            pages
        };
        let n = which.len();
        let mut docs = Vec::new();
        for (i, w) in which.iter().enumerate() {
            let upo: Upo = auth.download_upo(&a.reference, w).await?;
            let file = match &a.output {
                Some(base) => {
                    let p = page_path(base, i + 1, n);
                    std::fs::write(&p, &upo.raw).map_err(|e| {
                        CliError::new(
                            Exit::Failure,
                            anyhow::anyhow!("cannot write {}: {e}", p.display()),
                        )
                    })?;
                    ctx.out.note(format!(
                        "UPO written to {} ({} bytes, {} invoices, hash verified)",
                        p.display(),
                        upo.raw.len(),
                        upo.documents.len()
                    ));
                    Some(p)
                }
                None => {
                    if !ctx.out.json {
                        crate::output::write_stdout(&upo.raw);
                        crate::output::write_stdout(b"\n");
                    }
                    None
                }
            };
            docs.push(json!({
                "file": file,
                "sessionReferenceNumber": upo.session_reference_number,
                "bytes": upo.raw.len(),
                "sha256": ksef_flows::crypto::b64::sha256_b64(&upo.raw),
                "page": upo.page,
                "invoices": upo.documents.iter().map(|d| json!({
                    "ksefNumber": d.ksef_number,
                    "invoiceNumber": d.invoice_number,
                    "sellerNip": d.seller_nip,
                    "issueDate": d.issue_date,
                    "invoiceHash": d.invoice_hash,
                })).collect::<Vec<_>>(),
                "xml": if a.output.is_none() { Some(String::from_utf8_lossy(&upo.raw).into_owned()) } else { None },
            }));
        }
        ctx.out.json(&json!({ "upo": docs }));
        Ok(())
    })
    .await
}
