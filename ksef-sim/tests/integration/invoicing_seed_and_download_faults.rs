//! Test affordances over real HTTP, with the crypto done by hand: invoices seeded straight into
//! the repository are visible like sent ones (same rules, same dates, identical timestamps when
//! asked); export part downloads carry `x-ms-meta-hash`; the `HtmlPage` and `CorruptBody`
//! faults; the package byte limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::time::Duration;

use harness::*;
use ksef_sim::{Fault, InvoicingConfig, SeedError, SeedInvoice};
use serde_json::{Value, json};

fn since_yesterday(env: &Env) -> String {
    ksef_time::format_warsaw_millis(env.clock.now() - chrono::Duration::days(1))
}

async fn export(env: &Env, k: &Keys) -> Value {
    let body = json!({
        "encryption": env.encryption(k),
        "filters": { "subjectType": "Subject1", "dateRange": { "dateType": "PermanentStorage", "from": since_yesterday(env) } },
    });
    let r = env.post("/invoices/exports", &body).await;
    assert_eq!(r.status(), 201);
    let reference = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env.wait_export(&reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    st["package"].clone()
}

#[tokio::test]
async fn seeded_invoices_are_visible_like_sent_ones() {
    let env = start(default_config()).await;
    let at = env.clock.now() - chrono::Duration::minutes(3);
    let xmls: Vec<Vec<u8>> = (0..5)
        .map(|_| invoice_fa3(&env.nip, &unique_number()))
        .collect();
    let seeded = env.control().seed_invoices(
        xmls.iter()
            .map(|x| SeedInvoice::new(x.clone()).received_at(at)),
    );
    let numbers: Vec<String> = seeded.into_iter().map(Result::unwrap).collect();
    assert!(numbers.iter().all(|k| ksef_number_ok(k)));
    // the rules apply: a duplicate and a broken invoice are refused
    let again = env
        .control()
        .seed_invoices([SeedInvoice::new(xmls[0].clone())]);
    assert!(matches!(&again[0], Err(SeedError::Duplicate { original }) if *original == numbers[0]));
    let broken = env
        .control()
        .seed_invoices([SeedInvoice::new(b"<Faktura>".to_vec())]);
    assert!(matches!(broken[0], Err(SeedError::Rejected { .. })));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // visible through the API: metadata with one shared timestamp, download with its hash
    let filters = json!({ "subjectType": "Subject1", "dateRange": { "dateType": "PermanentStorage", "from": since_yesterday(&env) } });
    let r = env
        .post("/invoices/query/metadata?pageSize=10", &filters)
        .await;
    let v: Value = r.json().await.unwrap();
    let list = v["invoices"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    let invoicing: Vec<&str> = list
        .iter()
        .map(|m| m["invoicingDate"].as_str().unwrap())
        .collect();
    assert!(
        invoicing.iter().all(|d| *d == invoicing[0]),
        "{invoicing:?}"
    );
    for (k, x) in numbers.iter().zip(&xmls) {
        let r = env.get_as_owner(&format!("/invoices/ksef/{k}")).await;
        assert_eq!(r.status(), 200);
        let hash = r.headers()["x-ms-meta-hash"].to_str().unwrap().to_string();
        let body = r.bytes().await.unwrap();
        assert_eq!(&body[..], &x[..]);
        assert_eq!(hash, sha_b64(x));
    }

    // an invoice seeded to appear later holds the high-water mark below its date
    let late =
        env.control()
            .seed_invoices([SeedInvoice::new(invoice_fa3(&env.nip, &unique_number()))
                .visible_after(Duration::from_secs(30))]);
    assert!(late[0].is_ok());
    let r = env
        .post("/invoices/query/metadata?pageSize=10", &filters)
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invoices"].as_array().unwrap().len(), 5);
    let hwm = chrono::DateTime::parse_from_rfc3339(v["permanentStorageHwmDate"].as_str().unwrap())
        .unwrap();
    assert!(hwm < env.clock.now() + chrono::Duration::seconds(1));
}

#[tokio::test]
async fn part_downloads_carry_their_hash_and_faults_change_what_comes() {
    let env = start(
        default_config().with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::ZERO)
                .with_export_part_size(1024),
        ),
    )
    .await;
    let xmls: Vec<Vec<u8>> = (0..6)
        .map(|_| invoice_fa3(&env.nip, &unique_number()))
        .collect();
    for r in env
        .control()
        .seed_invoices(xmls.into_iter().map(SeedInvoice::new))
    {
        r.unwrap();
    }
    let k = Keys::random();
    let package = export(&env, &k).await;
    let part = &package["parts"][0];
    let url = part["url"].as_str().unwrap();

    let r = env.http.get(url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let header = r.headers()["x-ms-meta-hash"].to_str().unwrap().to_string();
    let body = r.bytes().await.unwrap();
    assert_eq!(header, part["encryptedPartHash"].as_str().unwrap());
    assert_eq!(sha_b64(&body), header);

    let op = "GET /__presigned/export-part";
    env.control().inject(op, Fault::HtmlPage { count: 1 });
    let r = env.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<html>"));

    env.control().inject(op, Fault::CorruptBody { count: 1 });
    let r = env.http.get(url).send().await.unwrap();
    let corrupted = r.bytes().await.unwrap();
    assert_eq!(corrupted.len(), body.len(), "same length");
    assert_ne!(sha_b64(&corrupted), header, "other bytes");
    assert_eq!(
        corrupted
            .iter()
            .zip(body.iter())
            .filter(|(a, b)| a != b)
            .count(),
        1
    );

    // faults used up: the part again as it is
    let r = env.http.get(url).send().await.unwrap();
    assert_eq!(sha_b64(&r.bytes().await.unwrap()), header);
}

#[tokio::test]
async fn a_package_is_cut_at_the_configured_byte_limit() {
    let env = start(
        default_config().with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::ZERO)
                .with_export_max_package_bytes(1),
        ),
    )
    .await;
    for r in env
        .control()
        .seed_invoices((0..3).map(|_| SeedInvoice::new(invoice_fa3(&env.nip, &unique_number()))))
    {
        r.unwrap();
    }
    let package = export(&env, &Keys::random()).await;
    assert_eq!(package["invoiceCount"], 1);
    assert_eq!(package["isTruncated"], true);
}
