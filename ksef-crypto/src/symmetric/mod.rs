//! AES-256-CBC with PKCS#7 padding, the KSeF symmetric envelope (rules §4, §5, §6).
//!
//! One key and IV per session; every invoice (online) or archive part (batch) is a complete,
//! independent CBC stream with the same key and IV and **no IV prefix** on the ciphertext.
//! Every adapter computes, in the same pass, the SHA-256 and size of the plaintext and of the
//! ciphertext, which are exactly the values KSeF asks for (`invoiceHash`/`invoiceSize`,
//! `encryptedInvoiceHash`/`encryptedInvoiceSize`, `fileHash`/`fileSize` of parts).
//!
//! * [`encrypt_bytes`] / [`decrypt_bytes`]: whole buffers (invoices ≤ 3 MB).
//! * [`encrypt_stream`] / [`decrypt_stream`]: `Read` → `Write` pipelines; hashing runs on a
//!   two helper threads, memory is bounded (a few MiB) whatever the input size.
//! * [`EncryptReader`], [`EncryptWriter`], [`DecryptReader`], [`DecryptWriter`]: `std::io`
//!   adapters; [`AsyncEncryptReader`], [`AsyncEncryptWriter`], [`AsyncDecryptReader`],
//!   [`AsyncDecryptWriter`]: tokio adapters.

#[cfg(feature = "tokio")]
mod async_io;
mod cbc_enc;
mod core;
mod io;
mod pipeline;

use std::fmt;

use rand::TryRng as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[cfg(feature = "tokio")]
pub use self::async_io::{AsyncCryptReader, AsyncCryptWriter};
pub use self::core::Direction;
pub use self::io::{CryptReader, CryptWriter};
pub use self::pipeline::{decrypt_stream, encrypt_stream};
use crate::error::{CryptoError, Result};

/// `std::io::Read` adapter: reads plaintext from the inner reader, yields ciphertext.
pub type EncryptReader<R> = CryptReader<R>;
/// `std::io::Read` adapter: reads ciphertext from the inner reader, yields plaintext.
pub type DecryptReader<R> = CryptReader<R>;
/// `std::io::Write` adapter: accepts plaintext, writes ciphertext to the inner writer.
pub type EncryptWriter<W> = CryptWriter<W>;
/// `std::io::Write` adapter: accepts ciphertext, writes plaintext to the inner writer.
pub type DecryptWriter<W> = CryptWriter<W>;
/// tokio `AsyncRead` adapter producing ciphertext.
#[cfg(feature = "tokio")]
pub type AsyncEncryptReader<R> = AsyncCryptReader<R>;
/// tokio `AsyncRead` adapter producing plaintext.
#[cfg(feature = "tokio")]
pub type AsyncDecryptReader<R> = AsyncCryptReader<R>;
/// tokio `AsyncWrite` adapter accepting plaintext.
#[cfg(feature = "tokio")]
pub type AsyncEncryptWriter<W> = AsyncCryptWriter<W>;
/// tokio `AsyncWrite` adapter accepting ciphertext.
#[cfg(feature = "tokio")]
pub type AsyncDecryptWriter<W> = AsyncCryptWriter<W>;

/// Buffer size used by the adapters.
pub(crate) const CHUNK: usize = 64 * 1024;

/// AES-256 key and CBC IV of one session. Zeroized on drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SymmetricKey {
    key: [u8; 32],
    iv: [u8; 16],
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey([redacted])")
    }
}

impl SymmetricKey {
    /// A fresh random 32-byte key and 16-byte IV from the operating system RNG.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        let mut iv = [0u8; 16];
        let mut rng = rand::rngs::SysRng;
        rng.try_fill_bytes(&mut key)
            .map_err(|_| CryptoError::Random)?;
        rng.try_fill_bytes(&mut iv)
            .map_err(|_| CryptoError::Random)?;
        let k = Self { key, iv };
        key.zeroize();
        Ok(k)
    }

    /// From raw parts (e.g. a key unwrapped by a server, or a test vector).
    pub fn from_parts(key: [u8; 32], iv: [u8; 16]) -> Self {
        Self { key, iv }
    }

    /// From slices, checking the lengths.
    pub fn from_slices(key: &[u8], iv: &[u8]) -> Result<Self> {
        let k: [u8; 32] = key.try_into().map_err(|_| CryptoError::KeyLength {
            expected: 32,
            got: key.len(),
        })?;
        let v: [u8; 16] = iv.try_into().map_err(|_| CryptoError::KeyLength {
            expected: 16,
            got: iv.len(),
        })?;
        Ok(Self { key: k, iv: v })
    }

    /// The raw key. Secret: do not log.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The IV (not secret).
    pub fn iv(&self) -> &[u8; 16] {
        &self.iv
    }

    /// The IV as standard Base64 (`initializationVector` of session open requests).
    pub fn iv_b64(&self) -> String {
        crate::b64::encode(self.iv)
    }

    /// A streaming encryptor over a `Read` of plaintext.
    pub fn encrypt_reader<R: std::io::Read>(&self, inner: R) -> EncryptReader<R> {
        CryptReader::new(self, Direction::Encrypt, inner)
    }

    /// A streaming decryptor over a `Read` of ciphertext.
    pub fn decrypt_reader<R: std::io::Read>(&self, inner: R) -> DecryptReader<R> {
        CryptReader::new(self, Direction::Decrypt, inner)
    }

    /// A `Write` that encrypts into `inner`; call [`CryptWriter::finish`] at the end.
    pub fn encrypt_writer<W: std::io::Write>(&self, inner: W) -> EncryptWriter<W> {
        CryptWriter::new(self, Direction::Encrypt, inner)
    }

    /// A `Write` that decrypts into `inner`; call [`CryptWriter::finish`] at the end.
    pub fn decrypt_writer<W: std::io::Write>(&self, inner: W) -> DecryptWriter<W> {
        CryptWriter::new(self, Direction::Decrypt, inner)
    }

    /// Wrap the key for `encryption.encryptedSymmetricKey` (RSA-OAEP-SHA256 under the
    /// `SymmetricKeyEncryption` certificate, standard Base64). Same as [`crate::wrap_key`].
    pub fn wrap_for(&self, cert: &crate::certs::PublicKeyCertificate) -> Result<String> {
        crate::rsa_oaep::wrap_key(cert, self)
    }

    /// Encrypt a whole buffer (an invoice), returning ciphertext and both digests.
    pub fn encrypt(&self, plaintext: &[u8]) -> EncryptedData {
        encrypt_bytes(self, plaintext)
    }
}

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

impl StreamDigests {
    pub(crate) fn from_in_out(dir: Direction, input: FileDigest, output: FileDigest) -> Self {
        match dir {
            Direction::Encrypt => Self {
                plain: input,
                encrypted: output,
            },
            Direction::Decrypt => Self {
                plain: output,
                encrypted: input,
            },
        }
    }
}

/// Result of [`encrypt_bytes`]: ciphertext plus the four values of `SendInvoiceRequest`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedData {
    /// The ciphertext (no IV prefix).
    pub ciphertext: Vec<u8>,
    /// Digests of plaintext and ciphertext.
    pub digests: StreamDigests,
}

impl fmt::Debug for EncryptedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedData")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("digests", &self.digests)
            .finish()
    }
}

impl EncryptedData {
    /// Standard Base64 of the ciphertext (`encryptedInvoiceContent`).
    pub fn ciphertext_b64(&self) -> String {
        crate::b64::encode(&self.ciphertext)
    }
}

/// Encrypt a whole buffer with AES-256-CBC/PKCS#7.
pub fn encrypt_bytes(key: &SymmetricKey, plaintext: &[u8]) -> EncryptedData {
    let mut core = self::core::Core::new(key, Direction::Encrypt, false);
    let mut out = Vec::with_capacity(plaintext.len() + 16);
    // update/finish only fail on a finished core or when decrypting: a fresh encrypting core
    // cannot fail, so the result carries no information here.
    let _infallible = core
        .update(plaintext, &mut out)
        .and_then(|()| core.finish(&mut out));
    let digests = StreamDigests {
        plain: FileDigest::of(plaintext),
        encrypted: FileDigest::of(&out),
    };
    EncryptedData {
        ciphertext: out,
        digests,
    }
}

/// Decrypt a whole buffer; fails with [`CryptoError::Decrypt`] on bad length or padding.
pub fn decrypt_bytes(key: &SymmetricKey, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let mut core = self::core::Core::new(key, Direction::Decrypt, false);
    let mut out = Vec::with_capacity(ciphertext.len());
    core.update(ciphertext, &mut out)?;
    core.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SymmetricKey {
        SymmetricKey::from_parts([0x42; 32], [0x24; 16])
    }

    #[test]
    fn nist_sp800_38a_cbc_aes256_vector() {
        // NIST SP 800-38A F.2.5 CBC-AES256.Encrypt, first block; we append PKCS#7 padding.
        let k = hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
            .unwrap();
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let key = SymmetricKey::from_slices(&k, &iv).unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let enc = encrypt_bytes(&key, &pt);
        assert_eq!(
            hex::encode(&enc.ciphertext[..16]),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
        );
        assert_eq!(enc.ciphertext.len(), 32);
        assert_eq!(decrypt_bytes(&key, &enc.ciphertext).unwrap(), pt);
    }

    #[test]
    fn sizes_pad_to_next_block() {
        for n in [0usize, 1, 15, 16, 17, 6480] {
            let pt = vec![7u8; n];
            let e = encrypt_bytes(&key(), &pt);
            assert_eq!(e.ciphertext.len(), (n / 16 + 1) * 16);
            assert_eq!(e.digests.plain.size, n as u64);
            assert_eq!(e.digests.encrypted.size, e.ciphertext.len() as u64);
        }
        // the rules' observation: 6480 -> 6496
        assert_eq!(encrypt_bytes(&key(), &[0u8; 6480]).ciphertext.len(), 6496);
    }

    #[test]
    fn rejects_bad_ciphertext() {
        let e = encrypt_bytes(&key(), b"hello world");
        assert!(matches!(
            decrypt_bytes(&key(), &e.ciphertext[..15]),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            decrypt_bytes(&key(), &[]),
            Err(CryptoError::Decrypt)
        ));
        let other = SymmetricKey::from_parts([1; 32], [0x24; 16]);
        // wrong key: padding check fails with overwhelming probability for this fixed vector
        assert!(decrypt_bytes(&other, &e.ciphertext).is_err());
    }

    #[test]
    fn key_debug_redacted_and_lengths_checked() {
        let k = SymmetricKey::generate().unwrap();
        assert_eq!(format!("{k:?}"), "SymmetricKey([redacted])");
        assert_ne!(k.key_bytes(), &[0u8; 32]);
        assert!(matches!(
            SymmetricKey::from_slices(&[0; 31], &[0; 16]),
            Err(CryptoError::KeyLength {
                expected: 32,
                got: 31
            })
        ));
    }
}
