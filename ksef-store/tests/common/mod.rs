//! Helpers of the store's tests: a simulator on its own runtime, authentication, seeding, and
//! synthetic packages for tests of the store alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use ksef_flows::api::Environment;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::export::InvoiceMetadata;
use ksef_flows::sample::SampleInvoice;
use ksef_flows::sync::{Checkpoint, PackageCommit, StagedInvoice, SyncKey};
use ksef_flows::{AuthSession, Credentials, Ksef, RateLimitMode};
use ksef_sim::{SeedInvoice, SimConfig};

/// A simulator running on a dedicated runtime; stops when dropped.
pub struct Sim {
    rt: Option<tokio::runtime::Runtime>,
    handle: Option<ksef_sim::SimHandle>,
    pub base_url: String,
}

impl Sim {
    pub fn start(config: SimConfig) -> Self {
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
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let (Some(rt), Some(h)) = (self.rt.take(), self.handle.take()) {
            rt.block_on(h.shutdown());
            rt.shutdown_background();
        }
    }
}

pub fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client without client-side rate limiting (the tests run many exports).
pub fn ksef(base_url: &str) -> Ksef {
    Ksef::builder(Environment::Custom(base_url.to_string()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap()
}

/// Authenticates as the owner of `nip` with a fresh self-signed identity.
pub async fn auth_as(ksef: &Ksef, nip: &Nip) -> AuthSession {
    let id = SigningIdentity::self_signed_personal(nip, KeyAlgorithm::EcdsaP256).unwrap();
    ksef.authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
        .await
        .unwrap()
}

/// Invoices `buyer` bought from `seller`, `n` of them, all received at `at` (`None`: now).
pub fn seed_bought(
    sim: &ksef_sim::SimControl,
    seller: &Nip,
    buyer: &Nip,
    tag: &str,
    n: usize,
    at: Option<DateTime<Utc>>,
) -> HashMap<String, Vec<u8>> {
    let xmls: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut s = SampleInvoice::new(seller.as_str(), &format!("{tag}/{i}"));
            s.buyer_nip = buyer.as_str().to_string();
            s.to_xml()
        })
        .collect();
    let seeds = xmls.iter().map(|x| {
        let s = SeedInvoice::new(x.clone());
        match at {
            Some(t) => s.received_at(t),
            None => s,
        }
    });
    sim.seed_invoices(seeds)
        .into_iter()
        .zip(xmls)
        .map(|(k, x)| (k.unwrap(), x))
        .collect()
}

/// Metadata of a synthetic invoice (as KSeF describes one).
pub fn metadata(
    ksef: &str,
    seller: &str,
    buyer: &str,
    bytes: &[u8],
    at: DateTime<Utc>,
) -> InvoiceMetadata {
    let ts = at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    serde_json::from_value(serde_json::json!({
        "ksefNumber": ksef,
        "invoiceNumber": format!("FV/{ksef}"),
        "issueDate": at.format("%Y-%m-%d").to_string(),
        "invoicingDate": ts,
        "acquisitionDate": ts,
        "permanentStorageDate": ts,
        "seller": { "nip": seller, "name": "Sprzedawca" },
        "buyer": { "identifier": { "type": "Nip", "value": buyer }, "name": "Nabywca" },
        "netAmount": 100.0, "grossAmount": 123.0, "vatAmount": 23.0,
        "currency": "PLN",
        "invoicingMode": "Online",
        "invoiceType": "Vat",
        "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
        "isSelfInvoicing": false,
        "hasAttachment": false,
        "invoiceHash": ksef_flows::crypto::b64::sha256_b64(bytes),
    }))
    .unwrap()
}

/// A synthetic KSeF number of `nip` on `date` with a technical part from `n`.
pub fn ksef_number(nip: &Nip, date: chrono::NaiveDate, n: u64) -> String {
    let b = n.to_be_bytes();
    ksef_flows::crypto::KsefNumber::generate(nip, date, [b[2], b[3], b[4], b[5], b[6], b[7]])
        .unwrap()
        .as_str()
        .to_string()
}

/// A package of synthetic invoices staged in `staging` (files written there).
pub fn synthetic_package(
    staging: &Path,
    key: &SyncKey,
    seller: &Nip,
    buyer: &Nip,
    numbers: impl IntoIterator<Item = u64>,
    at: DateTime<Utc>,
    next_from: DateTime<Utc>,
) -> PackageCommit {
    let invoices = numbers
        .into_iter()
        .map(|n| {
            let k = ksef_number(seller, at.date_naive(), n);
            let bytes = format!("<Faktura><n>{n}</n><k>{k}</k></Faktura>").into_bytes();
            let file = staging.join(format!("{k}.xml"));
            std::fs::write(&file, &bytes).unwrap();
            let m = metadata(&k, seller.as_str(), buyer.as_str(), &bytes, at);
            new_staged(m, file, bytes.len() as u64)
        })
        .collect();
    PackageCommit::new(
        key.clone(),
        "20250101-EH-0000000000-0000000000-00",
        at,
        None,
        false,
        invoices,
        Checkpoint::new(next_from, Some(next_from), Utc::now()),
    )
}

fn new_staged(metadata: InvoiceMetadata, file: std::path::PathBuf, size: u64) -> StagedInvoice {
    let sha256 = metadata.invoice_hash.0.clone();
    StagedInvoice::new(metadata, file, size, sha256)
}
