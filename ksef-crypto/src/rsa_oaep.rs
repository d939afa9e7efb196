//! RSA-OAEP with SHA-256, MGF1-SHA-256 and an empty label (rules §2, §4): AES key wrapping and
//! KSeF-token encryption.

use rsa::sha2::Sha256;

use crate::certs::PublicKeyCertificate;
use crate::error::{CryptoError, Result};
use crate::secret::SecretString;
use crate::symmetric::SymmetricKey;

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

/// Wrap the session AES key (32 bytes, without the IV) under the `SymmetricKeyEncryption`
/// certificate; returns standard Base64 for `encryption.encryptedSymmetricKey`.
pub fn wrap_key(cert: &PublicKeyCertificate, key: &SymmetricKey) -> Result<String> {
    let ct = encrypt(cert.rsa_public_key()?, key.key_bytes())?;
    Ok(crate::b64::encode(ct))
}

/// Encrypt a KSeF token for `/auth/ksef-token`: RSA-OAEP-SHA256 of the UTF-8 bytes of
/// `"{token}|{timestamp_ms}"` under the `KsefTokenEncryption` certificate; standard Base64.
pub fn encrypt_ksef_token(
    cert: &PublicKeyCertificate,
    token: &SecretString,
    timestamp_ms: i64,
) -> Result<String> {
    let plain = zeroize::Zeroizing::new(format!("{}|{}", token.expose(), timestamp_ms));
    let ct = encrypt(cert.rsa_public_key()?, plain.as_bytes())?;
    Ok(crate::b64::encode(ct))
}
