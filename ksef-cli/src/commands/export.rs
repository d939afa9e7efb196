//! `ksef export run`: one export into a directory.

use std::sync::Arc;

use ksef_flows::export::{DownloadOptions, ExportRequest};
use ksef_flows::progress::Progress;
use serde_json::json;

use crate::cli::{ExportCmd, ExportRunArgs};
use crate::commands::invoice::{build_query, metadata_row};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};
use crate::progress::ExportBars;

/// The metadata file written next to the invoices.
pub const METADATA_FILE: &str = "_metadata.json";

pub async fn run(ctx: &Ctx, cmd: ExportCmd) -> CliResult {
    match cmd {
        ExportCmd::Run(a) => export(ctx, a).await,
    }
}

async fn export(ctx: &Ctx, a: ExportRunArgs) -> CliResult {
    let query = build_query(&a.filters)?;
    crate::paths::create_private_dir(&a.output)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", a.output.display())))?;
    let bars = Arc::new(ExportBars::new(ctx));
    let sink = Arc::clone(&bars);
    let request = ExportRequest::new(query)
        .only_metadata(a.metadata_only)
        .progress(Progress::new(move |e| sink.on_event(e)));
    let options = DownloadOptions::default().concurrency(usize::from(a.parallel));
    let dir = a.output.clone();
    let result = with_session(ctx, |_, _, auth| async move {
        let export = auth.start_export(&request).await?;
        let (package, files) = export.download_to_dir(&dir, &options).await?;
        Ok((export.reference_number().to_string(), package, files))
    })
    .await;
    let (reference, package, files) = match result {
        Ok(r) => r,
        Err(e) => {
            bars.finish("failed".into());
            return Err(e);
        }
    };
    bars.finish(format!(
        "{reference}: {} invoices in {}",
        files.invoices.len(),
        a.output.display()
    ));

    let metadata_path = a.output.join(METADATA_FILE);
    let doc = json!({ "invoices": files.metadata });
    let text = serde_json::to_vec_pretty(&doc).map_err(|e| CliError::new(Exit::Failure, e))?;
    std::fs::write(&metadata_path, text).map_err(|e| {
        CliError::new(
            Exit::Failure,
            anyhow::anyhow!("cannot write {}: {e}", metadata_path.display()),
        )
    })?;

    let continue_from = package
        .is_truncated
        .then(|| {
            package
                .last_permanent_storage_date
                .map(|d| d.to_rfc3339())
                .or(package.last_invoicing_date.map(|d| d.to_rfc3339()))
                .or(package.last_issue_date.map(|d| d.to_string()))
        })
        .flatten();
    ctx.out.json(&json!({
        "referenceNumber": reference,
        "directory": a.output.display().to_string(),
        "metadataFile": metadata_path.display().to_string(),
        "invoiceCount": package.invoice_count,
        "packageSize": package.size,
        "parts": package.parts.len(),
        "isTruncated": package.is_truncated,
        "continueFrom": continue_from,
        "lastIssueDate": package.last_issue_date,
        "lastInvoicingDate": package.last_invoicing_date,
        "lastPermanentStorageDate": package.last_permanent_storage_date,
        "permanentStorageHwmDate": package.permanent_storage_hwm_date,
        "invoices": files.invoices.iter().map(|i| json!({
            "ksefNumber": i.ksef_number, "file": i.path.display().to_string(),
            "size": i.size, "sha256": i.sha256,
        })).collect::<Vec<_>>(),
        "metadataOnly": a.metadata_only,
        "metadata": files.metadata.len(),
    }));
    if a.metadata_only {
        let rows: Vec<_> = files.metadata.iter().map(metadata_row).collect();
        ctx.out.table(
            &[
                "KSEF NUMBER",
                "INVOICE NUMBER",
                "ISSUED",
                "SELLER",
                "BUYER",
                "GROSS",
                "CUR",
            ],
            &rows,
        );
    } else {
        let rows: Vec<_> = files
            .invoices
            .iter()
            .map(|i| {
                vec![
                    i.ksef_number.clone(),
                    i.path.display().to_string(),
                    i.size.to_string(),
                ]
            })
            .collect();
        ctx.out.table(&["KSEF NUMBER", "FILE", "BYTES"], &rows);
    }
    ctx.out.note(format!(
        "export {reference}: {} invoices, metadata in {}",
        package.invoice_count,
        metadata_path.display()
    ));
    if let Some(from) = &continue_from {
        ctx.out.note(format!(
            "KSeF truncated the package at its limits: run again with --from {from}"
        ));
    }
    Ok(())
}
