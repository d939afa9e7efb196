//! The official examples and templates: every valid FA (3) example and the FA (3) / FA_RR (1)
//! templates parse into the model, and writing the model gives a document that `xmllint --schema`
//! accepts and whose canonical values equal the original's; every invalid example is rejected with
//! an error naming the element.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Schema, c14n_values, samples_dir, xmllint_validate};
use ksef_invoice::{FormCode, Invoice, InvoiceError};

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = samples_dir().join(dir);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (../shared must lie beside the clone)",
                dir.display()
            )
        })
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn assert_round_trip(name: &str, original: &[u8], schema: Schema) -> Invoice {
    let invoice = Invoice::parse(original).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = invoice.to_xml().unwrap();
    xmllint_validate(schema, std::slice::from_ref(&written))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        c14n_values(original),
        c14n_values(&written),
        "{name}: values differ"
    );
    // Reading what we wrote gives the same document again.
    let again = Invoice::parse(&written).unwrap().to_xml().unwrap();
    assert_eq!(again, written, "{name}: second round trip differs");
    invoice
}

#[test]
fn every_valid_fa3_example_round_trips_schema_valid_with_equal_values() {
    let valid = files("fa3-examples/valid");
    assert_eq!(valid.len(), 11, "the reference data has 11 valid examples");
    // The originals validate too (the oracle works).
    xmllint_validate(
        Schema::Fa3,
        &valid.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
    )
    .unwrap();
    for (name, bytes) in &valid {
        let invoice = assert_round_trip(name, bytes, Schema::Fa3);
        assert_eq!(invoice.form_code(), FormCode::Fa3, "{name}");
        assert!(!invoice.number().is_empty(), "{name}");
        assert!(invoice.kind().is_some(), "{name}");
    }
}

#[test]
fn every_invalid_fa3_example_is_rejected_naming_the_element() {
    let invalid = files("fa3-examples/invalid");
    assert_eq!(invalid.len(), 2);
    for (name, bytes) in &invalid {
        assert!(
            xmllint_validate(Schema::Fa3, std::slice::from_ref(bytes)).is_err(),
            "{name}: oracle accepts it"
        );
        let err = Invoice::parse(bytes).expect_err(name);
        let InvoiceError::Parse { path, message, .. } = &err else {
            panic!("{name}: {err:?}");
        };
        let expected = if name.contains("Przyklad_1") {
            "Faktura/Fa/Platnosc/TerminPlatnosci/TerminOpis"
        } else {
            "Faktura/Fa/DaneFaKorygowanej"
        };
        assert_eq!(path, expected, "{name}: {message}");
    }
}

fn filled(template: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut text = std::fs::read_to_string(samples_dir().join(template)).unwrap();
    for (k, v) in pairs {
        text = text.replace(k, v);
    }
    assert!(
        !text.contains("#nip#") && !text.contains("#invoice_number#"),
        "{template}"
    );
    text.into_bytes()
}

#[test]
fn the_fa3_template_round_trips() {
    let doc = filled(
        "invoice-template_v3.xml",
        &[
            ("#nip#", "5265877635"),
            ("#invoicing_date#", "2026-01-15"),
            ("#invoice_number#", "FV/2026/01/15"),
        ],
    );
    let invoice = assert_round_trip("invoice-template_v3.xml", &doc, Schema::Fa3);
    assert_eq!(invoice.issuer_nip(), "5265877635");
    assert_eq!(invoice.issue_date(), "2026-01-15");
    assert!(invoice.number().contains("FV/2026/01/15"));
}

#[cfg(feature = "fa-rr")]
#[test]
fn the_fa_rr_template_round_trips() {
    let doc = filled(
        "invoice-template-fa-rr-1.xml",
        &[
            ("#nip#", "5265877635"),
            ("#buyer_nip#", "5260250274"),
            ("#invoice_number#", "RR/2026/7"),
        ],
    );
    xmllint_validate(Schema::FaRr, std::slice::from_ref(&doc)).unwrap();
    let invoice = assert_round_trip("invoice-template-fa-rr-1.xml", &doc, Schema::FaRr);
    assert_eq!(invoice.form_code(), FormCode::FaRr);
    assert_eq!(invoice.number(), "RR/2026/7");
    assert_eq!(invoice.issuer_nip(), "5265877635");
    assert!(invoice.kind().is_none());
}

#[test]
fn broken_documents_are_rejected_with_the_path() {
    let (_, original) = files("fa3-examples/valid")
        .into_iter()
        .find(|(n, _)| n == "podstawowa__FA_3_Przyklad_1.xml")
        .unwrap();
    let text = String::from_utf8(original).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            text.replacen("<NIP>6891152920</NIP>", "<NIP>0891152920</NIP>", 1),
            "Faktura/Podmiot1/DaneIdentyfikacyjne",
        ),
        (
            text.replacen("<P_15>", "<P_15>1.005", 1)
                .replacen("1.005", "", 0),
            "Faktura/Fa",
        ),
        (
            text.replacen("<P_2>", "<Nieznany>x</Nieznany><P_2>", 1),
            "Faktura/Fa",
        ),
    ];
    for (doc, prefix) in cases {
        let err = Invoice::parse(doc.as_bytes()).expect_err(prefix);
        let path = err.path().unwrap_or_default().to_string();
        assert!(path.starts_with(prefix), "{path} vs {prefix}: {err}");
    }
    // Three decimal places in an amount.
    let p15 = text.find("<P_15>").unwrap() + "<P_15>".len();
    let end = text[p15..].find('<').unwrap() + p15;
    let three = format!("{}1.005{}", &text[..p15], &text[end..]);
    let err = Invoice::parse(three.as_bytes()).unwrap_err();
    assert_eq!(err.path(), Some("Faktura/Fa"), "{err}");
    assert!(err.to_string().contains("1.005"), "{err}");
    // Missing P_15.
    let missing = format!(
        "{}{}",
        &text[..p15 - "<P_15>".len()],
        &text[end + "</P_15>".len()..]
    );
    let err = Invoice::parse(missing.as_bytes()).unwrap_err();
    assert!(err.path().unwrap().starts_with("Faktura/Fa"), "{err}");
    // Not well-formed.
    assert!(matches!(
        Invoice::parse(b"<Faktura><oops></Faktura>"),
        Err(InvoiceError::UnsupportedForm(_) | InvoiceError::Parse { .. })
    ));
}
