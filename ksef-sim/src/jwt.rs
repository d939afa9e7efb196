//! Minimal HS256 JSON Web Tokens (RFC 7519) written on hmac + sha2.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Kind of a token issued by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenKind {
    /// `authenticationToken` (operation token) of one authentication operation.
    Operation,
    /// Access token.
    Access,
    /// Refresh token.
    Refresh,
}

/// Claims of simulator tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    /// Token kind.
    pub typ: TokenKind,
    /// Authentication operation reference number.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Context identifier type (Nip, InternalId, NipVatUe, PeppolId).
    pub ctt: String,
    /// Context identifier value.
    pub ctv: String,
    /// Subject (authenticated identity, e.g. `Nip:1234567890`).
    pub sub: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires (unix seconds).
    pub exp: i64,
    /// Unique id.
    pub jti: String,
}

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwtError {
    Malformed,
    BadSignature,
    Expired,
}

fn mac(secret: &[u8]) -> Option<Hmac<Sha256>> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()
}

/// Signs claims with HS256.
pub(crate) fn sign(secret: &[u8], claims: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let sig = match mac(secret) {
        Some(mut m) => {
            m.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{sig}")
}

/// Verifies an HS256 token and its `exp` against `now` (unix seconds).
pub(crate) fn verify(secret: &[u8], token: &str, now: i64) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(JwtError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut m = mac(secret).ok_or(JwtError::Malformed)?;
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| JwtError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed)?;
    if claims.exp <= now {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            typ: TokenKind::Access,
            reference: "r".into(),
            ctt: "Nip".into(),
            ctv: "5265877635".into(),
            sub: "Nip:5265877635".into(),
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn rfc7515_hs256_known_answer() {
        // RFC 7515 appendix A.1: HMAC over the given signing input with the given key.
        let key = URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let mut m = mac(&key).unwrap();
        m.update(input.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn roundtrip_and_rejections() {
        let t = sign(b"secret", &claims(100));
        assert_eq!(verify(b"secret", &t, 50).unwrap(), claims(100));
        assert_eq!(verify(b"secret", &t, 100), Err(JwtError::Expired));
        assert_eq!(verify(b"other", &t, 50), Err(JwtError::BadSignature));
        let mut tampered = t.clone();
        tampered.insert(40, 'A');
        assert!(verify(b"secret", &tampered, 50).is_err());
        assert_eq!(verify(b"secret", "a.b", 50), Err(JwtError::Malformed));
    }
}
