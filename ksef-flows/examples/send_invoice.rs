//! Builds an FA (3) invoice, validates it and sends it, here to an embedded local simulator:
//! `cargo run -p ksef-flows --example send_invoice`. The README shows the same code.
#![allow(clippy::print_stdout)]

use ksef_flows::api::Environment;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{KeyAlgorithm, Nip, SigningIdentity};
use ksef_flows::invoice::{Invoice, Line, Party, VatRate};
use ksef_flows::{Credentials, InvoiceInput, Ksef};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = ksef_sim::KsefSim::start(ksef_sim::SimConfig::default()).await?;
    let ksef = Ksef::builder(Environment::Custom(sim.base_url())).build()?;
    let nip = Nip::random();
    let identity = SigningIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256)?;
    let auth = ksef
        .authenticate(&Credentials::xades(
            identity,
            ContextIdentifier::Nip(nip.clone()),
        ))
        .await?;

    // --- README: build, validate, send ---
    let invoice = Invoice::vat(
        Party::with_nip(nip.as_str(), "Sprzedawca sp. z o.o.")
            .address("ul. Prosta 1", Some("00-001 Warszawa")),
        Party::with_nip("5265877635", "Nabywca S.A.")
            .address("ul. Krzywa 2", Some("30-002 Kraków")),
        "FV/2026/03/1",
        ksef.today(), // the KSeF business date (Europe/Warsaw) of the client's clock
    )
    .line(
        Line::new(
            "Usługa programistyczna",
            "12.5".parse()?,
            "160.00".parse()?,
            VatRate::R23,
        )
        .unit("h"),
    )
    .line(Line::new("Książka", "2".parse()?, "45.00".parse()?, VatRate::R5).unit("szt."))
    .build()?; // totals per rate computed exactly; every value checked against FA (3), errors name the XML path
    println!(
        "P_15 = {}",
        invoice.total().map(|t| t.to_string()).unwrap_or_default()
    );

    let session = auth.open_online_session().await?;
    let results = session
        .send_and_wait(&[InvoiceInput::from_invoice(&invoice)?])
        .await?;
    println!("{:?}", results[0].outcome.ksef_number());
    session.close_and_wait().await?;
    // --- end of README part ---

    sim.shutdown().await;
    Ok(())
}
