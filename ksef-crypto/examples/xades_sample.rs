//! Prints a signed `AuthTokenRequest` for a fresh self-signed TEST identity (P-256), e.g. to feed
//! xmlsec1 by hand: `cargo run -p ksef-crypto --example xades_sample > signed.xml`.
#![allow(clippy::print_stdout)]

use ksef_crypto::identity::KeyAlgorithm;
use ksef_crypto::xades::{AuthTokenRequest, ContextIdentifier};
use ksef_crypto::{Nip, TestIdentity};

fn main() -> Result<(), ksef_crypto::CryptoError> {
    let nip = Nip::random();
    let id = TestIdentity::self_signed_personal(&nip, KeyAlgorithm::EcdsaP256)?;
    let xml = AuthTokenRequest::new(
        "20250625-CR-20F5EE4000-DA48AE4124-46",
        ContextIdentifier::Nip(nip),
    )?
    .sign_xades(&id)?;
    println!("{xml}");
    Ok(())
}
