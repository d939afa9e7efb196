#![warn(missing_docs)]
//! KSeF 2.0 cryptography and identifier rules, without HTTP.
//!
//! * [`symmetric`]: the session key and its wrap, AES-256-CBC/PKCS#7 streams with one-pass SHA-256
//!   of plaintext and ciphertext.
//! * [`rsa_oaep`]: the RSA-OAEP-SHA256 primitive.
//! * [`certs`]: the public-key certificates of `/security/public-key-certificates`, KSeF-token
//!   encryption.
//! * [`identity`]: signing identities (certificate + key), self-signed TEST certificates.
//! * [`xades`]: the `AuthTokenRequest` document and its enveloped XAdES-BES signature.
//! * [`csr`]: PKCS#10 requests for KSeF certificate enrollment.
//! * [`pkcs12`]: identities from `.p12`/`.pfx` files ([`SigningIdentity::from_pkcs12`]).
//! * [`pem`]: PEM (RFC 7468) encoding and decoding.
//! * [`qr`]: KOD I / KOD II verification links, their signatures, PNG and SVG rendering.
//! * [`ids`]: KSeF numbers, reference numbers, NIP, PESEL, InternalId, NipVatUe, ...
//! * [`invoice`]: pre-flight checks of raw invoice bytes.
//! * [`secret`]: redacting, zeroizing wrappers for secrets.
//!
//! # Example
//!
//! ```
//! use ksef_crypto::{SymmetricKey, PublicKeyCertificate, CertificateUsage, TestIdentity, Nip};
//! use ksef_crypto::identity::KeyAlgorithm;
//! use ksef_crypto::xades::{AuthTokenRequest, ContextIdentifier};
//!
//! fn demo(certs: &[PublicKeyCertificate], challenge: &str, invoice: &[u8]) -> ksef_crypto::Result<()> {
//! let facts = ksef_crypto::preflight(invoice)?;                      // before sending
//! let cert = PublicKeyCertificate::select(certs, &CertificateUsage::SymmetricKeyEncryption, chrono::Utc::now())?;
//! let key = SymmetricKey::generate()?;
//! let encrypted_symmetric_key = key.wrap_for(cert)?;                  // session open
//! let enc = key.encrypt(invoice);                                      // invoice send
//! let (hash, size) = (enc.digests.plain.sha256_b64(), enc.digests.plain.size);
//!
//! let nip = Nip::random();
//! let id = TestIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256)?;
//! let signed_xml = AuthTokenRequest::new(challenge, ContextIdentifier::Nip(nip))?.sign_xades(&id)?;
//! Ok(()) }
//! ```

pub mod b64;
pub mod certs;
pub mod csr;
pub mod error;
pub mod identity;
pub mod ids;
pub mod invoice;
pub mod pem;
pub mod pkcs12;
pub mod qr;
pub mod rsa_oaep;
pub mod secret;
pub mod symmetric;
pub mod xades;

pub use certs::{CertificateUsage, PublicKeyCertificate, encrypt_ksef_token};
pub use error::{CryptoError, PreflightRule, Result};
pub use identity::{KeyAlgorithm, SigningIdentity, TestIdentity};
pub use ids::{InternalId, KsefNumber, Nip, NipVatUe, PeppolId, Pesel, ReferenceNumber};
pub use invoice::{InvoiceFacts, preflight};
pub use secret::{SecretBytes, SecretString};
pub use symmetric::{EncryptedData, FileDigest, StreamDigests, SymmetricKey, wrap_key};
pub use xades::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
