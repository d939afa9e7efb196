//! `ksef demo`: the whole online flow against an embedded simulator, in seconds.

use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use ksef_api::Environment;
use ksef_api::types::TokenPermissionType;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::invoice::{Amount, Invoice, InvoiceBuilder, Line, Party, VatRate};
use ksef_flows::{Credentials, InvoiceInput, InvoiceOutcome, Ksef};
use ksef_time::SharedClock;

/// The demo's lines go through the CLI's stdout writer (a reader that closes the pipe early ends
/// the output quietly), or into [`LINES`] when `--json` collects them for one document.
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::demo::emit(format!("{}", format_args!($($arg)*)))
    };
}

/// The lines of a run whose output becomes one JSON document (`None`: print them).
static LINES: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Prints a line of the demo, or keeps it for the JSON document.
pub fn emit(line: String) {
    if let Ok(mut guard) = LINES.lock()
        && let Some(lines) = guard.as_mut()
    {
        lines.extend(line.lines().map(str::to_string));
        return;
    }
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    crate::output::write_stdout(&bytes);
}

/// Keeps the lines from now on instead of printing them.
pub fn collect_lines() {
    if let Ok(mut guard) = LINES.lock() {
        *guard = Some(Vec::new());
    }
}

/// The lines kept since [`collect_lines`].
pub fn collected_lines() -> Vec<String> {
    LINES
        .lock()
        .ok()
        .and_then(|mut g| g.take())
        .unwrap_or_default()
}

/// Runs the demo with `clock` as the time source of the client and the embedded simulator.
/// Any deviation from the expected outcomes is an error (non-zero exit).
pub async fn run(url: Option<String>, clock: SharedClock) -> anyhow::Result<()> {
    let started = Instant::now();
    let (sim, base) = match url {
        Some(u) if is_production(&u) => bail!("the demo never runs against production ({u})"),
        Some(u) => (None, u),
        None => {
            let config = ksef_sim::SimConfig::default().with_clock(clock.clone());
            let sim = ksef_sim::KsefSim::start(config)
                .await
                .context("starting the embedded simulator")?;
            let base = sim.base_url();
            (Some(sim), base)
        }
    };
    let now = clock.now();
    println!(
        "1. KSeF simulator at {base} (clock {}, KSeF business date {})",
        ksef_time::format_warsaw_millis(now),
        ksef_time::business_date(now)
    );
    let ksef = Ksef::builder(Environment::Custom(base))
        .clock(clock.clone())
        .build()?;

    let nip = Nip::random();
    let identity =
        SigningIdentity::self_signed_personal_at(&nip, KeyAlgorithm::EcdsaP256, ksef.now())
            .context("creating a self-signed TEST identity")?;
    println!(
        "2. test identity: self-signed certificate {} (NIP {nip})",
        identity.subject_name()
    );
    let context = ContextIdentifier::Nip(nip.clone());

    let xades = ksef
        .authenticate(&Credentials::xades(identity, context.clone()))
        .await
        .context("XAdES authentication")?;
    println!(
        "3. authenticated with a XAdES signature (operation {}), access token valid until {}",
        xades.reference_number(),
        xades.access_token_expires()
    );

    let (token_ref, token) = xades
        .create_ksef_token(
            &[
                TokenPermissionType::InvoiceWrite,
                TokenPermissionType::InvoiceRead,
            ],
            "ksef-rs demo token",
        )
        .await
        .context("creating a KSeF token")?;
    println!("4. created KSeF token {token_ref} (active)");

    let auth = ksef
        .authenticate(&Credentials::ksef_token(token, context))
        .await
        .context("KSeF-token authentication")?;
    println!(
        "5. authenticated with the KSeF token (operation {})",
        auth.reference_number()
    );

    let mut session = auth
        .open_online_session()
        .await
        .context("opening an online session")?;
    // One send at a time: KSeF judges a duplicate by which invoice it registered first, so the
    // duplicate (#3) must reach it after its original (#0); concurrent sends would race.
    session.set_concurrency(1);
    println!(
        "6. online session {} (FA (3)) opened",
        session.reference_number()
    );

    // "Today" and "tomorrow" are KSeF business dates (Europe/Warsaw), never UTC dates.
    let now = ksef.now();
    let today = ksef_time::business_date(now);
    let tomorrow = today.succ_opt().unwrap_or(today);
    let n = nip.as_str();
    let suffix = ksef_time::to_warsaw(now).format("%H%M%S");
    // Invoices built with ksef-invoice's builder: totals per VAT rate are computed, every value
    // is checked against the FA (3) schema, and InvoiceInput::from_invoice sends exactly the
    // bytes it serialized once.
    let seller = Party::with_nip(n, "Sprzedawca Testowy sp. z o.o.")
        .address("ul. Prosta 1", Some("00-001 Warszawa"));
    let buyer = Party::with_nip("5265877635", "Nabywca Testowy S.A.")
        .address("ul. Krzywa 2", Some("30-002 Kraków"));
    let amount = |s: &str| s.parse::<Amount>().context("a demo amount");
    let invoice = |number: &str, issued, lines: Vec<Line>| -> anyhow::Result<InvoiceInput> {
        let built = lines
            .into_iter()
            .fold(
                Invoice::vat(seller.clone(), buyer.clone(), number, issued),
                InvoiceBuilder::line,
            )
            .created_at(now)
            .build()
            .with_context(|| format!("building invoice {number}"))?;
        Ok(InvoiceInput::from_invoice(&built)?)
    };
    let service = |qty: &str, price: &str| -> anyhow::Result<Line> {
        Ok(Line::new(
            "Usługa programistyczna",
            amount(qty)?,
            amount(price)?,
            VatRate::R23,
        )
        .unit("h"))
    };
    let inputs: Vec<(&str, InvoiceInput)> = vec![
        (
            "valid",
            invoice(
                &format!("FV/{suffix}/1"),
                today,
                vec![service("1", "100.00")?],
            )?,
        ),
        (
            "valid",
            invoice(
                &format!("FV/{suffix}/2"),
                today,
                vec![
                    service("20", "125.00")?,
                    Line::new("Książka", amount("2")?, amount("45.00")?, VatRate::R5).unit("szt."),
                ],
            )?,
        ),
        (
            "valid",
            invoice(
                &format!("FV/{suffix}/3"),
                today,
                vec![Line::new(
                    "Licencja",
                    amount("1")?,
                    amount("0.99")?,
                    VatRate::R23,
                )],
            )?,
        ),
        (
            "duplicate of #0 (same seller, kind and number)",
            invoice(
                &format!("FV/{suffix}/1"),
                today,
                vec![service("1", "7.77")?],
            )?,
        ),
        (
            "invalid: issue date in the future",
            invoice(
                &format!("FV/{suffix}/4"),
                tomorrow,
                vec![service("1", "100.00")?],
            )?,
        ),
        (
            "invalid: not well-formed XML",
            InvoiceInput::new(b"<Faktura><oops></Faktura>".to_vec()),
        ),
    ];
    let invoices: Vec<InvoiceInput> = inputs.iter().map(|(_, i)| i.clone()).collect();
    let results = session.send_and_wait(&invoices).await?;
    println!("7. sent {} invoices:", invoices.len());
    for (r, (label, _)) in results.iter().zip(&inputs) {
        let line = describe(&r.outcome);
        println!("   #{} [{label}] {line}", r.index);
    }

    // Check every outcome: the demo fails loudly if the flow misbehaves.
    let accepted: Vec<&str> = results[..3]
        .iter()
        .filter_map(|r| r.outcome.ksef_number())
        .collect();
    ensure!(accepted.len() == 3, "invoices #0-#2 were not all accepted");
    ensure!(
        results[3].outcome.rejection_code() == Some(440)
            && results[3].outcome.original_ksef_number() == Some(accepted[0]),
        "invoice #3 was not rejected as a duplicate of #0"
    );
    ensure!(
        results[4].outcome.rejection_code().is_some(),
        "invoice #4 (future date) was not rejected"
    );
    ensure!(
        matches!(
            results[5].outcome,
            InvoiceOutcome::NotSent(ksef_flows::FlowError::Preflight { .. })
        ),
        "invoice #5 (broken XML) was not stopped by pre-flight validation"
    );

    let summary = session
        .close_and_wait()
        .await
        .context("closing the session")?;
    println!(
        "8. session closed: status {} {} ({} invoices, {} accepted, {} rejected)",
        summary.code,
        summary.description,
        summary.invoice_count.unwrap_or(0),
        summary.successful_invoice_count.unwrap_or(0),
        summary.failed_invoice_count.unwrap_or(0)
    );
    ensure!(
        summary.code == 200,
        "the session did not end with status 200"
    );
    let Some(page) = summary.upo_pages.first() else {
        bail!("the closed session has no UPO");
    };
    let upo = session
        .session_upo(page)
        .await
        .context("downloading the session UPO")?;
    let mut in_upo: Vec<&str> = upo
        .documents
        .iter()
        .map(|d| d.ksef_number.as_str())
        .collect();
    in_upo.sort_unstable();
    let mut expected = accepted.clone();
    expected.sort_unstable();
    ensure!(
        in_upo == expected,
        "the session UPO does not list exactly the accepted invoices"
    );
    println!(
        "9. session UPO {} downloaded: x-ms-meta-hash verified, {} bytes, lists {} invoices",
        page.reference_number,
        upo.raw.len(),
        upo.documents.len()
    );
    if let Some(r) = results[0].outcome.reference_number() {
        let inv_upo = session
            .invoice_upo(r)
            .await
            .context("downloading an invoice UPO")?;
        ensure!(
            inv_upo.documents.first().map(|d| d.ksef_number.as_str()) == Some(accepted[0]),
            "the invoice UPO does not name invoice #0"
        );
        println!(
            "   invoice #0 UPO verified too ({} bytes)",
            inv_upo.raw.len()
        );
    }

    let link = ksef.kod1_url(&invoices[0].bytes)?;
    println!(
        "10. KOD I link of invoice #0 (label {}):\n    {link}",
        accepted[0]
    );

    let original = format!("FV/{suffix}/1");
    batch_step(&ksef, &auth, (&seller, &buyer), &original, accepted[0]).await?;

    auth.revoke().await.context("revoking the token session")?;
    xades.revoke().await.context("revoking the XAdES session")?;
    let warnings = ksef.system_warnings();
    if !warnings.is_empty() {
        println!("system warnings: {warnings:?}");
    }
    println!("done in {:.2} s", started.elapsed().as_secs_f64());
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

/// Step 11: a small batch session — valid invoices, one KSeF rejects, one duplicate of the online
/// session's first invoice — with each input's outcome printed and checked.
async fn batch_step(
    ksef: &Ksef,
    auth: &ksef_flows::AuthSession,
    (seller, buyer): (&Party, &Party),
    original_number: &str,
    original: &str,
) -> anyhow::Result<()> {
    use ksef_flows::batch::{Batch, BatchInput, BatchOptions, StateKey};

    let now = ksef.now();
    let today = ksef_time::business_date(now);
    let tomorrow = today.succ_opt().unwrap_or(today);
    let suffix = ksef_time::to_warsaw(now).format("%H%M%S");
    let invoice = |number: &str, issued, net: &str| -> anyhow::Result<Vec<u8>> {
        let line = Line::new(
            "Usługa programistyczna",
            "1".parse::<Amount>().context("a demo amount")?,
            net.parse::<Amount>().context("a demo amount")?,
            VatRate::R23,
        )
        .unit("h");
        let built = Invoice::vat(seller.clone(), buyer.clone(), number, issued)
            .line(line)
            .created_at(now)
            .build()
            .with_context(|| format!("building invoice {number}"))?;
        Ok(InvoiceInput::from_invoice(&built)?.bytes.to_vec())
    };
    // FB/...: numbers of their own; the duplicate repeats the online invoice #0's number
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        (
            "valid",
            invoice(&format!("FB/{suffix}/1"), today, "100.00")?,
        ),
        (
            "valid",
            invoice(&format!("FB/{suffix}/2"), today, "420.00")?,
        ),
        ("valid", invoice(&format!("FB/{suffix}/3"), today, "12.50")?),
        (
            "invalid: issue date in the future",
            invoice(&format!("FB/{suffix}/4"), tomorrow, "100.00")?,
        ),
        (
            "duplicate of online invoice #0",
            invoice(original_number, today, "5.55")?,
        ),
    ];
    let work_dir = std::env::temp_dir().join(format!(
        "ksef-demo-batch-{}-{}",
        std::process::id(),
        now.timestamp_millis()
    ));
    let batch = Batch::new(work_dir, StateKey::generate()?)
        .with_options(BatchOptions::default())
        .clock(ksef.clock().clone());
    let batch_inputs: Vec<BatchInput> = inputs
        .iter()
        .enumerate()
        .map(|(i, (_, xml))| BatchInput::bytes(format!("invoice-{i}.xml"), xml.clone()))
        .collect();
    let prepared = batch
        .prepare_async(batch_inputs)
        .await
        .context("preparing the batch")?;
    let report = batch.send(auth).await.context("sending the batch")?;
    println!(
        "11. batch session {}: {} invoices in a {}-byte Zip, {} encrypted part(s), status {}; \
         the session UPO lists {} invoices (x-ms-meta-hash verified):",
        report.reference_number.as_deref().unwrap_or("-"),
        prepared.packed,
        prepared.archive_size,
        prepared.parts.len(),
        report.status.as_ref().map_or(0, |s| s.code),
        report.upo.iter().map(|u| u.documents.len()).sum::<usize>(),
    );
    for (r, (label, _)) in report.results.iter().zip(&inputs) {
        println!(
            "   #{} {} [{label}] {}",
            r.index,
            r.file_name.as_deref().unwrap_or("-"),
            describe(&r.outcome)
        );
    }
    let results = &report.results;
    ensure!(
        results.len() == 5
            && results[..3]
                .iter()
                .all(|r| r.outcome.ksef_number().is_some()),
        "batch invoices #0-#2 were not all accepted"
    );
    ensure!(
        results[3].outcome.rejection_code().is_some(),
        "batch invoice #3 (future date) was not rejected"
    );
    ensure!(
        results[4].outcome.rejection_code() == Some(440)
            && results[4].outcome.original_ksef_number() == Some(original),
        "batch invoice #4 was not rejected as a duplicate of the online invoice #0"
    );
    Ok(())
}

fn describe(outcome: &InvoiceOutcome) -> String {
    match outcome {
        InvoiceOutcome::Accepted { ksef_number, .. } => {
            format!("accepted, KSeF number {ksef_number}")
        }
        InvoiceOutcome::Rejected {
            code,
            description,
            details,
            extensions,
            ..
        } => {
            let mut s = format!("rejected {code} {description}");
            if !details.is_empty() {
                s.push_str(&format!(" ({})", details.join("; ")));
            }
            if let Some(orig) = extensions.get("originalKsefNumber") {
                s.push_str(&format!(", original KSeF number {orig}"));
            }
            s
        }
        InvoiceOutcome::NotSent(e) => format!("not sent: {e}"),
        InvoiceOutcome::Pending { .. } => "still processing".to_string(),
        InvoiceOutcome::Unknown { why } => format!("unknown: {why}"),
        _ => "unknown outcome".to_string(),
    }
}

/// Whether `url` points at the production API, whatever its case, port, path or trailing dot.
fn is_production(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        // Not a URL at all: refuse anything that mentions the production host.
        return url.to_ascii_lowercase().contains("api.ksef.mf.gov.pl");
    };
    let production = url::Url::parse(Environment::PRODUCTION_URL)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let host = parsed
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    host.is_some() && host == production
}

#[cfg(test)]
mod tests {
    use super::is_production;

    #[test]
    fn production_guard() {
        for u in [
            "https://api.ksef.mf.gov.pl/v2",
            "https://api.ksef.mf.gov.pl/v2/",
            "https://API.ksef.mf.gov.pl/v2",
            "https://api.ksef.mf.gov.pl:443/v2",
            "https://api.ksef.mf.gov.pl./v2",
            "http://api.ksef.mf.gov.pl/v2",
            "https://api.KSEF.mf.gov.pl/V2",
            " https://api.ksef.mf.gov.pl/v2 ",
        ] {
            assert!(is_production(u), "{u}");
        }
        for u in [
            "https://api-test.ksef.mf.gov.pl/v2",
            "https://api-demo.ksef.mf.gov.pl/v2",
            "http://127.0.0.1:8080/v2",
        ] {
            assert!(!is_production(u), "{u}");
        }
    }
}
