//! Two-thread `Read` → `Write` pipelines: the calling thread reads, transforms and writes; a
//! scoped helper thread hashes the input and the output buffers. A fixed pool of buffers travels
//! between the two threads through bounded channels, so memory stays constant (about
//! `POOL × 2 × PIPE_CHUNK`) whatever the input size.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};

use super::core::{Core, Direction};
use super::{FileDigest, StreamDigests, SymmetricKey};
use crate::error::{CryptoError, Result};

const PIPE_CHUNK: usize = 512 * 1024;
const POOL: usize = 4;

type Pair = (Vec<u8>, Vec<u8>);

/// Encrypt everything `reader` yields into `writer` (AES-256-CBC/PKCS#7, no IV prefix) and return
/// the SHA-256 and size of the plaintext and of the ciphertext. `writer` is flushed, not closed.
pub fn encrypt_stream<R: Read, W: Write>(
    key: &SymmetricKey,
    reader: R,
    writer: W,
) -> Result<StreamDigests> {
    run(key, Direction::Encrypt, reader, writer)
}

/// Decrypt everything `reader` yields into `writer`, verifying the padding, and return the digests
/// of ciphertext and plaintext. On a padding error the writer has received all but the last block.
pub fn decrypt_stream<R: Read, W: Write>(
    key: &SymmetricKey,
    reader: R,
    writer: W,
) -> Result<StreamDigests> {
    run(key, Direction::Decrypt, reader, writer)
}

fn fill<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn hasher(rx: Receiver<Pair>, back: SyncSender<Pair>) -> (Sha256, Sha256) {
    let mut hin = Sha256::new();
    let mut hout = Sha256::new();
    while let Ok((i, o)) = rx.recv() {
        hin.update(&i);
        hout.update(&o);
        // the producer may already be gone (error path): ignore
        let _ = back.send((i, o));
    }
    (hin, hout)
}

fn run<R: Read, W: Write>(
    key: &SymmetricKey,
    dir: Direction,
    mut reader: R,
    mut writer: W,
) -> Result<StreamDigests> {
    let wrap = |e: io::Error| match dir {
        Direction::Encrypt => CryptoError::EncryptStream(e),
        Direction::Decrypt => CryptoError::DecryptStream(e),
    };
    let mut core = Core::new(key, dir, false);
    let (to_hash, hash_rx) = sync_channel::<Pair>(POOL);
    let (back_tx, free) = sync_channel::<Pair>(POOL);
    for _ in 0..POOL {
        back_tx
            .send((vec![0; PIPE_CHUNK], Vec::with_capacity(PIPE_CHUNK + 32)))
            .map_err(|_| wrap(io::Error::other("buffer pool")))?;
    }
    std::thread::scope(|s| {
        let h = s.spawn(move || hasher(hash_rx, back_tx));
        let produced: Result<()> = (|| {
            loop {
                let (mut input, mut output) = free
                    .recv()
                    .map_err(|_| wrap(io::Error::other("hash thread stopped")))?;
                input.resize(PIPE_CHUNK, 0);
                let n = fill(&mut reader, &mut input).map_err(wrap)?;
                input.truncate(n);
                output.clear();
                if n == 0 {
                    core.finish(&mut output)?;
                } else {
                    core.update(&input, &mut output)?;
                }
                writer.write_all(&output).map_err(wrap)?;
                to_hash
                    .send((input, output))
                    .map_err(|_| wrap(io::Error::other("hash thread stopped")))?;
                if n == 0 {
                    break;
                }
            }
            writer.flush().map_err(wrap)
        })();
        drop(to_hash);
        let hashes = h.join();
        produced?;
        let (hin, hout) = hashes.map_err(|_| wrap(io::Error::other("hash thread panicked")))?;
        let (in_size, out_size) = core.sizes();
        Ok(StreamDigests::from_in_out(
            dir,
            FileDigest {
                sha256: hin.finalize().into(),
                size: in_size,
            },
            FileDigest {
                sha256: hout.finalize().into(),
                size: out_size,
            },
        ))
    })
}
