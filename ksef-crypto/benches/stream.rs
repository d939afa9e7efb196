//! Throughput of the symmetric pipelines (release profile):
//! `cargo bench -p ksef-crypto --bench stream`.
//!
//! Compare with `openssl speed -evp aes-256-cbc` and `openssl speed -evp sha256` on the same
//! machine (see the crate README for measured numbers).

use std::io::{self, Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksef_crypto::SymmetricKey;
use ksef_crypto::symmetric::{decrypt_stream, encrypt_bytes, encrypt_stream};
use sha2::{Digest, Sha256};

const LEN: usize = 64 << 20;

/// Reads from a fixed in-memory buffer (no allocation per read).
struct Mem<'a>(&'a [u8]);
impl Read for Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

struct Sink;
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(std::hint::black_box(b).len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let key = SymmetricKey::from_parts([7; 32], [9; 16]);
    let plain: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 255) as u8).collect();
    let cipher = encrypt_bytes(&key, &plain).ciphertext;

    let mut g = c.benchmark_group("symmetric");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("encrypt+double-hash pipeline (encrypt_stream)", |b| {
        b.iter(|| encrypt_stream(&key, Mem(&plain), Sink).map(|d| d.encrypted.size))
    });
    g.bench_function("decrypt+double-hash pipeline (decrypt_stream)", |b| {
        b.iter(|| decrypt_stream(&key, Mem(&cipher), Sink).map(|d| d.plain.size))
    });
    g.bench_function("encrypt+double-hash single thread (EncryptReader)", |b| {
        b.iter(|| {
            let mut r = key.encrypt_reader(Mem(&plain));
            io::copy(&mut r, &mut Sink).map(|n| n + r.digests().map_or(0, |d| d.plain.size))
        })
    });
    g.bench_function("decrypt+double-hash single thread (DecryptReader)", |b| {
        b.iter(|| {
            let mut r = key.decrypt_reader(Mem(&cipher));
            io::copy(&mut r, &mut Sink)
        })
    });
    g.bench_function(
        "encrypt_bytes per 1 MiB invoice (one thread, incl. both hashes)",
        |b| {
            b.iter(|| {
                plain
                    .chunks(1 << 20)
                    .map(|c| encrypt_bytes(&key, c).ciphertext.len())
                    .sum::<usize>()
            })
        },
    );
    g.bench_function("reference: SHA-256 only", |b| {
        b.iter(|| Sha256::digest(&plain))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
