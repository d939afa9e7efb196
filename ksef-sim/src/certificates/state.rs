//! The certificate part of the simulator's state: the authority and the store.

use super::config::CertificatesConfig;
use super::{authority, store};

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
