//! Invoices are validated against the official XSD of their form, as KSeF does: the real FA (3)
//! examples of the reference data that conform are accepted, the ones that do not are refused with
//! 450 and libxml2's message naming the element; FA (2), FA_RR (1) and PEF (3) invoices are judged
//! by their own schema. The invoices come from `../shared/ksef-samples` (read at run time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::path::PathBuf;

use harness::*;
use serde_json::Value;

fn samples() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/ksef-samples"
    ))
}

fn examples(kind: &str) -> Vec<(String, String)> {
    let dir = samples().join("fa3-examples").join(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reference data {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no examples in {}", dir.display());
    out
}

/// Replaces the text of the first `<tag>` after `after`.
fn replace_text_after(xml: &str, after: &str, tag: &str, value: &str) -> String {
    let start = xml.find(after).unwrap_or_else(|| panic!("no {after}"));
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let from = start + xml[start..].find(&open).unwrap() + open.len();
    let to = from + xml[from..].find(&close).unwrap();
    format!("{}{value}{}", &xml[..from], &xml[to..])
}

/// The example as the context's own invoice: its seller (Podmiot1) NIP and a fresh number (P_2).
fn as_own(xml: &str, nip: &str) -> Vec<u8> {
    let xml = replace_text_after(xml, "<Podmiot1>", "NIP", nip);
    replace_text_after(&xml, "<Fa>", "P_2", &unique_number()).into_bytes()
}

async fn send_all(env: &Env, form: (&str, &str, &str), invoices: &[Vec<u8>]) -> Vec<Value> {
    let k = Keys::random();
    let session = env.open_online_form(&k, form).await;
    let mut refs = Vec::new();
    for invoice in invoices {
        refs.push(env.send(&session, &k, invoice).await);
    }
    let mut out = Vec::new();
    for r in &refs {
        out.push(env.wait_invoice(&session, r).await);
    }
    out
}

fn details(status: &Value) -> String {
    status["status"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

const FA3: (&str, &str, &str) = ("FA (3)", "1-0E", "FA");

#[tokio::test]
async fn the_conforming_fa3_examples_are_accepted() {
    let env = start(default_config()).await;
    let valid = examples("valid");
    let invoices: Vec<Vec<u8>> = valid.iter().map(|(_, x)| as_own(x, &env.nip)).collect();
    let outcomes = send_all(&env, FA3, &invoices).await;
    for ((name, xml), outcome) in valid.iter().zip(&outcomes) {
        let code = outcome["status"]["code"].as_i64().unwrap();
        if xml.contains("<Zalacznik>") {
            // Schema-valid, then refused for its attachment: online sessions never take them.
            assert_eq!(code, 415, "{name}: {outcome}");
        } else {
            assert_eq!(code, 200, "{name}: {outcome}");
            assert!(outcome["ksefNumber"].is_string(), "{name}: {outcome}");
        }
    }
}

#[tokio::test]
async fn the_non_conforming_fa3_examples_get_450_with_the_validator_message() {
    let env = start(default_config()).await;
    let invalid = examples("invalid");
    let invoices: Vec<Vec<u8>> = invalid.iter().map(|(_, x)| as_own(x, &env.nip)).collect();
    let outcomes = send_all(&env, FA3, &invoices).await;
    let mut named = Vec::new();
    for ((name, _), outcome) in invalid.iter().zip(&outcomes) {
        assert_eq!(outcome["status"]["code"], 450, "{name}: {outcome}");
        assert!(outcome["ksefNumber"].is_null(), "{name}: {outcome}");
        let details = details(outcome);
        assert!(
            details.contains("Schemat_FA(3)_v1-0E.xsd"),
            "{name}: {details}"
        );
        // libxml2's message names the offending element (with its namespace).
        assert!(
            details.contains("{http://crd.gov.pl/wzor/2025/06/25/13775/}"),
            "{name}: {details}"
        );
        named.push(details);
    }
    let all = named.join("\n");
    assert!(all.contains("TerminOpis"), "{all}");
    assert!(all.contains("NrKSeFFaKorygowanej"), "{all}");
    // Neither got a KSeF number: nothing to find in the context's invoices.
    let r = env
        .post(
            "/invoices/query/metadata?pageSize=100",
            &serde_json::json!({
                "subjectType": "Subject1",
                "dateRange": { "dateType": "Invoicing",
                    "from": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
                    "to": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339() }
            }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invoices"].as_array().unwrap().len(), 0, "{v}");
}

#[tokio::test]
async fn a_schema_error_of_the_template_is_refused_where_the_structural_rules_would_pass() {
    let env = start(default_config()).await;
    let good = invoice_fa3(&env.nip, &unique_number());
    let text = String::from_utf8(good.clone()).unwrap();
    // An unknown element inside Fa: structurally harmless, not allowed by the schema.
    let unknown = text.replacen("<P_2>", "<Uwagi>x</Uwagi><P_2>", 1);
    // A currency code outside the schema's enumeration.
    let currency = replace_text_after(&text, "<Fa>", "KodWaluty", "QQQ");
    let outcomes = send_all(
        &env,
        FA3,
        &[unknown.into_bytes(), currency.into_bytes(), good],
    )
    .await;
    assert_eq!(outcomes[0]["status"]["code"], 450, "{}", outcomes[0]);
    assert!(details(&outcomes[0]).contains("Uwagi"), "{}", outcomes[0]);
    assert_eq!(outcomes[1]["status"]["code"], 450, "{}", outcomes[1]);
    assert!(
        details(&outcomes[1]).contains("KodWaluty"),
        "{}",
        outcomes[1]
    );
    assert_eq!(outcomes[2]["status"]["code"], 200, "{}", outcomes[2]);
}

#[tokio::test]
async fn every_form_is_judged_by_its_own_schema() {
    let env = start(default_config()).await;
    let yesterday = ksef_time::business_date(chrono::Utc::now())
        .pred_opt()
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let read = |name: &str| std::fs::read_to_string(samples().join(name)).unwrap();

    // FA (2): the template, then without its invoice number.
    let fa2 = read("invoice-template.xml")
        .replace("#nip#", &env.nip)
        .replace("#invoicing_date#", &yesterday)
        .replace("#invoice_number#", &unique_number());
    let fa2_broken = cut_element(&fa2, "P_2");
    let out = send_all(
        &env,
        ("FA (2)", "1-0E", "FA"),
        &[fa2.into_bytes(), fa2_broken.into_bytes()],
    )
    .await;
    assert_eq!(out[0]["status"]["code"], 200, "{}", out[0]);
    assert_eq!(out[1]["status"]["code"], 450, "{}", out[1]);
    let d = details(&out[1]);
    assert!(
        d.contains("Schemat_FA(2)_v1-0E.xsd") && d.contains("12648"),
        "{d}"
    );

    // FA_RR (1): the template, then with a date that is not a date.
    let rr = read("invoice-template-fa-rr-1.xml")
        .replace("#nip#", &env.nip)
        .replace("#buyer_nip#", TEMPLATE_BUYER_NIP)
        .replace("#invoice_number#", &unique_number());
    let rr_broken = replace_text_after(&rr, "<FakturaRR>", "P_4B", "2026-13-45");
    let out = send_all(
        &env,
        ("FA_RR (1)", "1-1E", "FA_RR"),
        &[rr.into_bytes(), rr_broken.into_bytes()],
    )
    .await;
    assert_eq!(out[0]["status"]["code"], 200, "{}", out[0]);
    assert_eq!(out[1]["status"]["code"], 450, "{}", out[1]);
    assert!(details(&out[1]).contains("P_4B"), "{}", out[1]);

    // PEF (3): the template, then with an element UBL does not know.
    let pef = read("invoice_template_pef.xml")
        .replace("#supplier_nip#", &env.nip)
        .replace("#buyer_nip#", TEMPLATE_BUYER_NIP)
        .replace("#invoice_number#", &unique_number())
        .replace("#issue_date#", &yesterday)
        .replace("#due_date#", &yesterday)
        .replace("#iban#", "PL61109010140000071219812874")
        .replace("#buyer_reference#", "REF-1")
        .replace("#compliant#", "");
    let pef_broken = pef.replacen(
        "<cbc:ProfileID>",
        "<cbc:Colour>red</cbc:Colour><cbc:ProfileID>",
        1,
    );
    let out = send_all(
        &env,
        ("PEF (3)", "2-1", "PEF"),
        &[pef.into_bytes(), pef_broken.into_bytes()],
    )
    .await;
    assert_eq!(out[1]["status"]["code"], 450, "{}", out[1]);
    let d = details(&out[1]);
    assert!(
        d.contains("Schemat_PEF(3)_v2-1.xsd") && d.contains("Colour"),
        "{d}"
    );
    // The sample PEF invoice is judged by the PEF schema, not by FA (3)'s.
    assert_ne!(out[0]["status"]["code"], 100, "{}", out[0]);
    assert!(
        !details(&out[0]).contains("Schemat_PEF(3)_v2-1.xsd"),
        "{}",
        out[0]
    );
}

/// The document without its first `<tag>…</tag>`.
fn cut_element(xml: &str, tag: &str) -> String {
    let from = xml.find(&format!("<{tag}>")).unwrap();
    let close = format!("</{tag}>");
    let to = from + xml[from..].find(&close).unwrap() + close.len();
    format!("{}{}", &xml[..from], &xml[to..])
}
