//! The operation table generated at build time from the pinned spec through `ksef-codegen` (the
//! same pipeline and pin as `ksef-api`'s client): paths, token kinds, `x-rate-limits` and groups,
//! required permissions, success answers; one constant per operation
//! ([`ONLINE_SESSION_SEND_INVOICE`], ...).
//!
//! The request pipeline resolves every request under `/v2` to its operation and puts the
//! `&'static OperationInfo` into the request's extensions; a handler takes it as an argument
//! (`op: &'static OperationInfo`) when it needs it (fault injection, presigned URLs), and the
//! access-token extractor checks the operation's required permissions.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// One operation of the pinned spec.
#[derive(Debug, Clone, Copy)]
pub struct OperationInfo {
    /// Operation name, as the generated client names it (`online_session_close`, ...).
    pub name: &'static str,
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
    /// Token the operation needs: `none`, `authentication-operation`, `refresh` or `access`.
    pub token: &'static str,
    /// Whether the operation needs a bearer token (`token` is not `none`).
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

/// Matches a concrete path (without `/v2`) against the spec's templates; the template with the
/// most literal segments wins.
pub(crate) fn resolve(method: &str, path: &str) -> Option<&'static OperationInfo> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&'static OperationInfo, usize)> = None;
    for op in all() {
        if !op.method.eq_ignore_ascii_case(method) {
            continue;
        }
        let t: Vec<&str> = op.path.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let mut ok = true;
        for (a, b) in t.iter().zip(&segs) {
            if a.starts_with('{') {
                if b.is_empty() {
                    ok = false;
                    break;
                }
            } else if a == b {
                literal += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok && best.is_none_or(|(_, l)| literal > l) {
            best = Some((op, literal));
        }
    }
    best.map(|(o, _)| o)
}

/// The operation the pipeline resolved for this request.
impl<S: Send + Sync> FromRequestParts<S> for &'static OperationInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<&'static OperationInfo>()
            .copied()
            .ok_or_else(|| ApiError::internal("the request was not resolved to an operation"))
    }
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
        assert_eq!(API_VERSION, "2.9.0");
        assert_eq!(all().len(), 83);
        let op = find("POST", "/v2/sessions/online/{ref}/invoices").unwrap();
        assert_eq!(op.name, "online_session_send_invoice");
        assert_eq!(op.group, "invoiceSend");
        assert_eq!(op.per_hour, Some(180));
        assert_eq!(op.token, "access");
        let challenge = find("POST", "/auth/challenge").unwrap();
        assert_eq!(challenge.per_second, Some(60));
        assert!(!challenge.bearer);
        assert!(find("GET", "/nope").is_none());
    }

    #[test]
    fn close_operations_have_their_own_groups() {
        let online = find("POST", "/sessions/online/{r}/close").unwrap();
        let batch = find("POST", "/sessions/batch/{r}/close").unwrap();
        assert_eq!(online.group, "onlineSessionClose");
        assert_eq!(batch.group, "batchSessionClose");
        assert_eq!(
            (online.per_second, online.per_minute, online.per_hour),
            (Some(20), Some(60), Some(240))
        );
        assert_eq!(
            (batch.per_second, batch.per_minute, batch.per_hour),
            (Some(20), Some(40), Some(120))
        );
        assert_ne!(
            online.bucket(),
            find("POST", "/sessions/online").unwrap().bucket()
        );
    }

    #[test]
    fn the_collective_identifier_invoices_are_queried_by_post_in_2_9_0() {
        assert!(find("POST", "/collective-identifiers/invoices").is_some());
        assert!(find("GET", "/collective-identifiers/{n}/invoices").is_none());
        assert_eq!(
            find("POST", "/collective-identifiers/invoices")
                .unwrap()
                .group,
            "collectiveIdentifier"
        );
    }
}
