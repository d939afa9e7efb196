#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! AES-256-CBC, RSA-OAEP, public-key certificate ids and CSRs cross-checked with the openssl CLI.

mod common;

use common::{have, p, run, run_ok};
use ksef_crypto::certs::{CertificateUsage, PublicKeyCertificate};
use ksef_crypto::csr::{EnrollmentSubject, generate_csr};
use ksef_crypto::identity::KeyAlgorithm;
use ksef_crypto::{SecretString, SymmetricKey, b64, rsa_oaep};
use pkcs8::DecodePrivateKey;

fn openssl_rsa_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = dir.join("key.pem");
    let cert = dir.join("cert.der");
    run_ok(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p(&key),
        ],
    );
    run_ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            p(&key),
            "-subj",
            "/CN=KSeF test encryption",
            "-days",
            "30",
            "-outform",
            "DER",
            "-out",
            p(&cert),
        ],
    );
    (key, cert)
}

#[test]
fn aes_cbc_both_ways_with_openssl() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = SymmetricKey::generate().unwrap();
    let khex = hex::encode(key.key_bytes());
    let ivhex = hex::encode(key.iv());
    for len in [0usize, 1, 15, 16, 17, 6480, 200_003] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        // ours -> openssl
        let enc = key.encrypt(&plain);
        let ct = dir.path().join("ct.bin");
        let out = dir.path().join("pt.bin");
        std::fs::write(&ct, &enc.ciphertext).unwrap();
        run_ok(
            "openssl",
            &[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-K",
                &khex,
                "-iv",
                &ivhex,
                "-in",
                p(&ct),
                "-out",
                p(&out),
            ],
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            plain,
            "openssl decrypt of our ciphertext, len {len}"
        );
        // openssl -> ours
        let pt = dir.path().join("pt_in.bin");
        std::fs::write(&pt, &plain).unwrap();
        let ct2 = dir.path().join("ct2.bin");
        run_ok(
            "openssl",
            &[
                "enc",
                "-aes-256-cbc",
                "-K",
                &khex,
                "-iv",
                &ivhex,
                "-in",
                p(&pt),
                "-out",
                p(&ct2),
            ],
        );
        let theirs = std::fs::read(&ct2).unwrap();
        assert_eq!(
            theirs, enc.ciphertext,
            "same key+IV must give identical ciphertext"
        );
        assert_eq!(
            ksef_crypto::symmetric::decrypt_bytes(&key, &theirs).unwrap(),
            plain
        );
        // and the digests are those of openssl dgst
        let d = run_ok("openssl", &["dgst", "-sha256", "-binary", p(&ct2)]);
        assert_eq!(d.stdout, enc.digests.encrypted.sha256);
    }
}

#[test]
fn rsa_oaep_both_ways_with_openssl() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (keyf, certf) = openssl_rsa_cert(dir.path());
    let der = std::fs::read(&certf).unwrap();
    let cert = PublicKeyCertificate::parse(
        &b64::encode(&der),
        "2020-01-01T00:00:00Z",
        "2099-01-01T00:00:00+00:00",
        &["SymmetricKeyEncryption", "KsefTokenEncryption"],
    )
    .unwrap();

    // ids match openssl's view of the certificate
    let pubpem = run_ok(
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            p(&certf),
            "-pubkey",
            "-noout",
        ],
    )
    .stdout;
    let pubpemf = dir.path().join("pub.pem");
    std::fs::write(&pubpemf, &pubpem).unwrap();
    let spki = run_ok(
        "openssl",
        &["pkey", "-pubin", "-in", p(&pubpemf), "-outform", "DER"],
    )
    .stdout;
    assert_eq!(cert.public_key_id(), b64::encode(b64::sha256(&spki)));
    assert_eq!(cert.certificate_id(), b64::encode(b64::sha256(&der)));

    let decrypt_with_openssl = |ct: &[u8]| -> Vec<u8> {
        let f = dir.path().join("oaep.bin");
        std::fs::write(&f, ct).unwrap();
        run_ok(
            "openssl",
            &[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                p(&keyf),
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
                "-in",
                p(&f),
            ],
        )
        .stdout
    };

    // key wrap: openssl unwraps exactly the 32 key bytes
    let key = SymmetricKey::generate().unwrap();
    let wrapped = ksef_crypto::wrap_key(&cert, &key).unwrap();
    assert_eq!(
        decrypt_with_openssl(&b64::decode("k", &wrapped).unwrap()),
        key.key_bytes()
    );

    // KSeF token: "{token}|{timestampMs}"
    let token = SecretString::new("20251010-EC-0123456789-ABCDEF0123-45|nip-5265877635|0123abcd");
    let enc = ksef_crypto::encrypt_ksef_token(&cert, &token, 1_760_000_000_123).unwrap();
    assert_eq!(
        decrypt_with_openssl(&b64::decode("t", &enc).unwrap()),
        format!("{}|1760000000123", token.expose()).as_bytes()
    );

    // openssl encrypts, we decrypt
    let msg = dir.path().join("msg.bin");
    std::fs::write(&msg, b"secret from openssl").unwrap();
    let ct = run_ok(
        "openssl",
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            p(&pubpemf),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
            p(&msg),
        ],
    )
    .stdout;
    let priv_pem = std::fs::read_to_string(&keyf).unwrap();
    let sk = rsa::PrivateKey::from_pkcs8_pem(&priv_pem).unwrap();
    assert_eq!(rsa_oaep::decrypt(&sk, &ct).unwrap(), b"secret from openssl");
    // OAEP with SHA-1 (openssl default) must NOT decrypt under our SHA-256 parameters
    let ct_sha1 = run_ok(
        "openssl",
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            p(&pubpemf),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-in",
            p(&msg),
        ],
    )
    .stdout;
    assert!(rsa_oaep::decrypt(&sk, &ct_sha1).is_err());
}

#[test]
fn certificate_selection() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_k, certf) = openssl_rsa_cert(dir.path());
    let c = b64::encode(std::fs::read(&certf).unwrap());
    let list = PublicKeyCertificate::parse_list(vec![
        (
            c.as_str(),
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            vec!["SymmetricKeyEncryption"],
        ),
        (
            c.as_str(),
            "2025-06-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            vec!["SymmetricKeyEncryption"],
        ),
        (
            c.as_str(),
            "2025-09-01T00:00:00Z",
            "2025-10-01T00:00:00Z",
            vec!["KsefTokenEncryption"],
        ),
        (
            c.as_str(),
            "2025-07-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            vec!["FutureUsage"],
        ),
    ])
    .unwrap();
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let sym = CertificateUsage::SymmetricKeyEncryption;
    // both valid: latest validFrom wins
    let s = PublicKeyCertificate::select(&list, &sym, at("2025-08-01T00:00:00Z")).unwrap();
    assert_eq!(s.valid_from(), at("2025-06-01T00:00:00Z"));
    // only the first valid
    let s = PublicKeyCertificate::select(&list, &sym, at("2025-03-01T00:00:00Z")).unwrap();
    assert_eq!(s.valid_from(), at("2025-01-01T00:00:00Z"));
    // none valid: clear error
    let e = PublicKeyCertificate::select(
        &list,
        &CertificateUsage::KsefTokenEncryption,
        at("2025-11-01T00:00:00Z"),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("KsefTokenEncryption") && msg.contains("1 with that usage"),
        "{msg}"
    );
    // bad entry reports its index
    let e = PublicKeyCertificate::parse_list(vec![
        (
            c.as_str(),
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            vec![],
        ),
        (
            "not base64!",
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            vec![],
        ),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("#1"), "{e}");
}

#[test]
fn csr_accepted_by_openssl_req_verify() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let person = EnrollmentSubject {
        common_name: "Jan Kowalski".into(),
        country_name: "PL".into(),
        given_name: Some("Jan".into()),
        surname: Some("Kowalski".into()),
        serial_number: Some("TINPL-5265877635".into()),
        ..Default::default()
    };
    let seal = EnrollmentSubject {
        common_name: "Firma Żółć".into(),
        country_name: "PL".into(),
        organization_name: Some("Firma Żółć sp. z o.o.".into()),
        organization_identifier: Some("VATPL-5265877635".into()),
        unique_identifier: Some("abc-123".into()),
        ..Default::default()
    };
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        for subj in [&person, &seal] {
            let (der, _key) = generate_csr(subj, alg).unwrap();
            let f = dir.path().join("csr.der");
            std::fs::write(&f, &der).unwrap();
            let out = run_ok(
                "openssl",
                &[
                    "req",
                    "-inform",
                    "DER",
                    "-in",
                    p(&f),
                    "-verify",
                    "-noout",
                    "-subject",
                    "-nameopt",
                    "RFC2253,-esc_msb",
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                text.contains("verify OK")
                    || text.contains("Certificate request self-signature verify OK"),
                "{text}"
            );
            assert!(text.contains(&format!("CN={}", subj.common_name)), "{text}");
            // string types: C and serialNumber PrintableString, the rest UTF8String
            let asn = String::from_utf8_lossy(
                &run_ok("openssl", &["asn1parse", "-inform", "DER", "-in", p(&f)]).stdout,
            )
            .into_owned();
            assert!(asn.contains("PRINTABLESTRING   :PL"), "{asn}");
            assert!(
                asn.contains(&format!("UTF8STRING        :{}", subj.common_name))
                    || !subj.common_name.is_ascii(),
                "{asn}"
            );
            if let Some(sn) = &subj.serial_number {
                assert!(asn.contains(&format!("PRINTABLESTRING   :{sn}")), "{asn}");
            }
            let key_line = if alg == KeyAlgorithm::Rsa2048 {
                "rsaEncryption"
            } else {
                "id-ecPublicKey"
            };
            assert!(asn.contains(key_line), "{asn}");
            // corrupting the signature makes openssl reject it
            let mut bad = der.clone();
            let n = bad.len();
            bad[n - 5] ^= 0x55;
            std::fs::write(&f, &bad).unwrap();
            let o = run(
                "openssl",
                &["req", "-inform", "DER", "-in", p(&f), "-verify", "-noout"],
            );
            let t = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() || t.contains("verify failure"), "{t}");
        }
    }
}

#[test]
fn self_signed_test_certificates_parse_and_verify_in_openssl() {
    if !have("openssl") {
        return;
    }
    use ksef_crypto::{Nip, Pesel, TestIdentity};
    let dir = tempfile::tempdir().unwrap();
    let nip = Nip::random();
    let pesel = Pesel::random();
    for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let cases = [
            (
                TestIdentity::self_signed_personal(&nip, alg).unwrap(),
                format!("serialNumber=TINPL-{nip}"),
            ),
            (
                TestIdentity::self_signed_personal_pesel(&pesel, alg).unwrap(),
                format!("serialNumber=PNOPL-{pesel}"),
            ),
            (
                TestIdentity::self_signed_seal(&nip, "Firma Testowa", alg).unwrap(),
                format!("organizationIdentifier=VATPL-{nip}"),
            ),
        ];
        for (id, expect) in cases {
            let f = dir.path().join("c.pem");
            std::fs::write(&f, id.certificate_pem()).unwrap();
            let subj = run_ok(
                "openssl",
                &[
                    "x509",
                    "-in",
                    p(&f),
                    "-noout",
                    "-subject",
                    "-nameopt",
                    "RFC2253,sname",
                ],
            );
            let subj = String::from_utf8_lossy(&subj.stdout).into_owned();
            assert!(subj.contains(&expect), "{subj} lacks {expect}");
            // fingerprint = SHA-256 of DER, uppercase hex
            let fp = run_ok(
                "openssl",
                &["x509", "-in", p(&f), "-noout", "-fingerprint", "-sha256"],
            );
            let fp = String::from_utf8_lossy(&fp.stdout).replace(':', "");
            assert!(
                fp.trim().ends_with(&id.fingerprint()),
                "{fp} vs {}",
                id.fingerprint()
            );
            // the self-signature verifies
            let o = run(
                "openssl",
                &["verify", "-check_ss_sig", "-CAfile", p(&f), p(&f)],
            );
            assert!(
                o.status.success(),
                "openssl verify: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            // the exported key matches the certificate (openssl derives the same public key)
            let kf = dir.path().join("k.pem");
            std::fs::write(&kf, id.private_key().to_pkcs8_pem().unwrap().expose()).unwrap();
            let a = run_ok("openssl", &["pkey", "-in", p(&kf), "-pubout"]).stdout;
            let b = run_ok("openssl", &["x509", "-in", p(&f), "-noout", "-pubkey"]).stdout;
            assert_eq!(a, b);
        }
    }
}
