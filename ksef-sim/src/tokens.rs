//! KSeF tokens (`POST/GET/DELETE /tokens`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::sync::lock;

/// One KSeF token.
#[derive(Debug, Clone)]
pub(crate) struct KsefToken {
    pub reference: String,
    /// The full token string handed to the client (shown once).
    pub token: String,
    pub permissions: Vec<String>,
    pub description: String,
    pub context_type: String,
    pub context_value: String,
    pub author_type: String,
    pub author_value: String,
    pub created: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
    pub revoked: bool,
    pub last_use: Option<DateTime<Utc>>,
}

impl KsefToken {
    /// `Pending`, `Active` or `Revoked` at `now`.
    pub(crate) fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked {
            "Revoked"
        } else if now < self.active_from {
            "Pending"
        } else {
            "Active"
        }
    }
}

/// Store of KSeF tokens, ordered by reference number.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: Mutex<BTreeMap<String, KsefToken>>,
}

impl TokenStore {
    pub(crate) fn insert(&self, t: KsefToken) {
        lock(&self.tokens).insert(t.reference.clone(), t);
    }
    pub(crate) fn get(&self, reference: &str) -> Option<KsefToken> {
        lock(&self.tokens).get(reference).cloned()
    }
    /// Finds a token by its full secret string.
    pub(crate) fn find_by_token(&self, token: &str) -> Option<KsefToken> {
        lock(&self.tokens)
            .values()
            .find(|t| t.token == token)
            .cloned()
    }
    pub(crate) fn touch(&self, reference: &str, now: DateTime<Utc>) {
        if let Some(t) = lock(&self.tokens).get_mut(reference) {
            t.last_use = Some(now);
        }
    }
    pub(crate) fn revoke(&self, reference: &str) -> bool {
        match lock(&self.tokens).get_mut(reference) {
            Some(t) => {
                t.revoked = true;
                true
            }
            None => false,
        }
    }
    pub(crate) fn list(&self, pred: impl Fn(&KsefToken) -> bool) -> Vec<KsefToken> {
        lock(&self.tokens)
            .values()
            .filter(|t| pred(t))
            .cloned()
            .collect()
    }
}
