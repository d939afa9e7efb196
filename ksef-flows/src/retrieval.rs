//! One invoice by its KSeF number (`GET /invoices/ksef/{ksefNumber}`, checked against
//! `x-ms-meta-hash`) and the KOD I link of an invoice known by its metadata.

use bytes::Bytes;
use ksef_api::operations::op;
use ksef_crypto::qr::QrEnvironment;

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::query::InvoiceMetadata;
use crate::retry::Idempotency;
use crate::upo::read_verified;

/// Most bytes accepted for one downloaded invoice: KSeF stores none larger (3 000 000 B with
/// attachments).
pub const MAX_INVOICE_SIZE: u64 = 3_000_000;

impl AuthSession {
    /// Downloads an invoice's XML, exactly as stored by KSeF, and checks it against the
    /// `x-ms-meta-hash` header (a missing header is an error too). 21164 (not found) and 21165
    /// (not yet available) come back as [`FlowError::DownloadInvoice`] with their code.
    pub async fn download_invoice(&self, ksef_number: &str) -> Result<Bytes> {
        let ksef_number = crate::arguments::ksef_number(ksef_number)?;
        let r = self
            .call(op::INVOICE_DOWNLOAD, Idempotency::Safe, |api| {
                api.invoice_download()
                    .ksef_number(ksef_number.clone())
                    .send()
            })
            .await
            .map_err(|e| {
                e.into_flow(|source| FlowError::DownloadInvoice {
                    ksef_number: ksef_number.to_string(),
                    source,
                })
            })?;
        let timeout = self.ksef().call_timeout();
        read_verified("invoice", r, MAX_INVOICE_SIZE, timeout, |source| {
            FlowError::DownloadInvoice {
                ksef_number: ksef_number.to_string(),
                source,
            }
        })
        .await
    }
}

/// The KOD I verification link of an invoice from its metadata: seller NIP, issue date and the
/// SHA-256 KSeF computed over its exact bytes.
pub fn kod1_url_of(metadata: &InvoiceMetadata, qr: &QrEnvironment) -> Result<String> {
    let crypto = |source| FlowError::Crypto {
        step: "building the KOD I link",
        source,
    };
    let nip = ksef_crypto::Nip::parse_pattern_only(&metadata.seller.nip.0).map_err(crypto)?;
    let hash: [u8; 32] = ksef_crypto::b64::decode("invoiceHash", &metadata.invoice_hash.0)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| FlowError::InvalidArgument {
            field: "invoiceHash",
            rule: "must be the Base64 of a SHA-256".into(),
        })?;
    Ok(ksef_crypto::qr::kod1_url(
        qr,
        &nip,
        metadata.issue_date,
        &hash,
    ))
}
