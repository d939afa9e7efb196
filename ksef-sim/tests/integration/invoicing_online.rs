//! Online sessions over real HTTP: happy path with UPOs validated by xmllint,
//! wrong key → 415, wrong hash/size → 21403/21402, duplicates → 440, invoice
//! rules → 450, session outcomes 440/445, failed list paging.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use harness::*;
use serde_json::{Value, json};

#[tokio::test]
async fn online_happy_path_with_upos_and_download() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    assert_eq!(session.len(), 36);
    assert_eq!(&session[8..12], "-SO-");
    let status = env.get_json(&format!("/sessions/{session}")).await;
    assert_eq!(status["status"]["code"], 100);

    let inv1 = invoice_fa3(&env.nip, &unique_number());
    let inv2 = invoice_fa3(&env.nip, &unique_number());
    let r1 = env.send(&session, &k, &inv1).await;
    let r2 = env.send(&session, &k, &inv2).await;

    let s1 = env.wait_invoice(&session, &r1).await;
    assert_eq!(s1["status"]["code"], 200, "{s1}");
    let ksef1 = s1["ksefNumber"].as_str().unwrap().to_string();
    assert!(ksef_number_ok(&ksef1), "{ksef1}");
    assert!(ksef1.starts_with(&env.nip));
    assert_eq!(s1["invoiceHash"], sha_b64(&inv1));
    assert!(s1["acquisitionDate"].is_string());
    assert!(s1["permanentStorageDate"].is_string());
    assert_eq!(s1["ordinalNumber"], 1);
    let s2 = env.wait_invoice(&session, &r2).await;
    let ksef2 = s2["ksefNumber"].as_str().unwrap().to_string();
    assert_ne!(ksef1, ksef2);

    // Invoice UPO by invoice reference (authenticated) with x-ms-meta-hash.
    let r = env
        .get_as_owner(&format!("/sessions/{session}/invoices/{r1}/upo"))
        .await;
    assert_eq!(r.status(), 200);
    let hash = r.headers()["x-ms-meta-hash"].to_str().unwrap().to_string();
    let upo = r.bytes().await.unwrap();
    assert_eq!(hash, sha_b64(&upo));
    let upo_text = String::from_utf8(upo.to_vec()).unwrap();
    assert!(upo_text.contains(&ksef1));
    assert!(upo_text.contains(&sha_b64(&inv1)));
    assert!(upo_text.contains(&session));
    assert_upo_valid(&upo);

    // By KSeF number.
    let r = env
        .get_as_owner(&format!("/sessions/{session}/invoices/ksef/{ksef2}/upo"))
        .await;
    assert_eq!(r.status(), 200);
    let upo2 = r.bytes().await.unwrap();
    assert!(String::from_utf8_lossy(&upo2).contains(&ksef2));
    assert_upo_valid(&upo2);

    // Presigned invoice UPO URL: plain GET, no token.
    let url = s1["upoDownloadUrl"].as_str().unwrap();
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), upo);

    // Close → 170 → 200 with a session UPO.
    env.close_online(&session).await;
    let fin = env.wait_session(&session).await;
    assert_eq!(fin["status"]["code"], 200, "{fin}");
    assert_eq!(fin["invoiceCount"], 2);
    assert_eq!(fin["successfulInvoiceCount"], 2);
    assert_eq!(fin["failedInvoiceCount"], 0);
    let pages = fin["upo"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1);
    let page_url = pages[0]["downloadUrl"].as_str().unwrap();
    let r = reqwest::get(page_url).await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers()["x-ms-meta-hash"].to_str().unwrap().to_string();
    let session_upo = r.bytes().await.unwrap();
    assert_eq!(h, sha_b64(&session_upo));
    let text = String::from_utf8(session_upo.to_vec()).unwrap();
    assert!(text.contains(&ksef1) && text.contains(&ksef2));
    assert!(text.contains("<CalkowitaLiczbaDokumentow>2</CalkowitaLiczbaDokumentow>"));
    assert_upo_valid(&session_upo);
    // Same page through the authenticated endpoint.
    let upo_ref = pages[0]["referenceNumber"].as_str().unwrap();
    let r = env
        .get_as_owner(&format!("/sessions/{session}/upo/{upo_ref}"))
        .await;
    assert_eq!(r.bytes().await.unwrap(), session_upo);

    // Download the invoice by KSeF number: the exact bytes sent.
    let r = env.get_as_owner(&format!("/invoices/ksef/{ksef1}")).await;
    assert_eq!(r.status(), 200);
    let h = r.headers()["x-ms-meta-hash"].to_str().unwrap().to_string();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.as_ref(), inv1.as_slice());
    assert_eq!(h, sha_b64(&inv1));

    // Session list shows it as Succeeded.
    let list = env
        .get_json("/sessions?sessionType=Online&statuses=Succeeded")
        .await;
    let found = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["referenceNumber"] == session.as_str());
    assert!(found, "{list}");
    let none = env.get_json("/sessions?sessionType=Batch").await;
    assert!(none["sessions"].as_array().unwrap().is_empty());

    // Sending after close is refused.
    let r = env
        .post(
            &format!("/sessions/online/{session}/invoices"),
            &Env::send_body(&k, &invoice_fa3(&env.nip, "X")),
        )
        .await;
    assert_eq!(exception_code(r).await, 21180);
}

#[tokio::test]
async fn wrong_aes_key_gives_415() {
    let env = start(default_config()).await;
    let k = Keys::random();
    // Classic mistake: the AES key Base64-encoded before wrapping (44 bytes, not 32).
    let encoded = b64(&k.key);
    let r = env
        .post(
            "/sessions/online",
            &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
                     "encryption": env.encryption_of(encoded.as_bytes(), &k.iv) }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let session = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env.get_json(&format!("/sessions/{session}")).await;
    assert_eq!(st["status"]["code"], 415, "{st}");
    let r = env
        .post(
            &format!("/sessions/online/{session}/invoices"),
            &Env::send_body(&k, b"<x/>"),
        )
        .await;
    assert_eq!(exception_code(r).await, 21180);

    // A key wrapped under something else entirely (random bytes) does not unwrap either.
    let r = env
        .post(
            "/sessions/online",
            &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
                     "encryption": { "encryptedSymmetricKey": b64(&[7u8; 256]), "initializationVector": b64(&k.iv) } }),
        )
        .await;
    let session = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.get_json(&format!("/sessions/{session}")).await["status"]["code"],
        415
    );

    // Unknown publicKeyId → 21470.
    let mut enc = env.encryption(&k);
    enc["publicKeyId"] = json!(sha_b64(b"unknown key"));
    let r = env
        .post("/sessions/online", &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" }, "encryption": enc }))
        .await;
    assert_eq!(exception_code(r).await, 21470);
}

#[tokio::test]
async fn wrong_hash_and_size_are_rejected() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let inv = invoice_fa3(&env.nip, &unique_number());
    let path = format!("/sessions/online/{session}/invoices");

    let mut body = Env::send_body(&k, &inv);
    body["invoiceHash"] = json!(sha_b64(b"something else"));
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21403);

    let mut body = Env::send_body(&k, &inv);
    body["encryptedInvoiceHash"] = json!(sha_b64(b"something else"));
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21403);

    let mut body = Env::send_body(&k, &inv);
    body["invoiceSize"] = json!(inv.len() + 1);
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21402);

    let mut body = Env::send_body(&k, &inv);
    body["encryptedInvoiceSize"] = json!(1);
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21402);

    // Encrypted with another key: decryption fails → invoice status 435.
    let other = key_that_fails_padding(&k, &inv);
    let r = env.send(&session, &other, &inv).await;
    let st = env.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 435, "{st}");

    // Unknown session → 21173.
    let r = env
        .post(
            &format!(
                "/sessions/online/{}/invoices",
                "20250625-SO-2C3E6C8000-B675CF5D68-07"
            ),
            &Env::send_body(&k, &inv),
        )
        .await;
    assert_eq!(exception_code(r).await, 21173);
}

#[tokio::test]
async fn duplicate_gives_440_with_original_ksef_number() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let s1 = env.open_online(&k).await;
    let inv = invoice_fa3(&env.nip, &unique_number());
    let first = env.send(&s1, &k, &inv).await;
    let st = env.wait_invoice(&s1, &first).await;
    let original = st["ksefNumber"].as_str().unwrap().to_string();
    env.close_online(&s1).await;

    // Same (NIP, RodzajFaktury, P_2) in another session, even with other bytes.
    let k2 = Keys::random();
    let s2 = env.open_online(&k2).await;
    let altered = String::from_utf8(inv.clone())
        .unwrap()
        .replace("Generator danych", "Inny generator")
        .into_bytes();
    let dup = env.send(&s2, &k2, &altered).await;
    let st = env.wait_invoice(&s2, &dup).await;
    assert_eq!(st["status"]["code"], 440, "{st}");
    assert!(st.get("ksefNumber").is_none());
    assert_eq!(
        st["status"]["extensions"]["originalKsefNumber"],
        original.as_str()
    );
    assert_eq!(
        st["status"]["extensions"]["originalSessionReferenceNumber"],
        s1.as_str()
    );

    // Only duplicates → 445 on close.
    env.close_online(&s2).await;
    let fin = env.wait_session(&s2).await;
    assert_eq!(fin["status"]["code"], 445, "{fin}");
    assert!(fin.get("upo").is_none());
    let failed = env
        .get_json(&format!("/sessions/{s2}/invoices/failed"))
        .await;
    assert_eq!(failed["invoices"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invoice_rules_give_450_and_failed_list_pages() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let good = invoice_fa3(&env.nip, &unique_number());
    let text = String::from_utf8(good.clone()).unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(&good);
    let bad_cases: Vec<Vec<u8>> = vec![
        bom,
        text.replace("utf-8", "windows-1250").into_bytes(),
        text.replace("<Naglowek>", "<?pi data?><Naglowek>")
            .into_bytes(),
        text.replace("</Faktura>", "").into_bytes(),
        // FA(2) namespace in an FA(3) session.
        text.replace("2025/06/25/13775", "2023/06/29/12648")
            .into_bytes(),
        text.replace("<P_2>", "<P_2>\u{0086}").into_bytes(),
        text.replace(&env.nip, "0000000000").into_bytes(),
    ];
    let mut refs = Vec::new();
    for (i, bad) in bad_cases.iter().enumerate() {
        // Make every P_2 distinct so no duplicate rule interferes.
        let bad = String::from_utf8_lossy(bad)
            .replace("FA/GRQMB-", &format!("FA/B{i}-"))
            .into_bytes();
        let bad = if i == 0 {
            [&[0xEF, 0xBB, 0xBF][..], &bad[3..]].concat()
        } else {
            bad
        };
        refs.push(env.send(&session, &k, &bad).await);
    }
    // Attachments are not allowed in online sessions → 415.
    let att = text.replace(
        "</Faktura>",
        "<Zalacznik><BlokDanych><ZNaglowek>x</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>",
    );
    let att_ref = env
        .send(&session, &k, att.replace("FA/GRQMB-", "FA/ATT-").as_bytes())
        .await;
    for r in &refs {
        let st = env.wait_invoice(&session, r).await;
        assert_eq!(st["status"]["code"], 450, "{st}");
        assert!(!st["status"]["details"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        env.wait_invoice(&session, &att_ref).await["status"]["code"],
        415
    );
    // Add more failures to exceed one page of 10, plus one good invoice.
    for i in 0..4 {
        let x = text
            .replace("</Faktura>", "")
            .replace("FA/GRQMB-", &format!("FA/M{i}-"));
        env.send(&session, &k, x.as_bytes()).await;
    }
    let ok = env.send(&session, &k, &good).await;
    assert_eq!(env.wait_invoice(&session, &ok).await["status"]["code"], 200);
    env.close_online(&session).await;
    let fin = env.wait_session(&session).await;
    assert_eq!(fin["status"]["code"], 200);
    assert_eq!(fin["failedInvoiceCount"], 12);
    assert_eq!(fin["successfulInvoiceCount"], 1);

    // Failed list: 12 entries over two pages of 10 with a continuation token.
    let p1 = env
        .get_json(&format!("/sessions/{session}/invoices/failed?pageSize=10"))
        .await;
    assert_eq!(p1["invoices"].as_array().unwrap().len(), 10);
    let token = p1["continuationToken"].as_str().unwrap().to_string();
    let r = env
        .http
        .get(env.url(&format!("/sessions/{session}/invoices/failed?pageSize=10")))
        .bearer_auth(&env.token)
        .header("x-continuation-token", token)
        .send()
        .await
        .unwrap();
    let p2: Value = r.json().await.unwrap();
    assert_eq!(p2["invoices"].as_array().unwrap().len(), 2);
    assert!(p2.get("continuationToken").is_none());
    // A continuation token the list did not issue answers 21418 (as GET /auth/sessions does).
    for list in [
        format!("/sessions/{session}/invoices"),
        "/sessions?sessionType=Online".into(),
    ] {
        let r = env
            .http
            .get(env.url(&list))
            .bearer_auth(&env.token)
            .header("x-continuation-token", "not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(exception_code(r).await, 21418, "{list}");
    }
    let all = env
        .get_json(&format!("/sessions/{session}/invoices?pageSize=100"))
        .await;
    assert_eq!(all["invoices"].as_array().unwrap().len(), 13);
    // pageSize outside 10..1000 → 21405.
    let r = env
        .get_as_owner(&format!("/sessions/{session}/invoices?pageSize=5"))
        .await;
    assert_eq!(exception_code(r).await, 21405);
}

#[tokio::test]
async fn empty_session_is_cancelled_with_440() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    env.close_online(&session).await;
    // Second close: the status (170) forbids it.
    let r = env
        .post(&format!("/sessions/online/{session}/close"), &json!({}))
        .await;
    assert_eq!(exception_code(r).await, 21180);
    let fin = env.wait_session(&session).await;
    assert_eq!(fin["status"]["code"], 440);
    assert_eq!(fin["invoiceCount"], 0);
    // Another context does not see this session.
    let other = env.control().issue_test_access_token(&random_nip());
    let r = env
        .http
        .get(env.url(&format!("/sessions/{session}")))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(exception_code(r).await, 21173);
    // No token → 401.
    let r = env
        .http
        .get(env.url(&format!("/sessions/{session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn technical_correction_of_a_rejected_offline_invoice() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let path = format!("/sessions/online/{session}/invoices");
    let good = invoice_fa3(&env.nip, &unique_number());
    let rejected = String::from_utf8(good.clone())
        .unwrap()
        .replace("</Faktura>", "")
        .into_bytes();
    let mut body = Env::send_body(&k, &rejected);
    body["offlineMode"] = json!(true);
    let r = env.post(&path, &body).await;
    let inv: Value = r.json().await.unwrap();
    let st = env
        .wait_invoice(&session, inv["referenceNumber"].as_str().unwrap())
        .await;
    assert_eq!(st["status"]["code"], 450);
    assert_eq!(st["invoicingMode"], "Offline");

    // hashOfCorrectedInvoice needs offlineMode.
    let mut body = Env::send_body(&k, &good);
    body["hashOfCorrectedInvoice"] = json!(sha_b64(&rejected));
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21405);

    body["offlineMode"] = json!(true);
    let r = env.post(&path, &body).await;
    assert_eq!(r.status(), 202);
    let inv: Value = r.json().await.unwrap();
    let st = env
        .wait_invoice(&session, inv["referenceNumber"].as_str().unwrap())
        .await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let ksef = st["ksefNumber"].as_str().unwrap().to_string();

    // A second correction of the same invoice → 21166.
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21166);
    // Correcting an accepted invoice → 21167.
    let mut body = Env::send_body(&k, &invoice_fa3(&env.nip, &unique_number()));
    body["offlineMode"] = json!(true);
    body["hashOfCorrectedInvoice"] = json!(sha_b64(&good));
    assert_eq!(exception_code(env.post(&path, &body).await).await, 21167);

    // Metadata carries the offline mode and the corrected hash.
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let r = env
        .post(
            "/invoices/query/metadata",
            &json!({ "subjectType": "Subject1", "dateRange": { "dateType": "Invoicing", "from": from }, "ksefNumber": ksef }),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invoices"][0]["invoicingMode"], "Offline");
    assert_eq!(
        v["invoices"][0]["hashOfCorrectedInvoice"],
        sha_b64(&rejected)
    );
}

#[tokio::test]
async fn async_failure_gives_550_for_one_invoice() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    env.control().inject(
        ksef_sim::ops::ONLINE_SESSION_SEND_INVOICE,
        ksef_sim::Fault::AsyncFailure { count: 1 },
    );
    let inv = invoice_fa3(&env.nip, &unique_number());
    let r = env.send(&session, &k, &inv).await;
    assert_eq!(env.wait_invoice(&session, &r).await["status"]["code"], 550);
    // Retrying the same invoice works (it was never registered).
    let r = env.send(&session, &k, &inv).await;
    assert_eq!(env.wait_invoice(&session, &r).await["status"]["code"], 200);
}

#[tokio::test]
async fn session_upo_in_pages() {
    let cfg = default_config();
    let invoicing = cfg.invoicing.clone().with_upo_page_size(2);
    let env = start(cfg.with_invoicing(invoicing)).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let mut ksefs = Vec::new();
    for _ in 0..3 {
        let r = env
            .send(&session, &k, &invoice_fa3(&env.nip, &unique_number()))
            .await;
        ksefs.push(
            env.wait_invoice(&session, &r).await["ksefNumber"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    env.close_online(&session).await;
    let fin = env.wait_session(&session).await;
    let pages = fin["upo"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    let mut seen = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let xml = reqwest::get(p["downloadUrl"].as_str().unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_upo_valid(&xml);
        let doc = roxmltree::Document::parse(std::str::from_utf8(&xml).unwrap()).unwrap();
        let text = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .unwrap()
                .to_string()
        };
        assert_eq!(text("Strona"), (i + 1).to_string());
        assert_eq!(text("LiczbaStron"), "2");
        assert_eq!(text("CalkowitaLiczbaDokumentow"), "3");
        assert_eq!(text("ZakresDokumentowOd"), (i * 2 + 1).to_string());
        seen.extend(
            doc.descendants()
                .filter(|n| n.has_tag_name("NumerKSeFDokumentu"))
                .map(|n| n.text().unwrap().to_string()),
        );
    }
    seen.sort();
    ksefs.sort();
    assert_eq!(seen, ksefs);
}

#[tokio::test]
async fn session_list_pages_and_filters() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let mut refs = Vec::new();
    for _ in 0..11 {
        refs.push(env.open_online(&k).await);
    }
    env.close_online(&refs[0]).await;
    let p1 = env
        .get_json("/sessions?sessionType=Online&pageSize=10")
        .await;
    assert_eq!(p1["sessions"].as_array().unwrap().len(), 10);
    let token = p1["continuationToken"].as_str().unwrap().to_string();
    let r = env
        .http
        .get(env.url("/sessions?sessionType=Online&pageSize=10"))
        .bearer_auth(&env.token)
        .header("x-continuation-token", token)
        .send()
        .await
        .unwrap();
    let p2: Value = r.json().await.unwrap();
    assert_eq!(p2["sessions"].as_array().unwrap().len(), 1);
    assert!(p2.get("continuationToken").is_none());
    let mut all: Vec<String> = p1["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["sessions"].as_array().unwrap())
        .map(|s| s["referenceNumber"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    let mut expected = refs.clone();
    expected.sort();
    assert_eq!(all, expected);
    // Only the closed one matches a dateClosed filter; by reference number.
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let closed = env
        .get_json(&format!(
            "/sessions?sessionType=Online&dateClosedFrom={from}"
        ))
        .await;
    assert_eq!(closed["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(closed["sessions"][0]["referenceNumber"], refs[0].as_str());
    let one = env
        .get_json(&format!(
            "/sessions?sessionType=Online&referenceNumber={}",
            refs[5]
        ))
        .await;
    assert_eq!(one["sessions"].as_array().unwrap().len(), 1);
    // InProgress: the 10 open ones (the closed one may still be at 170 → also InProgress, or final).
    let open = env
        .get_json("/sessions?sessionType=Online&statuses=InProgress&pageSize=100")
        .await;
    assert!(open["sessions"].as_array().unwrap().len() >= 10);
    // sessionType is required.
    assert_eq!(
        exception_code(env.get_as_owner("/sessions").await).await,
        21405
    );
}

#[tokio::test]
async fn a_session_under_maintenance_answers_21184_and_accepts_the_invoice_later() {
    let env = start(default_config()).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    env.control().inject(
        ksef_sim::ops::ONLINE_SESSION_SEND_INVOICE,
        ksef_sim::Fault::SessionUnavailable { count: 1 },
    );
    let invoice = invoice_fa3(&env.nip, &unique_number());
    let path = format!("/sessions/online/{session}/invoices");
    let r = env.post(&path, &Env::send_body(&k, &invoice)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let detail = &v["exception"]["exceptionDetailList"][0];
    assert_eq!(detail["exceptionCode"], 21184);
    assert!(detail["details"][0].as_str().unwrap().contains(&session));
    // Nothing was registered; the same invoice goes through once the session is back.
    let list = env.get_json(&format!("/sessions/{session}/invoices")).await;
    assert_eq!(list["invoices"].as_array().unwrap().len(), 0);
    let reference = env.send(&session, &k, &invoice).await;
    let st = env.wait_invoice(&session, &reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
}

/// Processing is timed by the simulator's clock, the same clock every date comes from: with a
/// clock that stands still an invoice stays at 150 however long the test waits, and once the
/// clock moves past the processing delay it is numbered, with `acquisitionDate` exactly that
/// delay after `invoicingDate`.
#[tokio::test]
async fn processing_is_timed_by_the_simulators_clock() {
    let start_at = chrono::DateTime::parse_from_rfc3339("2027-10-31T00:30:00Z")
        .unwrap()
        .to_utc();
    let clock = std::sync::Arc::new(ksef_time::FixedClock::at(start_at));
    let env = start(default_config().with_clock(clock.clone())).await;
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let yesterday = ksef_time::business_date(start_at).pred_opt().unwrap();
    let invoice = invoice_fa3_on(&env.nip, &unique_number(), yesterday);
    let inv = env.send(&session, &k, &invoice).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let still = env
        .get_json(&format!("/sessions/{session}/invoices/{inv}"))
        .await;
    assert_eq!(still["status"]["code"], 150, "{still}");
    assert!(still.get("ksefNumber").is_none());
    clock.advance(chrono::TimeDelta::seconds(1));
    let done = env.wait_invoice(&session, &inv).await;
    assert_eq!(done["status"]["code"], 200, "{done}");
    let received =
        chrono::DateTime::parse_from_rfc3339(done["invoicingDate"].as_str().unwrap()).unwrap();
    let acquired =
        chrono::DateTime::parse_from_rfc3339(done["acquisitionDate"].as_str().unwrap()).unwrap();
    assert_eq!(received.to_utc(), start_at);
    // default_config(): 30 ms processing delay
    assert_eq!(acquired - received, chrono::TimeDelta::milliseconds(30));
}
