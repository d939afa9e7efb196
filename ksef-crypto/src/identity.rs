//! Signing identities: an X.509 certificate plus its private key (RSA or ECDSA P-256), and
//! self-signed certificates for the KSeF TEST environment.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Encode, Tag};
use p256::ecdsa::signature::Signer as _;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::Sha256;
use spki::{DynSignatureAlgorithmIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::error::{CryptoError, Result};
use crate::ids::{Nip, Pesel};
use crate::secret::SecretString;

/// Key algorithm of a generated identity or CSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA 2048-bit, e = 65537.
    Rsa2048,
    /// ECDSA on NIST P-256.
    EcdsaP256,
}

/// A private signing key. Zeroized on drop (by the underlying crates), redacted in `Debug`.
#[derive(Clone)]
pub enum PrivateKey {
    /// RSA.
    Rsa(Box<rsa::PrivateKey>),
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(_) => f.write_str("PrivateKey::Rsa([redacted])"),
            Self::P256(_) => f.write_str("PrivateKey::P256([redacted])"),
        }
    }
}

impl PrivateKey {
    /// Generate a fresh key.
    pub fn generate(alg: KeyAlgorithm) -> Result<Self> {
        match alg {
            KeyAlgorithm::Rsa2048 => {
                let k = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 2048)
                    .map_err(|e| CryptoError::PrivateKey(e.to_string()))?;
                Ok(Self::Rsa(Box::new(k)))
            }
            KeyAlgorithm::EcdsaP256 => {
                let k = <p256::ecdsa::SigningKey as rsa::Generate>::try_generate_from_rng(
                    &mut rand::rngs::SysRng,
                )
                .map_err(|_| CryptoError::Random)?;
                Ok(Self::P256(k))
            }
        }
    }

    /// Parse a PKCS#8 DER private key (RSA or P-256).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Self::P256(k));
        }
        rsa::PrivateKey::from_pkcs8_der(der)
            .map(|k| Self::Rsa(Box::new(k)))
            .map_err(|e| CryptoError::PrivateKey(format!("PKCS#8: {e}")))
    }

    /// Parse a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Self::P256(k));
        }
        rsa::PrivateKey::from_pkcs8_pem(pem)
            .map(|k| Self::Rsa(Box::new(k)))
            .map_err(|e| CryptoError::PrivateKey(format!("PKCS#8: {e}")))
    }

    /// PKCS#8 PEM of the private key (secret).
    pub fn to_pkcs8_pem(&self) -> Result<SecretString> {
        let pem = match self {
            Self::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
            Self::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| CryptoError::PrivateKey(e.to_string()))?;
        Ok(SecretString::new(pem.as_str()))
    }

    /// SubjectPublicKeyInfo of the public key.
    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned> {
        let der = match self {
            Self::Rsa(k) => k.to_public_key().to_public_key_der(),
            Self::P256(k) => k.verifying_key().to_public_key_der(),
        }
        .map_err(|e| CryptoError::PrivateKey(e.to_string()))?;
        SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
            .map_err(|e| CryptoError::PrivateKey(e.to_string()))
    }

    /// The key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(_) => KeyAlgorithm::Rsa2048,
            Self::P256(_) => KeyAlgorithm::EcdsaP256,
        }
    }

    /// XML-DSig `SignatureMethod` URI of [`PrivateKey::sign_xmldsig`].
    pub fn xmldsig_signature_method(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::P256(_) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }

    /// XML-DSig signature: RSA PKCS#1 v1.5 with SHA-256, or ECDSA P-256 SHA-256 as raw r||s
    /// (64 bytes), as XML-DSig 1.1 and KSeF require.
    pub fn sign_xmldsig(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Rsa(k) => k
                .pkcs1v15_sign::<Sha256>(msg)
                .map_err(|e| CryptoError::Sign(e.to_string())),
            Self::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign(msg)
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }

    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32 (KOD II, RSA keys).
    pub fn sign_pss(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Rsa(k) => k
                .pss_sign::<Sha256>(msg)
                .map_err(|e| CryptoError::Sign(e.to_string())),
            Self::P256(_) => Err(CryptoError::UnsupportedKey("PSS needs an RSA key".into())),
        }
    }

    /// ECDSA P-256 with SHA-256; `der = false` gives raw r||s (64 bytes), `true` ASN.1 DER.
    pub fn sign_ecdsa(&self, msg: &[u8], der: bool) -> Result<Vec<u8>> {
        match self {
            Self::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign(msg)
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                Ok(if der {
                    sig.to_der().as_bytes().to_vec()
                } else {
                    sig.to_bytes().to_vec()
                })
            }
            Self::Rsa(_) => Err(CryptoError::UnsupportedKey(
                "ECDSA needs a P-256 key".into(),
            )),
        }
    }

    /// Signature for X.509 structures (certificates, CSRs): `(AlgorithmIdentifier, signature)`.
    pub(crate) fn sign_x509(
        &self,
        tbs: &[u8],
    ) -> Result<(spki::AlgorithmIdentifierOwned, Vec<u8>)> {
        match self {
            Self::Rsa(k) => {
                let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
                let alg = sk
                    .signature_algorithm_identifier()
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                let sig = k
                    .pkcs1v15_sign::<Sha256>(tbs)
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                Ok((alg, sig))
            }
            Self::P256(k) => {
                let alg = k
                    .signature_algorithm_identifier()
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                let sig: p256::ecdsa::DerSignature = k
                    .try_sign(tbs)
                    .map_err(|e| CryptoError::Sign(e.to_string()))?;
                Ok((alg, sig.as_bytes().to_vec()))
            }
        }
    }
}

/// String type of a DN attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrType {
    Utf8,
    Printable,
}

pub(crate) mod oid {
    use der::asn1::ObjectIdentifier as O;
    pub const CN: O = O::new_unwrap("2.5.4.3");
    pub const SURNAME: O = O::new_unwrap("2.5.4.4");
    pub const SERIAL_NUMBER: O = O::new_unwrap("2.5.4.5");
    pub const COUNTRY: O = O::new_unwrap("2.5.4.6");
    pub const ORGANIZATION: O = O::new_unwrap("2.5.4.10");
    pub const GIVEN_NAME: O = O::new_unwrap("2.5.4.42");
    pub const UNIQUE_IDENTIFIER: O = O::new_unwrap("2.5.4.45");
    pub const ORGANIZATION_IDENTIFIER: O = O::new_unwrap("2.5.4.97");
}

/// The subject of a personal certificate: GN, SN, serialNumber, CN = "GN SN", C = PL.
fn person_name(given_name: &str, surname: &str, serial_number: &str) -> Result<Name> {
    let cn = format!("{given_name} {surname}");
    build_name(&[
        (oid::GIVEN_NAME, StrType::Utf8, given_name),
        (oid::SURNAME, StrType::Utf8, surname),
        (oid::SERIAL_NUMBER, StrType::Printable, serial_number),
        (oid::CN, StrType::Utf8, &cn),
        (oid::COUNTRY, StrType::Printable, "PL"),
    ])
}

/// Build a Name with one attribute per RDN, in the given order.
pub(crate) fn build_name(attrs: &[(ObjectIdentifier, StrType, &str)]) -> Result<Name> {
    let mut seq = RdnSequence::default();
    for (o, t, v) in attrs {
        let tag = match t {
            StrType::Utf8 => Tag::Utf8String,
            StrType::Printable => {
                let printable = v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
                if !printable {
                    return Err(CryptoError::BuildCertificate(format!(
                        "value {v:?} of {o} is not a PrintableString"
                    )));
                }
                Tag::PrintableString
            }
        };
        let value = Any::new(tag, v.as_bytes())
            .map_err(|e| CryptoError::BuildCertificate(e.to_string()))?;
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue { oid: *o, value })
            .map_err(|e| CryptoError::BuildCertificate(e.to_string()))?;
        seq.push(rdn);
    }
    let der = seq
        .to_der()
        .map_err(|e| CryptoError::BuildCertificate(e.to_string()))?;
    Name::from_der(&der).map_err(|e| CryptoError::BuildCertificate(e.to_string()))
}

struct SelfSigned(Name);

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }
    fn get_subject(&self) -> Name {
        self.0.clone()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        // digitalSignature + nonRepudiation key usage, critical
        let ku = x509_cert::ext::pkix::KeyUsage(
            x509_cert::ext::pkix::KeyUsages::DigitalSignature
                | x509_cert::ext::pkix::KeyUsages::NonRepudiation,
        );
        let value = der::asn1::OctetString::new(ku.to_der()?)?;
        Ok(vec![Extension {
            extn_id: ObjectIdentifier::new_unwrap("2.5.29.15"),
            critical: true,
            extn_value: value,
        }])
    }
}

/// A certificate with its private key, able to sign XAdES, CSRs and KOD II links.
#[derive(Clone)]
pub struct SigningIdentity {
    cert_der: Vec<u8>,
    cert: Certificate,
    key: PrivateKey,
}

/// Alias used for self-signed TEST identities.
pub type TestIdentity = SigningIdentity;

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningIdentity")
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .field("key", &self.key)
            .finish()
    }
}

impl SigningIdentity {
    /// From a DER certificate and its private key (checks that they match).
    pub fn new(cert_der: &[u8], key: PrivateKey) -> Result<Self> {
        let cert = Certificate::from_der(cert_der).map_err(|e| CryptoError::ParseCertificate {
            index: None,
            detail: e.to_string(),
        })?;
        let spki = key.public_key_info()?;
        if cert.tbs_certificate().subject_public_key_info() != &spki {
            return Err(CryptoError::PrivateKey(
                "private key does not match the certificate".into(),
            ));
        }
        Ok(Self {
            cert_der: cert_der.to_vec(),
            cert,
            key,
        })
    }

    /// From PEM certificate and PKCS#8 PEM key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let (_, der) = crate::pem::decode(cert_pem)?;
        Self::new(&der, PrivateKey::from_pkcs8_pem(key_pem)?)
    }

    /// Self-signed personal TEST certificate: GN, SN, `serialNumber=TINPL-<nip>`, CN.
    pub fn self_signed_personal(nip: &Nip, alg: KeyAlgorithm) -> Result<Self> {
        Self::self_signed_personal_at(nip, alg, chrono::Utc::now())
    }

    /// Like [`SigningIdentity::self_signed_personal`], valid from one hour before `now` (the
    /// instant on the caller's clock) for two years.
    pub fn self_signed_personal_at(
        nip: &Nip,
        alg: KeyAlgorithm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self> {
        let name = person_name("Jan", "Testowy", &format!("TINPL-{nip}"))?;
        Self::self_signed_at(name, alg, now)
    }

    /// Self-signed personal TEST certificate identified by PESEL (`serialNumber=PNOPL-<pesel>`).
    pub fn self_signed_personal_pesel(pesel: &Pesel, alg: KeyAlgorithm) -> Result<Self> {
        Self::self_signed_person("Jan", "Testowy", &format!("PNOPL-{pesel}"), alg)
    }

    /// Self-signed personal certificate with explicit names and serialNumber attribute.
    pub fn self_signed_person(
        given_name: &str,
        surname: &str,
        serial_number: &str,
        alg: KeyAlgorithm,
    ) -> Result<Self> {
        Self::self_signed(person_name(given_name, surname, serial_number)?, alg)
    }

    /// Self-signed company seal TEST certificate: O, `organizationIdentifier=VATPL-<nip>`, CN.
    pub fn self_signed_seal(nip: &Nip, organization: &str, alg: KeyAlgorithm) -> Result<Self> {
        let name = build_name(&[
            (oid::ORGANIZATION, StrType::Utf8, organization),
            (
                oid::ORGANIZATION_IDENTIFIER,
                StrType::Utf8,
                &format!("VATPL-{nip}"),
            ),
            (oid::CN, StrType::Utf8, organization),
            (oid::COUNTRY, StrType::Printable, "PL"),
        ])?;
        Self::self_signed(name, alg)
    }

    /// A self-signed certificate for `subject` with a fresh key, valid from one hour ago for two
    /// years.
    pub fn self_signed(subject: Name, alg: KeyAlgorithm) -> Result<Self> {
        Self::self_signed_at(subject, alg, chrono::Utc::now())
    }

    /// A self-signed certificate for `subject` with a fresh key, valid from one hour before
    /// `now` for two years.
    pub fn self_signed_at(
        subject: Name,
        alg: KeyAlgorithm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self> {
        let key = PrivateKey::generate(alg)?;
        let be = |e: String| CryptoError::BuildCertificate(e);
        let now = SystemTime::from(now);
        let nb = Time::try_from(now - Duration::from_secs(3600)).map_err(|e| be(e.to_string()))?;
        let na = Time::try_from(now + Duration::from_secs(2 * 365 * 86400))
            .map_err(|e| be(e.to_string()))?;
        let mut serial = [0u8; 16];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut serial)
            .map_err(|_| CryptoError::Random)?;
        serial[0] &= 0x7f;
        serial[0] |= 0x40;
        let serial = SerialNumber::new(&serial).map_err(|e| be(e.to_string()))?;
        let spki = key.public_key_info()?;
        let builder =
            CertificateBuilder::new(SelfSigned(subject), serial, Validity::new(nb, na), spki)
                .map_err(|e| be(e.to_string()))?;
        let cert = match &key {
            PrivateKey::Rsa(k) => {
                let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
                builder.build::<_, rsa::pkcs1v15::Signature>(&sk)
            }
            PrivateKey::P256(k) => builder.build::<_, p256::ecdsa::DerSignature>(k),
        }
        .map_err(|e| be(e.to_string()))?;
        let der = cert.to_der().map_err(|e| be(e.to_string()))?;
        Ok(Self {
            cert_der: der,
            cert,
            key,
        })
    }

    /// DER of the certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// PEM of the certificate.
    pub fn certificate_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.cert_der)
    }

    /// The parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// SHA-256 of the certificate DER as 64 uppercase hex characters (`certificateFingerprint`).
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(crate::b64::sha256(&self.cert_der))
    }

    /// Issuer DN as an RFC 4514 string.
    pub fn issuer_name(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// Subject DN as an RFC 4514 string.
    pub fn subject_name(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// Serial number as a decimal string (for `X509SerialNumber`).
    pub fn serial_decimal(&self) -> String {
        bytes_to_decimal(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// Serial number as uppercase hex (KSeF certificate serial form).
    pub fn serial_hex(&self) -> String {
        let b = self.cert.tbs_certificate().serial_number().as_bytes();
        let b = match b {
            [0, rest @ ..] if !rest.is_empty() => rest,
            other => other,
        };
        hex::encode_upper(b)
    }
}

/// Big-endian unsigned bytes to a decimal string.
pub(crate) fn bytes_to_decimal(bytes: &[u8]) -> String {
    let mut num: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::new();
    while num.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in num.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

impl FromStr for KeyAlgorithm {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" | "rsa2048" | "rsa-2048" => Ok(Self::Rsa2048),
            "ec" | "ecdsa" | "p256" | "p-256" | "ecdsa-p256" => Ok(Self::EcdsaP256),
            _ => Err(CryptoError::UnsupportedKey(format!(
                "unknown key algorithm {s:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_serial() {
        assert_eq!(bytes_to_decimal(&[0x01, 0x00]), "256");
        assert_eq!(bytes_to_decimal(&[0x00]), "0");
        assert_eq!(bytes_to_decimal(&[0xff, 0xff, 0xff, 0xff]), "4294967295");
    }

    #[test]
    fn self_signed_names_and_fingerprint() {
        let nip = Nip::parse("5265877635").unwrap();
        let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
        let subject = id.subject_name();
        assert!(subject.contains("TINPL-5265877635"), "{subject}");
        assert_eq!(id.fingerprint().len(), 64);
        assert_eq!(id.issuer_name(), subject);
        assert!(format!("{id:?}").contains("redacted"));
        let pem = id.private_key().to_pkcs8_pem().unwrap();
        let again = SigningIdentity::from_pem(&id.certificate_pem(), pem.expose()).unwrap();
        assert_eq!(again.certificate_der(), id.certificate_der());
    }
}
