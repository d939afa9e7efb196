//! The UPO as data: the parsed document and its accepted invoices.

use bytes::Bytes;

/// One `Dokument` entry of a UPO: an invoice KSeF accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpoDocument {
    /// `NipSprzedawcy`.
    pub seller_nip: String,
    /// `NumerKSeFDokumentu`.
    pub ksef_number: String,
    /// `NumerFaktury`.
    pub invoice_number: String,
    /// `DataWystawieniaFaktury`.
    pub issue_date: String,
    /// `DataPrzeslaniaDokumentu`.
    pub sent_at: String,
    /// `DataNadaniaNumeruKSeF`.
    pub ksef_number_assigned_at: String,
    /// `SkrotDokumentu`: Base64 SHA-256 of the invoice.
    pub invoice_hash: String,
    /// `TrybWysylki` (`Online`, `Offline`).
    pub sending_mode: Option<String>,
}

/// A parsed UPO with the exact bytes KSeF sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upo {
    /// The document as received (its SHA-256 matched `x-ms-meta-hash`).
    pub raw: Bytes,
    /// `NazwaPodmiotuPrzyjmujacego`.
    pub receiving_entity: String,
    /// `NumerReferencyjnySesji`.
    pub session_reference_number: String,
    /// `OpisPotwierdzenia/Strona` and `LiczbaStron` (page, pages), when present.
    pub page: Option<(u32, u32)>,
    /// `OpisPotwierdzenia/CalkowitaLiczbaDokumentow`, when present.
    pub total_documents: Option<u64>,
    /// `NazwaStrukturyLogicznej`.
    pub logical_structure: Option<String>,
    /// `KodFormularza`.
    pub form_code: Option<String>,
    /// The accepted invoices.
    pub documents: Vec<UpoDocument>,
}
