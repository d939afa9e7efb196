//! XAdES authentication over HTTP: documents signed by xmlsec1 (independent signer) with every
//! accepted canonicalization, digest and signature form, hand-assembled documents (PSS, ECDSA
//! r||s) and the negative cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N10_C: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
const EXC_C: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
const RSA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const EC256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const EC384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";

async fn submit_and_wait(env: &Env, xml: &[u8]) -> (Value, String) {
    let r = env.submit_xades(xml).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let op = v["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env
        .wait_auth(v["referenceNumber"].as_str().unwrap(), &op)
        .await;
    (st, op)
}

#[tokio::test]
async fn xmlsec1_signed_documents_in_every_accepted_form_authenticate() {
    let env = start(fast_config()).await;
    let cases: Vec<(KeyKind, &str, &str, &str, &str)> = vec![
        (KeyKind::Rsa, EXC, EXC, SHA256, RSA256),
        (KeyKind::Rsa, C14N10, C14N10, SHA384, RSA512),
        (KeyKind::Rsa, C14N10_C, C14N10_C, SHA256, RSA256),
        (KeyKind::Rsa, C14N11, C14N11, SHA512, RSA256),
        (KeyKind::Ec, EXC_C, EXC, SHA256, EC256),
        (KeyKind::Ec, C14N10, EXC, SHA512, EC384),
    ];
    for (kind, c14n, ref_c14n, digest, sig_alg) in cases {
        let nip = random_nip();
        let cert = TestCert::new(kind, &person_subject(&nip));
        let ch = env.challenge().await;
        let xml = xmlsec_xades(
            ch["challenge"].as_str().unwrap(),
            &nip,
            &cert,
            &XmlsecOpts {
                c14n,
                ref_c14n,
                digest,
                sig_alg,
            },
        );
        assert!(
            xmlsec_verifies(&xml, &cert),
            "oracle rejects its own document"
        );
        let (st, op) = submit_and_wait(&env, &xml).await;
        assert_eq!(st["status"]["code"], 200, "{c14n} {digest} {sig_alg}: {st}");
        assert_eq!(st["authenticationMethodInfo"]["category"], "XadesSignature");
        assert_eq!(st["authenticationMethod"], "QualifiedSignature");
        let (access, _) = env.redeem(&op).await;
        assert_eq!(
            env.get("/auth/sessions", Some(&access)).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn hand_assembled_pkcs1_pss_and_ecdsa_rs_are_accepted_der_ecdsa_is_not() {
    let env = start(fast_config()).await;
    for (kind, alg, ok) in [
        (KeyKind::Rsa, ManualAlg::RsaPkcs1, true),
        (KeyKind::Rsa, ManualAlg::RsaPss, true),
        (KeyKind::Ec, ManualAlg::EcdsaRawRs, true),
        (KeyKind::Ec, ManualAlg::EcdsaDer, false),
    ] {
        let nip = random_nip();
        let cert = TestCert::new(kind, &person_subject(&nip));
        let ch = env.challenge().await;
        let req = auth_request(
            ch["challenge"].as_str().unwrap(),
            "Nip",
            &nip,
            "certificateSubject",
        );
        let xml = manual_xades(&req, &cert, alg);
        if ok {
            let (st, _) = submit_and_wait(&env, &xml).await;
            assert_eq!(st["status"]["code"], 200, "{alg:?}: {st}");
        } else {
            let r = env.submit_xades(&xml).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert_eq!(error_code(r).await, 9105);
        }
    }
}

#[tokio::test]
async fn tampering_is_detected_as_invalid_signature() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    // wrong document digest
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let xml = manual_xades_with(&req, &cert, ManualAlg::RsaPkcs1, |p| {
        p.doc_digest = b64(&[0u8; 32])
    });
    let r = env.submit_xades(&xml).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, 9105);
    // wrong SigningCertificate digest (signed consistently, but naming another certificate)
    let xml = manual_xades_with(&req, &cert, ManualAlg::RsaPkcs1, |p| {
        p.cert_digest = b64(&[1u8; 32])
    });
    let r = env.submit_xades(&xml).await;
    assert_eq!(error_code(r).await, 9105);
    // content changed after signing (xmlsec1 document, context NIP edited)
    let xml = xmlsec_xades(
        ch["challenge"].as_str().unwrap(),
        &nip,
        &cert,
        &XmlsecOpts {
            c14n: EXC,
            ref_c14n: EXC,
            digest: SHA256,
            sig_alg: RSA256,
        },
    );
    let other = random_nip();
    let edited = String::from_utf8(xml)
        .unwrap()
        .replace(&format!("<Nip>{nip}</Nip>"), &format!("<Nip>{other}</Nip>"));
    let r = env.submit_xades(edited.as_bytes()).await;
    assert_eq!(error_code(r).await, 9105);
    // signature by another key than the certificate in KeyInfo
    let intruder = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let good = manual_xades(&req, &cert, ManualAlg::RsaPkcs1);
    let swapped = String::from_utf8(good)
        .unwrap()
        .replace(&b64(&cert.cert_der), &b64(&intruder.cert_der));
    let r = env.submit_xades(swapped.as_bytes()).await;
    assert_eq!(error_code(r).await, 9105);
    // the challenge was never consumed by rejected requests: a correct document still works
    let (st, _) = submit_and_wait(&env, &manual_xades(&req, &cert, ManualAlg::RsaPkcs1)).await;
    assert_eq!(st["status"]["code"], 200);
    // ... but only once
    let r = env
        .submit_xades(&manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(error_code(r).await, 21111);
}

#[tokio::test]
async fn malformed_documents_get_their_codes() {
    let env = start(fast_config()).await;
    let r = env.submit_xades(b"<AuthTokenRequest").await;
    assert_eq!(error_code(r).await, 21001);
    let r = env.submit_xades(b"<Other xmlns=\"urn:x\"/>").await;
    assert_eq!(error_code(r).await, 21401);
    let ch = env.challenge().await;
    let unsigned = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &random_nip(),
        "certificateSubject",
    );
    let r = env.submit_xades(unsigned.as_bytes()).await;
    assert_eq!(error_code(r).await, 9102);
    let r = env.submit_xades(b"\xEF\xBB\xBF<a/>").await;
    assert_eq!(error_code(r).await, 21217);
    let bad_ctx = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        "1234567890",
        "certificateSubject",
    );
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let r = env
        .submit_xades(&manual_xades(&bad_ctx, &cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(error_code(r).await, 21117);
    // unknown challenge
    let req = auth_request(
        "20250101-CR-0000000000-0000000000-00",
        "Nip",
        &nip,
        "certificateSubject",
    );
    let r = env
        .submit_xades(&manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(error_code(r).await, 21111);
}

async fn attempt(env: &Env, nip: &str, cert: &TestCert, subject_type: &str) -> Value {
    let ch = env.challenge().await;
    let req = auth_request(ch["challenge"].as_str().unwrap(), "Nip", nip, subject_type);
    submit_and_wait(env, &manual_xades(&req, cert, ManualAlg::RsaPkcs1))
        .await
        .0
}

#[tokio::test]
async fn subject_rules_seal_pesel_fingerprint_and_failures() {
    let env = start(fast_config()).await;
    let nip = random_nip();

    // seal: organizationIdentifier VATPL-<nip> authenticates as owner with the seal method
    let seal = TestCert::new(KeyKind::Ec, &seal_subject(&nip));
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let (st, _) = submit_and_wait(&env, &manual_xades(&req, &seal, ManualAlg::EcdsaRawRs)).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    assert_eq!(st["authenticationMethod"], "QualifiedSeal");

    // another person's NIP in this context: no permissions -> 415
    let stranger = TestCert::new(KeyKind::Rsa, &person_subject(&random_nip()));
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let (st, _) = submit_and_wait(&env, &manual_xades(&req, &stranger, ManualAlg::RsaPkcs1)).await;
    assert_eq!(st["status"]["code"], 415, "{st}");

    // PESEL: 415 until the person is registered for this NIP; deceased -> 470
    let pesel = random_pesel();
    let person = TestCert::new(KeyKind::Rsa, &pesel_subject(&pesel));
    assert_eq!(
        attempt(&env, &nip, &person, "certificateSubject").await["status"]["code"],
        415
    );
    let body =
        json!({"nip": nip, "pesel": pesel, "isBailiff": false, "description": "osoba testowa"});
    assert_eq!(
        env.post_json("/testdata/person", &body, None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        attempt(&env, &nip, &person, "certificateSubject").await["status"]["code"],
        200
    );
    let body = json!({"nip": nip, "pesel": pesel, "isBailiff": false, "isDeceased": true, "description": "osoba zmarła"});
    env.post_json("/testdata/person", &body, None).await;
    assert_eq!(
        attempt(&env, &nip, &person, "certificateSubject").await["status"]["code"],
        470
    );

    // fingerprint: 415 until test-data permissions are granted to the fingerprint
    let anon = TestCert::new(KeyKind::Rsa, "/CN=Bez identyfikatora");
    assert_eq!(
        attempt(&env, &nip, &anon, "certificateFingerprint").await["status"]["code"],
        415
    );
    let grant = json!({
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Fingerprint", "value": anon.fingerprint()},
        "permissions": [{"permissionType": "InvoiceRead", "description": "odczyt faktur"}],
    });
    assert_eq!(
        env.post_json("/testdata/permissions", &grant, None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        attempt(&env, &nip, &anon, "certificateFingerprint").await["status"]["code"],
        200
    );
    // a certificate without TINPL/PNOPL/VATPL identifies nobody by subject: 460
    assert_eq!(
        attempt(&env, &nip, &anon, "certificateSubject").await["status"]["code"],
        460
    );
    let revoke = json!({
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Fingerprint", "value": anon.fingerprint()},
    });
    env.post_json("/testdata/permissions/revoke", &revoke, None)
        .await;
    assert_eq!(
        attempt(&env, &nip, &anon, "certificateFingerprint").await["status"]["code"],
        415
    );
}

#[tokio::test]
async fn blocked_context_ends_with_480_and_chain_verification_rejects_self_signed() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let block = json!({"contextIdentifier": {"type": "Nip", "value": nip}});
    assert_eq!(
        env.post_json("/testdata/context/block", &block, None)
            .await
            .status(),
        StatusCode::OK
    );
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let (st, op) = submit_and_wait(&env, &manual_xades(&req, &cert, ManualAlg::RsaPkcs1)).await;
    assert_eq!(st["status"]["code"], 480);
    let r = env
        .post_json("/auth/token/redeem", &json!({}), Some(&op))
        .await;
    assert_eq!(error_code(r).await, 21301);
    env.post_json("/testdata/context/unblock", &block, None)
        .await;
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let (st, _) = submit_and_wait(&env, &manual_xades(&req, &cert, ManualAlg::RsaPkcs1)).await;
    assert_eq!(st["status"]["code"], 200);

    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let r = env
        .http
        .post(env.url("/auth/xades-signature?verifyCertificateChain=true"))
        .header("content-type", "application/xml")
        .body(manual_xades(&req, &cert, ManualAlg::RsaPkcs1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = r.json().await.unwrap();
    let st = env
        .wait_auth(
            v["referenceNumber"].as_str().unwrap(),
            v["authenticationToken"]["token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(st["status"]["code"], 460);
}

#[tokio::test]
async fn enveloping_signature_is_accepted_and_must_cover_the_request() {
    let env = start(fast_config()).await;
    let nip = random_nip();
    let cert = TestCert::new(KeyKind::Rsa, &person_subject(&nip));
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "Nip",
        &nip,
        "certificateSubject",
    );
    let xml = manual_xades_enveloping(&req, &cert);
    // the request inside the ds:Object must not be editable
    let other = random_nip();
    let edited = String::from_utf8(xml.clone())
        .unwrap()
        .replace(&format!("<Nip>{nip}</Nip>"), &format!("<Nip>{other}</Nip>"));
    let r = env.submit_xades(edited.as_bytes()).await;
    assert_eq!(error_code(r).await, 9105);
    let (st, _) = submit_and_wait(&env, &xml).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
}
