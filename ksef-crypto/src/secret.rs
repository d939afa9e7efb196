//! Secret values: zeroized on drop, redacted in `Debug` and `Display`.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (KSeF token, access token, password). Prints as `[redacted]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap a string.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// Access the secret. Do not log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Secret bytes (key material). Prints as `[redacted]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wrap bytes.
    pub fn new(b: Vec<u8>) -> Self {
        Self(b)
    }
    /// Access the secret.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {} bytes])", self.0.len())
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts() {
        let s = SecretString::new("super-secret-token");
        assert!(!format!("{s:?}").contains("super"));
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "super-secret-token");
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert!(format!("{b:?}").contains("redacted"));
        assert!(!format!("{b:?}").contains("[1"));
    }
}
