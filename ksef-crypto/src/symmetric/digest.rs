//! SHA-256 and size of the plaintext and the ciphertext of one CBC stream.

/// SHA-256 and size of one byte sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileDigest {
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Number of bytes.
    pub size: u64,
}

impl FileDigest {
    /// Digest of a buffer.
    pub fn of(data: &[u8]) -> Self {
        Self {
            sha256: crate::b64::sha256(data),
            size: data.len() as u64,
        }
    }

    /// Standard Base64 of the SHA-256 (the form KSeF uses, 44 characters).
    pub fn sha256_b64(&self) -> String {
        crate::b64::encode(self.sha256)
    }
}

/// Digests of the plaintext and of the ciphertext of one CBC stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamDigests {
    /// Over the plaintext (`invoiceHash`/`invoiceSize`, batch `fileHash` of the whole archive part).
    pub plain: FileDigest,
    /// Over the ciphertext (`encryptedInvoiceHash`/`encryptedInvoiceSize`, part `fileHash`).
    pub encrypted: FileDigest,
}
