//! The [`Ksef`] client: environment, HTTP client, public-key cache, rate limiter, retries and the
//! single place every API call goes through.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ksef_api::operations::{OperationMeta, op};
use ksef_api::{
    ByteStream, DecodeError as _, Environment, KsefClient, KsefError, KsefHeaders as _, RawError,
    ResponseValue, SystemWarning,
};
use ksef_crypto::qr::QrEnvironment;
use ksef_crypto::{CertificateUsage, PublicKeyCertificate};
use ksef_time::SharedClock;
use tracing::Instrument as _;

use crate::error::{FlowError, KEY_WITHDRAWN, Result, boxed};
use crate::limiter::{RateLimitMode, RateLimiter};
use crate::lock::lock;
use crate::retry::{Decision, Idempotency, RetryPolicy};
use crate::wait::PollSchedule;

/// Context key of calls made before authentication (limited per IP by KSeF).
pub(crate) const ANONYMOUS: &str = "-";

/// A warning of the `X-System-Warning` header, with the operation that received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Operation name.
    pub operation: &'static str,
    /// The warning.
    pub warning: SystemWarning,
}

/// Builder of a [`Ksef`] client.
#[derive(Debug)]
pub struct KsefBuilder {
    environment: Environment,
    http: Option<reqwest::Client>,
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    retry: RetryPolicy,
    rate_limit_mode: RateLimitMode,
    rate_limit_margin: Duration,
    qr: Option<QrEnvironment>,
    poll_timeout: Duration,
    clock: SharedClock,
}

impl KsefBuilder {
    /// Uses the caller's HTTP client (its timeouts, proxy and TLS settings). Call
    /// [`install_crypto_provider`](crate::install_crypto_provider) before building it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// `User-Agent` of the built HTTP client (default `ksef-rs/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Connect timeout of the built HTTP client (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Longest pause between two reads of a response (default 60 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Retry settings.
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }

    /// How requests are rate limited on the client side (default [`RateLimitMode::Effective`]).
    pub fn rate_limit_mode(mut self, m: RateLimitMode) -> Self {
        self.rate_limit_mode = m;
        self
    }

    /// Safety margin added to every rate-limit window (default 50 ms).
    pub fn rate_limit_margin(mut self, d: Duration) -> Self {
        self.rate_limit_margin = d;
        self
    }

    /// QR verification host for KOD I links (default: the environment's; TEST for a custom URL).
    pub fn qr_environment(mut self, q: QrEnvironment) -> Self {
        self.qr = Some(q);
        self
    }

    /// Longest wait for an asynchronous operation (authentication, invoice processing, session
    /// closing). Default 5 minutes.
    pub fn poll_timeout(mut self, d: Duration) -> Self {
        self.poll_timeout = d;
        self
    }

    /// The clock the client reads (default: the machine's). It decides which public-key
    /// certificate is valid, when the access token needs refreshing, the `SigningTime` of XAdES
    /// signatures and every KSeF business date the client derives. Tests pass a
    /// [`ksef_time::ShiftedClock`] shared with the simulator to run at any instant.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Ksef> {
        let mut b = KsefClient::builder(self.environment.clone())
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout);
        if let Some(h) = self.http {
            b = b.http_client(h);
        }
        let api = b.build().map_err(|e| FlowError::Setup(e.to_string()))?;
        let qr = self.qr.unwrap_or(match &self.environment {
            Environment::Demo => QrEnvironment::Demo,
            Environment::Production => QrEnvironment::Production,
            _ => QrEnvironment::Test,
        });
        Ok(Ksef {
            inner: Arc::new(Inner {
                environment: self.environment,
                api,
                retry: self.retry,
                limiter: RateLimiter::new(self.rate_limit_mode, self.rate_limit_margin),
                keys: Mutex::new(None),
                warnings: Mutex::new(Vec::new()),
                qr,
                poll_timeout: self.poll_timeout,
                clock: self.clock,
                rate_limited: AtomicU64::new(0),
                transient_retries: AtomicU64::new(0),
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    environment: Environment,
    api: KsefClient,
    retry: RetryPolicy,
    limiter: RateLimiter,
    keys: Mutex<Option<Vec<PublicKeyCertificate>>>,
    warnings: Mutex<Vec<Warning>>,
    qr: QrEnvironment,
    poll_timeout: Duration,
    clock: SharedClock,
    rate_limited: AtomicU64,
    transient_retries: AtomicU64,
}

/// A KSeF client: one environment, one connection pool, one rate limiter. Cheap to clone.
///
/// There is no default environment: production must be chosen explicitly.
#[derive(Debug, Clone)]
pub struct Ksef {
    inner: Arc<Inner>,
}

impl Ksef {
    /// Starts building a client for `environment` (TEST, DEMO, production or any base URL with
    /// its `/v2` stem, e.g. a local `ksef-sim`).
    pub fn builder(environment: Environment) -> KsefBuilder {
        KsefBuilder {
            environment,
            http: None,
            user_agent: format!("ksef-rs/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            rate_limit_mode: RateLimitMode::default(),
            rate_limit_margin: Duration::from_millis(50),
            qr: None,
            poll_timeout: Duration::from_secs(300),
            clock: ksef_time::system_clock(),
        }
    }

    /// The clock the client reads.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The current instant on the client's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// The KSeF business date (Europe/Warsaw) of the current instant on the client's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.inner.clock.today()
    }

    /// The environment.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// The raw API client (no tokens).
    pub fn api(&self) -> &KsefClient {
        &self.inner.api
    }

    /// The rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// QR verification host used for KOD I links.
    pub fn qr_environment(&self) -> &QrEnvironment {
        &self.inner.qr
    }

    /// The retry settings.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// How this client polls a status: the status curve, up to the poll timeout.
    pub(crate) fn poll_schedule(&self) -> PollSchedule {
        PollSchedule::status(self.inner.poll_timeout)
    }

    /// How many 429 answers this client has received.
    pub fn rate_limited_responses(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::Relaxed)
    }

    /// How many calls were repeated after a transient failure (502/503/504, transport).
    pub fn transient_retries(&self) -> u64 {
        self.inner.transient_retries.load(Ordering::Relaxed)
    }

    /// Every `X-System-Warning` received so far.
    pub fn system_warnings(&self) -> Vec<Warning> {
        lock(&self.inner.warnings).clone()
    }

    fn note_warnings(&self, operation: &'static str, headers: &reqwest::header::HeaderMap) {
        let ws = headers.system_warnings();
        if ws.is_empty() {
            return;
        }
        let mut all = lock(&self.inner.warnings);
        for w in ws {
            tracing::warn!(operation, code = ?w.code, message = %w.message, "KSeF system warning");
            if all.len() < 1000 {
                all.push(Warning {
                    operation,
                    warning: w,
                });
            }
        }
    }

    /// Runs one API operation: waits for the rate limiter, sends, decodes the error, honours
    /// `Retry-After` on 429 and retries transient failures of calls that are safe to repeat.
    /// `make` builds and sends the request anew for each attempt.
    pub(crate) async fn execute<'s, T, F, Fut>(
        &'s self,
        op: &'static OperationMeta,
        context: &'s str,
        idempotency: Idempotency,
        mut make: F,
    ) -> std::result::Result<ResponseValue<T>, KsefError>
    where
        T: Send,
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError<ByteStream>>>,
    {
        let operation = op.name;
        let span = tracing::debug_span!("ksef_call", operation, attempts = tracing::field::Empty);
        async move {
            let mut attempts = 0u32;
            let mut rate_limited = 0u32;
            loop {
                attempts += 1;
                let permit = self.inner.limiter.acquire(context, op).await;
                let started = Instant::now();
                let result = make().await.decode_error().await;
                drop(permit);
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::Span::current().record("attempts", attempts);
                match result {
                    Ok(v) => {
                        self.note_warnings(operation, v.headers());
                        tracing::debug!(status = v.status().as_u16(), elapsed_ms, "ok");
                        return Ok(v);
                    }
                    Err(e) => {
                        if let Some(r) = e.response() {
                            self.note_warnings(operation, &r.headers);
                            if r.status.as_u16() == 429 {
                                self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        let decision = self.inner.retry.decide(
                            &e,
                            idempotency,
                            attempts - rate_limited,
                            rate_limited,
                        );
                        match decision {
                            Decision::RateLimited(wait) => {
                                rate_limited += 1;
                                tracing::warn!(
                                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                                    "429 Too Many Requests; waiting Retry-After"
                                );
                                self.inner.limiter.block(context, op, wait);
                                tokio::time::sleep(wait).await;
                            }
                            Decision::Transient(wait) => {
                                self.inner.transient_retries.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(
                                    error = %e,
                                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                                    "transient failure; retrying"
                                );
                                tokio::time::sleep(wait).await;
                            }
                            Decision::Fail => {
                                tracing::debug!(error = %e, elapsed_ms, "failed");
                                return Err(e);
                            }
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Fetches the public-key certificates and replaces the cache.
    pub async fn refresh_public_keys(&self) -> Result<Vec<PublicKeyCertificate>> {
        let api = self.api();
        let list = self
            .execute(
                op::PUBLIC_KEY_CERTIFICATES,
                ANONYMOUS,
                Idempotency::Safe,
                || api.public_key_certificates().send(),
            )
            .await
            .map_err(|e| FlowError::PublicKeys { source: boxed(e) })?
            .into_inner();
        let mut parsed = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let usage = c
                .usage
                .iter()
                .map(|u| CertificateUsage::parse(&u.to_string()))
                .collect();
            match PublicKeyCertificate::new(&c.certificate, c.valid_from, c.valid_to, usage) {
                Ok(p) => parsed.push(p),
                Err(e) => {
                    tracing::warn!(index = i, error = %e, "skipping an unparsable public-key certificate")
                }
            }
        }
        tracing::debug!(count = parsed.len(), "public-key certificates fetched");
        *lock(&self.inner.keys) = Some(parsed.clone());
        Ok(parsed)
    }

    /// The certificate to use now for `usage` (cached; fetched on first use): valid now, the
    /// latest `validFrom` among several.
    pub async fn public_key(&self, usage: CertificateUsage) -> Result<PublicKeyCertificate> {
        let cached = lock(&self.inner.keys).clone();
        let list = match cached {
            Some(l) => l,
            None => self.refresh_public_keys().await?,
        };
        match PublicKeyCertificate::select(&list, &usage, self.now()) {
            Ok(c) => Ok(c.clone()),
            Err(_) => {
                // Maybe the cache is stale (a key expired, a new one was published).
                let list = self.refresh_public_keys().await?;
                PublicKeyCertificate::select(&list, &usage, self.now())
                    .cloned()
                    .map_err(|source| FlowError::Crypto {
                        step: "selecting a public-key certificate",
                        source,
                    })
            }
        }
    }

    /// Runs `call` with the certificate to use now for `usage`. When KSeF answers 21470 (the key
    /// was withdrawn), the certificates are fetched anew and `call` runs once more with the
    /// current one; a second 21470 is returned as it is.
    pub(crate) async fn with_public_key<T, F, Fut>(
        &self,
        usage: CertificateUsage,
        mut call: F,
    ) -> Result<T>
    where
        F: FnMut(PublicKeyCertificate) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let cert = self.public_key(usage.clone()).await?;
        match call(cert).await {
            Err(e) if e.has_code(KEY_WITHDRAWN) => {
                tracing::warn!(
                    %usage,
                    "public key withdrawn (21470); refetching the certificates and retrying once"
                );
                self.refresh_public_keys().await?;
                let cert = self.public_key(usage).await?;
                call(cert).await
            }
            other => other,
        }
    }
}
