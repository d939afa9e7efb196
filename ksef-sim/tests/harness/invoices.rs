//! Invoices from the official templates (read at run time from `../shared`, never committed),
//! and the UPO check against the official XSD with xmllint (an independent oracle).

use std::io::Write;

pub const TEMPLATE_FA3: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/ksef-samples/invoice-template_v3.xml"
);
pub const UPO_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/ksef-schemas/faktury/upo/schemy/upo-v4-3.xsd"
);
/// Buyer NIP in the FA(3) template (Podmiot2).
pub const TEMPLATE_BUYER_NIP: &str = "3861610227";

/// Fills the official FA(3) template, issued yesterday (the KSeF business date in
/// Europe/Warsaw, by the machine's clock).
pub fn invoice_fa3(nip: &str, number: &str) -> Vec<u8> {
    let today = ksef_time::business_date(chrono::Utc::now());
    invoice_fa3_on(nip, number, today.pred_opt().unwrap())
}

/// Fills the official FA(3) template with the issue date `date` (`P_1`).
pub fn invoice_fa3_on(nip: &str, number: &str, date: chrono::NaiveDate) -> Vec<u8> {
    let t = std::fs::read_to_string(TEMPLATE_FA3)
        .expect("reference data ../shared/ksef-samples missing");
    let date = date.format("%Y-%m-%d").to_string();
    t.replace("#nip#", nip)
        .replace("#invoicing_date#", &date)
        .replace("#invoice_number#", number)
        .into_bytes()
}

/// A fresh invoice number.
pub fn unique_number() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase()
}

/// Validates `xml` against the official UPO XSD with xmllint (independent oracle).
pub fn assert_upo_valid(xml: &[u8]) {
    let have = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        if std::env::var("KSEF_SKIP_EXTERNAL_ORACLES").as_deref() == Ok("1") {
            return;
        }
        panic!(
            "xmllint not found: apt-get install -y libxml2-utils (or set KSEF_SKIP_EXTERNAL_ORACLES=1)"
        );
    }
    assert!(
        std::path::Path::new(UPO_XSD).exists(),
        "official XSD missing at {UPO_XSD}"
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", UPO_XSD])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "UPO does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}
