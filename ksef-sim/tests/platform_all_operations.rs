//! Every operation of the pinned spec answers (no 404/405/501), with a valid owner token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use harness::*;
use serde_json::Value;

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
    let mut refused = Vec::new();
    let mut invalid = Vec::new();
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
            if s == 403 {
                refused.push(format!("{} {path}", method.to_uppercase()));
            }
            if s == 400 {
                invalid.push(format!("{} {path}", method.to_uppercase()));
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
    // The owner role holds every invoice and administrative permission except VatUeManage, the
    // only permission granting EU entities permissions requires.
    assert_eq!(refused, ["POST /permissions/eu-entities/grants"]);
    // Stateful operations refuse what this context does not hold (sessions, tokens, exports,
    // permission grants, operations and revocations named by sample identifiers; a CSR whose
    // subject is not the caller's, certificates that do not exist): 400, checked against their
    // state by their own tests (permissions_state.rs, certificates_state.rs, invoicing_*.rs, ...).
    for op in [
        "POST /certificates/enrollments",
        "GET /certificates/enrollments/{referenceNumber}",
        "POST /certificates/{certificateSerialNumber}/revoke",
        "PUT /testdata/certificates/{serialNumber}",
        "DELETE /permissions/common/grants/{permissionId}",
        "DELETE /permissions/authorizations/grants/{permissionId}",
        "GET /permissions/operations/{referenceNumber}",
        "POST /permissions/subunits/grants",
        "POST /permissions/eu-entities/administration/grants",
    ] {
        assert!(
            invalid.iter().any(|i| i == op),
            "{op} accepted a sample: {invalid:#?}"
        );
    }
    assert!(
        checked >= 31,
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

/// Authenticates by certificate fingerprint in the context `nip` holding only `permissions`
/// (granted through test data); returns the access token.
async fn login_holding(env: &Env, nip: &str, permissions: &[&str]) -> String {
    let cert = TestCert::new(KeyKind::Rsa, "/CN=Pracownik");
    let grants: Vec<Value> = permissions
        .iter()
        .map(|p| serde_json::json!({"permissionType": p, "description": "nadane w teście"}))
        .collect();
    let grant = serde_json::json!({
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Fingerprint", "value": cert.fingerprint()},
        "permissions": grants,
    });
    let r = env.post_json("/testdata/permissions", &grant, None).await;
    assert_eq!(r.status(), 200);
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        nip,
        "certificateFingerprint",
    );
    let r = env
        .submit_xades(&manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .await;
    let v: Value = r.json().await.unwrap();
    let op = v["authenticationToken"]["token"].as_str().unwrap();
    let st = env
        .wait_auth(v["referenceNumber"].as_str().unwrap(), op)
        .await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    env.redeem(op).await.0
}

/// The required permissions are checked in one place for every operation, whether a specific
/// endpoint group or the generic answer serves it: a context holding none of them gets 403
/// missing-permissions before anything else about the request is looked at.
#[tokio::test]
async fn every_operation_refuses_a_context_without_its_required_permissions() {
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(env!("KSEF_SIM_SPEC")).unwrap()).unwrap();
    let env = start(fast_config().with_rate_limits(false)).await;
    let nip = random_nip();
    let subunit_manager = login_holding(&env, &nip, &["SubunitManage"]).await;
    let invoice_reader = login_holding(&env, &nip, &["InvoiceRead"]).await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(required) = op["x-required-permissions"].as_array() else {
                continue;
            };
            let (holder, held) = if required.iter().any(|p| p == "SubunitManage") {
                (&invoice_reader, "InvoiceRead")
            } else {
                (&subunit_manager, "SubunitManage")
            };
            assert!(!required.iter().any(|p| p == held), "{method} {path}");
            let mut concrete = String::new();
            for seg in path.split('/').skip(1) {
                concrete.push('/');
                match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(p) => concrete.push_str(&sample(p, &nip)),
                    None => concrete.push_str(seg),
                }
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = env.http.request(m, env.url(&concrete)).bearer_auth(holder);
            if method != "get" && method != "delete" {
                req = req.header("content-type", "application/json").body("{}");
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status != 403 || body["reasonCode"] != "missing-permissions" {
                failures.push(format!(
                    "{} {path} -> {status} {body}",
                    method.to_uppercase()
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // 2.9.0 documents required permissions for 38 operations
    assert!(checked >= 30, "only {checked} operations checked");
}
