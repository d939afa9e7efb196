//! Public-key certificates of `GET /security/public-key-certificates`, the choice of the one to use
//! for a purpose, and the KSeF-token encryption under the `KsefTokenEncryption` key.

use std::fmt;

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use pkcs8::DecodePublicKey;
use x509_cert::Certificate;

use crate::error::{CryptoError, Result};
use crate::secret::SecretString;

/// What a KSeF public key may be used for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateUsage {
    /// Encrypting KSeF tokens in `/auth/ksef-token`.
    KsefTokenEncryption,
    /// Wrapping session AES keys.
    SymmetricKeyEncryption,
    /// A value this crate does not know (server drift); kept, never selected.
    Other(String),
}

impl CertificateUsage {
    /// Parse the API string.
    pub fn parse(s: &str) -> Self {
        match s {
            "KsefTokenEncryption" => Self::KsefTokenEncryption,
            "SymmetricKeyEncryption" => Self::SymmetricKeyEncryption,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The API string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::KsefTokenEncryption => "KsefTokenEncryption",
            Self::SymmetricKeyEncryption => "SymmetricKeyEncryption",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for CertificateUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the public-key certificate list, parsed.
#[derive(Clone)]
pub struct PublicKeyCertificate {
    der: Vec<u8>,
    certificate_id: String,
    public_key_id: String,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    usage: Vec<CertificateUsage>,
    rsa: Option<rsa::PublicKey>,
}

impl fmt::Debug for PublicKeyCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyCertificate")
            .field("certificate_id", &self.certificate_id)
            .field("public_key_id", &self.public_key_id)
            .field("valid_from", &self.valid_from)
            .field("valid_to", &self.valid_to)
            .field("usage", &self.usage)
            .field("rsa", &self.rsa.is_some())
            .finish()
    }
}

fn x509_time(t: &x509_cert::time::Time) -> DateTime<Utc> {
    DateTime::<Utc>::from(t.to_system_time())
}

impl PublicKeyCertificate {
    /// Parse a DER certificate; validity comes from the certificate itself, usage is empty.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        Self::from_der_indexed(der, None)
    }

    fn from_der_indexed(der: &[u8], index: Option<usize>) -> Result<Self> {
        let perr = |detail: String| CryptoError::ParseCertificate { index, detail };
        let cert = Certificate::from_der(der).map_err(|e| perr(e.to_string()))?;
        let tbs = cert.tbs_certificate();
        let spki_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| perr(e.to_string()))?;
        let rsa = rsa::PublicKey::from_public_key_der(&spki_der).ok();
        Ok(Self {
            der: der.to_vec(),
            certificate_id: crate::b64::sha256_b64(der),
            public_key_id: crate::b64::sha256_b64(&spki_der),
            valid_from: x509_time(&tbs.validity().not_before),
            valid_to: x509_time(&tbs.validity().not_after),
            usage: Vec::new(),
            rsa,
        })
    }

    /// One API entry with typed fields: `certificate` (Base64 DER, no PEM armour), `validFrom`,
    /// `validTo` and `usage[]`. The API's validity dates take precedence over the certificate's.
    pub fn new(
        certificate_b64: &str,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: Vec<CertificateUsage>,
    ) -> Result<Self> {
        Self::new_indexed(certificate_b64, valid_from, valid_to, usage, None)
    }

    fn new_indexed(
        certificate_b64: &str,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: Vec<CertificateUsage>,
        index: Option<usize>,
    ) -> Result<Self> {
        let der = crate::b64::decode("certificate", certificate_b64).map_err(|e| {
            CryptoError::ParseCertificate {
                index,
                detail: e.to_string(),
            }
        })?;
        Ok(Self::from_der_indexed(&der, index)?.with_metadata(valid_from, valid_to, usage))
    }

    /// Parse one API entry from its JSON strings: `certificate` (Base64 DER, no PEM armour),
    /// `validFrom`, `validTo` (RFC 3339), `usage[]`. The API's validity dates take precedence over
    /// the certificate's.
    pub fn parse(
        certificate_b64: &str,
        valid_from: &str,
        valid_to: &str,
        usage: &[&str],
    ) -> Result<Self> {
        Self::parse_indexed(certificate_b64, valid_from, valid_to, usage, None)
    }

    /// Parse a whole list (`(certificate, validFrom, validTo, usage)` per entry); errors name the
    /// index of the offending entry.
    pub fn parse_list<'a, I>(entries: I) -> Result<Vec<Self>>
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str, Vec<&'a str>)>,
    {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, (c, f, t, u))| Self::parse_indexed(c, f, t, &u, Some(i)))
            .collect()
    }

    fn parse_indexed(
        certificate_b64: &str,
        valid_from: &str,
        valid_to: &str,
        usage: &[&str],
        index: Option<usize>,
    ) -> Result<Self> {
        let time = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| CryptoError::ParseCertificate {
                    index,
                    detail: format!("date {s:?}: {e}"),
                })
        };
        let usage = usage.iter().map(|u| CertificateUsage::parse(u)).collect();
        Self::new_indexed(
            certificate_b64,
            time(valid_from)?,
            time(valid_to)?,
            usage,
            index,
        )
    }

    /// Replace validity and usage (e.g. from a typed API response).
    pub fn with_metadata(
        mut self,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: Vec<CertificateUsage>,
    ) -> Self {
        self.valid_from = valid_from;
        self.valid_to = valid_to;
        self.usage = usage;
        self
    }

    /// Select the certificate for `usage` valid at `at` (validFrom ≤ at < validTo); among several,
    /// the one with the latest `validFrom`. Errors clearly when none qualifies.
    pub fn select<'a>(
        list: &'a [Self],
        usage: &CertificateUsage,
        at: DateTime<Utc>,
    ) -> Result<&'a Self> {
        let with_usage: Vec<&Self> = list.iter().filter(|c| c.usage.contains(usage)).collect();
        with_usage
            .iter()
            .copied()
            .filter(|c| c.valid_from <= at && at < c.valid_to)
            .max_by_key(|c| c.valid_from)
            .ok_or_else(|| CryptoError::NoValidCertificate {
                usage: usage.to_string(),
                at: at.to_rfc3339(),
                candidates: with_usage.len(),
            })
    }

    /// DER of the certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// `certificateId` = Base64(SHA-256(certificate DER)).
    pub fn certificate_id(&self) -> &str {
        &self.certificate_id
    }
    /// `publicKeyId` = Base64(SHA-256(SubjectPublicKeyInfo DER)).
    pub fn public_key_id(&self) -> &str {
        &self.public_key_id
    }
    /// Start of validity.
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.valid_from
    }
    /// End of validity.
    pub fn valid_to(&self) -> DateTime<Utc> {
        self.valid_to
    }
    /// Usages.
    pub fn usage(&self) -> &[CertificateUsage] {
        &self.usage
    }

    /// The RSA public key (KSeF encryption certificates are RSA).
    pub fn rsa_public_key(&self) -> Result<&rsa::PublicKey> {
        self.rsa
            .as_ref()
            .ok_or_else(|| CryptoError::UnsupportedKey("certificate key is not RSA".into()))
    }

    /// Encrypt with RSA-OAEP-SHA256 under this certificate's key.
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        crate::rsa_oaep::encrypt(self.rsa_public_key()?, plaintext)
    }
}

/// Encrypts a KSeF token for `/auth/ksef-token`: RSA-OAEP-SHA256 of the UTF-8 bytes of
/// `"{token}|{timestamp_ms}"` under the `KsefTokenEncryption` certificate; standard Base64.
pub fn encrypt_ksef_token(
    cert: &PublicKeyCertificate,
    token: &SecretString,
    timestamp_ms: i64,
) -> Result<String> {
    let plain = zeroize::Zeroizing::new(format!("{}|{}", token.expose(), timestamp_ms));
    let ct = cert.encrypt_oaep(plain.as_bytes())?;
    Ok(crate::b64::encode(ct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{KeyAlgorithm, TestIdentity};
    use crate::ids::Nip;

    #[test]
    fn typed_entry_takes_the_api_validity_and_usage() {
        let id =
            TestIdentity::self_signed_personal(&Nip::random(), KeyAlgorithm::EcdsaP256).unwrap();
        let b64 = crate::b64::encode(id.certificate_der());
        let from = DateTime::parse_from_rfc3339("2025-01-01T00:00:00.123+01:00")
            .unwrap()
            .with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2027-06-30T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let usage = vec![CertificateUsage::SymmetricKeyEncryption];
        let typed = PublicKeyCertificate::new(&b64, from, to, usage.clone()).unwrap();
        assert_eq!(typed.valid_from(), from);
        assert_eq!(typed.valid_to(), to);
        assert_eq!(typed.usage(), usage.as_slice());
        assert_eq!(typed.der(), id.certificate_der());
        // the string form of the same entry gives the same certificate
        let parsed = PublicKeyCertificate::parse(
            &b64,
            "2025-01-01T00:00:00.123+01:00",
            "2027-06-30T23:59:59Z",
            &["SymmetricKeyEncryption"],
        )
        .unwrap();
        assert_eq!(format!("{parsed:?}"), format!("{typed:?}"));
        assert!(matches!(
            PublicKeyCertificate::new("not base64!", from, to, Vec::new()),
            Err(CryptoError::ParseCertificate { index: None, .. })
        ));
    }
}
