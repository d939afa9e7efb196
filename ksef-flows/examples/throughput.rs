//! Online-session throughput against an in-process `ksef-sim` with its rate limits off (and the
//! client-side limiter off): `cargo run --release -p ksef-flows --example throughput [N] [CONCURRENCY]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use ksef_flows::api::Environment;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::sample::SampleInvoice;
use ksef_flows::{Credentials, InvoiceInput, Ksef, RateLimitMode};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let sim = ksef_sim::KsefSim::start(
        ksef_sim::SimConfig::default()
            .with_rate_limits(false)
            .with_invoicing(
                ksef_sim::InvoicingConfig::default()
                    .with_processing_delay(Duration::from_millis(50)),
            ),
    )
    .await
    .unwrap();
    let ksef = Ksef::builder(Environment::Custom(sim.base_url()))
        .rate_limit_mode(RateLimitMode::Off)
        .build()
        .unwrap();
    let nip = Nip::random();
    let id = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256).unwrap();
    let auth = ksef
        .authenticate(&Credentials::xades(id, ContextIdentifier::Nip(nip.clone())))
        .await
        .unwrap();
    let mut session = auth.open_online_session().await.unwrap();
    session.set_concurrency(concurrency);
    let inputs: Vec<InvoiceInput> = (0..n)
        .map(|i| InvoiceInput::new(SampleInvoice::new(nip.as_str(), &format!("T/{i}")).to_xml()))
        .collect();
    let started = Instant::now();
    let sent = session.send_all(&inputs).await;
    let send_elapsed = started.elapsed();
    let ok: Vec<_> = sent.into_iter().map(Result::unwrap).collect();
    let outcomes = session.wait_for(&ok).await.unwrap();
    let total = started.elapsed();
    let accepted = outcomes
        .iter()
        .filter(|o| o.ksef_number().is_some())
        .count();
    println!(
        "{n} invoices, concurrency {concurrency}: sent in {:.2} s ({:.0} invoices/s), all processed in {:.2} s ({:.0} invoices/s), {accepted} accepted",
        send_elapsed.as_secs_f64(),
        n as f64 / send_elapsed.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
    assert_eq!(accepted, n);
}
