//! Raw FA (3) and FA_RR (1) invoice types, generated at build time by `xsd-parser` from the
//! official XSDs pinned in `spec/ksef-schemas.lock` (the generated code lives in `OUT_DIR` only).
//!
//! This is the schema-exact layer: strict quick-xml parsing (patterns, digits, enumerations,
//! element order, choices) and serialization. Names come from the generator (`p1361` for
//! `P_13_6_1`, counter-named groups such as `content_151`) and may change with a schema version;
//! use the hand-written model in `ksef-invoice` for a stable API.
//!
//! - [`fa3`]: `tns` (namespace `http://crd.gov.pl/wzor/2025/06/25/13775/`) and `etd` (base types).
//! - `fa_rr` (feature `fa-rr`, on by default): the same for FA_RR (1).
//! - [`Decimal`]: every `xs:decimal` value, lossless.

#[doc(hidden)]
pub mod decimal;
#[cfg(test)]
mod patch;

pub use decimal::{Decimal, DecimalError};
pub use xsd_parser_types;

/// FA (3): the generated types (`fa3::tns::Faktura` is the document).
#[allow(
    missing_docs,
    missing_debug_implementations,
    dead_code,
    unused_imports,
    unused_variables,
    non_camel_case_types,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod fa3 {
    include!(concat!(env!("OUT_DIR"), "/fa3.rs"));
}

/// FA_RR (1): the generated types (`fa_rr::tns::Faktura` is the document). Feature `fa-rr`.
#[cfg(feature = "fa-rr")]
#[allow(
    missing_docs,
    missing_debug_implementations,
    dead_code,
    unused_imports,
    unused_variables,
    non_camel_case_types,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod fa_rr {
    include!(concat!(env!("OUT_DIR"), "/fa_rr.rs"));
}
