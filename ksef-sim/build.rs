#![allow(clippy::panic)]
//! Reads the official OpenAPI document at build time and writes a table of operations
//! (method, path template, success status, success content type, x-rate-limits, rate-limit
//! group, bearer security, success example) to `OUT_DIR/operations.rs`.
//! Nothing derived from the spec is committed; the table lives only in OUT_DIR.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=KSEF_OPENAPI_SPEC");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("KSEF_OPENAPI_SPEC") {
        let p = PathBuf::from(p);
        candidates.push(if p.is_absolute() {
            p
        } else {
            manifest.join("..").join(p)
        });
    }
    candidates.push(manifest.join("../spec/ksef-openapi.json"));
    candidates.push(manifest.join("../../shared/spec/ksef-openapi-2.7.0.json"));
    candidates.push(manifest.join("../shared/spec/ksef-openapi-2.7.0.json"));
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        panic!(
            "ksef-sim: the official KSeF OpenAPI document was not found (looked at {candidates:?}). \
             Put ../shared beside the clone, set KSEF_OPENAPI_SPEC, or run `cargo xtask regen-spec`."
        );
    };
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("ksef-sim: cannot read {}: {e}", path.display()));
    let spec: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("ksef-sim: {} is not JSON: {e}", path.display()));
    let out = generate(&spec);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    write(&out_dir.join("operations.rs"), &out);
}

fn write(path: &Path, content: &str) {
    std::fs::write(path, content)
        .unwrap_or_else(|e| panic!("ksef-sim: cannot write {}: {e}", path.display()));
}

fn group_from_description(d: &str) -> String {
    // The 429 description is a markdown table whose last column is the group name.
    let line = d.lines().find(|l| l.contains("**")).unwrap_or("");
    let cell = line
        .trim()
        .trim_end_matches('|')
        .rsplit('|')
        .next()
        .unwrap_or("")
        .trim();
    if cell.is_empty() || cell == "-" {
        String::new()
    } else {
        cell.to_string()
    }
}

/// Follows a `$ref` to `#/components/schemas/...` (one level; `allOf` with a single ref too).
fn resolve<'a>(
    spec: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> &'a serde_json::Value {
    let target = schema.get("$ref").and_then(|r| r.as_str()).or_else(|| {
        schema
            .get("allOf")
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
            .and_then(|f| f.get("$ref"))
            .and_then(|r| r.as_str())
    });
    match target.and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => spec
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// A minimal instance of a schema: required properties only, empty arrays, the first enum
/// value, strings of the minimum length, numbers at their minimum.
fn synthesize(
    spec: &serde_json::Value,
    schema: &serde_json::Value,
    depth: u32,
) -> serde_json::Value {
    use serde_json::Value;
    let schema = resolve(spec, schema);
    if depth > 12 {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = schema
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| {
            if schema.get("properties").is_some() {
                "object"
            } else {
                "string"
            }
        });
    match ty {
        "object" => {
            let mut m = serde_json::Map::new();
            let props = schema.get("properties");
            for r in schema
                .get("required")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                if let (Some(name), Some(p)) = (
                    r.as_str(),
                    props.and_then(|p| r.as_str().and_then(|n| p.get(n))),
                ) {
                    m.insert(name.to_string(), synthesize(spec, p, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" => Value::Array(Vec::new()),
        "integer" | "number" => {
            Value::from(schema.get("minimum").and_then(|m| m.as_i64()).unwrap_or(0))
        }
        "boolean" => Value::Bool(false),
        _ => match schema.get("format").and_then(|f| f.as_str()) {
            Some("date-time") => Value::from("2026-01-01T00:00:00+00:00"),
            Some("date") => Value::from("2026-01-01"),
            Some("uuid") => Value::from("00000000-0000-4000-8000-000000000000"),
            _ => {
                let n = schema
                    .get("minLength")
                    .and_then(|m| m.as_u64())
                    .unwrap_or(1);
                Value::from("0".repeat(usize::try_from(n).unwrap_or(1)))
            }
        },
    }
}

fn generate(spec: &serde_json::Value) -> String {
    let mut s = String::new();
    s.push_str(
        "// Generated by ksef-sim/build.rs from the official OpenAPI document. Do not edit.\n",
    );
    s.push_str("pub(crate) static OPERATIONS: &[OperationInfo] = &[\n");
    let empty = serde_json::Map::new();
    let paths = spec
        .get("paths")
        .and_then(|p| p.as_object())
        .unwrap_or(&empty);
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let responses = op
                .get("responses")
                .and_then(|r| r.as_object())
                .unwrap_or(&empty);
            let (status, resp) = responses
                .iter()
                .find(|(k, _)| k.starts_with('2'))
                .map(|(k, v)| (k.parse::<u16>().unwrap_or(200), v.clone()))
                .unwrap_or((200, serde_json::Value::Null));
            let content = resp.get("content").and_then(|c| c.as_object());
            let (ctype, example) = match content.and_then(|c| c.iter().next()) {
                Some((ct, cv)) => {
                    let ex = cv
                        .get("example")
                        .cloned()
                        .or_else(|| {
                            cv.get("examples")
                                .and_then(|e| e.as_object())
                                .and_then(|e| e.values().next())
                                .and_then(|e| e.get("value"))
                                .cloned()
                        })
                        .map(|v| v.to_string())
                        .or_else(|| {
                            // No example: a minimal instance of the schema (required fields only).
                            cv.get("schema")
                                .filter(|_| ct.contains("json"))
                                .map(|sch| synthesize(spec, sch, 0).to_string())
                        })
                        .unwrap_or_default();
                    (ct.clone(), ex)
                }
                None => (String::new(), String::new()),
            };
            let rl = op.get("x-rate-limits");
            let num = |k: &str| {
                rl.and_then(|r| r.get(k))
                    .and_then(|v| v.as_u64())
                    .map(|v| format!("Some({v})"))
                    .unwrap_or_else(|| "None".to_string())
            };
            let group = responses
                .get("429")
                .and_then(|r| r.get("description"))
                .and_then(|d| d.as_str())
                .map(group_from_description)
                .unwrap_or_default();
            let bearer = op
                .get("security")
                .and_then(|s| s.as_array())
                .map(|a| !a.is_empty())
                .unwrap_or(false);
            let perms: Vec<String> = op
                .get("x-required-permissions")
                .and_then(|p| p.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let body_schema = op
                .get("requestBody")
                .and_then(|b| b.get("content"))
                .and_then(|c| c.get("application/json"))
                .and_then(|c| c.get("schema"));
            let has_json_body = body_schema.is_some();
            let body_required: Vec<String> = body_schema
                .map(|sch| resolve(spec, sch))
                .and_then(|sch| sch.get("required"))
                .and_then(|r| r.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "    OperationInfo {{ method: {m:?}, path: {p:?}, success_status: {status}, success_content_type: {ctype:?}, per_second: {ps}, per_minute: {pm}, per_hour: {ph}, group: {group:?}, bearer: {bearer}, required_permissions: &{perms:?}, success_example: {example:?}, json_body: {has_json_body}, body_required: &{body_required:?} }},",
                m = method.to_uppercase(),
                p = path,
                ps = num("perSecond"),
                pm = num("perMinute"),
                ph = num("perHour"),
            );
        }
    }
    s.push_str("];\n");
    s
}
