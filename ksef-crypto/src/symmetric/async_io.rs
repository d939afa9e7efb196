//! tokio `AsyncRead`/`AsyncWrite` adapters.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::core::{Core, Direction};
use super::digest::StreamDigests;
use super::io::{CHUNK, ReadBuffers, to_io};
use super::key::SymmetricKey;

/// tokio `AsyncRead` adapter producing ciphertext.
pub type AsyncEncryptReader<R> = AsyncCryptReader<R>;
/// tokio `AsyncRead` adapter producing plaintext.
pub type AsyncDecryptReader<R> = AsyncCryptReader<R>;
/// tokio `AsyncWrite` adapter accepting plaintext.
pub type AsyncEncryptWriter<W> = AsyncCryptWriter<W>;
/// tokio `AsyncWrite` adapter accepting ciphertext.
pub type AsyncDecryptWriter<W> = AsyncCryptWriter<W>;

/// An `AsyncRead` adapter that encrypts or decrypts what it reads from `inner`, hashing both sides.
#[derive(Debug)]
pub struct AsyncCryptReader<R> {
    inner: R,
    buffers: ReadBuffers,
}

impl<R: AsyncRead + Unpin> AsyncCryptReader<R> {
    /// Encrypting reader: yields the ciphertext of what `inner` yields.
    pub fn encrypt(key: &SymmetricKey, inner: R) -> Self {
        Self::new(key, Direction::Encrypt, inner)
    }

    /// Decrypting reader: yields the plaintext of the ciphertext `inner` yields.
    pub fn decrypt(key: &SymmetricKey, inner: R) -> Self {
        Self::new(key, Direction::Decrypt, inner)
    }

    fn new(key: &SymmetricKey, dir: Direction, inner: R) -> Self {
        Self {
            inner,
            buffers: ReadBuffers::new(key, dir),
        }
    }

    /// Digests, once end-of-file has been returned.
    pub fn digests(&self) -> Option<StreamDigests> {
        self.buffers.digests()
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncCryptReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if let Some(out) = this.buffers.output(buf.remaining()) {
                buf.put_slice(out);
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(this.buffers.input());
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            this.buffers.consume(n)?;
        }
    }
}

/// An `AsyncWrite` adapter that encrypts or decrypts what is written into `inner`.
///
/// `shutdown()` writes the final block (or checks the padding) and shuts `inner` down; after that
/// [`AsyncCryptWriter::digests`] returns the digests.
#[derive(Debug)]
pub struct AsyncCryptWriter<W> {
    inner: W,
    core: Core,
    out: Vec<u8>,
    pos: usize,
}

impl<W: AsyncWrite + Unpin> AsyncCryptWriter<W> {
    /// Encrypting writer: accepts plaintext.
    pub fn encrypt(key: &SymmetricKey, inner: W) -> Self {
        Self::new(key, Direction::Encrypt, inner)
    }

    /// Decrypting writer: accepts ciphertext.
    pub fn decrypt(key: &SymmetricKey, inner: W) -> Self {
        Self::new(key, Direction::Decrypt, inner)
    }

    fn new(key: &SymmetricKey, dir: Direction, inner: W) -> Self {
        Self {
            inner,
            core: Core::new(key, dir, true),
            out: Vec::with_capacity(CHUNK + 32),
            pos: 0,
        }
    }

    /// Digests, after a successful `shutdown()`.
    pub fn digests(&self) -> Option<StreamDigests> {
        self.core.digests()
    }

    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.inner
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pos < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        self.out.clear();
        self.pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncCryptWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if this.core.is_finished() {
            return Poll::Ready(Err(io::Error::other("write after shutdown")));
        }
        let n = buf.len().min(CHUNK);
        this.core.update(&buf[..n], &mut this.out).map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if !this.core.is_finished() {
            this.core.finish(&mut this.out).map_err(to_io)?;
            ready!(this.poll_drain(cx))?;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
