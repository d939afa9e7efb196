//! The signature primitives the simulator verifies with (XAdES `SignatureValue`s and PKCS#10
//! certificate requests): the digests KSeF accepts and RSA PKCS#1 v1.5 / RSASSA-PSS verification
//! of a message with one of them. Built on the RustCrypto crates directly, independently of the
//! client's `ksef-crypto`.

use rsa::signature::hazmat::PrehashVerifier;
use sha2::Digest;

/// A digest algorithm of the allowed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Whether `sig` is an RSA PKCS#1 v1.5 signature of `signed` with digest `hash` under `key`.
pub(crate) fn rsa_pkcs1_verifies(
    key: rsa::PublicKey,
    hash: Hash,
    signed: &[u8],
    sig: &[u8],
) -> bool {
    let Ok(s) = rsa::pkcs1v15::Signature::try_from(sig) else {
        return false;
    };
    let digest = hash.digest(signed);
    match hash {
        Hash::Sha1 => {
            rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key).verify_prehash(&digest, &s)
        }
        Hash::Sha256 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify_prehash(&digest, &s)
        }
        Hash::Sha384 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify_prehash(&digest, &s)
        }
        Hash::Sha512 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify_prehash(&digest, &s)
        }
    }
    .is_ok()
}

/// Whether `sig` is an RSASSA-PSS signature (MGF1 with the same digest, any salt length) of
/// `signed` with digest `hash` under `key`.
pub(crate) fn rsa_pss_verifies(key: rsa::PublicKey, hash: Hash, signed: &[u8], sig: &[u8]) -> bool {
    let Ok(s) = rsa::pss::Signature::try_from(sig) else {
        return false;
    };
    let digest = hash.digest(signed);
    match hash {
        Hash::Sha1 => rsa::pss::VerifyingKey::<sha1::Sha1>::new_with_auto_salt_len(key)
            .verify_prehash(&digest, &s),
        Hash::Sha256 => rsa::pss::VerifyingKey::<sha2::Sha256>::new_with_auto_salt_len(key)
            .verify_prehash(&digest, &s),
        Hash::Sha384 => rsa::pss::VerifyingKey::<sha2::Sha384>::new_with_auto_salt_len(key)
            .verify_prehash(&digest, &s),
        Hash::Sha512 => rsa::pss::VerifyingKey::<sha2::Sha512>::new_with_auto_salt_len(key)
            .verify_prehash(&digest, &s),
    }
    .is_ok()
}
