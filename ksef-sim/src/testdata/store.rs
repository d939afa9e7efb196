//! Test data (`/testdata/*`): subjects, persons, granted permissions, attachment consent,
//! blocked contexts.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::sync::lock;

/// A test subject: an enforcement authority, a VAT group or a local government unit (JST).
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// `EnforcementAuthority`, `VatGroup` or `JST`.
    pub subject_type: String,
    /// The members of a VAT group, the subordinate units of a JST.
    pub subunits: Vec<Subunit>,
    /// When it was added.
    pub created: DateTime<Utc>,
}

/// A member of a VAT group or a subordinate unit of a JST.
#[derive(Debug, Clone)]
pub(crate) struct Subunit {
    pub nip: String,
    pub description: String,
}

/// A test person (sole proprietor: NIP + PESEL).
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub pesel: String,
    pub is_bailiff: bool,
    pub is_deceased: bool,
    /// When it was added.
    pub created: DateTime<Utc>,
}

/// A role of an entity (`EntityRoleType`), with its parent for the subordinate roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityRole {
    /// `CourtBailiff`, `EnforcementAuthority`, `LocalGovernmentUnit`, `LocalGovernmentSubUnit`,
    /// `VatGroupUnit` or `VatGroupSubUnit`.
    pub role: &'static str,
    pub description: String,
    /// The VAT group or parent JST of a subordinate role.
    pub parent_nip: Option<String>,
    pub start: DateTime<Utc>,
}

/// A subordinate entity of a VAT group or a JST, with its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubordinateRole {
    pub nip: String,
    /// `VatGroupSubUnit` or `LocalGovernmentSubUnit`.
    pub role: &'static str,
    pub description: String,
    pub start: DateTime<Utc>,
}

/// The role of a subject of `subject_type` itself, its description, and the role of its
/// subunits (none for an enforcement authority).
fn roles_of(subject_type: &str) -> Option<(&'static str, &'static str, Option<&'static str>)> {
    match subject_type {
        "EnforcementAuthority" => Some(("EnforcementAuthority", "Organ egzekucyjny", None)),
        "VatGroup" => Some(("VatGroupUnit", "Grupa VAT", Some("VatGroupSubUnit"))),
        "JST" => Some((
            "LocalGovernmentUnit",
            "Nadrzędna JST",
            Some("LocalGovernmentSubUnit"),
        )),
        _ => None,
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
    /// Whether `nip` is an enforcement authority or a court bailiff (who get
    /// `EnforcementOperations` and may issue invoices as an authorised subject).
    pub(crate) fn is_enforcement_body(&self, nip: &str) -> bool {
        let inner = lock(&self.inner);
        inner
            .subjects
            .get(nip)
            .is_some_and(|s| s.subject_type == "EnforcementAuthority")
            || inner.persons.get(nip).is_some_and(|p| p.is_bailiff)
    }

    /// The roles of the entity `nip`: its own (enforcement authority, court bailiff, VAT group,
    /// JST) and its membership of VAT groups and JSTs, newest first.
    pub(crate) fn entity_roles(&self, nip: &str) -> Vec<EntityRole> {
        let inner = lock(&self.inner);
        let mut out = Vec::new();
        if let Some(s) = inner.subjects.get(nip)
            && let Some((role, description, _)) = roles_of(&s.subject_type)
        {
            out.push(EntityRole {
                role,
                description: description.into(),
                parent_nip: None,
                start: s.created,
            });
        }
        if let Some(p) = inner.persons.get(nip).filter(|p| p.is_bailiff) {
            out.push(EntityRole {
                role: "CourtBailiff",
                description: "Komornik sądowy".into(),
                parent_nip: None,
                start: p.created,
            });
        }
        for (parent, s) in &inner.subjects {
            if let Some((_, _, Some(role))) = roles_of(&s.subject_type)
                && let Some(u) = s.subunits.iter().find(|u| u.nip == nip)
            {
                out.push(EntityRole {
                    role,
                    description: u.description.clone(),
                    parent_nip: Some(parent.clone()),
                    start: s.created,
                });
            }
        }
        out.sort_by(|a, b| {
            b.start
                .cmp(&a.start)
                .then_with(|| a.role.cmp(b.role))
                .then_with(|| a.parent_nip.cmp(&b.parent_nip))
        });
        out
    }

    /// The subordinate entities of the VAT group or JST `nip`, in the order they were given.
    pub(crate) fn subordinate_roles(&self, nip: &str) -> Vec<SubordinateRole> {
        let inner = lock(&self.inner);
        let Some(s) = inner.subjects.get(nip) else {
            return Vec::new();
        };
        let Some((_, _, Some(role))) = roles_of(&s.subject_type) else {
            return Vec::new();
        };
        s.subunits
            .iter()
            .map(|u| SubordinateRole {
                nip: u.nip.clone(),
                role,
                description: u.description.clone(),
                start: s.created,
            })
            .collect()
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
