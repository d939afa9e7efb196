//! The one error type of this crate.

use std::fmt;

/// Which invoice pre-flight rule failed (see [`crate::invoice::preflight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PreflightRule {
    /// The document is empty.
    Empty,
    /// The size limit (1 000 000 B, or 3 000 000 B with attachments) is exceeded.
    SizeLimit,
    /// The bytes start with a UTF-8 byte-order mark.
    Utf8Bom,
    /// The bytes are not valid UTF-8.
    Utf8,
    /// The XML declaration declares an encoding other than UTF-8.
    PrologEncoding,
    /// A processing instruction (other than the XML declaration) is present.
    ProcessingInstruction,
    /// A discouraged code point ([#x7F-#x84], [#x86-#x9F], [#xFDD0-#xFDEF], #xnFFFE/#xnFFFF).
    DiscouragedCodePoint,
    /// The document is not well-formed XML 1.0.
    WellFormed,
    /// The root element is not a known invoice schema (FA(2), FA(3), FA_RR(1), PEF(3), PEF_KOR(3)).
    UnknownForm,
    /// A field required for duplicate detection or QR codes is missing or malformed.
    RequiredField,
}

impl fmt::Display for PreflightRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Empty => "empty document",
            Self::SizeLimit => "size limit",
            Self::Utf8Bom => "UTF-8 without BOM",
            Self::Utf8 => "valid UTF-8",
            Self::PrologEncoding => "prolog encoding must be UTF-8",
            Self::ProcessingInstruction => "no processing instructions",
            Self::DiscouragedCodePoint => "no discouraged code points",
            Self::WellFormed => "well-formed XML",
            Self::UnknownForm => "known invoice form",
            Self::RequiredField => "required field",
        };
        f.write_str(s)
    }
}

/// A position in a document: byte offset plus 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Byte offset from the start of the document.
    pub offset: usize,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} column {} (byte {})",
            self.line, self.column, self.offset
        )
    }
}

/// Errors of `ksef-crypto`. Variants are named for the step that failed.
///
/// Cryptographic failures are deliberately opaque (no key material, no padding oracle detail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Reading or writing a stream failed while encrypting.
    #[error("encrypt stream: I/O error: {0}")]
    EncryptStream(#[source] std::io::Error),
    /// Reading or writing a stream failed while decrypting.
    #[error("decrypt stream: I/O error: {0}")]
    DecryptStream(#[source] std::io::Error),
    /// The ciphertext is not a whole number of 16-byte blocks, is empty, or its padding is invalid.
    #[error("decrypt: invalid ciphertext (length or PKCS#7 padding)")]
    Decrypt,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// A symmetric key or IV has the wrong length.
    #[error("symmetric key: expected {expected} bytes, got {got}")]
    KeyLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// Base64 input could not be decoded.
    #[error("base64 decode ({field}): {detail}")]
    Base64 {
        /// What was being decoded.
        field: &'static str,
        /// Decoder message.
        detail: String,
    },
    /// RSA-OAEP encryption failed (key too small, message too long).
    #[error("RSA-OAEP encryption failed")]
    RsaEncrypt,
    /// RSA-OAEP decryption failed.
    #[error("RSA-OAEP decryption failed")]
    RsaDecrypt,
    /// A certificate could not be parsed.
    #[error("parse certificate{}: {detail}", index.map(|i| format!(" #{i}")).unwrap_or_default())]
    ParseCertificate {
        /// Position in the list, if it came from a list.
        index: Option<usize>,
        /// What was wrong.
        detail: String,
    },
    /// The certificate's public key is not of a supported type for this operation.
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
    /// No public-key certificate with the requested usage is valid at the requested instant.
    #[error(
        "no public-key certificate with usage {usage} is valid at {at} ({candidates} with that usage in the list)"
    )]
    NoValidCertificate {
        /// Requested usage.
        usage: String,
        /// Instant (RFC 3339).
        at: String,
        /// How many certificates carry the usage at all.
        candidates: usize,
    },
    /// A private key could not be parsed or generated.
    #[error("private key: {0}")]
    PrivateKey(String),
    /// An identifier failed validation.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidIdentifier {
        /// Kind of identifier (NIP, PESEL, KSeF number, ...).
        kind: &'static str,
        /// The offending value (identifiers are public data).
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// An input of the XAdES `AuthTokenRequest` failed the XSD constraints.
    #[error("AuthTokenRequest field {field}: {reason}")]
    AuthTokenRequest {
        /// Field name.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Creating a signature failed.
    #[error("sign: {0}")]
    Sign(String),
    /// Building a certificate failed.
    #[error("build certificate: {0}")]
    BuildCertificate(String),
    /// Building a PKCS#10 request failed.
    #[error("build CSR: {0}")]
    BuildCsr(String),
    /// Building a QR URL failed.
    #[error("QR URL: {0}")]
    QrUrl(String),
    /// Rendering a QR code failed.
    #[error("QR render: {0}")]
    QrRender(String),
    /// Invoice pre-flight failed.
    #[error("invoice pre-flight: rule '{rule}' failed{}: {detail}", position.map(|p| format!(" at {p}")).unwrap_or_default())]
    Preflight {
        /// The rule.
        rule: PreflightRule,
        /// Where, if known.
        position: Option<Position>,
        /// Details.
        detail: String,
    },
    /// A PKCS#12 file could not be read (format, algorithm, passphrase or integrity).
    #[error("PKCS#12: {0}")]
    Pkcs12(String),
}

/// Result alias.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
