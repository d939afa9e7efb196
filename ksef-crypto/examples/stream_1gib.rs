//! Streams 1 GiB (or `$KSEF_STREAM_MIB` MiB) of generated plaintext through the encrypt + double
//! hash pipeline into a sink, then decrypts the same way, and reports MB/s and the peak resident
//! set size (VmHWM from /proc/self/status). Run in release:
//! `cargo run --release -p ksef-crypto --example stream_1gib`.
#![allow(clippy::print_stdout)]

use std::io::{self, Read, Write};
use std::time::Instant;

use ksef_crypto::SymmetricKey;
use ksef_crypto::symmetric::{decrypt_stream, encrypt_stream};

/// Generates `left` bytes of a cheap pattern without holding them.
struct Gen {
    left: u64,
    ctr: u8,
}
impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            *b = self.ctr;
            self.ctr = self.ctr.wrapping_add(31);
        }
        self.left -= n as u64;
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
    let d = encrypt_stream(&key, Gen { left: len, ctr: 0 }, &mut sink)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "encrypt+double-hash: {} MiB -> {} B ciphertext in {secs:.2} s = {:.0} MB/s (plain sha256 {})",
        mib,
        d.encrypted.size,
        len as f64 / secs / 1e6,
        d.plain.sha256_b64()
    );
    println!("after encrypt: {}", vm_hwm());

    // decrypt: generate the ciphertext on the fly through the encrypting reader
    let t = Instant::now();
    let ct = key.encrypt_reader(Gen { left: len, ctr: 0 });
    let mut sink = Sink(0);
    let d2 = decrypt_stream(&key, ct, &mut sink)?;
    let secs2 = t.elapsed().as_secs_f64();
    println!(
        "encrypt(single-thread reader) feeding decrypt+double-hash: {:.0} MB/s end to end; plain hash matches: {}",
        len as f64 / secs2 / 1e6,
        d2.plain == d.plain && d2.encrypted == d.encrypted
    );
    println!("peak: {}", vm_hwm());
    Ok(())
}
