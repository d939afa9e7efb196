//! KSeF certificates keep state: limits count down with every enrollment and certificate, an
//! enrollment goes 100 → 200 and issues a certificate signed by the simulator's CA (verified by
//! openssl against the CA served at `/__sim/certificates/ca`), the certificate is listed,
//! retrieved, authenticates its owner (also with `verifyCertificateChain=true`), and once revoked
//! or expired it no longer does. CSRs are made by openssl; every answer is checked against the
//! 2.9.0 schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::*;
use ksef_sim::{CertificatesConfig, SimConfig};
use serde_json::{Value, json};

fn config(enrollment_delay: Duration) -> SimConfig {
    default_config()
        .with_certificates(CertificatesConfig::default().with_enrollment_delay(enrollment_delay))
}

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A key made by openssl (`-newkey` spec, e.g. `ec -pkeyopt ec_paramgen_curve:P-256` or
/// `rsa:2048`) and a CSR for `subject` signed with `digest`: (CSR DER, key directory).
fn csr(newkey: &[&str], subject: &str, digest: &str) -> (Vec<u8>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let out = dir.path().join("csr.der");
    let mut args = vec!["req", "-new", "-nodes", "-newkey"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-keyout",
        p(&key),
        "-subj",
        subject,
        digest,
        "-outform",
        "DER",
        "-out",
        p(&out),
    ]);
    openssl(&args);
    (std::fs::read(&out).unwrap(), dir)
}

const P256: [&str; 3] = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// The subject openssl writes for enrollment data of [`person_subject`] (countryName added).
fn person_csr_subject(nip: &str) -> String {
    format!("/GN=Jan/SN=Kowalski/serialNumber=TINPL-{nip}/CN=Jan Kowalski/C=PL")
}

/// Authenticates with `cert` (XAdES, hand-assembled) in the context of `nip`; returns the final
/// authentication status and, on 200, the access token.
async fn authenticate(
    env: &Env,
    cert: &TestCert,
    nip: &str,
    verify_chain: bool,
) -> (Value, Option<String>) {
    let ch = env.challenge().await;
    let alg = match cert.kind {
        KeyKind::Rsa => ManualAlg::RsaPkcs1,
        KeyKind::Ec => ManualAlg::EcdsaRawRs,
    };
    let xml = manual_xades(
        &auth_request(
            ch["challenge"].as_str().unwrap(),
            "Nip",
            nip,
            "certificateSubject",
        ),
        cert,
        alg,
    );
    let r = env
        .http
        .post(env.url(&format!(
            "/auth/xades-signature?verifyCertificateChain={verify_chain}"
        )))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let op = v["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env
        .wait_auth(v["referenceNumber"].as_str().unwrap(), &op)
        .await;
    let token = if st["status"]["code"] == 200 {
        Some(env.redeem(&op).await.0)
    } else {
        None
    };
    (st, token)
}

/// An `Env` that calls as `token`.
fn as_token(env: &Env, token: String) -> Env {
    Env {
        sim: None,
        base: env.base.clone(),
        http: env.http.clone(),
        token,
        nip: env.nip.clone(),
        sym_key: env.sym_key.clone(),
        sym_key_id: env.sym_key_id.clone(),
        clock: env.clock.clone(),
    }
}

async fn json_ok(r: reqwest::Response, method: &str, path: &str, status: u16) -> Value {
    let got = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{method} {path}: {v}");
    harness::spec::assert_response(method, path, status, &v);
    v
}

async fn limits(env: &Env) -> Value {
    json_ok(
        env.get_as_owner("/certificates/limits").await,
        "GET",
        "/certificates/limits",
        200,
    )
    .await
}

/// Submits an enrollment; returns its reference number.
async fn enroll(env: &Env, csr_der: &[u8], kind: &str, name: &str) -> String {
    let r = env
        .post(
            "/certificates/enrollments",
            &json!({ "certificateName": name, "certificateType": kind, "csr": b64(csr_der) }),
        )
        .await;
    let v = json_ok(r, "POST", "/certificates/enrollments", 202).await;
    v["referenceNumber"].as_str().unwrap().to_string()
}

async fn enrollment_status(env: &Env, reference: &str) -> Value {
    json_ok(
        env.get_as_owner(&format!("/certificates/enrollments/{reference}"))
            .await,
        "GET",
        "/certificates/enrollments/{referenceNumber}",
        200,
    )
    .await
}

/// Polls an enrollment until it leaves 100; returns its final status.
async fn wait_enrollment(env: &Env, reference: &str) -> Value {
    for _ in 0..500 {
        let v = enrollment_status(env, reference).await;
        if v["status"]["code"] != 100 {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("enrollment {reference} stayed at 100");
}

/// Enrolls and waits; returns (serial, certificate DER).
async fn enrolled(env: &Env, csr_der: &[u8], kind: &str, name: &str) -> (String, Vec<u8>) {
    let reference = enroll(env, csr_der, kind, name).await;
    let st = wait_enrollment(env, &reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let serial = st["certificateSerialNumber"].as_str().unwrap().to_string();
    let v = json_ok(
        env.post(
            "/certificates/retrieve",
            &json!({ "certificateSerialNumbers": [serial] }),
        )
        .await,
        "POST",
        "/certificates/retrieve",
        200,
    )
    .await;
    assert_eq!(
        v["certificates"][0]["certificateSerialNumber"],
        serial.as_str()
    );
    assert_eq!(v["certificates"][0]["certificateType"], kind);
    assert_eq!(v["certificates"][0]["certificateName"], name);
    (
        serial,
        unb64(v["certificates"][0]["certificate"].as_str().unwrap()),
    )
}

/// A [`TestCert`] of an issued certificate and the key openssl made for its CSR.
fn issued_test_cert(der: Vec<u8>, key_dir: tempfile::TempDir, kind: KeyKind) -> TestCert {
    let key = key_dir.path().join("key.pem");
    let pkcs8 = key_dir.path().join("key.der");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-outform",
        "DER",
        "-in",
        p(&key),
        "-out",
        p(&pkcs8),
    ]);
    TestCert {
        key_pkcs8_der: std::fs::read(&pkcs8).unwrap(),
        dir: key_dir,
        kind,
        cert_der: der,
    }
}

/// The simulator's CA certificate, read from the public control endpoint.
async fn ca_pem(env: &Env) -> String {
    let base = env.base.strip_suffix("/v2").unwrap();
    let r = env
        .http
        .get(format!("{base}/__sim/certificates/ca"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// `openssl verify` of `der` against the CA PEM, and the text form of the certificate.
fn openssl_verify(ca_pem: &str, der: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let der_path = dir.path().join("c.der");
    std::fs::write(&der_path, der).unwrap();
    let pem = dir.path().join("c.pem");
    openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        p(&der_path),
        "-out",
        p(&pem),
    ]);
    let verified = Command::new("openssl")
        .args(["verify", "-CAfile", p(&ca), p(&pem)])
        .output()
        .unwrap()
        .status
        .success();
    let text =
        String::from_utf8(openssl(&["x509", "-in", p(&pem), "-noout", "-text"]).stdout).unwrap();
    (verified, text)
}

async fn query(env: &Env, filter: &Value, page: &str) -> Value {
    json_ok(
        env.post(&format!("/certificates/query{page}"), filter)
            .await,
        "POST",
        "/certificates/query",
        200,
    )
    .await
}

#[tokio::test]
async fn an_enrolled_certificate_authenticates_until_it_is_revoked() {
    let env = start(config(Duration::from_millis(800))).await;
    let nip = random_nip();
    let person = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let (st, token) = authenticate(&env, &person, &nip, false).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let me = as_token(&env, token.unwrap());

    let before = limits(&me).await;
    assert_eq!(before["canRequest"], true);
    let enrollments_left = before["enrollment"]["remaining"].as_i64().unwrap();
    let certificates_left = before["certificate"]["remaining"].as_i64().unwrap();

    let data = json_ok(
        me.get_as_owner("/certificates/enrollments/data").await,
        "GET",
        "/certificates/enrollments/data",
        200,
    )
    .await;
    assert_eq!(data["serialNumber"], format!("TINPL-{nip}").as_str());
    assert_eq!(data["givenName"], "Jan");
    assert_eq!(data["surname"], "Kowalski");
    assert_eq!(data["commonName"], "Jan Kowalski");
    assert_eq!(data["countryName"], "PL");

    let (csr_der, key_dir) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    let reference = enroll(&me, &csr_der, "Authentication", "Certyfikat testowy 1").await;
    // Asynchronous: 100 first, then 200 with the serial number.
    let first = enrollment_status(&me, &reference).await;
    assert_eq!(first["status"]["code"], 100, "{first}");
    assert!(first.get("certificateSerialNumber").is_none());
    let st = wait_enrollment(&me, &reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let serial = st["certificateSerialNumber"].as_str().unwrap().to_string();

    // The limits counted the enrollment and the certificate.
    let after = limits(&me).await;
    assert_eq!(after["enrollment"]["remaining"], enrollments_left - 1);
    assert_eq!(after["certificate"]["remaining"], certificates_left - 1);

    // Retrieved, it is the CA's: openssl verifies it against the CA the simulator serves.
    let (_, der) = enrolled_lookup(&me, &serial).await;
    let (verified, text) = openssl_verify(&ca_pem(&env).await, &der);
    assert!(verified, "openssl verify failed:\n{text}");
    assert!(text.contains("Digital Signature"), "{text}");
    assert!(text.contains(&format!("TINPL-{nip}")), "{text}");
    assert_eq!(
        ca_pem(&env).await.trim(),
        env.control().certificate_authority_pem().trim()
    );

    // Listed as Active with the filters that match, not with those that do not.
    let listed = query(
        &me,
        &json!({ "type": "Authentication", "status": "Active" }),
        "",
    )
    .await;
    let item = &listed["certificates"][0];
    assert_eq!(item["certificateSerialNumber"], serial.as_str());
    assert_eq!(item["subjectIdentifier"]["type"], "Nip");
    assert_eq!(item["subjectIdentifier"]["value"], nip.as_str());
    assert_eq!(item["commonName"], "Jan Kowalski");
    assert_eq!(listed["hasMore"], false);
    let none = query(&me, &json!({ "type": "Offline" }), "").await;
    assert_eq!(none["certificates"].as_array().unwrap().len(), 0);
    let by_name = query(&me, &json!({ "name": "testowy" }), "").await;
    assert_eq!(by_name["certificates"].as_array().unwrap().len(), 1);

    // It authenticates its owner, also with the chain verified (the CA is trusted) ...
    let ksef_cert = issued_test_cert(der, key_dir, KeyKind::Ec);
    let (st, token) = authenticate(&env, &ksef_cert, &nip, true).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    assert_eq!(
        st["authenticationMethodInfo"]["code"],
        "InternalCertificate"
    );
    assert!(token.is_some());
    // ... which the list shows as its last use.
    let listed = query(&me, &json!({ "certificateSerialNumber": serial }), "").await;
    assert!(
        listed["certificates"][0]["lastUseDate"].is_string(),
        "{listed}"
    );

    // A self-signed certificate does not pass the chain check.
    let (st, _) = authenticate(&env, &person, &nip, true).await;
    assert_eq!(st["status"]["code"], 460, "{st}");

    // Revoked, it no longer authenticates and no longer counts against the limit.
    let r = me
        .post(
            &format!("/certificates/{serial}/revoke"),
            &json!({ "revocationReason": "KeyCompromise" }),
        )
        .await;
    assert_eq!(r.status(), 204);
    let (st, token) = authenticate(&env, &ksef_cert, &nip, false).await;
    assert_eq!(st["status"]["code"], 460, "{st}");
    assert!(
        st["status"]["details"][0]
            .as_str()
            .unwrap()
            .contains("odwołany"),
        "{st}"
    );
    assert!(token.is_none());
    let listed = query(&me, &json!({ "status": "Revoked" }), "").await;
    assert_eq!(
        listed["certificates"][0]["certificateSerialNumber"],
        serial.as_str()
    );
    assert_eq!(
        limits(&me).await["certificate"]["remaining"],
        certificates_left
    );
    let again = me
        .post(&format!("/certificates/{serial}/revoke"), &json!({}))
        .await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, 25009);
}

async fn enrolled_lookup(env: &Env, serial: &str) -> (String, Vec<u8>) {
    let v = json_ok(
        env.post(
            "/certificates/retrieve",
            &json!({ "certificateSerialNumbers": [serial] }),
        )
        .await,
        "POST",
        "/certificates/retrieve",
        200,
    )
    .await;
    (
        serial.to_string(),
        unb64(v["certificates"][0]["certificate"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn an_offline_certificate_signs_but_does_not_authenticate_and_an_expired_one_neither() {
    let env = start(config(Duration::ZERO)).await;
    let nip = random_nip();
    let seal = TestCert::new(KeyKind::Ec, &seal_subject(&nip));
    let (st, token) = authenticate(&env, &seal, &nip, false).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let me = as_token(&env, token.unwrap());
    let data = json_ok(
        me.get_as_owner("/certificates/enrollments/data").await,
        "GET",
        "/certificates/enrollments/data",
        200,
    )
    .await;
    assert_eq!(
        data["organizationIdentifier"],
        format!("VATPL-{nip}").as_str()
    );
    assert_eq!(data["organizationName"], "Firma Testowa");
    let subject =
        format!("/O=Firma Testowa/organizationIdentifier=VATPL-{nip}/CN=Firma Testowa/C=PL");

    let (csr_der, key_dir) = csr(&["rsa:2048"], &subject, "-sha256");
    let (serial, der) = enrolled(&me, &csr_der, "Offline", "Offline 1").await;
    let (verified, text) = openssl_verify(&ca_pem(&env).await, &der);
    assert!(verified && text.contains("Non Repudiation"), "{text}");
    let offline = issued_test_cert(der, key_dir, KeyKind::Rsa);
    let (st, _) = authenticate(&env, &offline, &nip, false).await;
    assert_eq!(st["status"]["code"], 460, "{st}");

    // An Authentication certificate whose validity test data shortened to the past is Expired.
    let (csr_der, key_dir) = csr(&P256, &subject, "-sha384");
    let (auth_serial, der) = enrolled(&me, &csr_der, "Authentication", "Auth 1").await;
    let past = ksef_time::format_utc_millis(env.clock.now() - chrono::Duration::hours(1));
    let r = me
        .http
        .put(me.url(&format!("/testdata/certificates/{auth_serial}")))
        .bearer_auth(&me.token)
        .json(&json!({ "validTo": past }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed = query(&me, &json!({ "status": "Expired" }), "").await;
    assert_eq!(
        listed["certificates"][0]["certificateSerialNumber"],
        auth_serial.as_str()
    );
    let expired = issued_test_cert(der, key_dir, KeyKind::Ec);
    let (st, _) = authenticate(&env, &expired, &nip, false).await;
    assert_eq!(st["status"]["code"], 460, "{st}");
    // An expired certificate cannot be revoked; an unknown one is not found.
    let r = me
        .post(&format!("/certificates/{auth_serial}/revoke"), &json!({}))
        .await;
    assert_eq!(error_code(r).await, 25009);
    let r = me
        .post("/certificates/0123456789ABCDEF/revoke", &json!({}))
        .await;
    assert_eq!(error_code(r).await, 25008);
    // Another subject sees none of them.
    let other = as_token(&env, env.token.clone());
    let listed = query(&other, &json!({}), "").await;
    assert_eq!(listed["certificates"].as_array().unwrap().len(), 0);
    assert_ne!(serial, auth_serial);
}

#[tokio::test]
async fn requests_are_checked_and_limits_are_enforced() {
    let env = start(config(Duration::ZERO)).await;
    // A KSeF-token (here: test) authentication carries no certificate.
    let r = env.get_as_owner("/certificates/enrollments/data").await;
    assert_eq!(error_code(r).await, 25001);
    let nip = random_nip();
    let (any_csr, _k) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    let r = env
        .post(
            "/certificates/enrollments",
            &json!({ "certificateName": "Token 1", "certificateType": "Authentication", "csr": b64(&any_csr) }),
        )
        .await;
    assert_eq!(error_code(r).await, 25002);

    let person = TestCert::new(KeyKind::Ec, &person_subject(&nip));
    let (_, token) = authenticate(&env, &person, &nip, false).await;
    let me = as_token(&env, token.unwrap());
    let submit = |csr_der: Vec<u8>, name: &'static str| {
        let me = &me;
        async move {
            me.post(
                "/certificates/enrollments",
                &json!({ "certificateName": name, "certificateType": "Authentication", "csr": b64(&csr_der) }),
            )
            .await
        }
    };
    // Subject other than the enrollment data → 25003.
    let (c, _k1) = csr(
        &P256,
        &format!("/GN=Jan/SN=Nowak/serialNumber=TINPL-{nip}/CN=Jan Kowalski/C=PL"),
        "-sha256",
    );
    assert_eq!(error_code(submit(c, "Zly podmiot").await).await, 25003);
    // Key type or size → 25010.
    let (c, _k2) = csr(&["rsa:1024"], &person_csr_subject(&nip), "-sha256");
    assert_eq!(error_code(submit(c, "Krotki RSA").await).await, 25010);
    let (c, _k3) = csr(
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        &person_csr_subject(&nip),
        "-sha256",
    );
    assert_eq!(error_code(submit(c, "Krzywa P384").await).await, 25010);
    // Signature algorithm → 25011.
    let (c, _k4) = csr(&["rsa:2048"], &person_csr_subject(&nip), "-sha224");
    assert_eq!(error_code(submit(c, "Skrot SHA224").await).await, 25011);
    // A signature that does not verify → 25004.
    let (mut c, _k5) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    let n = c.len();
    c[n - 5] ^= 0x01;
    assert_eq!(error_code(submit(c, "Zly podpis").await).await, 25004);
    // A name outside the pattern → 21405.
    let (c, _k6) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    assert_eq!(error_code(submit(c, "x").await).await, 21405);
    // None of these counted.
    let l = limits(&me).await;
    assert_eq!(
        l["enrollment"]["remaining"], l["enrollment"]["limit"],
        "{l}"
    );

    // Limit of certificates: one.
    let r = me
        .post(
            "/testdata/limits/subject/certificate",
            &json!({ "certificate": { "maxCertificates": 1 }, "enrollment": { "maxEnrollments": 3 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (c, _k7) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    let (serial, _) = enrolled(&me, &c, "Authentication", "Pierwszy").await;
    let l = limits(&me).await;
    assert_eq!(l["certificate"]["remaining"], 0);
    assert_eq!(l["enrollment"]["remaining"], 2);
    assert_eq!(l["canRequest"], false);
    let (c, _k8) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    assert_eq!(error_code(submit(c.clone(), "Drugi").await).await, 25007);
    // Revoking frees the place; the enrollment limit then stops the third request.
    let r = me
        .post(&format!("/certificates/{serial}/revoke"), &json!({}))
        .await;
    assert_eq!(r.status(), 204);
    let (_, _) = enrolled(&me, &c, "Authentication", "Drugi").await;
    let r = me
        .post(
            "/testdata/limits/subject/certificate",
            &json!({ "certificate": { "maxCertificates": 5 }, "enrollment": { "maxEnrollments": 2 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (c, _k9) = csr(&P256, &person_csr_subject(&nip), "-sha256");
    assert_eq!(error_code(submit(c, "Trzeci").await).await, 25006);

    // Unknown enrollment → 25005; paging of the query.
    let r = me
        .get_as_owner("/certificates/enrollments/20250101-EH-0000000000-0000000000-00")
        .await;
    assert_eq!(r.status(), 400);
    let page = query(&me, &json!({}), "?pageSize=10&pageOffset=0").await;
    assert_eq!(page["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(page["hasMore"], false);
    let page = query(&me, &json!({}), "?pageSize=10&pageOffset=1").await;
    assert_eq!(page["certificates"].as_array().unwrap().len(), 0);
    let r = me.post("/certificates/query?pageSize=51", &json!({})).await;
    assert_eq!(error_code(r).await, 21405);
}
