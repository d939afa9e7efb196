//! `InvoiceInput::from_invoice`: the invoice is serialized once and exactly those bytes are what
//! the session hashes and sends; the independent pre-flight reader of ksef-crypto sees the facts
//! the builder wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use ksef_flows::InvoiceInput;
use ksef_flows::crypto::invoice::FormCode;
use ksef_flows::invoice::{Amount, Invoice, Line, Party, VatRate};

#[test]
fn from_invoice_sends_the_bytes_serialized_once() {
    let invoice = Invoice::vat(
        Party::with_nip("5265877635", "Sprzedawca").address("ul. Prosta 1", None),
        Party::with_nip("5260250274", "Nabywca").address("ul. Krzywa 2", None),
        "FV/7/2026",
        NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
    )
    .line(Line::new(
        "Usługa",
        "3".parse::<Amount>().unwrap(),
        "33.33".parse().unwrap(),
        VatRate::R23,
    ))
    .created_at(Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap())
    .build()
    .unwrap();
    let input = InvoiceInput::from_invoice(&invoice).unwrap();
    assert_eq!(&input.bytes[..], &invoice.to_xml().unwrap()[..]);
    let facts = ksef_flows::crypto::preflight(&input.bytes).unwrap();
    assert_eq!(facts.form_code, FormCode::Fa3);
    assert_eq!(facts.seller_nip.as_deref(), Some("5265877635"));
    assert_eq!(facts.invoice_number.as_deref(), Some("FV/7/2026"));
    assert_eq!(facts.invoice_kind.as_deref(), Some("VAT"));
    let key = ksef_flows::crypto::SymmetricKey::generate().unwrap();
    let request = ksef_flows::prepare_request(&key, FormCode::Fa3, 0, &input).unwrap();
    let sent = invoice.to_xml().unwrap();
    assert_eq!(
        request.invoice_hash.to_string(),
        ksef_flows::crypto::b64::sha256_b64(&sent)
    );
    assert_eq!(request.invoice_size.get(), sent.len() as u64);
}
