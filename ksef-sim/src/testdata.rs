//! Test data (`/testdata/*`): subjects, persons, permissions, attachments, blocked contexts,
//! session and subject limits.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sync::lock;

/// A test subject.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub subject_type: String,
    /// NIPs of subunits (kept for listing; not used by the rules yet).
    #[allow(dead_code)]
    pub subunits: Vec<String>,
}

/// A test person (sole proprietor: NIP + PESEL).
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub pesel: String,
    pub is_bailiff: bool,
    pub is_deceased: bool,
}

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

#[derive(Debug, Default)]
struct Inner {
    subjects: HashMap<String, Subject>,
    persons: HashMap<String, Person>,
    /// (context NIP, authorized type, authorized value) -> permissions
    permissions: HashMap<(String, String, String), Vec<String>>,
    /// NIP -> revoked date (None = allowed without end)
    attachments: HashMap<String, Option<DateTime<Utc>>>,
    blocked: HashSet<String>,
    context_limits: HashMap<String, ContextLimits>,
    subject_limits: HashMap<String, (Option<u32>, Option<u32>)>,
}

/// Test data of one simulator.
#[derive(Debug, Default)]
pub(crate) struct TestData {
    inner: Mutex<Inner>,
}

impl TestData {
    pub(crate) fn add_subject(&self, nip: &str, s: Subject) {
        lock(&self.inner).subjects.insert(nip.to_string(), s);
    }
    pub(crate) fn remove_subject(&self, nip: &str) -> bool {
        lock(&self.inner).subjects.remove(nip).is_some()
    }
    pub(crate) fn subject(&self, nip: &str) -> Option<Subject> {
        lock(&self.inner).subjects.get(nip).cloned()
    }
    pub(crate) fn add_person(&self, nip: &str, p: Person) {
        lock(&self.inner).persons.insert(nip.to_string(), p);
    }
    pub(crate) fn remove_person(&self, nip: &str) -> bool {
        lock(&self.inner).persons.remove(nip).is_some()
    }
    pub(crate) fn person(&self, nip: &str) -> Option<Person> {
        lock(&self.inner).persons.get(nip).cloned()
    }
    /// Person records with this PESEL: (nip, person).
    pub(crate) fn persons_with_pesel(&self, pesel: &str) -> Vec<(String, Person)> {
        lock(&self.inner)
            .persons
            .iter()
            .filter(|(_, p)| p.pesel == pesel)
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect()
    }
    pub(crate) fn grant(
        &self,
        ctx_nip: &str,
        auth_type: &str,
        auth_value: &str,
        perms: Vec<String>,
    ) {
        let mut inner = lock(&self.inner);
        let e = inner
            .permissions
            .entry((ctx_nip.into(), auth_type.into(), auth_value.into()))
            .or_default();
        for p in perms {
            if !e.contains(&p) {
                e.push(p);
            }
        }
    }
    pub(crate) fn revoke(&self, ctx_nip: &str, auth_type: &str, auth_value: &str) {
        lock(&self.inner).permissions.remove(&(
            ctx_nip.into(),
            auth_type.into(),
            auth_value.into(),
        ));
    }
    pub(crate) fn granted(&self, ctx_nip: &str, auth_type: &str, auth_value: &str) -> Vec<String> {
        lock(&self.inner)
            .permissions
            .get(&(ctx_nip.into(), auth_type.into(), auth_value.into()))
            .cloned()
            .unwrap_or_default()
    }
    pub(crate) fn allow_attachments(&self, nip: &str) {
        lock(&self.inner).attachments.insert(nip.to_string(), None);
    }
    pub(crate) fn revoke_attachments(&self, nip: &str, at: DateTime<Utc>) {
        lock(&self.inner)
            .attachments
            .insert(nip.to_string(), Some(at));
    }
    /// Attachment status: (allowed now, revoked date).
    pub(crate) fn attachment_status(
        &self,
        nip: &str,
        now: DateTime<Utc>,
    ) -> (bool, Option<DateTime<Utc>>) {
        match lock(&self.inner).attachments.get(nip) {
            None => (false, None),
            Some(None) => (true, None),
            Some(Some(at)) => (now < *at, Some(*at)),
        }
    }
    /// Whether invoices with attachments are allowed for this NIP now (for the invoicing part).
    pub fn attachments_allowed(&self, nip: &str, now: DateTime<Utc>) -> bool {
        self.attachment_status(nip, now).0
    }
    pub(crate) fn block(&self, ctx_key: &str) {
        lock(&self.inner).blocked.insert(ctx_key.to_string());
    }
    pub(crate) fn unblock(&self, ctx_key: &str) {
        lock(&self.inner).blocked.remove(ctx_key);
    }
    pub(crate) fn is_blocked(&self, ctx_key: &str) -> bool {
        lock(&self.inner).blocked.contains(ctx_key)
    }
    /// Effective session limits of a context key (`"Nip:..."`), for the invoicing part.
    pub fn context_limits(&self, ctx_key: &str) -> ContextLimits {
        lock(&self.inner)
            .context_limits
            .get(ctx_key)
            .copied()
            .unwrap_or_default()
    }
    pub(crate) fn set_context_limits(&self, ctx_key: &str, l: Option<ContextLimits>) {
        let mut inner = lock(&self.inner);
        match l {
            Some(l) => inner.context_limits.insert(ctx_key.to_string(), l),
            None => inner.context_limits.remove(ctx_key),
        };
    }
    /// (maxEnrollments, maxCertificates) of a subject key.
    pub(crate) fn subject_limits(&self, key: &str) -> (u32, u32) {
        let (e, c) = lock(&self.inner)
            .subject_limits
            .get(key)
            .copied()
            .unwrap_or((None, None));
        (e.unwrap_or(12), c.unwrap_or(6))
    }
    pub(crate) fn set_subject_limits(&self, key: &str, l: Option<(Option<u32>, Option<u32>)>) {
        let mut inner = lock(&self.inner);
        match l {
            Some(l) => inner.subject_limits.insert(key.to_string(), l),
            None => inner.subject_limits.remove(key),
        };
    }
}
