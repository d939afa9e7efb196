//! Signing and checking presigned URLs (HMAC-SHA-256 over method, path and expiry).

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::ApiError;

/// A presigned URL and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// Absolute URL (`http://127.0.0.1:PORT/v2/__presigned/...?...`).
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies presigned URLs.
#[derive(Debug)]
pub(crate) struct Presigner {
    secret: [u8; 32],
    base_url: String,
    validity: Duration,
    clock: ksef_time::SharedClock,
}

impl Presigner {
    pub(crate) fn new(
        secret: [u8; 32],
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

    fn sig(&self, method: &str, path: &str, exp: i64) -> String {
        let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) else {
            return String::new();
        };
        m.update(method.to_ascii_uppercase().as_bytes());
        m.update(b"\n");
        m.update(path.as_bytes());
        m.update(b"\n");
        m.update(exp.to_string().as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// Issues a URL for `method` and `path` (relative to `/v2`, must start with
    /// `/__presigned/`). `issued_by` is the operation key whose `ExpiredPresignedUrls` fault makes
    /// the URL expired from the start. `validity` overrides the configured lifetime.
    pub(crate) fn url(
        &self,
        faults: &crate::faults::Faults,
        issued_by: &str,
        method: &str,
        path: &str,
        validity: Option<Duration>,
    ) -> PresignedUrl {
        let now = self.clock.now();
        let expires_at = if faults.take_expired_presigned(issued_by) {
            now - chrono::Duration::seconds(1)
        } else {
            let v = validity.unwrap_or(self.validity);
            now + chrono::Duration::from_std(v).unwrap_or(chrono::Duration::hours(1))
        };
        let exp = expires_at.timestamp();
        let full_path = format!("/v2{path}");
        let sig = self.sig(method, &full_path, exp);
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
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).is_ok_and(|mut m| {
                m.update(method.to_ascii_uppercase().as_bytes());
                m.update(b"\n");
                m.update(path.as_bytes());
                m.update(b"\n");
                m.update(exp.to_string().as_bytes());
                m.verify_slice(&s).is_ok()
            })
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
    use crate::faults::{Fault, Faults};

    #[test]
    fn sign_verify_tamper_and_expiry() {
        let p = Presigner::new(
            [7; 32],
            "http://127.0.0.1:1/v2".into(),
            Duration::from_secs(60),
            ksef_time::system_clock(),
        );
        let faults = Faults::default();
        let u = p.url(
            &faults,
            "POST /sessions/batch",
            "PUT",
            "/__presigned/part/abc",
            None,
        );
        let (path, query) = u
            .url
            .trim_start_matches("http://127.0.0.1:1")
            .split_once('?')
            .unwrap();
        assert_eq!(path, "/v2/__presigned/part/abc");
        p.verify("PUT", path, query).unwrap();
        assert!(p.verify("GET", path, query).is_err(), "method is signed");
        assert!(
            p.verify("PUT", "/v2/__presigned/part/abd", query).is_err(),
            "path is signed"
        );
        let later = query.replace("se=", "se=9");
        assert!(p.verify("PUT", path, &later).is_err(), "expiry is signed");
        assert!(p.verify("PUT", path, "").is_err());
        faults.inject(
            "POST /sessions/batch",
            Fault::ExpiredPresignedUrls { count: 1 },
        );
        let e = p.url(
            &faults,
            "POST /sessions/batch",
            "PUT",
            "/__presigned/part/x",
            None,
        );
        let (path, query) = e
            .url
            .trim_start_matches("http://127.0.0.1:1")
            .split_once('?')
            .unwrap();
        assert_eq!(
            p.verify("PUT", path, query).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        assert!(e.expires_at < Utc::now());
    }
}
