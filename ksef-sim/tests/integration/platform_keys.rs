//! Public-key certificates: identifiers checked with openssl as an independent oracle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Decode;
use harness::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn openssl_spki_der(cert_der: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.der");
    std::fs::write(&c, cert_der).unwrap();
    let pem = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-pubkey", "-in"])
        .arg(&c)
        .output()
        .unwrap();
    assert!(pem.status.success());
    let p = dir.path().join("p.pem");
    std::fs::write(&p, &pem.stdout).unwrap();
    let der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(der.status.success());
    der.stdout
}

#[tokio::test]
async fn published_certificates_have_correct_identifiers() {
    let env = start(fast_config()).await;
    let r = env.get("/security/public-key-certificates", None).await;
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let mut usages = Vec::new();
    for e in list {
        let der = STANDARD.decode(e["certificate"].as_str().unwrap()).unwrap();
        assert_eq!(e["certificateId"], STANDARD.encode(Sha256::digest(&der)));
        let spki = openssl_spki_der(&der);
        assert_eq!(spki, spki_der(&der));
        assert_eq!(e["publicKeyId"], STANDARD.encode(Sha256::digest(&spki)));
        assert_eq!(e["publicKeyId"].as_str().unwrap().len(), 44);
        // RSA 2048, valid now, dates agree with the certificate
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::PublicKey::from_public_key_der(&spki).unwrap();
        assert_eq!(key.size(), 256);
        let from = chrono::DateTime::parse_from_rfc3339(e["validFrom"].as_str().unwrap()).unwrap();
        let to = chrono::DateTime::parse_from_rfc3339(e["validTo"].as_str().unwrap()).unwrap();
        let nb = cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs() as i64;
        assert_eq!(from.timestamp(), nb);
        let now = chrono::Utc::now();
        assert!(from < now && now < to);
        usages.push(e["usage"][0].as_str().unwrap().to_string());
    }
    usages.sort();
    assert_eq!(usages, ["KsefTokenEncryption", "SymmetricKeyEncryption"]);
    assert_ne!(list[0]["publicKeyId"], list[1]["publicKeyId"]);
}
