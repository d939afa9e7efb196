//! `ksef send batch DIR|FILES…` and `ksef send batch --resume WORK_DIR`.
//!
//! The work directory holds the encrypted parts and the sealed state file of
//! [`ksef_flows::batch::Batch`]. The state key comes from `--state-key`, or is a random key per
//! batch that the CLI keeps sealed under the name of the work directory, so `--resume` needs
//! nothing but the directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ksef_flows::FlowError;
use ksef_flows::batch::{
    Batch, BatchFailure, BatchInput, BatchOptions, BatchReport, Compression, StateKey, xml_files_in,
};
use serde_json::json;

use crate::cli::{BatchCompression, SendBatch};
use crate::commands::send::{form_code, outcome_json, outcome_row};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};
use crate::progress::BatchBars;
use crate::seal::{self, Kind};

pub async fn run(ctx: &Ctx, a: SendBatch) -> CliResult {
    // Fail on a bad profile or a missing login before any file is touched.
    let _ = ctx.target()?;
    if a.new_session && a.resume.is_none() {
        return Err(CliError::usage(
            "--new-session continues a batch: use it with --resume WORK_DIR",
        ));
    }
    if let Some(source) = &a.state_key
        && !(source.starts_with("env:") || source.starts_with("file:") || source == "prompt")
    {
        return Err(CliError::usage(format!(
            "state key source {source:?} must be env:NAME, file:PATH or prompt (never the key itself)"
        )));
    }
    let (work_dir, inputs) = match &a.resume {
        Some(dir) => {
            if !dir.join("batch-state.json").is_file() {
                return Err(CliError::usage(format!(
                    "{} holds no batch to continue (no batch-state.json)",
                    dir.display()
                )));
            }
            (dir.clone(), None)
        }
        None => {
            let inputs = collect_inputs(&a.inputs)?;
            let dir = match &a.work_dir {
                Some(d) => d.clone(),
                None => default_work_dir()?,
            };
            crate::paths::create_private_dir(&dir)
                .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
            (dir, Some(inputs))
        }
    };
    let work_dir = std::fs::canonicalize(&work_dir)
        .map_err(|e| CliError::usage(format!("{}: {e}", work_dir.display())))?;
    let key_name = key_name(&work_dir);
    let key = state_key(a.state_key.as_deref(), &key_name, inputs.is_some())?;
    // Ctrl-C is taken over only now: at the passphrase prompt above it still ends the program.
    crate::interrupt::install().map_err(|e| CliError::new(Exit::Failure, e))?;

    let bars = Arc::new(BatchBars::new(ctx, inputs.as_ref().map(|i| i.len() as u64)));
    let options = BatchOptions::default()
        .form(form_code(a.form))
        .compression(match a.compression {
            BatchCompression::Zip => Compression::Zip,
            BatchCompression::TarGz => Compression::TarGz,
        })
        .part_size(a.part_size)
        .upload_concurrency(usize::from(a.parallel))
        .offline_mode(a.offline)
        .keep_work_dir(a.keep_work_dir);
    let sink = Arc::clone(&bars);
    let batch = Batch::new(&work_dir, key)
        .with_options(options)
        .on_progress(move |e| sink.on_event(e));

    let resume_hint = format!(
        "continue with: ksef send batch --resume {}",
        work_dir.display()
    );
    if inputs.is_some() {
        let line = format!("work directory {} ({resume_hint})", work_dir.display());
        if bars.shown() {
            bars.println(&line);
        } else {
            tracing::info!("{line}");
        }
    }

    let new_session = a.new_session;
    let outcome = with_session(ctx, |_, _, auth| {
        let batch = &batch;
        async move {
            let work = async {
                match inputs {
                    Some(inputs) => {
                        batch.prepare_async(inputs).await?;
                        batch.send(&auth).await
                    }
                    None if new_session => batch.resend_in_new_session(&auth).await,
                    None => batch.resume(&auth).await,
                }
            };
            tokio::select! {
                r = work => Ok(Some(r)),
                () = crate::interrupt::interrupted() => Ok(None),
            }
        }
    })
    .await;
    bars.finish();
    let outcome = outcome?;

    let Some(result) = outcome else {
        // Before the state file exists there is nothing to continue: nothing was sent.
        let msg = if batch.phase().ok().flatten().is_some() {
            format!(
                "interrupted; the batch is kept in {} (its state sealed): {resume_hint}",
                work_dir.display()
            )
        } else {
            format!(
                "interrupted before the batch was prepared; nothing was sent (the work directory {} can be removed)",
                work_dir.display()
            )
        };
        return Err(CliError::new(Exit::Interrupted, anyhow::anyhow!(msg)));
    };
    let kept = || batch.phase().ok().flatten().is_some();
    match result {
        Ok(report) => {
            if !kept() {
                seal::remove(Kind::BatchKey, &key_name)?;
            }
            finish(ctx, &a, &work_dir, kept(), &report)
        }
        Err(FlowError::BatchRejected {
            failure,
            code,
            description,
            details,
            report,
        }) => {
            if !kept() {
                seal::remove(Kind::BatchKey, &key_name)?;
            }
            let _ = finish(ctx, &a, &work_dir, kept(), &report);
            let exit = if failure == BatchFailure::NoValidInvoices {
                Exit::Partial
            } else {
                Exit::Failure
            };
            let details = if details.is_empty() {
                String::new()
            } else {
                format!(" ({})", details.join("; "))
            };
            Err(CliError::new(
                exit,
                anyhow::anyhow!("KSeF failed the batch session: {code} {description}{details}"),
            ))
        }
        Err(e) if e.batch_needs_new_session() => {
            let msg = format!(
                "{e}; send the package again in a new session with: ksef send batch --resume {} --new-session",
                work_dir.display()
            );
            Err(CliError::new(
                crate::exit::classify(&anyhow::Error::from(e)),
                anyhow::anyhow!(msg),
            ))
        }
        Err(e) => {
            let mut err = CliError::from(e);
            if kept() {
                err.error = err
                    .error
                    .context(format!("the batch is kept: {resume_hint}"));
            }
            Err(err)
        }
    }
}

/// Prints the report: one row (or JSON object) per input, the session status, the UPO pages.
/// Exits 3 when some inputs were not accepted.
fn finish(
    ctx: &Ctx,
    a: &SendBatch,
    work_dir: &Path,
    kept: bool,
    report: &BatchReport,
) -> CliResult {
    let mut upo_files = Vec::new();
    if let Some(dir) = &a.upo_dir {
        crate::paths::create_private_dir(dir)
            .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
        for (i, upo) in report.upo.iter().enumerate() {
            let page = upo.page.map_or(i as u32 + 1, |(p, _)| p);
            let path = dir.join(format!("{}-{page}.xml", upo.session_reference_number));
            std::fs::write(&path, &upo.raw).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    anyhow::anyhow!("cannot write {}: {e}", path.display()),
                )
            })?;
            upo_files.push(path.display().to_string());
        }
    }
    let invoices: Vec<_> = report
        .results
        .iter()
        .map(|r| {
            let mut v = outcome_json(&r.name, r.index, &r.outcome);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("invoiceFileName".into(), json!(r.file_name));
                obj.insert("invoiceHash".into(), json!(r.invoice_hash));
            }
            v
        })
        .collect();
    let rows: Vec<_> = report
        .results
        .iter()
        .map(|r| outcome_row(&r.name, &r.outcome))
        .collect();
    let accepted = report.accepted();
    let total = report.results.len();
    ctx.out.json(&json!({
        "session": report.reference_number,
        "workDir": kept.then(|| work_dir.display().to_string()),
        "status": report.status.as_ref().map(|s| json!({
            "code": s.code, "description": s.description, "details": s.details,
        })),
        "invoices": invoices,
        "accepted": accepted,
        "rejected": report.rejected(),
        "notSent": report.not_sent(),
        "unknown": report.unknown(),
        "unmatched": report.unmatched.iter().map(|u| json!({
            "invoiceFileName": u.file_name, "invoiceHash": u.invoice_hash,
            "code": u.code, "ksefNumber": u.ksef_number,
        })).collect::<Vec<_>>(),
        "upoPages": report.upo.iter().map(|u| json!({
            "page": u.page.map(|p| p.0), "pages": u.page.map(|p| p.1),
            "documents": u.documents.len(),
        })).collect::<Vec<_>>(),
        "upoFiles": upo_files,
        "abandonedSessions": report.abandoned_sessions,
    }));
    ctx.out
        .table(&["FILE", "RESULT", "KSEF NUMBER / REASON"], &rows);
    let session = report
        .reference_number
        .as_deref()
        .unwrap_or("(none: nothing to send)");
    let status = report
        .status
        .as_ref()
        .map(|s| format!("{} {}", s.code, s.description))
        .unwrap_or_default();
    ctx.out.note(format!(
        "batch session {session}: {status}; {accepted} of {total} accepted, {} rejected, {} not sent",
        report.rejected(),
        report.not_sent()
    ));
    for f in &upo_files {
        ctx.out.note(format!("UPO written to {f}"));
    }
    if accepted < total {
        return Err(CliError::new(
            Exit::Partial,
            anyhow::anyhow!("{} of {total} invoices were not accepted", total - accepted),
        ));
    }
    Ok(())
}

/// The inputs: files as given, directories expanded to their .xml files.
fn collect_inputs(args: &[PathBuf]) -> CliResult<Vec<BatchInput>> {
    let mut inputs = Vec::new();
    for p in args {
        let meta =
            std::fs::metadata(p).map_err(|e| CliError::usage(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            let found = xml_files_in(p)
                .map_err(|e| CliError::usage(format!("cannot list {}: {e}", p.display())))?;
            if found.is_empty() {
                return Err(CliError::usage(format!(
                    "{} holds no .xml files",
                    p.display()
                )));
            }
            inputs.extend(found);
        } else {
            inputs.push(BatchInput::file(p.clone()));
        }
    }
    Ok(inputs)
}

/// `batches/YYYYMMDDTHHMMSSZ-XXXX` under the state directory.
fn default_work_dir() -> CliResult<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut tag = [0u8; 2];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut tag).map_err(|_| {
        CliError::new(
            Exit::Failure,
            anyhow::anyhow!("the system random number generator failed"),
        )
    })?;
    let tag = u16::from_be_bytes(tag);
    Ok(crate::paths::state_dir()?
        .join("batches")
        .join(format!("{stamp}-{tag:04x}")))
}

/// The name of a work directory's sealed key: hex of the SHA-256 of its canonical path.
fn key_name(work_dir: &Path) -> String {
    let digest = ksef_flows::crypto::b64::sha256(work_dir.as_os_str().as_encoded_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The state key: from `source`, or the sealed key of the work directory (created for a new
/// batch).
fn state_key(source: Option<&str>, key_name: &str, new: bool) -> CliResult<StateKey> {
    let bad = |e: FlowError| CliError::usage(format!("the batch state key: {e}"));
    if let Some(source) = source {
        if let Some(path) = source.strip_prefix("file:") {
            return StateKey::from_file(path).map_err(bad);
        }
        if let Some(var) = source.strip_prefix("env:") {
            return StateKey::from_env(var).map_err(bad);
        }
        if source == "prompt" {
            let text = crate::secrets::read(source, "batch", "batch state key")?;
            return StateKey::from_text(text.expose()).map_err(bad);
        }
        return Err(CliError::usage(format!(
            "state key source {source:?} must be env:NAME, file:PATH or prompt"
        )));
    }
    if let Some(plain) = seal::load(Kind::BatchKey, key_name)? {
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| {
            CliError::new(
                Exit::Failure,
                anyhow::anyhow!("the sealed batch key is damaged"),
            )
        })?;
        return Ok(StateKey::from_bytes(bytes));
    }
    if !new {
        return Err(CliError::usage(
            "no key of this batch is kept here: pass the --state-key it was started with",
        ));
    }
    let key = StateKey::generate().map_err(CliError::from)?;
    let b64 = key.to_base64();
    let raw = ksef_flows::crypto::b64::decode("state key", b64.as_str())
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    let raw = zeroize::Zeroizing::new(raw);
    seal::store(Kind::BatchKey, key_name, &raw)?;
    Ok(key)
}
