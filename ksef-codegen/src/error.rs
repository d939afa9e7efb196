//! The one error type of the spec pipeline.

use std::path::PathBuf;

/// What went wrong while reading, checking or normalising the OpenAPI document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The document is not valid JSON.
    #[error("the OpenAPI document is not valid JSON: {0}")]
    Json(String),
    /// The document is JSON but not an OpenAPI 3 document as expected.
    #[error("the OpenAPI document is not usable: {0}")]
    Invalid(String),
    /// Two operations ended up with the same name.
    #[error(
        "operation name collision: `{name}` is used by both {first} and {second}; add an override to spec/operation-names.txt"
    )]
    NameCollision {
        /// The colliding name.
        name: String,
        /// The first operation (`METHOD /path`).
        first: String,
        /// The second operation (`METHOD /path`).
        second: String,
    },
    /// A line of the override map cannot be read.
    #[error("spec/operation-names.txt line {line}: {reason}")]
    Overrides {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The lock file cannot be read.
    #[error("spec/ksef-openapi.lock: {0}")]
    Lock(String),
    /// No document matching the lock was found.
    #[error("{0}")]
    NotFound(String),
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// progenitor refused the normalised document.
    #[error("code generation failed: {0}")]
    Generate(String),
    /// The invoice schemas (XSD), their lock or their discovery failed.
    #[error("{0}")]
    Schemas(String),
}
