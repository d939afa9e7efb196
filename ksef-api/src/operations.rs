//! Per-operation facts of the pinned spec, generated from it: which token an operation needs, its
//! `x-rate-limits` and `x-required-permissions`. The flows' rate limiter and auth layer use them.
//! [`op`] names every operation as a constant (`op::SESSION_STATUS`), so that a misspelled name
//! does not compile.

/// Which bearer token an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// No `Authorization` header.
    None,
    /// The `authenticationToken` of an authentication operation (status polling, redeem).
    AuthenticationOperation,
    /// The `refreshToken` (token refresh).
    Refresh,
    /// The `accessToken`.
    Access,
}

/// An operation's `x-rate-limits` (requests per window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimits {
    /// Per second.
    pub per_second: Option<u32>,
    /// Per minute.
    pub per_minute: Option<u32>,
    /// Per hour.
    pub per_hour: Option<u32>,
}

/// Facts of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationMeta {
    /// Operation name (= the generated method name).
    pub name: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Token the operation needs.
    pub token: TokenKind,
    /// `x-rate-limits`.
    pub rate_limits: Option<RateLimits>,
    /// The rate-limit group (`onlineSession`, `invoiceSend`, `other`, ...), as the spec's 429
    /// description names it; operations of one group share their windows.
    pub rate_limit_group: Option<&'static str>,
    /// `x-required-permissions` (any of them suffices).
    pub permissions: &'static [&'static str],
    /// The real content type of a request body that the generator sees as raw bytes.
    pub request_content_type: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// Looks an operation up by name.
pub fn find(name: &str) -> Option<&'static OperationMeta> {
    OPERATIONS
        .binary_search_by(|op| op.name.cmp(name))
        .ok()
        .map(|i| &OPERATIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_complete_and_searchable() {
        assert_eq!(OPERATIONS.len(), 83);
        assert!(OPERATIONS.windows(2).all(|w| w[0].name < w[1].name));
        for op in OPERATIONS {
            assert_eq!(find(op.name).map(|m| m.path), Some(op.path));
        }
        assert!(find("no_such_operation").is_none());
    }

    #[test]
    fn named_constants_are_the_rows_of_their_operations() {
        assert_eq!(op::AUTH_CHALLENGE.name, "auth_challenge");
        assert_eq!(op::AUTH_CHALLENGE.path, "/auth/challenge");
        assert_eq!(
            op::ONLINE_SESSION_SEND_INVOICE.name,
            "online_session_send_invoice"
        );
        assert_eq!(op::SESSION_STATUS.method, "GET");
        assert_eq!(Some(op::SESSION_STATUS), find("session_status"));
        assert_eq!(Some(op::AUTH_CHALLENGE), find("auth_challenge"));
        assert_eq!(Some(op::SESSION_INVOICE_UPO), find("session_invoice_upo"));
    }

    #[test]
    fn token_kinds_match_the_protocol() {
        let kind = |n| find(n).map(|m| m.token);
        assert_eq!(kind("auth_challenge"), Some(TokenKind::None));
        assert_eq!(kind("auth_ksef_token"), Some(TokenKind::None));
        assert_eq!(kind("auth_xades_signature"), Some(TokenKind::None));
        assert_eq!(kind("public_key_certificates"), Some(TokenKind::None));
        assert_eq!(
            kind("auth_status"),
            Some(TokenKind::AuthenticationOperation)
        );
        assert_eq!(
            kind("auth_token_redeem"),
            Some(TokenKind::AuthenticationOperation)
        );
        assert_eq!(kind("auth_token_refresh"), Some(TokenKind::Refresh));
        assert_eq!(kind("online_session_open"), Some(TokenKind::Access));
        assert_eq!(kind("auth_session_revoke_current"), Some(TokenKind::Access));
    }

    #[test]
    fn limits_and_permissions_come_from_the_spec() {
        let open = find("online_session_open").unwrap();
        assert_eq!(
            open.rate_limits,
            Some(RateLimits {
                per_second: Some(10),
                per_minute: Some(30),
                per_hour: Some(120)
            })
        );
        assert!(open.permissions.contains(&"InvoiceWrite"));
        assert_eq!(open.rate_limit_group, Some("onlineSession"));
        assert_eq!(
            find("online_session_send_invoice")
                .unwrap()
                .rate_limit_group,
            Some("invoiceSend")
        );
        assert_eq!(
            find("auth_xades_signature").unwrap().request_content_type,
            Some("application/xml")
        );
        assert_eq!(API_VERSION, "2.9.0");
    }

    #[test]
    fn closing_a_session_has_its_own_limit_group() {
        let group = |n| find(n).and_then(|m| m.rate_limit_group);
        assert_eq!(group("online_session_close"), Some("onlineSessionClose"));
        assert_eq!(group("batch_session_close"), Some("batchSessionClose"));
        assert_eq!(group("online_session_open"), Some("onlineSession"));
        assert_eq!(group("batch_session_open"), Some("batchSession"));
        assert_eq!(
            find("online_session_close").and_then(|m| m.rate_limits),
            Some(RateLimits {
                per_second: Some(20),
                per_minute: Some(60),
                per_hour: Some(240)
            })
        );
    }
}
