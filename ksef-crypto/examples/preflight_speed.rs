//! Single-core speed of invoice pre-flight on 10 000 FA (3) invoices filled in from the official
//! template (`../shared/ksef-samples/invoice-template_v3.xml`), next to what a roxmltree parse
//! (tree only, no checks) and the SHA-256 pre-flight includes take on the same bytes:
//! `cargo run --release -p ksef-crypto --example preflight_speed`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::Instant;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/ksef-samples/invoice-template_v3.xml"
    );
    let template = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("#nip#", "5265877635")
        .replace("#invoicing_date#", "2026-11-20");
    let docs: Vec<String> = (0..10_000)
        .map(|i| template.replace("#invoice_number#", &i.to_string()))
        .collect();
    let mb = docs.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let time = |f: &dyn Fn(&str)| {
        let started = Instant::now();
        for d in &docs {
            f(d);
        }
        started.elapsed().as_secs_f64()
    };
    println!("{} invoices, {mb:.1} MB", docs.len());
    for _ in 0..3 {
        let ours = time(&|d| {
            ksef_crypto::invoice::preflight(d.as_bytes()).expect("the template passes");
        });
        let tree = time(&|d| {
            roxmltree::Document::parse(d).expect("well-formed");
        });
        let hash = time(&|d| {
            std::hint::black_box(ksef_crypto::b64::sha256(d.as_bytes()));
        });
        println!(
            "pre-flight {:.0} MB/s ({ours:.3} s, of which SHA-256 {hash:.3} s) | roxmltree parse alone {:.0} MB/s ({tree:.3} s)",
            mb / ours,
            mb / tree
        );
    }
}
