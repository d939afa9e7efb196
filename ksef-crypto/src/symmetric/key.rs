//! The session key: AES-256 key and CBC IV, and its wrapping for KSeF.

use std::fmt;

use rand::TryRng as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::certs::PublicKeyCertificate;
use crate::error::{CryptoError, Result};

/// AES-256 key and CBC IV of one session. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SymmetricKey {
    key: [u8; 32],
    iv: [u8; 16],
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey([redacted])")
    }
}

impl SymmetricKey {
    /// A fresh random 32-byte key and 16-byte IV from the operating system RNG.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        let mut iv = [0u8; 16];
        let mut rng = rand::rngs::SysRng;
        rng.try_fill_bytes(&mut key)
            .map_err(|_| CryptoError::Random)?;
        rng.try_fill_bytes(&mut iv)
            .map_err(|_| CryptoError::Random)?;
        let k = Self { key, iv };
        key.zeroize();
        Ok(k)
    }

    /// From raw parts (e.g. a key unwrapped by a server, or a test vector).
    pub fn from_parts(key: [u8; 32], iv: [u8; 16]) -> Self {
        Self { key, iv }
    }

    /// From slices, checking the lengths.
    pub fn from_slices(key: &[u8], iv: &[u8]) -> Result<Self> {
        let k: [u8; 32] = key.try_into().map_err(|_| CryptoError::KeyLength {
            expected: 32,
            got: key.len(),
        })?;
        let v: [u8; 16] = iv.try_into().map_err(|_| CryptoError::KeyLength {
            expected: 16,
            got: iv.len(),
        })?;
        Ok(Self { key: k, iv: v })
    }

    /// The raw key. Secret: do not log.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The IV (not secret).
    pub fn iv(&self) -> &[u8; 16] {
        &self.iv
    }

    /// The IV as standard Base64 (`initializationVector` of session open requests).
    pub fn iv_b64(&self) -> String {
        crate::b64::encode(self.iv)
    }

    /// Wraps the key for `encryption.encryptedSymmetricKey`: RSA-OAEP-SHA256 of the 32 key bytes
    /// (without the IV) under the `SymmetricKeyEncryption` certificate, standard Base64. Same as
    /// [`wrap_key`].
    pub fn wrap_for(&self, cert: &PublicKeyCertificate) -> Result<String> {
        wrap_key(cert, self)
    }
}

/// Wraps the session AES key (32 bytes, without the IV) under the `SymmetricKeyEncryption`
/// certificate (RSA-OAEP-SHA256); returns standard Base64 for `encryption.encryptedSymmetricKey`.
pub fn wrap_key(cert: &PublicKeyCertificate, key: &SymmetricKey) -> Result<String> {
    let ct = cert.encrypt_oaep(key.key_bytes())?;
    Ok(crate::b64::encode(ct))
}
