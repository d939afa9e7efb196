//! The intake of one decrypted invoice, sent online or unpacked from a batch: the invoice rules,
//! the duplicate check, and storing an accepted invoice under its new KSeF number.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::form::FormKind;
use super::rules::{SchemaCheck, check_invoice};
use super::store::{AssignedDates, NewInvoice, Registered, Status};
use crate::state::AppState;

/// One decrypted invoice received in a session.
#[derive(Debug)]
pub(crate) struct ReceivedInvoice<'a> {
    pub(crate) session_reference: &'a str,
    /// The session's context (`Nip:...`, `InternalId:...`): whose invoices it may issue.
    pub(crate) context_key: &'a str,
    pub(crate) form: FormKind,
    pub(crate) bytes: &'a [u8],
    /// Whether invoices with attachments are accepted in this session.
    pub(crate) attachments_allowed: bool,
    pub(crate) offline: bool,
    /// `hashOfCorrectedInvoice` of a technical correction.
    pub(crate) hash_of_corrected: Option<String>,
    pub(crate) received_at: DateTime<Utc>,
    /// When the outcome becomes visible (status 150 until then).
    pub(crate) ready_at: DateTime<Utc>,
}

/// What became of one invoice.
#[derive(Debug)]
pub(crate) struct Decided {
    pub(crate) final_status: Status,
    pub(crate) ksef_number: Option<String>,
    pub(crate) invoice_number: Option<String>,
    pub(crate) dates: Option<AssignedDates>,
}

impl Decided {
    /// Refused before its content was read (no invoice number).
    pub(crate) fn refused(final_status: Status) -> Self {
        Self {
            final_status,
            ksef_number: None,
            invoice_number: None,
            dates: None,
        }
    }
}

/// Runs the invoice rules and the duplicate check on the invoice, and stores it when it is
/// accepted. Must not be called with the store locked, nor on an async worker (the schema
/// validation is CPU work).
pub(crate) fn decide(state: &AppState, invoice: ReceivedInvoice<'_>) -> Decided {
    let today = ksef_time::business_date(invoice.received_at);
    let facts = match check_invoice(
        invoice.bytes,
        invoice.form,
        invoice.attachments_allowed,
        today,
        SchemaCheck::Validate,
    ) {
        Ok(f) => f,
        Err(e) => {
            return Decided::refused(
                Status::new(e.status_code(), e.status_description()).with_detail(e.to_string()),
            );
        }
    };
    if let Err(detail) = super::issuer::may_issue(
        state,
        invoice.context_key,
        invoice.form,
        &facts,
        invoice.received_at,
    ) {
        return Decided {
            invoice_number: Some(facts.invoice_number.clone()),
            ..Decided::refused(
                Status::new(450, "Błąd weryfikacji semantyki dokumentu faktury")
                    .with_detail(detail),
            )
        };
    }
    let dir = state.data_dir.join("invoicing").join("invoices");
    let hash = super::crypto::sha256_b64(invoice.bytes);
    let registered = state.invoicing.with(|s| {
        s.register(
            NewInvoice {
                facts: &facts,
                form: invoice.form,
                hash: &hash,
                dir: &dir,
                offline: invoice.offline,
                received_at: invoice.received_at,
                session_reference: invoice.session_reference,
                hash_of_corrected: invoice.hash_of_corrected,
                ready_at: invoice.ready_at,
            },
            &state.invoicing.config,
            |p| {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(p, invoice.bytes)
            },
        )
    });
    let invoice_number = Some(facts.invoice_number.clone());
    let (final_status, ksef_number, dates) = match registered {
        Ok((Registered::Accepted(k), dates)) => (Status::new(200, "Sukces"), Some(k), dates),
        Ok((Registered::Duplicate(orig_session, orig_ksef), _)) => {
            let mut st = Status::new(440, "Duplikat faktury")
                .with_detail(format!("Duplikat faktury. Faktura o numerze KSeF: {orig_ksef} została już prawidłowo przesłana do systemu w sesji: {orig_session}"));
            st.extensions = Some(json!({
                "originalSessionReferenceNumber": orig_session,
                "originalKsefNumber": orig_ksef,
            }));
            (st, None, None)
        }
        Err(e) => (
            Status::new(500, "Nieznany błąd").with_detail(format!("storage: {e}")),
            None,
            None,
        ),
    };
    Decided {
        final_status,
        ksef_number,
        invoice_number,
        dates,
    }
}
