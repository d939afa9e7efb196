#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Peak memory while streaming 1 GiB (ignored by default; run in release:
//! `cargo test -p ksef-crypto --release --test memory -- --ignored`).

use std::io::{self, Read, Write};

use ksef_crypto::SymmetricKey;
use ksef_crypto::symmetric::{decrypt_stream, encrypt_stream};

struct Gen(u64);
impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        buf[..n].fill(0xA5);
        self.0 -= n as u64;
        Ok(n)
    }
}

struct Sink;
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "streams 1 GiB; run in release with --ignored"]
fn one_gib_streams_in_bounded_memory() {
    let len: u64 = std::env::var("KSEF_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
        << 20;
    let key = SymmetricKey::generate().unwrap();
    let d = encrypt_stream(&key, Gen(len), Sink).unwrap();
    assert_eq!(d.plain.size, len);
    assert_eq!(d.encrypted.size, len + 16);
    // decrypt what the single-thread encrypting reader produces on the fly
    let d2 = decrypt_stream(&key, key.encrypt_reader(Gen(len)), Sink).unwrap();
    assert_eq!(d2, d);
    let peak = vm_hwm_kib();
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB >= 32 MiB");
}
