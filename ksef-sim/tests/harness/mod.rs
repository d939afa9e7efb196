//! The test harness of the simulator's integration tests: a started simulator with an HTTP
//! client ([`Env`]) and an owner's access token in a fresh NIP context, request JSON written by
//! hand, and independent oracles — the client's cryptography done with the primitives directly
//! ([`crypto`]), certificates and XAdES signatures from openssl and xmlsec1 ([`xades`]), the
//! official OpenAPI schemas ([`spec`]) and XSDs ([`invoices`]). Nothing here uses ksef-crypto
//! or ksef-flows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unused_imports,
    missing_debug_implementations
)]

pub mod crypto;
pub mod identifiers;
pub mod invoices;
pub mod spec;
pub mod xades;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ksef_sim::{InvoicingConfig, KsefSim, SimConfig, SimHandle};
use reqwest::StatusCode;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use crypto::*;
pub use identifiers::*;
pub use invoices::*;
pub use xades::*;

pub fn b64(d: &[u8]) -> String {
    STANDARD.encode(d)
}

pub fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}

pub fn sha_b64(d: &[u8]) -> String {
    b64(&Sha256::digest(d))
}

/// The default configuration (rate limits on, default delays).
pub fn fast_config() -> SimConfig {
    SimConfig::default()
}

/// No rate limits and short processing delays, for the invoicing tests.
pub fn default_config() -> SimConfig {
    SimConfig::default().with_rate_limits(false).with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(30))
            .with_session_close_delay(Duration::from_millis(30)),
    )
}

/// A simulator, an HTTP client, and an owner's access token in a fresh NIP context.
pub struct Env {
    /// The simulator, when it runs in this process.
    pub sim: Option<SimHandle>,
    /// `http://127.0.0.1:PORT/v2`.
    pub base: String,
    pub http: reqwest::Client,
    /// Access token of the owner of `nip` (`SimControl::issue_test_access_token`).
    pub token: String,
    pub nip: String,
    /// The simulator's `SymmetricKeyEncryption` key and its `publicKeyId`.
    pub sym_key: rsa::PublicKey,
    pub sym_key_id: String,
    /// The simulator's clock.
    pub clock: ksef_time::SharedClock,
}

/// Starts a simulator with `config`.
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

/// The newest published certificate of `usage` (`SymmetricKeyEncryption`,
/// `KsefTokenEncryption`): (publicKeyId, certificate DER).
pub async fn public_cert(http: &reqwest::Client, base: &str, usage: &str) -> (String, Vec<u8>) {
    let list: Value = http
        .get(format!("{base}/security/public-key-certificates"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["usage"].as_array().unwrap().iter().any(|u| u == usage))
        .max_by_key(|e| e["validFrom"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {usage} certificate"));
    (
        e["publicKeyId"].as_str().unwrap().to_string(),
        unb64(e["certificate"].as_str().unwrap()),
    )
}

/// The simulator's RSA public key for `usage` and its `publicKeyId`, which is checked
/// independently: b64(SHA-256(SPKI DER)).
pub async fn public_key(
    http: &reqwest::Client,
    base: &str,
    usage: &str,
) -> (rsa::PublicKey, String) {
    let (id, der) = public_cert(http, base, usage).await;
    let spki = spki_der(&der);
    let key = rsa::PublicKey::from_public_key_der(&spki).unwrap();
    assert_eq!(id, sha_b64(&spki));
    (key, id)
}

impl Env {
    /// Control handle of an in-process simulator.
    pub fn control(&self) -> &ksef_sim::SimControl {
        self.sim.as_ref().expect("in-process simulator").control()
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    // ---------------------------------------------------------------- requests

    /// GET with the given bearer token (or none).
    pub async fn get(&self, p: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(self.url(p));
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    /// POST of JSON with the given bearer token (or none).
    pub async fn post_json(
        &self,
        p: &str,
        body: &Value,
        bearer: Option<&str>,
    ) -> reqwest::Response {
        let mut r = self.http.post(self.url(p)).json(body);
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    /// GET as the owner of `nip`.
    pub async fn get_as_owner(&self, p: &str) -> reqwest::Response {
        self.get(p, Some(&self.token)).await
    }

    /// GET as the owner of `nip`, expecting 200 with JSON.
    pub async fn get_json(&self, p: &str) -> Value {
        let r = self.get_as_owner(p).await;
        assert_eq!(r.status(), 200, "GET {p}");
        r.json().await.unwrap()
    }

    /// POST of JSON as the owner of `nip`.
    pub async fn post(&self, p: &str, body: &Value) -> reqwest::Response {
        self.post_json(p, body, Some(&self.token)).await
    }

    // ---------------------------------------------------------------- authentication

    pub async fn challenge(&self) -> Value {
        let r = self.post_json("/auth/challenge", &json!({}), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// The newest published certificate of a usage: (publicKeyId, certificate DER).
    pub async fn public_cert(&self, usage: &str) -> (String, Vec<u8>) {
        public_cert(&self.http, &self.base, usage).await
    }

    /// Submits a signed AuthTokenRequest.
    pub async fn submit_xades(&self, xml: &[u8]) -> reqwest::Response {
        self.http
            .post(self.url("/auth/xades-signature"))
            .header("content-type", "application/xml")
            .body(xml.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Polls the authentication status until it leaves 100; returns the status JSON.
    pub async fn wait_auth(&self, reference: &str, op_token: &str) -> Value {
        for _ in 0..500 {
            let v: Value = self
                .get(&format!("/auth/{reference}"), Some(op_token))
                .await
                .json()
                .await
                .unwrap();
            if v["status"]["code"] != 100 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("authentication stayed at 100");
    }

    /// Redeems an operation token: (accessToken, refreshToken).
    pub async fn redeem(&self, op_token: &str) -> (String, String) {
        let r = self
            .post_json("/auth/token/redeem", &json!({}), Some(op_token))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        (
            v["accessToken"]["token"].as_str().unwrap().to_string(),
            v["refreshToken"]["token"].as_str().unwrap().to_string(),
        )
    }

    /// Full XAdES authentication as the owner of `nip` (self-signed RSA TINPL certificate).
    pub async fn login_owner(&self, nip: &str) -> (String, String) {
        let cert = TestCert::new(KeyKind::Rsa, &person_subject(nip));
        let ch = self.challenge().await;
        let xml = manual_xades(
            &auth_request(
                ch["challenge"].as_str().unwrap(),
                "Nip",
                nip,
                "certificateSubject",
            ),
            &cert,
            ManualAlg::RsaPkcs1,
        );
        let r = self.submit_xades(&xml).await;
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "{}",
            r.text().await.unwrap()
        );
        let v: Value = r.json().await.unwrap();
        let op = v["authenticationToken"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        let st = self
            .wait_auth(v["referenceNumber"].as_str().unwrap(), &op)
            .await;
        assert_eq!(st["status"]["code"], 200, "{st}");
        self.redeem(&op).await
    }

    // ---------------------------------------------------------------- invoicing

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
        let r = self
            .post(
                "/sessions/online",
                &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" }, "encryption": self.encryption(k) }),
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

/// The first KSeF exception code of an error body (legacy or problem+json).
pub async fn error_code(r: reqwest::Response) -> i64 {
    let v: Value = r.json().await.unwrap();
    v["exception"]["exceptionDetailList"][0]["exceptionCode"]
        .as_i64()
        .or_else(|| v["errors"][0]["code"].as_i64())
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

/// The first exception code of a 400 ExceptionResponse.
pub async fn exception_code(r: reqwest::Response) -> i64 {
    assert_eq!(r.status(), 400);
    error_code(r).await
}
