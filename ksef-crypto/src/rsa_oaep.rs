//! RSA-OAEP with SHA-256, MGF1-SHA-256 and an empty label: the primitive. What KSeF encrypts with
//! it lives beside the types involved: the session key wrap with [`SymmetricKey`]
//! ([`crate::symmetric::wrap_key`]), the KSeF-token encryption with [`PublicKeyCertificate`]
//! ([`crate::certs::encrypt_ksef_token`]).
//!
//! [`SymmetricKey`]: crate::SymmetricKey
//! [`PublicKeyCertificate`]: crate::PublicKeyCertificate

use rsa::sha2::Sha256;

use crate::error::{CryptoError, Result};

/// RSA-OAEP-SHA256 encryption of `plaintext` under an RSA public key.
pub fn encrypt(key: &rsa::PublicKey, plaintext: &[u8]) -> Result<Vec<u8>> {
    key.oaep_encrypt::<Sha256>(plaintext)
        .map_err(|_| CryptoError::RsaEncrypt)
}

/// RSA-OAEP-SHA256 decryption (used by tests and by tools that hold the private key).
pub fn decrypt(key: &rsa::PrivateKey, ciphertext: &[u8]) -> Result<Vec<u8>> {
    key.oaep_decrypt::<Sha256>(ciphertext)
        .map_err(|_| CryptoError::RsaDecrypt)
}
