//! `ksef send online FILES…` (and the outcome rendering `ksef send batch` shares).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use ksef_flows::crypto::invoice::FormCode;
use ksef_flows::{InvoiceInput, InvoiceOutcome};
use serde_json::json;

use crate::cli::{Form, SendCmd, SendOnline};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};

pub async fn run(ctx: &Ctx, cmd: SendCmd) -> CliResult {
    match cmd {
        SendCmd::Online(a) => online(ctx, a).await,
        SendCmd::Batch(a) => super::send_batch::run(ctx, a).await,
    }
}

pub fn form_code(f: Form) -> FormCode {
    match f {
        Form::Fa3 => FormCode::Fa3,
        Form::FaRr1 => FormCode::FaRr1,
        Form::Pef3 => FormCode::Pef3,
        Form::PefKor3 => FormCode::PefKor3,
    }
}

/// A spinner on stderr while KSeF works (terminals only, never with --json or -q).
pub fn spinner(ctx: &Ctx, message: String) -> indicatif::ProgressBar {
    if ctx.out.json || ctx.out.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(message);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// The outcome of one file, as printed.
pub fn outcome_json(file: &str, index: usize, o: &InvoiceOutcome) -> serde_json::Value {
    match o {
        InvoiceOutcome::Accepted {
            reference_number,
            ksef_number,
            ordinal_number,
            acquisition_date,
        } => json!({
            "file": file, "index": index, "status": "accepted",
            "referenceNumber": reference_number, "ksefNumber": ksef_number,
            "ordinalNumber": ordinal_number, "acquisitionDate": acquisition_date,
        }),
        InvoiceOutcome::Rejected {
            reference_number,
            code,
            description,
            details,
            extensions,
        } => json!({
            "file": file, "index": index, "status": "rejected",
            "referenceNumber": reference_number, "code": code,
            "description": description, "details": details, "extensions": extensions,
        }),
        InvoiceOutcome::NotSent(e) => json!({
            "file": file, "index": index, "status": "notSent", "error": e.to_string(),
        }),
        InvoiceOutcome::Pending { reference_number } => json!({
            "file": file, "index": index, "status": "pending",
            "referenceNumber": reference_number,
        }),
        InvoiceOutcome::Unknown { why } => json!({
            "file": file, "index": index, "status": "unknown", "reason": why,
        }),
        _ => json!({ "file": file, "index": index, "status": "unknown" }),
    }
}

pub fn outcome_row(file: &str, o: &InvoiceOutcome) -> Vec<String> {
    match o {
        InvoiceOutcome::Accepted { ksef_number, .. } => {
            vec![file.into(), "accepted".into(), ksef_number.clone()]
        }
        InvoiceOutcome::Rejected {
            code,
            description,
            details,
            extensions,
            ..
        } => {
            let mut s = format!("{code} {description}");
            if !details.is_empty() {
                s.push_str(&format!(" ({})", details.join("; ")));
            }
            if let Some(orig) = extensions.get("originalKsefNumber") {
                s.push_str(&format!(", original {orig}"));
            }
            vec![file.into(), "rejected".into(), s]
        }
        InvoiceOutcome::NotSent(e) => vec![file.into(), "not sent".into(), e.to_string()],
        InvoiceOutcome::Pending { reference_number } => vec![
            file.into(),
            "processing".into(),
            format!("still processing ({reference_number})"),
        ],
        InvoiceOutcome::Unknown { why } => vec![file.into(), "unknown".into(), why.clone()],
        _ => vec![file.into(), "unknown".into(), String::new()],
    }
}

async fn online(ctx: &Ctx, a: SendOnline) -> CliResult {
    let mut inputs = Vec::with_capacity(a.files.len());
    for path in &a.files {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        let mut input = InvoiceInput::new(bytes);
        if a.offline {
            input = input.offline();
        }
        inputs.push(input);
    }
    let names: Vec<String> = a
        .files
        .iter()
        .map(|p: &PathBuf| p.display().to_string())
        .collect();
    let form = form_code(a.form);
    with_session(ctx, |t, _, auth| async move {
        let pb = spinner(
            ctx,
            format!("opening an online session in {}", t.environment_label()),
        );
        let session = auth.open_online_session_for(form).await?;
        pb.set_message(format!(
            "session {}: sending {} invoices",
            session.reference_number(),
            inputs.len()
        ));
        let results = session.send_and_wait(&inputs).await?;
        let summary = if a.keep_open {
            None
        } else {
            pb.set_message(format!("closing session {}", session.reference_number()));
            Some(session.close_and_wait().await?)
        };
        pb.finish_and_clear();

        let mut accepted = 0usize;
        let mut rows = Vec::new();
        let mut invoices = Vec::new();
        for r in &results {
            let name = names.get(r.index).map_or("?", String::as_str);
            if r.outcome.ksef_number().is_some() {
                accepted += 1;
            }
            invoices.push(outcome_json(name, r.index, &r.outcome));
            rows.push(outcome_row(name, &r.outcome));
        }
        let upo_pages: Vec<serde_json::Value> = summary
            .as_ref()
            .map(|s| {
                s.upo_pages
                    .iter()
                    .map(|p| json!({ "referenceNumber": p.reference_number, "expires": p.expires }))
                    .collect()
            })
            .unwrap_or_default();
        ctx.out.json(&json!({
            "session": session.reference_number(),
            "form": form.system_code(),
            "invoices": invoices,
            "accepted": accepted,
            "rejected": results.len() - accepted,
            "closed": summary.is_some(),
            "status": summary.as_ref().map(|s| json!({
                "code": s.code, "description": s.description, "details": s.details,
            })),
            "upoPages": upo_pages,
        }));
        ctx.out
            .table(&["FILE", "RESULT", "KSEF NUMBER / REASON"], &rows);
        match &summary {
            Some(s) => ctx.out.note(format!(
                "session {} closed: {} {}; {accepted} of {} accepted; UPO: ksef session upo {}",
                session.reference_number(),
                s.code,
                s.description,
                results.len(),
                session.reference_number()
            )),
            None => ctx.out.note(format!(
                "session {} left open; {accepted} of {} accepted",
                session.reference_number(),
                results.len()
            )),
        }
        if accepted < results.len() {
            return Err(CliError::new(
                Exit::Partial,
                anyhow::anyhow!(
                    "{} of {} invoices were not accepted",
                    results.len() - accepted,
                    results.len()
                ),
            ));
        }
        Ok(())
    })
    .await
}
