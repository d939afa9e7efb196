//! Challenge, status polling, redeem, refresh, token lifetimes and authentication sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::time::Duration;

use harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn is_upper_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

#[tokio::test]
async fn challenge_has_the_documented_shape() {
    let env = start(fast_config()).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let v = env.challenge().await;
        let c = v["challenge"].as_str().unwrap();
        assert_eq!(c.len(), 36);
        let parts: Vec<&str> = c.split('-').collect();
        assert_eq!(parts.len(), 5, "{c}");
        assert!(parts[0].len() == 8 && parts[0].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(parts[1], "CR");
        assert!(parts[2].len() == 10 && is_upper_hex(parts[2]));
        assert!(parts[3].len() == 10 && is_upper_hex(parts[3]));
        assert_eq!(parts[4], format!("{:02X}", crc8(&c.as_bytes()[..33])));
        let ts = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(ts.timestamp_millis(), v["timestampMs"].as_i64().unwrap());
        assert_eq!(
            parts[0],
            ts.with_timezone(&chrono::Utc).format("%Y%m%d").to_string()
        );
        assert_eq!(v["clientIp"], "127.0.0.1");
        assert!(seen.insert(c.to_string()));
    }
}

#[tokio::test]
async fn expired_challenge_is_rejected() {
    let env = start(fast_config().with_challenge_validity(Duration::ZERO)).await;
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let r = env
        .submit_xades(&manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, 21111);
}

#[tokio::test]
async fn status_polls_100_then_200_and_redeem_works_once() {
    let env = start(fast_config().with_auth_processing_delay(Duration::from_secs(4))).await;
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let r = env
        .submit_xades(&manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    let reference = v["referenceNumber"].as_str().unwrap();
    assert_eq!(&reference[9..11], "AU");
    assert_eq!(
        &reference[34..],
        format!("{:02X}", crc8(&reference.as_bytes()[..33]))
    );
    let op = v["authenticationToken"]["token"].as_str().unwrap();
    let first: Value = env
        .get(&format!("/auth/{reference}"), Some(op))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"]["code"], 100, "{first}");
    // redeem while in progress
    let r = env
        .post_json("/auth/token/redeem", &json!({}), Some(op))
        .await;
    assert_eq!(error_code(r).await, 21301);
    let done = env.wait_auth(reference, op).await;
    assert_eq!(done["status"]["code"], 200);
    assert_eq!(done["isTokenRedeemed"], false);
    let (access, refresh) = env.redeem(op).await;
    // JWTs with exp
    for t in [&access, &refresh] {
        use base64::Engine;
        let payload = t.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    }
    let r = env
        .post_json("/auth/token/redeem", &json!({}), Some(op))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, 21301);
    let after: Value = env
        .get(&format!("/auth/{reference}"), Some(op))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["isTokenRedeemed"], true);
    // access token cannot be used as an operation token and vice versa
    assert_eq!(
        env.get(&format!("/auth/{reference}"), Some(&access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.get("/auth/sessions", Some(op)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let _ = refresh;
}

#[tokio::test]
async fn refresh_sessions_list_and_revocation() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let (access1, refresh1) = env.login_owner(&nip).await;
    let (_access2, refresh2) = env.login_owner(&nip).await;
    // refresh gives a working access token
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&refresh1))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let access1b = v["accessToken"]["token"].as_str().unwrap().to_string();
    assert!(v.get("refreshToken").is_none());
    let list: Value = env
        .get("/auth/sessions", Some(&access1b))
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|i| i["isCurrent"] == true).count(), 1);
    let current = items.iter().find(|i| i["isCurrent"] == true).unwrap();
    assert!(current["lastTokenRefreshDate"].is_string());
    let other_ref = items.iter().find(|i| i["isCurrent"] == false).unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    // an access token is not a refresh token
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&access1))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    // revoke the other session by reference: its refresh token stops working
    let r = env
        .http
        .delete(env.url(&format!("/auth/sessions/{other_ref}")))
        .bearer_auth(&access1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&refresh2))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // revoke the current one
    let r = env
        .http
        .delete(env.url("/auth/sessions/current"))
        .bearer_auth(&access1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&refresh1))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let list: Value = env
        .get("/auth/sessions", Some(&access1))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn sessions_are_paged_with_continuation_tokens() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let mut last = String::new();
    for _ in 0..12 {
        last = env.login_owner(&nip).await.0;
    }
    let first: Value = env
        .get("/auth/sessions?pageSize=10", Some(&last))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 10);
    let cont = first["continuationToken"].as_str().unwrap();
    let r = env
        .http
        .get(env.url("/auth/sessions?pageSize=10"))
        .bearer_auth(&last)
        .header("x-continuation-token", cont)
        .send()
        .await
        .unwrap();
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second.get("continuationToken").is_none_or(Value::is_null));
    let r = env.get("/auth/sessions?pageSize=5", Some(&last)).await;
    assert_eq!(error_code(r).await, 21405);
    // A continuation token the list did not issue answers 21418, as every paged list does.
    let r = env
        .http
        .get(env.url("/auth/sessions"))
        .bearer_auth(&last)
        .header("x-continuation-token", "not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, 21418);
}

#[tokio::test]
async fn expired_access_token_is_401() {
    let env = start(fast_config().with_access_token_lifetime(Duration::ZERO)).await;
    let (access, refresh) = env.login_owner(&random_nip()).await;
    let r = env.get("/auth/sessions", Some(&access)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 401);
    // the refresh token still works (and yields another short-lived token)
    let r = env
        .post_json("/auth/token/refresh", &json!({}), Some(&refresh))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // garbage and foreign tokens
    assert_eq!(
        env.get("/auth/sessions", Some("a.b.c")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.get("/auth/sessions", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let other = start(fast_config()).await;
    let (foreign, _) = other.login_owner(&random_nip()).await;
    assert_eq!(
        env.get("/auth/sessions", Some(&foreign)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
