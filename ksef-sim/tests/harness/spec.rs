//! A small checker of JSON values against the official OpenAPI schemas (read at
//! run time from ../shared/spec), used as an independent oracle for response
//! shapes: required properties, unknown properties, types, enums, nullability,
//! date/date-time formats, `$ref` and `allOf`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::OnceLock;

use serde_json::Value;

pub const SPEC: &str = env!("KSEF_SIM_SPEC");

fn spec() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC).expect("official spec missing at ../shared/spec");
        serde_json::from_str(&text).unwrap()
    })
}

fn resolve(schema: &Value) -> &Value {
    let mut s = schema;
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        s = &spec()["components"]["schemas"][name];
    }
    s
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let nullable_outer = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let schema = resolve(schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let nullable = nullable_outer
            || schema
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        if value.is_null() && nullable {
            return;
        }
        for s in all {
            check(s, value, path, errors);
        }
        if schema.get("properties").is_none() && schema.get("type").is_none() {
            return;
        }
    }
    if value.is_null() {
        if !(nullable_outer
            || schema
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false))
        {
            errors.push(format!("{path}: null not allowed"));
        }
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{path}: {value} not in enum {e:?}"));
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .or(if schema.get("properties").is_some() {
            Some("object")
        } else {
            None
        });
    match ty {
        Some("object") => {
            let Some(obj) = value.as_object() else {
                errors.push(format!("{path}: expected object, got {value}"));
                return;
            };
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: missing required '{r}'"));
                }
            }
            if let Some(props) = props {
                for (k, v) in obj {
                    match props.get(k) {
                        Some(ps) => check(ps, v, &format!("{path}.{k}"), errors),
                        None => errors.push(format!("{path}: unknown property '{k}'")),
                    }
                }
            }
        }
        Some("array") => match value.as_array() {
            Some(items) => {
                for (i, v) in items.iter().enumerate() {
                    if let Some(s) = schema.get("items") {
                        check(s, v, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            None => errors.push(format!("{path}: expected array")),
        },
        Some("string") => match value.as_str() {
            Some(s) => match schema.get("format").and_then(Value::as_str) {
                Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                    errors.push(format!("{path}: '{s}' is not RFC 3339"));
                }
                Some("date") if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() => {
                    errors.push(format!("{path}: '{s}' is not a date"));
                }
                _ => {
                    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                        && (s.chars().count() as u64) < min
                    {
                        errors.push(format!("{path}: shorter than {min}"));
                    }
                    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                        && (s.chars().count() as u64) > max
                    {
                        errors.push(format!("{path}: longer than {max}"));
                    }
                }
            },
            None => errors.push(format!("{path}: expected string, got {value}")),
        },
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            errors.push(format!("{path}: expected integer, got {value}"))
        }
        Some("number") if !value.is_number() => {
            errors.push(format!("{path}: expected number, got {value}"))
        }
        Some("boolean") if !value.is_boolean() => {
            errors.push(format!("{path}: expected boolean, got {value}"))
        }
        _ => {}
    }
}

/// Asserts that `value` matches the response schema of `method path` for `status`.
pub fn assert_response(method: &str, path: &str, status: u16, value: &Value) {
    let op = &spec()["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "no operation {method} {path} in the spec");
    let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "no JSON schema for {method} {path} {status}"
    );
    assert_schema(schema, value, &format!("{method} {path}"));
}

/// Asserts that `value` matches the `application/problem+json` schema of `method path` for `status`.
pub fn assert_problem(method: &str, path: &str, status: u16, value: &Value) {
    let op = &spec()["paths"][path][method.to_ascii_lowercase()];
    let schema =
        &op["responses"][status.to_string()]["content"]["application/problem+json"]["schema"];
    assert!(
        schema.is_object(),
        "no problem+json schema for {method} {path} {status}"
    );
    assert_schema(schema, value, &format!("{method} {path} (problem+json)"));
}

/// Asserts that `value` matches the named component schema.
pub fn assert_component(name: &str, value: &Value) {
    let schema = &spec()["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    assert_schema(schema, value, name);
}

fn assert_schema(schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{what}: response does not match the spec:\n{}\n{value:#}",
        errors.join("\n")
    );
}
