//! FA (3) and FA_RR (1) invoices for KSeF.

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
pub use ksef_invoice_xsd::{Decimal, fa_rr, fa3};
pub use rate::VatRate;
