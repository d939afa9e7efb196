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
    pub invoicing: crate::invoicing::InvoicingConfig,
    /// The clock every rule reads: dates of KSeF and reference numbers, the issue-date rule,
    /// query ranges, token and URL expiry, certificate validity. Default: the machine's clock.
    /// Tests pass a [`ksef_time::ShiftedClock`] to run at 23:30 UTC, on DST switch nights or
    /// on New Year's Eve.
    pub clock: ksef_time::SharedClock,
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
            invoicing: crate::invoicing::InvoicingConfig::default(),
            clock: ksef_time::system_clock(),
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
    /// Replace the invoicing configuration.
    #[must_use]
    pub fn with_invoicing(mut self, invoicing: crate::invoicing::InvoicingConfig) -> Self {
        self.invoicing = invoicing;
        self
    }
}
