//! With `X-Error-Format: problem-details`, every error answer names the request's path in
//! `instance` (without the query string), whichever step refused it: body validation (400),
//! authentication (401), permissions (403), an unknown path (404), the rate limiter or an
//! injected 429, an injected 5xx. The bodies match the spec's problem+json schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::{assert_component, assert_problem};
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

/// The schema an error answer is checked against.
enum Schema {
    /// The operation's own `application/problem+json` schema for the status, from the spec
    /// (method and spec path).
    Operation(&'static str, &'static str),
    /// The spec declares no problem+json answer for this status on any operation (404 for an
    /// unknown path, an injected 503): the generic problem shape the simulator writes for any
    /// other status — title, status, instance, detail, timestamp, traceId, all required — which
    /// is the spec's `GoneProblemDetails`.
    Generic,
}

/// One refused request: what is sent, the fault armed before it, the answer expected.
struct Case {
    what: &'static str,
    method: Method,
    path: &'static str,
    bearer: Option<String>,
    body: Option<Value>,
    fault: Option<(&'static str, Fault)>,
    status: u16,
    schema: Schema,
}

#[tokio::test]
async fn instance_is_the_request_path_in_every_error() {
    let env = start(default_config()).await;

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

    let cases = [
        Case {
            what: "body validation",
            method: Method::POST,
            path: "/collective-identifiers/query?pageSize=5",
            bearer: Some(env.token.clone()),
            body: Some(json!({})),
            fault: None,
            status: 400,
            schema: Schema::Operation("POST", "/collective-identifiers/query"),
        },
        Case {
            what: "no bearer token",
            method: Method::GET,
            path: "/sessions?pageSize=10",
            bearer: None,
            body: None,
            fault: None,
            status: 401,
            schema: Schema::Operation("GET", "/sessions"),
        },
        Case {
            what: "missing permission",
            method: Method::GET,
            path: "/permissions/query/entities/roles",
            bearer: Some(reader),
            body: None,
            fault: None,
            status: 403,
            schema: Schema::Operation("GET", "/permissions/query/entities/roles"),
        },
        Case {
            what: "unknown path",
            method: Method::GET,
            path: "/no/such/operation",
            bearer: Some(env.token.clone()),
            body: None,
            fault: None,
            status: 404,
            schema: Schema::Generic,
        },
        Case {
            what: "injected 429",
            method: Method::GET,
            path: "/limits/context",
            bearer: Some(env.token.clone()),
            body: None,
            fault: Some((
                "GET /limits/context",
                Fault::RateLimitStorm {
                    count: 1,
                    retry_after: 3,
                },
            )),
            status: 429,
            schema: Schema::Operation("GET", "/limits/context"),
        },
        Case {
            what: "injected 503",
            method: Method::GET,
            path: "/limits/context",
            bearer: Some(env.token.clone()),
            body: None,
            fault: Some((
                "GET /limits/context",
                Fault::ServerError {
                    status: 503,
                    count: 1,
                },
            )),
            status: 503,
            schema: Schema::Generic,
        },
    ];

    for case in cases {
        if let Some((operation, fault)) = case.fault {
            env.control().inject(operation, fault);
        }
        let (s, v) = problem(
            &env,
            case.method.clone(),
            case.path,
            case.bearer.as_deref(),
            case.body,
        )
        .await;
        let what = format!("{} ({} {})", case.what, case.method, case.path);
        assert_eq!(s, case.status, "{what}: {v}");
        assert_eq!(v["status"], case.status, "{what}: {v}");
        instance_is(&v, case.path);
        match case.schema {
            Schema::Operation(method, path) => assert_problem(method, path, case.status, &v),
            Schema::Generic => assert_component("GoneProblemDetails", &v),
        }
    }
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
