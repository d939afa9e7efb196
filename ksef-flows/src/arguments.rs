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
