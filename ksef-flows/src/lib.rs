//! KSeF 2.0 workflows over [`ksef_api`] (the generated HTTP client) and [`ksef_crypto`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), ksef_flows::FlowError> {
//! use ksef_flows::{Credentials, InvoiceInput, Ksef};
//! use ksef_flows::api::Environment;
//! use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity, xades::ContextIdentifier};
//!
//! let ksef = Ksef::builder(Environment::Test).build()?;
//! let nip = Nip::random();
//! let identity = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256)
//!     .map_err(|source| ksef_flows::FlowError::Crypto { step: "identity", source })?;
//! let auth = ksef.authenticate(&Credentials::xades(identity, ContextIdentifier::Nip(nip.clone()))).await?;
//! let session = auth.open_online_session().await?;
//! let xml = ksef_flows::sample::SampleInvoice::new(nip.as_str(), "FV/1").to_xml();
//! for r in session.send_and_wait(&[InvoiceInput::new(xml)]).await? {
//!     println!("#{} {:?}", r.index, r.outcome.ksef_number());
//! }
//! let summary = session.close_and_wait().await?;
//! # let _ = summary; Ok(()) }
//! ```
//!
//! * [`Ksef`]: environment (no default: production is never implied), HTTP client, cached
//!   public-key certificates (refetched and retried once on 21470), the client-side
//!   [`RateLimiter`] and the retry rules every call goes through.
//! * [`AuthSession`]: authentication by KSeF token or XAdES, access-token refresh before expiry
//!   and once on 401, revoke, KSeF token creation.
//! * [`OnlineSession`]: open, send (pre-flight, encryption, hashes, concurrency), per-invoice
//!   outcomes mapped to the inputs, close, UPO with `x-ms-meta-hash` verification.
//! * [`query`]: invoice filters and the metadata query as a stream (paging, truncation,
//!   deduplication, long ranges split).
//! * [`export`]: exports: start with a fresh key, wait, parallel verified download and
//!   decryption of the parts, streaming unpack checked against `_metadata.json`.
//! * [`sync`]: crash-safe incremental synchronisation per subject type into a
//!   [`SyncStore`](sync::SyncStore) (an embedded SQLite one is in the `ksef-store` crate).
//! * [`AuthSession::download_invoice`]: one invoice by KSeF number, `x-ms-meta-hash` checked.
//! * [`split_date_range`]: the windows of at most 100 days (UTC) KSeF accepts in one invoice
//!   query or export.
//! * [`certificates`]: KSeF certificates of the authenticated subject: limits, enrollment
//!   (CSR from the enrollment data, submit, wait, retrieve), query, retrieve, revoke.
//! * [`permissions`]: grants to persons and entities, entity authorizations, revocation (each
//!   waiting for its operation's outcome) and the permission queries, every page.
//! * [`FlowError`]: one error enum, a variant per failing step.

mod arguments;
mod auth;
mod auth_sessions;
pub mod batch;
pub mod certificates;
mod client;
pub mod date_range;
mod error;
pub mod export;
mod limiter;
mod limits;
mod lock;
mod online;
mod paging;
pub mod permissions;
pub mod progress;
pub mod query;
mod retrieval;
mod retry;
pub mod sample;
mod saved;
mod sessions;
pub mod sync;
mod tokens;
pub mod upo;
mod wait;

pub use auth::{AuthSession, Credentials};
pub use client::{Ksef, KsefBuilder, Warning};
pub use date_range::{
    DateWindow, DateWindows, MAX_DATE_RANGE, MAX_DATE_RANGE_DAYS, split_date_range,
    split_date_range_by,
};
pub use error::{AuthFailure, AuthStep, FlowError, Result};
pub use limiter::{Limits, RateLimitMode, RateLimiter};
pub use online::{
    InvoiceInput, InvoiceOutcome, InvoiceResult, OnlineSession, SentInvoice, SessionSummary,
    UpoPage, prepare_request,
};
pub use progress::{ExportEvent, Progress, SyncEvent};
pub use retrieval::{MAX_INVOICE_SIZE, kod1_url_of};
pub use retry::RetryPolicy;
pub use upo::{MAX_UPO_SIZE, Upo, UpoDocument, verify_meta_hash};

pub use limits::EffectiveLimits;
pub use paging::Page;
pub use saved::{SavedSession, parse_context};
pub use sessions::{InvoiceSelection, SessionFilter, UpoOf};
pub use tokens::TokenFilter;

/// The raw API crate.
pub use ksef_api as api;
/// The crypto crate.
pub use ksef_crypto as crypto;
/// The invoice model and builder (FA (3), FA_RR (1)).
pub use ksef_invoice as invoice;

/// Installs rustls' `ring` provider as the process default if none is installed yet. The
/// workspace builds reqwest without a default TLS provider; call this before building your own
/// `reqwest::Client` for [`KsefBuilder::http_client`] (the default client does it itself).
pub use ksef_api::install_crypto_provider;

impl Ksef {
    /// KOD I verification link of an invoice (seller NIP, `P_1` and hash from its exact bytes),
    /// for the environment's QR host.
    pub fn kod1_url(&self, invoice: &[u8]) -> Result<String> {
        let crypto = |source| FlowError::Crypto {
            step: "building the KOD I link",
            source,
        };
        let facts = ksef_crypto::preflight(invoice).map_err(crypto)?;
        let nip = facts
            .seller_nip
            .as_deref()
            .ok_or_else(|| FlowError::InvalidArgument {
                field: "invoice (Podmiot1/DaneIdentyfikacyjne/NIP)",
                rule: "a KOD I link needs the seller's NIP".into(),
            })?;
        let nip = ksef_crypto::Nip::parse_pattern_only(nip).map_err(crypto)?;
        let date = facts.issue_date.ok_or_else(|| FlowError::InvalidArgument {
            field: "invoice (Fa/P_1)",
            rule: "a KOD I link needs the issue date".into(),
        })?;
        Ok(ksef_crypto::qr::kod1_url(
            self.qr_environment(),
            &nip,
            date,
            &facts.sha256,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksef_crypto::xades::ContextIdentifier;

    fn is_send<T: Send>(_: &T) {}

    /// The flows' futures can be spawned on a multi-threaded runtime (their polling closures
    /// included): this module does not compile otherwise. The futures are built, never run.
    #[test]
    fn futures_are_send() {
        let ksef = Ksef::builder(api::Environment::Custom("http://127.0.0.1:9/v2".into()))
            .build()
            .unwrap();
        let nip = ksef_crypto::Nip::random();
        let credentials = Credentials::ksef_token("token", ContextIdentifier::Nip(nip));
        let auth = ksef.authenticate(&credentials);
        is_send(&auth);
        is_send(&ksef.refresh_public_keys());
    }

    /// Compile-time only, like [`futures_are_send`]: sessions cannot be made without a server.
    #[allow(dead_code)]
    fn session_futures_are_send(auth: &AuthSession, session: &OnlineSession, i: &[InvoiceInput]) {
        is_send(&auth.open_online_session());
        is_send(&auth.create_ksef_token(&[], "x"));
        is_send(&session.send_and_wait(i));
        is_send(&session.wait_for(&[]));
        is_send(&session.close_and_wait());
    }

    /// Compile-time only: the batch futures can be spawned too.
    #[allow(dead_code)]
    fn batch_futures_are_send(auth: &AuthSession, batch: &batch::Batch) {
        is_send(&batch.send(auth));
        is_send(&batch.resume(auth));
        is_send(&batch.resend_in_new_session(auth));
        is_send(&batch.send_inputs(auth, Vec::<batch::BatchInput>::new()));
        is_send(&batch.prepare_async(Vec::<batch::BatchInput>::new()));
        is_send(&batch.prepare_stream(futures::stream::empty::<batch::BatchInput>()));
    }
}
