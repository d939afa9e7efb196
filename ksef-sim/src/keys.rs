//! The simulator's own RSA-2048 key pairs and self-signed X.509 certificates for
//! `KsefTokenEncryption` and `SymmetricKeyEncryption`, with rotation controls.

use ksef_time::format_utc_millis;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use der::Encode;
use rsa::{Oaep, PrivateKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::error::{ApiError, SimError};
use crate::sync::{lock, read, write};

/// What a public key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum KeyUsage {
    /// Encrypting KSeF tokens in `/auth/ksef-token`.
    KsefTokenEncryption,
    /// Wrapping session AES keys (online, batch, export).
    SymmetricKeyEncryption,
}

impl KeyUsage {
    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KsefTokenEncryption => "KsefTokenEncryption",
            Self::SymmetricKeyEncryption => "SymmetricKeyEncryption",
        }
    }
}

/// One key pair with its certificate.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub usage: KeyUsage,
    pub private: PrivateKey,
    pub cert_der: Vec<u8>,
    pub certificate_id: String,
    pub public_key_id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    pub withdrawn: bool,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("usage", &self.usage)
            .field("public_key_id", &self.public_key_id)
            .field("valid_from", &self.valid_from)
            .field("valid_to", &self.valid_to)
            .field("withdrawn", &self.withdrawn)
            .finish_non_exhaustive()
    }
}

/// The key store of one simulator.
#[derive(Debug, Default)]
pub(crate) struct KeyStore {
    entries: RwLock<Vec<KeyEntry>>,
}

/// Process-wide pool of generated RSA keys (generation is slow in debug builds; simulators in
/// the same process reuse keys by index).
static POOL: OnceLock<Mutex<Vec<PrivateKey>>> = OnceLock::new();

fn pooled_key(index: usize) -> Result<PrivateKey, SimError> {
    let pool = POOL.get_or_init(|| Mutex::new(Vec::new()));
    let mut keys = lock(pool);
    while keys.len() <= index {
        let mut rng = rand::rng();
        let k =
            PrivateKey::new(&mut rng, 2048).map_err(|e| SimError::KeyGeneration(e.to_string()))?;
        keys.push(k);
    }
    keys.get(index)
        .cloned()
        .ok_or_else(|| SimError::KeyGeneration("key pool".into()))
}

struct SelfSigned {
    subject: Name,
}

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}

fn to_time(t: DateTime<Utc>) -> Result<Time, SimError> {
    let secs = u64::try_from(t.timestamp()).map_err(|e| SimError::KeyGeneration(e.to_string()))?;
    Time::try_from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(|e| SimError::KeyGeneration(e.to_string()))
}

fn make_entry(
    usage: KeyUsage,
    private: PrivateKey,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    serial: u32,
) -> Result<KeyEntry, SimError> {
    let gen_err = |e: &dyn std::fmt::Display| SimError::KeyGeneration(e.to_string());
    let subject = Name::from_str(&format!("CN=KSeF Simulator {},O=ksef-rs", usage.as_str()))
        .map_err(|e| gen_err(&e))?;
    let public = private.to_public_key();
    let spki_doc = spki::SubjectPublicKeyInfoOwned::from_key(&public).map_err(|e| gen_err(&e))?;
    let validity = Validity::new(to_time(valid_from)?, to_time(valid_to)?);
    let builder = CertificateBuilder::new(
        SelfSigned { subject },
        SerialNumber::from(serial),
        validity,
        spki_doc.clone(),
    )
    .map_err(|e| gen_err(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| gen_err(&e))?;
    let cert_der = cert.to_der().map_err(|e| gen_err(&e))?;
    let spki_der = spki_doc.to_der().map_err(|e| gen_err(&e))?;
    Ok(KeyEntry {
        usage,
        private,
        certificate_id: STANDARD.encode(Sha256::digest(&cert_der)),
        public_key_id: STANDARD.encode(Sha256::digest(&spki_der)),
        cert_der,
        valid_from,
        valid_to,
        withdrawn: false,
    })
}

/// Wire form of one public-key certificate (`PublicKeyCertificate`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublicKeyCertificateWire {
    pub certificate: String,
    pub certificate_id: String,
    pub public_key_id: String,
    pub valid_from: String,
    pub valid_to: String,
    pub usage: Vec<String>,
}

impl KeyStore {
    /// Creates the store with one key per usage, valid from an hour ago for two years.
    pub(crate) fn generate(now: DateTime<Utc>) -> Result<Self, SimError> {
        let store = Self::default();
        let from = now - chrono::Duration::hours(1);
        let to = now + chrono::Duration::days(730);
        store.add_with_key(KeyUsage::KsefTokenEncryption, pooled_key(0)?, from, to)?;
        store.add_with_key(KeyUsage::SymmetricKeyEncryption, pooled_key(1)?, from, to)?;
        Ok(store)
    }

    fn add_with_key(
        &self,
        usage: KeyUsage,
        private: PrivateKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<String, SimError> {
        let serial = u32::try_from(read(&self.entries).len() + 1).unwrap_or(u32::MAX);
        let entry = make_entry(usage, private, from, to, serial)?;
        let id = entry.public_key_id.clone();
        write(&self.entries).push(entry);
        Ok(id)
    }

    /// Adds a fresh key pair for `usage` (rotation). Returns its publicKeyId.
    pub(crate) fn add(
        &self,
        usage: KeyUsage,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<String, SimError> {
        // Pool indexes 0 and 1 are the initial keys; rotation keys come after them.
        let index = read(&self.entries).len().max(2);
        self.add_with_key(usage, pooled_key(index)?, from, to)
    }

    /// Emergency rotation: a fresh key pair for `usage` valid from `from` to `to` replaces
    /// every other key of that usage, which is withdrawn at once. Returns the new publicKeyId.
    pub(crate) fn rotate(
        &self,
        usage: KeyUsage,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<String, SimError> {
        let id = self.add(usage, from, to)?;
        for e in write(&self.entries).iter_mut() {
            if e.usage == usage && e.public_key_id != id {
                e.withdrawn = true;
            }
        }
        Ok(id)
    }

    /// Withdraws a key: it disappears from the list and its publicKeyId answers 21470.
    pub(crate) fn withdraw(&self, public_key_id: &str) -> bool {
        let mut entries = write(&self.entries);
        let mut found = false;
        for e in entries.iter_mut() {
            if e.public_key_id == public_key_id {
                e.withdrawn = true;
                found = true;
            }
        }
        found
    }

    /// The published list.
    pub(crate) fn published(&self) -> Vec<PublicKeyCertificateWire> {
        read(&self.entries)
            .iter()
            .filter(|e| !e.withdrawn)
            .map(|e| PublicKeyCertificateWire {
                certificate: STANDARD.encode(&e.cert_der),
                certificate_id: e.certificate_id.clone(),
                public_key_id: e.public_key_id.clone(),
                valid_from: format_utc_millis(e.valid_from),
                valid_to: format_utc_millis(e.valid_to),
                usage: vec![e.usage.as_str().to_string()],
            })
            .collect()
    }

    /// The private key for `usage`: the one with `public_key_id` when given (21470 when unknown,
    /// withdrawn, of another usage or not valid now), else the valid one with the latest validFrom.
    pub(crate) fn private_key(
        &self,
        usage: KeyUsage,
        public_key_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PrivateKey, ApiError> {
        let entries = read(&self.entries);
        let usable = |e: &&KeyEntry| {
            e.usage == usage && !e.withdrawn && e.valid_from <= now && now <= e.valid_to
        };
        let found = match public_key_id {
            Some(id) => entries
                .iter()
                .filter(usable)
                .find(|e| e.public_key_id == id),
            None => entries.iter().filter(usable).max_by_key(|e| e.valid_from),
        };
        found.map(|e| e.private.clone()).ok_or_else(|| {
            ApiError::bad_request(
                21470,
                "Nieprawidłowy identyfikator klucza publicznego.",
                [format!(
                    "publicKeyId {} is unknown, withdrawn or not valid for {}.",
                    public_key_id.unwrap_or("(none)"),
                    usage.as_str()
                )],
            )
        })
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption with the key for `usage`.
    /// `Ok(None)` when the ciphertext does not decrypt.
    pub(crate) fn oaep_decrypt(
        &self,
        usage: KeyUsage,
        public_key_id: Option<&str>,
        ciphertext: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let key = self.private_key(usage, public_key_id, now)?;
        Ok(key.decrypt(Oaep::<Sha256>::new(), ciphertext).ok())
    }
}
