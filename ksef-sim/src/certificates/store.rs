//! Enrollments and the KSeF certificates they issued, by owner (the authenticated subject,
//! `"Nip:..."`, `"Pesel:..."`, `"Fingerprint:..."`): certificates belong to a subject, not to a
//! context.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::authority::CertificateKind;
use crate::sync::lock;

/// How an enrollment ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnrollmentOutcome {
    /// 200: the certificate with this serial number was issued.
    Issued(String),
    /// A failure status (400, 550) with its description and details.
    Failed {
        code: i32,
        description: String,
        details: Vec<String>,
    },
}

/// One enrollment (`POST /certificates/enrollments`).
#[derive(Debug, Clone)]
pub(crate) struct Enrollment {
    pub reference: String,
    pub owner: String,
    pub requested: DateTime<Utc>,
    /// Status 100 until then.
    pub ready_at: DateTime<Utc>,
    pub outcome: EnrollmentOutcome,
}

/// One issued certificate.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCertificate {
    pub serial: String,
    pub name: String,
    pub kind: CertificateKind,
    pub der: Vec<u8>,
    pub spki_der: Vec<u8>,
    pub common_name: String,
    /// `"Nip:..."`: the subject the certificate was issued to.
    pub owner: String,
    pub subject_type: String,
    pub subject_value: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    pub requested: DateTime<Utc>,
    /// Visible (and usable) from then on: when its enrollment leaves status 100.
    pub issued_at: DateTime<Utc>,
    pub revoked: Option<(DateTime<Utc>, String)>,
    pub last_use: Option<DateTime<Utc>>,
}

impl IssuedCertificate {
    /// `Active`, `Revoked` or `Expired` at `now` (`Blocked`, the transitional state of a
    /// revocation in progress, does not occur: revocation is immediate).
    pub(crate) fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked.is_some() {
            "Revoked"
        } else if now > self.valid_to {
            "Expired"
        } else {
            "Active"
        }
    }
}

/// Store of enrollments and certificates.
#[derive(Debug, Default)]
pub(crate) struct CertificateStore {
    enrollments: Mutex<BTreeMap<String, Enrollment>>,
    certificates: Mutex<BTreeMap<String, IssuedCertificate>>,
}

impl CertificateStore {
    /// Records an enrollment and, when it issued one, its certificate.
    pub(crate) fn record(&self, enrollment: Enrollment, certificate: Option<IssuedCertificate>) {
        if let Some(c) = certificate {
            lock(&self.certificates).insert(c.serial.clone(), c);
        }
        lock(&self.enrollments).insert(enrollment.reference.clone(), enrollment);
    }

    pub(crate) fn enrollment(&self, reference: &str) -> Option<Enrollment> {
        lock(&self.enrollments).get(reference).cloned()
    }

    /// Number of enrollments `owner` made.
    pub(crate) fn enrollments_of(&self, owner: &str) -> usize {
        lock(&self.enrollments)
            .values()
            .filter(|e| e.owner == owner)
            .count()
    }

    /// Certificates of `owner` that count against the limit at `now`: active ones, including
    /// those whose enrollment is still in progress.
    pub(crate) fn active_of(&self, owner: &str, now: DateTime<Utc>) -> usize {
        lock(&self.certificates)
            .values()
            .filter(|c| c.owner == owner && c.status(now) == "Active")
            .count()
    }

    /// Whether a certificate of another owner certifies this key.
    pub(crate) fn key_certified_for_other(&self, spki_der: &[u8], owner: &str) -> bool {
        lock(&self.certificates)
            .values()
            .any(|c| c.spki_der == spki_der && c.owner != owner)
    }

    /// A certificate by serial number, issued by now (its enrollment finished).
    pub(crate) fn certificate(
        &self,
        serial: &str,
        now: DateTime<Utc>,
    ) -> Option<IssuedCertificate> {
        lock(&self.certificates)
            .get(serial)
            .filter(|c| c.issued_at <= now)
            .cloned()
    }

    /// The issued certificates of `owner` that `pred` accepts, newest request first.
    pub(crate) fn of_owner(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        pred: impl Fn(&IssuedCertificate) -> bool,
    ) -> Vec<IssuedCertificate> {
        let mut v: Vec<IssuedCertificate> = lock(&self.certificates)
            .values()
            .filter(|c| c.owner == owner && c.issued_at <= now && pred(c))
            .cloned()
            .collect();
        v.sort_by(|a, b| b.requested.cmp(&a.requested).then(a.serial.cmp(&b.serial)));
        v
    }

    /// Applies `f` to the certificate `serial`; `false` when there is none.
    pub(crate) fn update(&self, serial: &str, f: impl FnOnce(&mut IssuedCertificate)) -> bool {
        match lock(&self.certificates).get_mut(serial) {
            Some(c) => {
                f(c);
                true
            }
            None => false,
        }
    }
}
