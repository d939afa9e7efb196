//! The fault matrix: every flow of ksef-flows against every fault the simulator injects.
//!
//! Each cell runs one flow (authentication by KSeF token and by XAdES, an online session, a
//! batch, an export, an incremental synchronisation, the metadata query stream) with one fault
//! armed on the operation the fault hurts most in that flow. A cell passes when the run ends in
//! the expected outcome — success, or the typed error the fault calls for — and the simulator's
//! own state shows that nothing was lost and nothing duplicated: every invoice accepted exactly
//! once, every invoice of an export or a sync received exactly once, one redeemed
//! authentication. Cells that cannot apply are marked n/a with the reason. The test prints the
//! matrix as a table.
//!
//! Columns run in parallel, one simulator each (faults are armed per operation, so two cells
//! must not share a simulator at the same time); the cells of a column run one after another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_common;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use e2e_common::*;
use futures::{FutureExt as _, TryStreamExt as _};
use ksef_flows::api::Environment;
use ksef_flows::batch::{Batch, BatchInput, BatchOptions, StateKey};
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::export::{DownloadOptions, Durability, ExportRequest};
use ksef_flows::query::{DateType, InvoiceQuery, SubjectType};
use ksef_flows::sample::SampleInvoice;
use ksef_flows::sync::{IncrementalSync, StoreQuery, SyncKey, SyncOptions, SyncStore as _};
use ksef_flows::{AuthSession, Credentials, FlowError, InvoiceInput, Ksef, RateLimitMode};
use ksef_flows::{InvoiceOutcome, RetryPolicy};
use ksef_sim::{Fault, InvoicingConfig, KeyUsage, SeedInvoice, SimConfig, SimControl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    AuthToken,
    AuthXades,
    Online,
    Batch,
    Export,
    Sync,
    Metadata,
}

const FLOWS: [Flow; 7] = [
    Flow::AuthToken,
    Flow::AuthXades,
    Flow::Online,
    Flow::Batch,
    Flow::Export,
    Flow::Sync,
    Flow::Metadata,
];

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Flow::AuthToken => "auth (KSeF token)",
            Flow::AuthXades => "auth (XAdES)",
            Flow::Online => "online session send",
            Flow::Batch => "batch send",
            Flow::Export => "export",
            Flow::Sync => "incremental sync",
            Flow::Metadata => "metadata query stream",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    RateLimitStorm,
    ServerErrors,
    DroppedConnection,
    Latency,
    StuckProcessing,
    Cancelled550,
    ExpiredUrls,
    KeyRotation,
    TokenExpiry,
    AnswerLost,
}

const FAULTS: [Injected; 10] = [
    Injected::RateLimitStorm,
    Injected::ServerErrors,
    Injected::DroppedConnection,
    Injected::Latency,
    Injected::StuckProcessing,
    Injected::Cancelled550,
    Injected::ExpiredUrls,
    Injected::KeyRotation,
    Injected::TokenExpiry,
    Injected::AnswerLost,
];

impl Injected {
    fn name(self) -> &'static str {
        match self {
            Injected::RateLimitStorm => "429 storm",
            Injected::ServerErrors => "5xx burst",
            Injected::DroppedConnection => "dropped mid-body",
            Injected::Latency => "latency",
            Injected::StuckProcessing => "stuck processing",
            Injected::Cancelled550 => "550",
            Injected::ExpiredUrls => "expired URLs",
            Injected::KeyRotation => "key rotation",
            Injected::TokenExpiry => "token expiry",
            Injected::AnswerLost => "answer lost",
        }
    }
}

const AUTH_TOKEN: &str = "POST /auth/ksef-token";
const AUTH_XADES: &str = "POST /auth/xades-signature";
const AUTH_SESSIONS: &str = "GET /auth/sessions";
const ONLINE_OPEN: &str = "POST /sessions/online";
const SEND: &str = "POST /sessions/online/{referenceNumber}/invoices";
const SESSION_STATUS: &str = "GET /sessions/{referenceNumber}";
const BATCH_OPEN: &str = "POST /sessions/batch";
const BATCH_CLOSE: &str = "POST /sessions/batch/{referenceNumber}/close";
const PART_PUT: &str = "PUT /__presigned/batch-part";
const EXPORT_START: &str = "POST /invoices/exports";
const EXPORT_STATUS: &str = "GET /invoices/exports/{referenceNumber}";
const PART_GET: &str = "GET /__presigned/export-part";
const METADATA: &str = "POST /invoices/query/metadata";

/// What a cell arms before its flow runs.
enum Arm {
    /// Faults on operations.
    Faults(Vec<(&'static str, Fault)>),
    /// An emergency rotation of the key of this usage, after the client cached the old one.
    Rotate(KeyUsage),
}

/// The outcome a cell must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Every invoice/record delivered, nothing duplicated.
    Success,
    /// One invoice reported rejected with 550 (the others accepted), nothing duplicated.
    InvoiceCancelled,
    /// `FlowError::ExportFailed` with status 550; a second run completes the work.
    ExportCancelled,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Success => "success",
            Expect::InvoiceCancelled => "invoice rejected 550",
            Expect::ExportCancelled => "ExportFailed 550, rerun ok",
        }
    }
}

enum Plan {
    NotApplicable(&'static str),
    Run {
        target: String,
        arm: Arm,
        expect: Expect,
    },
}

fn storm() -> Fault {
    Fault::RateLimitStorm {
        count: 3,
        retry_after: 0,
    }
}
fn burst() -> Fault {
    Fault::ServerError {
        status: 503,
        count: 2,
    }
}
fn drop_mid_body() -> Fault {
    Fault::DropConnection {
        after_bytes: 64,
        count: 2,
    }
}
fn latency() -> Fault {
    Fault::Latency {
        delay_ms: 300,
        count: Some(1),
    }
}
fn stuck() -> Fault {
    Fault::StuckProcessing {
        duration_ms: 1200,
        count: 1,
    }
}
fn token_expiry() -> Fault {
    Fault::TokenExpired { count: 1 }
}

fn on(target: &'static str, fault: Fault, expect: Expect) -> Plan {
    Plan::Run {
        target: target.to_string(),
        arm: Arm::Faults(vec![(target, fault)]),
        expect,
    }
}

/// Answers lost after the operation took effect: on each of `targets`, one cut connection and
/// (`twice`) one 502 as well — only on operations the client repeats; an operation whose effect
/// the client checks instead of repeating it meets one lost answer.
fn lost(targets: &[(&'static str, bool)]) -> Plan {
    let mut faults = Vec::new();
    for &(target, twice) in targets {
        faults.push((
            target,
            Fault::AnswerLost {
                count: 1,
                status: None,
            },
        ));
        if twice {
            faults.push((
                target,
                Fault::AnswerLost {
                    count: 1,
                    status: Some(502),
                },
            ));
        }
    }
    Plan::Run {
        target: targets.iter().map(|t| t.0).collect::<Vec<_>>().join(" + "),
        arm: Arm::Faults(faults),
        expect: Expect::Success,
    }
}

fn rotate(usage: KeyUsage, target: &'static str) -> Plan {
    Plan::Run {
        target: target.to_string(),
        arm: Arm::Rotate(usage),
        expect: Expect::Success,
    }
}

fn plan(flow: Flow, fault: Injected) -> Plan {
    use Expect::*;
    use Injected::*;
    const NO_URL: &str = "no presigned URL in this flow";
    const SYNCHRONOUS: &str = "answered synchronously, no asynchronous processing";
    match (flow, fault) {
        (Flow::AuthToken | Flow::AuthXades, ExpiredUrls) => Plan::NotApplicable(NO_URL),
        (Flow::AuthXades, KeyRotation) => {
            Plan::NotApplicable("XAdES authentication encrypts nothing with a KSeF key")
        }
        (Flow::AuthToken | Flow::AuthXades, TokenExpiry) => {
            on(AUTH_SESSIONS, token_expiry(), Success)
        }
        (Flow::AuthToken | Flow::AuthXades, _) => {
            let submit = if flow == Flow::AuthToken {
                AUTH_TOKEN
            } else {
                AUTH_XADES
            };
            match fault {
                RateLimitStorm => on(submit, storm(), Success),
                ServerErrors => on(submit, burst(), Success),
                DroppedConnection => on(submit, drop_mid_body(), Success),
                Latency => on(submit, latency(), Success),
                StuckProcessing => on(submit, stuck(), Success),
                // cancelled by the system: authentication is tried again
                Cancelled550 => on(submit, Fault::AsyncFailure { count: 1 }, Success),
                KeyRotation => rotate(KeyUsage::KsefTokenEncryption, submit),
                AnswerLost => lost(&[(submit, true)]),
                ExpiredUrls | TokenExpiry => unreachable!(),
            }
        }
        (Flow::Online, RateLimitStorm) => on(SEND, storm(), Success),
        (Flow::Online, ServerErrors) => on(SEND, burst(), Success),
        (Flow::Online, DroppedConnection) => on(SEND, drop_mid_body(), Success),
        (Flow::Online, Latency) => on(SEND, latency(), Success),
        (Flow::Online, StuckProcessing) => on(SEND, stuck(), Success),
        (Flow::Online, Cancelled550) => {
            on(SEND, Fault::AsyncFailure { count: 1 }, InvoiceCancelled)
        }
        (Flow::Online, ExpiredUrls) => on(
            SESSION_STATUS,
            Fault::ExpiredPresignedUrls { count: 1 },
            Success,
        ),
        (Flow::Online, KeyRotation) => rotate(KeyUsage::SymmetricKeyEncryption, ONLINE_OPEN),
        (Flow::Online, TokenExpiry) => on(SEND, token_expiry(), Success),
        (Flow::Online, AnswerLost) => lost(&[(ONLINE_OPEN, false), (SEND, true)]),
        (Flow::Batch, RateLimitStorm) => on(BATCH_OPEN, storm(), Success),
        (Flow::Batch, ServerErrors) => on(PART_PUT, burst(), Success),
        (Flow::Batch, DroppedConnection) => on(PART_PUT, drop_mid_body(), Success),
        (Flow::Batch, Latency) => on(PART_PUT, latency(), Success),
        (Flow::Batch, StuckProcessing) => on(BATCH_CLOSE, stuck(), Success),
        (Flow::Batch, Cancelled550) => on(
            BATCH_CLOSE,
            Fault::AsyncFailure { count: 1 },
            InvoiceCancelled,
        ),
        // the session's part URLs are dead on arrival: the batch goes again in a new session
        (Flow::Batch, ExpiredUrls) => on(
            BATCH_OPEN,
            Fault::ExpiredPresignedUrls { count: 1 },
            Success,
        ),
        (Flow::Batch, KeyRotation) => rotate(KeyUsage::SymmetricKeyEncryption, BATCH_OPEN),
        (Flow::Batch, TokenExpiry) => on(BATCH_CLOSE, token_expiry(), Success),
        (Flow::Batch, AnswerLost) => lost(&[(BATCH_OPEN, false), (BATCH_CLOSE, false)]),
        (Flow::Export | Flow::Sync, RateLimitStorm) => on(EXPORT_START, storm(), Success),
        (Flow::Export | Flow::Sync, ServerErrors) => on(PART_GET, burst(), Success),
        (Flow::Export | Flow::Sync, DroppedConnection) => on(PART_GET, drop_mid_body(), Success),
        (Flow::Export | Flow::Sync, Latency) => on(EXPORT_STATUS, latency(), Success),
        (Flow::Export | Flow::Sync, StuckProcessing) => on(EXPORT_START, stuck(), Success),
        (Flow::Export | Flow::Sync, Cancelled550) => on(
            EXPORT_START,
            Fault::AsyncFailure { count: 1 },
            ExportCancelled,
        ),
        (Flow::Export | Flow::Sync, ExpiredUrls) => on(
            EXPORT_STATUS,
            Fault::ExpiredPresignedUrls { count: 1 },
            Success,
        ),
        (Flow::Export | Flow::Sync, KeyRotation) => {
            rotate(KeyUsage::SymmetricKeyEncryption, EXPORT_START)
        }
        (Flow::Export | Flow::Sync, TokenExpiry) => on(EXPORT_STATUS, token_expiry(), Success),
        (Flow::Export | Flow::Sync, AnswerLost) => lost(&[(EXPORT_START, true)]),
        (Flow::Metadata, RateLimitStorm) => on(METADATA, storm(), Success),
        (Flow::Metadata, ServerErrors) => on(METADATA, burst(), Success),
        (Flow::Metadata, DroppedConnection) => on(METADATA, drop_mid_body(), Success),
        (Flow::Metadata, Latency) => on(METADATA, latency(), Success),
        (Flow::Metadata, StuckProcessing | Cancelled550) => Plan::NotApplicable(SYNCHRONOUS),
        (Flow::Metadata, ExpiredUrls) => Plan::NotApplicable(NO_URL),
        (Flow::Metadata, KeyRotation) => {
            Plan::NotApplicable("a metadata query encrypts nothing with a KSeF key")
        }
        (Flow::Metadata, TokenExpiry) => on(METADATA, token_expiry(), Success),
        (Flow::Metadata, AnswerLost) => lost(&[(METADATA, true)]),
    }
}

/// What a flow produced, for the checks against the simulator's state.
enum Produced {
    /// An authentication (the context's NIP).
    Authenticated,
    /// Invoices sent: their hashes, the KSeF numbers the client reported, and the hashes the
    /// client reported rejected with 550.
    Sent {
        hashes: Vec<String>,
        numbers: Vec<String>,
        cancelled: Vec<String>,
    },
    /// Invoices received (export, sync, query): the KSeF numbers, in the order delivered.
    Received(Vec<String>),
}

struct Cell {
    flow: Flow,
    fault: Injected,
    target: String,
    expected: String,
    actual: String,
    failure: Option<String>,
}

/// One column: a simulator and the cells of one fault.
struct Column<'a> {
    sim: &'a Sim,
    control: SimControl,
    dir: tempfile::TempDir,
}

fn client(sim: &Sim) -> Ksef {
    let mut policy = RetryPolicy::default();
    policy.base_delay = Duration::from_millis(20);
    policy.max_delay = Duration::from_millis(300);
    Ksef::builder(Environment::Custom(sim.base_url.clone()))
        .rate_limit_mode(RateLimitMode::Off)
        .retry_policy(policy)
        .read_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn start_sim() -> Sim {
    Sim::start(
        SimConfig::default().with_rate_limits(false).with_invoicing(
            InvoicingConfig::default()
                .with_processing_delay(Duration::from_millis(20))
                .with_session_close_delay(Duration::from_millis(50))
                .with_export_part_size(2048),
        ),
    )
}

fn b64_hash(bytes: &[u8]) -> String {
    ksef_flows::crypto::b64::sha256_b64(bytes)
}

/// `n` invoices sold to `buyer` by a random seller, seeded into the simulator; KSeF numbers.
fn seed_bought(control: &SimControl, buyer: &Nip, tag: &str, n: usize) -> HashSet<String> {
    let seller = Nip::random();
    let xmls = (0..n).map(|i| {
        let mut s = SampleInvoice::new(seller.as_str(), &format!("{tag}/{i}")).net(100 + i as u64);
        s.buyer_nip = buyer.as_str().to_string();
        SeedInvoice::new(s.to_xml())
    });
    control
        .seed_invoices(xmls)
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

fn received_since_yesterday(ksef: &Ksef) -> InvoiceQuery {
    InvoiceQuery::new(
        SubjectType::Subject2,
        DateType::PermanentStorage,
        ksef_time::start_of_business_day(ksef.today() - chrono::Days::new(1)),
    )
}

async fn xades_session(ksef: &Ksef, nip: &Nip) -> Result<AuthSession, FlowError> {
    let id = SigningIdentity::self_signed_personal(nip, KeyAlgorithm::EcdsaP256).unwrap();
    ksef.authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
        .await
}

fn arm(control: &SimControl, arm: &Arm) {
    match arm {
        Arm::Faults(list) => {
            for (target, fault) in list {
                control.inject(*target, fault.clone());
            }
        }
        Arm::Rotate(usage) => {
            control.rotate_key(*usage).unwrap();
        }
    }
}

impl Column<'_> {
    /// Runs one flow with the cell's faults armed at the right moment; what it produced.
    async fn run(
        &self,
        flow: Flow,
        faults: &Arm,
        tag: &str,
        nip: &Nip,
    ) -> Result<Produced, FlowError> {
        let ksef = client(self.sim);
        // the client knows the keys before a rotation makes them stale
        ksef.refresh_public_keys().await?;
        let control = &self.control;
        match flow {
            Flow::AuthToken | Flow::AuthXades => {
                let token = control.create_ksef_token(nip.as_str(), &["InvoiceWrite"]);
                arm(control, faults);
                let auth = if flow == Flow::AuthToken {
                    ksef.authenticate(&Credentials::ksef_token(
                        token.as_str(),
                        ContextIdentifier::Nip(nip.clone()),
                    ))
                    .await?
                } else {
                    xades_session(&ksef, nip).await?
                };
                // the session obtained works
                let page = auth.list_auth_sessions(None, None).await?;
                assert!(page.items.iter().any(|s| s.is_current == Some(true)));
                Ok(Produced::Authenticated)
            }
            Flow::Online => {
                let auth = xades_session(&ksef, nip).await?;
                let bytes = valid_invoices(nip, tag, 4);
                let inputs: Vec<InvoiceInput> =
                    bytes.iter().cloned().map(InvoiceInput::new).collect();
                arm(control, faults);
                let session = auth.open_online_session().await?;
                let results = session.send_and_wait(&inputs).await?;
                let summary = session.close_and_wait().await?;
                let (numbers, cancelled) = outcomes(
                    results
                        .iter()
                        .map(|r| (r.index, r.invoice_hash.clone(), &r.outcome)),
                );
                // KSeF's own receipt lists exactly the accepted invoices
                let mut upo_numbers = Vec::new();
                for page in &summary.upo_pages {
                    let upo = session.session_upo(page).await?;
                    upo_numbers.extend(upo.documents.iter().map(|d| d.ksef_number.clone()));
                }
                let mut a = numbers.clone();
                a.sort();
                upo_numbers.sort();
                assert_eq!(
                    a, upo_numbers,
                    "the session UPO lists the accepted invoices"
                );
                Ok(Produced::Sent {
                    hashes: bytes.iter().map(|b| b64_hash(b)).collect(),
                    numbers,
                    cancelled,
                })
            }
            Flow::Batch => {
                let auth = xades_session(&ksef, nip).await?;
                let bytes = valid_invoices(nip, tag, 6);
                let inputs: Vec<BatchInput> = bytes
                    .iter()
                    .enumerate()
                    .map(|(i, b)| BatchInput::bytes(format!("{tag}-{i}.xml"), b.clone()))
                    .collect();
                let batch = Batch::new(
                    self.dir.path().join(format!("batch-{tag}")),
                    StateKey::generate().unwrap(),
                )
                .with_options(BatchOptions::default().part_size(1024));
                batch.prepare_async(inputs).await?;
                arm(control, faults);
                let report = match batch.send(&auth).await {
                    Err(e) if e.batch_needs_new_session() => {
                        batch.resend_in_new_session(&auth).await?
                    }
                    other => other?,
                };
                let (numbers, cancelled) = outcomes(
                    report
                        .results
                        .iter()
                        .map(|r| (r.index, b64_hash(&bytes[r.index]), &r.outcome)),
                );
                Ok(Produced::Sent {
                    hashes: bytes.iter().map(|b| b64_hash(b)).collect(),
                    numbers,
                    cancelled,
                })
            }
            Flow::Export => {
                let auth = xades_session(&ksef, nip).await?;
                arm(control, faults);
                let export = auth
                    .start_export(&ExportRequest::new(received_since_yesterday(&ksef)))
                    .await?;
                let package = export.wait().await?;
                let options = DownloadOptions::default()
                    .durability(Durability::ProcessCrash)
                    .temp_dir(self.dir.path());
                let decrypted = export.download(&package, &options).await?;
                let out = self.dir.path().join(format!("export-{tag}"));
                let files = tokio::task::spawn_blocking(move || decrypted.unpack_to_dir(&out))
                    .await
                    .unwrap()?;
                Ok(Produced::Received(
                    files.invoices.into_iter().map(|f| f.ksef_number).collect(),
                ))
            }
            Flow::Sync => {
                let auth = xades_session(&ksef, nip).await?;
                let store =
                    ksef_store::SqliteStore::open(self.dir.path().join(format!("sync-{tag}")))
                        .unwrap();
                let options = SyncOptions::new(ksef.now() - chrono::Duration::days(2))
                    .subjects([SubjectType::Subject2])
                    .download(
                        DownloadOptions::default()
                            .durability(Durability::ProcessCrash)
                            .temp_dir(self.dir.path()),
                    );
                arm(control, faults);
                IncrementalSync::new(&auth, &store, options).run().await?;
                let key = SyncKey::new(format!("Nip:{}", nip.as_str()), SubjectType::Subject2);
                let stored = store.query(&StoreQuery::all().key(key)).await.unwrap();
                Ok(Produced::Received(
                    stored.into_iter().map(|i| i.ksef_number).collect(),
                ))
            }
            Flow::Metadata => {
                let auth = xades_session(&ksef, nip).await?;
                arm(control, faults);
                let records: Vec<_> = auth
                    .query_metadata(received_since_yesterday(&ksef).page_size(10))
                    .try_collect()
                    .await?;
                Ok(Produced::Received(
                    records.into_iter().map(|m| m.ksef_number.0).collect(),
                ))
            }
        }
    }

    /// Runs one cell: arms its faults, runs the flow, checks the outcome and the simulator's
    /// state.
    async fn cell(&self, flow: Flow, fault: Injected) -> Cell {
        let tag = format!("{}-{}", flow as u8, fault as u8);
        let mut cell = Cell {
            flow,
            fault,
            target: String::new(),
            expected: String::new(),
            actual: String::new(),
            failure: None,
        };
        let (arm_with, expect) = match plan(flow, fault) {
            Plan::NotApplicable(reason) => {
                cell.actual = format!("n/a: {reason}");
                return cell;
            }
            Plan::Run {
                target,
                arm,
                expect,
            } => {
                cell.target = target;
                (arm, expect)
            }
        };
        cell.expected = expect.name().to_string();
        let nip = Nip::random();
        let seeded = if matches!(flow, Flow::Export | Flow::Sync | Flow::Metadata) {
            let seeded = seed_bought(&self.control, &nip, &tag, 5);
            tokio::time::sleep(Duration::from_millis(300)).await;
            seeded
        } else {
            HashSet::new()
        };
        let first = self.run(flow, &arm_with, &tag, &nip).await;
        let unfired = self.control.unfired_faults();
        self.control.clear_faults();
        if unfired > 0 && first.is_ok() {
            cell.actual = format!("{unfired} armed faults never fired");
            cell.failure = Some("the fault did not reach the flow".into());
            return cell;
        }
        let produced = match (first, expect) {
            (Ok(p), Expect::Success | Expect::InvoiceCancelled) => {
                cell.actual = "success".into();
                p
            }
            (Err(FlowError::ExportFailed { code: 550, .. }), Expect::ExportCancelled) => {
                // nothing is lost: the same work done again completes
                match self.run(flow, &Arm::Faults(Vec::new()), &tag, &nip).await {
                    Ok(p) => {
                        cell.actual = "ExportFailed 550, rerun ok".into();
                        p
                    }
                    Err(e) => {
                        cell.actual = format!("ExportFailed 550, rerun: {}", short(&e));
                        cell.failure = Some(format!("the rerun failed: {e}"));
                        return cell;
                    }
                }
            }
            (Ok(_), _) => {
                cell.actual = "success".into();
                cell.failure = Some(format!("expected {}", expect.name()));
                return cell;
            }
            (Err(e), _) => {
                cell.actual = short(&e);
                cell.failure = Some(format!("{e}"));
                return cell;
            }
        };
        let view = self.control.context_view("Nip", nip.as_str());
        cell.failure = verify(&produced, expect, &seeded, &view).err();
        if cell.failure.is_none() && cell.actual == "success" {
            let outcome = match &produced {
                Produced::Authenticated => "1 session".to_string(),
                Produced::Sent {
                    numbers, cancelled, ..
                } if cancelled.is_empty() => format!("{} accepted", numbers.len()),
                Produced::Sent {
                    numbers, cancelled, ..
                } => format!(
                    "{} accepted, {} rejected 550",
                    numbers.len(),
                    cancelled.len()
                ),
                Produced::Received(n) => format!("{} received", n.len()),
            };
            cell.actual = format!("success ({outcome})");
        }
        cell
    }
}

/// The KSeF numbers of the accepted invoices and the hashes of those rejected with 550; any
/// other outcome fails the cell.
fn outcomes<'a>(
    results: impl Iterator<Item = (usize, String, &'a InvoiceOutcome)>,
) -> (Vec<String>, Vec<String>) {
    let mut numbers = Vec::new();
    let mut cancelled = Vec::new();
    for (index, hash, outcome) in results {
        match outcome {
            InvoiceOutcome::Accepted { ksef_number, .. } => numbers.push(ksef_number.clone()),
            o if o.rejection_code() == Some(550) => cancelled.push(hash),
            o => panic!("#{index}: {o:?}"),
        }
    }
    (numbers, cancelled)
}

/// The error's variant and, for KSeF answers, its status.
fn short(e: &FlowError) -> String {
    let debug = format!("{e:?}");
    let variant = debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string();
    match e {
        FlowError::ExportFailed { code, .. } => format!("ExportFailed {code}"),
        _ => variant,
    }
}

/// Checks what a flow produced against the simulator's state.
fn verify(
    produced: &Produced,
    expect: Expect,
    seeded: &HashSet<String>,
    view: &ksef_sim::ContextView,
) -> Result<(), String> {
    match produced {
        Produced::Authenticated => {
            if view.redeemed_auth_operations != 1 {
                return Err(format!(
                    "{} redeemed authentications in the context",
                    view.redeemed_auth_operations
                ));
            }
        }
        Produced::Sent {
            hashes,
            numbers,
            cancelled,
        } => {
            let want_cancelled = usize::from(expect == Expect::InvoiceCancelled);
            if cancelled.len() != want_cancelled {
                return Err(format!("{} invoices rejected with 550", cancelled.len()));
            }
            let unique: HashSet<&String> = numbers.iter().collect();
            if unique.len() != numbers.len() || numbers.len() + cancelled.len() != hashes.len() {
                return Err(format!(
                    "{} KSeF numbers ({} distinct) for {} invoices",
                    numbers.len(),
                    unique.len(),
                    hashes.len()
                ));
            }
            for h in hashes {
                let want = usize::from(!cancelled.contains(h));
                let got = view.accepted.get(h).copied().unwrap_or(0);
                if got != want {
                    return Err(format!("the simulator accepted {h} {got} times"));
                }
            }
            let total: usize = view.accepted.values().sum();
            if total != numbers.len() {
                return Err(format!(
                    "the simulator accepted {total} invoices in the context, the client reported {}",
                    numbers.len()
                ));
            }
        }
        Produced::Received(numbers) => {
            let unique: HashSet<&String> = numbers.iter().collect();
            if unique.len() != numbers.len() {
                return Err(format!(
                    "{} invoices received, {} distinct",
                    numbers.len(),
                    unique.len()
                ));
            }
            let got: HashSet<String> = numbers.iter().cloned().collect();
            if &got != seeded {
                return Err(format!(
                    "received {} of the {} invoices in KSeF ({} unknown)",
                    got.intersection(seeded).count(),
                    seeded.len(),
                    got.difference(seeded).count()
                ));
            }
        }
    }
    Ok(())
}

fn run_column(fault: Injected) -> Vec<Cell> {
    let sim = start_sim();
    let column = Column {
        sim: &sim,
        control: sim.control(),
        dir: tempfile::tempdir().unwrap(),
    };
    client_rt().block_on(async {
        let mut cells = Vec::new();
        for flow in FLOWS {
            // a failed check inside a flow is a failed cell, not a lost table
            let cell = AssertUnwindSafe(column.cell(flow, fault))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_default();
                    column.control.clear_faults();
                    Cell {
                        flow,
                        fault,
                        target: String::new(),
                        expected: String::new(),
                        actual: "panicked".into(),
                        failure: Some(message),
                    }
                });
            cells.push(cell);
        }
        cells
    })
}

fn render(cells: &[Cell]) -> String {
    let mut out = String::new();
    let by: HashMap<(u8, u8), &Cell> = cells
        .iter()
        .map(|c| ((c.flow as u8, c.fault as u8), c))
        .collect();
    let width = 22;
    let _ = write!(out, "\n{:width$}", "flow \\ fault");
    for f in FAULTS {
        let _ = write!(out, " | {:^16}", f.name());
    }
    out.push('\n');
    for flow in FLOWS {
        let _ = write!(out, "{:width$}", flow.name());
        for f in FAULTS {
            let c = by[&(flow as u8, f as u8)];
            let mark = if c.actual.starts_with("n/a") {
                "n/a".to_string()
            } else if c.failure.is_some() {
                "FAIL".to_string()
            } else if c.expected == Expect::Success.name() {
                "ok".to_string()
            } else {
                "ok (typed)".to_string()
            };
            let _ = write!(out, " | {mark:^16}");
        }
        out.push('\n');
    }
    out.push_str("\nflow | fault | armed on | expected | outcome\n");
    for c in cells {
        let _ = writeln!(
            out,
            "{} | {} | {} | {} | {}{}",
            c.flow.name(),
            c.fault.name(),
            if c.target.is_empty() { "-" } else { &c.target },
            if c.expected.is_empty() {
                "-"
            } else {
                &c.expected
            },
            c.actual,
            c.failure
                .as_ref()
                .map(|f| format!("  <-- FAILED: {f}"))
                .unwrap_or_default()
        );
    }
    out
}

#[test]
fn every_flow_survives_every_fault() {
    let columns: Vec<_> = FAULTS
        .iter()
        .map(|&fault| std::thread::spawn(move || run_column(fault)))
        .collect();
    let mut cells: Vec<Cell> = columns
        .into_iter()
        .flat_map(|c| c.join().expect("a column panicked"))
        .collect();
    cells.sort_by_key(|c| (c.flow as u8, c.fault as u8));
    let table = render(&cells);
    println!("{table}");
    let failed: Vec<&Cell> = cells.iter().filter(|c| c.failure.is_some()).collect();
    assert!(failed.is_empty(), "{} cells failed:{table}", failed.len());
    assert_eq!(
        cells.len(),
        FLOWS.len() * FAULTS.len(),
        "every (flow, fault) cell reported:{table}"
    );
    // The n/a cells, written out: a cell that starts being skipped (a changed plan, or a
    // cell reported n/a at run time) fails here instead of quietly shrinking the matrix.
    let expected_na: HashSet<(u8, u8)> = [
        (Flow::AuthToken, Injected::ExpiredUrls),
        (Flow::AuthXades, Injected::ExpiredUrls),
        (Flow::AuthXades, Injected::KeyRotation),
        (Flow::Metadata, Injected::StuckProcessing),
        (Flow::Metadata, Injected::Cancelled550),
        (Flow::Metadata, Injected::ExpiredUrls),
        (Flow::Metadata, Injected::KeyRotation),
    ]
    .into_iter()
    .map(|(flow, fault)| (flow as u8, fault as u8))
    .collect();
    let actual_na: HashSet<(u8, u8)> = cells
        .iter()
        .filter(|c| c.actual.starts_with("n/a"))
        .map(|c| (c.flow as u8, c.fault as u8))
        .collect();
    let planned_na: HashSet<(u8, u8)> = FLOWS
        .iter()
        .flat_map(|&flow| FAULTS.iter().map(move |&fault| (flow, fault)))
        .filter(|&(flow, fault)| matches!(plan(flow, fault), Plan::NotApplicable(_)))
        .map(|(flow, fault)| (flow as u8, fault as u8))
        .collect();
    let name = |&(flow, fault): &(u8, u8)| {
        let flow = FLOWS.iter().find(|f| **f as u8 == flow).unwrap();
        let fault = FAULTS.iter().find(|f| **f as u8 == fault).unwrap();
        format!("{} x {}", flow.name(), fault.name())
    };
    let names = |set: &HashSet<(u8, u8)>| {
        let mut v: Vec<String> = set.iter().map(name).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&planned_na),
        names(&expected_na),
        "the plan's n/a cells changed"
    );
    assert_eq!(
        names(&actual_na),
        names(&expected_na),
        "the n/a cells of the run differ from the plan:{table}"
    );
    let ran = cells.len() - actual_na.len();
    assert_eq!(ran, 63, "cells that ran:{table}");
}
