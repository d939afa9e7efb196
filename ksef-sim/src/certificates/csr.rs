//! Checks of a PKCS#10 certificate request as KSeF makes them: DER that parses (25004), a key
//! of the allowed types (RSA 2048 or EC P-256, else 25010), a signature algorithm of the allowed
//! ones for that key (RSA PKCS#1 v1.5, RSA-PSS, ECDSA with SHA-1/256/384/512, else 25011) and a
//! signature that verifies (25004).

use der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::request::CertReq;

use crate::error::ApiError;
use crate::signatures::{Hash, rsa_pkcs1_verifies, rsa_pss_verifies};

const RSA: &str = "1.2.840.113549.1.1.1";
const EC: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";

/// A request that passed every check.
#[derive(Debug)]
pub(crate) struct CheckedCsr {
    pub subject: Name,
    pub spki: spki::SubjectPublicKeyInfoOwned,
    /// DER of the SubjectPublicKeyInfo (one key is certified for one subject only).
    pub spki_der: Vec<u8>,
}

fn bad_format(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        25004,
        "Niepoprawny format CSR lub niepoprawny podpis CSR.",
        [detail.into()],
    )
}

fn bad_key(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        25010,
        "Nieprawidłowy typ lub długość klucza.",
        [detail.into()],
    )
}

fn bad_algorithm(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        25011,
        "Nieprawidłowy algorytm podpisu CSR.",
        [detail.into()],
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    RsaPkcs1(Hash),
    RsaPss,
    Ecdsa(Hash),
}

fn algorithm(oid: &str) -> Option<Algorithm> {
    Some(match oid {
        "1.2.840.113549.1.1.5" => Algorithm::RsaPkcs1(Hash::Sha1),
        "1.2.840.113549.1.1.11" => Algorithm::RsaPkcs1(Hash::Sha256),
        "1.2.840.113549.1.1.12" => Algorithm::RsaPkcs1(Hash::Sha384),
        "1.2.840.113549.1.1.13" => Algorithm::RsaPkcs1(Hash::Sha512),
        RSA_PSS => Algorithm::RsaPss,
        "1.2.840.10045.4.1" => Algorithm::Ecdsa(Hash::Sha1),
        "1.2.840.10045.4.3.2" => Algorithm::Ecdsa(Hash::Sha256),
        "1.2.840.10045.4.3.3" => Algorithm::Ecdsa(Hash::Sha384),
        "1.2.840.10045.4.3.4" => Algorithm::Ecdsa(Hash::Sha512),
        _ => return None,
    })
}

fn verify_rsa(key: rsa::PublicKey, alg: Algorithm, signed: &[u8], sig: &[u8]) -> bool {
    match alg {
        Algorithm::RsaPkcs1(h) => rsa_pkcs1_verifies(key, h, signed, sig),
        // The hash is a parameter of RSASSA-PSS; any of the allowed ones may be named.
        Algorithm::RsaPss => [Hash::Sha256, Hash::Sha1, Hash::Sha384, Hash::Sha512]
            .into_iter()
            .any(|h| rsa_pss_verifies(key.clone(), h, signed, sig)),
        Algorithm::Ecdsa(_) => false,
    }
}

/// Checks a Base64-decoded request.
pub(crate) fn check(der: &[u8]) -> Result<CheckedCsr, ApiError> {
    let req = CertReq::from_der(der).map_err(|e| bad_format(format!("Not a PKCS#10 DER: {e}")))?;
    let spki = req.info.public_key.clone();
    let spki_der = spki
        .to_der()
        .map_err(|e| bad_format(format!("SubjectPublicKeyInfo: {e}")))?;
    let key_oid = spki.algorithm.oid.to_string();
    let is_rsa = match key_oid.as_str() {
        RSA => {
            use rsa::pkcs8::DecodePublicKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::PublicKey::from_public_key_der(&spki_der)
                .map_err(|e| bad_key(format!("RSA key: {e}")))?;
            if key.size() * 8 != 2048 {
                return Err(bad_key(format!(
                    "RSA keys must be 2048 bits long, this one has {}.",
                    key.size() * 8
                )));
            }
            true
        }
        EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            if curve.as_deref() != Some(P256) {
                return Err(bad_key(format!(
                    "EC keys must be on NIST P-256 (1.2.840.10045.3.1.7), not {}.",
                    curve.as_deref().unwrap_or("an unnamed curve")
                )));
            }
            false
        }
        other => {
            return Err(bad_key(format!(
                "Key type {other} is not allowed (RSA 2048 or EC P-256)."
            )));
        }
    };
    let alg_oid = req.algorithm.oid.to_string();
    let alg = algorithm(&alg_oid)
        .ok_or_else(|| bad_algorithm(format!("Signature algorithm {alg_oid} is not allowed.")))?;
    if is_rsa == matches!(alg, Algorithm::Ecdsa(_)) {
        return Err(bad_algorithm(format!(
            "Signature algorithm {alg_oid} does not fit the request's key."
        )));
    }
    let signed = req
        .info
        .to_der()
        .map_err(|e| bad_format(format!("CertificationRequestInfo: {e}")))?;
    let sig = req.signature.raw_bytes();
    let ok = if is_rsa {
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_der(&spki_der)
            .map(|k| verify_rsa(k, alg, &signed, sig))
            .unwrap_or(false)
    } else {
        use p256::pkcs8::DecodePublicKey;
        use rsa::signature::hazmat::PrehashVerifier;
        match (
            alg,
            p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der),
            p256::ecdsa::Signature::from_der(sig),
        ) {
            (Algorithm::Ecdsa(h), Ok(key), Ok(s)) => {
                key.verify_prehash(&h.digest(&signed), &s).is_ok()
            }
            _ => false,
        }
    };
    if !ok {
        return Err(bad_format("The request's signature does not verify."));
    }
    Ok(CheckedCsr {
        subject: req.info.subject,
        spki,
        spki_der,
    })
}
