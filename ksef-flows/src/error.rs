//! The crate's error type: one variant per failing step, with the failure reasons its variants
//! carry (an export part's, a store's, a batch session's) and the outcomes that carry an error in
//! turn (an invoice's outcome, a batch report). Each is re-exported by the module it belongs to
//! (`export`, `sync`, `batch`, `online`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ksef_api::KsefError;
use ksef_crypto::CryptoError;

use crate::upo::document::Upo;

/// KSeF code 21001: the request body cannot be read.
pub(crate) const UNREADABLE_BODY: i64 = 21001;
/// KSeF code 21470: the public key named in the request was withdrawn.
pub(crate) const KEY_WITHDRAWN: i64 = 21470;
/// KSeF code 21184: the session is temporarily unavailable (maintenance).
pub(crate) const SESSION_UNAVAILABLE: i64 = 21184;

/// A result of this crate.
pub type Result<T, E = FlowError> = std::result::Result<T, E>;

/// Why an authentication operation ended unsuccessfully (status of `GET /auth/{referenceNumber}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthFailure {
    /// 415: the subject has no permissions in the context.
    NoPermissions,
    /// 425: the authentication was revoked.
    Revoked,
    /// 450: bad token (invalid challenge, token, time, revoked or inactive token, encryption).
    InvalidToken,
    /// 460: certificate error (invalid, chain, revoked, suspended).
    Certificate,
    /// 470: the methods of a deceased person.
    DeceasedPerson,
    /// 480: authentication blocked (suspected security incident).
    Blocked,
    /// 500: unknown server error.
    Internal,
    /// 550: cancelled by the system; retrying the whole authentication may succeed.
    Cancelled,
    /// A code this crate does not know.
    Other(i32),
}

impl AuthFailure {
    /// Maps a status code.
    pub fn from_code(code: i32) -> Self {
        match code {
            415 => Self::NoPermissions,
            425 => Self::Revoked,
            450 => Self::InvalidToken,
            460 => Self::Certificate,
            470 => Self::DeceasedPerson,
            480 => Self::Blocked,
            500 => Self::Internal,
            550 => Self::Cancelled,
            other => Self::Other(other),
        }
    }
}

/// The step of authentication that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthStep {
    /// `POST /auth/challenge`.
    Challenge,
    /// `POST /auth/ksef-token` or `POST /auth/xades-signature`.
    Submit,
    /// `GET /auth/{referenceNumber}`.
    Status,
    /// `POST /auth/token/redeem`.
    Redeem,
}

impl std::fmt::Display for AuthStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Challenge => "challenge",
            Self::Submit => "submit",
            Self::Status => "status",
            Self::Redeem => "redeem",
        })
    }
}

/// An error of a KSeF workflow. Variants are named for the step that failed and carry the KSeF
/// answer ([`KsefError`]: HTTP status, KSeF codes, problem details, headers) when there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The client could not be configured.
    #[error("setup failed: {0}")]
    Setup(String),
    /// `GET /security/public-key-certificates` failed.
    #[error("fetching the public-key certificates failed: {source}")]
    PublicKeys {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// A cryptographic step failed (no valid certificate, signing, key wrap).
    #[error("{step}: {source}")]
    Crypto {
        /// What was being done.
        step: &'static str,
        /// The error.
        #[source]
        source: CryptoError,
    },
    /// An authentication request failed.
    #[error("authentication failed at step {step}: {source}")]
    Authenticate {
        /// The step.
        step: AuthStep,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// KSeF finished the authentication operation with a failure status.
    #[error("authentication rejected ({reason:?}, status {code}): {description}{}", details_suffix(.details))]
    AuthRejected {
        /// Typed reason.
        reason: AuthFailure,
        /// Status code.
        code: i32,
        /// Status description.
        description: String,
        /// Status details (e.g. which check of a 450 failed).
        details: Vec<String>,
    },
    /// Refreshing the access token failed.
    #[error("refreshing the access token failed: {source}")]
    RefreshToken {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Revoking the authentication session failed.
    #[error("revoking the authentication session failed: {source}")]
    Revoke {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Creating or querying a KSeF token failed.
    #[error("KSeF token operation failed: {source}")]
    KsefToken {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// A certificate operation (limits, enrollment, query, retrieve, revoke) failed.
    #[error("certificate operation failed: {source}")]
    Certificate {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// A certificate enrollment ended without a certificate.
    #[error(
        "certificate enrollment {reference_number} ended with {code} {description}{}",
        details_suffix(details)
    )]
    CertificateEnrollment {
        /// Enrollment reference number.
        reference_number: String,
        /// KSeF's status code (400 refused, 500, 550 cancelled — retry).
        code: i32,
        /// Its description.
        description: String,
        /// Its details.
        details: Vec<String>,
    },
    /// A KSeF token ended in a state other than `Active`.
    #[error("KSeF token {reference_number} is {status}, not Active")]
    KsefTokenNotActive {
        /// Token reference number.
        reference_number: String,
        /// Its status.
        status: String,
    },
    /// KSeF ended a permission grant or revocation with a failure status.
    #[error("permission operation {reference_number} ended with status {code}: {description}{}", details_suffix(.details))]
    PermissionOperationFailed {
        /// The operation's reference number.
        reference_number: String,
        /// Status code (400 and above).
        code: i32,
        /// Status description.
        description: String,
        /// Status details.
        details: Vec<String>,
    },
    /// An argument of a call breaks a rule; nothing was sent.
    #[error("invalid {field}: {rule}")]
    InvalidArgument {
        /// The argument (or field).
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// KSeF could not read the body of a request (21001 "Nieczytelna treść"): the request was
    /// unreadable for KSeF (damaged on the way, or a bug in building it). Sending the same bytes
    /// again does not help, so it is never retried.
    #[error("KSeF could not read the request of {operation} (21001){}", details_suffix(.details))]
    UnreadableBody {
        /// Operation name.
        operation: &'static str,
        /// KSeF's details of the 21001 entry.
        details: Vec<String>,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// The online session is temporarily unavailable (21184: maintenance): invoice `index` was
    /// not accepted. The send was retried later in the same session as
    /// [`RetryPolicy::session_unavailable_retries`](crate::RetryPolicy) allows; KSeF's advice is
    /// to open a new session for the invoices not sent. In
    /// [`OnlineSession::send_all`](crate::OnlineSession::send_all) the invoices not yet sent when
    /// this happened are not sent either and carry this error without a source.
    #[error(
        "online session {session} is temporarily unavailable (21184): invoice #{index} was not sent; open a new session for it"
    )]
    SessionUnavailable {
        /// Position of the invoice in the caller's input (0-based).
        index: usize,
        /// Reference number of the session.
        session: String,
        /// KSeF's answer for this invoice (`None` when the invoice was held back because another
        /// one found the session unavailable).
        #[source]
        source: Option<Box<KsefError>>,
    },
    /// Any other API call failed (`GET /rate-limits`, ...).
    #[error("{operation} failed: {source}")]
    Call {
        /// Operation name.
        operation: &'static str,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Opening an online session failed.
    #[error("opening the online session failed: {source}")]
    OpenSession {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// An invoice failed local pre-flight validation; nothing was sent.
    #[error("invoice #{index} failed pre-flight validation: {source}")]
    Preflight {
        /// Position of the invoice in the caller's input (0-based).
        index: usize,
        /// What is wrong.
        #[source]
        source: CryptoError,
    },
    /// An invoice built with `ksef-invoice` could not be written as valid XML; nothing was sent.
    #[error("the invoice could not be serialized: {source}")]
    SerializeInvoice {
        /// What is wrong, with the XML path.
        #[source]
        source: ksef_invoice::InvoiceError,
    },
    /// The invoice's schema does not match the session's form code; nothing was sent.
    #[error("invoice #{index} is {found}, the session expects {expected}")]
    FormMismatch {
        /// Position of the invoice in the caller's input (0-based).
        index: usize,
        /// The session's form code.
        expected: &'static str,
        /// The invoice's form code.
        found: &'static str,
    },
    /// Sending an invoice failed (after the allowed retries and reconciliation).
    #[error("sending invoice #{index} failed: {source}")]
    SendInvoice {
        /// Position of the invoice in the caller's input (0-based).
        index: usize,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Querying invoice statuses failed.
    #[error("querying invoice status failed: {source}")]
    InvoiceStatus {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Closing the session failed.
    #[error("closing the session failed: {source}")]
    CloseSession {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Querying the session status failed.
    #[error("querying the session status failed: {source}")]
    SessionStatus {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Downloading a UPO failed.
    #[error("downloading the UPO failed: {source}")]
    DownloadUpo {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// A downloaded document does not match its `x-ms-meta-hash`.
    #[error("{what}: x-ms-meta-hash {expected:?} does not match the body's SHA-256 {actual}")]
    HashMismatch {
        /// What was downloaded.
        what: &'static str,
        /// The header value (`None` when the header was missing).
        expected: Option<String>,
        /// Base64 SHA-256 of the body.
        actual: String,
    },
    /// A UPO document could not be parsed.
    #[error("the UPO could not be parsed: {0}")]
    ParseUpo(String),
    /// An asynchronous operation (authentication, KSeF token activation, session processing) did
    /// not finish within the client's poll timeout.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// A download was larger than the client accepts for it; the rest was not read.
    #[error("{what} is larger than {limit} bytes; refused")]
    ResponseTooLarge {
        /// What was downloaded.
        what: &'static str,
        /// The most bytes accepted.
        limit: u64,
    },
    /// A paged listing did not come to an end: the server kept answering with a continuation
    /// token (the same one again, or more pages than the listing can have).
    #[error("paging {operation} did not end after {pages} pages: {reason}")]
    EndlessPaging {
        /// Operation name.
        operation: &'static str,
        /// Pages read.
        pages: u32,
        /// Why the listing was given up.
        reason: &'static str,
    },
    /// A flow did not finish within the client's deadline
    /// ([`KsefBuilder::flow_deadline`](crate::KsefBuilder::flow_deadline)).
    #[error("{flow} did not finish within {after:?}")]
    Deadline {
        /// The flow.
        flow: &'static str,
        /// The deadline.
        after: std::time::Duration,
    },
    /// `POST /invoices/query/metadata` failed.
    #[error("querying invoice metadata failed: {source}")]
    QueryMetadata {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// The metadata query cannot move past `date`: every record it can reach (the API stops at
    /// its truncation cap) carries that same date, so moving `from` to the last record's date
    /// does not advance.
    #[error(
        "the metadata query cannot advance past {date}: more records than the API returns for one filter set share that date"
    )]
    QueryStalled {
        /// The date all reachable records share.
        date: chrono::DateTime<chrono::Utc>,
    },
    /// `GET /invoices/ksef/{ksefNumber}` failed.
    #[error("downloading invoice {ksef_number} failed: {source}")]
    DownloadInvoice {
        /// The KSeF number.
        ksef_number: String,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// `POST /invoices/exports` failed (after waiting for a free export slot on 21182, if the
    /// wait allowed it).
    #[error("starting the export failed: {source}")]
    StartExport {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// `GET /invoices/exports/{referenceNumber}` failed.
    #[error("querying the status of export {reference_number} failed: {source}")]
    ExportStatus {
        /// The export's reference number.
        reference_number: String,
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// KSeF finished the export with a failure status (210 expired, 415 key decryption, 420
    /// range past the high-water mark, 500, 550 cancelled).
    #[error("export {reference_number} ended with status {code}: {description}{}", details_suffix(.details))]
    ExportFailed {
        /// The export's reference number.
        reference_number: String,
        /// Status code.
        code: i32,
        /// Status description.
        description: String,
        /// Status details.
        details: Vec<String>,
    },
    /// A part of an export package could not be downloaded or verified (after the retries the
    /// failure allowed).
    #[error("export part {ordinal} ({part_name}): {failure}")]
    ExportPart {
        /// `ordinalNumber` of the part.
        ordinal: u32,
        /// `partName` of the part.
        part_name: String,
        /// What went wrong.
        failure: PartFailure,
    },
    /// The decrypted export package is not a readable archive of the declared type, or holds
    /// something it must not.
    #[error("the export package cannot be unpacked: {0}")]
    Unpack(String),
    /// An invoice of an export package does not match the hash its metadata declares.
    #[error(
        "invoice {ksef_number} of the package: SHA-256 {actual} does not match invoiceHash {expected}"
    )]
    InvoiceHash {
        /// The invoice's KSeF number.
        ksef_number: String,
        /// `invoiceHash` of its metadata.
        expected: String,
        /// Base64 SHA-256 of the bytes in the package.
        actual: String,
    },
    /// The export package and its `_metadata.json` disagree: an invoice listed in the metadata is
    /// missing from the package, or a file has no metadata.
    #[error("the export package is inconsistent: {0}")]
    PackageInconsistent(String),
    /// A local file operation failed.
    #[error("{step}: {source}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The synchronisation store failed.
    #[error("store: {step}: {source}")]
    Store {
        /// What was being done.
        step: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// Incremental synchronisation cannot advance past `date`: a truncated package ended at the
    /// date its window started (more invoices than one package holds share that
    /// permanent-storage date).
    #[error(
        "synchronisation of {subject} cannot advance past {date}: more invoices than one package holds share that permanent-storage date"
    )]
    SyncStalled {
        /// Subject type.
        subject: String,
        /// The date.
        date: chrono::DateTime<chrono::Utc>,
    },
    /// An input of a batch could not be read; it was left out of the archive.
    #[error("input #{index} could not be read: {source}")]
    ReadInput {
        /// Position of the input (0-based).
        index: usize,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A batch exceeds a limit of batch sessions; nothing was sent.
    #[error("the batch exceeds the limit of {limit}: at most {max}, the batch needs {actual}")]
    BatchLimit {
        /// Which limit.
        limit: crate::batch::limits::BatchLimit,
        /// The limit.
        max: u64,
        /// What the batch needs (at least).
        actual: u64,
    },
    /// Reading or writing the batch's work directory failed.
    #[error("{step}: {source}")]
    BatchFiles {
        /// What was being done.
        step: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The batch state file is missing, unreadable, sealed under another key, altered, or
    /// belongs to another environment or context.
    #[error("batch state{}: {detail}", .path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    BatchState {
        /// The state file, when known.
        path: Option<std::path::PathBuf>,
        /// What is wrong.
        detail: String,
    },
    /// Opening a batch session failed.
    #[error("opening the batch session failed: {source}")]
    OpenBatchSession {
        /// The API error.
        #[source]
        source: Box<KsefError>,
    },
    /// Uploading a part failed (a 4xx answer, or transient failures beyond the retries). The
    /// session stays open and unclosed; the batch can be resumed.
    #[error("uploading part {ordinal} failed{}: {detail}", .status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    UploadPart {
        /// 1-based part number.
        ordinal: u32,
        /// HTTP status of the last answer, if there was one.
        status: Option<u16>,
        /// What went wrong (never the URL: it is a credential).
        detail: String,
    },
    /// A part's presigned upload URL no longer grants the upload (401/403: its time ran out).
    /// KSeF gives no new URLs: the session cannot be completed, see
    /// `Batch::resend_in_new_session`.
    #[error("the upload URL of part {ordinal} was refused (HTTP {status}, expired): {detail}")]
    PartUrlExpired {
        /// 1-based part number.
        ordinal: u32,
        /// HTTP status.
        status: u16,
        /// The answer's body (shortened).
        detail: String,
    },
    /// The batch session can no longer be completed (cancelled, unknown to KSeF, upload time
    /// exceeded). Nothing was registered in it; see `Batch::resend_in_new_session`.
    #[error("batch session {reference_number} cannot be completed: {reason}")]
    BatchPastSaving {
        /// The session.
        reference_number: String,
        /// Why.
        reason: String,
    },
    /// KSeF ended the batch session with a failure status. The report carries every input's
    /// outcome (for 445, each rejection).
    #[error("KSeF failed the batch session ({failure:?}, status {code}): {description}{}", details_suffix(.details))]
    BatchRejected {
        /// Typed reason.
        failure: BatchFailure,
        /// Status code.
        code: i32,
        /// Status description.
        description: String,
        /// Status details.
        details: Vec<String>,
        /// Every input's outcome.
        report: Box<BatchReport>,
    },
    /// The session UPO does not match the results.
    #[error("the session UPO does not match the results: {detail}")]
    UpoMismatch {
        /// The discrepancy.
        detail: String,
    },
}

fn details_suffix(details: &[String]) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    }
}

impl FlowError {
    /// The underlying API error, if the failing step got an answer from KSeF (or a transport error).
    pub fn api_error(&self) -> Option<&KsefError> {
        match self {
            Self::PublicKeys { source }
            | Self::Authenticate { source, .. }
            | Self::RefreshToken { source }
            | Self::Revoke { source }
            | Self::KsefToken { source }
            | Self::Certificate { source }
            | Self::Call { source, .. }
            | Self::OpenSession { source }
            | Self::SendInvoice { source, .. }
            | Self::InvoiceStatus { source }
            | Self::CloseSession { source }
            | Self::SessionStatus { source }
            | Self::QueryMetadata { source }
            | Self::DownloadInvoice { source, .. }
            | Self::StartExport { source }
            | Self::ExportStatus { source, .. }
            | Self::UnreadableBody { source, .. }
            | Self::DownloadUpo { source }
            | Self::OpenBatchSession { source } => Some(source),
            Self::SessionUnavailable { source, .. } => source.as_deref(),
            _ => None,
        }
    }

    /// Whether the invoice was not sent because its online session is temporarily unavailable
    /// (21184): send it in a new session.
    pub fn needs_new_session(&self) -> bool {
        matches!(self, Self::SessionUnavailable { .. })
    }

    /// The error of a failed call of `operation`: [`FlowError::UnreadableBody`] when KSeF could
    /// not read the request (21001), else what `step` makes of it.
    pub(crate) fn of_call(
        operation: &'static str,
        error: KsefError,
        step: impl FnOnce(Box<KsefError>) -> FlowError,
    ) -> FlowError {
        match error.response() {
            Some(r) if r.codes().contains(&UNREADABLE_BODY) => FlowError::UnreadableBody {
                operation,
                details: r.details_of(UNREADABLE_BODY),
                source: boxed(error),
            },
            _ => step(boxed(error)),
        }
    }

    /// Whether any KSeF code of the answer equals `code`.
    pub fn has_code(&self, code: i64) -> bool {
        self.api_error().is_some_and(|e| e.has_code(code))
    }

    /// Whether a batch must be sent again in a new session: its session can no longer be
    /// completed ([`FlowError::BatchPastSaving`], [`FlowError::PartUrlExpired`]).
    pub fn batch_needs_new_session(&self) -> bool {
        matches!(
            self,
            Self::BatchPastSaving { .. } | Self::PartUrlExpired { .. }
        )
    }

    /// A local I/O failure of a batch's work directory.
    pub fn batch_io(step: &'static str, source: std::io::Error) -> Self {
        Self::BatchFiles { step, source }
    }

    /// HTTP status of the answer, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.api_error()
            .and_then(KsefError::status)
            .map(|s| s.as_u16())
    }
}

pub(crate) fn boxed(e: KsefError) -> Box<KsefError> {
    Box::new(e)
}

/// Why a part failed. The error names the part ([`FlowError::ExportPart`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartFailure {
    /// The storage answered with an error status.
    #[error("HTTP {status} from the storage")]
    Http {
        /// HTTP status.
        status: u16,
    },
    /// The presigned URL expired and fresh URLs did not help.
    #[error("the download URL expired")]
    Expired,
    /// The connection failed or broke.
    #[error("transport failure: {0}")]
    Transport(String),
    /// The answer is a page (HTML, XML, JSON), not the encrypted part.
    #[error("the storage answered {content_type}, not the encrypted part")]
    ContentType {
        /// The `Content-Type` received.
        content_type: String,
    },
    /// The size differs from `encryptedPartSize`.
    #[error("received {actual} bytes, encryptedPartSize is {expected}")]
    Size {
        /// `encryptedPartSize`.
        expected: u64,
        /// Bytes received (or announced by `Content-Length`).
        actual: u64,
    },
    /// The SHA-256 of the downloaded bytes differs from `encryptedPartHash`.
    #[error("SHA-256 of the encrypted part {actual} does not match encryptedPartHash {expected}")]
    EncryptedHash {
        /// `encryptedPartHash`.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The storage's `x-ms-meta-hash` differs from `encryptedPartHash`.
    #[error("x-ms-meta-hash {header} of the storage does not match encryptedPartHash {expected}")]
    MetaHash {
        /// `encryptedPartHash`.
        expected: String,
        /// The header.
        header: String,
    },
    /// The part does not decrypt (bad padding or length: wrong key, or damaged).
    #[error("decryption failed: {0}")]
    Decrypt(String),
    /// The decrypted part does not match `partSize` / `partHash`.
    #[error("decrypted part: {what} {actual} does not match {expected}")]
    Plain {
        /// `partSize` or `partHash`.
        what: &'static str,
        /// Declared.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// Writing the decrypted part to a temporary file failed.
    #[error("local I/O: {0}")]
    Io(String),
}

impl PartFailure {
    /// Whether another attempt may succeed (transport, server errors, pages from a gateway,
    /// bytes damaged in transit, which may also break the padding). A decrypted part that does
    /// not match `partSize`/`partHash` although its encrypted bytes matched is not transient:
    /// the package itself is wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status } => *status == 408 || *status == 429 || *status >= 500,
            Self::Transport(_)
            | Self::ContentType { .. }
            | Self::Size { .. }
            | Self::EncryptedHash { .. }
            | Self::MetaHash { .. }
            | Self::Decrypt(_) => true,
            Self::Expired | Self::Plain { .. } | Self::Io(_) => false,
        }
    }
}

/// An error of a store backend (its own error as the source).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Why KSeF failed a whole batch session (its final status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchFailure {
    /// 405: the package does not match its declaration (size or hash).
    Verification,
    /// 415: the session key could not be decrypted.
    KeyDecryption,
    /// 420: too many invoices in the session.
    TooManyInvoices,
    /// 430: the archive could not be decompressed.
    Decompression,
    /// 435: a part could not be decrypted.
    PartDecryption,
    /// 440: the session was cancelled (upload time exceeded, or no invoices).
    Cancelled,
    /// 445: no invoice was valid (each input's rejection is in the report).
    NoValidInvoices,
    /// 500: unknown server error.
    Internal,
    /// A code this crate does not know.
    Other(i32),
}

impl BatchFailure {
    /// Maps a final status code.
    pub fn from_code(code: i32) -> Self {
        match code {
            405 => Self::Verification,
            415 => Self::KeyDecryption,
            420 => Self::TooManyInvoices,
            430 => Self::Decompression,
            435 => Self::PartDecryption,
            440 => Self::Cancelled,
            445 => Self::NoValidInvoices,
            500 => Self::Internal,
            other => Self::Other(other),
        }
    }
}

/// What became of one input invoice.
#[derive(Debug)]
#[non_exhaustive]
pub enum InvoiceOutcome {
    /// KSeF accepted the invoice and assigned a KSeF number (status 200).
    Accepted {
        /// The invoice's reference number.
        reference_number: String,
        /// The KSeF number.
        ksef_number: String,
        /// Order of the invoice in the session (server-assigned).
        ordinal_number: u32,
        /// `acquisitionDate`.
        acquisition_date: Option<DateTime<Utc>>,
    },
    /// KSeF rejected the invoice (status ≥ 400: 440 duplicate, 450 semantic error, ...).
    Rejected {
        /// The invoice's reference number.
        reference_number: String,
        /// Status code.
        code: i32,
        /// Status description.
        description: String,
        /// Status details.
        details: Vec<String>,
        /// `extensions` (for 440: `originalSessionReferenceNumber`, `originalKsefNumber`).
        extensions: BTreeMap<String, String>,
    },
    /// The invoice was not sent (pre-flight validation, or the send failed).
    NotSent(FlowError),
    /// Still processing when waiting ended.
    Pending {
        /// The invoice's reference number.
        reference_number: String,
    },
    /// The invoice was sent (in a batch archive) but KSeF reported nothing that can be matched
    /// to it, e.g. because the whole session failed.
    Unknown {
        /// Why the outcome is unknown.
        why: String,
    },
}

/// One input of a batch and what became of it.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchInvoiceResult {
    /// Position of the input (0-based).
    pub index: usize,
    /// The input's name.
    pub name: String,
    /// Its entry in the archive (`invoiceFileName`), when it was packed.
    pub file_name: Option<String>,
    /// Base64 SHA-256 of its bytes, when it was packed.
    pub invoice_hash: Option<String>,
    /// Accepted (KSeF number), rejected (code, description, details, the original KSeF number
    /// of a duplicate), not sent (the pre-flight error), or unknown (with why).
    pub outcome: InvoiceOutcome,
}

/// An invoice KSeF lists in the session that matches no input (it should not happen).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnmatchedInvoice {
    /// `invoiceFileName`.
    pub file_name: Option<String>,
    /// `invoiceHash`.
    pub invoice_hash: String,
    /// Status code.
    pub code: i32,
    /// KSeF number, when accepted.
    pub ksef_number: Option<String>,
}

/// A session status: code, description, details.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStatus {
    /// Status code.
    pub code: i32,
    /// Status description.
    pub description: String,
    /// Status details.
    pub details: Vec<String>,
}

/// Everything that became of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchReport {
    /// The session (none when no input passed pre-flight: nothing was sent).
    pub reference_number: Option<String>,
    /// The session's final status.
    pub status: Option<SessionStatus>,
    /// Invoices KSeF received.
    pub invoice_count: Option<i32>,
    /// Invoices KSeF accepted.
    pub successful_invoice_count: Option<i32>,
    /// Invoices KSeF rejected.
    pub failed_invoice_count: Option<i32>,
    /// One result per input, at the input's position.
    pub results: Vec<BatchInvoiceResult>,
    /// Invoices KSeF listed that match no input (expected to be empty).
    pub unmatched: Vec<UnmatchedInvoice>,
    /// The session UPO pages (`x-ms-meta-hash` verified, each entry checked against the
    /// accepted inputs).
    pub upo: Vec<Upo>,
    /// Sessions opened earlier for this batch and given up (their reference numbers).
    pub abandoned_sessions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksef_api::operations::op;
    use ksef_api::{ErrorResponse, KsefError};
    use reqwest::StatusCode;
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    /// A 400 as KSeF answers it (`ExceptionResponse`, or problem details when asked for).
    fn bad_request(content_type: &'static str, body: &str) -> KsefError {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        KsefError::Api(Box::new(ErrorResponse::decode(
            StatusCode::BAD_REQUEST,
            h,
            bytes::Bytes::from(body.to_string()),
            false,
        )))
    }

    #[test]
    fn code_21001_is_an_unreadable_body_whatever_the_step() {
        let e = bad_request(
            "application/json",
            r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21001,"exceptionDescription":"Nieczytelna treść.","details":["Unexpected end of JSON input"]}],"serviceCode":"x"}}"#,
        );
        let f = FlowError::of_call(op::ONLINE_SESSION_OPEN.name, e, |source| {
            FlowError::OpenSession { source }
        });
        let FlowError::UnreadableBody {
            operation, details, ..
        } = &f
        else {
            panic!("{f:?}")
        };
        assert_eq!(*operation, "online_session_open");
        assert_eq!(details, &["Unexpected end of JSON input".to_string()]);
        assert!(f.has_code(21001));
        assert_eq!(f.http_status(), Some(400));
        assert!(f.to_string().contains("21001"), "{f}");
    }

    #[test]
    fn other_codes_keep_their_step() {
        let e = bad_request(
            "application/problem+json",
            r#"{"title":"Bad Request","status":400,"errors":[{"code":21405,"description":"Błąd walidacji danych wejściowych.","details":["formCode"]}]}"#,
        );
        let f = FlowError::of_call(op::ONLINE_SESSION_OPEN.name, e, |source| {
            FlowError::OpenSession { source }
        });
        assert!(matches!(f, FlowError::OpenSession { .. }), "{f:?}");
        assert!(!f.needs_new_session());
    }

    #[test]
    fn a_held_back_invoice_needs_a_new_session_without_an_answer() {
        let f = FlowError::SessionUnavailable {
            index: 3,
            session: "20260101-SO-0000000000-0000000000-00".into(),
            source: None,
        };
        assert!(f.needs_new_session());
        assert!(f.api_error().is_none());
        assert!(f.to_string().contains("21184"), "{f}");
    }
}
