//! The invoicing endpoints behind a real KSeF-token authentication (challenge,
//! RSA-OAEP-encrypted `token|timestampMs`, status, redeem): permissions are
//! enforced and the UPO names the KSeF token used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::time::Duration;

use harness::*;
use serde_json::{Value, json};
use sha2::Sha256;

/// Runs the KSeF-token flow over HTTP and returns an access token.
async fn authenticate(env: &Env, nip: &str, ksef_token: &str) -> String {
    let http = &env.http;
    let ch: Value = http
        .post(env.url("/auth/challenge"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (key, key_id) = public_key(http, &env.base, "KsefTokenEncryption").await;
    let plain = format!("{ksef_token}|{}", ch["timestampMs"].as_i64().unwrap());
    let mut rng = rand::rng();
    let enc = key
        .encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), plain.as_bytes())
        .unwrap();
    let r = http
        .post(env.url("/auth/ksef-token"))
        .json(&json!({
            "challenge": ch["challenge"],
            "contextIdentifier": { "type": "Nip", "value": nip },
            "encryptedToken": b64(&enc),
            "publicKeyId": key_id,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let op_token = v["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let reference = v["referenceNumber"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let st: Value = http
            .get(env.url(&format!("/auth/{reference}")))
            .bearer_auth(&op_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match st["status"]["code"].as_i64().unwrap() {
            100 => tokio::time::sleep(Duration::from_millis(20)).await,
            200 => break,
            other => panic!("authentication ended with {other}: {st}"),
        }
    }
    let r = http
        .post(env.url("/auth/token/redeem"))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["accessToken"]["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn invoicing_behind_ksef_token_authentication() {
    let mut env = start(default_config()).await;
    let nip = random_nip();
    let ksef_token = env
        .control()
        .create_ksef_token(&nip, &["InvoiceWrite", "InvoiceRead"]);
    env.token = authenticate(&env, &nip, &ksef_token).await;
    env.nip = nip.clone();

    let k = Keys::random();
    let session = env.open_online(&k).await;
    let r = env
        .send(&session, &k, &invoice_fa3(&nip, &unique_number()))
        .await;
    let st = env.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 200);
    let upo = env
        .get_as_owner(&format!("/sessions/{session}/invoices/{r}/upo"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_upo_valid(&upo);
    let token_reference = ksef_token.split('|').next().unwrap();
    let text = String::from_utf8(upo.to_vec()).unwrap();
    assert!(
        text.contains(&format!(
            "<NumerReferencyjnyTokenaKSeF>{token_reference}</NumerReferencyjnyTokenaKSeF>"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("<Nip>{nip}</Nip>")));

    // A token with read-only permissions cannot open a session (403), but can query.
    let read_only = env.control().create_ksef_token(&nip, &["InvoiceRead"]);
    env.token = authenticate(&env, &nip, &read_only).await;
    let r = env
        .post(
            "/sessions/online",
            &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" }, "encryption": env.encryption(&k) }),
        )
        .await;
    assert_eq!(r.status(), 403);
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let r = env.post("/invoices/query/metadata", &json!({ "subjectType": "Subject1", "dateRange": { "dateType": "Invoicing", "from": from } })).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["invoices"].as_array().unwrap().len(), 1);
}
