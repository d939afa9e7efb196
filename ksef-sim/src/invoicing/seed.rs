//! Fast test-data seeding: [`SimControl::seed_invoices`] registers invoices in the repository
//! directly, without sessions, encryption or rate limits, so that tests and benchmarks can hold
//! tens of thousands of invoices (or a package of gigabytes) in seconds.
//!
//! The invoices pass the same rules and duplicate check as in an online session and get KSeF
//! numbers, dates and files exactly as sent ones do; they belong to no session (no UPO).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::form::FormKind;
use super::rules::{SchemaCheck, check_invoice};
use super::store::{NewInvoice, Registered};
use crate::clock::after;

/// One invoice for [`SimControl::seed_invoices`](crate::SimControl::seed_invoices).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SeedInvoice {
    /// The invoice XML (FA (3)), stored byte for byte.
    pub xml: Vec<u8>,
    /// When KSeF received it (`invoicingDate`; the acquisition and permanent-storage dates follow
    /// with the configured delays). `None`: now, on the simulator's clock. Give many invoices the
    /// same instant to get identical timestamps. An instant in the past puts the invoice below
    /// a permanent-storage high-water mark the simulator may already have reported: use past
    /// instants only for data that exists before a synchronisation starts.
    pub received: Option<DateTime<Utc>>,
    /// How long after seeding the invoice becomes visible (queries, exports, downloads) and
    /// holds the high-water mark below its permanent-storage date until then. Default zero.
    pub visible_after: Duration,
    /// `offlineMode` of the invoice.
    pub offline: bool,
}

impl SeedInvoice {
    /// An invoice received now, visible at once.
    pub fn new(xml: impl Into<Vec<u8>>) -> Self {
        Self {
            xml: xml.into(),
            received: None,
            visible_after: Duration::ZERO,
            offline: false,
        }
    }

    /// Sets the instant KSeF received the invoice.
    #[must_use]
    pub fn received_at(mut self, at: DateTime<Utc>) -> Self {
        self.received = Some(at);
        self
    }

    /// Makes the invoice visible only `after` seeding.
    #[must_use]
    pub fn visible_after(mut self, after: Duration) -> Self {
        self.visible_after = after;
        self
    }
}

/// Why an invoice could not be seeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The invoice breaks a rule KSeF checks (status code and description as KSeF reports it).
    #[error("invoice rejected ({code}): {detail}")]
    Rejected {
        /// Invoice status code (450, 415, ...).
        code: i32,
        /// What is wrong.
        detail: String,
    },
    /// Duplicate of an invoice already in the repository.
    #[error("duplicate of {original}")]
    Duplicate {
        /// KSeF number of the original.
        original: String,
    },
    /// The file could not be written.
    #[error("storage: {0}")]
    Storage(String),
}

impl crate::control::SimControl {
    /// Registers FA (3) invoices directly in the repository and returns their KSeF numbers (or
    /// why each was refused), in input order. See [`SeedInvoice`]. Seeded invoices are bulk
    /// fixtures: they pass the structural invoice rules but not the XSD validation that invoices
    /// sent in a session get (a benchmark seeds descriptions far longer than the schema allows).
    pub fn seed_invoices(
        &self,
        invoices: impl IntoIterator<Item = SeedInvoice>,
    ) -> Vec<Result<String, SeedError>> {
        let state = &self.state;
        let dir = state.data_dir.join("invoicing").join("invoices");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return invoices
                .into_iter()
                .map(|_| Err(SeedError::Storage(e.to_string())))
                .collect();
        }
        invoices
            .into_iter()
            .map(|inv| {
                let received = inv.received.unwrap_or_else(|| state.now());
                let today = ksef_time::business_date(received.max(state.now()));
                let facts = check_invoice(&inv.xml, FormKind::Fa3, true, today, SchemaCheck::Skip)
                    .map_err(|e| SeedError::Rejected {
                        code: e.status_code(),
                        detail: e.to_string(),
                    })?;
                let hash = super::crypto::sha256_b64(&inv.xml);
                let ready_at = after(state.now(), inv.visible_after);
                let registered = state.invoicing.with(|s| {
                    s.register(
                        NewInvoice {
                            facts: &facts,
                            form: FormKind::Fa3,
                            hash: &hash,
                            dir: &dir,
                            offline: inv.offline,
                            received_at: received,
                            session_reference: "seeded",
                            hash_of_corrected: None,
                            ready_at,
                        },
                        &state.invoicing.config,
                        |p| std::fs::write(p, &inv.xml),
                    )
                });
                match registered {
                    Ok((Registered::Accepted(k), _)) => Ok(k),
                    Ok((Registered::Duplicate(_, original), _)) => {
                        Err(SeedError::Duplicate { original })
                    }
                    Err(e) => Err(SeedError::Storage(e.to_string())),
                }
            })
            .collect()
    }
}
