//! The Peppol service providers known to the simulator: each registered at its first
//! authentication with a seal whose common name is its Peppol identifier.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::sync::lock;

/// A registered Peppol service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provider {
    /// `P` + country code + six digits.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) registered: DateTime<Utc>,
}

/// The providers, in registration order.
#[derive(Debug, Default)]
pub(crate) struct PeppolProviders {
    inner: Mutex<Vec<Provider>>,
}

impl PeppolProviders {
    /// Registers `id` under `name` at `now`; a provider registered before keeps its entry.
    pub(crate) fn register(&self, id: &str, name: &str, now: DateTime<Utc>) {
        let mut all = lock(&self.inner);
        if all.iter().any(|p| p.id == id) {
            return;
        }
        all.push(Provider {
            id: id.to_string(),
            name: name.to_string(),
            registered: now,
        });
    }

    /// All providers, in registration order.
    pub(crate) fn all(&self) -> Vec<Provider> {
        lock(&self.inner).clone()
    }
}
