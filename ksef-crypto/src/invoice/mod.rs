//! Invoice pre-flight.
/// Facts.
#[derive(Debug)]
pub struct InvoiceFacts;
/// Preflight.
pub fn preflight(_b: &[u8]) -> crate::Result<InvoiceFacts> {
    Ok(InvoiceFacts)
}
