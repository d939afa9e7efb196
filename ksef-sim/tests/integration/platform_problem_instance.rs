//! With `X-Error-Format: problem-details`, every error answer names the request's path in
//! `instance` (without the query string), whichever step refused it: body validation (400),
//! authentication (401), permissions (403), an unknown path (404), the rate limiter or an
//! injected 429, an injected 5xx. The bodies match the spec's problem+json schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::assert_problem;
use harness::*;
use ksef_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};

async fn problem(
    env: &Env,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = env
        .http
        .request(method, env.url(path))
        .header("X-Error-Format", "problem-details");
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/problem+json"), "{path}: {ct}");
    (status, r.json().await.unwrap())
}

fn instance_is(v: &Value, path: &str) {
    let expected = format!("/v2{}", path.split('?').next().unwrap());
    assert_eq!(v["instance"], expected, "{v}");
}

#[tokio::test]
async fn instance_is_the_request_path_in_every_error() {
    let env = start(default_config()).await;

    let path = "/collective-identifiers/query?pageSize=5";
    let (s, v) = problem(&env, Method::POST, path, Some(&env.token), Some(json!({}))).await;
    assert_eq!(s, 400);
    instance_is(&v, path);
    assert_problem("POST", "/collective-identifiers/query", 400, &v);

    let path = "/sessions?pageSize=10";
    let (s, v) = problem(&env, Method::GET, path, None, None).await;
    assert_eq!(s, 401);
    instance_is(&v, path);
    assert_problem("GET", "/sessions", 401, &v);

    // a context holding only InvoiceRead may not read the entity's roles
    let pesel = random_pesel();
    let grant = json!({
        "contextIdentifier": { "type": "Nip", "value": env.nip },
        "authorizedIdentifier": { "type": "Pesel", "value": pesel },
        "permissions": [{ "permissionType": "InvoiceRead", "description": "Tylko faktury" }],
    });
    assert_eq!(
        env.post_json("/testdata/permissions", &grant, None)
            .await
            .status(),
        200
    );
    let reader = env
        .control()
        .issue_access_token_as(("Nip", &env.nip), ("Pesel", &pesel))
        .unwrap();
    let path = "/permissions/query/entities/roles";
    let (s, v) = problem(&env, Method::GET, path, Some(&reader), None).await;
    assert_eq!(s, 403);
    instance_is(&v, path);
    assert_problem("GET", path, 403, &v);

    let path = "/no/such/operation";
    let (s, v) = problem(&env, Method::GET, path, Some(&env.token), None).await;
    assert_eq!(s, 404);
    instance_is(&v, path);

    let path = "/limits/context";
    env.control().inject(
        "GET /limits/context",
        Fault::RateLimitStorm {
            count: 1,
            retry_after: 3,
        },
    );
    let (s, v) = problem(&env, Method::GET, path, Some(&env.token), None).await;
    assert_eq!(s, 429);
    instance_is(&v, path);
    assert_problem("GET", path, 429, &v);

    env.control().inject(
        "GET /limits/context",
        Fault::ServerError {
            status: 503,
            count: 1,
        },
    );
    let (s, v) = problem(&env, Method::GET, path, Some(&env.token), None).await;
    assert_eq!(s, 503);
    instance_is(&v, path);
}

#[tokio::test]
async fn the_rate_limiter_names_the_path_too() {
    let env = start(fast_config().with_rate_limit_scale(0.05)).await;
    let path = "/auth/challenge";
    let mut last = None;
    for _ in 0..20 {
        let r = env
            .http
            .post(env.url(path))
            .header("X-Error-Format", "problem-details")
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            last = Some(r.json::<Value>().await.unwrap());
            break;
        }
    }
    let v = last.expect("the rate limiter never answered 429");
    instance_is(&v, path);
    assert_problem("POST", path, 429, &v);
}
