//! `ksef-sim`: a faithful local KSeF 2.0 server for offline development and tests.
//!
//! It serves the API under `/v2` (base URL `http://127.0.0.1:PORT/v2`), checks the real
//! cryptography (RSA-OAEP, AES-256-CBC, XAdES signatures), keeps per-context state, enforces the
//! spec's rate limits and can inject faults. It is an independent implementation: it uses crypto
//! primitives directly and shares no code with the client crates.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ksef_sim::SimError> {
//! let sim = ksef_sim::KsefSim::start(ksef_sim::SimConfig::default()).await?;
//! let base = sim.base_url(); // http://127.0.0.1:PORT/v2
//! # let _ = base;
//! # Ok(()) }
//! ```

pub(crate) mod auth;
pub(crate) mod blocking;
pub(crate) mod certificates;
pub(crate) mod clock;
pub(crate) mod collective_identifiers;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod error;
pub(crate) mod fallback;
pub(crate) mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod http;
pub(crate) mod identifiers;
pub(crate) mod inspect;
pub(crate) mod invoicing;
pub(crate) mod jwt;
pub(crate) mod keys;
pub(crate) mod limits;
pub mod ops;
pub(crate) mod peppol;
pub(crate) mod permissions;
pub(crate) mod pipeline;
pub(crate) mod presign;
pub(crate) mod public_keys;
pub(crate) mod ratelimit;
pub(crate) mod retention;
pub(crate) mod server;
pub(crate) mod signatures;
pub(crate) mod state;
pub(crate) mod sync;
pub(crate) mod testdata;
pub(crate) mod tokens;
pub(crate) mod validate;
pub(crate) mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

pub use certificates::config::CertificatesConfig;
pub use config::{ControlToken, InvoicingConfig, SimConfig};
pub use control::{CONTROL_TOKEN_HEADER, SimControl};
pub use error::{ApiError, ErrorEntry, SimError};
pub use faults::{Fault, FaultKey};
pub use inspect::{AuthHeld, ContextView};
pub use invoicing::seed::{SeedError, SeedInvoice};
pub use keys::KeyUsage;
pub use presign::PresignedRoute;
pub use presign::signer::PresignedUrl;
pub use ratelimit::RateLimitValues;

use crate::state::{AppState, Shared};

/// The simulator. Start one with [`KsefSim::start`].
#[derive(Debug)]
#[non_exhaustive]
pub struct KsefSim;

impl KsefSim {
    /// Binds the configured address (default `127.0.0.1:0`), generates keys and serves in a
    /// background task on the current tokio runtime until the returned handle is dropped.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;
        let state = build_state(config, addr).await?;
        let app = server::app(state.clone());
        let sweeper =
            retention::spawn_sweeper(state.clone(), state.config.retention_sweep_interval);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "ksef-sim server stopped with an error");
            }
        });
        Ok(SimHandle {
            addr,
            control: SimControl { state },
            shutdown: Some(tx),
            task: Some(task),
            sweeper: Some(sweeper),
        })
    }
}

async fn build_state(config: SimConfig, addr: SocketAddr) -> Result<AppState, SimError> {
    let base_url = format!("http://{addr}/v2");
    let (data_dir, tmp) = match &config.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(SimError::DataDir)?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("ksef-sim-")
                .tempdir()
                .map_err(SimError::DataDir)?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let now = config.clock.now();
    let keys = tokio::task::spawn_blocking(move || keys::KeyStore::generate(now))
        .await
        .map_err(|e| SimError::KeyGeneration(e.to_string()))??;
    let mut jwt_secret = [0u8; 32];
    let mut presign_secret = zeroize::Zeroizing::new([0u8; 32]);
    rand::fill(&mut jwt_secret);
    rand::fill(&mut *presign_secret);
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "ksef-sim is listening beyond loopback: anyone who can reach {addr} can use the \
             simulated KSeF (the control API still requires the control token); bind 127.0.0.1 \
             unless other machines must reach it"
        );
    }
    let shared = Shared {
        base_url: base_url.clone(),
        data_dir,
        _tmp: tmp,
        jwt_secret,
        control_token: config
            .control_token
            .clone()
            .unwrap_or_else(config::ControlToken::random),
        keys,
        auth: auth::store::AuthStore::default(),
        tokens: tokens::store::TokenStore::default(),
        testdata: testdata::store::TestData::default(),
        permissions: permissions::store::PermissionStore::default(),
        collective_identifiers: collective_identifiers::store::CollectiveIdentifiers::default(),
        peppol: peppol::store::PeppolProviders::default(),
        limits: limits::store::LimitStore::default(),
        certificates: certificates::state::CertificatesState::new(&config.certificates)?,
        rate_limiter: ratelimit::RateLimiter::new(
            config.rate_limits_enabled,
            config.rate_limit_scale,
        ),
        faults: faults::Faults::default(),
        presign: presign::signer::Presigner::new(
            presign_secret,
            base_url,
            config.presigned_url_validity,
            config.clock.clone(),
        ),
        invoicing: invoicing::store::InvoicingState::new(&config),
        blocking: blocking::BlockingPool::for_this_machine(),
        config,
    };
    Ok(AppState(Arc::new(shared)))
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    control: SimControl,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The run-time control handle.
    pub fn control(&self) -> &SimControl {
        &self.control
    }

    /// Stops the server at once: signals shutdown, aborts the serving task (requests in flight
    /// are cut off, not drained) and waits until that task has ended. Dropping the handle does
    /// the same without waiting.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.stop() {
            let _ = task.await;
        }
    }

    /// Aborts the sweeper, signals shutdown and aborts the serving task, which it returns to be
    /// awaited.
    fn stop(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take()?;
        task.abort();
        Some(task)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
