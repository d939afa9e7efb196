//! Shared helpers of the invoicing integration tests: a started simulator, a
//! hand-written HTTP client (reqwest + JSON written by hand) and crypto done
//! with the primitives directly (rsa, aes, cbc, sha2) — never ksef-crypto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod spec;

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use der::{Decode, Encode};
use ksef_sim::{InvoicingConfig, KsefSim, SimConfig, SimHandle};
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const TEMPLATE_FA3: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/ksef-samples/invoice-template_v3.xml"
);
pub const UPO_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/ksef-schemas/faktury/upo/schemy/upo-v4-3.xsd"
);
/// Buyer NIP in the FA(3) template (Podmiot2).
pub const TEMPLATE_BUYER_NIP: &str = "3861610227";

pub fn b64(d: &[u8]) -> String {
    STANDARD.encode(d)
}

pub fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}

pub fn sha_b64(d: &[u8]) -> String {
    b64(&Sha256::digest(d))
}

/// A random valid NIP (checksum weights 6,5,7,2,3,4,5,6,7).
pub fn random_nip() -> String {
    loop {
        let mut d = [0u32; 10];
        let r: [u8; 9] = rand::random();
        for i in 0..9 {
            d[i] = u32::from(r[i] % 10);
        }
        if d[0] == 0 || (d[1] == 0 && d[2] == 0) {
            continue;
        }
        let w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
        let c = (0..9).map(|i| d[i] * w[i]).sum::<u32>() % 11;
        if c == 10 {
            continue;
        }
        d[9] = c;
        return d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
    }
}

/// Independent CRC-8 (poly 0x07) check of a KSeF number.
pub fn ksef_number_ok(k: &str) -> bool {
    if k.len() != 35 {
        return false;
    }
    let mut crc: u8 = 0;
    for &b in &k.as_bytes()[..32] {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    format!("{crc:02X}") == k[33..]
}

/// Fills the official FA(3) template (read at run time; never committed), issued yesterday
/// (the KSeF business date in Europe/Warsaw, by the machine's clock).
pub fn invoice_fa3(nip: &str, number: &str) -> Vec<u8> {
    let today = ksef_time::business_date(chrono::Utc::now());
    invoice_fa3_on(nip, number, today.pred_opt().unwrap())
}

/// Fills the official FA(3) template with the issue date `date` (`P_1`).
pub fn invoice_fa3_on(nip: &str, number: &str, date: chrono::NaiveDate) -> Vec<u8> {
    let t = std::fs::read_to_string(TEMPLATE_FA3)
        .expect("reference data ../shared/ksef-samples missing");
    let date = date.format("%Y-%m-%d").to_string();
    t.replace("#nip#", nip)
        .replace("#invoicing_date#", &date)
        .replace("#invoice_number#", number)
        .into_bytes()
}

pub fn unique_number() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase()
}

pub fn aes_encrypt(key: &[u8; 32], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes256>::new(&(*key).into(), &(*iv).into())
        .encrypt_padded_vec::<Pkcs7>(data)
}

/// A random key under which `plaintext`, encrypted with it, does NOT decrypt
/// with `k` (a wrong key yields valid PKCS#7 padding about once in 256 tries;
/// such keys are skipped so that tests stay deterministic).
pub fn key_that_fails_padding(k: &Keys, plaintext: &[u8]) -> Keys {
    loop {
        let other = Keys::random();
        let ct = aes_encrypt(&other.key, &other.iv, plaintext);
        let fails = cbc::Decryptor::<aes::Aes256>::new(&k.key.into(), &k.iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ct)
            .is_err();
        if fails {
            return other;
        }
    }
}

pub fn aes_decrypt(key: &[u8; 32], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    cbc::Decryptor::<aes::Aes256>::new(&(*key).into(), &(*iv).into())
        .decrypt_padded_vec::<Pkcs7>(data)
        .unwrap()
}

pub fn default_config() -> SimConfig {
    SimConfig::default().with_rate_limits(false).with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(30))
            .with_session_close_delay(Duration::from_millis(30)),
    )
}

/// A simulator and an authenticated client in a fresh NIP context.
pub struct Env {
    pub sim: Option<SimHandle>,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub nip: String,
    pub sym_key: rsa::PublicKey,
    pub sym_key_id: String,
    /// The simulator's clock.
    pub clock: ksef_time::SharedClock,
}

pub async fn start(config: SimConfig) -> Env {
    let clock = config.clock.clone();
    let sim = KsefSim::start(config).await.unwrap();
    let nip = random_nip();
    let token = sim.control().issue_test_access_token(&nip);
    let base = sim.base_url();
    let mut env = connect(Some(sim), base, token, nip).await;
    env.clock = clock;
    env
}

/// The simulator's RSA public key for `usage` (`SymmetricKeyEncryption`, `KsefTokenEncryption`)
/// and its `publicKeyId`, which is checked independently: b64(SHA-256(SPKI DER)).
pub async fn public_key(
    http: &reqwest::Client,
    base: &str,
    usage: &str,
) -> (rsa::PublicKey, String) {
    let certs: Value = http
        .get(format!("{base}/security/public-key-certificates"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cert = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["usage"].as_array().unwrap().iter().any(|u| u == usage))
        .unwrap_or_else(|| panic!("no {usage} certificate"));
    let der = unb64(cert["certificate"].as_str().unwrap());
    let parsed = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = parsed
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let key = rsa::PublicKey::from_public_key_der(&spki).unwrap();
    let id = cert["publicKeyId"].as_str().unwrap().to_string();
    assert_eq!(id, sha_b64(&spki));
    (key, id)
}

/// An `Env` for a simulator at `base` (started here or in another process).
pub async fn connect(sim: Option<SimHandle>, base: String, token: String, nip: String) -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().build().unwrap();
    let (sym_key, sym_key_id) = public_key(&http, &base, "SymmetricKeyEncryption").await;
    Env {
        sim,
        base,
        http,
        token,
        nip,
        sym_key,
        sym_key_id,
        clock: ksef_time::system_clock(),
    }
}

/// A session key pair (AES key, IV).
pub struct Keys {
    pub key: [u8; 32],
    pub iv: [u8; 16],
}

impl Keys {
    pub fn random() -> Self {
        Self {
            key: rand::random(),
            iv: rand::random(),
        }
    }
}

impl Env {
    /// Control handle of an in-process simulator.
    pub fn control(&self) -> &ksef_sim::SimControl {
        self.sim.as_ref().expect("in-process simulator").control()
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    pub async fn get(&self, p: &str) -> reqwest::Response {
        self.http
            .get(self.url(p))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, p: &str) -> Value {
        let r = self.get(p).await;
        assert_eq!(r.status(), 200, "GET {p}");
        r.json().await.unwrap()
    }

    pub async fn post(&self, p: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(p))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `encryption` with the session key wrapped under the simulator's SymmetricKeyEncryption key.
    pub fn encryption(&self, k: &Keys) -> Value {
        self.encryption_of(&k.key, &k.iv)
    }

    pub fn encryption_of(&self, raw_key: &[u8], iv: &[u8]) -> Value {
        let mut rng = rand::rng();
        let wrapped = self
            .sym_key
            .encrypt(&mut rng, rsa::Oaep::<Sha256>::new(), raw_key)
            .unwrap();
        json!({ "encryptedSymmetricKey": b64(&wrapped), "initializationVector": b64(iv), "publicKeyId": self.sym_key_id })
    }

    pub async fn open_online(&self, k: &Keys) -> String {
        self.open_online_form(k, ("FA (3)", "1-0E", "FA")).await
    }

    /// Opens an online session for the form `(systemCode, schemaVersion, value)`.
    pub async fn open_online_form(&self, k: &Keys, form: (&str, &str, &str)) -> String {
        let (system_code, schema_version, value) = form;
        let r = self
            .post(
                "/sessions/online",
                &json!({ "formCode": { "systemCode": system_code, "schemaVersion": schema_version, "value": value }, "encryption": self.encryption(k) }),
            )
            .await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        v["referenceNumber"].as_str().unwrap().to_string()
    }

    pub fn send_body(k: &Keys, invoice: &[u8]) -> Value {
        let ct = aes_encrypt(&k.key, &k.iv, invoice);
        json!({
            "invoiceHash": sha_b64(invoice),
            "invoiceSize": invoice.len(),
            "encryptedInvoiceHash": sha_b64(&ct),
            "encryptedInvoiceSize": ct.len(),
            "encryptedInvoiceContent": b64(&ct),
            "offlineMode": false,
        })
    }

    /// Sends an invoice; returns its reference number (panics unless 202).
    pub async fn send(&self, session: &str, k: &Keys, invoice: &[u8]) -> String {
        let r = self
            .post(
                &format!("/sessions/online/{session}/invoices"),
                &Self::send_body(k, invoice),
            )
            .await;
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        v["referenceNumber"].as_str().unwrap().to_string()
    }

    /// Polls an invoice until its status code is not 100/150.
    pub async fn wait_invoice(&self, session: &str, inv: &str) -> Value {
        for _ in 0..200 {
            let v = self
                .get_json(&format!("/sessions/{session}/invoices/{inv}"))
                .await;
            let code = v["status"]["code"].as_i64().unwrap();
            if code != 100 && code != 150 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("invoice {inv} still processing");
    }

    /// Polls a session until its status code is final.
    pub async fn wait_session(&self, session: &str) -> Value {
        for _ in 0..2000 {
            let v = self.get_json(&format!("/sessions/{session}")).await;
            let code = v["status"]["code"].as_i64().unwrap();
            if ![100, 150, 170].contains(&code) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("session {session} still processing");
    }

    pub async fn close_online(&self, session: &str) {
        let r = self
            .post(&format!("/sessions/online/{session}/close"), &json!({}))
            .await;
        assert_eq!(r.status(), 204);
    }

    /// Polls an export until its status is not 100.
    pub async fn wait_export(&self, reference: &str) -> Value {
        for _ in 0..2000 {
            let v = self
                .get_json(&format!("/invoices/exports/{reference}"))
                .await;
            if v["status"]["code"].as_i64().unwrap() != 100 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("export {reference} still running");
    }
}

/// First exception code of a 400 ExceptionResponse.
pub async fn exception_code(r: reqwest::Response) -> i64 {
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    v["exception"]["exceptionDetailList"][0]["exceptionCode"]
        .as_i64()
        .unwrap()
}

/// Validates `xml` against the official UPO XSD with xmllint (independent oracle).
pub fn assert_upo_valid(xml: &[u8]) {
    let have = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        if std::env::var("KSEF_SKIP_EXTERNAL_ORACLES").as_deref() == Ok("1") {
            return;
        }
        panic!(
            "xmllint not found: apt-get install -y libxml2-utils (or set KSEF_SKIP_EXTERNAL_ORACLES=1)"
        );
    }
    assert!(
        std::path::Path::new(UPO_XSD).exists(),
        "official XSD missing at {UPO_XSD}"
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", UPO_XSD])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "UPO does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}
