//! Presigned URLs: HMAC-signed, expiring URLs served by the simulator itself without
//! `Authorization` (like the blob-storage URLs of the real system).
//!
//! Routes for presigned URLs live under `/__presigned/` (relative to `/v2`); they are not rate
//! limited. Issue a URL with [`signer::Presigner::url`], accept it with the
//! [`extractor::Presigned`] extractor as a handler's first argument.

pub(crate) mod extractor;
pub(crate) mod signer;

/// Path prefix (below `/v2`) of presigned routes.
pub const PRESIGNED_PREFIX: &str = "/__presigned/";
