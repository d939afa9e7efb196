//! The raw KSeF 2.0 API client.
//!
//! All 83 operations of the pinned official OpenAPI document (see `spec/ksef-openapi.lock`) are
//! generated at build time by progenitor into `OUT_DIR` — builder style, one method per operation:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ksef_api::KsefError> {
//! use ksef_api::{DecodeError, Environment, KsefClient};
//!
//! let client = KsefClient::builder(Environment::Test).build()?;
//! let challenge = client.auth_challenge().send().await.decode_error().await?;
//! println!("{}", challenge.challenge);
//! # Ok(()) }
//! ```
//!
//! What is hand-written around the generated code:
//! - [`ClientState`]: the bearer tokens of a client; the [`ClientHooks`](progenitor_client::ClientHooks)
//!   implementation puts the right one on each request according to the per-operation table
//!   ([`operations`]), adds `X-Error-Format: problem-details` and restores the XML content type of
//!   `POST /auth/xades-signature`.
//! - [`KsefError`]: a typed decoder for KSeF error bodies (problem+json, the legacy
//!   `ExceptionResponse`, non-JSON gateway pages) that always keeps the HTTP status and headers.
//! - [`Environment`] and [`KsefClientBuilder`]: base URLs and a `reqwest::Client` with timeouts
//!   suited to large transfers (or the caller's own client).
//! - Open enums: every string enum of the spec has an `Unknown(String)` variant, so a value added
//!   by a newer KSeF release deserializes instead of failing the call.

mod client;
pub mod error;
mod hooks;
pub mod operations;
mod state;

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unused,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rustdoc::all
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/ksef_api.rs"));
}

pub use client::{Environment, KsefClient, KsefClientBuilder, install_crypto_provider};
pub use error::{DecodeError, ErrorBody, ErrorResponse, KsefError};
pub use generated::{Client, builder, types};
pub use progenitor_client::{ByteStream, Error as RawError, ResponseValue};
pub use state::{BearerToken, ClientState};

/// Response header carrying system warnings (`[code]: message | [code]: message`).
pub const HEADER_SYSTEM_WARNING: &str = "x-system-warning";
/// Response header with the Base64 SHA-256 of a downloaded body (invoices, UPO).
pub const HEADER_META_HASH: &str = "x-ms-meta-hash";
/// Request and response header used for paging.
pub const HEADER_CONTINUATION_TOKEN: &str = "x-continuation-token";

/// Response headers that matter, readable from any [`ResponseValue`] or [`ErrorResponse`].
pub trait KsefHeaders {
    /// The header map.
    fn header_map(&self) -> &reqwest::header::HeaderMap;

    /// `x-ms-meta-hash`: Base64 SHA-256 of the body, as the server computed it.
    fn meta_hash(&self) -> Option<&str> {
        self.header_map()
            .get(HEADER_META_HASH)
            .and_then(|v| v.to_str().ok())
    }

    /// `X-System-Warning` split into its `[code]: message` entries.
    fn system_warnings(&self) -> Vec<SystemWarning> {
        self.header_map()
            .get_all(HEADER_SYSTEM_WARNING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split('|'))
            .filter_map(SystemWarning::parse)
            .collect()
    }

    /// `Retry-After` as a duration (integer seconds, or an HTTP date relative to now).
    fn retry_after(&self) -> Option<std::time::Duration> {
        error::parse_retry_after(self.header_map())
    }
}

impl<T> KsefHeaders for ResponseValue<T> {
    fn header_map(&self) -> &reqwest::header::HeaderMap {
        self.headers()
    }
}

impl KsefHeaders for reqwest::header::HeaderMap {
    fn header_map(&self) -> &reqwest::header::HeaderMap {
        self
    }
}

/// One entry of the `X-System-Warning` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemWarning {
    /// The code between brackets, if the entry has one.
    pub code: Option<String>,
    /// The message.
    pub message: String,
}

impl SystemWarning {
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        if let Some(rest) = entry.strip_prefix('[')
            && let Some((code, message)) = rest.split_once(']')
        {
            let message = message.trim_start_matches(':').trim();
            return Some(Self {
                code: Some(code.trim().to_string()),
                message: message.to_string(),
            });
        }
        Some(Self {
            code: None,
            message: entry.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_hide_their_tokens_in_debug() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.secret-part.signature";
        let valid_until = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let info = types::TokenInfo {
            token: secret.into(),
            valid_until,
        };
        let tokens = types::AuthenticationTokensResponse {
            access_token: info.clone(),
            refresh_token: info.clone(),
        };
        let generated = types::GenerateTokenResponse {
            reference_number: types::ReferenceNumber("20260101-EC-0000000000-0000000000-00".into()),
            token: secret.into(),
        };
        let builder = types::builder::TokenInfo::from(info.clone());
        for printed in [
            format!("{info:?}"),
            format!("{tokens:#?}"),
            format!("{generated:?}"),
            format!("{builder:?}"),
        ] {
            assert!(!printed.contains("secret-part"), "{printed}");
            assert!(printed.contains("<redacted>"), "{printed}");
        }
        // the other fields still print
        assert!(format!("{info:?}").contains("1970-01-01"));
        assert!(format!("{generated:?}").contains("20260101-EC-0000000000-0000000000-00"));
    }

    #[test]
    fn system_warnings_are_split() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            HEADER_SYSTEM_WARNING,
            reqwest::header::HeaderValue::from_static(
                "[W001]: planned maintenance | [W002]: x|plain",
            ),
        );
        let w = h.system_warnings();
        assert_eq!(w.len(), 3);
        assert_eq!(
            w[0],
            SystemWarning {
                code: Some("W001".into()),
                message: "planned maintenance".into()
            }
        );
        assert_eq!(
            w[2],
            SystemWarning {
                code: None,
                message: "plain".into()
            }
        );
    }
}
