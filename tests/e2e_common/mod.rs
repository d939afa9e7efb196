//! Helpers of the end-to-end tests: a simulator on its own runtime (so that its logs never mix
//! with the client's), a log capture, invoice generators.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use ksef_flows::api::Environment;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::{AuthSession, Credentials, Ksef};

/// A simulator running on a dedicated multi-thread runtime; stops when dropped.
pub struct Sim {
    rt: Option<tokio::runtime::Runtime>,
    handle: Option<ksef_sim::SimHandle>,
    pub base_url: String,
}

impl Sim {
    pub fn start(config: ksef_sim::SimConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.block_on(ksef_sim::KsefSim::start(config)).unwrap();
        let base_url = handle.base_url();
        Self {
            rt: Some(rt),
            handle: Some(handle),
            base_url,
        }
    }

    pub fn control(&self) -> ksef_sim::SimControl {
        self.handle.as_ref().unwrap().control().clone()
    }

    /// Runs a closure in the simulator's runtime (control calls that spawn blocking work).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().unwrap().block_on(f)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let (Some(rt), Some(h)) = (self.rt.take(), self.handle.take()) {
            rt.block_on(h.shutdown());
            rt.shutdown_background();
        }
    }
}

/// A current-thread runtime for the client side of a test.
pub fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn ksef(sim: &Sim) -> Ksef {
    Ksef::builder(Environment::Custom(sim.base_url.clone()))
        .build()
        .unwrap()
}

/// A fresh taxpayer: random NIP and a self-signed TEST identity.
pub fn taxpayer() -> (Nip, SigningIdentity) {
    let nip = Nip::random();
    let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
    (nip, id)
}

pub async fn xades_auth(ksef: &Ksef) -> (Nip, AuthSession) {
    let (nip, id) = taxpayer();
    let auth = ksef
        .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
        .await
        .unwrap();
    (nip, auth)
}

/// Log capture for `tracing` (all levels).
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

pub fn capture_subscriber(c: &Capture) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(c.clone())
        .with_ansi(false)
        .finish()
}

/// `n` distinct valid FA (3) invoices of `nip` (numbers `{prefix}/{i}`).
pub fn valid_invoices(nip: &Nip, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            ksef_flows::sample::SampleInvoice::new(nip.as_str(), &format!("{prefix}/{i}"))
                .net(1000 + i as u64)
                .to_xml()
        })
        .collect()
}

pub mod batch;
