//! `std::io` adapters.

use std::io::{self, Read, Write};

use super::core::{Core, Direction};
use super::{CHUNK, StreamDigests, SymmetricKey};
use crate::error::CryptoError;

pub(crate) fn to_io(e: CryptoError) -> io::Error {
    match e {
        CryptoError::EncryptStream(e) | CryptoError::DecryptStream(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// A `Read` adapter that encrypts or decrypts what it reads from `inner`, hashing both sides.
///
/// After it has returned end-of-file, [`CryptReader::digests`] returns the digests. A decrypting
/// reader reports bad padding as an `InvalidData` I/O error at the end of the stream.
#[derive(Debug)]
pub struct CryptReader<R> {
    inner: R,
    core: Core,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> CryptReader<R> {
    pub(crate) fn new(key: &SymmetricKey, dir: Direction, inner: R) -> Self {
        Self {
            inner,
            core: Core::new(key, dir, true),
            inbuf: vec![0; CHUNK],
            out: Vec::with_capacity(CHUNK + 32),
            pos: 0,
            eof: false,
        }
    }

    /// Digests of plaintext and ciphertext, once the end of the stream has been read.
    pub fn digests(&self) -> Option<StreamDigests> {
        self.core.digests()
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            let n = self.inner.read(&mut self.inbuf)?;
            if n == 0 {
                self.core.finish(&mut self.out).map_err(to_io)?;
                self.eof = true;
            } else {
                self.core
                    .update(&self.inbuf[..n], &mut self.out)
                    .map_err(to_io)?;
            }
        }
    }
}

/// A `Write` adapter that encrypts or decrypts what is written and writes the result to `inner`.
///
/// Call [`CryptWriter::finish`] at the end: it writes the final block (or checks the padding)
/// and returns the inner writer with the digests.
#[derive(Debug)]
pub struct CryptWriter<W> {
    inner: W,
    core: Core,
    out: Vec<u8>,
}

impl<W: Write> CryptWriter<W> {
    pub(crate) fn new(key: &SymmetricKey, dir: Direction, inner: W) -> Self {
        Self {
            inner,
            core: Core::new(key, dir, true),
            out: Vec::with_capacity(CHUNK + 32),
        }
    }

    /// Finish the stream and return the inner writer and the digests.
    pub fn finish(mut self) -> Result<(W, StreamDigests), CryptoError> {
        let dir = self.core.direction();
        let wrap = |e: io::Error| match dir {
            Direction::Encrypt => CryptoError::EncryptStream(e),
            Direction::Decrypt => CryptoError::DecryptStream(e),
        };
        self.out.clear();
        self.core.finish(&mut self.out)?;
        self.inner.write_all(&self.out).map_err(wrap)?;
        self.inner.flush().map_err(wrap)?;
        let d = self
            .core
            .digests()
            .ok_or_else(|| wrap(io::Error::other("digests unavailable")))?;
        Ok((self.inner, d))
    }
}

impl<W: Write> Write for CryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK);
        self.out.clear();
        self.core.update(&buf[..n], &mut self.out).map_err(to_io)?;
        self.inner.write_all(&self.out)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
