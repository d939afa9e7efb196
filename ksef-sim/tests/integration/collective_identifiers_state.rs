//! Collective identifiers kept as state: generated for invoices the context has a role on,
//! found again by creation date, by their numbers and by each invoice's KSeF number, with the
//! payment details shown only to those entitled to them, the errors of the spec (71001, 71002,
//! 71004, 71005, 21405), the context's limit and continuation-token paging. Every answer is
//! checked against the 2.9.0 schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::assert_response;
use harness::*;
use ksef_sim::SeedInvoice;
use serde_json::{Value, json};

/// Seeds `n` invoices of the seller `nip` (buyer: the template's) and returns their KSeF
/// numbers.
fn seed(env: &Env, nip: &str, n: usize) -> Vec<String> {
    env.control()
        .seed_invoices((0..n).map(|_| SeedInvoice::new(invoice_fa3(nip, &unique_number()))))
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// An owner's access token of `nip`.
fn owner(env: &Env, nip: &str) -> String {
    env.control().issue_test_access_token(nip)
}

fn members<S: AsRef<str>>(numbers: &[S]) -> Value {
    json!({
        "invoices": numbers
            .iter()
            .enumerate()
            .map(|(i, k)| json!({
                "ksefNumber": k.as_ref(),
                "payment": { "amount": 100.5 + i as f64, "currency": "PLN" },
                "description": format!("Faktura {}", i + 1),
            }))
            .collect::<Vec<_>>()
    })
}

async fn generate(env: &Env, token: &str, body: &Value) -> reqwest::Response {
    env.post_json("/collective-identifiers", body, Some(token))
        .await
}

async fn generated(env: &Env, token: &str, body: &Value) -> String {
    let r = generate(env, token, body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_response("POST", "/collective-identifiers", 201, &v);
    v["collectiveIdentifierNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The created-date window around now.
fn window(env: &Env) -> Value {
    let now = env.clock.now();
    json!({
        "dateCreatedFrom": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "dateCreatedTo": (now + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

async fn post_ok(env: &Env, path: &str, token: &str, body: &Value, spec_path: &str) -> Value {
    let r = env.post_json(path, body, Some(token)).await;
    assert_eq!(r.status(), 200, "POST {path}");
    let v: Value = r.json().await.unwrap();
    assert_response("POST", spec_path, 200, &v);
    v
}

async fn get_ok(env: &Env, path: &str, token: &str) -> Value {
    let r = env.get(path, Some(token)).await;
    assert_eq!(r.status(), 200, "GET {path}");
    let v: Value = r.json().await.unwrap();
    assert_response("GET", "/collective-identifiers/ksef/{ksefNumber}", 200, &v);
    v
}

#[tokio::test]
async fn a_collective_identifier_is_found_by_date_by_number_and_by_each_invoice() {
    let env = start(default_config()).await;
    let ks = seed(&env, &env.nip, 3);
    // the Warsaw month before and after generating: generation may straddle a month boundary
    let month_before = env.clock.today().format("%Y%m").to_string();
    let number = generated(&env, &env.token, &members(&[&ks[0], &ks[1]])).await;
    let month_after = env.clock.today().format("%Y%m").to_string();

    // NIP-IZYYYYMM-HEX(12)-CC with the seller's NIP, the Warsaw month and a CRC-8
    assert_eq!(number.len(), 35);
    assert!(number.starts_with(&format!("{}-IZ", env.nip)), "{number}");
    assert!(
        number[13..19] == month_before || number[13..19] == month_after,
        "{number}: month neither {month_before} nor {month_after}"
    );
    assert_eq!(
        format!("{:02X}", crc8(&number.as_bytes()[..32])),
        number[33..]
    );

    // by creation date, in the creating context
    let listed = post_ok(
        &env,
        "/collective-identifiers/query",
        &env.token,
        &window(&env),
        "/collective-identifiers/query",
    )
    .await;
    let ids = listed["collectiveIdentifiers"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{listed}");
    assert_eq!(ids[0]["collectiveIdentifierNumber"], number);
    assert_eq!(ids[0]["invoiceCount"], 2);
    assert_eq!(ids[0]["createdInCurrentContext"], true);
    // the filters select it or not
    for (filter, found) in [
        (json!({ "invoiceCountFrom": 3 }), 0),
        (json!({ "invoiceCountTo": 2 }), 1),
        (json!({ "createdInCurrentContext": false }), 0),
        (json!({ "collectiveIdentifierNumber": number }), 1),
    ] {
        let mut body = window(&env);
        body.as_object_mut()
            .unwrap()
            .extend(filter.as_object().unwrap().clone());
        let v = post_ok(
            &env,
            "/collective-identifiers/query",
            &env.token,
            &body,
            "/collective-identifiers/query",
        )
        .await;
        assert_eq!(
            v["collectiveIdentifiers"].as_array().unwrap().len(),
            found,
            "{body}"
        );
    }
    let mut old = json!({
        "dateCreatedFrom": (env.clock.now() - chrono::Duration::days(30)).to_rfc3339(),
        "dateCreatedTo": (env.clock.now() - chrono::Duration::days(29)).to_rfc3339(),
    });
    let v = post_ok(
        &env,
        "/collective-identifiers/query",
        &env.token,
        &old,
        "/collective-identifiers/query",
    )
    .await;
    assert!(v["collectiveIdentifiers"].as_array().unwrap().is_empty());
    old["dateCreatedFrom"] = json!((env.clock.now() - chrono::Duration::days(131)).to_rfc3339());
    let r = env
        .post_json("/collective-identifiers/query", &old, Some(&env.token))
        .await;
    assert_eq!(exception_code(r).await, 21405, "more than 100 days");

    // its invoices, newest KSeF number first, with the details the creator gave
    let inv = post_ok(
        &env,
        "/collective-identifiers/invoices",
        &env.token,
        &json!({ "collectiveIdentifierNumbers": [number] }),
        "/collective-identifiers/invoices",
    )
    .await;
    let items = inv["invoices"].as_array().unwrap();
    let mut expected = vec![ks[0].clone(), ks[1].clone()];
    expected.sort_by(|a, b| b.cmp(a));
    let got: Vec<&str> = items
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap())
        .collect();
    assert_eq!(got, expected);
    for i in items {
        assert_eq!(i["collectiveIdentifierNumber"], number);
        assert_eq!(i["detailsHidden"], false);
        assert_eq!(i["payment"]["currency"], "PLN");
        assert!(i["description"].as_str().unwrap().starts_with("Faktura "));
    }
    assert!(inv.get("continuationToken").is_none_or(Value::is_null));

    // by each invoice's KSeF number; the third invoice belongs to none
    for k in &ks[..2] {
        let v = get_ok(
            &env,
            &format!("/collective-identifiers/ksef/{k}"),
            &env.token,
        )
        .await;
        assert_eq!(
            v["collectiveIdentifiers"][0]["collectiveIdentifierNumber"],
            number
        );
        assert_eq!(
            v["collectiveIdentifiers"][0]["createdInCurrentContext"],
            true
        );
    }
    let v = get_ok(
        &env,
        &format!("/collective-identifiers/ksef/{}", ks[2]),
        &env.token,
    )
    .await;
    assert!(v["collectiveIdentifiers"].as_array().unwrap().is_empty());

    // a second identifier over the same invoice is listed first (newest)
    let second = generated(
        &env,
        &env.token,
        &json!({ "invoices": [{ "ksefNumber": ks[0] }, { "ksefNumber": ks[2] }] }),
    )
    .await;
    let v = get_ok(
        &env,
        &format!("/collective-identifiers/ksef/{}", ks[0]),
        &env.token,
    )
    .await;
    let numbers: Vec<&str> = v["collectiveIdentifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["collectiveIdentifierNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2);
    assert!(numbers.contains(&number.as_str()) && numbers.contains(&second.as_str()));
    // without details, nothing is hidden and nothing is shown
    let inv = post_ok(
        &env,
        "/collective-identifiers/invoices",
        &env.token,
        &json!({ "collectiveIdentifierNumbers": [second] }),
        "/collective-identifiers/invoices",
    )
    .await;
    for i in inv["invoices"].as_array().unwrap() {
        assert_eq!(i["detailsHidden"], false);
        assert!(
            i.get("payment").is_none() && i.get("description").is_none(),
            "{i}"
        );
    }
}

#[tokio::test]
async fn the_buyer_sees_the_details_a_stranger_only_the_numbers() {
    let env = start(default_config()).await;
    let ks = seed(&env, &env.nip, 2);
    let number = generated(&env, &env.token, &members(&[&ks[0], &ks[1]])).await;

    // the buyer (Podmiot2 of the template) has a role on the invoices
    let buyer = owner(&env, TEMPLATE_BUYER_NIP);
    let inv = post_ok(
        &env,
        "/collective-identifiers/invoices",
        &buyer,
        &json!({ "collectiveIdentifierNumbers": [number] }),
        "/collective-identifiers/invoices",
    )
    .await;
    assert!(
        inv["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["detailsHidden"] == false && i["payment"].is_object())
    );
    let v = get_ok(
        &env,
        &format!("/collective-identifiers/ksef/{}", ks[0]),
        &buyer,
    )
    .await;
    assert_eq!(
        v["collectiveIdentifiers"][0]["collectiveIdentifierNumber"],
        number
    );
    assert_eq!(
        v["collectiveIdentifiers"][0]["createdInCurrentContext"],
        false
    );
    // the seller's identifiers are not the buyer's to list by date
    let v = post_ok(
        &env,
        "/collective-identifiers/query",
        &buyer,
        &window(&env),
        "/collective-identifiers/query",
    )
    .await;
    assert!(v["collectiveIdentifiers"].as_array().unwrap().is_empty());

    // a stranger holding the number sees the invoices, not the details
    let stranger = owner(&env, &random_nip());
    let inv = post_ok(
        &env,
        "/collective-identifiers/invoices",
        &stranger,
        &json!({ "collectiveIdentifierNumbers": [number] }),
        "/collective-identifiers/invoices",
    )
    .await;
    let items = inv["invoices"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for i in items {
        assert_eq!(i["detailsHidden"], true);
        assert!(
            i.get("payment").is_none() && i.get("description").is_none(),
            "{i}"
        );
    }
    let v = get_ok(
        &env,
        &format!("/collective-identifiers/ksef/{}", ks[0]),
        &stranger,
    )
    .await;
    assert!(v["collectiveIdentifiers"].as_array().unwrap().is_empty());
    // nor can it build identifiers over invoices it has no role on
    let r = generate(&env, &stranger, &members(&[&ks[0], &ks[1]])).await;
    assert_eq!(exception_code(r).await, 71001);
}

#[tokio::test]
async fn generation_refuses_what_ksef_refuses() {
    let env = start(default_config()).await;
    let ks = seed(&env, &env.nip, 3);
    let other_seller = random_nip();
    let theirs = seed(&env, &other_seller, 1);

    // one invoice only, a repeated number, an unknown number, a foreign seller
    let r = generate(&env, &env.token, &members(&[&ks[0]])).await;
    assert_eq!(exception_code(r).await, 21405);
    let r = generate(&env, &env.token, &members(&[&ks[0], &ks[0]])).await;
    assert_eq!(exception_code(r).await, 71005);
    let unknown = format!("{}-20250101-0100001AF629-00", env.nip);
    let fixed = format!("{}-{:02X}", &unknown[..32], crc8(&unknown.as_bytes()[..32]));
    let r = generate(&env, &env.token, &members(&[&ks[0], &fixed])).await;
    assert_eq!(exception_code(r).await, 71001);
    let r = generate(
        &env,
        &env.token,
        &members(&[ks[0].as_str(), "not-a-ksef-number"]),
    )
    .await;
    assert_eq!(exception_code(r).await, 21405);
    // the buyer of both sellers' invoices cannot mix sellers
    let buyer = owner(&env, TEMPLATE_BUYER_NIP);
    let r = generate(&env, &buyer, &members(&[&ks[0], &theirs[0]])).await;
    assert_eq!(exception_code(r).await, 71004);
    let mut bad_currency = members(&[&ks[0], &ks[1]]);
    bad_currency["invoices"][0]["payment"]["currency"] = json!("zł");
    let r = generate(&env, &env.token, &bad_currency).await;
    assert_eq!(exception_code(r).await, 21405);
    // nothing was stored by the refused requests
    let v = post_ok(
        &env,
        "/collective-identifiers/query",
        &env.token,
        &window(&env),
        "/collective-identifiers/query",
    )
    .await;
    assert!(v["collectiveIdentifiers"].as_array().unwrap().is_empty());

    // the context's limit of invoices in one identifier
    let limits = json!({
        "onlineSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
        "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
        "collectiveIdentifier": {"maxInvoices": 2},
    });
    let r = env.post("/testdata/limits/context/session", &limits).await;
    assert_eq!(r.status(), 200);
    let r = generate(&env, &env.token, &members(&[&ks[0], &ks[1], &ks[2]])).await;
    assert_eq!(exception_code(r).await, 21405);
    generated(&env, &env.token, &members(&[&ks[0], &ks[1]])).await;

    // an invoice belongs to at most 132 identifiers of one context (71002)
    for _ in 1..132 {
        generated(&env, &env.token, &members(&[&ks[0], &ks[2]])).await;
    }
    let r = generate(&env, &env.token, &members(&[&ks[0], &ks[1]])).await;
    assert_eq!(exception_code(r).await, 71002);
    // another context (the buyer) may still use it
    generated(&env, &buyer, &members(&[&ks[0], &ks[1]])).await;
}

#[tokio::test]
async fn the_lists_page_with_continuation_tokens() {
    let env = start(default_config()).await;
    let ks = seed(&env, &env.nip, 2);
    let mut made = Vec::new();
    for _ in 0..12 {
        made.push(generated(&env, &env.token, &members(&[&ks[0], &ks[1]])).await);
    }
    // by date: 10 + 2, newest first
    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = env
            .http
            .post(env.url("/collective-identifiers/query?pageSize=10"))
            .bearer_auth(&env.token)
            .json(&window(&env));
        if let Some(t) = &token {
            req = req.header("x-continuation-token", t);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert_response("POST", "/collective-identifiers/query", 200, &v);
        seen.extend(
            v["collectiveIdentifiers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    c["collectiveIdentifierNumber"]
                        .as_str()
                        .unwrap()
                        .to_string()
                }),
        );
        match v["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    let mut sorted = made.clone();
    sorted.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, sorted);
    // by KSeF number: the same 12 over two pages
    let first: Value = env
        .get(
            &format!("/collective-identifiers/ksef/{}?pageSize=10", ks[0]),
            Some(&env.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["collectiveIdentifiers"].as_array().unwrap().len(), 10);
    let next = first["continuationToken"].as_str().unwrap();
    let r = env
        .http
        .get(env.url(&format!(
            "/collective-identifiers/ksef/{}?pageSize=10",
            ks[0]
        )))
        .bearer_auth(&env.token)
        .header("x-continuation-token", next)
        .send()
        .await
        .unwrap();
    let second: Value = r.json().await.unwrap();
    assert_response(
        "GET",
        "/collective-identifiers/ksef/{ksefNumber}",
        200,
        &second,
    );
    assert_eq!(second["collectiveIdentifiers"].as_array().unwrap().len(), 2);
    // the invoices of ten identifiers: 20 rows, two pages of 10
    let body = json!({ "collectiveIdentifierNumbers": made[..10] });
    let first = post_ok(
        &env,
        "/collective-identifiers/invoices?pageSize=10",
        &env.token,
        &body,
        "/collective-identifiers/invoices",
    )
    .await;
    assert_eq!(first["invoices"].as_array().unwrap().len(), 10);
    assert!(first["continuationToken"].is_string());
    let too_many = json!({ "collectiveIdentifierNumbers": made[..11] });
    let r = env
        .post("/collective-identifiers/invoices", &too_many)
        .await;
    assert_eq!(exception_code(r).await, 21405);
    // a token the simulator did not issue, a page size out of range
    let r = env
        .http
        .post(env.url("/collective-identifiers/query"))
        .bearer_auth(&env.token)
        .header("x-continuation-token", "forged")
        .json(&window(&env))
        .send()
        .await
        .unwrap();
    assert_eq!(exception_code(r).await, 21418);
    let r = env
        .post_json(
            "/collective-identifiers/query?pageSize=201",
            &window(&env),
            Some(&env.token),
        )
        .await;
    assert_eq!(exception_code(r).await, 21405);
}

#[tokio::test]
async fn a_context_without_invoice_permissions_is_refused() {
    let env = start(default_config()).await;
    let nip = env.nip.clone();
    // a person with only CredentialsRead in the context
    let pesel = random_pesel();
    let r = env
        .post(
            "/testdata/permissions",
            &json!({
                "contextIdentifier": { "type": "Nip", "value": nip },
                "authorizedIdentifier": { "type": "Pesel", "value": pesel },
                "permissions": [{ "permissionType": "CredentialsRead", "description": "Tylko odczyt" }],
            }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let reader = env
        .control()
        .issue_access_token_as(("Nip", &nip), ("Pesel", &pesel))
        .unwrap();
    let r = env
        .post_json(
            "/collective-identifiers/query",
            &window(&env),
            Some(&reader),
        )
        .await;
    assert_eq!(r.status(), 403);
}
