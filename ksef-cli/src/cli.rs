//! The command line: global options and every command group (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Credential;

/// Command-line client for KSeF 2.0, Poland's national e-invoicing system.
///
/// Start with a profile (environment, context, credential), log in, then send and receive:
///
///   ksef profile add test --environment test --context Nip:5265877635 --credential token --secret env:KSEF_TOKEN
///   ksef auth login
///   ksef send online invoice.xml
///   ksef session list
///
/// Every command prints human text by default and one JSON document (JSON Lines for lists)
/// with --json. Exit codes: 0 ok, 1 failure, 2 usage, 3 partial (some invoices rejected),
/// 4 authentication, 5 KSeF unavailable or limits hit, 130 interrupted (Ctrl-C; an
/// interrupted `send batch` continues with --resume, `sync` with its next run).
#[derive(Debug, Parser)]
#[command(name = "ksef", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Profile to use (default: the profile set with `ksef profile use`).
    #[arg(long, global = true, env = "KSEF_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Print one JSON document (JSON Lines for lists) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print less: results and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log more to stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Confirm that a production profile may act (required where no terminal can ask).
    #[arg(long, global = true)]
    pub production: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage profiles: environment, context and credential source.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Log in and out, inspect and revoke authentication sessions.
    #[command(subcommand)]
    Auth(AuthCmd),
    /// Send invoices.
    #[command(subcommand)]
    Send(SendCmd),
    /// Check invoice files before sending (well-formedness, encoding, size, form); nothing is
    /// sent. Exits 0 when all pass, 1 when any fails.
    Validate(ValidateArgs),
    /// Download one invoice, or query invoice metadata with filters.
    #[command(subcommand)]
    Invoice(InvoiceCmd),
    /// Export invoices into a directory (KSeF builds an encrypted package; downloaded in
    /// parallel, every file checked against its metadata).
    #[command(subcommand)]
    Export(ExportCmd),
    /// Incrementally synchronise issued and received invoices into a local store (SQLite and
    /// the XML files), crash-safe: a run continues where the last one committed.
    Sync(SyncArgs),
    /// Query the local store that `ksef sync` fills.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Inspect sessions, their invoices and UPOs.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Create, list and revoke KSeF tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// KSeF certificates of the logged-in subject: CSR, enrollment, list, retrieve, revoke, and
    /// self-signed TEST identities. Private keys go to new files readable by you only.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Grant, list and revoke permissions in the profile's context (persons, entities, entity
    /// authorizations).
    #[command(subcommand)]
    Permissions(PermissionsCmd),
    /// Show the limits of the context and subject (session sizes, certificates).
    Limits,
    /// Show the effective API rate limits of the context.
    RateLimits,
    /// QR codes for invoices: KOD I (verification link) and KOD II (offline certificate).
    #[command(subcommand)]
    Qr(QrCmd),
    /// List the operations of the pinned KSeF API with the token each needs, its rate limits and
    /// required permissions.
    Operations {
        /// Only operations whose name or path contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Run the whole online flow against an embedded simulator: test identity, XAdES and
    /// KSeF-token authentication, invoices (one duplicate, two invalid), UPO, KOD I link.
    /// Exits non-zero if any step does not behave as expected.
    Demo {
        /// Use a running KSeF-compatible server at this base URL (with `/v2`) instead of the
        /// embedded simulator. Never production.
        #[arg(long)]
        url: Option<String>,
        /// Run as if the clock read this instant (RFC 3339, e.g. 2026-12-31T23:30:00Z); the
        /// clock then advances normally. Used to check the date rules at hard instants.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run the KSeF simulator and print its base URL (until Ctrl-C).
    Sim {
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Disable rate limiting.
        #[arg(long)]
        no_rate_limits: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages (one per command) to a directory.
    #[command(hide = true)]
    ManPages {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("not an RFC 3339 instant ({e}); example: 2026-12-31T23:30:00Z"))
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Add or replace a profile.
    Add(ProfileAdd),
    /// List the profiles.
    List,
    /// Make a profile the default.
    Use {
        /// Profile name.
        name: String,
    },
    /// Show a profile (the default one without NAME).
    Show {
        /// Profile name.
        name: Option<String>,
    },
    /// Remove a profile, its cached session and its sealed secret.
    Remove {
        /// Profile name.
        name: String,
    },
    /// Store the profile's secret (KSeF token or passphrase) sealed, read from a prompt without
    /// echo or from stdin; the profile's secret source becomes `sealed`.
    Secret {
        /// Profile name.
        name: String,
        /// Store it in the OS keyring instead (builds with the `keyring` feature).
        #[arg(long)]
        keyring: bool,
    },
}

#[derive(Debug, Args)]
pub struct ProfileAdd {
    /// Profile name (letters, digits, '-', '_', '.').
    pub name: String,
    /// test, demo, prd or a base URL ending in /v2 (a simulator: http://127.0.0.1:PORT/v2).
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: String,
    /// The context: TYPE:VALUE with TYPE Nip, InternalId, NipVatUe or PeppolId.
    #[arg(long, short = 'c', value_name = "TYPE:VALUE")]
    pub context: String,
    /// How `auth login` authenticates.
    #[arg(long, value_enum, default_value = "token")]
    pub credential: Credential,
    /// Where the KSeF token or the key passphrase comes from: env:NAME, file:PATH, prompt,
    /// sealed (see `ksef profile secret`) or keyring. Never the secret itself.
    #[arg(long, value_name = "SOURCE")]
    pub secret: Option<String>,
    /// Certificate (PEM, DER, or PKCS#12 .p12/.pfx) for credential `certificate`.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// Private key (PKCS#8 PEM or DER) for credential `certificate`.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Make it the default profile.
    #[arg(long)]
    pub default: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// Authenticate with the profile's credential and cache the session (sealed).
    Login,
    /// Show the cached session: context, token expiry.
    Status,
    /// Refresh the access token now.
    Refresh,
    /// Revoke the session at KSeF and delete the cache.
    Logout,
    /// List or revoke the context's authentication sessions.
    #[command(subcommand)]
    Sessions(AuthSessionsCmd),
}

#[derive(Debug, Subcommand)]
pub enum AuthSessionsCmd {
    /// List the authentication sessions (JSON Lines with --json).
    List,
    /// Revoke an authentication session by its reference number.
    Revoke {
        /// Reference number of the authentication operation.
        reference: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SendCmd {
    /// Send invoice files in an online session: open, send, wait for every outcome, close,
    /// list the UPO. Exits 3 when some invoices were rejected.
    Online(SendOnline),
    /// Send many invoices in a batch session: pre-flight, pack, encrypt, upload the parts in
    /// parallel, wait for processing, match every result to its file and check the UPO. Progress
    /// bars on a terminal; a table (or --json) of every file's outcome at the end. Exits 3 when
    /// some invoices were rejected or not sent. An interrupted batch continues with
    /// `--resume WORK_DIR`: no part is uploaded twice, no second session is opened.
    Batch(SendBatch),
}

#[derive(Debug, Args)]
pub struct SendBatch {
    /// Invoice XML files, or directories (their .xml files, recursively, sorted by path).
    #[arg(
        value_name = "DIR|FILE",
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub inputs: Vec<PathBuf>,
    /// Continue the batch prepared in this work directory (printed when it started).
    #[arg(long, value_name = "WORK_DIR")]
    pub resume: Option<PathBuf>,
    /// With --resume, when the first session can no longer be completed (upload URLs expired,
    /// session cancelled): send the same package in a new session. Invoices the first one
    /// registered come back as duplicates, never twice.
    #[arg(long, requires = "resume")]
    pub new_session: bool,
    /// Work directory for the encrypted parts and the state file (default: a new directory
    /// under the state directory).
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub work_dir: Option<PathBuf>,
    /// Where the key sealing the batch state comes from: env:NAME, file:PATH or prompt (Base64
    /// or hex of 32 bytes). Default: a random key per batch, kept sealed by ksef.
    #[arg(long, value_name = "SOURCE")]
    pub state_key: Option<String>,
    /// Form of the invoices.
    #[arg(long, value_enum, default_value = "fa3", conflicts_with = "resume")]
    pub form: Form,
    /// Archive format.
    #[arg(long, value_enum, default_value = "zip", conflicts_with = "resume")]
    pub compression: BatchCompression,
    /// Largest part before encryption: bytes, or with a unit (kB, MB, KiB, MiB); at most 100MB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "100MB", conflicts_with = "resume")]
    pub part_size: u64,
    /// Parts uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
    /// Mark the invoices as issued offline (offline24, offline or emergency mode).
    #[arg(long, conflicts_with = "resume")]
    pub offline: bool,
    /// Write the session UPO pages into this directory (UPO-REFERENCE.xml).
    #[arg(long, value_name = "DIR")]
    pub upo_dir: Option<PathBuf>,
    /// Keep the work directory once the results are in (default: removed).
    #[arg(long)]
    pub keep_work_dir: bool,
}

/// Archive formats of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchCompression {
    /// Zip.
    Zip,
    /// A tar archive compressed with gzip.
    TarGz,
}

/// A size in bytes: digits, optionally followed by k/kB (1000), M/MB, KiB (1024) or MiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 1000000, 512KiB, 20MB)"))?;
    let mul: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1_024,
        "m" | "mb" => 1_000_000,
        "mib" => 1_048_576,
        other => return Err(format!("unknown unit {other:?} (use kB, MB, KiB or MiB)")),
    };
    n.checked_mul(mul)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

#[derive(Debug, Args)]
pub struct SendOnline {
    /// Invoice XML files (FA (3) by default).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Form of the invoices.
    #[arg(long, value_enum, default_value = "fa3")]
    pub form: Form,
    /// Mark the invoices as issued offline (offline24, offline or emergency mode).
    #[arg(long)]
    pub offline: bool,
    /// Leave the session open (no UPO yet); close it later by sending more or letting it expire.
    #[arg(long)]
    pub keep_open: bool,
}

/// Invoice forms KSeF accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Form {
    /// FA (3), the structured VAT invoice.
    Fa3,
    /// FA_RR (1), invoices of flat-rate farmers.
    FaRr1,
    /// PEF (3), Peppol invoices.
    Pef3,
    /// PEF_KOR (3), Peppol corrections.
    PefKor3,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Invoice XML files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// List sessions (JSON Lines with --json).
    List(SessionList),
    /// Status of a session.
    Status {
        /// Session reference number.
        reference: String,
    },
    /// The invoices of a session with their statuses (JSON Lines with --json).
    Invoices {
        /// Session reference number.
        reference: String,
        /// Only the rejected invoices.
        #[arg(long)]
        failed: bool,
    },
    /// Download a UPO (x-ms-meta-hash verified): the session's, or one invoice's.
    Upo(SessionUpo),
}

#[derive(Debug, Args)]
pub struct SessionList {
    /// Session kind.
    #[arg(long = "type", value_enum, default_value = "online")]
    pub kind: SessionKind,
    /// Only sessions in this state.
    #[arg(long, value_enum)]
    pub status: Vec<SessionState>,
    /// Created on or after this Warsaw business date (YYYY-MM-DD) or instant (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// At most this many sessions.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionKind {
    Online,
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionState {
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Args)]
pub struct SessionUpo {
    /// Session reference number.
    pub reference: String,
    /// The UPO of this invoice (invoice reference number).
    #[arg(long, conflicts_with_all = ["ksef_number", "page"])]
    pub invoice: Option<String>,
    /// The UPO of the invoice with this KSeF number.
    #[arg(long, conflicts_with = "page")]
    pub ksef_number: Option<String>,
    /// This page of the session UPO (default: every page).
    #[arg(long, value_name = "UPO_REFERENCE")]
    pub page: Option<String>,
    /// Write the XML here (pages of the session UPO get -1, -2, ... before the extension);
    /// default: stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a KSeF token (needs a session opened with a certificate) and store it: sealed for
    /// a profile, or in a new file readable by you only. Never printed.
    Create(TokenCreate),
    /// List the context's KSeF tokens (JSON Lines with --json).
    List {
        /// Only tokens in this status.
        #[arg(long, value_enum)]
        status: Vec<TokenState>,
    },
    /// Status of one KSeF token.
    Status {
        /// Token reference number.
        reference: String,
    },
    /// Revoke a KSeF token.
    Revoke {
        /// Token reference number.
        reference: String,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("dest").required(true).multiple(true).args(["to_profile", "output"])))]
pub struct TokenCreate {
    /// Description (5–256 characters).
    #[arg(long)]
    pub description: String,
    /// Permissions of the token.
    #[arg(long = "permission", value_enum, required = true)]
    pub permissions: Vec<TokenPermission>,
    /// Seal the token for this profile (created like the current one, credential token, secret
    /// source `sealed`).
    #[arg(long, value_name = "PROFILE")]
    pub to_profile: Option<String>,
    /// Write the token to this new file (mode 0600; an existing file is never overwritten).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenPermission {
    InvoiceRead,
    InvoiceWrite,
    CredentialsRead,
    CredentialsManage,
    SubunitManage,
    EnforcementOperations,
    Introspection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenState {
    Pending,
    Active,
    Revoking,
    Revoked,
    Failed,
}

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Write a new private key and a PKCS#10 request for the subject KSeF reads from the
    /// certificate you logged in with (enrollment data); submit it with `ksef cert enroll --csr`.
    Csr(CertCsr),
    /// Enroll a KSeF certificate: by default a new key and CSR from the enrollment data,
    /// submitted, waited for and written with its key; or submit an existing `--csr`.
    Enroll(CertEnroll),
    /// List the subject's KSeF certificates (JSON Lines with --json), newest first.
    List(CertList),
    /// Download certificates by serial number (PEM files, or the PEM on stdout).
    Retrieve {
        /// Serial numbers (16 hex digits; at most 10).
        #[arg(required = true, num_args = 1..=10)]
        serials: Vec<String>,
        /// Write each certificate to DIR/SERIAL.pem instead of stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Revoke a certificate: it can no longer authenticate nor sign KOD II links.
    Revoke {
        /// Serial number (16 hex digits).
        serial: String,
        /// Why.
        #[arg(long, value_enum, default_value = "unspecified")]
        reason: CertRevocationReason,
    },
    /// Make a self-signed TEST certificate (TEST accepts them; a fresh NIP makes you the
    /// owner): personal (TINPL-NIP or PNOPL-PESEL) or a company seal (VATPL-NIP). Offline.
    SelfSigned(CertSelfSigned),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertKeyAlgorithm {
    /// EC P-256 (recommended by KSeF).
    Ec,
    /// RSA 2048.
    Rsa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertType {
    Authentication,
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertStatus {
    Active,
    Blocked,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertRevocationReason {
    Unspecified,
    Superseded,
    KeyCompromise,
}

#[derive(Debug, Args)]
pub struct CertCsr {
    /// Write the request here (PEM; DER when the name ends with .der). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub csr_out: PathBuf,
    /// Write the new private key here (PKCS#8 PEM, mode 0600). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub key_out: PathBuf,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ec")]
    pub algorithm: CertKeyAlgorithm,
}

#[derive(Debug, Args)]
pub struct CertEnroll {
    /// The certificate's own name (5–100 characters: letters, digits, _, -, space).
    #[arg(long)]
    pub name: String,
    /// What the certificate is for.
    #[arg(long = "type", value_enum)]
    pub kind: CertType,
    /// Submit this request (PEM or DER) instead of making a new key and request.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["algorithm", "key_out"])]
    pub csr: Option<PathBuf>,
    /// Key algorithm of the new key.
    #[arg(long, value_enum)]
    pub algorithm: Option<CertKeyAlgorithm>,
    /// Write the issued certificate here (PEM; DER when the name ends with .der).
    #[arg(long, value_name = "FILE")]
    pub cert_out: PathBuf,
    /// Write the new private key here (PKCS#8 PEM, mode 0600); required without --csr.
    #[arg(long, value_name = "FILE", required_unless_present = "csr")]
    pub key_out: Option<PathBuf>,
    /// Start of validity (RFC 3339); from issuance when absent.
    #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
    pub valid_from: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct CertList {
    /// Only this type.
    #[arg(long = "type", value_enum)]
    pub kind: Option<CertType>,
    /// Only this status.
    #[arg(long, value_enum)]
    pub status: Option<CertStatus>,
    /// Only names containing this text.
    #[arg(long)]
    pub name: Option<String>,
    /// Only this serial number.
    #[arg(long)]
    pub serial: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["nip", "pesel"])))]
pub struct CertSelfSigned {
    /// NIP of the subject (personal: serialNumber TINPL-NIP; with --organization a seal:
    /// organizationIdentifier VATPL-NIP).
    #[arg(long)]
    pub nip: Option<String>,
    /// PESEL of the subject (personal: serialNumber PNOPL-PESEL).
    #[arg(long, conflicts_with = "organization")]
    pub pesel: Option<String>,
    /// Make a company seal of this organization name instead of a personal certificate.
    #[arg(long)]
    pub organization: Option<String>,
    /// Given name and surname of a personal certificate.
    #[arg(long, num_args = 2, value_names = ["GIVEN_NAME", "SURNAME"], default_values = ["Jan", "Kowalski"])]
    pub person: Vec<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ec")]
    pub algorithm: CertKeyAlgorithm,
    /// Write the certificate here (PEM; DER when the name ends with .der). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub cert_out: PathBuf,
    /// Write the private key here (PKCS#8 PEM, mode 0600). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub key_out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum QrCmd {
    /// KOD I: the verification link of an invoice (seller NIP, issue date, hash of the exact
    /// bytes), printed, or drawn as PNG/SVG with its label.
    Kod1(QrKod1),
    /// KOD II: the certificate link of an offline invoice, signed with a KSeF offline
    /// certificate's key; label CERTYFIKAT.
    Kod2(QrKod2),
}

#[derive(Debug, Args)]
pub struct QrOutput {
    /// Write a PNG image with the label under the code.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Write an SVG image with the label under the code.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// QR host environment when no profile is selected: test, demo or prd.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
}

#[derive(Debug, Args)]
pub struct QrKod1 {
    /// Invoice XML file.
    pub file: PathBuf,
    /// Label: the invoice's KSeF number (default OFFLINE, for an invoice not yet in KSeF).
    #[arg(long, value_name = "KSEF_NUMBER")]
    pub ksef_number: Option<String>,
    #[command(flatten)]
    pub output: QrOutput,
}

#[derive(Debug, Args)]
pub struct QrKod2 {
    /// Invoice XML file.
    pub file: PathBuf,
    /// The offline certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The context (TYPE:VALUE); default: the profile's.
    #[arg(long, value_name = "TYPE:VALUE")]
    pub context: Option<String>,
    #[command(flatten)]
    pub output: QrOutput,
}

#[derive(Debug, Subcommand)]
pub enum InvoiceCmd {
    /// Download an invoice's XML by its KSeF number, exactly as stored (checked against the
    /// hash KSeF sends). To stdout, or to a file with -o.
    Get {
        /// The KSeF number.
        ksef_number: String,
        /// Write the XML here (a new file, or an existing one with --force).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite an existing output file.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// Query invoice metadata: every page, long ranges split into the windows KSeF allows, each
    /// invoice once. A table, or JSON Lines (the API's InvoiceMetadata) with --json. KSeF
    /// allows few queries an hour: for bulk retrieval use `ksef export run` or `ksef sync`.
    Query(Box<InvoiceQueryArgs>),
}

/// The role the context's subject plays on the invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Invoices the context issued (Subject1).
    Seller,
    /// Invoices the context received (Subject2).
    Buyer,
    /// Invoices naming the context as a third party (Subject3).
    ThirdParty,
    /// Invoices of an authorised subject (SubjectAuthorized).
    Authorized,
}

/// Which date a range applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateKind {
    /// The issue date (P_1).
    Issue,
    /// When KSeF accepted the invoice.
    Invoicing,
    /// When KSeF stored it permanently (stable: the one for incremental retrieval).
    PermanentStorage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AmountKind {
    Gross,
    Net,
    Vat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryForm {
    Fa,
    Pef,
    FaRr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InvoicingModeArg {
    Online,
    Offline,
}

/// Filters of invoice queries and exports.
#[derive(Debug, Args)]
pub struct InvoiceFilters {
    /// The context's role on the invoices.
    #[arg(long, value_enum, default_value = "buyer")]
    pub role: Role,
    /// Which date --from and --to apply to.
    #[arg(long, value_enum, default_value = "issue")]
    pub date_type: DateKind,
    /// From this Warsaw business date (YYYY-MM-DD) or instant (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Up to this Warsaw business date (inclusive) or instant; default: now.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Seller NIP.
    #[arg(long, value_name = "NIP")]
    pub seller_nip: Option<String>,
    /// Buyer NIP.
    #[arg(long, value_name = "NIP")]
    pub buyer_nip: Option<String>,
    /// One invoice by its KSeF number.
    #[arg(long, value_name = "KSEF_NUMBER")]
    pub ksef_number: Option<String>,
    /// The seller's invoice number (exact).
    #[arg(long, value_name = "NUMBER")]
    pub invoice_number: Option<String>,
    /// Currency code (repeatable), e.g. PLN.
    #[arg(long = "currency", value_name = "CODE")]
    pub currencies: Vec<String>,
    /// What --amount-from/--amount-to compare.
    #[arg(long, value_enum, default_value = "gross")]
    pub amount_type: AmountKind,
    /// Smallest amount.
    #[arg(long, value_name = "AMOUNT")]
    pub amount_from: Option<f64>,
    /// Largest amount.
    #[arg(long, value_name = "AMOUNT")]
    pub amount_to: Option<f64>,
    /// Document form.
    #[arg(long = "form", value_enum)]
    pub form: Option<QueryForm>,
    /// Invoice type as KSeF names it (repeatable): Vat, Zal, Kor, Roz, Upr, KorZal, KorRoz,
    /// VatPef, VatPefSp, KorPef, VatRr, KorVatRr.
    #[arg(long = "invoice-type", value_name = "TYPE")]
    pub invoice_types: Vec<String>,
    /// Issued online or offline.
    #[arg(long, value_enum)]
    pub mode: Option<InvoicingModeArg>,
}

#[derive(Debug, Args)]
pub struct InvoiceQueryArgs {
    #[command(flatten)]
    pub filters: InvoiceFilters,
    /// Newest first.
    #[arg(long)]
    pub desc: bool,
    /// Stop after this many invoices.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Export the invoices the filters select into a directory: {ksefNumber}.xml for each
    /// (checked against its metadata) and _metadata.json. Says when KSeF truncated the package
    /// and where to continue.
    Run(ExportRunArgs),
}

#[derive(Debug, Args)]
pub struct ExportRunArgs {
    #[command(flatten)]
    pub filters: InvoiceFilters,
    /// Target directory (created if missing).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    /// Only the metadata (_metadata.json), no invoice files.
    #[arg(long)]
    pub metadata_only: bool,
    /// Parts downloaded at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The store's directory (default: the profile's store under the data directory).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Where a role without stored invoices starts: a Warsaw business date (YYYY-MM-DD) or an
    /// instant (default: 30 days ago).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Roles to synchronise (repeatable; default: seller and buyer).
    #[arg(long = "role", value_enum)]
    pub roles: Vec<Role>,
    /// One run, then exit (the default).
    #[arg(long, conflicts_with = "every")]
    pub once: bool,
    /// Run again after this pause until interrupted (e.g. 15m, 1h, 90s).
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub every: Option<std::time::Duration>,
    /// At most this many exports per run.
    #[arg(long, value_name = "N")]
    pub max_windows: Option<u32>,
}

/// `90s`, `15m`, `2h` or plain seconds; at least one second.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not an interval (examples: 90s, 15m, 1h)"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        other => return Err(format!("unknown unit {other:?} (use s, m or h)")),
    };
    match secs {
        Some(v) if v > 0 => Ok(std::time::Duration::from_secs(v)),
        _ => Err(format!("{s:?} must be at least one second")),
    }
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Invoices in the store, in order of arrival: a table, or JSON Lines with --json.
    Query(StoreQueryArgs),
    /// What the store holds: invoices and, per role, where the next sync starts.
    Status {
        /// The store's directory (default: the profile's store).
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct StoreQueryArgs {
    /// The store's directory (default: the profile's store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Seller NIP.
    #[arg(long, value_name = "NIP")]
    pub seller_nip: Option<String>,
    /// Buyer NIP.
    #[arg(long, value_name = "NIP")]
    pub buyer_nip: Option<String>,
    /// Issued on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub issued_from: Option<chrono::NaiveDate>,
    /// Issued on or before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub issued_to: Option<chrono::NaiveDate>,
    /// Only invoices stored after this sequence number ("seq" of an earlier result).
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
    /// At most this many.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum PermissionsCmd {
    /// Grant permissions and wait until KSeF has applied them. A grant counts from the holder's
    /// next login.
    #[command(subcommand)]
    Grant(GrantCmd),
    /// List permissions, every page: a table, or JSON Lines (the API's objects) with --json.
    #[command(subcommand)]
    List(PermissionsListCmd),
    /// Revoke a permission by its id (the ID column of `ksef permissions list`) and wait until
    /// KSeF has applied it.
    Revoke {
        /// The permission's id.
        id: String,
        /// The id is an entity authorization's (`ksef permissions list authorizations`).
        #[arg(long)]
        authorization: bool,
    },
    /// The status of a grant or revocation operation.
    Status {
        /// The operation's reference number.
        reference: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// Permissions of a person (identified by NIP, PESEL or certificate fingerprint) in the
    /// context.
    Person(GrantPerson),
    /// Invoice permissions of another entity (by NIP) in the context.
    Entity(GrantEntity),
    /// An entity authorization: self-invoicing, RR invoicing, tax representative or PEF
    /// invoicing on the context's behalf.
    Authorization(GrantAuthorization),
}

#[derive(Debug, Args)]
pub struct GrantPerson {
    /// The person: Nip:VALUE, Pesel:VALUE or Fingerprint:SHA256_HEX.
    #[arg(long, value_name = "TYPE:VALUE")]
    pub subject: String,
    /// A permission to grant (repeatable).
    #[arg(
        long = "permission",
        value_name = "PERMISSION",
        value_enum,
        required = true
    )]
    pub permissions: Vec<PersonPermissionArg>,
    /// Description (5–256 characters).
    #[arg(long)]
    pub description: String,
    /// The person's first name.
    #[arg(long)]
    pub first_name: String,
    /// The person's last name.
    #[arg(long)]
    pub last_name: String,
    /// For a Fingerprint subject: the person's Nip:VALUE or Pesel:VALUE.
    #[arg(long, value_name = "TYPE:VALUE")]
    pub person_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct GrantEntity {
    /// The entity's NIP.
    #[arg(long, value_name = "NIP")]
    pub nip: String,
    /// A permission to grant (repeatable).
    #[arg(
        long = "permission",
        value_name = "PERMISSION",
        value_enum,
        required = true
    )]
    pub permissions: Vec<EntityPermissionArg>,
    /// The entity may pass the permissions on.
    #[arg(long)]
    pub can_delegate: bool,
    /// The entity's full name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Description (5–256 characters).
    #[arg(long)]
    pub description: String,
}

#[derive(Debug, Args)]
pub struct GrantAuthorization {
    /// The authorized entity: Nip:VALUE or PeppolId:VALUE.
    #[arg(long, value_name = "TYPE:VALUE")]
    pub subject: String,
    /// The authorization.
    #[arg(long, value_enum)]
    pub permission: AuthorizationArg,
    /// The entity's full name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Description (5–256 characters).
    #[arg(long)]
    pub description: String,
}

#[derive(Debug, Subcommand)]
pub enum PermissionsListCmd {
    /// Permissions of persons in the context (default: all in force; --granted: those this
    /// login granted).
    Persons {
        /// Only the permissions granted by the logged-in subject in this context.
        #[arg(long)]
        granted: bool,
        /// Only permissions in this state.
        #[arg(long, value_enum)]
        state: Option<PermissionStateArg>,
        /// Only these permissions (repeatable).
        #[arg(long = "permission", value_name = "PERMISSION", value_enum)]
        permissions: Vec<PersonPermissionArg>,
    },
    /// Invoice permissions other entities granted to the context's entity (to work on their
    /// invoices). What this context granted to entities is listed by `persons`.
    Entities,
    /// Entity authorizations the context granted (default) or received (--received).
    Authorizations {
        /// Those granted to the context instead.
        #[arg(long)]
        received: bool,
    },
    /// The logged-in subject's own permissions.
    Mine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PersonPermissionArg {
    InvoiceRead,
    InvoiceWrite,
    CredentialsRead,
    CredentialsManage,
    Introspection,
    SubunitManage,
    EnforcementOperations,
    CollectiveIdentifierManage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntityPermissionArg {
    InvoiceRead,
    InvoiceWrite,
    CollectiveIdentifierManage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthorizationArg {
    SelfInvoicing,
    RrInvoicing,
    TaxRepresentative,
    PefInvoicing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionStateArg {
    Active,
    Inactive,
}
