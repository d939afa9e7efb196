//! Every JSON body the invoicing endpoints answer, checked against the
//! response schemas of the official OpenAPI document (independent oracle for
//! shapes: required/unknown properties, types, enums, formats).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::io::Read;

use harness::spec::{assert_component, assert_problem, assert_response};
use harness::*;
use serde_json::{Value, json};

async fn checked(
    env: &Env,
    method: &str,
    template: &str,
    path: &str,
    body: Option<&Value>,
    status: u16,
) -> Value {
    let r = match body {
        Some(b) => env
            .http
            .request(method.parse().unwrap(), env.url(path))
            .bearer_auth(&env.token)
            .json(b)
            .send()
            .await
            .unwrap(),
        None => env
            .http
            .request(method.parse().unwrap(), env.url(path))
            .bearer_auth(&env.token)
            .send()
            .await
            .unwrap(),
    };
    assert_eq!(r.status().as_u16(), status, "{method} {path}");
    let v: Value = r.json().await.unwrap();
    assert_response(method, template, status, &v);
    v
}

#[tokio::test]
async fn responses_match_the_spec() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let open = json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" }, "encryption": env.encryption(&k) });
    let v = checked(
        &env,
        "POST",
        "/sessions/online",
        "/sessions/online",
        Some(&open),
        201,
    )
    .await;
    let session = v["referenceNumber"].as_str().unwrap().to_string();
    let good = invoice_fa3(&env.nip, &unique_number());
    let bad = String::from_utf8(good.clone())
        .unwrap()
        .replace("</Faktura>", "")
        .replace("FA/GRQMB-", "FA/BAD-");
    let t_send = "/sessions/online/{referenceNumber}/invoices";
    let p_send = format!("/sessions/online/{session}/invoices");
    let v = checked(
        &env,
        "POST",
        t_send,
        &p_send,
        Some(&Env::send_body(&k, &good)),
        202,
    )
    .await;
    let inv = v["referenceNumber"].as_str().unwrap().to_string();
    checked(
        &env,
        "POST",
        t_send,
        &p_send,
        Some(&Env::send_body(&k, bad.as_bytes())),
        202,
    )
    .await;
    // Duplicate, for the extensions shape.
    let dup = String::from_utf8(good.clone())
        .unwrap()
        .replace("Generator danych", "Inny");
    checked(
        &env,
        "POST",
        t_send,
        &p_send,
        Some(&Env::send_body(&k, dup.as_bytes())),
        202,
    )
    .await;

    let t_inv = "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}";
    // While processing and after.
    checked(
        &env,
        "GET",
        t_inv,
        &format!("/sessions/{session}/invoices/{inv}"),
        None,
        200,
    )
    .await;
    let st = env.wait_invoice(&session, &inv).await;
    assert_response("GET", t_inv, 200, &st);
    env.close_online(&session).await;
    checked(
        &env,
        "GET",
        "/sessions/{referenceNumber}",
        &format!("/sessions/{session}"),
        None,
        200,
    )
    .await;
    let fin = env.wait_session(&session).await;
    assert_response("GET", "/sessions/{referenceNumber}", 200, &fin);
    checked(
        &env,
        "GET",
        "/sessions/{referenceNumber}/invoices",
        &format!("/sessions/{session}/invoices"),
        None,
        200,
    )
    .await;
    let failed = checked(
        &env,
        "GET",
        "/sessions/{referenceNumber}/invoices/failed",
        &format!("/sessions/{session}/invoices/failed"),
        None,
        200,
    )
    .await;
    assert_eq!(failed["invoices"].as_array().unwrap().len(), 2);
    checked(
        &env,
        "GET",
        "/sessions",
        "/sessions?sessionType=Online&pageSize=10",
        None,
        200,
    )
    .await;

    // Batch open.
    let archive = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("a.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, &invoice_fa3(&env.nip, &unique_number())).unwrap();
        w.finish().unwrap().into_inner()
    };
    let part = aes_encrypt(&k.key, &k.iv, &archive);
    let open_batch = json!({
        "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
        "batchFile": { "fileSize": archive.len(), "fileHash": sha_b64(&archive), "fileParts": [{ "ordinalNumber": 1, "fileSize": part.len(), "fileHash": sha_b64(&part) }] },
        "encryption": env.encryption(&k),
    });
    checked(
        &env,
        "POST",
        "/sessions/batch",
        "/sessions/batch",
        Some(&open_batch),
        201,
    )
    .await;

    // Retrieval.
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let filters = json!({ "subjectType": "Subject1", "dateRange": { "dateType": "PermanentStorage", "from": from } });
    let q = checked(
        &env,
        "POST",
        "/invoices/query/metadata",
        "/invoices/query/metadata",
        Some(&filters),
        200,
    )
    .await;
    assert_eq!(q["invoices"].as_array().unwrap().len(), 1);
    let export = json!({ "encryption": env.encryption(&k), "filters": filters });
    let v = checked(
        &env,
        "POST",
        "/invoices/exports",
        "/invoices/exports",
        Some(&export),
        201,
    )
    .await;
    let reference = v["referenceNumber"].as_str().unwrap().to_string();
    let st = env.wait_export(&reference).await;
    assert_response("GET", "/invoices/exports/{referenceNumber}", 200, &st);
    // `_metadata.json` entries are InvoiceMetadata.
    let p = &st["package"]["parts"][0];
    let enc = env
        .http
        .get(p["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let plain = aes_decrypt(&k.key, &k.iv, &enc);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(plain)).unwrap();
    let mut meta = String::new();
    z.by_name("_metadata.json")
        .unwrap()
        .read_to_string(&mut meta)
        .unwrap();
    let meta: Value = serde_json::from_str(&meta).unwrap();
    for m in meta["invoices"].as_array().unwrap() {
        assert_component("InvoiceMetadata", m);
    }
    // problem+json on request.
    let mut body = Env::send_body(&k, &good);
    body["invoiceHash"] = json!(sha_b64(b"other"));
    let r = env
        .http
        .post(env.url(&p_send))
        .bearer_auth(&env.token)
        .header("X-Error-Format", "problem-details")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let v: Value = r.json().await.unwrap();
    assert_problem("POST", t_send, 400, &v);
    // The session is closed by now: 21180 in problem+json form.
    assert_eq!(v["errors"][0]["code"], 21180, "{v}");
    // Error bodies too.
    let r = env.post(&p_send, &json!({})).await;
    assert_eq!(r.status(), 400);
    assert_response("POST", t_send, 400, &r.json().await.unwrap());
}

#[test]
#[should_panic(expected = "missing required")]
fn the_spec_checker_can_fail() {
    assert_component("InvoiceMetadata", &json!({ "ksefNumber": "x" }));
}

#[test]
#[should_panic(expected = "unknown property")]
fn the_spec_checker_flags_unknown_properties() {
    assert_component(
        "StatusInfo",
        &json!({ "code": 200, "description": "ok", "detail": "typo" }),
    );
}

#[test]
#[should_panic(expected = "not in enum")]
fn the_spec_checker_checks_enums() {
    assert_component("InvoicingMode", &json!("Sometimes"));
}
