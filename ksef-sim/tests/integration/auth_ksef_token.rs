//! KSeF tokens (`/tokens`) and KSeF-token authentication (RSA-OAEP of `token|timestampMs`),
//! plus key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::time::Duration;

use harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create_token(env: &Env, access: &str, perms: &[&str]) -> (String, String) {
    let r = env
        .post_json(
            "/tokens",
            &json!({"permissions": perms, "description": "token do testów"}),
            Some(access),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    (
        v["referenceNumber"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    )
}

/// Submits `/auth/ksef-token`; returns the HTTP response.
async fn token_auth(
    env: &Env,
    nip: &str,
    plaintext: impl FnOnce(i64) -> String,
    key_id: Option<&str>,
) -> reqwest::Response {
    let ch = env.challenge().await;
    let (id, cert) = env.public_cert("KsefTokenEncryption").await;
    let enc = oaep_encrypt(
        &cert,
        plaintext(ch["timestampMs"].as_i64().unwrap()).as_bytes(),
    );
    env.post_json(
        "/auth/ksef-token",
        &json!({
            "challenge": ch["challenge"],
            "contextIdentifier": {"type": "Nip", "value": nip},
            "encryptedToken": b64(&enc),
            "publicKeyId": key_id.unwrap_or(&id),
        }),
        None,
    )
    .await
}

async fn final_status(env: &Env, r: reqwest::Response) -> (i64, String) {
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    let op = v["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env
        .wait_auth(v["referenceNumber"].as_str().unwrap(), &op)
        .await;
    (st["status"]["code"].as_i64().unwrap(), op)
}

#[tokio::test]
async fn token_lifecycle_and_token_authentication() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let (reference, token) = create_token(&env, &access, &["InvoiceWrite", "InvoiceRead"]).await;
    assert_eq!(&reference[9..11], "EC");
    let info: Value = env
        .get(&format!("/tokens/{reference}"), Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["status"], "Active");
    assert_eq!(info["contextIdentifier"]["value"], nip.as_str());
    assert_eq!(info["authorIdentifier"]["type"], "Nip");
    assert_eq!(
        info["requestedPermissions"],
        json!(["InvoiceWrite", "InvoiceRead"])
    );

    // successful token authentication
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), None).await;
    let (code, op) = final_status(&env, r).await;
    assert_eq!(code, 200);
    let (token_access, token_refresh) = env.redeem(&op).await;
    // a token-authenticated session cannot create tokens
    let r = env
        .post_json(
            "/tokens",
            &json!({"permissions": ["InvoiceRead"], "description": "podrzędny"}),
            Some(&token_access),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reasonCode"], "auth-method-not-allowed");

    // wrong timestamp, unknown token, undecryptable ciphertext -> 450
    let r = token_auth(&env, &nip, |ts| format!("{token}|{}", ts + 1), None).await;
    assert_eq!(final_status(&env, r).await.0, 450);
    let r = token_auth(&env, &nip, |ts| format!("{token}x|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 450);
    // wrong context
    let r = token_auth(&env, &random_nip(), |ts| format!("{token}|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 450);
    // the SymmetricKeyEncryption key id is not valid for tokens -> 21470
    let (sym_id, _) = env.public_cert("SymmetricKeyEncryption").await;
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), Some(&sym_id)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, 21470);

    // list with a status filter, then revoke
    let list: Value = env
        .get("/tokens?status=Active&status=Pending", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    let r = env
        .http
        .delete(env.url(&format!("/tokens/{reference}")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let info: Value = env
        .get(&format!("/tokens/{reference}"), Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["status"], "Revoked");
    let list: Value = env
        .get("/tokens?status=Active", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0);
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 450);
    // refreshing the session made with the revoked token fails
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&token_refresh))
        .await;
    assert_eq!(error_code(r).await, 21301);
}

#[tokio::test]
async fn pending_token_cannot_authenticate_and_requests_are_validated() {
    let env = start(fast_config().with_token_activation_delay(Duration::from_secs(3600))).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let (reference, token) = create_token(&env, &access, &["InvoiceRead"]).await;
    let info: Value = env
        .get(&format!("/tokens/{reference}"), Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["status"], "Pending");
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 450);

    for bad in [
        json!({"permissions": ["InvoiceRead"], "description": "abc"}),
        json!({"permissions": ["Nonsense"], "description": "opis tokena"}),
        json!({"description": "opis tokena"}),
    ] {
        let r = env.post_json("/tokens", &bad, Some(&access)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(r).await, 21405);
    }
    let r = env
        .post_json(
            "/auth/ksef-token",
            &json!({"challenge": "x", "contextIdentifier": {"type": "Nip", "value": nip}}),
            None,
        )
        .await;
    assert_eq!(error_code(r).await, 21405);
    let r = env
        .post_json(
            "/auth/ksef-token",
            &json!({"challenge": "20250101-CR-0000000000-0000000000-00", "contextIdentifier": {"type": "Nip", "value": nip}, "encryptedToken": "AAAA"}),
            None,
        )
        .await;
    assert_eq!(error_code(r).await, 21111);
}

#[tokio::test]
async fn key_rotation_add_and_withdraw() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let (_, token) = create_token(&env, &access, &["InvoiceRead"]).await;
    let (old_id, _) = env.public_cert("KsefTokenEncryption").await;
    let now = chrono::Utc::now();
    let new_id = env
        .control()
        .add_key(
            ksef_sim::KeyUsage::KsefTokenEncryption,
            now - chrono::Duration::minutes(1),
            now + chrono::Duration::days(30),
        )
        .unwrap();
    let list: Value = env
        .get("/security/public-key-certificates", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    // the newest validFrom is selected by the helper, and it works
    let (chosen, _) = env.public_cert("KsefTokenEncryption").await;
    assert_eq!(chosen, new_id);
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 200);
    // emergency withdrawal of the new key: 21470 for its id; the old one still works
    assert!(env.control().withdraw_key(&new_id));
    let ch = env.challenge().await;
    let r = env
        .post_json(
            "/auth/ksef-token",
            &json!({"challenge": ch["challenge"], "contextIdentifier": {"type": "Nip", "value": nip}, "encryptedToken": b64(&[0u8; 256]), "publicKeyId": new_id}),
            None,
        )
        .await;
    assert_eq!(error_code(r).await, 21470);
    let (again, _) = env.public_cert("KsefTokenEncryption").await;
    assert_eq!(again, old_id);
    let r = token_auth(&env, &nip, |ts| format!("{token}|{ts}"), None).await;
    assert_eq!(final_status(&env, r).await.0, 200);
}

#[tokio::test]
async fn authorization_policy_restricts_ips_and_control_tokens_work() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let token = env.control().create_ksef_token(&nip, &["InvoiceRead"]);
    let (id, cert) = env.public_cert("KsefTokenEncryption").await;
    let mut tokens = Vec::new();
    for allowed in [json!(["10.0.0.1"]), json!(["127.0.0.1"])] {
        let ch = env.challenge().await;
        let enc = oaep_encrypt(&cert, format!("{token}|{}", ch["timestampMs"]).as_bytes());
        let r = env
            .post_json(
                "/auth/ksef-token",
                &json!({
                    "challenge": ch["challenge"],
                    "contextIdentifier": {"type": "Nip", "value": nip},
                    "encryptedToken": b64(&enc),
                    "publicKeyId": id,
                    "authorizationPolicy": {"allowedIps": {"ip4Addresses": allowed, "ip4Masks": ["192.168.0.0/16"]}},
                }),
                None,
            )
            .await;
        let (code, op) = final_status(&env, r).await;
        assert_eq!(code, 200);
        tokens.push(env.redeem(&op).await.0);
    }
    let r = env.get("/auth/sessions", Some(&tokens[0])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reasonCode"], "ip-not-allowed");
    assert_eq!(
        env.get("/auth/sessions", Some(&tokens[1])).await.status(),
        StatusCode::OK
    );
    // a malformed policy is a validation error
    let ch = env.challenge().await;
    let r = env
        .post_json(
            "/auth/ksef-token",
            &json!({
                "challenge": ch["challenge"],
                "contextIdentifier": {"type": "Nip", "value": nip},
                "encryptedToken": "AAAA",
                "authorizationPolicy": {"allowedIps": {"ip4Masks": ["10.0.0.0/33"]}},
            }),
            None,
        )
        .await;
    assert_eq!(error_code(r).await, 21405);
}
