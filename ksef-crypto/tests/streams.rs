#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every streaming adapter produces exactly the ciphertext and digests of the one-shot functions,
//! whatever the read/write chunking.

use std::io::{Read, Write};

use ksef_crypto::symmetric::{
    AsyncCryptReader, AsyncCryptWriter, decrypt_bytes, decrypt_stream, encrypt_bytes,
    encrypt_stream,
};
use ksef_crypto::{FileDigest, SymmetricKey};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A reader that returns at most `k` bytes per call.
struct Chunky<'a> {
    data: &'a [u8],
    k: usize,
}

impl Read for Chunky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.k.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl tokio::io::AsyncRead for Chunky<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.k.min(buf.remaining()).min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        std::task::Poll::Ready(Ok(()))
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(i as u8 >> 3))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn all_adapters_agree(len in 0usize..150_000, k in 1usize..70_000, seed in any::<u8>()) {
        let key = SymmetricKey::generate().unwrap();
        let plain = data(len, seed);
        let reference = encrypt_bytes(&key, &plain);
        prop_assert_eq!(reference.digests.plain, FileDigest::of(&plain));
        prop_assert_eq!(reference.digests.encrypted, FileDigest::of(&reference.ciphertext));

        // std Read
        let mut r = key.encrypt_reader(Chunky { data: &plain, k });
        let mut ct = Vec::new();
        r.read_to_end(&mut ct).unwrap();
        prop_assert_eq!(&ct, &reference.ciphertext);
        prop_assert_eq!(r.digests().unwrap(), reference.digests);

        // std Write with odd write sizes
        let mut w = key.encrypt_writer(Vec::new());
        for c in plain.chunks(k) {
            w.write_all(c).unwrap();
        }
        let (ct2, d2) = w.finish().unwrap();
        prop_assert_eq!(&ct2, &reference.ciphertext);
        prop_assert_eq!(d2, reference.digests);

        // two-thread pipeline
        let mut ct3 = Vec::new();
        let d3 = encrypt_stream(&key, Chunky { data: &plain, k }, &mut ct3).unwrap();
        prop_assert_eq!(&ct3, &reference.ciphertext);
        prop_assert_eq!(d3, reference.digests);

        // decrypt side: reader, writer, pipeline
        let mut dr = key.decrypt_reader(Chunky { data: &reference.ciphertext, k });
        let mut pt = Vec::new();
        dr.read_to_end(&mut pt).unwrap();
        prop_assert_eq!(&pt, &plain);
        prop_assert_eq!(dr.digests().unwrap(), reference.digests);
        let mut dw = key.decrypt_writer(Vec::new());
        for c in reference.ciphertext.chunks(k) {
            dw.write_all(c).unwrap();
        }
        let (pt2, dd2) = dw.finish().unwrap();
        prop_assert_eq!(&pt2, &plain);
        prop_assert_eq!(dd2, reference.digests);
        let mut pt3 = Vec::new();
        let dd3 = decrypt_stream(&key, Chunky { data: &reference.ciphertext, k }, &mut pt3).unwrap();
        prop_assert_eq!(&pt3, &plain);
        prop_assert_eq!(dd3, reference.digests);

        // tokio adapters
        let (act, ad, apt, add) = rt().block_on(async {
            let mut r = AsyncCryptReader::encrypt(&key, Chunky { data: &plain, k });
            let mut ct = Vec::new();
            r.read_to_end(&mut ct).await.unwrap();
            let d = r.digests().unwrap();
            let mut w = AsyncCryptWriter::decrypt(&key, Vec::new());
            for c in ct.chunks(k) {
                w.write_all(c).await.unwrap();
            }
            w.shutdown().await.unwrap();
            let dd = w.digests().unwrap();
            (ct, d, w.into_inner(), dd)
        });
        prop_assert_eq!(&act, &reference.ciphertext);
        prop_assert_eq!(ad, reference.digests);
        prop_assert_eq!(&apt, &plain);
        prop_assert_eq!(add, reference.digests);
    }
}

#[test]
fn async_encrypt_writer_and_decrypt_reader() {
    let key = SymmetricKey::generate().unwrap();
    let plain = data(100_001, 7);
    let reference = encrypt_bytes(&key, &plain);
    rt().block_on(async {
        let mut w = AsyncCryptWriter::encrypt(&key, Vec::new());
        w.write_all(&plain).await.unwrap();
        w.shutdown().await.unwrap();
        assert_eq!(w.digests().unwrap(), reference.digests);
        assert_eq!(w.into_inner(), reference.ciphertext);
        let mut r = AsyncCryptReader::decrypt(&key, &reference.ciphertext[..]);
        let mut pt = Vec::new();
        r.read_to_end(&mut pt).await.unwrap();
        assert_eq!(pt, plain);
        assert_eq!(r.digests().unwrap(), reference.digests);
    });
}

#[test]
fn bad_ciphertext_fails_in_every_adapter() {
    let key = SymmetricKey::generate().unwrap();
    let mut ct = encrypt_bytes(&key, b"0123456789abcdef0123").ciphertext;
    let last = ct.len() - 1;
    ct[last] ^= 0xff; // breaks the padding block
    assert!(decrypt_bytes(&key, &ct).is_err());
    assert!(decrypt_stream(&key, &ct[..], Vec::new()).is_err());
    let mut r = key.decrypt_reader(&ct[..]);
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let mut w = key.decrypt_writer(Vec::new());
    w.write_all(&ct).unwrap();
    assert!(w.finish().is_err());
    // truncated (not a multiple of 16)
    assert!(decrypt_stream(&key, &ct[..ct.len() - 3], Vec::new()).is_err());
    rt().block_on(async {
        let mut r = AsyncCryptReader::decrypt(&key, &ct[..]);
        assert!(r.read_to_end(&mut Vec::new()).await.is_err());
    });
}

#[test]
fn writer_errors_propagate() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let key = SymmetricKey::generate().unwrap();
    let big = vec![0u8; 3 << 20];
    let e = encrypt_stream(&key, &big[..], Broken).unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
}

#[test]
fn async_adapters_over_a_tiny_duplex_pipe() {
    // a 37-byte pipe forces partial writes and Pending on both sides
    let key = SymmetricKey::generate().unwrap();
    let plain = data(300_007, 3);
    let reference = encrypt_bytes(&key, &plain);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (ct, pt) = rt.block_on(async {
        let (a, mut b) = tokio::io::duplex(37);
        let k2 = key.clone();
        let p2 = plain.clone();
        let writer = tokio::spawn(async move {
            let mut w = AsyncCryptWriter::encrypt(&k2, a);
            for c in p2.chunks(1000) {
                w.write_all(c).await.unwrap();
            }
            w.shutdown().await.unwrap();
            w.digests().unwrap()
        });
        let mut ct = Vec::new();
        b.read_to_end(&mut ct).await.unwrap();
        let d = writer.await.unwrap();
        assert_eq!(d, reference.digests);

        let (c, d2) = tokio::io::duplex(41);
        let ct2 = ct.clone();
        let feeder = tokio::spawn(async move {
            let mut c = c;
            c.write_all(&ct2).await.unwrap();
            c.shutdown().await.unwrap();
        });
        let mut r = AsyncCryptReader::decrypt(&key, d2);
        let mut pt = Vec::new();
        r.read_to_end(&mut pt).await.unwrap();
        feeder.await.unwrap();
        assert_eq!(r.digests().unwrap(), reference.digests);
        (ct, pt)
    });
    assert_eq!(ct, reference.ciphertext);
    assert_eq!(pt, plain);
}
