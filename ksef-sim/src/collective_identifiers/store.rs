//! The collective identifiers of one simulator.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::sync::lock;

/// How many collective identifiers of one context an invoice may belong to.
pub(crate) const MAX_IDENTIFIERS_PER_INVOICE: usize = 132;

/// The payment of one invoice, as the creator stated it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Payment {
    pub(crate) amount: f64,
    pub(crate) currency: String,
}

/// One invoice of a collective identifier.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) ksef_number: String,
    pub(crate) payment: Option<Payment>,
    pub(crate) description: Option<String>,
}

impl Member {
    /// Whether the creator stated a payment or a description.
    pub(crate) fn has_details(&self) -> bool {
        self.payment.is_some() || self.description.is_some()
    }
}

/// A collective identifier.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CollectiveIdentifier {
    /// `NIP-IZYYYYMM-HEX(12)-CC`.
    pub(crate) number: String,
    /// The context that created it (`Nip:…`).
    pub(crate) context_key: String,
    /// The seller (Podmiot1) of all its invoices.
    pub(crate) seller_nip: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) members: Vec<Member>,
}

impl CollectiveIdentifier {
    /// Whether `ksef_number` is one of its invoices.
    pub(crate) fn contains(&self, ksef_number: &str) -> bool {
        self.members.iter().any(|m| m.ksef_number == ksef_number)
    }
}

/// All collective identifiers, in creation order.
#[derive(Debug, Default)]
pub(crate) struct CollectiveIdentifiers {
    inner: Mutex<Vec<CollectiveIdentifier>>,
}

impl CollectiveIdentifiers {
    /// Stores `id` after `check` accepted it against the identifiers stored so far (the check
    /// and the insertion happen under one lock).
    pub(crate) fn insert_checked<E>(
        &self,
        id: CollectiveIdentifier,
        check: impl FnOnce(&[CollectiveIdentifier], &CollectiveIdentifier) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut all = lock(&self.inner);
        check(&all, &id)?;
        all.push(id);
        Ok(())
    }

    /// The identifiers `keep` selects, newest first (creation date, then number, descending).
    pub(crate) fn newest_first(
        &self,
        keep: impl Fn(&CollectiveIdentifier) -> bool,
    ) -> Vec<CollectiveIdentifier> {
        let mut found: Vec<CollectiveIdentifier> = lock(&self.inner)
            .iter()
            .filter(|c| keep(c))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.created.cmp(&a.created).then(b.number.cmp(&a.number)));
        found
    }

    /// The identifiers with these numbers (unknown numbers are left out).
    pub(crate) fn with_numbers(&self, numbers: &[String]) -> Vec<CollectiveIdentifier> {
        lock(&self.inner)
            .iter()
            .filter(|c| numbers.contains(&c.number))
            .cloned()
            .collect()
    }
}
