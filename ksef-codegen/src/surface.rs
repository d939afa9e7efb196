//! The API surface of a document: per-operation facts that code needs (token kind, rate limits,
//! permissions) and the compact, sorted text snapshots that make spec drift reviewable.

use std::{collections::BTreeMap, fmt::Write as _};

use serde_json::Value;

use crate::{
    SpecError,
    examples::{media_example, resolve_schema},
    lock::api_version,
    names::{Overrides, operation_name},
    normalize::METHODS,
};

/// Which bearer token an operation needs (progenitor ignores `security`; this is derived from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    /// No `Authorization` header (challenge, submitting the auth request, public keys, test data).
    None,
    /// The short-lived `authenticationToken` of an authentication operation (status, redeem).
    AuthenticationOperation,
    /// The `refreshToken` (token refresh).
    Refresh,
    /// The `accessToken` (everything else).
    Access,
}

impl TokenKind {
    /// Stable lower-case name used in snapshots and generated code.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::None => "none",
            TokenKind::AuthenticationOperation => "authentication-operation",
            TokenKind::Refresh => "refresh",
            TokenKind::Access => "access",
        }
    }

    /// The variant's name in generated Rust code.
    pub fn variant(self) -> &'static str {
        match self {
            TokenKind::None => "None",
            TokenKind::AuthenticationOperation => "AuthenticationOperation",
            TokenKind::Refresh => "Refresh",
            TokenKind::Access => "Access",
        }
    }
}

/// An operation's `x-rate-limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    /// Requests per second.
    pub per_second: Option<u32>,
    /// Requests per minute.
    pub per_minute: Option<u32>,
    /// Requests per hour.
    pub per_hour: Option<u32>,
}

impl std::fmt::Display for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.per_second, "s"),
            (self.per_minute, "min"),
            (self.per_hour, "h"),
        ]
        .iter()
        .filter_map(|(n, unit)| n.map(|n| format!("{n}/{unit}")))
        .collect();
        if parts.is_empty() {
            f.write_str("-")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// One operation of the surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Name (the synthesised or overridden `operationId`).
    pub name: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Token the operation needs.
    pub token: TokenKind,
    /// `x-rate-limits`, if any.
    pub rate_limits: Option<RateLimits>,
    /// The rate-limit group named in the 429 description (`onlineSession`, `invoiceSend`, ...; `other`).
    pub rate_limit_group: Option<String>,
    /// `x-required-permissions` (empty when none).
    pub permissions: Vec<String>,
    /// Parameters as `in name: type` (`?` when optional).
    pub params: Vec<String>,
    /// Request body as `content-type type`.
    pub request: Option<String>,
    /// Responses as `status content-types type`.
    pub responses: Vec<String>,
    /// The documented success answer (the first 2xx response), if any.
    pub success: Option<SuccessResponse>,
    /// Required top-level properties of a JSON request body; `None` when the operation takes no
    /// JSON body.
    pub json_body_required: Option<Vec<String>>,
}

/// The documented success answer of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessResponse {
    /// HTTP status (200, 201, 202, 204).
    pub status: u16,
    /// Content type of the body (the first one listed); `None` when there is no body.
    pub content_type: Option<String>,
    /// The spec's example of the body, or a minimal instance of its JSON schema
    /// ([`crate::examples::media_example`]).
    pub example: Option<Value>,
}

impl Operation {
    /// `METHOD /path`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Everything the snapshots show of one document.
#[derive(Debug, Clone)]
pub struct Surface {
    /// API version from `info.description`.
    pub api_version: String,
    /// Operations sorted by path, then method.
    pub operations: Vec<Operation>,
    /// Component schemas, name → one-line-per-field rendering.
    pub schemas: BTreeMap<String, String>,
}

impl Surface {
    /// Reads the surface of an (original, not normalised) document.
    pub fn of(doc: &Value, overrides: &Overrides) -> Result<Self, SpecError> {
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| SpecError::Invalid("no `paths` object".into()))?;
        let global_security = doc.get("security");
        let mut operations = Vec::new();
        for (path, item) in paths {
            let path_params = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let mut params: Vec<String> = path_params
                    .iter()
                    .chain(
                        op.get("parameters")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten(),
                    )
                    .map(|p| render_param(doc, p))
                    .collect();
                params.sort();
                let request = op.get("requestBody").map(|b| {
                    let b = resolve(doc, b);
                    render_content(b.get("content"))
                });
                let mut responses: Vec<String> = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| {
                        let r = resolve(doc, r);
                        let content = render_content(r.get("content"));
                        let headers: Vec<&str> = r
                            .get("headers")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                            .map(|(k, _)| k.as_str())
                            .collect();
                        let mut line = format!("{status} {content}");
                        if !headers.is_empty() {
                            let _ = write!(line, " headers[{}]", headers.join(", "));
                        }
                        line
                    })
                    .collect();
                responses.sort();
                let success = success_response(doc, op);
                let json_body_required = op
                    .get("requestBody")
                    .map(|b| resolve(doc, b))
                    .and_then(|b| b.pointer("/content/application~1json/schema"))
                    .map(|schema| {
                        resolve_schema(doc, schema)
                            .get("required")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    });
                operations.push(Operation {
                    name: operation_name(method, path, overrides),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    token: token_kind(op, global_security),
                    rate_limits: op.get("x-rate-limits").map(|r| RateLimits {
                        per_second: r.get("perSecond").and_then(Value::as_u64).map(clamp),
                        per_minute: r.get("perMinute").and_then(Value::as_u64).map(clamp),
                        per_hour: r.get("perHour").and_then(Value::as_u64).map(clamp),
                    }),
                    rate_limit_group: rate_limit_group(op),
                    permissions: op
                        .get("x-required-permissions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    params,
                    request,
                    responses,
                    success,
                    json_body_required,
                });
            }
        }
        operations.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        let schemas = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, s)| (name.clone(), render_schema(s)))
            .collect();
        Ok(Self {
            api_version: api_version(doc)?,
            operations,
            schemas,
        })
    }

    /// The operations snapshot: one block per operation, sorted by path and method.
    pub fn render_operations(&self) -> String {
        let mut out = format!(
            "# KSeF API {} — {} operations\n",
            self.api_version,
            self.operations.len()
        );
        for op in &self.operations {
            let limits = op
                .rate_limits
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into());
            let perms = if op.permissions.is_empty() {
                "-".to_string()
            } else {
                op.permissions.join(" | ")
            };
            let group = op.rate_limit_group.as_deref().unwrap_or("-");
            let _ = writeln!(out, "\n{} {}  ({})", op.method, op.path, op.name);
            let _ = writeln!(
                out,
                "  token: {}; limits: {limits}; group: {group}; permissions: {perms}",
                op.token.as_str()
            );
            for p in &op.params {
                let _ = writeln!(out, "  param {p}");
            }
            if let Some(r) = &op.request {
                let _ = writeln!(out, "  request {r}");
            }
            for r in &op.responses {
                let _ = writeln!(out, "  response {r}");
            }
        }
        out
    }

    /// The schema snapshot: every component schema, sorted by name.
    pub fn render_schemas(&self) -> String {
        let mut out = format!(
            "# KSeF API {} — {} schemas\n",
            self.api_version,
            self.schemas.len()
        );
        for (name, body) in &self.schemas {
            let _ = write!(out, "\n{name}: {body}");
            if !body.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// Operation keys (`METHOD /path`).
    pub fn operation_keys(&self) -> std::collections::BTreeSet<String> {
        self.operations.iter().map(Operation::key).collect()
    }
}

/// The properties and the required properties of a component schema (`None` when the document
/// has no such object schema), both sorted.
pub fn schema_properties(doc: &Value, name: &str) -> Option<(Vec<String>, Vec<String>)> {
    let schema = doc.pointer("/components/schemas")?.get(name)?;
    let mut props: Vec<String> = schema
        .get("properties")?
        .as_object()?
        .keys()
        .cloned()
        .collect();
    props.sort();
    let mut required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    required.sort();
    Some((props, required))
}

/// The first 2xx response: status, first content type, example (spec's or synthesised).
fn success_response(doc: &Value, op: &Value) -> Option<SuccessResponse> {
    let (status, response) = op
        .get("responses")
        .and_then(Value::as_object)?
        .iter()
        .filter(|(k, _)| k.starts_with('2'))
        .filter_map(|(k, v)| k.parse::<u16>().ok().map(|s| (s, v)))
        .min_by_key(|(s, _)| *s)?;
    let response = resolve(doc, response);
    let media = response
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next());
    Some(SuccessResponse {
        status,
        content_type: media.map(|(ct, _)| ct.clone()),
        example: media.and_then(|(ct, m)| media_example(doc, ct, m)),
    })
}

/// The group column of the limits table in the 429 description:
/// `| **Limity liczby żądań** | 10 | 30 | 120 | onlineSession`. `-` (no group) counts as none.
fn rate_limit_group(op: &Value) -> Option<String> {
    let description = op.pointer("/responses/429/description")?.as_str()?;
    let row = description.lines().find(|l| l.contains("**Limity"))?;
    let group = row.trim().trim_end_matches('|').rsplit('|').next()?.trim();
    (!group.is_empty() && group != "-" && group.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| group.to_string())
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Token kind: no `security` → none; otherwise the token named in the description (the spec says
/// which of `AccessToken`, `RefreshToken`, `AuthenticationToken` an operation accepts).
fn token_kind(op: &Value, global_security: Option<&Value>) -> TokenKind {
    let security = op.get("security").or(global_security);
    let secured = security.and_then(Value::as_array).is_some_and(|s| {
        s.iter()
            .any(|req| req.as_object().is_some_and(|o| !o.is_empty()))
    });
    if !secured {
        return TokenKind::None;
    }
    let text = format!(
        "{} {}",
        op.get("summary").and_then(Value::as_str).unwrap_or(""),
        op.get("description").and_then(Value::as_str).unwrap_or("")
    );
    if text.contains("AccessToken") {
        TokenKind::Access
    } else if text.contains("RefreshToken") {
        TokenKind::Refresh
    } else if text.contains("AuthenticationToken") {
        TokenKind::AuthenticationOperation
    } else {
        TokenKind::Access
    }
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(pointer) => doc.pointer(pointer).unwrap_or(v),
        None => v,
    }
}

fn render_param(doc: &Value, p: &Value) -> String {
    let p = resolve(doc, p);
    let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
    let place = p.get("in").and_then(Value::as_str).unwrap_or("?");
    let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
    let ty = p.get("schema").map(type_name).unwrap_or_else(|| "-".into());
    format!("{place} {name}{}: {ty}", if required { "" } else { "?" })
}

fn render_content(content: Option<&Value>) -> String {
    let Some(content) = content.and_then(Value::as_object).filter(|c| !c.is_empty()) else {
        return "(no body)".into();
    };
    let types: Vec<&str> = content.keys().map(String::as_str).collect();
    let schema = content
        .values()
        .find_map(|m| m.get("schema"))
        .map(type_name);
    match schema {
        Some(ty) => format!("{} {ty}", types.join("|")),
        None => types.join("|"),
    }
}

/// A short type name: `$ref` name, `[T]`, `string(date-time)`, `enum(A|B)`, `T?` when nullable.
pub fn type_name(s: &Value) -> String {
    let nullable = s.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    let base = if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        r.rsplit('/').next().unwrap_or(r).to_string()
    } else if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        all.iter().map(type_name).collect::<Vec<_>>().join("&")
    } else if let Some(one) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
    {
        one.iter().map(type_name).collect::<Vec<_>>().join("|")
    } else if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        format!("enum({})", vals.join("|"))
    } else {
        match s.get("type").and_then(Value::as_str) {
            Some("array") => format!(
                "[{}]",
                s.get("items").map(type_name).unwrap_or_else(|| "?".into())
            ),
            Some(t) => match s.get("format").and_then(Value::as_str) {
                Some(f) => format!("{t}({f})"),
                None if t == "object"
                    && s.get("additionalProperties").is_some_and(Value::is_object) =>
                {
                    format!(
                        "map<{}>",
                        s.get("additionalProperties")
                            .map(type_name)
                            .unwrap_or_default()
                    )
                }
                None => t.to_string(),
            },
            None => "any".into(),
        }
    };
    if nullable { format!("{base}?") } else { base }
}

fn render_schema(s: &Value) -> String {
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out = String::from("object\n");
        for (name, p) in props {
            let req = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            let _ = writeln!(out, "  {name}{req}: {}", type_name(p));
        }
        out
    } else {
        type_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_kind_follows_security_and_description() {
        let none = json!({});
        let bearer = json!([{"Bearer": []}]);
        assert_eq!(
            token_kind(&json!({"description": "x"}), None),
            TokenKind::None
        );
        assert_eq!(
            token_kind(
                &json!({"security": bearer, "description": "Wymagany AuthenticationToken"}),
                None
            ),
            TokenKind::AuthenticationOperation
        );
        assert_eq!(
            token_kind(
                &json!({"security": bearer, "description": "Wymagany RefreshToken"}),
                None
            ),
            TokenKind::Refresh
        );
        assert_eq!(
            token_kind(
                &json!({"security": bearer, "description": "AccessToken lub RefreshToken"}),
                None
            ),
            TokenKind::Access
        );
        assert_eq!(
            token_kind(&json!({"security": bearer}), None),
            TokenKind::Access
        );
        assert_eq!(token_kind(&none, Some(&bearer)), TokenKind::Access);
    }

    #[test]
    fn type_names_are_compact() {
        assert_eq!(
            type_name(&json!({"$ref": "#/components/schemas/Foo"})),
            "Foo"
        );
        assert_eq!(
            type_name(
                &json!({"type": "array", "items": {"type": "string", "format": "date-time"}})
            ),
            "[string(date-time)]"
        );
        assert_eq!(
            type_name(&json!({"allOf": [{"$ref": "#/components/schemas/Foo"}], "nullable": true})),
            "Foo?"
        );
        assert_eq!(
            type_name(&json!({"enum": ["A", "B"], "type": "string"})),
            "enum(A|B)"
        );
    }

    #[test]
    fn rate_limit_group_comes_from_the_429_table() {
        let op = json!({"responses": {"429": {"description": "| | req / s | req / min | req / h | grupa\n| --- | --- | --- | --- | --- |\n| **Limity liczby żądań** | 10 | 30 | 120 | onlineSession\n"}}});
        assert_eq!(rate_limit_group(&op).as_deref(), Some("onlineSession"));
        let op = json!({"responses": {"429": {"description": "| **Limity liczby żądań** | 60 | - | - | -\n"}}});
        assert_eq!(rate_limit_group(&op), None);
        assert_eq!(rate_limit_group(&json!({"responses": {}})), None);
    }

    #[test]
    fn schema_properties_are_read_by_name() {
        let doc = json!({"components": {"schemas": {"L": {"type": "object", "required": ["b"],
            "properties": {"b": {}, "a": {}}}}}});
        assert_eq!(
            schema_properties(&doc, "L"),
            Some((vec!["a".into(), "b".into()], vec!["b".into()]))
        );
        assert_eq!(schema_properties(&doc, "M"), None);
    }

    #[test]
    fn rate_limits_render() {
        assert_eq!(
            RateLimits {
                per_second: Some(10),
                per_minute: None,
                per_hour: Some(120)
            }
            .to_string(),
            "10/s 120/h"
        );
        assert_eq!(RateLimits::default().to_string(), "-");
    }
}
