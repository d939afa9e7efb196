//! XML helpers: canonicalization and XAdES verification.

pub(crate) mod c14n;
pub(crate) mod xades;
