//! The test-data overrides of limits are state: an override shows in the effective limits,
//! `/testdata/rate-limits/production` puts the production values (the spec's `x-rate-limits`)
//! back in force, and the DELETE operations restore the defaults. Every answer is checked
//! against the 2.9.0 schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::assert_response;
use harness::*;
use serde_json::{Value, json};

async fn rate_limits(env: &Env) -> Value {
    let r = env.get("/rate-limits", Some(&env.token)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_response("GET", "/rate-limits", 200, &v);
    v
}

async fn subject_limits(env: &Env) -> Value {
    let r = env.get("/limits/subject", Some(&env.token)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_response("GET", "/limits/subject", 200, &v);
    v
}

async fn delete(env: &Env, path: &str) {
    let r = env
        .http
        .delete(env.url(path))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "DELETE {path}");
}

#[tokio::test]
async fn rate_limit_overrides_are_replaced_by_production_values_and_reset() {
    let env = start(default_config()).await;
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(harness::spec::SPEC).unwrap()).unwrap();
    // the production values of group "other": those of an operation of that group
    let xrl = &spec["paths"]["/rate-limits"]["get"]["x-rate-limits"];
    let production = json!({
        "perSecond": xrl["perSecond"], "perMinute": xrl["perMinute"], "perHour": xrl["perHour"],
    });
    let defaults = rate_limits(&env).await;
    assert_eq!(defaults["other"], production);

    let overridden = || {
        let mut groups = defaults.as_object().unwrap().clone();
        groups.insert(
            "other".into(),
            json!({ "perSecond": 100, "perMinute": 4000, "perHour": 9000 }),
        );
        json!({ "rateLimits": groups })
    };
    let r = env.post("/testdata/rate-limits", &overridden()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(rate_limits(&env).await["other"]["perMinute"], 4000);

    let r = env
        .post("/testdata/rate-limits/production", &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let now = rate_limits(&env).await;
    assert_eq!(now["other"], production);
    assert_eq!(now, defaults);

    let r = env.post("/testdata/rate-limits", &overridden()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(rate_limits(&env).await["other"]["perHour"], 9000);
    delete(&env, "/testdata/rate-limits").await;
    assert_eq!(rate_limits(&env).await, defaults);
}

#[tokio::test]
async fn certificate_limit_overrides_are_reset() {
    let env = start(default_config()).await;
    let defaults = subject_limits(&env).await;
    let r = env
        .post(
            "/testdata/limits/subject/certificate",
            &json!({
                "subjectIdentifierType": "Nip",
                "enrollment": { "maxEnrollments": 3 },
                "certificate": { "maxCertificates": 2 },
            }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let set = subject_limits(&env).await;
    assert_eq!(set["certificate"]["maxCertificates"], 2);
    assert_eq!(set["enrollment"]["maxEnrollments"], 3);
    delete(&env, "/testdata/limits/subject/certificate").await;
    assert_eq!(subject_limits(&env).await, defaults);
    assert_ne!(defaults["certificate"]["maxCertificates"], 2);
}
