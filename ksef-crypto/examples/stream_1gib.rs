//! Streams 1 GiB (or `$KSEF_STREAM_MIB` MiB) of generated plaintext through the encrypt + double
//! hash pipeline into a sink, then decrypts the same way, and reports MB/s and the peak resident
//! set size (VmHWM from /proc/self/status). Run in release:
//! `cargo run --release -p ksef-crypto --example stream_1gib`.
#![allow(clippy::print_stdout)]

use std::io::{self, Read, Write};
use std::time::Instant;

use ksef_crypto::SymmetricKey;
use ksef_crypto::symmetric::{decrypt_stream, encrypt_stream};

/// Yields `left` bytes copied from a fixed 1 MiB pattern (cheap, holds nothing else).
struct Gen {
    left: u64,
    pattern: Vec<u8>,
    pos: usize,
}

impl Gen {
    fn new(left: u64) -> Self {
        let pattern = (0..1usize << 20)
            .map(|i| (i * 31 + i / 4093) as u8)
            .collect();
        Self {
            left,
            pattern,
            pos: 0,
        }
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64)
            .min(self.left)
            .min((self.pattern.len() - self.pos) as u64) as usize;
        buf[..n].copy_from_slice(&self.pattern[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.pattern.len();
        self.left -= n as u64;
        Ok(n)
    }
}

/// Arbitrary "ciphertext" of `len` bytes followed by one crafted block that makes the PKCS#7
/// padding valid (an encrypted empty block chained on the last 16 bytes), so 1 GiB can be
/// decrypted without holding it.
struct CtGen {
    inner: Gen,
    last: [u8; 16],
    tail: Option<Vec<u8>>,
    key: SymmetricKey,
}

impl Read for CtGen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inner.left > 0 {
            let n = self.inner.read(buf)?;
            // remember the last 16 bytes emitted (reads are 16-byte aligned in size here)
            if n >= 16 {
                self.last.copy_from_slice(&buf[n - 16..n]);
            }
            return Ok(n);
        }
        let tail = self.tail.get_or_insert_with(|| {
            SymmetricKey::from_parts(*self.key.key_bytes(), self.last)
                .encrypt(b"")
                .ciphertext
        });
        let n = buf.len().min(tail.len());
        buf[..n].copy_from_slice(&tail[..n]);
        tail.drain(..n);
        Ok(n)
    }
}

struct Sink(u64);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Pipes ciphertext produced on the fly into the decryptor (encrypt in a thread, decrypt here).
fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "VmHWM: n/a".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::var("KSEF_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let len = mib << 20;
    let key = SymmetricKey::generate()?;
    println!("before: {}", vm_hwm());

    let t = Instant::now();
    let mut sink = Sink(0);
    let d = encrypt_stream(&key, Gen::new(len), &mut sink)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "encrypt+double-hash: {} MiB -> {} B ciphertext in {secs:.2} s = {:.0} MB/s (plain sha256 {})",
        mib,
        d.encrypted.size,
        len as f64 / secs / 1e6,
        d.plain.sha256_b64()
    );
    println!("after encrypt: {}", vm_hwm());

    // decrypt: 1 GiB of generated ciphertext (+ one valid padding block)
    let t = Instant::now();
    let ct = CtGen {
        inner: Gen::new(len),
        last: [0; 16],
        tail: None,
        key: key.clone(),
    };
    let mut sink = Sink(0);
    let d2 = decrypt_stream(&key, ct, &mut sink)?;
    let secs2 = t.elapsed().as_secs_f64();
    println!(
        "decrypt+double-hash: {} B ciphertext -> {} B in {secs2:.2} s = {:.0} MB/s",
        d2.encrypted.size,
        d2.plain.size,
        d2.encrypted.size as f64 / secs2 / 1e6
    );
    println!("peak: {}", vm_hwm());
    Ok(())
}
