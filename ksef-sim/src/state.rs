//! Shared application state.

use std::net::IpAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::store::AuthStore;
use crate::blocking::BlockingPool;
use crate::config::{ControlToken, SimConfig};
use crate::faults::Faults;
use crate::invoicing::store::InvoicingState;
use crate::keys::KeyStore;
use crate::limits::store::LimitStore;
use crate::permissions::store::PermissionStore;
use crate::presign::signer::Presigner;
use crate::ratelimit::RateLimiter;
use crate::testdata::store::TestData;
use crate::tokens::store::TokenStore;

/// Everything a handler needs. Cheap to clone (one `Arc`). Dereferences to [`Shared`].
#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Shared>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("base_url", &self.0.base_url)
            .finish_non_exhaustive()
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The shared state of one simulator instance.
pub(crate) struct Shared {
    /// The configuration the simulator was started with.
    pub config: SimConfig,
    /// `http://127.0.0.1:PORT/v2`.
    pub base_url: String,
    /// Directory for parts and packages (exists for the simulator's lifetime).
    pub data_dir: PathBuf,
    /// Keeps a temporary data directory alive.
    pub _tmp: Option<tempfile::TempDir>,
    /// HMAC secret of the JWTs.
    pub jwt_secret: [u8; 32],
    /// The token the HTTP control API requires.
    pub control_token: ControlToken,
    /// Encryption keys and certificates.
    pub keys: KeyStore,
    /// Challenges, authentication operations, refresh tokens.
    pub auth: AuthStore,
    /// KSeF tokens.
    pub tokens: TokenStore,
    /// Test data (subjects, persons, permissions, attachments, blocked contexts).
    pub testdata: TestData,
    /// Granted permissions and their operations.
    pub permissions: PermissionStore,
    /// Session and certificate limits.
    pub limits: LimitStore,
    /// The certificate authority, enrollments and KSeF certificates.
    pub certificates: crate::certificates::CertificatesState,
    /// Rate limiter.
    pub rate_limiter: RateLimiter,
    /// Fault injection registry.
    pub faults: Faults,
    /// Presigned URL signer.
    pub presign: Presigner,
    /// State of the invoicing part.
    pub invoicing: InvoicingState,
    /// The bounded pool for CPU-heavy work.
    pub blocking: BlockingPool,
}

impl Shared {
    /// The current instant, from the configured clock.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }

    /// The KSeF business date (Europe/Warsaw) of the current instant.
    pub(crate) fn today(&self) -> chrono::NaiveDate {
        ksef_time::business_date(self.now())
    }
}

/// The client IP of a request, put into request extensions by the middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientIp(pub IpAddr);
