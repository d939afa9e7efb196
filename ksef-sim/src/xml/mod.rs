//! XML helpers: bounded parsing, canonicalization and XAdES verification.

pub(crate) mod c14n;
pub(crate) mod limits;
pub(crate) mod xades;
