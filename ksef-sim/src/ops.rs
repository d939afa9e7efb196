//! The operation table generated at build time from the spec's paths and `x-rate-limits`.

/// One operation of the pinned spec.
#[derive(Debug, Clone, Copy)]
pub struct OperationInfo {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template relative to `/v2`, e.g. `/sessions/online/{referenceNumber}/invoices`.
    pub path: &'static str,
    /// The success status code.
    pub success_status: u16,
    /// The success content type (`""` when the success response has no body).
    pub success_content_type: &'static str,
    /// Requests per second (x-rate-limits).
    pub per_second: Option<u32>,
    /// Requests per minute (x-rate-limits).
    pub per_minute: Option<u32>,
    /// Requests per hour (x-rate-limits).
    pub per_hour: Option<u32>,
    /// Rate-limit group named in the 429 description (`""` when none).
    pub group: &'static str,
    /// Whether the operation needs a bearer token.
    pub bearer: bool,
    /// Permissions of which one is required (x-required-permissions).
    pub required_permissions: &'static [&'static str],
    /// The spec's example of the success body, JSON text (`""` when none).
    pub success_example: &'static str,
    /// Whether the operation takes a JSON request body.
    pub json_body: bool,
    /// Required top-level properties of the JSON request body.
    pub body_required: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// All operations of the pinned spec.
pub fn all() -> &'static [OperationInfo] {
    OPERATIONS
}

/// Replaces every `{param}` by `{}` so templates compare regardless of parameter names.
pub(crate) fn normalise(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Finds the operation for a method and a route template (with or without the `/v2` prefix).
pub fn find(method: &str, template: &str) -> Option<&'static OperationInfo> {
    let t = template.strip_prefix("/v2").unwrap_or(template);
    let n = normalise(t);
    OPERATIONS
        .iter()
        .find(|o| o.method.eq_ignore_ascii_case(method) && normalise(o.path) == n)
}

impl OperationInfo {
    /// The operation key used for fault injection and rate limiting: `"METHOD /path/template"`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The rate-limit bucket: the group if the spec names one, else the operation key.
    pub(crate) fn bucket(&self) -> String {
        if self.group.is_empty() {
            self.key()
        } else {
            self.group.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_the_spec() {
        assert_eq!(all().len(), 83);
        let op = find("POST", "/v2/sessions/online/{ref}/invoices").unwrap();
        assert_eq!(op.group, "invoiceSend");
        assert_eq!(op.per_hour, Some(180));
        assert_eq!(
            find("POST", "/auth/challenge").unwrap().per_second,
            Some(60)
        );
        assert!(find("GET", "/nope").is_none());
    }
}
