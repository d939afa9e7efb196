//! The configuration of the simulator's certificate authority.

use std::time::Duration;

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
