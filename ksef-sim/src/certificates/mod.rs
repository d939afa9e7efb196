//! KSeF certificates: `GET /certificates/limits`, `GET /certificates/enrollments/data`,
//! `POST /certificates/enrollments`, `GET /certificates/enrollments/{ref}`,
//! `POST /certificates/retrieve`, `POST /certificates/query`,
//! `POST /certificates/{serial}/revoke` and `PUT /testdata/certificates/{serial}`.
//!
//! [`authority`] is the simulator's certificate authority (it signs every KSeF certificate and is
//! served at `GET /__sim/certificates/ca`), [`subject`] reads DN attributes, [`csr`] checks a
//! PKCS#10 request, [`store`] keeps enrollments and issued certificates, [`handlers`] answers the
//! endpoints and [`authentication`] judges the certificate of a XAdES authentication (KSeF
//! certificates: revoked, expired or `Offline` → 460; `verifyCertificateChain=true`: chain to the
//! simulator's authority or a configured root).

pub(crate) mod authentication;
pub(crate) mod authority;
pub(crate) mod csr;
pub(crate) mod handlers;
pub(crate) mod store;
pub(crate) mod subject;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::AppState;

/// Configuration of KSeF certificates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificatesConfig {
    /// Seed of the certificate authority's key: the same seed gives the same CA certificate in
    /// every run. Default `None`: a fresh key per simulator.
    pub authority_seed: Option<[u8; 32]>,
    /// Time an enrollment stays at status 100 before its certificate is issued. Default 200 ms.
    pub enrollment_delay: Duration,
    /// Validity of an issued certificate. Default 2 years (730 days).
    pub validity: Duration,
    /// Further trusted roots (DER): with `verifyCertificateChain=true` a certificate they issued
    /// directly is trusted, like one of the simulator's authority. Default none.
    pub trusted_roots: Vec<Vec<u8>>,
}

impl std::fmt::Debug for CertificatesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificatesConfig")
            .field("authority_seed", &self.authority_seed.map(|_| "<redacted>"))
            .field("enrollment_delay", &self.enrollment_delay)
            .field("validity", &self.validity)
            .field("trusted_roots", &self.trusted_roots.len())
            .finish()
    }
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        Self {
            authority_seed: None,
            enrollment_delay: Duration::from_millis(200),
            validity: Duration::from_secs(730 * 86_400),
            trusted_roots: Vec::new(),
        }
    }
}

impl CertificatesConfig {
    /// Derive the authority's key from `seed` (the same CA certificate in every run).
    #[must_use]
    pub fn with_authority_seed(mut self, seed: [u8; 32]) -> Self {
        self.authority_seed = Some(seed);
        self
    }
    /// Set how long an enrollment stays at status 100.
    #[must_use]
    pub fn with_enrollment_delay(mut self, d: Duration) -> Self {
        self.enrollment_delay = d;
        self
    }
    /// Set the validity of issued certificates.
    #[must_use]
    pub fn with_validity(mut self, d: Duration) -> Self {
        self.validity = d;
        self
    }
    /// Trust certificates issued directly by this root (DER) when chains are verified.
    #[must_use]
    pub fn with_trusted_root(mut self, der: Vec<u8>) -> Self {
        self.trusted_roots.push(der);
        self
    }
}

/// Routes of this endpoint group (relative to `/v2`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/certificates/limits", get(handlers::limits))
        .route(
            "/certificates/enrollments/data",
            get(handlers::enrollment_data),
        )
        .route("/certificates/enrollments", post(handlers::enroll))
        .route(
            "/certificates/enrollments/{referenceNumber}",
            get(handlers::enrollment_status),
        )
        .route("/certificates/retrieve", post(handlers::retrieve))
        .route("/certificates/query", post(handlers::query))
        .route(
            "/certificates/{certificateSerialNumber}/revoke",
            post(handlers::revoke),
        )
        .route(
            "/testdata/certificates/{serialNumber}",
            put(handlers::testdata_update),
        )
}

/// The certificate part of the simulator's state.
#[derive(Debug)]
pub(crate) struct CertificatesState {
    /// The certificate authority.
    pub authority: authority::Authority,
    /// Enrollments and issued certificates.
    pub store: store::CertificateStore,
}

impl CertificatesState {
    pub(crate) fn new(config: &CertificatesConfig) -> Result<Self, crate::error::SimError> {
        Ok(Self {
            authority: authority::Authority::new(config.authority_seed, &config.trusted_roots)?,
            store: store::CertificateStore::default(),
        })
    }
}
