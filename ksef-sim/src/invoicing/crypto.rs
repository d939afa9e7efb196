//! AES-256-CBC/PKCS#7 in the shapes the invoicing part needs: whole buffers
//! (online invoices), streaming file-to-writer decryption (batch parts) and
//! streaming reader-to-file encryption (export parts), with SHA-256 on the
//! fly.

use std::io::{Read, Write};

use aes::Aes256;
use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, consts::U16};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Size of the I/O buffer used when streaming (a multiple of the block size).
const CHUNK: usize = 256 * 1024;

/// A symmetric session key and IV (zeroized on drop, redacted in Debug).
#[derive(Clone)]
pub(crate) struct SessionKey {
    key: Zeroizing<[u8; 32]>,
    iv: [u8; 16],
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Decryption failed (wrong key, truncated data or bad padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AES-256-CBC decryption failed")]
pub(crate) struct DecryptError;

impl SessionKey {
    /// Builds a key from raw bytes; `None` unless 32 + 16 bytes.
    pub(crate) fn from_parts(key: &[u8], iv: &[u8]) -> Option<Self> {
        let key: [u8; 32] = key.try_into().ok()?;
        let iv: [u8; 16] = iv.try_into().ok()?;
        Some(Self {
            key: Zeroizing::new(key),
            iv,
        })
    }

    fn decryptor(&self) -> cbc::Decryptor<Aes256> {
        cbc::Decryptor::<Aes256>::new(&(*self.key).into(), &self.iv.into())
    }

    fn encryptor(&self) -> cbc::Encryptor<Aes256> {
        cbc::Encryptor::<Aes256>::new(&(*self.key).into(), &self.iv.into())
    }

    /// Decrypts a whole buffer.
    pub(crate) fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.decryptor()
            .decrypt_padded_vec::<cbc::cipher::block_padding::Pkcs7>(ciphertext)
            .map_err(|_| DecryptError)
    }

    /// Encrypts a whole buffer.
    #[cfg(test)]
    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        self.encryptor()
            .encrypt_padded_vec::<cbc::cipher::block_padding::Pkcs7>(plaintext)
    }

    /// Streams `input` (ciphertext) through the cipher into `out`, updating
    /// `hasher` with the plaintext. Returns the plaintext length.
    pub(crate) fn decrypt_stream(
        &self,
        mut input: impl Read,
        out: &mut impl Write,
        hasher: &mut Sha256,
    ) -> Result<u64, StreamError> {
        let mut dec = self.decryptor();
        let mut buf = vec![0u8; CHUNK + 16];
        // `held` bytes at the start of `buf` are ciphertext not yet decrypted
        // (the last block is held back until EOF to strip the padding).
        let mut held = 0usize;
        let mut total = 0u64;
        loop {
            let n = read_full(&mut input, &mut buf[held..])?;
            let avail = held + n;
            if n == 0 {
                if avail != 16 {
                    return Err(StreamError::Decrypt);
                }
                let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..16]);
                dec.decrypt_blocks(blocks);
                let pad = usize::from(buf[15]);
                if pad == 0 || pad > 16 || buf[16 - pad..16].iter().any(|&b| usize::from(b) != pad)
                {
                    return Err(StreamError::Decrypt);
                }
                let plain = &buf[..16 - pad];
                hasher.update(plain);
                out.write_all(plain)?;
                total += plain.len() as u64;
                return Ok(total);
            }
            // Decrypt all complete blocks but keep the last full block back.
            let complete = avail / 16 * 16;
            if complete <= 16 {
                held = avail;
                continue;
            }
            let now = complete - 16;
            let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..now]);
            dec.decrypt_blocks(blocks);
            hasher.update(&buf[..now]);
            out.write_all(&buf[..now])?;
            total += now as u64;
            buf.copy_within(now..avail, 0);
            held = avail - now;
        }
    }

    /// Encrypts everything `input` yields into `out`. Returns
    /// `(plain size, plain sha256, encrypted size, encrypted sha256)`.
    pub(crate) fn encrypt_stream(
        &self,
        mut input: impl Read,
        out: &mut impl Write,
    ) -> std::io::Result<(u64, [u8; 32], u64, [u8; 32])> {
        let mut enc = self.encryptor();
        let mut plain_hash = Sha256::new();
        let mut enc_hash = Sha256::new();
        let mut buf = vec![0u8; CHUNK + 16];
        let mut held = 0usize;
        let (mut plain_len, mut enc_len) = (0u64, 0u64);
        loop {
            let n = read_full(&mut input, &mut buf[held..CHUNK])?;
            plain_hash.update(&buf[held..held + n]);
            plain_len += n as u64;
            let avail = held + n;
            if n == 0 {
                let pad = 16 - avail % 16;
                for b in &mut buf[avail..avail + pad] {
                    *b = pad as u8;
                }
                let len = avail + pad;
                let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..len]);
                enc.encrypt_blocks(blocks);
                enc_hash.update(&buf[..len]);
                out.write_all(&buf[..len])?;
                enc_len += len as u64;
                return Ok((
                    plain_len,
                    plain_hash.finalize().into(),
                    enc_len,
                    enc_hash.finalize().into(),
                ));
            }
            let complete = avail / 16 * 16;
            let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf[..complete]);
            enc.encrypt_blocks(blocks);
            enc_hash.update(&buf[..complete]);
            out.write_all(&buf[..complete])?;
            enc_len += complete as u64;
            buf.copy_within(complete..avail, 0);
            held = avail - complete;
        }
    }
}

/// Streaming decryption failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    /// Bad length or padding (wrong key or corrupt data).
    #[error("decryption failed")]
    Decrypt,
    /// Local I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads until `buf` is full or EOF; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Standard Base64 of SHA-256 of `data`.
pub(crate) fn sha256_b64(data: &[u8]) -> String {
    b64(&Sha256::digest(data))
}

/// Standard padded Base64.
pub(crate) fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard padded Base64.
pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_parts(&[7u8; 32], &[9u8; 16]).unwrap()
    }

    #[test]
    fn known_answer_nist_sp800_38a_style() {
        // One block of zeros under a zero key/IV: AES-256(0^128) then padding block.
        let k = SessionKey::from_parts(&[0u8; 32], &[0u8; 16]).unwrap();
        let ct = k.encrypt(&[0u8; 16]);
        assert_eq!(ct.len(), 32);
        assert_eq!(hex::encode(&ct[..16]), "dc95c078a2408989ad48a21492842087");
        assert_eq!(k.decrypt(&ct).unwrap(), vec![0u8; 16]);
    }

    #[test]
    fn stream_matches_buffer_for_many_lengths() {
        let k = key();
        for len in [
            0usize,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 5,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let ct = k.encrypt(&plain);
            let mut out = Vec::new();
            let mut h = Sha256::new();
            // A reader that yields small pieces, to exercise the refill logic.
            let reader = std::io::Cursor::new(ct.clone()).take(u64::MAX);
            let n = k.decrypt_stream(reader, &mut out, &mut h).unwrap();
            assert_eq!(n as usize, len);
            assert_eq!(out, plain);
            assert_eq!(
                <[u8; 32]>::from(h.finalize()),
                <[u8; 32]>::from(Sha256::digest(&plain))
            );

            let mut enc_out = Vec::new();
            let (pl, ph, el, eh) = k
                .encrypt_stream(std::io::Cursor::new(&plain), &mut enc_out)
                .unwrap();
            assert_eq!(enc_out, ct);
            assert_eq!(pl as usize, len);
            assert_eq!(el as usize, ct.len());
            assert_eq!(ph, <[u8; 32]>::from(Sha256::digest(&plain)));
            assert_eq!(eh, <[u8; 32]>::from(Sha256::digest(&ct)));
        }
    }

    #[test]
    fn wrong_key_or_truncation_fails() {
        let ct = key().encrypt(b"hello world, this is an invoice");
        let other = SessionKey::from_parts(&[8u8; 32], &[9u8; 16]).unwrap();
        // A wrong key yields bad padding with overwhelming probability for this fixed input.
        assert!(other.decrypt(&ct).is_err());
        let mut out = Vec::new();
        assert!(matches!(
            key().decrypt_stream(&ct[..ct.len() - 1], &mut out, &mut Sha256::new()),
            Err(StreamError::Decrypt)
        ));
    }
}
