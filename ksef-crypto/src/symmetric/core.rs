//! The incremental AES-256-CBC/PKCS#7 transform shared by all adapters.

use aes::Aes256;
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use sha2::{Digest, Sha256};

use super::cbc_enc::CbcEncryptor as Enc;
use super::digest::{FileDigest, StreamDigests};
use super::key::SymmetricKey;
use crate::error::CryptoError;

type Dec = cbc::Decryptor<Aes256>;

const BLOCK: usize = 16;

/// Direction of a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// plaintext in, ciphertext out
    Encrypt,
    /// ciphertext in, plaintext out
    Decrypt,
}

enum Mode {
    Enc(Box<Enc>),
    Dec(Box<Dec>),
}

/// Incremental CBC transform with optional inline hashing of input and output.
pub(crate) struct Core {
    mode: Mode,
    partial: [u8; BLOCK],
    plen: usize,
    /// Decrypt only: the last decrypted block, withheld until we know whether it is the final one.
    held: Option<[u8; BLOCK]>,
    hashers: Option<(Sha256, Sha256)>,
    in_size: u64,
    out_size: u64,
    finished: bool,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("direction", &self.direction())
            .field("in_size", &self.in_size)
            .field("out_size", &self.out_size)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.partial.zeroize();
        if let Some(h) = self.held.as_mut() {
            h.zeroize();
        }
    }
}

impl Core {
    pub(crate) fn new(key: &SymmetricKey, direction: Direction, hash: bool) -> Self {
        let k = Array::from(*key.key_bytes());
        let iv = Array::from(*key.iv());
        let mode = match direction {
            Direction::Encrypt => Mode::Enc(Box::new(Enc::new(key.key_bytes(), key.iv()))),
            Direction::Decrypt => Mode::Dec(Box::new(Dec::new(&k, &iv))),
        };
        Self {
            mode,
            partial: [0; BLOCK],
            plen: 0,
            held: None,
            hashers: hash.then(|| (Sha256::new(), Sha256::new())),
            in_size: 0,
            out_size: 0,
            finished: false,
        }
    }

    pub(crate) fn direction(&self) -> Direction {
        match self.mode {
            Mode::Enc(_) => Direction::Encrypt,
            Mode::Dec(_) => Direction::Decrypt,
        }
    }

    /// Moves `partial ++ input` into `out` (appending), keeps the tail that is not a whole block
    /// in `partial`, and returns the start index of the whole blocks appended to `out`.
    fn stage(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.extend_from_slice(&self.partial[..self.plen]);
        out.extend_from_slice(input);
        let total = out.len() - start;
        let full = total - total % BLOCK;
        let rest = total - full;
        self.partial[..rest].copy_from_slice(&out[start + full..]);
        self.plen = rest;
        out.truncate(start + full);
        start
    }

    /// Feed input; append produced output to `out`.
    pub(crate) fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if self.finished {
            let e = std::io::Error::other("stream already finished");
            return Err(match self.direction() {
                Direction::Encrypt => CryptoError::EncryptStream(e),
                Direction::Decrypt => CryptoError::DecryptStream(e),
            });
        }
        self.in_size += input.len() as u64;
        if let Some((hin, _)) = self.hashers.as_mut() {
            hin.update(input);
        }
        let out_start = out.len();
        match &mut self.mode {
            Mode::Enc(_) => {
                let s = self.stage(input, out);
                if let Mode::Enc(enc) = &mut self.mode {
                    enc.encrypt_blocks(&mut out[s..]);
                }
            }
            Mode::Dec(_) => {
                if let Some(h) = self.held.take() {
                    out.extend_from_slice(&h);
                }
                let s = self.stage(input, out);
                if let Mode::Dec(dec) = &mut self.mode {
                    let (blocks, _) = Array::slice_as_chunks_mut(&mut out[s..]);
                    dec.decrypt_blocks(blocks);
                }
                if out.len() >= out_start + BLOCK {
                    let mut h = [0u8; BLOCK];
                    h.copy_from_slice(&out[out.len() - BLOCK..]);
                    self.held = Some(h);
                    out.truncate(out.len() - BLOCK);
                }
            }
        }
        let produced = &out[out_start..];
        self.out_size += produced.len() as u64;
        if let Some((_, hout)) = self.hashers.as_mut() {
            hout.update(produced);
        }
        Ok(())
    }

    /// Finish the stream: write the padded final block (encrypt) or check and strip the padding
    /// (decrypt).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let out_start = out.len();
        match &mut self.mode {
            Mode::Enc(enc) => {
                let pad = (BLOCK - self.plen) as u8;
                let mut block = [pad; BLOCK];
                block[..self.plen].copy_from_slice(&self.partial[..self.plen]);
                enc.encrypt_blocks(&mut block);
                out.extend_from_slice(&block);
            }
            Mode::Dec(_) => {
                let held = match (self.plen, self.held.take()) {
                    (0, Some(h)) => h,
                    _ => return Err(CryptoError::Decrypt),
                };
                let pad = held[BLOCK - 1] as usize;
                if pad == 0 || pad > BLOCK {
                    return Err(CryptoError::Decrypt);
                }
                let bad = held[BLOCK - pad..]
                    .iter()
                    .fold(0u8, |acc, &b| acc | (b ^ pad as u8));
                if bad != 0 {
                    return Err(CryptoError::Decrypt);
                }
                out.extend_from_slice(&held[..BLOCK - pad]);
            }
        }
        let produced = &out[out_start..];
        self.out_size += produced.len() as u64;
        if let Some((_, hout)) = self.hashers.as_mut() {
            hout.update(produced);
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    pub(crate) fn sizes(&self) -> (u64, u64) {
        (self.in_size, self.out_size)
    }

    /// Digests computed inline (only when created with `hash = true` and after `finish`).
    pub(crate) fn digests(&self) -> Option<StreamDigests> {
        if !self.finished {
            return None;
        }
        let (hin, hout) = self.hashers.as_ref()?;
        let input = FileDigest {
            sha256: hin.clone().finalize().into(),
            size: self.in_size,
        };
        let output = FileDigest {
            sha256: hout.clone().finalize().into(),
            size: self.out_size,
        };
        Some(stream_digests(self.direction(), input, output))
    }
}

/// The digests of a finished transform, named by side: the input of an encryption is the
/// plaintext, the input of a decryption the ciphertext.
pub(crate) fn stream_digests(
    dir: Direction,
    input: FileDigest,
    output: FileDigest,
) -> StreamDigests {
    match dir {
        Direction::Encrypt => StreamDigests {
            plain: input,
            encrypted: output,
        },
        Direction::Decrypt => StreamDigests {
            plain: output,
            encrypted: input,
        },
    }
}
