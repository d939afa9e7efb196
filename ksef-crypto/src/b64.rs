//! Base64 helpers: standard padded (JSON fields) and URL-safe without padding (QR codes).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::{CryptoError, Result};

/// Standard Base64 with padding (RFC 4648 §4), as used in KSeF JSON fields.
pub fn encode(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

/// Decode standard padded Base64. `field` names the input in the error.
pub fn decode(field: &'static str, s: &str) -> Result<Vec<u8>> {
    STANDARD.decode(s.trim()).map_err(|e| CryptoError::Base64 {
        field,
        detail: e.to_string(),
    })
}

/// URL-safe Base64 without padding (RFC 4648 §5), as used in QR code URLs.
pub fn encode_url(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decode URL-safe Base64 without padding.
pub fn decode_url(field: &'static str, s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).map_err(|e| CryptoError::Base64 {
        field,
        detail: e.to_string(),
    })
}

/// SHA-256 of `data`.
pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data.as_ref()).into()
}

/// Standard Base64 of the SHA-256 of `data` (44 characters), e.g. `invoiceHash`.
pub fn sha256_b64(data: impl AsRef<[u8]>) -> String {
    encode(sha256(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // RFC 4648 test vectors and SHA-256("abc").
        assert_eq!(encode(b"foob"), "Zm9vYg==");
        assert_eq!(encode_url([0xfb, 0xff]), "-_8");
        assert_eq!(decode_url("x", "-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode("x", "Zm9vYg==").unwrap(), b"foob");
        assert!(decode("x", "Zm9vYg=").is_err());
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_b64(b"").len(), 44);
    }
}
