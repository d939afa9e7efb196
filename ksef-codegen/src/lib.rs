//! The spec pipeline of ksef-rs: everything that turns the official KSeF OpenAPI document into
//! something Rust can use, shared by `ksef-api/build.rs`, `cargo xtask regen-spec` and the drift
//! tests so that all three see exactly the same thing.
//!
//! - [`lock`]: `spec/ksef-openapi.lock` (version, source, sha256) and the API version of a document.
//! - [`locate`]: finding the pinned document on disk (env `KSEF_OPENAPI_SPEC`, `spec/ksef-openapi.json`).
//! - [`names`]: deterministic operation names (the spec has no `operationId`) and the override map.
//! - [`normalize`]: the rewrites progenitor needs, applied in memory, never to the file on disk.
//! - [`surface`]: the per-operation facts (token kind, rate limits and group, permissions, success
//!   answer, required request fields) and the compact, sorted text snapshots used to review spec
//!   drift. `ksef-api` generates its operation table from them, `ksef-sim` its own.
//! - [`examples`]: example bodies (the spec's, or a minimal instance of a schema).
//! - [`diff`]: what changed between two documents (operations and schemas added, removed, changed).
//! - [`schemas`]: the pin of the invoice XSDs (`spec/ksef-schemas.lock`, env `KSEF_SCHEMAS_DIR`);
//!   `schemas_surface` and `schemas_regen` (feature `schemas-surface`): their drift snapshot and
//!   `cargo xtask regen-schemas`.
//! - `generate` (feature `generate`): the progenitor run and the extra generated tables.

pub mod diff;
pub mod error;
pub mod examples;
pub mod locate;
pub mod lock;
pub mod names;
pub mod normalize;
pub mod regen;
pub mod schemas;
#[cfg(feature = "schemas-surface")]
pub mod schemas_regen;
#[cfg(feature = "schemas-surface")]
pub mod schemas_surface;
pub mod snapshots;
pub mod surface;

#[cfg(feature = "generate")]
pub mod generate;

pub use diff::SpecDiff;
pub use error::SpecError;
pub use lock::SpecLock;
pub use normalize::{NormalizedSpec, normalize};
pub use surface::{Operation, RateLimits, SuccessResponse, Surface, TokenKind};

/// Parses a document (JSON bytes) into a `serde_json::Value`.
pub fn parse_document(bytes: &[u8]) -> Result<serde_json::Value, SpecError> {
    serde_json::from_slice(bytes).map_err(|e| SpecError::Json(e.to_string()))
}
