//! Session and certificate limits: the defaults and the per-context / per-subject values set
//! through `/testdata/limits/...`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::sync::lock;

/// Per-session-type limits of a context (`/limits/context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionTypeLimits {
    /// Max invoice size without attachments, MB.
    #[serde(rename = "maxInvoiceSizeInMB")]
    pub max_invoice_size_mb: u32,
    /// Max invoice size with attachments, MB.
    #[serde(rename = "maxInvoiceWithAttachmentSizeInMB")]
    pub max_invoice_with_attachment_size_mb: u32,
    /// Max invoices in one session.
    pub max_invoices: u32,
}

/// Limits of collective identifiers in a context (`/limits/context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectiveIdentifierLimits {
    /// Max invoices in one collective identifier (default 500).
    pub max_invoices: u32,
}

/// Effective session limits of a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextLimits {
    /// Online sessions.
    pub online_session: SessionTypeLimits,
    /// Batch sessions.
    pub batch_session: SessionTypeLimits,
    /// Collective identifiers.
    pub collective_identifier: CollectiveIdentifierLimits,
}

impl Default for ContextLimits {
    fn default() -> Self {
        let l = SessionTypeLimits {
            max_invoice_size_mb: 1,
            max_invoice_with_attachment_size_mb: 3,
            max_invoices: 10_000,
        };
        Self {
            online_session: l,
            batch_session: l,
            collective_identifier: CollectiveIdentifierLimits { max_invoices: 500 },
        }
    }
}

/// Certificate limits of a subject set through test data (`None` keeps the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SubjectLimits {
    pub(crate) max_enrollments: Option<u32>,
    pub(crate) max_certificates: Option<u32>,
}

/// The limits set through test data, by context key (`Nip:...`) and subject key (`Nip:...`).
#[derive(Debug, Default)]
pub(crate) struct LimitStore {
    context: Mutex<HashMap<String, ContextLimits>>,
    subject: Mutex<HashMap<String, SubjectLimits>>,
}

impl LimitStore {
    /// Effective session limits of a context key (`"Nip:..."`).
    pub(crate) fn context(&self, ctx_key: &str) -> ContextLimits {
        lock(&self.context)
            .get(ctx_key)
            .copied()
            .unwrap_or_default()
    }

    /// Sets (or, with `None`, resets) the session limits of a context key.
    pub(crate) fn set_context(&self, ctx_key: &str, l: Option<ContextLimits>) {
        let mut map = lock(&self.context);
        match l {
            Some(l) => map.insert(ctx_key.to_string(), l),
            None => map.remove(ctx_key),
        };
    }

    /// (maxEnrollments, maxCertificates) of a subject key.
    pub(crate) fn subject(&self, key: &str) -> (u32, u32) {
        let l = lock(&self.subject).get(key).copied().unwrap_or_default();
        (
            l.max_enrollments.unwrap_or(12),
            l.max_certificates.unwrap_or(6),
        )
    }

    /// Sets (or, with `None`, resets) the certificate limits of a subject key.
    pub(crate) fn set_subject(&self, key: &str, l: Option<SubjectLimits>) {
        let mut map = lock(&self.subject);
        match l {
            Some(l) => map.insert(key.to_string(), l),
            None => map.remove(key),
        };
    }
}
