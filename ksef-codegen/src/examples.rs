//! Example bodies of the document: the spec's own example of a media type, or, when it has none,
//! a minimal instance of its JSON schema. A server answering from the spec (the simulator's
//! generic operations) uses them.

use serde_json::{Map, Value};

/// Deepest nesting the synthesiser follows (the schemas have no deeper legitimate nesting; a
/// recursive schema ends in `null` there).
const MAX_DEPTH: u32 = 12;

/// The example of a media type object (`example`, else the first of `examples`), completed with
/// the required properties its schema demands and the example lacks ([`complete`]: examples lag
/// behind schema changes — 2.9.0's collective-identifier invoices miss their new required
/// `collectiveIdentifierNumber`), else a minimal instance of its schema when the media type is
/// JSON.
pub fn media_example(doc: &Value, content_type: &str, media: &Value) -> Option<Value> {
    media
        .get("example")
        .cloned()
        .or_else(|| {
            media
                .get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .and_then(|e| e.get("value"))
                .cloned()
        })
        .map(|example| match media.get("schema") {
            Some(schema) if content_type.contains("json") => complete(doc, schema, example),
            _ => example,
        })
        .or_else(|| {
            media
                .get("schema")
                .filter(|_| content_type.contains("json"))
                .map(|schema| minimal_instance(doc, schema))
        })
}

/// Follows a `$ref` to `#/components/schemas/...`, or the single `$ref` of an `allOf`.
pub fn resolve_schema<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let target = schema.get("$ref").and_then(Value::as_str).or_else(|| {
        schema
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|f| f.get("$ref"))
            .and_then(Value::as_str)
    });
    match target.and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => doc
            .pointer("/components/schemas")
            .and_then(|s| s.get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// `value` with every required property its schema demands: a missing one gets a minimal
/// instance, present ones (and array items) are completed in turn. Nothing is removed or changed.
pub fn complete(doc: &Value, schema: &Value, value: Value) -> Value {
    complete_at(doc, schema, value, 0)
}

fn complete_at(doc: &Value, schema: &Value, value: Value, depth: u32) -> Value {
    let schema = resolve_schema(doc, schema);
    if depth > MAX_DEPTH {
        return value;
    }
    match value {
        Value::Object(mut map) => {
            let props = schema.get("properties");
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(name)
                    && let Some(p) = props.and_then(|p| p.get(name))
                {
                    map.insert(name.to_string(), synthesize(doc, p, depth + 1));
                }
            }
            let completed = map
                .into_iter()
                .map(|(k, v)| match props.and_then(|p| p.get(&k)) {
                    Some(p) => {
                        let v = complete_at(doc, p, v, depth + 1);
                        (k, v)
                    }
                    None => (k, v),
                })
                .collect();
            Value::Object(completed)
        }
        Value::Array(items) => match schema.get("items") {
            Some(item) => Value::Array(
                items
                    .into_iter()
                    .map(|v| complete_at(doc, item, v, depth + 1))
                    .collect(),
            ),
            None => Value::Array(items),
        },
        other => other,
    }
}

/// A minimal instance of a schema: required properties only, empty arrays, the first enum value,
/// strings of the minimum length, numbers at their minimum.
pub fn minimal_instance(doc: &Value, schema: &Value) -> Value {
    synthesize(doc, schema, 0)
}

fn synthesize(doc: &Value, schema: &Value, depth: u32) -> Value {
    let schema = resolve_schema(doc, schema);
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or(
        if schema.get("properties").is_some() {
            "object"
        } else {
            "string"
        },
    );
    match ty {
        "object" => {
            let mut m = Map::new();
            let props = schema.get("properties");
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let Some(p) = props.and_then(|p| p.get(name)) {
                    m.insert(name.to_string(), synthesize(doc, p, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" => Value::Array(Vec::new()),
        "integer" | "number" => {
            Value::from(schema.get("minimum").and_then(Value::as_i64).unwrap_or(0))
        }
        "boolean" => Value::Bool(false),
        _ => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => Value::from("2026-01-01T00:00:00+00:00"),
            Some("date") => Value::from("2026-01-01"),
            Some("uuid") => Value::from("00000000-0000-4000-8000-000000000000"),
            _ => {
                let n = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1);
                Value::from("0".repeat(usize::try_from(n).unwrap_or(1)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Limits": {"type": "object", "required": ["n", "kind", "at", "items"], "properties": {
                "n": {"type": "integer", "minimum": 2},
                "kind": {"allOf": [{"$ref": "#/components/schemas/Kind"}]},
                "at": {"type": "string", "format": "date-time"},
                "items": {"type": "array", "items": {"type": "string"}},
                "optional": {"type": "string"}
            }},
            "Kind": {"type": "string", "enum": ["Zip", "TarGz"]}
        }}})
    }

    #[test]
    fn the_spec_example_wins() {
        let d = doc();
        let media = json!({"schema": {"$ref": "#/components/schemas/Limits"}, "example": {"n": 7}});
        assert_eq!(
            media_example(&d, "application/json", &media),
            Some(json!({"n": 7, "kind": "Zip", "at": "2026-01-01T00:00:00+00:00", "items": []}))
        );
        let media = json!({"example": {"n": 7}});
        assert_eq!(
            media_example(&d, "application/json", &media),
            Some(json!({"n": 7}))
        );
        let media = json!({"examples": {"a": {"value": [1]}}});
        assert_eq!(
            media_example(&d, "application/json", &media),
            Some(json!([1]))
        );
    }

    #[test]
    fn a_minimal_instance_has_the_required_properties_only() {
        let d = doc();
        let media = json!({"schema": {"$ref": "#/components/schemas/Limits"}});
        assert_eq!(
            media_example(&d, "application/json", &media),
            Some(json!({"n": 2, "kind": "Zip", "at": "2026-01-01T00:00:00+00:00", "items": []}))
        );
        assert_eq!(media_example(&d, "application/xml", &media), None);
    }

    #[test]
    fn an_example_missing_a_required_property_is_completed() {
        let d = json!({"components": {"schemas": {
            "Page": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
            "Item": {"type": "object", "required": ["id", "group"], "properties": {
                "id": {"type": "string"}, "group": {"type": "string"}, "note": {"type": "string"}}}
        }}});
        let media = json!({"schema": {"$ref": "#/components/schemas/Page"},
            "example": {"items": [{"id": "a", "note": "n"}, {"id": "b", "group": "g"}]}});
        assert_eq!(
            media_example(&d, "application/json", &media),
            Some(
                json!({"items": [{"id": "a", "note": "n", "group": "0"}, {"id": "b", "group": "g"}]})
            )
        );
    }

    #[test]
    fn recursion_ends() {
        let d = json!({"components": {"schemas": {"Node": {"type": "object", "required": ["next"],
            "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}}});
        let v = minimal_instance(&d, &json!({"$ref": "#/components/schemas/Node"}));
        assert!(v.pointer("/next/next/next").is_some());
    }
}
