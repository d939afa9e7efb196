//! Per-invoice client overhead of an online send: pre-flight validation, AES-256-CBC encryption,
//! SHA-256 of plaintext and ciphertext, Base64 and the JSON request body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ksef_flows::crypto::SymmetricKey;
use ksef_flows::crypto::invoice::FormCode;
use ksef_flows::sample::SampleInvoice;
use ksef_flows::{InvoiceInput, prepare_request};

/// A valid FA (3) invoice padded to about `size` bytes with a long line description.
fn invoice_of(size: usize) -> Vec<u8> {
    let base = SampleInvoice::new("5265877635", "FV/BENCH/1")
        .item("")
        .to_xml()
        .len();
    let item = "x".repeat(size.saturating_sub(base));
    SampleInvoice::new("5265877635", "FV/BENCH/1")
        .item(&item)
        .to_xml()
}

fn bench(c: &mut Criterion) {
    let key = SymmetricKey::generate().unwrap();
    let mut g = c.benchmark_group("send_overhead");
    for size in [10_000usize, 100_000] {
        let input = InvoiceInput::new(invoice_of(size));
        assert!(input.bytes.len() >= size);
        g.throughput(Throughput::Bytes(input.bytes.len() as u64));
        g.bench_function(format!("prepare_and_serialize_{}kB", size / 1000), |b| {
            b.iter(|| {
                let req = prepare_request(&key, FormCode::Fa3, 0, &input).unwrap();
                serde_json::to_vec(&req).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
