//! Signing and checking presigned URLs (HMAC-SHA-256 over method, path and expiry).

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::PresignedRoute;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::ops::OperationInfo;

/// A presigned URL and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// Absolute URL (`http://127.0.0.1:PORT/v2/__presigned/...?...`).
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies presigned URLs. The secret is redacted in `Debug` and wiped on drop.
pub(crate) struct Presigner {
    secret: zeroize::Zeroizing<[u8; 32]>,
    base_url: String,
    validity: Duration,
    clock: ksef_time::SharedClock,
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presigner")
            .field("secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl Presigner {
    pub(crate) fn new(
        secret: zeroize::Zeroizing<[u8; 32]>,
        base_url: String,
        validity: Duration,
        clock: ksef_time::SharedClock,
    ) -> Self {
        Self {
            secret,
            base_url,
            validity,
            clock,
        }
    }

    /// The MAC over one URL's method, full path and expiry.
    fn mac(&self, method: &str, full_path: &str, exp: i64) -> Option<Hmac<Sha256>> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.secret).ok()?;
        m.update(method.to_ascii_uppercase().as_bytes());
        m.update(b"\n");
        m.update(full_path.as_bytes());
        m.update(b"\n");
        m.update(exp.to_string().as_bytes());
        Some(m)
    }

    /// Issues a URL of `route` with path parameters `params`, on behalf of the operation
    /// `issued_by`: an armed `ExpiredPresignedUrls` fault of that operation makes it expired
    /// from the start.
    pub(crate) fn url(
        &self,
        faults: &Faults,
        issued_by: &OperationInfo,
        route: PresignedRoute,
        params: &[&str],
    ) -> PresignedUrl {
        let now = self.clock.now();
        let expires_at = if faults.take_expired_presigned(issued_by) {
            now - chrono::Duration::seconds(1)
        } else {
            now + chrono::Duration::from_std(self.validity).unwrap_or(chrono::Duration::hours(1))
        };
        let exp = expires_at.timestamp();
        let path = route.path(params);
        let sig = self
            .mac(route.method(), &format!("/v2{path}"), exp)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        PresignedUrl {
            url: format!("{}{path}?se={exp}&sig={sig}", self.base_url),
            expires_at,
        }
    }

    /// Checks the signature and expiry of a request to a presigned route.
    pub(crate) fn verify(&self, method: &str, path: &str, query: &str) -> Result<(), ApiError> {
        let mut exp = None;
        let mut sig = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("se", v)) => exp = v.parse::<i64>().ok(),
                Some(("sig", v)) => sig = Some(v),
                _ => {}
            }
        }
        let (Some(exp), Some(sig)) = (exp, sig) else {
            return Err(ApiError::plain(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed: missing signature",
            ));
        };
        // constant-time comparison via the MAC type
        let ok = hex::decode(sig).ok().is_some_and(|s| {
            self.mac(method, path, exp)
                .is_some_and(|m| m.verify_slice(&s).is_ok())
        });
        if !ok {
            return Err(ApiError::plain(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed: signature mismatch",
            ));
        }
        if self.clock.now().timestamp() > exp {
            return Err(ApiError::plain(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed: signed URL expired",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::ops;

    fn split(url: &PresignedUrl) -> (&str, &str) {
        url.url
            .trim_start_matches("http://127.0.0.1:1")
            .split_once('?')
            .unwrap()
    }

    #[test]
    fn sign_verify_tamper_and_expiry() {
        let p = Presigner::new(
            zeroize::Zeroizing::new([7; 32]),
            "http://127.0.0.1:1/v2".into(),
            Duration::from_secs(60),
            ksef_time::system_clock(),
        );
        assert!(!format!("{p:?}").contains("[7, 7"), "{p:?}");
        let faults = Faults::default();
        let u = p.url(
            &faults,
            ops::BATCH_SESSION_OPEN,
            PresignedRoute::BatchPart,
            &["abc", "1"],
        );
        let (path, query) = split(&u);
        assert_eq!(path, "/v2/__presigned/batch-part/abc/1");
        p.verify("PUT", path, query).unwrap();
        assert!(p.verify("GET", path, query).is_err(), "method is signed");
        assert!(
            p.verify("PUT", "/v2/__presigned/batch-part/abd/1", query)
                .is_err(),
            "path is signed"
        );
        let later = query.replace("se=", "se=9");
        assert!(p.verify("PUT", path, &later).is_err(), "expiry is signed");
        assert!(p.verify("PUT", path, "").is_err());
        faults.inject(
            ops::BATCH_SESSION_OPEN.into(),
            Fault::ExpiredPresignedUrls { count: 1 },
        );
        let e = p.url(
            &faults,
            ops::BATCH_SESSION_OPEN,
            PresignedRoute::BatchPart,
            &["x", "1"],
        );
        let (path, query) = split(&e);
        assert_eq!(
            p.verify("PUT", path, query).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert!(e.expires_at < Utc::now());
    }
}
