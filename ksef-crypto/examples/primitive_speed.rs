//! Single-core speed of the primitives underneath the pipelines (AES-256-CBC encrypt/decrypt,
//! SHA-256), to compare with `openssl speed -evp aes-256-cbc` / `-evp sha256` on the same machine:
//! `cargo run --release -p ksef-crypto --example primitive_speed`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use aes::cipher::array::Array;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha2::{Digest, Sha256};

mod fast {
    use aes::Aes256;
    use aes::cipher::array::Array;
    use aes::cipher::consts::U16;
    use aes::cipher::{
        BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
    };

    pub struct CbcEnc {
        cipher: Aes256,
        iv: [u8; 16],
    }

    struct C<'a> {
        iv: &'a mut [u8; 16],
        data: &'a mut [u8],
    }
    impl BlockSizeUser for C<'_> {
        type BlockSize = U16;
    }
    impl BlockCipherEncClosure for C<'_> {
        #[inline(always)]
        fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
            // same loop as src/symmetric/cbc_enc.rs
            let mut b = Array::from(*self.iv);
            for chunk in self.data.chunks_exact_mut(16) {
                for (x, y) in b.iter_mut().zip(chunk.iter()) {
                    *x ^= *y;
                }
                backend.encrypt_block((&mut b).into());
                chunk.copy_from_slice(&b);
            }
            *self.iv = b.into();
        }
    }

    impl CbcEnc {
        pub fn new(key: &[u8; 32], iv: &[u8; 16]) -> Self {
            Self {
                cipher: Aes256::new(&Array::from(*key)),
                iv: *iv,
            }
        }
        pub fn encrypt(&mut self, data: &mut [u8]) {
            self.cipher.encrypt_with_backend(C {
                iv: &mut self.iv,
                data,
            });
        }
    }
}

fn main() {
    let mut buf = vec![0x5au8; 16 << 20];
    let rounds = 16;
    let total = (buf.len() * rounds) as f64;
    let k = Array::from([1u8; 32]);
    let iv = Array::from([2u8; 16]);

    let t = Instant::now();
    let mut enc = cbc::Encryptor::<aes::Aes256>::new(&k, &iv);
    for _ in 0..rounds {
        let (blocks, _) = Array::slice_as_chunks_mut(&mut buf);
        enc.encrypt_blocks(blocks);
    }
    println!(
        "aes-256-cbc encrypt: {:.0} MB/s",
        total / t.elapsed().as_secs_f64() / 1e6
    );

    let t = Instant::now();
    let mut f = fast::CbcEnc::new(&[1u8; 32], &[2u8; 16]);
    for _ in 0..rounds {
        f.encrypt(&mut buf);
    }
    println!(
        "aes-256-cbc encrypt (own CBC loop): {:.0} MB/s",
        total / t.elapsed().as_secs_f64() / 1e6
    );
    {
        let mut a = vec![3u8; 4096];
        let mut b = a.clone();
        fast::CbcEnc::new(&[1u8; 32], &[2u8; 16]).encrypt(&mut a);
        let (blocks, _) = Array::slice_as_chunks_mut(&mut b);
        cbc::Encryptor::<aes::Aes256>::new(&k, &iv).encrypt_blocks(blocks);
        assert_eq!(a, b);
    }

    let t = Instant::now();
    let mut dec = cbc::Decryptor::<aes::Aes256>::new(&k, &iv);
    for _ in 0..rounds {
        let (blocks, _) = Array::slice_as_chunks_mut(&mut buf);
        dec.decrypt_blocks(blocks);
    }
    println!(
        "aes-256-cbc decrypt: {:.0} MB/s",
        total / t.elapsed().as_secs_f64() / 1e6
    );

    let t = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..rounds {
        h.update(&buf);
    }
    let d = h.finalize();
    println!(
        "sha256 (sha2 crate): {:.0} MB/s ({:02x})",
        total / t.elapsed().as_secs_f64() / 1e6,
        d[0]
    );
}
