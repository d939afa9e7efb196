//! Simulator configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Configuration of a simulator instance. Start from [`SimConfig::default`] and adjust with the
/// `with_*` methods (or set the public fields directly).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Address to bind. Default `127.0.0.1:0` (a free port on loopback).
    pub bind: SocketAddr,
    /// Lifetime of an authentication challenge. Default 10 minutes.
    pub challenge_validity: Duration,
    /// Time an authentication operation stays at status 100 before it becomes 200 (or its
    /// failure code). Default 0 (the first status query already sees the final state).
    pub auth_processing_delay: Duration,
    /// Lifetime of the `authenticationToken` (operation token). Default 10 minutes.
    pub authentication_token_lifetime: Duration,
    /// Lifetime of an access token. Default 15 minutes.
    pub access_token_lifetime: Duration,
    /// Lifetime of a refresh token. Default 7 days.
    pub refresh_token_lifetime: Duration,
    /// Time a new KSeF token stays `Pending` before it becomes `Active`. Default 0.
    pub token_activation_delay: Duration,
    /// Whether rate limits are enforced. Default `true`.
    pub rate_limits_enabled: bool,
    /// Multiplier applied to every rate limit (2.0 doubles the allowed requests). Default 1.0.
    pub rate_limit_scale: f64,
    /// Lifetime of presigned upload/download URLs. Default 1 hour.
    pub presigned_url_validity: Duration,
    /// Directory for uploaded parts and built packages. Default: a fresh temporary directory
    /// removed when the simulator stops.
    pub data_dir: Option<PathBuf>,
    /// Trust the `X-Forwarded-For` header for the client IP (useful behind a proxy and in tests
    /// of per-IP limits). Default `false`.
    pub trust_forwarded_for: bool,
    /// Configuration of the invoicing part (sessions, invoices, UPO, retrieval).
    pub invoicing: InvoicingConfig,
    /// How often expired challenges, authentication operations, abandoned batch parts and
    /// expired export files are removed (real time). Default 30 seconds.
    pub retention_sweep_interval: Duration,
    /// Most challenges kept at once (the oldest are forgotten first). Default 100 000.
    pub max_challenges: usize,
    /// Most challenges kept at once for one client IP address (its oldest are forgotten
    /// first, so that one client's flood cannot push out the challenges of others).
    /// Default 1 000.
    pub max_challenges_per_ip: usize,
    /// Most authentication operations (and the authentication sessions they become) kept at
    /// once (the oldest are forgotten first, their tokens then answer 401). Default 100 000.
    pub max_auth_operations: usize,
    /// Most authentication operations of one context whose tokens were not redeemed yet (its
    /// oldest are forgotten first). Default 1 000.
    pub max_pending_auth_per_context: usize,
    /// The token of the HTTP control API (`/__sim/...`). Default: a fresh random token per run
    /// ([`crate::SimControl::control_token`] reads it).
    pub control_token: Option<ControlToken>,
    /// The clock every rule reads: dates of KSeF and reference numbers, the issue-date rule,
    /// query ranges, token and URL expiry, certificate validity, and when asynchronous work
    /// (an authentication, an invoice, a closed session, an export) leaves its interim status.
    /// Default: the machine's clock. Tests pass a [`ksef_time::ShiftedClock`] to run at 23:30
    /// UTC, on DST switch nights or on New Year's Eve; with a clock that stands still
    /// ([`ksef_time::FixedClock`]) processing waits until the clock is moved.
    pub clock: ksef_time::SharedClock,
    /// Configuration of KSeF certificates: the simulator's certificate authority, enrollment
    /// processing, validity, trusted roots.
    pub certificates: crate::certificates::CertificatesConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            challenge_validity: Duration::from_secs(600),
            auth_processing_delay: Duration::ZERO,
            authentication_token_lifetime: Duration::from_secs(600),
            access_token_lifetime: Duration::from_secs(900),
            refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            token_activation_delay: Duration::ZERO,
            rate_limits_enabled: true,
            rate_limit_scale: 1.0,
            presigned_url_validity: Duration::from_secs(3600),
            data_dir: None,
            trust_forwarded_for: false,
            invoicing: InvoicingConfig::default(),
            control_token: None,
            retention_sweep_interval: Duration::from_secs(30),
            max_challenges: 100_000,
            max_challenges_per_ip: 1_000,
            max_auth_operations: 100_000,
            max_pending_auth_per_context: 1_000,
            clock: ksef_time::system_clock(),
            certificates: crate::certificates::CertificatesConfig::default(),
        }
    }
}

impl SimConfig {
    /// Bind to this address (use port 0 for a free port).
    #[must_use]
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }
    /// Set the challenge lifetime.
    #[must_use]
    pub fn with_challenge_validity(mut self, d: Duration) -> Self {
        self.challenge_validity = d;
        self
    }
    /// Set how long authentication stays at status 100.
    #[must_use]
    pub fn with_auth_processing_delay(mut self, d: Duration) -> Self {
        self.auth_processing_delay = d;
        self
    }
    /// Set the access-token lifetime.
    #[must_use]
    pub fn with_access_token_lifetime(mut self, d: Duration) -> Self {
        self.access_token_lifetime = d;
        self
    }
    /// Set the refresh-token lifetime.
    #[must_use]
    pub fn with_refresh_token_lifetime(mut self, d: Duration) -> Self {
        self.refresh_token_lifetime = d;
        self
    }
    /// Set the authentication (operation) token lifetime.
    #[must_use]
    pub fn with_authentication_token_lifetime(mut self, d: Duration) -> Self {
        self.authentication_token_lifetime = d;
        self
    }
    /// Set how long new KSeF tokens stay `Pending`.
    #[must_use]
    pub fn with_token_activation_delay(mut self, d: Duration) -> Self {
        self.token_activation_delay = d;
        self
    }
    /// Enable or disable rate limiting.
    #[must_use]
    pub fn with_rate_limits(mut self, enabled: bool) -> Self {
        self.rate_limits_enabled = enabled;
        self
    }
    /// Scale every rate limit by `scale`.
    #[must_use]
    pub fn with_rate_limit_scale(mut self, scale: f64) -> Self {
        self.rate_limit_scale = scale;
        self
    }
    /// Set the presigned-URL lifetime.
    #[must_use]
    pub fn with_presigned_url_validity(mut self, d: Duration) -> Self {
        self.presigned_url_validity = d;
        self
    }
    /// Store parts and packages in this directory instead of a temporary one.
    #[must_use]
    pub fn with_data_dir(mut self, dir: PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }
    /// Trust `X-Forwarded-For` for the client IP.
    #[must_use]
    pub fn with_trust_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }
    /// Read the time from `clock` instead of the machine's clock.
    #[must_use]
    pub fn with_clock(mut self, clock: ksef_time::SharedClock) -> Self {
        self.clock = clock;
        self
    }
    /// Set how often expired state is removed.
    #[must_use]
    pub fn with_retention_sweep_interval(mut self, d: Duration) -> Self {
        self.retention_sweep_interval = d;
        self
    }
    /// Set the certificate configuration (authority seed, enrollment delay, trusted roots).
    #[must_use]
    pub fn with_certificates(mut self, c: crate::certificates::CertificatesConfig) -> Self {
        self.certificates = c;
        self
    }
    /// Set the most challenges kept at once.
    #[must_use]
    pub fn with_max_challenges(mut self, n: usize) -> Self {
        self.max_challenges = n;
        self
    }
    /// Set the most challenges kept at once for one client IP address.
    #[must_use]
    pub fn with_max_challenges_per_ip(mut self, n: usize) -> Self {
        self.max_challenges_per_ip = n;
        self
    }
    /// Set the most authentication operations kept at once.
    #[must_use]
    pub fn with_max_auth_operations(mut self, n: usize) -> Self {
        self.max_auth_operations = n;
        self
    }
    /// Set the most unredeemed authentication operations kept at once for one context.
    #[must_use]
    pub fn with_max_pending_auth_per_context(mut self, n: usize) -> Self {
        self.max_pending_auth_per_context = n;
        self
    }
    /// Require this token (instead of a random one) on the HTTP control API.
    #[must_use]
    pub fn with_control_token(mut self, token: ControlToken) -> Self {
        self.control_token = Some(token);
        self
    }
    /// Replace the invoicing configuration.
    #[must_use]
    pub fn with_invoicing(mut self, invoicing: InvoicingConfig) -> Self {
        self.invoicing = invoicing;
        self
    }
}

/// Configuration of the invoicing part (sessions, invoices, UPO, retrieval, exports).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvoicingConfig {
    /// Time an accepted invoice stays at status 150 before its KSeF number and
    /// `acquisitionDate` appear (and before it can be downloaded or queried).
    /// Default 200 ms.
    pub processing_delay: Duration,
    /// Time between `acquisitionDate` and `permanentStorageDate`. Default 0.
    pub permanent_storage_delay: Duration,
    /// Time a closed online session stays at 170 (a batch session at 150 after
    /// its processing) before its final status and UPO appear. Default 200 ms.
    pub session_close_delay: Duration,
    /// Lifetime of a session (`validUntil`). Default 12 hours.
    pub session_validity: Duration,
    /// Most invoices per session. Default 10 000.
    pub max_invoices_per_session: usize,
    /// Records a metadata query can reach before `isTruncated` (the real cap is 10 000).
    pub query_truncation_cap: usize,
    /// Most invoices in one export package (real: 10 000).
    pub export_max_invoices: usize,
    /// Size of export parts before encryption (real: 50 MB).
    pub export_part_size: u64,
    /// Invoice bytes after which an export package is cut (`isTruncated`). The real service cuts
    /// at 1 GB of compressed data; the simulator counts the invoices' own bytes. Default 1 GB.
    pub export_max_package_bytes: u64,
    /// Concurrent exports per context (real: 10).
    pub max_concurrent_exports: usize,
    /// How long a built export package can be downloaded before its status
    /// becomes 210 (expired). Default 7 days.
    pub export_package_validity: Duration,
    /// Documents per session UPO page (real and maximum: 10 000).
    pub upo_page_size: usize,
    /// Whether invoices with attachments (`Zalacznik`) are accepted in batch sessions
    /// of every taxpayer. Default `false`: as on TEST, only taxpayers enabled through
    /// `/testdata/attachment` may send them (online sessions never accept them).
    pub attachments_allowed: bool,
}

impl Default for InvoicingConfig {
    fn default() -> Self {
        Self {
            processing_delay: Duration::from_millis(200),
            permanent_storage_delay: Duration::ZERO,
            session_close_delay: Duration::from_millis(200),
            session_validity: Duration::from_secs(12 * 3600),
            max_invoices_per_session: 10_000,
            query_truncation_cap: 10_000,
            export_max_invoices: 10_000,
            export_part_size: 50_000_000,
            export_max_package_bytes: 1_000_000_000,
            max_concurrent_exports: 10,
            upo_page_size: 10_000,
            export_package_validity: Duration::from_secs(7 * 24 * 3600),
            attachments_allowed: false,
        }
    }
}

impl InvoicingConfig {
    /// Sets the invoice processing delay.
    #[must_use]
    pub fn with_processing_delay(mut self, d: Duration) -> Self {
        self.processing_delay = d;
        self
    }
    /// Sets the delay between acquisition and permanent storage.
    #[must_use]
    pub fn with_permanent_storage_delay(mut self, d: Duration) -> Self {
        self.permanent_storage_delay = d;
        self
    }
    /// Sets the session close delay.
    #[must_use]
    pub fn with_session_close_delay(mut self, d: Duration) -> Self {
        self.session_close_delay = d;
        self
    }
    /// Sets the metadata query truncation cap.
    #[must_use]
    pub fn with_query_truncation_cap(mut self, cap: usize) -> Self {
        self.query_truncation_cap = cap;
        self
    }
    /// Sets the most invoices in one export package.
    #[must_use]
    pub fn with_export_max_invoices(mut self, n: usize) -> Self {
        self.export_max_invoices = n;
        self
    }
    /// Sets the export part size (before encryption).
    #[must_use]
    pub fn with_export_part_size(mut self, bytes: u64) -> Self {
        self.export_part_size = bytes.max(16);
        self
    }
    /// Sets the invoice bytes after which an export package is cut.
    #[must_use]
    pub fn with_export_max_package_bytes(mut self, bytes: u64) -> Self {
        self.export_max_package_bytes = bytes;
        self
    }
    /// Sets the limit of concurrent exports per context.
    #[must_use]
    pub fn with_max_concurrent_exports(mut self, n: usize) -> Self {
        self.max_concurrent_exports = n;
        self
    }
    /// Sets the limit of invoices per session.
    #[must_use]
    pub fn with_max_invoices_per_session(mut self, n: usize) -> Self {
        self.max_invoices_per_session = n;
        self
    }
    /// Sets how long export packages stay downloadable.
    #[must_use]
    pub fn with_export_package_validity(mut self, d: Duration) -> Self {
        self.export_package_validity = d;
        self
    }
    /// Sets the number of documents per session UPO page (1..=10 000).
    #[must_use]
    pub fn with_upo_page_size(mut self, n: usize) -> Self {
        self.upo_page_size = n;
        self
    }
    /// Allows or forbids attachments in batch sessions.
    #[must_use]
    pub fn with_attachments_allowed(mut self, allowed: bool) -> Self {
        self.attachments_allowed = allowed;
        self
    }
}

/// A control token of the HTTP control API. Redacted in `Debug`, wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(zeroize::Zeroizing<String>);

impl ControlToken {
    /// A fixed token (for scripts that start the binary with `--control-token`); it must be
    /// 16 to 256 visible ASCII characters.
    pub fn new(token: impl Into<String>) -> Result<Self, crate::error::SimError> {
        let token = token.into();
        if !(16..=256).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(crate::error::SimError::Control(
                "the control token must be 16 to 256 visible ASCII characters".into(),
            ));
        }
        Ok(Self(zeroize::Zeroizing::new(token)))
    }

    /// A fresh random token (256 bits, hex).
    pub fn random() -> Self {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::fill(&mut *bytes);
        Self(zeroize::Zeroizing::new(hex::encode(*bytes)))
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Constant-time comparison with a presented token.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let ours = self.0.as_bytes();
        if ours.len() != presented.len() {
            return false;
        }
        ours.iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}
