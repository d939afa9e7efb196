//! PKCS#10 certificate requests for KSeF certificate enrollment.
//!
//! The subject must equal, attribute for attribute, the data returned by
//! `GET /certificates/enrollments/data` (error 25003 otherwise). String types: `countryName` and
//! `serialNumber` are PrintableString (X.520 mandates it), every other attribute is UTF8String.
//! Attribute order: givenName, surname, serialNumber, uniqueIdentifier, commonName,
//! organizationName, organizationIdentifier, countryName (only those present). Keys: RSA-2048
//! (signature sha256WithRSAEncryption) or P-256 (ecdsa-with-SHA256).

use der::Encode;
use der::asn1::BitString;
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::error::{CryptoError, Result};
use crate::identity::{KeyAlgorithm, PrivateKey, StrType, build_name, oid};

/// The DN attributes of `CertificateEnrollmentDataResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrollmentSubject {
    /// commonName (required).
    pub common_name: String,
    /// countryName, ISO 3166 (required).
    pub country_name: String,
    /// givenName.
    pub given_name: Option<String>,
    /// surname.
    pub surname: Option<String>,
    /// serialNumber (e.g. `TINPL-...`, `PNOPL-...`).
    pub serial_number: Option<String>,
    /// uniqueIdentifier.
    pub unique_identifier: Option<String>,
    /// organizationName.
    pub organization_name: Option<String>,
    /// organizationIdentifier (e.g. `VATPL-...`).
    pub organization_identifier: Option<String>,
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl EnrollmentSubject {
    fn name(&self) -> Result<x509_cert::name::Name> {
        let mut attrs = Vec::new();
        if let Some(v) = opt(&self.given_name) {
            attrs.push((oid::GIVEN_NAME, StrType::Utf8, v));
        }
        if let Some(v) = opt(&self.surname) {
            attrs.push((oid::SURNAME, StrType::Utf8, v));
        }
        if let Some(v) = opt(&self.serial_number) {
            attrs.push((oid::SERIAL_NUMBER, StrType::Printable, v));
        }
        if let Some(v) = opt(&self.unique_identifier) {
            attrs.push((oid::UNIQUE_IDENTIFIER, StrType::Utf8, v));
        }
        if self.common_name.is_empty() {
            return Err(CryptoError::BuildCsr("commonName is required".into()));
        }
        attrs.push((oid::CN, StrType::Utf8, &self.common_name));
        if let Some(v) = opt(&self.organization_name) {
            attrs.push((oid::ORGANIZATION, StrType::Utf8, v));
        }
        if let Some(v) = opt(&self.organization_identifier) {
            attrs.push((oid::ORGANIZATION_IDENTIFIER, StrType::Utf8, v));
        }
        if self.country_name.len() != 2 {
            return Err(CryptoError::BuildCsr(
                "countryName must be a 2-letter ISO 3166 code".into(),
            ));
        }
        attrs.push((oid::COUNTRY, StrType::Printable, &self.country_name));
        build_name(&attrs).map_err(|e| CryptoError::BuildCsr(e.to_string()))
    }
}

/// Build a DER PKCS#10 request for `subject`, signed with `key`.
pub fn build_csr(subject: &EnrollmentSubject, key: &PrivateKey) -> Result<Vec<u8>> {
    let be = |e: der::Error| CryptoError::BuildCsr(e.to_string());
    let info = CertReqInfo {
        version: Version::V1,
        subject: subject.name()?,
        public_key: key.public_key_info()?,
        attributes: Default::default(),
    };
    let tbs = info.to_der().map_err(be)?;
    let (algorithm, sig) = key.sign_x509(&tbs)?;
    let req = CertReq {
        info,
        algorithm,
        signature: BitString::from_bytes(&sig).map_err(be)?,
    };
    req.to_der().map_err(be)
}

/// Generate a fresh key of `alg` and a CSR for it: `(csr_der, key)`. Send the CSR as standard
/// Base64 of the DER in `POST /certificates/enrollments`; keep the key.
pub fn generate_csr(
    subject: &EnrollmentSubject,
    alg: KeyAlgorithm,
) -> Result<(Vec<u8>, PrivateKey)> {
    let key = PrivateKey::generate(alg)?;
    let der = build_csr(subject, &key)?;
    Ok((der, key))
}
