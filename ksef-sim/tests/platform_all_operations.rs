//! Every operation of the pinned spec answers (no 404/405/501), with a valid owner token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support_a;

use serde_json::Value;
use support_a::*;

/// Follows `$ref` and single-element `allOf`.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    if let Some(all) = schema["allOf"].as_array()
        && all.len() == 1
    {
        return resolve(spec, &all[0]);
    }
    schema
}

/// A small structural validator: types, required properties, string enums and lengths.
fn check(spec: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if v.is_null() {
        if schema["nullable"] != true && !schema.is_null() {
            errs.push(format!("{at}: null"));
        }
        return;
    }
    if let Some(e) = schema["enum"].as_array()
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} not in enum"));
    }
    match schema["type"].as_str() {
        Some("object") | None if schema["properties"].is_object() => {
            let Some(obj) = v.as_object() else {
                errs.push(format!("{at}: not an object"));
                return;
            };
            for r in schema["required"].as_array().into_iter().flatten() {
                if !obj.contains_key(r.as_str().unwrap()) {
                    errs.push(format!("{at}: missing {r}"));
                }
            }
            for (k, val) in obj {
                if let Some(p) = schema["properties"].get(k) {
                    check(spec, p, val, &format!("{at}.{k}"), errs);
                }
            }
        }
        Some("array") => match v.as_array() {
            Some(items) => {
                for (i, it) in items.iter().enumerate() {
                    check(spec, &schema["items"], it, &format!("{at}[{i}]"), errs);
                }
            }
            None => errs.push(format!("{at}: not an array")),
        },
        Some("string") => match v.as_str() {
            Some(s) => {
                let n = s.chars().count() as u64;
                if schema["minLength"].as_u64().is_some_and(|m| n < m)
                    || schema["maxLength"].as_u64().is_some_and(|m| n > m)
                {
                    errs.push(format!("{at}: length {n}"));
                }
            }
            None => errs.push(format!("{at}: not a string")),
        },
        Some("integer") if !v.is_i64() && !v.is_u64() => errs.push(format!("{at}: not an integer")),
        Some("boolean") if !v.is_boolean() => errs.push(format!("{at}: not a boolean")),
        _ => {}
    }
}

fn sample(param: &str, nip: &str) -> String {
    match param {
        "ksefNumber" => format!("{nip}-20250101-0100001AF629-00"),
        "certificateSerialNumber" | "serialNumber" => "0123456789ABCDEF".into(),
        "permissionId" => "1234567890abcdef".into(),
        _ => "20250101-SO-0000000000-0000000000-00".into(),
    }
}

#[tokio::test]
async fn all_83_operations_are_served() {
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(env!("KSEF_SIM_SPEC")).unwrap()).unwrap();
    let env = start(fast_config().with_rate_limits(false)).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    let mut count = 0;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            count += 1;
            let mut concrete = String::new();
            for seg in path.split('/').skip(1) {
                concrete.push('/');
                match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(p) => concrete.push_str(&sample(p, &nip)),
                    None => concrete.push_str(seg),
                }
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = env.http.request(m, env.url(&concrete)).bearer_auth(&access);
            if method != "get" && method != "delete" {
                // the spec's own request example when it has one, else a minimal instance of the
                // request schema, so that most operations reach their success answer
                let media = &_op["requestBody"]["content"]["application/json"];
                let body = if media["example"].is_object() {
                    media["example"].to_string()
                } else if media["schema"].is_object() {
                    ksef_codegen::examples::minimal_instance(&spec, &media["schema"]).to_string()
                } else {
                    "{}".to_string()
                };
                req = req.header("content-type", "application/json").body(body);
            }
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            if [404, 405, 501].contains(&s) {
                failures.push(format!("{} {path} -> {s}", method.to_uppercase()));
            }
            // successful JSON answers must match the documented schema
            let ok_schema =
                &_op["responses"][s.to_string()]["content"]["application/json"]["schema"];
            if (200..300).contains(&s) && !ok_schema.is_null() {
                let body: Value = r.json().await.unwrap();
                let mut errs = Vec::new();
                check(&spec, ok_schema, &body, "$", &mut errs);
                if !errs.is_empty() {
                    failures.push(format!("{} {path}: {errs:?}", method.to_uppercase()));
                }
                checked += 1;
            }
        }
    }
    assert_eq!(count, 83);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        checked >= 39,
        "only {checked} successful JSON answers were checked"
    );
}

#[tokio::test]
async fn paths_outside_the_spec_are_404() {
    let env = start(fast_config()).await;
    assert_eq!(env.get("/no/such/operation", None).await.status(), 404);
    assert_eq!(
        env.http
            .get(env.url("").replace("/v2", "/v3/auth/challenge"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn generic_operations_validate_bodies_and_permissions() {
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(env!("KSEF_SIM_SPEC")).unwrap()).unwrap();
    let env = start(fast_config().with_rate_limits(false)).await;
    let nip = random_nip();
    let (access, _) = env.login_owner(&nip).await;
    // required fields of the request schema are enforced
    let r = env
        .post_json(
            "/permissions/persons/grants",
            &serde_json::json!({}),
            Some(&access),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, 21405);
    let r = env
        .http
        .post(env.url("/permissions/persons/grants"))
        .bearer_auth(&access)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    // 2.9.0: a body that is not JSON is unreadable (21001), not invalid (21405)
    assert_eq!(error_code(r).await, 21001);
    // a complete body gets the documented success status and a body of the documented shape
    let example = &spec["paths"]["/permissions/persons/grants"]["post"]["requestBody"]["content"]["application/json"]
        ["example"];
    if example.is_object() {
        let r = env
            .post_json("/permissions/persons/grants", example, Some(&access))
            .await;
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        assert!(v["referenceNumber"].is_string());
    }
    // without a token: 401
    assert_eq!(
        env.post_json("/permissions/persons/grants", &serde_json::json!({}), None)
            .await
            .status(),
        401
    );
    // a context holding only InvoiceRead lacks CredentialsManage: 403 missing-permissions
    let reader = TestCert::new(KeyKind::Rsa, "/CN=Czytelnik");
    let grant = serde_json::json!({
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Fingerprint", "value": reader.fingerprint()},
        "permissions": [{"permissionType": "InvoiceRead", "description": "odczyt faktur"}],
    });
    assert_eq!(
        env.post_json("/testdata/permissions", &grant, None)
            .await
            .status(),
        200
    );
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateFingerprint",
    );
    let r = env
        .submit_xades(&manual_xades(&req, &reader, ManualAlg::RsaPkcs1))
        .await;
    let v: Value = r.json().await.unwrap();
    let op = v["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env
        .wait_auth(v["referenceNumber"].as_str().unwrap(), &op)
        .await;
    assert_eq!(st["status"]["code"], 200);
    let (reader_access, _) = env.redeem(&op).await;
    let required = &spec["paths"]["/permissions/persons/grants"]["post"]["x-required-permissions"];
    assert!(
        !required
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "InvoiceRead")
    );
    let r = env
        .post_json("/permissions/persons/grants", example, Some(&reader_access))
        .await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reasonCode"], "missing-permissions");
}
