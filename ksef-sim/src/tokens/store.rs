//! The KSeF tokens issued by `POST /tokens` (and `SimControl::create_ksef_token`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::identifiers::{self, RefKind};
use crate::sync::lock;

/// One KSeF token (the token string redacted in `Debug`).
#[derive(Clone)]
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

impl std::fmt::Debug for KsefToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KsefToken")
            .field("reference", &self.reference)
            .field("token", &"<redacted>")
            .field("context_type", &self.context_type)
            .field("context_value", &self.context_value)
            .field("created", &self.created)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
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

/// What a new token is made of.
#[derive(Debug)]
pub(crate) struct NewToken {
    pub context_type: String,
    pub context_value: String,
    pub author_type: String,
    pub author_value: String,
    pub permissions: Vec<String>,
    pub description: String,
    pub created: DateTime<Utc>,
    pub active_from: DateTime<Utc>,
}

/// Store of KSeF tokens, ordered by reference number.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: Mutex<BTreeMap<String, KsefToken>>,
}

impl TokenStore {
    /// Issues a token (a fresh `EC` reference number and secret); returns its reference number
    /// and the token string, `reference|context-type-value|secret`.
    pub(crate) fn issue(&self, new: NewToken) -> (String, String) {
        let reference = identifiers::reference_number(RefKind::KsefToken, new.created);
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let token = format!(
            "{reference}|{}-{}|{}",
            new.context_type.to_lowercase(),
            new.context_value,
            hex::encode(secret)
        );
        let t = KsefToken {
            reference: reference.clone(),
            token: token.clone(),
            permissions: new.permissions,
            description: new.description,
            context_type: new.context_type,
            context_value: new.context_value,
            author_type: new.author_type,
            author_value: new.author_value,
            created: new.created,
            active_from: new.active_from,
            revoked: false,
            last_use: None,
        };
        lock(&self.tokens).insert(reference.clone(), t);
        (reference, token)
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
