//! The progenitor hook: what every request gets before it is sent.

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::{Client, ClientState, operations};

/// Request header that makes KSeF answer 400 and 429 as `application/problem+json`.
pub(crate) const X_ERROR_FORMAT: HeaderName = HeaderName::from_static("x-error-format");

impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        prepare(self.inner(), request, info.operation_id)
    }
}

/// Adds the headers of an operation: `X-Error-Format`, the real content type of raw bodies and the
/// bearer token the operation needs. A missing token is an error before anything is sent.
#[allow(clippy::result_large_err)] // the error type is progenitor's
pub(crate) fn prepare<E>(
    state: &ClientState,
    request: &mut reqwest::Request,
    operation: &str,
) -> Result<(), Error<E>> {
    let headers = request.headers_mut();
    headers.insert(X_ERROR_FORMAT, HeaderValue::from_static("problem-details"));
    let Some(meta) = operations::find(operation) else {
        return Err(Error::Custom(format!(
            "operation `{operation}` is not in the operation table"
        )));
    };
    if let Some(ct) = meta.request_content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if meta.token == operations::TokenKind::None || headers.contains_key(AUTHORIZATION) {
        return Ok(());
    }
    let token = state.get(meta.token).ok_or_else(|| {
        Error::Custom(format!(
            "operation `{operation}` needs the {} token, which this client does not hold (authenticate first)",
            match meta.token {
                operations::TokenKind::AuthenticationOperation => "authentication-operation",
                operations::TokenKind::Refresh => "refresh",
                _ => "access",
            }
        ))
    })?;
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
        Error::Custom("the bearer token contains characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BearerToken, operations::TokenKind};

    fn request() -> reqwest::Request {
        reqwest::Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1:1/v2/x".parse().unwrap(),
        )
    }

    #[test]
    fn puts_the_right_token_on_each_operation() {
        let state = ClientState::new();
        state.set(TokenKind::Access, Some(BearerToken::new("acc")));
        state.set(TokenKind::Refresh, Some(BearerToken::new("ref")));
        state.set(
            TokenKind::AuthenticationOperation,
            Some(BearerToken::new("op")),
        );
        for (op, expected) in [
            ("online_session_open", Some("Bearer acc")),
            ("auth_token_refresh", Some("Bearer ref")),
            ("auth_status", Some("Bearer op")),
            ("auth_challenge", None),
        ] {
            let mut r = request();
            prepare::<()>(&state, &mut r, op).unwrap();
            assert_eq!(
                r.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap()),
                expected,
                "{op}"
            );
            assert_eq!(
                r.headers().get("x-error-format").unwrap(),
                "problem-details"
            );
        }
    }

    #[test]
    fn restores_the_xml_content_type() {
        let mut r = request();
        prepare::<()>(&ClientState::new(), &mut r, "auth_xades_signature").unwrap();
        assert_eq!(r.headers().get(CONTENT_TYPE).unwrap(), "application/xml");
    }

    #[test]
    fn a_missing_token_fails_before_sending() {
        let mut r = request();
        let err = prepare::<()>(&ClientState::new(), &mut r, "session_status").unwrap_err();
        assert!(err.to_string().contains("access token"), "{err}");
    }
}
