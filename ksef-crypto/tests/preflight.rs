#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Invoice pre-flight on the official sample templates (filled in) and on crafted violations.

mod common;

use ksef_crypto::invoice::{FormCode, preflight};
use ksef_crypto::{CryptoError, Nip, PreflightRule};

fn sample(name: &str, nip: &str) -> Vec<u8> {
    let path = common::shared(&format!("ksef-samples/{name}"));
    let t = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    t.replace("#nip#", nip)
        .replace("#supplier_nip#", nip)
        .replace("#buyer_nip#", "5265877635")
        .replace("#invoicing_date#", "2026-02-01")
        .replace("#issue_date#", "2026-02-01")
        .replace("#due_date#", "2026-03-01")
        .replace("#invoice_number#", "000123")
        .replace("#iban#", "PL61109010140000071219812874")
        .replace("#buyer_reference#", "REF-1")
        .into_bytes()
}

fn rule_of(
    r: Result<ksef_crypto::InvoiceFacts, CryptoError>,
) -> (PreflightRule, Option<(u32, u32)>) {
    match r {
        Err(CryptoError::Preflight { rule, position, .. }) => {
            (rule, position.map(|p| (p.line, p.column)))
        }
        other => panic!("expected a pre-flight error, got {other:?}"),
    }
}

#[test]
fn official_samples_pass_and_facts_are_extracted() {
    let nip = Nip::random();
    for (name, form, kind, number) in [
        (
            "invoice-template_v3.xml",
            FormCode::Fa3,
            Some("VAT"),
            "FA/GRQMB-000123/05/2025",
        ),
        (
            "invoice-template.xml",
            FormCode::Fa2,
            Some("VAT"),
            "FA/GRQMB-000123/05/2025",
        ),
        (
            "invoice-template-fa-rr-1.xml",
            FormCode::FaRr1,
            Some("VAT_RR"),
            "000123",
        ),
        ("invoice_template_pef.xml", FormCode::Pef3, None, "000123"),
    ] {
        let bytes = sample(name, nip.as_str());
        let f = preflight(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(f.form_code, form, "{name}");
        assert_eq!(f.seller_nip.as_deref(), Some(nip.as_str()), "{name}");
        assert!(f.seller_nip_checksum_ok);
        assert_eq!(f.invoice_kind.as_deref(), kind, "{name}");
        assert_eq!(f.invoice_number.as_deref(), Some(number), "{name}");
        assert_eq!(f.size, bytes.len());
        assert_eq!(f.sha256, ksef_crypto::b64::sha256(&bytes));
        if form != FormCode::FaRr1 {
            assert_eq!(
                f.issue_date,
                chrono::NaiveDate::from_ymd_opt(2026, 2, 1),
                "{name}"
            );
        } else {
            assert_eq!(f.issue_date, chrono::NaiveDate::from_ymd_opt(2026, 2, 23));
        }
    }
    // KOD I straight from the facts
    let bytes = sample("invoice-template_v3.xml", nip.as_str());
    let f = preflight(&bytes).unwrap();
    let url =
        ksef_crypto::qr::kod1_url_for_invoice(&ksef_crypto::qr::QrEnvironment::Test, &f).unwrap();
    assert_eq!(
        url,
        format!(
            "https://qr-test.ksef.mf.gov.pl/invoice/{nip}/01-02-2026/{}",
            ksef_crypto::b64::encode_url(ksef_crypto::b64::sha256(&bytes))
        )
    );
    assert_eq!(FormCode::Fa3.system_code(), "FA (3)");
    assert_eq!(FormCode::FaRr1.schema_version(), "1-1E");
    assert_eq!(FormCode::PefKor3.value(), "PEF");
}

const NS3: &str = "http://crd.gov.pl/wzor/2025/06/25/13775/";

fn fa3(body_extra: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Faktura xmlns=\"{NS3}\">\n<Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP></DaneIdentyfikacyjne></Podmiot1>\n<Fa><P_1>2026-02-01</P_1><P_2>FV/1</P_2><RodzajFaktury>VAT</RodzajFaktury></Fa>{body_extra}\n</Faktura>"
    )
}

#[test]
fn each_rule_is_reported_with_position() {
    assert!(preflight(fa3("").as_bytes()).is_ok());
    assert_eq!(rule_of(preflight(b"")).0, PreflightRule::Empty);

    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(fa3("").as_bytes());
    assert_eq!(
        rule_of(preflight(&bom)),
        (PreflightRule::Utf8Bom, Some((1, 1)))
    );

    let mut bad = fa3("").into_bytes();
    let at = bad.len() - 12;
    bad[at] = 0xC3; // lone lead byte
    let (r, p) = rule_of(preflight(&bad));
    assert_eq!(r, PreflightRule::Utf8);
    assert_eq!(p.unwrap().0, 4);

    let latin2 = fa3("").replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-2\"");
    assert_eq!(
        rule_of(preflight(latin2.as_bytes())).0,
        PreflightRule::PrologEncoding
    );
    let no_decl = fa3("").replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "");
    assert!(preflight(no_decl.as_bytes()).is_ok(), "prolog is optional");
    let lower = fa3("").replace("UTF-8", "utf-8");
    assert!(preflight(lower.as_bytes()).is_ok());

    let pi = fa3("<?xml-stylesheet href=\"a.xsl\"?>");
    let line4 = pi.lines().nth(3).unwrap();
    let col = line4.find("<?xml-stylesheet").unwrap() as u32 + 1;
    assert_eq!(
        rule_of(preflight(pi.as_bytes())),
        (PreflightRule::ProcessingInstruction, Some((4, col)))
    );

    for c in ['\u{7F}', '\u{86}', '\u{FDD0}', '\u{1FFFE}', '\u{10FFFF}'] {
        let d = fa3("").replace("FV/1", &format!("FV/{c}"));
        let (r, p) = rule_of(preflight(d.as_bytes()));
        assert_eq!(r, PreflightRule::DiscouragedCodePoint, "U+{:04X}", c as u32);
        assert_eq!(p.unwrap().0, 4);
    }
    // U+0085 (NEL) is not in the discouraged list
    assert!(preflight(fa3("").replace("FV/1", "FV/\u{85}").as_bytes()).is_ok());

    let (r, p) = rule_of(preflight(fa3("").replace("</Fa>", "</Fb>").as_bytes()));
    assert_eq!(r, PreflightRule::WellFormed);
    assert_eq!(p.unwrap().0, 4);

    let other = fa3("").replace(NS3, "http://example.com/");
    assert_eq!(
        rule_of(preflight(other.as_bytes())).0,
        PreflightRule::UnknownForm
    );

    let no_p2 = fa3("").replace("<P_2>FV/1</P_2>", "");
    assert_eq!(
        rule_of(preflight(no_p2.as_bytes())).0,
        PreflightRule::RequiredField
    );
    let bad_date = fa3("").replace("2026-02-01", "01.02.2026");
    assert_eq!(
        rule_of(preflight(bad_date.as_bytes())),
        (PreflightRule::RequiredField, Some((4, 5)))
    );
    let bad_nip = fa3("").replace("5265877635", "0265877635");
    assert_eq!(
        rule_of(preflight(bad_nip.as_bytes())).0,
        PreflightRule::RequiredField
    );
    // checksum is reported, not enforced
    let f = preflight(fa3("").replace("5265877635", "5265877636").as_bytes()).unwrap();
    assert!(!f.seller_nip_checksum_ok);
}

#[test]
fn size_limits() {
    let pad = |n: usize| format!("<!--{}-->", "x".repeat(n));
    let big = fa3(&pad(1_000_001));
    assert_eq!(
        rule_of(preflight(big.as_bytes())).0,
        PreflightRule::SizeLimit
    );
    // with an attachment the limit is 3 MB
    let att = fa3(&format!("<Zalacznik/>{}", pad(1_500_000)));
    let f = preflight(att.as_bytes()).unwrap();
    assert!(f.has_attachments);
    let huge = fa3(&format!("<Zalacznik/>{}", pad(3_000_001)));
    assert_eq!(
        rule_of(preflight(huge.as_bytes())).0,
        PreflightRule::SizeLimit
    );
    // exactly at the limit passes
    let base = fa3("").len() + 7;
    let exact = fa3(&pad(1_000_000 - base));
    assert_eq!(exact.len(), 1_000_000);
    assert!(preflight(exact.as_bytes()).is_ok());
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = preflight(&bytes);
    }

    #[test]
    fn never_panics_on_mutated_invoices(idx in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
        let mut doc = fa3("").into_bytes();
        let i = idx % doc.len();
        doc[i] = byte;
        doc.truncate(doc.len() - cut.min(doc.len()));
        let _ = preflight(&doc);
    }
}
