//! State of the invoicing part: sessions with their invoices, the invoice
//! repository (accepted invoices, their bytes on disk), duplicate index and
//! exports.
//!
//! Asynchronous processing is modelled with deadlines: an accepted invoice is
//! decided when it is received but shows status 150 (no KSeF number, not
//! downloadable) until its `ready_at`; a closed session shows 170/150 until its
//! final status' `ready_at`. Batch processing and export building run in
//! background blocking tasks and publish their results the same way.

use ksef_time::format_utc_millis;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::crypto::SessionKey;
use super::form::FormKind;
use super::rules::{BuyerId, InvoiceFacts};
use super::upo::{UpoDocument, UpoHeader};
use crate::clock::after;
use crate::config::{InvoicingConfig, SimConfig};
use crate::error::ApiError;
use crate::identifiers::{RefKind, reference_number};
use crate::presign::signer::PresignedUrl;
use crate::sync::lock;

/// A status triple (`StatusInfo` / `InvoiceStatusInfo`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub(crate) code: i32,
    pub(crate) description: String,
    pub(crate) details: Vec<String>,
    pub(crate) extensions: Option<Value>,
}

impl Status {
    pub(crate) fn new(code: i32, description: &str) -> Self {
        Self {
            code,
            description: description.to_string(),
            details: Vec::new(),
            extensions: None,
        }
    }

    /// 550: the system cancelled the operation.
    pub(crate) fn cancelled_by_system() -> Self {
        Self::new(550, "Operacja została anulowana przez system")
    }

    pub(crate) fn with_detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({ "code": self.code, "description": self.description });
        if !self.details.is_empty() {
            v["details"] = json!(self.details);
        }
        if let Some(e) = &self.extensions {
            v["extensions"] = e.clone();
        }
        v
    }
}

/// Online or batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    Online,
    Batch,
}

/// Lifecycle of a session.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Open for invoices / uploads (status 100).
    Open,
    /// Closed; final status (and UPO) from `ready_at` on; before that
    /// `interim` (170 online, 150 batch).
    Closed {
        interim: Status,
        final_status: Status,
        ready_at: DateTime<Utc>,
    },
    /// Batch processing running in the background (status 150).
    Processing,
    /// Final status reached at once (e.g. 415 on a bad key for online sessions).
    Failed(Status),
}

/// An uploaded batch part.
#[derive(Debug, Clone)]
pub(crate) struct PartInfo {
    pub(crate) ordinal: u32,
    pub(crate) size: u64,
    pub(crate) hash: String,
    pub(crate) uploaded: bool,
}

/// Batch-specific data.
#[derive(Debug, Clone)]
pub(crate) struct BatchInfo {
    pub(crate) file_size: u64,
    pub(crate) file_hash: String,
    pub(crate) compression: super::archive::Compression,
    pub(crate) parts: Vec<PartInfo>,
    pub(crate) dir: PathBuf,
}

/// One invoice within a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionInvoice {
    pub(crate) ordinal: usize,
    pub(crate) reference: String,
    pub(crate) invoice_hash: String,
    pub(crate) file_name: Option<String>,
    pub(crate) invoice_number: Option<String>,
    pub(crate) ksef_number: Option<String>,
    pub(crate) invoicing_date: DateTime<Utc>,
    pub(crate) acquisition_date: Option<DateTime<Utc>>,
    pub(crate) permanent_storage_date: Option<DateTime<Utc>>,
    pub(crate) offline: bool,
    pub(crate) final_status: Status,
    pub(crate) ready_at: DateTime<Utc>,
}

impl SessionInvoice {
    pub(crate) fn is_ready(&self, now: DateTime<Utc>) -> bool {
        now >= self.ready_at
    }

    /// Accepted (status 200) once ready.
    pub(crate) fn accepted(&self) -> bool {
        self.final_status.code == 200
    }

    /// Failed (final status other than 200), once ready.
    pub(crate) fn failed(&self, now: DateTime<Utc>) -> bool {
        self.is_ready(now) && !self.accepted()
    }

    /// `SessionInvoiceStatusResponse` as seen at `now`.
    pub(crate) fn to_json(&self, now: DateTime<Utc>, upo_url: Option<PresignedUrl>) -> Value {
        let ready = self.is_ready(now);
        let mut v = json!({
            "ordinalNumber": self.ordinal,
            "referenceNumber": self.reference,
            "invoiceHash": self.invoice_hash,
            "invoicingDate": format_utc_millis(self.invoicing_date),
            "invoicingMode": if self.offline { "Offline" } else { "Online" },
        });
        if let Some(n) = &self.invoice_number {
            v["invoiceNumber"] = json!(n);
        }
        if let Some(f) = &self.file_name {
            v["invoiceFileName"] = json!(f);
        }
        if ready {
            v["status"] = self.final_status.to_json();
            if let Some(k) = &self.ksef_number {
                v["ksefNumber"] = json!(k);
            }
            if let Some(d) = &self.acquisition_date {
                v["acquisitionDate"] = json!(format_utc_millis(*d));
            }
            if let Some(d) = &self.permanent_storage_date {
                v["permanentStorageDate"] = json!(format_utc_millis(*d));
            }
            if let Some(u) = upo_url.filter(|_| self.accepted()) {
                v["upoDownloadUrl"] = json!(u.url);
                v["upoDownloadUrlExpirationDate"] = json!(format_utc_millis(u.expires_at));
            }
        } else {
            v["status"] = Status::new(150, "Trwa przetwarzanie").to_json();
        }
        v
    }
}

/// A session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) reference: String,
    pub(crate) kind: SessionKind,
    pub(crate) context_key: String,
    pub(crate) upo_header: UpoHeader,
    pub(crate) form: FormKind,
    pub(crate) key: Option<SessionKey>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) closed_at: Option<DateTime<Utc>>,
    pub(crate) valid_until: DateTime<Utc>,
    pub(crate) phase: Phase,
    pub(crate) invoices: Vec<SessionInvoice>,
    pub(crate) offline_mode: bool,
    /// UPO page reference numbers, assigned when the session is closed.
    pub(crate) upo_pages: Vec<String>,
    /// Documents per session UPO page.
    pub(crate) upo_page_size: usize,
    pub(crate) batch: Option<BatchInfo>,
}

impl Session {
    /// The status as seen at `now`.
    pub(crate) fn status(&self, now: DateTime<Utc>) -> Status {
        match &self.phase {
            Phase::Open if now > self.valid_until => {
                Status::new(440, "Sesja anulowana").with_detail("Przekroczono czas wysyłki")
            }
            Phase::Open if self.kind == SessionKind::Batch => {
                Status::new(100, "Sesja wsadowa rozpoczęta")
            }
            Phase::Open => Status::new(100, "Sesja interaktywna otwarta"),
            Phase::Processing => Status::new(150, "Trwa przetwarzanie"),
            Phase::Failed(s) => s.clone(),
            Phase::Closed {
                interim,
                final_status,
                ready_at,
            } => {
                if now >= *ready_at {
                    final_status.clone()
                } else {
                    interim.clone()
                }
            }
        }
    }

    /// Whether the session reached its final status.
    pub(crate) fn is_final(&self, now: DateTime<Utc>) -> bool {
        match &self.phase {
            Phase::Failed(_) => true,
            Phase::Closed { ready_at, .. } => now >= *ready_at,
            _ => false,
        }
    }

    /// `CommonSessionStatus` of the list filter.
    pub(crate) fn common_status(&self, now: DateTime<Utc>) -> &'static str {
        let code = self.status(now).code;
        match code {
            100 | 150 | 170 => "InProgress",
            200 => "Succeeded",
            440 if self.invoices.is_empty() => "Cancelled",
            _ => "Failed",
        }
    }

    /// (total, successful, failed) counts visible at `now`.
    pub(crate) fn counts(&self, now: DateTime<Utc>) -> (usize, usize, usize) {
        let ok = self
            .invoices
            .iter()
            .filter(|i| i.is_ready(now) && i.accepted())
            .count();
        let failed = self.invoices.iter().filter(|i| i.failed(now)).count();
        (self.invoices.len(), ok, failed)
    }

    /// Assigns the UPO page reference numbers (`upo_page_size` documents a page), dated with the business date of `now`.
    pub(crate) fn assign_upo_pages(&mut self, now: DateTime<Utc>) {
        let accepted = self.invoices.iter().filter(|i| i.accepted()).count();
        let pages = accepted.div_ceil(self.upo_page_size.max(1));
        self.upo_pages = (0..pages)
            .map(|_| reference_number(RefKind::Upo, now))
            .collect();
    }

    /// Accepted invoices as UPO documents.
    pub(crate) fn upo_documents(&self, repo: &HashMap<String, StoredInvoice>) -> Vec<UpoDocument> {
        self.invoices
            .iter()
            .filter(|i| i.accepted())
            .filter_map(|i| i.ksef_number.as_ref().and_then(|k| repo.get(k)))
            .map(StoredInvoice::upo_document)
            .collect()
    }
}

/// An accepted invoice in the repository.
#[derive(Debug, Clone)]
pub(crate) struct StoredInvoice {
    pub(crate) ksef_number: String,
    pub(crate) path: PathBuf,
    pub(crate) hash: String,
    pub(crate) facts: InvoiceFacts,
    pub(crate) form: FormKind,
    pub(crate) offline: bool,
    pub(crate) invoicing_date: DateTime<Utc>,
    pub(crate) acquisition_date: DateTime<Utc>,
    pub(crate) permanent_storage_date: DateTime<Utc>,
    pub(crate) ready_at: DateTime<Utc>,
    pub(crate) hash_of_corrected: Option<String>,
}

impl StoredInvoice {
    /// Whether the taxpayer `nip` has a role on this invoice: seller (Podmiot1), buyer
    /// (Podmiot2), a third subject (Podmiot3) or the authorised subject.
    pub(crate) fn has_role(&self, nip: &str) -> bool {
        self.facts.seller_nip == nip
            || matches!(&self.facts.buyer_id, BuyerId::Nip(b) if b == nip)
            || self.is_third_subject(nip)
            || self.facts.authorized.as_ref().is_some_and(|a| a.0 == nip)
    }

    /// Whether `nip` is one of the invoice's third subjects (Podmiot3).
    pub(crate) fn is_third_subject(&self, nip: &str) -> bool {
        self.facts
            .third_subjects
            .iter()
            .any(|t| match (t.id_type, &t.id_value) {
                ("Nip", Some(v)) => v == nip,
                ("InternalId", Some(v)) => v.split('-').next() == Some(nip),
                _ => false,
            })
    }

    pub(crate) fn upo_document(&self) -> UpoDocument {
        UpoDocument {
            seller_nip: self.facts.seller_nip.clone(),
            ksef_number: self.ksef_number.clone(),
            invoice_number: self.facts.invoice_number.clone(),
            issue_date: self.facts.issue_date,
            received_at: self.invoicing_date,
            numbered_at: self.acquisition_date,
            invoice_hash: self.hash.clone(),
            offline: self.offline,
        }
    }

    /// `InvoiceMetadata`.
    pub(crate) fn metadata_json(&self) -> Value {
        let f = &self.facts;
        let (id_type, id_value) = match &f.buyer_id {
            BuyerId::Nip(v) => ("Nip", Some(v.clone())),
            BuyerId::VatUe(v) => ("VatUe", Some(v.clone())),
            BuyerId::Other(v) => ("Other", Some(v.clone())),
            BuyerId::None => ("None", None),
        };
        let mut buyer = json!({ "identifier": { "type": id_type } });
        if let Some(v) = id_value {
            buyer["identifier"]["value"] = json!(v);
        }
        if let Some(n) = &f.buyer_name {
            buyer["name"] = json!(n);
        }
        let mut seller = json!({ "nip": f.seller_nip });
        if let Some(n) = &f.seller_name {
            seller["name"] = json!(n);
        }
        let mut v = json!({
            "ksefNumber": self.ksef_number,
            "invoiceNumber": f.invoice_number,
            "issueDate": f.issue_date.format("%Y-%m-%d").to_string(),
            "invoicingDate": format_utc_millis(self.invoicing_date),
            "acquisitionDate": format_utc_millis(self.acquisition_date),
            "permanentStorageDate": format_utc_millis(self.permanent_storage_date),
            "seller": seller,
            "buyer": buyer,
            "netAmount": f.net,
            "grossAmount": f.gross,
            "vatAmount": f.vat,
            "currency": f.currency,
            "invoicingMode": if self.offline { "Offline" } else { "Online" },
            "invoiceType": f.invoice_type,
            "formCode": {
                "systemCode": self.form.system_code(),
                "schemaVersion": self.form.schema_version(),
                "value": self.form.value(),
            },
            "isSelfInvoicing": false,
            "hasAttachment": f.has_attachment,
            "invoiceHash": self.hash,
        });
        if let Some(h) = &self.hash_of_corrected {
            v["hashOfCorrectedInvoice"] = json!(h);
        }
        if !f.third_subjects.is_empty() {
            let subjects: Vec<Value> = f
                .third_subjects
                .iter()
                .map(|t| {
                    let mut id = json!({ "type": t.id_type });
                    if let Some(v) = &t.id_value {
                        id["value"] = json!(v);
                    }
                    let mut s = json!({ "identifier": id, "role": t.role });
                    if let Some(n) = &t.name {
                        s["name"] = json!(n);
                    }
                    s
                })
                .collect();
            v["thirdSubjects"] = json!(subjects);
        }
        if let Some((nip, name, role)) = &f.authorized {
            let mut a = json!({ "nip": nip, "role": role });
            if let Some(n) = name {
                a["name"] = json!(n);
            }
            v["authorizedSubject"] = a;
        }
        v
    }
}

/// An export part ready for download.
#[derive(Debug, Clone)]
pub(crate) struct ExportPart {
    pub(crate) ordinal: u32,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) hash: String,
    pub(crate) encrypted_size: u64,
    pub(crate) encrypted_hash: String,
}

/// A built export package.
#[derive(Debug, Clone)]
pub(crate) struct ExportPackage {
    /// The archive's compression (`compressionType`, as the export request chose).
    pub(crate) compression: super::archive::Compression,
    pub(crate) invoice_count: usize,
    pub(crate) size: u64,
    pub(crate) parts: Vec<ExportPart>,
    pub(crate) is_truncated: bool,
    /// (`lastIssueDate` | `lastInvoicingDate` | `lastPermanentStorageDate`, value).
    pub(crate) last_date: Option<(&'static str, String)>,
    pub(crate) hwm: Option<DateTime<Utc>>,
}

/// An export operation.
#[derive(Debug, Clone)]
pub(crate) struct Export {
    pub(crate) context_key: String,
    /// Final result; `None` while building (status 100).
    pub(crate) result: Option<(Status, Option<ExportPackage>, DateTime<Utc>)>,
    /// Earliest instant the result may be shown (stuck-processing fault).
    pub(crate) ready_at: DateTime<Utc>,
}

impl Export {
    pub(crate) fn in_progress(&self, now: DateTime<Utc>) -> bool {
        self.result.is_none() || now < self.ready_at
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) session_order: Vec<String>,
    pub(crate) invoices: HashMap<String, StoredInvoice>,
    pub(crate) repo_order: Vec<String>,
    /// (Podmiot1 NIP, RodzajFaktury, P_2) → (session reference, KSeF number).
    pub(crate) duplicates: HashMap<(String, String, String), (String, String)>,
    pub(crate) exports: HashMap<String, Export>,
}

/// Run-time state of the invoicing part, stored in `AppState`.
#[derive(Debug)]
pub(crate) struct InvoicingState {
    pub(crate) config: InvoicingConfig,
    store: Mutex<Store>,
}

impl InvoicingState {
    /// Creates the state when the simulator starts.
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            config: config.invoicing.clone(),
            store: Mutex::new(Store::default()),
        }
    }

    /// Runs `f` with the store locked.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = lock(&self.store);
        f(&mut guard)
    }
}

/// A valid invoice to record.
#[derive(Debug)]
pub(crate) struct NewInvoice<'a> {
    pub(crate) facts: &'a InvoiceFacts,
    pub(crate) form: FormKind,
    /// Base64 SHA-256 of the invoice.
    pub(crate) hash: &'a str,
    /// Directory the invoice's bytes go to (as `{ksefNumber}.xml`).
    pub(crate) dir: &'a std::path::Path,
    pub(crate) offline: bool,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) session_reference: &'a str,
    pub(crate) hash_of_corrected: Option<String>,
    /// When the invoice becomes visible.
    pub(crate) ready_at: DateTime<Utc>,
}

/// (acquisitionDate, permanentStorageDate) of an accepted invoice.
pub(crate) type AssignedDates = (DateTime<Utc>, DateTime<Utc>);

/// Outcome of registering a valid invoice.
#[derive(Debug)]
pub(crate) enum Registered {
    /// Accepted with this KSeF number.
    Accepted(String),
    /// Duplicate of (session reference, KSeF number).
    Duplicate(String, String),
}

impl Store {
    /// The session `reference` of the context `context_key`; 21173 when it has none.
    pub(crate) fn session_of(
        &self,
        context_key: &str,
        reference: &str,
    ) -> Result<&Session, ApiError> {
        self.sessions
            .get(reference)
            .filter(|x| x.context_key == context_key)
            .ok_or_else(|| no_session(reference))
    }

    /// The session `reference` of `kind` of the context `context_key` while it is open (status
    /// 100): 21173 when the context has no such session, 21180 naming `action` when its status
    /// forbids the operation.
    pub(crate) fn open_session_mut(
        &mut self,
        context_key: &str,
        reference: &str,
        kind: SessionKind,
        now: DateTime<Utc>,
        action: &str,
    ) -> Result<&mut Session, ApiError> {
        let sess = self
            .sessions
            .get_mut(reference)
            .filter(|x| x.kind == kind && x.context_key == context_key)
            .ok_or_else(|| no_session(reference))?;
        let code = sess.status(now).code;
        if code != 100 {
            return Err(session_status_forbids(code, action));
        }
        Ok(sess)
    }

    /// Records a valid invoice unless it duplicates an earlier one. `write` stores the bytes at
    /// the given path (called inside this store's lock; keep it to a single file write).
    pub(crate) fn register(
        &mut self,
        new: NewInvoice<'_>,
        config: &InvoicingConfig,
        write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
    ) -> std::io::Result<(Registered, Option<AssignedDates>)> {
        let NewInvoice {
            facts,
            form,
            hash,
            dir,
            offline,
            received_at: received,
            session_reference,
            hash_of_corrected,
            ready_at,
        } = new;
        let key = facts.duplicate_key();
        if let Some((s, k)) = self.duplicates.get(&key) {
            return Ok((Registered::Duplicate(s.clone(), k.clone()), None));
        }
        let ksef = crate::identifiers::ksef_number(&facts.seller_nip, received);
        let path = dir.join(format!("{ksef}.xml"));
        write(&path)?;
        let acquisition = received
            + chrono::Duration::from_std(config.processing_delay)
                .unwrap_or(chrono::Duration::zero());
        let storage = acquisition
            + chrono::Duration::from_std(config.permanent_storage_delay)
                .unwrap_or(chrono::Duration::zero());
        self.duplicates
            .insert(key, (session_reference.to_string(), ksef.clone()));
        self.invoices.insert(
            ksef.clone(),
            StoredInvoice {
                ksef_number: ksef.clone(),
                path,
                hash: hash.to_string(),
                facts: facts.clone(),
                form,
                offline,
                invoicing_date: received,
                acquisition_date: acquisition,
                permanent_storage_date: storage,
                ready_at: after(ready_at, config.permanent_storage_delay),
                hash_of_corrected,
            },
        );
        self.repo_order.push(ksef.clone());
        Ok((Registered::Accepted(ksef), Some((acquisition, storage))))
    }

    /// The permanent-storage high-water mark at `now`: every invoice with a permanent-storage
    /// date at or before it is visible.
    pub(crate) fn hwm(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let pending = self
            .invoices
            .values()
            .filter(|i| now < i.ready_at)
            .map(|i| i.permanent_storage_date)
            .min();
        match pending {
            Some(p) => p - chrono::Duration::milliseconds(1),
            None => now,
        }
    }
}

/// 21180: the session's status does not allow `action`.
pub(crate) fn session_status_forbids(code: i32, action: &str) -> ApiError {
    ApiError::bad_request(
        21180,
        "Status sesji nie pozwala na wykonanie operacji.",
        [format!("Status sesji {code} uniemożliwia {action}.")],
    )
}

/// 21173: no session with this reference number (in this context).
pub(crate) fn no_session(reference: &str) -> ApiError {
    ApiError::bad_request(
        21173,
        "Brak sesji o wskazanym numerze referencyjnym.",
        [format!(
            "Sesja o numerze referencyjnym {reference} nie została znaleziona."
        )],
    )
}
