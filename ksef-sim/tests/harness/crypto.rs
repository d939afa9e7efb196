//! The client's cryptography, done in the tests with the primitives directly (rsa, aes, cbc,
//! sha2), never with ksef-crypto: AES-256-CBC session keys and RSA-OAEP under the simulator's
//! certificates.

use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use der::{Decode, Encode};
use sha2::Sha256;

/// A session key pair (AES key, IV).
pub struct Keys {
    pub key: [u8; 32],
    pub iv: [u8; 16],
}

impl Keys {
    pub fn random() -> Self {
        Self {
            key: rand::random(),
            iv: rand::random(),
        }
    }
}

pub fn aes_encrypt(key: &[u8; 32], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes256>::new(&(*key).into(), &(*iv).into())
        .encrypt_padded_vec::<Pkcs7>(data)
}

pub fn aes_decrypt(key: &[u8; 32], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    cbc::Decryptor::<aes::Aes256>::new(&(*key).into(), &(*iv).into())
        .decrypt_padded_vec::<Pkcs7>(data)
        .unwrap()
}

/// A random key under which `plaintext`, encrypted with it, does NOT decrypt
/// with `k` (a wrong key yields valid PKCS#7 padding about once in 256 tries;
/// such keys are skipped so that tests stay deterministic).
pub fn key_that_fails_padding(k: &Keys, plaintext: &[u8]) -> Keys {
    loop {
        let other = Keys::random();
        let ct = aes_encrypt(&other.key, &other.iv, plaintext);
        let fails = cbc::Decryptor::<aes::Aes256>::new(&k.key.into(), &k.iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ct)
            .is_err();
        if fails {
            return other;
        }
    }
}

/// SubjectPublicKeyInfo DER of a certificate.
pub fn spki_der(cert_der: &[u8]) -> Vec<u8> {
    let c = x509_cert::Certificate::from_der(cert_der).unwrap();
    c.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap()
}

/// RSA-OAEP-SHA256 encryption under a certificate's key.
pub fn oaep_encrypt(cert_der: &[u8], data: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePublicKey;
    let key = rsa::PublicKey::from_public_key_der(&spki_der(cert_der)).unwrap();
    let mut rng = rand::rng();
    key.encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), data)
        .unwrap()
}
