//! The simulator's certificate authority: an ECDSA P-256 key (fresh, or derived from
//! [`CertificatesConfig::authority_seed`](super::CertificatesConfig)) with a self-signed CA
//! certificate; it issues the KSeF certificates and checks that a certificate was signed by it
//! (or by a configured trusted root).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::error::SimError;

/// Subject of the CA certificate.
const CA_SUBJECT: &str = "CN=KSeF Simulator CA,O=ksef-rs,C=PL";
/// Validity of the CA certificate: fixed, so a seeded authority has the same certificate in
/// every run (2020-01-01 .. 2070-01-01).
const CA_NOT_BEFORE: u64 = 1_577_836_800;
const CA_NOT_AFTER: u64 = 3_155_760_000;

const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_SUBJECT_KEY_ID: &str = "2.5.29.14";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";

/// What an issued certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertificateKind {
    /// `Authentication`: keyUsage digitalSignature.
    Authentication,
    /// `Offline`: keyUsage nonRepudiation (KOD II links), cannot authenticate.
    Offline,
}

impl CertificateKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "Authentication" => Some(Self::Authentication),
            "Offline" => Some(Self::Offline),
            _ => None,
        }
    }
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "Authentication",
            Self::Offline => "Offline",
        }
    }
}

fn ext(oid: &str, critical: bool, value: &impl Encode) -> x509_cert::builder::Result<Extension> {
    Ok(Extension {
        extn_id: der::asn1::ObjectIdentifier::new(oid).map_err(der::Error::from)?,
        critical,
        extn_value: der::asn1::OctetString::new(value.to_der()?)?,
    })
}

/// SHA-1 of the subjectPublicKey bits (RFC 5280 method 1).
fn key_id(spk: &spki::SubjectPublicKeyInfoRef<'_>) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(spk.subject_public_key.raw_bytes()).to_vec()
}

/// The CA certificate's profile.
struct RootProfile {
    subject: Name,
}

impl BuilderProfile for RootProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(vec![
            ext(
                OID_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                },
            )?,
            ext(
                OID_KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            )?,
            ext(
                OID_SUBJECT_KEY_ID,
                false,
                &SubjectKeyIdentifier(der::asn1::OctetString::new(key_id(&spk))?),
            )?,
        ])
    }
}

/// The profile of an issued KSeF certificate.
struct IssuedProfile {
    issuer: Name,
    subject: Name,
    kind: CertificateKind,
}

impl BuilderProfile for IssuedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let usage = match self.kind {
            CertificateKind::Authentication => KeyUsages::DigitalSignature,
            CertificateKind::Offline => KeyUsages::NonRepudiation,
        };
        Ok(vec![
            ext(
                OID_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            ext(OID_KEY_USAGE, true, &KeyUsage(usage.into()))?,
            ext(
                OID_SUBJECT_KEY_ID,
                false,
                &SubjectKeyIdentifier(der::asn1::OctetString::new(key_id(&spk))?),
            )?,
            ext(
                OID_AUTHORITY_KEY_ID,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(der::asn1::OctetString::new(key_id(&issuer_spk))?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
        ])
    }
}

fn time(t: SystemTime) -> Result<Time, String> {
    Time::try_from(t).map_err(|e| e.to_string())
}

/// A fresh certificate serial number: 8 random bytes, positive (so its hex form is the 16
/// uppercase digits KSeF uses).
pub(crate) fn fresh_serial() -> [u8; 8] {
    let mut s = [0u8; 8];
    rand::fill(&mut s);
    s[0] = (s[0] & 0x7f).max(0x01);
    s
}

/// The simulator's certificate authority.
pub(crate) struct Authority {
    key: p256::ecdsa::SigningKey,
    name: Name,
    cert: Certificate,
    cert_der: Vec<u8>,
    trusted_roots: Vec<Certificate>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &CA_SUBJECT)
            .field("trusted_roots", &self.trusted_roots.len())
            .finish_non_exhaustive()
    }
}

fn key_from(seed: &[u8; 32]) -> Result<p256::ecdsa::SigningKey, SimError> {
    for counter in 0u8..=255 {
        let mut h = Sha256::new();
        h.update(b"ksef-sim certificate authority");
        h.update(seed);
        h.update([counter]);
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&h.finalize()) {
            return Ok(k);
        }
    }
    Err(SimError::KeyGeneration(
        "no valid P-256 key derives from the seed".into(),
    ))
}

impl Authority {
    /// Creates the authority: its key from `seed` (a random one when `None`), its self-signed
    /// certificate, and the trusted roots (DER; one that does not parse is an error).
    pub(crate) fn new(seed: Option<[u8; 32]>, roots: &[Vec<u8>]) -> Result<Self, SimError> {
        let gen_err = |e: String| SimError::KeyGeneration(format!("certificate authority: {e}"));
        let seed = seed.unwrap_or_else(|| {
            let mut s = [0u8; 32];
            rand::fill(&mut s);
            s
        });
        let key = key_from(&seed)?;
        let name = Name::from_str(CA_SUBJECT).map_err(|e| gen_err(e.to_string()))?;
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(key.verifying_key())
            .map_err(|e| gen_err(e.to_string()))?;
        let validity = Validity::new(
            time(SystemTime::UNIX_EPOCH + Duration::from_secs(CA_NOT_BEFORE)).map_err(gen_err)?,
            time(SystemTime::UNIX_EPOCH + Duration::from_secs(CA_NOT_AFTER)).map_err(gen_err)?,
        );
        let serial = Sha256::digest(key.verifying_key().to_sec1_bytes());
        let mut serial: [u8; 8] = serial
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([1; 8]);
        serial[0] = (serial[0] & 0x7f).max(0x01);
        let serial = SerialNumber::new(&serial).map_err(|e| gen_err(e.to_string()))?;
        let cert = CertificateBuilder::new(
            RootProfile {
                subject: name.clone(),
            },
            serial,
            validity,
            spki,
        )
        .map_err(|e| gen_err(e.to_string()))?
        .build::<_, p256::ecdsa::DerSignature>(&key)
        .map_err(|e| gen_err(e.to_string()))?;
        let cert_der = cert.to_der().map_err(|e| gen_err(e.to_string()))?;
        let trusted_roots = roots
            .iter()
            .map(|d| Certificate::from_der(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| gen_err(format!("a trusted root does not parse: {e}")))?;
        Ok(Self {
            key,
            name,
            cert,
            cert_der,
            trusted_roots,
        })
    }

    /// DER of the CA certificate.
    pub(crate) fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Issues a certificate for `subject` and the key `spki`, of `kind`, valid `from`..`to`.
    /// Returns the DER and the serial number (16 uppercase hex digits).
    pub(crate) fn issue(
        &self,
        subject: Name,
        spki: spki::SubjectPublicKeyInfoOwned,
        kind: CertificateKind,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<u8>, String), String> {
        let serial = fresh_serial();
        let validity = Validity::new(time(from.into())?, time(to.into())?);
        let cert = CertificateBuilder::new(
            IssuedProfile {
                issuer: self.name.clone(),
                subject,
                kind,
            },
            SerialNumber::new(&serial).map_err(|e| e.to_string())?,
            validity,
            spki,
        )
        .map_err(|e| e.to_string())?
        .build::<_, p256::ecdsa::DerSignature>(&self.key)
        .map_err(|e| e.to_string())?;
        let der = cert.to_der().map_err(|e| e.to_string())?;
        Ok((der, hex::encode_upper(serial)))
    }

    /// Whether the simulator's authority signed `cert`.
    pub(crate) fn issued(&self, cert: &Certificate) -> bool {
        signed_by(cert, &self.cert)
    }

    /// Whether `cert` chains to a trusted root: issued by the simulator's authority or directly
    /// by one of the configured roots (or is one of them).
    pub(crate) fn trusts(&self, cert: &Certificate) -> bool {
        self.issued(cert)
            || self
                .trusted_roots
                .iter()
                .any(|root| root == cert || signed_by(cert, root))
    }
}

/// PEM armour of a certificate's DER.
pub(crate) fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The serial number of `cert` in KSeF's form (uppercase hex, without a DER sign byte).
pub(crate) fn serial_hex(cert: &Certificate) -> String {
    let bytes = cert.tbs_certificate().serial_number().as_bytes();
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    hex::encode_upper(trimmed)
}

/// Whether `issuer` signed `cert`: the issuer name matches and the signature verifies with the
/// issuer's key (ECDSA P-256 with SHA-256, or RSA PKCS#1 v1.5 with SHA-256).
pub(crate) fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    use rsa::signature::Verifier;
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Ok(spki_der) = issuer.tbs_certificate().subject_public_key_info().to_der() else {
        return false;
    };
    let sig = cert.signature().raw_bytes();
    match cert.signature_algorithm().oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" => {
            use p256::pkcs8::DecodePublicKey;
            let (Ok(key), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der),
                p256::ecdsa::DerSignature::try_from(sig),
            ) else {
                return false;
            };
            key.verify(&tbs, &sig).is_ok()
        }
        "1.2.840.113549.1.1.11" => {
            use rsa::pkcs8::DecodePublicKey;
            let (Ok(key), Ok(sig)) = (
                rsa::PublicKey::from_public_key_der(&spki_der),
                rsa::pkcs1v15::Signature::try_from(sig),
            ) else {
                return false;
            };
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
                .verify(&tbs, &sig)
                .is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_authority_is_the_same_in_every_run_and_verifies_what_it_issues() {
        let a = Authority::new(Some([7; 32]), &[]).unwrap();
        let b = Authority::new(Some([7; 32]), &[]).unwrap();
        assert_eq!(a.certificate_der(), b.certificate_der());
        let c = Authority::new(None, &[]).unwrap();
        assert_ne!(a.certificate_der(), c.certificate_der());

        let leaf_key = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(leaf_key.verifying_key()).unwrap();
        let now = chrono::Utc::now();
        let (der, serial) = a
            .issue(
                Name::from_str("CN=Jan Kowalski,C=PL").unwrap(),
                spki,
                CertificateKind::Offline,
                now,
                now + chrono::Duration::days(1),
            )
            .unwrap();
        assert_eq!(serial.len(), 16);
        let cert = Certificate::from_der(&der).unwrap();
        assert_eq!(serial_hex(&cert), serial);
        assert!(a.issued(&cert) && a.trusts(&cert));
        assert!(!c.issued(&cert) && !c.trusts(&cert));
        let with_root = Authority::new(None, &[a.certificate_der().to_vec()]).unwrap();
        assert!(with_root.trusts(&cert));
    }
}
