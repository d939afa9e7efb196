//! Checks of caller arguments before they go into a request.

use crate::error::{FlowError, Result};

/// Checks a reference number's shape before it goes into a path.
pub(crate) fn reference(s: &str) -> Result<String> {
    ksef_crypto::ReferenceNumber::parse(s.trim())
        .map(|r| r.as_str().to_string())
        .map_err(|e| FlowError::InvalidArgument {
            field: "reference number",
            rule: e.to_string(),
        })
}

/// Checks a KSeF number (shape and checksum) before it goes into a request.
pub(crate) fn ksef_number(s: &str) -> Result<String> {
    ksef_crypto::KsefNumber::parse(s.trim())
        .map(|n| n.as_str().to_string())
        .map_err(|e| FlowError::InvalidArgument {
            field: "KSeF number",
            rule: e.to_string(),
        })
}

/// Checks a permission id (36 characters, e.g. a UUID) before it goes into a path.
pub(crate) fn permission_id(s: &str) -> Result<String> {
    let id = s.trim();
    let ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(id.to_string())
    } else {
        Err(FlowError::InvalidArgument {
            field: "permission id",
            rule: format!("{id:?} is not a permission id (36 characters, e.g. a UUID)"),
        })
    }
}
