//! The rewrites that make the official document acceptable to progenitor, applied to an in-memory
//! copy (the file on disk is never edited). Each rewrite is deterministic and unit-tested.
//!
//! - **N1** every operation gets an `operationId` ([`crate::names`]); a collision is a hard error.
//! - **N2** every non-2xx response body becomes raw bytes (`application/octet-stream`): progenitor
//!   allows one error type per operation, and KSeF answers errors in two JSON shapes (legacy
//!   `ExceptionResponse`, `application/problem+json`) or as HTML from a gateway. Keeping them raw
//!   keeps status and headers (`Retry-After`!) and lets hand-written code in `ksef-api` decode them.
//! - **N3** a request body that is not JSON (the `application/xml` of `POST /auth/xades-signature`)
//!   becomes `application/octet-stream` bytes; the client hook restores the real content type, which
//!   [`NormalizedSpec::request_content_types`] records.
//! - **N4** string length and pattern constraints are dropped from schemas: KSeF relaxes patterns
//!   between releases, and a response must not fail to deserialize because a string no longer fits
//!   the pinned pattern. Input rules are enforced by the typed identifiers of `ksef-crypto` instead.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{
    SpecError,
    names::{Overrides, operation_key, operation_name},
};

/// HTTP methods an OpenAPI path item can hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The normalised document and what the normalisation recorded.
#[derive(Debug, Clone)]
pub struct NormalizedSpec {
    /// The rewritten document.
    pub doc: Value,
    /// `operationId` → original request content type, for N3-rewritten bodies.
    pub request_content_types: BTreeMap<String, String>,
}

impl NormalizedSpec {
    /// The document as progenitor's input type.
    pub fn openapi(&self) -> Result<openapiv3::OpenAPI, SpecError> {
        serde_json::from_value(self.doc.clone()).map_err(|e| {
            SpecError::Invalid(format!(
                "not an OpenAPI 3 document after normalisation: {e}"
            ))
        })
    }
}

/// Runs N1–N4 on a copy of `doc`.
pub fn normalize(doc: &Value, overrides: &Overrides) -> Result<NormalizedSpec, SpecError> {
    let mut doc = doc.clone();
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(SpecError::Invalid(format!(
            "`openapi` is `{version}`, expected 3.x"
        )));
    }
    let mut request_content_types = BTreeMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| SpecError::Invalid("no `paths` object".into()))?;
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            // N1
            let name = operation_name(method, path, overrides);
            if let Some(first) = seen.insert(name.clone(), operation_key(method, path)) {
                return Err(SpecError::NameCollision {
                    name,
                    first,
                    second: operation_key(method, path),
                });
            }
            op.insert("operationId".into(), Value::String(name.clone()));
            // N2
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for (status, response) in responses.iter_mut() {
                    if !is_success(status) {
                        raw_error_body(response);
                    }
                }
            }
            // N3
            if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                let content = body.get("content").and_then(Value::as_object);
                let non_json = content.and_then(|c| {
                    if c.keys()
                        .any(|k| k == "application/json" || k.starts_with("application/json;"))
                    {
                        None
                    } else {
                        c.keys().next().cloned()
                    }
                });
                if let Some(original) = non_json.filter(|ct| ct != "application/octet-stream") {
                    body.insert("content".into(), json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}));
                    request_content_types.insert(name, original);
                }
            }
        }
    }
    // N4
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        relax_constraints(schemas);
    }
    if let Some(paths) = doc.get_mut("paths") {
        relax_constraints(paths);
    }
    Ok(NormalizedSpec {
        doc,
        request_content_types,
    })
}

/// `2xx`, `2XX` and `default` count as success only for the 2xx family.
fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn raw_error_body(response: &mut Value) {
    if let Some(obj) = response.as_object_mut() {
        if obj.contains_key("$ref") {
            // A shared response object: replace the reference by an inline raw response.
            let description = "error response (kept raw; decoded by ksef-api)";
            *obj = Map::from_iter([("description".to_string(), Value::String(description.into()))]);
        }
        obj.insert("content".into(), json!({"application/octet-stream": {}}));
    }
}

fn relax_constraints(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_string = map.get("type").and_then(Value::as_str) == Some("string");
            if is_string || map.contains_key("pattern") {
                map.remove("pattern");
                map.remove("minLength");
                map.remove("maxLength");
            }
            for child in map.values_mut() {
                relax_constraints(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(relax_constraints),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Value {
        json!({
            "openapi": "3.0.4",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/auth/xades-signature": {"post": {
                    "requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}},
                    "responses": {
                        "202": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                        "400": {"description": "bad", "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/E"}},
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/P"}}}},
                        "429": {"description": "slow", "content": {"application/problem+json": {}}}
                    }}},
                "/sessions/{referenceNumber}": {"get": {"responses": {"200": {"description": "ok"}}}}
            },
            "components": {"schemas": {
                "A": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^x$", "maxLength": 3}}},
                "E": {"type": "object"}, "P": {"type": "object"}
            }}
        })
    }

    #[test]
    fn n1_assigns_names_and_n3_rewrites_xml() {
        let n = normalize(&tiny(), &Overrides::new()).unwrap();
        assert_eq!(
            n.doc
                .pointer("/paths/~1auth~1xades-signature/post/operationId")
                .unwrap(),
            "post_auth_xades_signature"
        );
        assert_eq!(
            n.doc
                .pointer("/paths/~1sessions~1{referenceNumber}/get/operationId")
                .unwrap(),
            "get_sessions_by_reference_number"
        );
        assert!(n.doc.pointer("/paths/~1auth~1xades-signature/post/requestBody/content/application~1octet-stream").is_some());
        assert_eq!(
            n.request_content_types
                .get("post_auth_xades_signature")
                .unwrap(),
            "application/xml"
        );
    }

    #[test]
    fn n2_makes_every_error_body_raw_and_keeps_success_typed() {
        let n = normalize(&tiny(), &Overrides::new()).unwrap();
        let responses = n
            .doc
            .pointer("/paths/~1auth~1xades-signature/post/responses")
            .unwrap();
        for code in ["400", "429"] {
            let content = responses[code]["content"].as_object().unwrap();
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                vec!["application/octet-stream"],
                "{code}"
            );
        }
        assert!(responses["202"]["content"]["application/json"].is_object());
    }

    #[test]
    fn n4_relaxes_string_constraints_only() {
        let mut doc = tiny();
        doc["components"]["schemas"]["A"]["properties"]["n"] =
            json!({"type": "integer", "minimum": 0});
        let n = normalize(&doc, &Overrides::new()).unwrap();
        let a = &n.doc["components"]["schemas"]["A"]["properties"];
        assert_eq!(a["s"], json!({"type": "string"}));
        assert_eq!(a["n"], json!({"type": "integer", "minimum": 0}));
    }

    #[test]
    fn collisions_are_a_hard_error() {
        let overrides = crate::names::parse_overrides(
            "POST /auth/xades-signature same\nGET /sessions/{referenceNumber} same\n",
        )
        .unwrap();
        let err = normalize(&tiny(), &overrides).unwrap_err();
        assert!(matches!(err, SpecError::NameCollision { .. }), "{err}");
    }

    #[test]
    fn rejects_non_openapi3() {
        assert!(normalize(&json!({"swagger": "2.0", "paths": {}}), &Overrides::new()).is_err());
        assert!(normalize(&json!({"openapi": "3.0.0"}), &Overrides::new()).is_err());
    }

    #[test]
    fn normalisation_is_deterministic() {
        let a = normalize(&tiny(), &Overrides::new()).unwrap();
        let b = normalize(&tiny(), &Overrides::new()).unwrap();
        assert_eq!(
            serde_json::to_string(&a.doc).unwrap(),
            serde_json::to_string(&b.doc).unwrap()
        );
    }
}
