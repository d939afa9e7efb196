//! Cross-cutting behaviour: rate limits, error formats, system warnings, fault injection,
//! limits and test-data endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::collections::BTreeMap;

use harness::*;
use ksef_sim::Fault;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_in_both_formats() {
    // /auth/challenge allows 60 req/s per IP; scaled by 0.05 -> 3 per second.
    let env = start(fast_config().with_rate_limit_scale(0.05)).await;
    for _ in 0..3 {
        env.challenge().await;
    }
    let r = env.post_json("/auth/challenge", &json!({}), None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"]["code"], 429);
    let r = env
        .http
        .post(env.url("/auth/challenge"))
        .header("X-Error-Format", "problem-details")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 429);
    assert!(v["traceId"].is_string());
    // switched off at run time
    env.control().set_rate_limits_enabled(false);
    for _ in 0..10 {
        env.challenge().await;
    }
    // and via the HTTP control API
    let r = env
        .http
        .post(format!(
            "{}/__sim/rate-limits",
            env.base.trim_end_matches("/v2")
        ))
        .header(
            ksef_sim::CONTROL_TOKEN_HEADER,
            env.control().control_token(),
        )
        .json(&json!({"enabled": true, "resetCounters": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for _ in 0..3 {
        env.challenge().await;
    }
    assert_eq!(
        env.post_json("/auth/challenge", &json!({}), None)
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn per_context_limits_and_effective_values_follow_the_spec() {
    let env = start(fast_config()).await;
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(env!("KSEF_SIM_SPEC")).unwrap()).unwrap();
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let eff: Value = env
        .get("/rate-limits", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    // every operation of the group "sessionList" (GET /sessions) has its x-rate-limits here
    let xrl = &spec["paths"]["/sessions"]["get"]["x-rate-limits"];
    assert_eq!(eff["sessionList"]["perSecond"], xrl["perSecond"]);
    assert_eq!(eff["sessionList"]["perMinute"], xrl["perMinute"]);
    assert_eq!(eff["sessionList"]["perHour"], xrl["perHour"]);
    // every group of EffectiveApiRateLimits (2.9.0: 17), the close groups with their own values
    let required = spec["components"]["schemas"]["EffectiveApiRateLimits"]["required"]
        .as_array()
        .unwrap();
    assert_eq!(eff.as_object().unwrap().len(), required.len());
    for g in required {
        assert!(eff[g.as_str().unwrap()].is_object(), "{g}");
    }
    let close = &spec["paths"]["/sessions/online/{referenceNumber}/close"]["post"]["x-rate-limits"];
    assert_eq!(eff["onlineSessionClose"]["perSecond"], close["perSecond"]);
    assert_eq!(eff["onlineSessionClose"]["perHour"], close["perHour"]);
    // groups without an operation carry the values of the spec's example (-1 = unlimited)
    let example = &spec["paths"]["/rate-limits"]["get"]["responses"]["200"]["content"]["application/json"]
        ["example"];
    assert_eq!(eff["global"], example["global"]);
    assert_eq!(eff["anonymous"], example["anonymous"]);
    // override all groups for this context: "other" -> 4 per minute. GET /rate-limits and
    // the POST below are both in "other" and count in the same 60 s window.
    let mut groups: BTreeMap<String, Value> = serde_json::from_value(eff.clone()).unwrap();
    groups.insert(
        "other".into(),
        json!({"perSecond": 100, "perMinute": 4, "perHour": 1000}),
    );
    let r = env
        .post_json(
            "/testdata/rate-limits",
            &json!({"rateLimits": groups}),
            Some(&access),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = env.get("/rate-limits", Some(&access)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let eff2: Value = r.json().await.unwrap();
    assert_eq!(eff2["other"]["perMinute"], 4);
    assert_eq!(
        env.get("/rate-limits", Some(&access)).await.status(),
        StatusCode::OK
    );
    let r = env.get("/rate-limits", Some(&access)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    // another context is unaffected
    let (access_b, _) = env.login_owner(&random_nip()).await;
    for _ in 0..3 {
        assert_eq!(
            env.get("/limits/context", Some(&access_b)).await.status(),
            StatusCode::OK
        );
    }
    // incomplete override -> 21405
    let r = env
        .post_json(
            "/testdata/rate-limits",
            &json!({"rateLimits": {"other": {"perSecond": 1, "perMinute": 1, "perHour": 1}}}),
            Some(&access_b),
        )
        .await;
    assert_eq!(error_code(r).await, 21405);
}

#[tokio::test]
async fn error_format_switch_and_system_warning_echo() {
    let env = start(fast_config()).await;
    let bad = json!({"challenge": 5});
    let r = env.post_json("/auth/ksef-token", &bad, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = r.json().await.unwrap();
    let d = &v["exception"]["exceptionDetailList"][0];
    assert_eq!(d["exceptionCode"], 21405);
    assert!(!d["details"][0].as_str().unwrap().is_empty());
    let r = env
        .http
        .post(env.url("/auth/ksef-token"))
        .header("X-Error-Format", "problem-details")
        .header("X-Test-System-Warning", "[100]: Planowana przerwa")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["x-system-warning"], "[100]: Planowana przerwa");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], 21405);
    assert_eq!(v["status"], 400);
    assert!(
        v["instance"]
            .as_str()
            .unwrap()
            .ends_with("/auth/ksef-token")
    );
    // success responses echo it too
    let r = env
        .http
        .post(env.url("/auth/challenge"))
        .header("X-Test-System-Warning", "[7]: x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-system-warning"], "[7]: x");
    // 401 is problem+json even without the header
    let r = env.get("/tokens", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
}

#[tokio::test]
async fn fault_injection_5xx_storms_latency_drops_and_async_550() {
    let env = start(fast_config()).await;
    let ctl = env.control();
    ctl.inject(
        "POST /auth/challenge",
        Fault::ServerError {
            status: 503,
            count: 2,
        },
    );
    assert_eq!(
        env.post_json("/auth/challenge", &json!({}), None)
            .await
            .status(),
        503
    );
    assert_eq!(
        env.post_json("/auth/challenge", &json!({}), None)
            .await
            .status(),
        503
    );
    assert_eq!(
        env.post_json("/auth/challenge", &json!({}), None)
            .await
            .status(),
        200
    );

    ctl.inject(
        "POST /auth/challenge",
        Fault::RateLimitStorm {
            count: 1,
            retry_after: 7,
        },
    );
    let r = env.post_json("/auth/challenge", &json!({}), None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(
        env.post_json("/auth/challenge", &json!({}), None)
            .await
            .status(),
        200
    );

    ctl.inject(
        "GET /security/public-key-certificates",
        Fault::Latency {
            delay_ms: 50,
            count: Some(1),
        },
    );
    assert_eq!(
        env.get("/security/public-key-certificates", None)
            .await
            .status(),
        200
    );

    // connection dropped mid-body: the client sees a transport error while reading the body
    ctl.inject(
        "GET /security/public-key-certificates",
        Fault::DropConnection {
            after_bytes: 20,
            count: 1,
        },
    );
    let res = env
        .http
        .get(env.url("/security/public-key-certificates"))
        .send()
        .await;
    let failed = match res {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the body must be cut");
    assert_eq!(
        env.get("/security/public-key-certificates", None)
            .await
            .status(),
        200
    );

    // upload side: the request body is cut after some bytes
    ctl.inject(
        "POST /auth/xades-signature",
        Fault::DropConnection {
            after_bytes: 10,
            count: 1,
        },
    );
    let res = env
        .http
        .post(env.url("/auth/xades-signature"))
        .body(vec![b'x'; 200_000])
        .send()
        .await;
    let failed = match res {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed);

    // 550 on the asynchronous authentication, armed over the HTTP control API
    let r = env
        .http
        .post(format!("{}/__sim/faults", env.base.trim_end_matches("/v2")))
        .header(ksef_sim::CONTROL_TOKEN_HEADER, env.control().control_token())
        .json(&json!({"operation": "POST /auth/xades-signature", "fault": {"kind": "asyncFailure", "count": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
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
    let v: Value = r.json().await.unwrap();
    let st = env
        .wait_auth(
            v["referenceNumber"].as_str().unwrap(),
            v["authenticationToken"]["token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(st["status"]["code"], 550);
    // the next one succeeds
    let (_access, _) = env.login_owner(&nip).await;

    // every operation ("*") and clearing
    ctl.inject(
        "*",
        Fault::ServerError {
            status: 500,
            count: 1,
        },
    );
    assert_eq!(
        env.get("/security/public-key-certificates", None)
            .await
            .status(),
        500
    );
    ctl.inject(
        "*",
        Fault::ServerError {
            status: 502,
            count: 5,
        },
    );
    ctl.clear_faults();
    assert_eq!(
        env.get("/security/public-key-certificates", None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn limits_and_test_data_endpoints() {
    let env = start(fast_config().with_rate_limits(false)).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let l: Value = env
        .get("/limits/context", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["onlineSession"]["maxInvoiceSizeInMB"], 1);
    assert_eq!(l["onlineSession"]["maxInvoiceWithAttachmentSizeInMB"], 3);
    assert_eq!(l["batchSession"]["maxInvoices"], 10000);
    assert_eq!(l["collectiveIdentifier"]["maxInvoices"], 500);
    let set = json!({
        "onlineSession": {"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 5},
        "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 50},
        "collectiveIdentifier": {"maxInvoices": 20},
    });
    // collectiveIdentifier is required in 2.9.0 and limited to 2..=5000
    let mut without = set.clone();
    without
        .as_object_mut()
        .unwrap()
        .remove("collectiveIdentifier");
    let r = env
        .post_json("/testdata/limits/context/session", &without, Some(&access))
        .await;
    assert_eq!(error_code(r).await, 21405);
    let mut too_many = set.clone();
    too_many["collectiveIdentifier"]["maxInvoices"] = json!(5001);
    let r = env
        .post_json("/testdata/limits/context/session", &too_many, Some(&access))
        .await;
    assert_eq!(error_code(r).await, 21405);
    assert_eq!(
        env.post_json("/testdata/limits/context/session", &set, Some(&access))
            .await
            .status(),
        200
    );
    let l: Value = env
        .get("/limits/context", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l, set);
    let r = env
        .http
        .delete(env.url("/testdata/limits/context/session"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let l: Value = env
        .get("/limits/context", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["onlineSession"]["maxInvoices"], 10000);

    let s: Value = env
        .get("/limits/subject", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["certificate"]["maxCertificates"], 6);
    let r = env
        .post_json(
            "/testdata/limits/subject/certificate",
            &json!({"subjectIdentifierType": "Nip", "certificate": {"maxCertificates": 2}}),
            Some(&access),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s: Value = env
        .get("/limits/subject", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["certificate"]["maxCertificates"], 2);

    let a: Value = env
        .get("/permissions/attachments/status", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["isAttachmentAllowed"], false);
    assert_eq!(
        env.post_json("/testdata/attachment", &json!({"nip": nip}), None)
            .await
            .status(),
        200
    );
    let a: Value = env
        .get("/permissions/attachments/status", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["isAttachmentAllowed"], true);
    assert_eq!(
        env.post_json("/testdata/attachment/revoke", &json!({"nip": nip}), None)
            .await
            .status(),
        200
    );
    let a: Value = env
        .get("/permissions/attachments/status", Some(&access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["isAttachmentAllowed"], false);
    assert!(a["revokedDate"].is_string());

    // validation of test-data bodies
    for (path, body) in [
        (
            "/testdata/subject",
            json!({"subjectNip": "1234567890", "subjectType": "JST", "description": "gmina testowa"}),
        ),
        (
            "/testdata/subject",
            json!({"subjectNip": nip, "subjectType": "Bank", "description": "gmina testowa"}),
        ),
        (
            "/testdata/person",
            json!({"nip": nip, "pesel": "00000000000", "isBailiff": false, "description": "osoba"}),
        ),
        (
            "/testdata/permissions",
            json!({"contextIdentifier": {"type": "Nip", "value": nip}, "authorizedIdentifier": {"type": "Nip", "value": random_nip()}, "permissions": [{"permissionType": "Everything", "description": "wszystko"}]}),
        ),
        ("/testdata/context/block", json!({})),
    ] {
        let r = env.post_json(path, &body, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(error_code(r).await, 21405);
    }
    let ok = json!({"subjectNip": nip, "subjectType": "EnforcementAuthority", "description": "komornik testowy"});
    assert_eq!(
        env.post_json("/testdata/subject", &ok, None).await.status(),
        200
    );
    assert_eq!(
        env.post_json(
            "/testdata/subject/remove",
            &json!({"subjectNip": nip}),
            None
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn limits_are_per_client_ip() {
    // with X-Forwarded-For trusted, two "clients" get separate buckets and their own clientIp
    let env = start(
        fast_config()
            .with_rate_limit_scale(0.05)
            .with_trust_forwarded_for(true),
    )
    .await;
    let from = |ip: &'static str| {
        env.http
            .post(env.url("/auth/challenge"))
            .header("x-forwarded-for", ip)
            .send()
    };
    for _ in 0..3 {
        let r = from("10.1.1.1").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["clientIp"], "10.1.1.1");
    }
    assert_eq!(
        from("10.1.1.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = from("10.2.2.2").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["clientIp"], "10.2.2.2");
}
