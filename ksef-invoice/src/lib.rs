//! FA (3) and FA_RR (1) invoices for KSeF: a validating model and builder over the schema-exact
//! types generated at build time from the official XSDs (crate `ksef-invoice-xsd`).
//!
//! - [`Invoice`]: one document. [`Invoice::parse`] reads any FA (3) / FA_RR (1) invoice strictly,
//!   [`Invoice::to_xml`] writes the bytes to send, [`Invoice::validate`] checks the whole document.
//! - [`InvoiceBuilder`]: FA (3) invoices of the common kinds ([`Invoice::vat`],
//!   [`Invoice::correction`], [`Invoice::advance`], [`Invoice::settlement`],
//!   [`Invoice::simplified`]) with fixed values filled in and totals per VAT rate computed exactly
//!   ([`Amount`], [`VatRate`], [`Totals`]).
//! - [`InvoiceError`]: every error names the XML path (`Faktura/Fa/FaWiersz[2]/P_7`) and the rule.
//!
//! ```
//! use chrono::NaiveDate;
//! use ksef_invoice::{Invoice, Line, Party, VatRate};
//!
//! let err = Invoice::vat(
//!     Party::with_nip("5265877635", "Sprzedawca").address("ul. Prosta 1", None),
//!     Party::with_nip("5260250274", "Nabywca"),
//!     "FV/1",
//!     NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
//! )
//! .line(Line::new(&"ż".repeat(513), "1".parse()?, "1".parse()?, VatRate::R23))
//! .build()
//! .unwrap_err();
//! assert_eq!(err.path(), Some("Faktura/Fa/FaWiersz[1]/P_7"));
//! # Ok::<(), ksef_invoice::AmountError>(())
//! ```

mod amount;
mod builder;
mod error;
mod invoice;
mod rate;
mod xml;

pub use amount::{Amount, AmountError};
pub use builder::{
    CorrectedInvoice, InvoiceBuilder, Line, Party, PartyId, Payment, RateTotal, SettledAdvance,
    Totals,
};
pub use error::InvoiceError;
pub use invoice::{FA_RR_NAMESPACE, FA3_NAMESPACE, FormCode, Invoice, InvoiceKind};
#[cfg(feature = "fa-rr")]
pub use ksef_invoice_xsd::fa_rr;
pub use ksef_invoice_xsd::{Decimal, fa3};
pub use rate::VatRate;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
