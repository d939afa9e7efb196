//! FA (3) and FA_RR (1) invoices for KSeF.

mod error;
mod invoice;
mod xml;

pub use error::InvoiceError;
pub use invoice::{FA3_NAMESPACE, FA_RR_NAMESPACE, FormCode, Invoice, InvoiceKind};
pub use ksef_invoice_xsd::{Decimal, fa_rr, fa3};
