//! `ksef invoice get|query`, and the filters `ksef export run` shares.

use std::io::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt as _;
use ksef_flows::api::types;
use ksef_flows::export::InvoiceMetadata;
use ksef_flows::query::{InvoiceQuery, SortOrder};
use serde_json::json;

use crate::cli::{
    AmountKind, DateKind, InvoiceCmd, InvoiceFilters, InvoiceQueryArgs, InvoicingModeArg,
    QueryForm, Role,
};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};

pub async fn run(ctx: &Ctx, cmd: InvoiceCmd) -> CliResult {
    match cmd {
        InvoiceCmd::Get {
            ksef_number,
            output,
            force,
        } => get(ctx, &ksef_number, output, force).await,
        InvoiceCmd::Query(a) => query(ctx, *a).await,
    }
}

async fn get(
    ctx: &Ctx,
    ksef_number: &str,
    output: Option<std::path::PathBuf>,
    force: bool,
) -> CliResult {
    if let Some(path) = &output
        && path.exists()
        && !force
    {
        return Err(CliError::usage(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        )));
    }
    let xml = with_session(ctx, |_, _, auth| async move {
        auth.download_invoice(ksef_number)
            .await
            .map_err(CliError::from)
    })
    .await?;
    let sha256 = ksef_flows::crypto::b64::sha256_b64(&xml);
    match &output {
        Some(path) => {
            std::fs::write(path, &xml).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    anyhow::anyhow!("cannot write {}: {e}", path.display()),
                )
            })?;
            ctx.out.json(&json!({
                "ksefNumber": ksef_number, "file": path.display().to_string(),
                "bytes": xml.len(), "sha256": sha256,
            }));
            ctx.out.note(format!(
                "{ksef_number}: {} bytes written to {} (SHA-256 {sha256}, as KSeF declared)",
                xml.len(),
                path.display()
            ));
        }
        None if ctx.out.json => ctx.out.json(&json!({
            "ksefNumber": ksef_number, "bytes": xml.len(), "sha256": sha256,
            "xml": String::from_utf8_lossy(&xml),
        })),
        None => crate::output::write_stdout(&xml),
    }
    Ok(())
}

/// `YYYY-MM-DD` (the start of that Warsaw business day) or an RFC 3339 instant.
fn parse_from(s: &str) -> CliResult<DateTime<Utc>> {
    crate::commands::session::parse_since(s)
}

/// `YYYY-MM-DD` (the end of that Warsaw business day) or an RFC 3339 instant.
fn parse_to(s: &str) -> CliResult<DateTime<Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let next = d
            .succ_opt()
            .ok_or_else(|| CliError::usage("date out of range"))?;
        return Ok(ksef_time::start_of_business_day(next) - TimeDelta::milliseconds(1));
    }
    parse_from(s)
}

/// The API's `InvoiceQueryFilters` from the flags, checked by the generated types (NIP and
/// KSeF number patterns, enums) before anything is sent.
pub fn build_query(f: &InvoiceFilters) -> CliResult<InvoiceQuery> {
    for (flag, nip) in [
        ("--seller-nip", &f.seller_nip),
        ("--buyer-nip", &f.buyer_nip),
    ] {
        if let Some(n) = nip {
            ksef_flows::crypto::Nip::parse(n)
                .map_err(|e| CliError::usage(format!("{flag} {n:?}: {e}")))?;
        }
    }
    if let Some(k) = &f.ksef_number {
        ksef_flows::crypto::KsefNumber::parse(k)
            .map_err(|e| CliError::usage(format!("--ksef-number {k:?}: {e}")))?;
    }
    let from = parse_from(&f.from)?;
    let to = f.to.as_deref().map(parse_to).transpose()?;
    let mut v = json!({
        "subjectType": match f.role {
            Role::Seller => "Subject1",
            Role::Buyer => "Subject2",
            Role::ThirdParty => "Subject3",
            Role::Authorized => "SubjectAuthorized",
        },
        "dateRange": {
            "dateType": match f.date_type {
                DateKind::Issue => "Issue",
                DateKind::Invoicing => "Invoicing",
                DateKind::PermanentStorage => "PermanentStorage",
            },
            "from": from.to_rfc3339(),
        },
    });
    if let Some(to) = to {
        v["dateRange"]["to"] = json!(to.to_rfc3339());
    }
    if let Some(n) = &f.seller_nip {
        v["sellerNip"] = json!(n);
    }
    if let Some(n) = &f.buyer_nip {
        v["buyerIdentifier"] = json!({ "type": "Nip", "value": n });
    }
    if let Some(n) = &f.ksef_number {
        v["ksefNumber"] = json!(n);
    }
    if let Some(n) = &f.invoice_number {
        v["invoiceNumber"] = json!(n);
    }
    if !f.currencies.is_empty() {
        v["currencyCodes"] = json!(f.currencies);
    }
    if f.amount_from.is_some() || f.amount_to.is_some() {
        v["amount"] = json!({
            "type": match f.amount_type {
                AmountKind::Gross => "Brutto",
                AmountKind::Net => "Netto",
                AmountKind::Vat => "Vat",
            },
            "from": f.amount_from,
            "to": f.amount_to,
        });
    }
    if let Some(form) = f.form {
        v["formType"] = json!(match form {
            QueryForm::Fa => "FA",
            QueryForm::Pef => "PEF",
            QueryForm::FaRr => "FA_RR",
        });
    }
    if !f.invoice_types.is_empty() {
        v["invoiceTypes"] = json!(f.invoice_types);
    }
    if let Some(mode) = f.mode {
        v["invoicingMode"] = json!(match mode {
            InvoicingModeArg::Online => "Online",
            InvoicingModeArg::Offline => "Offline",
        });
    }
    let filters: types::InvoiceQueryFilters =
        serde_json::from_value(v).map_err(|e| CliError::usage(format!("invalid filter: {e}")))?;
    for t in filters.invoice_types.iter().flatten() {
        if !t.is_known() {
            return Err(CliError::usage(format!(
                "--invoice-type {}: use Vat, Zal, Kor, Roz, Upr, KorZal, KorRoz, VatPef, VatPefSp, KorPef, VatRr or KorVatRr",
                t.as_str()
            )));
        }
    }
    for c in filters.currency_codes.iter().flatten() {
        if !c.is_known() {
            return Err(CliError::usage(format!(
                "--currency {}: not an ISO 4217 code KSeF knows",
                c.as_str()
            )));
        }
    }
    Ok(InvoiceQuery::from_filters(filters))
}

const QUERY_COLUMNS: [(&str, usize); 7] = [
    ("KSEF NUMBER", 36),
    ("INVOICE NUMBER", 20),
    ("ISSUED", 10),
    ("SELLER", 10),
    ("BUYER", 14),
    ("GROSS", 14),
    ("CUR", 3),
];

/// One row of a streamed table: fixed columns (a long cell pushes the rest right).
fn fixed_row(cells: &[String]) -> String {
    let mut s = String::new();
    for (i, (cell, (_, w))) in cells.iter().zip(QUERY_COLUMNS).enumerate() {
        if i == 5 {
            s.push_str(&format!("{cell:>w$}  "));
        } else {
            s.push_str(&format!("{cell:<w$}  "));
        }
    }
    let mut s = s.trim_end().to_string();
    s.push('\n');
    s
}

/// The table row of one invoice's metadata.
pub fn metadata_row(m: &InvoiceMetadata) -> Vec<String> {
    vec![
        m.ksef_number.0.clone(),
        m.invoice_number.clone(),
        m.issue_date.to_string(),
        m.seller.nip.0.clone(),
        m.buyer.identifier.value.clone().unwrap_or_default(),
        format!("{:.2}", m.gross_amount),
        m.currency.clone(),
    ]
}

async fn query(ctx: &Ctx, a: InvoiceQueryArgs) -> CliResult {
    let mut q = build_query(&a.filters)?;
    if a.desc {
        q = q.sort(SortOrder::Desc);
    }
    let limit = a.limit;
    with_session(ctx, |_, _, auth| async move {
        let mut stream = auth.query_metadata(q);
        let mut n = 0u64;
        if !ctx.out.json {
            let header: Vec<String> = QUERY_COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
            crate::output::write_stdout(fixed_row(&header).as_bytes());
        }
        while limit.is_none_or(|l| n < l) {
            let Some(m) = stream.try_next().await? else {
                break;
            };
            n += 1;
            if ctx.out.json {
                ctx.out.json_line(&m);
            } else {
                crate::output::write_stdout(fixed_row(&metadata_row(&m)).as_bytes());
            }
        }
        let _ = std::io::stdout().flush();
        if !ctx.out.json {
            ctx.out.note(format!("{n} invoices"));
        }
        Ok(())
    })
    .await
}
