//! The one error type of ksef-invoice.

/// What went wrong while building, validating, reading or writing an invoice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvoiceError {
    /// A value breaks a rule of the schema (pattern, length, digits, enumeration) or of the
    /// builder (a required field, totals, dates); `path` is the XML path (`Faktura/Fa/P_2`).
    #[error("{path}: {rule}")]
    Invalid {
        /// XML path of the element or attribute.
        path: String,
        /// The rule and the offending value.
        rule: String,
    },
    /// The document is not a schema-valid FA (3) / FA_RR (1) invoice.
    #[error("invoice XML rejected at {path}: {message}")]
    Parse {
        /// XML path of the element being read when the parser stopped.
        path: String,
        /// What was wrong.
        message: String,
        /// Byte offset in the document, when known.
        position: Option<u64>,
    },
    /// The document is not one of the supported forms.
    #[error("not an FA (3) or FA_RR (1) invoice: {0}")]
    UnsupportedForm(String),
    /// Writing the document failed.
    #[error("serializing the invoice failed: {0}")]
    Serialize(String),
}

impl InvoiceError {
    /// The XML path the error names, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Invalid { path, .. } | Self::Parse { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn invalid(path: &str, rule: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_string(),
            rule: rule.into(),
        }
    }
}
