//! What changed between two versions of the document: operations and component schemas added,
//! removed or changed. "Changed" compares the documents as published (descriptions, error tables,
//! examples and `x-` extensions included), so it also counts what the compact snapshots do not
//! show; the snapshots show *how* the surface changed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{SpecError, lock::api_version, names::operation_key, normalize::METHODS};

/// The difference between an older and a newer document. Every list is sorted; operations are
/// named `METHOD /path`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpecDiff {
    /// API version of the older document.
    pub old_version: String,
    /// API version of the newer document.
    pub new_version: String,
    /// Operations only the newer document has.
    pub operations_added: Vec<String>,
    /// Operations only the older document has.
    pub operations_removed: Vec<String>,
    /// Operations both have, with any difference (path-level parameters included).
    pub operations_changed: Vec<String>,
    /// Schemas only the newer document has.
    pub schemas_added: Vec<String>,
    /// Schemas only the older document has.
    pub schemas_removed: Vec<String>,
    /// Schemas both have, with any difference.
    pub schemas_changed: Vec<String>,
}

impl SpecDiff {
    /// Compares two (original, not normalised) documents.
    pub fn between(old: &Value, new: &Value) -> Result<Self, SpecError> {
        let (old_ops, new_ops) = (operations(old)?, operations(new)?);
        let (operations_added, operations_removed, operations_changed) =
            compare(&old_ops, &new_ops);
        let (old_schemas, new_schemas) = (schemas(old), schemas(new));
        let (schemas_added, schemas_removed, schemas_changed) = compare(&old_schemas, &new_schemas);
        Ok(Self {
            old_version: api_version(old)?,
            new_version: api_version(new)?,
            operations_added,
            operations_removed,
            operations_changed,
            schemas_added,
            schemas_removed,
            schemas_changed,
        })
    }

    /// Whether the documents have the same operations and schemas.
    pub fn is_empty(&self) -> bool {
        self.operations_added.is_empty()
            && self.operations_removed.is_empty()
            && self.operations_changed.is_empty()
            && self.schemas_added.is_empty()
            && self.schemas_removed.is_empty()
            && self.schemas_changed.is_empty()
    }

    /// One line: `2.7.0 -> 2.9.0: operations +1 -1 ~43, schemas +4 -0 ~19`.
    pub fn summary(&self) -> String {
        format!(
            "{} -> {}: operations +{} -{} ~{}, schemas +{} -{} ~{}",
            self.old_version,
            self.new_version,
            self.operations_added.len(),
            self.operations_removed.len(),
            self.operations_changed.len(),
            self.schemas_added.len(),
            self.schemas_removed.len(),
            self.schemas_changed.len()
        )
    }

    /// The summary followed by the added and removed operations and schemas, one per line.
    pub fn report(&self) -> Vec<String> {
        let mut out = vec![self.summary()];
        let lists = [
            ("+ operation", &self.operations_added),
            ("- operation", &self.operations_removed),
            ("+ schema", &self.schemas_added),
            ("- schema", &self.schemas_removed),
        ];
        for (label, items) in lists {
            out.extend(items.iter().map(|i| format!("  {label} {i}")));
        }
        out
    }
}

/// `METHOD /path` → the operation object together with the path item's own parameters.
fn operations(doc: &Value) -> Result<BTreeMap<String, (Value, Value)>, SpecError> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| SpecError::Invalid("no `paths` object".into()))?;
    let mut out = BTreeMap::new();
    for (path, item) in paths {
        let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.insert(operation_key(method, path), (op.clone(), shared.clone()));
            }
        }
    }
    Ok(out)
}

fn schemas(doc: &Value) -> BTreeMap<String, Value> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn compare<T: PartialEq>(
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .cloned()
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let changed = old
        .iter()
        .filter(|(k, v)| new.get(*k).is_some_and(|n| n != *v))
        .map(|(k, _)| k.clone())
        .collect();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(version: &str, paths: Value, schemas: Value) -> Value {
        json!({"openapi": "3.0.4", "info": {"version": version}, "paths": paths,
            "components": {"schemas": schemas}})
    }

    #[test]
    fn finds_added_removed_and_changed() {
        let old = doc(
            "1.0.0",
            json!({"/a": {"get": {"description": "x"}, "post": {}}, "/b/{n}": {"get": {}}}),
            json!({"A": {"type": "string"}, "B": {"type": "object"}}),
        );
        let new = doc(
            "1.1.0",
            json!({"/a": {"get": {"description": "y"}, "post": {}}, "/b": {"post": {}}}),
            json!({"A": {"type": "string"}, "B": {"type": "object", "required": ["x"]}, "C": {}}),
        );
        let d = SpecDiff::between(&old, &new).unwrap();
        assert_eq!(d.operations_added, ["POST /b"]);
        assert_eq!(d.operations_removed, ["GET /b/{n}"]);
        assert_eq!(d.operations_changed, ["GET /a"]);
        assert_eq!(d.schemas_added, ["C"]);
        assert!(d.schemas_removed.is_empty());
        assert_eq!(d.schemas_changed, ["B"]);
        assert_eq!(
            d.summary(),
            "1.0.0 -> 1.1.0: operations +1 -1 ~1, schemas +1 -0 ~1"
        );
        assert!(!d.is_empty());
        assert!(SpecDiff::between(&old, &old).unwrap().is_empty());
    }

    #[test]
    fn path_level_parameters_count_as_a_change_of_every_operation_of_the_path() {
        let old = doc("1.0.0", json!({"/a": {"get": {}, "put": {}}}), json!({}));
        let new = doc(
            "1.0.0",
            json!({"/a": {"parameters": [{"name": "p", "in": "query"}], "get": {}, "put": {}}}),
            json!({}),
        );
        let d = SpecDiff::between(&old, &new).unwrap();
        assert_eq!(d.operations_changed, ["GET /a", "PUT /a"]);
    }
}
