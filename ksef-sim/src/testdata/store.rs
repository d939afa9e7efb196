//! Test data (`/testdata/*`): subjects, persons, granted permissions, attachment consent,
//! blocked contexts.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

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

#[derive(Debug, Default)]
struct Inner {
    subjects: HashMap<String, Subject>,
    persons: HashMap<String, Person>,
    /// (context NIP, authorized type, authorized value) -> permissions
    permissions: HashMap<(String, String, String), Vec<String>>,
    /// NIP -> revoked date (None = allowed without end)
    attachments: HashMap<String, Option<DateTime<Utc>>>,
    blocked: HashSet<String>,
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
}
