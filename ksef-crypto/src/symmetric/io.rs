//! `std::io` adapters.

use std::io::{self, Read, Write};

use super::core::{Core, Direction};
use super::digest::StreamDigests;
use super::key::SymmetricKey;
use crate::error::CryptoError;

/// Buffer size used by the adapters.
pub(crate) const CHUNK: usize = 64 * 1024;

/// `std::io::Read` adapter: reads plaintext from the inner reader, yields ciphertext.
pub type EncryptReader<R> = CryptReader<R>;
/// `std::io::Read` adapter: reads ciphertext from the inner reader, yields plaintext.
pub type DecryptReader<R> = CryptReader<R>;
/// `std::io::Write` adapter: accepts plaintext, writes ciphertext to the inner writer.
pub type EncryptWriter<W> = CryptWriter<W>;
/// `std::io::Write` adapter: accepts ciphertext, writes plaintext to the inner writer.
pub type DecryptWriter<W> = CryptWriter<W>;
impl SymmetricKey {
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
}

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
    buffers: ReadBuffers,
}

impl<R: Read> CryptReader<R> {
    pub(crate) fn new(key: &SymmetricKey, dir: Direction, inner: R) -> Self {
        Self {
            inner,
            buffers: ReadBuffers::new(key, dir),
        }
    }

    /// Digests of plaintext and ciphertext, once the end of the stream has been read.
    pub fn digests(&self) -> Option<StreamDigests> {
        self.buffers.digests()
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
            if let Some(out) = self.buffers.output(buf.len()) {
                let n = out.len();
                buf.get_mut(..n)
                    .ok_or_else(|| io::Error::other("output longer than the buffer"))?
                    .copy_from_slice(out);
                return Ok(n);
            }
            let n = self.inner.read(self.buffers.input())?;
            self.buffers.consume(n)?;
        }
    }
}

/// What a transforming reader holds between calls: the input it read from its inner reader and
/// the transformed output not yet handed out. Shared by [`CryptReader`] and the tokio reader.
#[derive(Debug)]
pub(crate) struct ReadBuffers {
    core: Core,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl ReadBuffers {
    pub(crate) fn new(key: &SymmetricKey, dir: Direction) -> Self {
        Self {
            core: Core::new(key, dir, true),
            input: vec![0; CHUNK],
            out: Vec::with_capacity(CHUNK + 32),
            pos: 0,
            eof: false,
        }
    }

    /// Up to `max` bytes of transformed output, taken; an empty slice once the stream has ended;
    /// `None` when more input is needed first.
    pub(crate) fn output(&mut self, max: usize) -> Option<&[u8]> {
        if self.pos < self.out.len() {
            let start = self.pos;
            self.pos = self.out.len().min(start.saturating_add(max));
            return self.out.get(start..self.pos);
        }
        self.eof.then_some(&[])
    }

    /// The buffer the next input goes into.
    pub(crate) fn input(&mut self) -> &mut [u8] {
        &mut self.input
    }

    /// Transforms the first `n` bytes of the input buffer; `n == 0` (end of the inner stream)
    /// finishes the transform.
    pub(crate) fn consume(&mut self, n: usize) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        if n == 0 {
            self.core.finish(&mut self.out).map_err(to_io)?;
            self.eof = true;
            return Ok(());
        }
        let input = self
            .input
            .get(..n)
            .ok_or_else(|| io::Error::other("the inner reader returned more bytes than asked"))?;
        self.core.update(input, &mut self.out).map_err(to_io)
    }

    pub(crate) fn digests(&self) -> Option<StreamDigests> {
        self.core.digests()
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
