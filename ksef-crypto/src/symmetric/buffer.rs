//! Whole buffers (an invoice of at most a few MB): encrypted or decrypted in one call.

use std::fmt;

use super::core::{Core, Direction};
use super::digest::{FileDigest, StreamDigests};
use super::key::SymmetricKey;
use crate::error::Result;

impl SymmetricKey {
    /// Encrypt a whole buffer (an invoice), returning ciphertext and both digests.
    pub fn encrypt(&self, plaintext: &[u8]) -> EncryptedData {
        encrypt_bytes(self, plaintext)
    }
}

/// Result of [`encrypt_bytes`]: ciphertext plus the four values of `SendInvoiceRequest`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedData {
    /// The ciphertext (no IV prefix).
    pub ciphertext: Vec<u8>,
    /// Digests of plaintext and ciphertext.
    pub digests: StreamDigests,
}

impl fmt::Debug for EncryptedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedData")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("digests", &self.digests)
            .finish()
    }
}

impl EncryptedData {
    /// Standard Base64 of the ciphertext (`encryptedInvoiceContent`).
    pub fn ciphertext_b64(&self) -> String {
        crate::b64::encode(&self.ciphertext)
    }
}

/// Encrypt a whole buffer with AES-256-CBC/PKCS#7.
pub fn encrypt_bytes(key: &SymmetricKey, plaintext: &[u8]) -> EncryptedData {
    let mut core = Core::new(key, Direction::Encrypt, false);
    let mut out = Vec::with_capacity(plaintext.len() + 16);
    // update/finish only fail on a finished core or when decrypting: a fresh encrypting core
    // cannot fail, so the result carries no information here.
    let _infallible = core
        .update(plaintext, &mut out)
        .and_then(|()| core.finish(&mut out));
    let digests = StreamDigests {
        plain: FileDigest::of(plaintext),
        encrypted: FileDigest::of(&out),
    };
    EncryptedData {
        ciphertext: out,
        digests,
    }
}

/// Decrypt a whole buffer; fails with [`CryptoError::Decrypt`](crate::CryptoError::Decrypt) on bad length or padding.
pub fn decrypt_bytes(key: &SymmetricKey, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let mut core = Core::new(key, Direction::Decrypt, false);
    let mut out = Vec::with_capacity(ciphertext.len());
    core.update(ciphertext, &mut out)?;
    core.finish(&mut out)?;
    Ok(out)
}
