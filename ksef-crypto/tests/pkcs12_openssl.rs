//! PKCS#12 identities written by `openssl pkcs12 -export` (the oracle) read back: RSA and P-256,
//! AES-256 and AES-128, certificates encrypted or in clear, with a CA chain, and the failures
//! (wrong passphrase, altered file, legacy algorithms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use ksef_crypto::{SecretString, SigningIdentity};

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (bash .ci/install-oracles)")
}

fn ok(dir: &Path, args: &[&str]) {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate and key: (cert DER).
fn make_cert(dir: &Path, alg: &str, name: &str) -> Vec<u8> {
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj"];
    let subj = format!("/CN={name}/C=PL");
    args.push(&subj);
    match alg {
        "rsa" => args.extend(["-newkey", "rsa:2048"]),
        _ => args.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    }
    args.extend(["-keyout", &key, "-out", &cert]);
    ok(dir, &args);
    ok(
        dir,
        &[
            "x509",
            "-in",
            &cert,
            "-outform",
            "DER",
            "-out",
            &format!("{name}.der"),
        ],
    );
    std::fs::read(dir.join(format!("{name}.der"))).unwrap()
}

fn export(dir: &Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let out = format!("{name}.p12");
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        &key,
        "-in",
        &cert,
        "-out",
        &out,
        "-passout",
        "pass:zażółć gęślą 123",
    ];
    args.extend_from_slice(extra);
    ok(dir, &args);
    std::fs::read(dir.join(out)).unwrap()
}

fn pass() -> SecretString {
    SecretString::new("zażółć gęślą 123")
}

#[test]
fn openssl_exports_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for alg in ["rsa", "ec"] {
        let cert = make_cert(d, alg, alg);
        for extra in [
            &[][..],
            &["-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC"][..],
            &["-certpbe", "NONE"][..],
            &["-iter", "1", "-maciter"][..],
        ] {
            let p12 = export(d, alg, extra);
            let id = SigningIdentity::from_pkcs12(&p12, &pass())
                .unwrap_or_else(|e| panic!("{alg} {extra:?}: {e}"));
            assert_eq!(id.certificate_der(), cert.as_slice(), "{alg} {extra:?}");
            // The key is the certificate's (checked when the identity is built) and signs.
            let sig = id.private_key().sign_xmldsig(b"message").unwrap();
            assert!(!sig.is_empty());
        }
    }
}

#[test]
fn the_certificate_matching_the_key_is_chosen_from_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = make_cert(d, "ec", "ca");
    let leaf = make_cert(d, "rsa", "leaf");
    // The CA certificate first in the file.
    let p12 = export(d, "leaf", &["-certfile", "ca.pem"]);
    let id = SigningIdentity::from_pkcs12(&p12, &pass()).unwrap();
    assert_eq!(id.certificate_der(), leaf.as_slice());
    assert_ne!(id.certificate_der(), ca.as_slice());
}

#[test]
fn wrong_passphrase_altered_files_and_legacy_algorithms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_cert(d, "ec", "k");
    let p12 = export(d, "k", &[]);
    let e = SigningIdentity::from_pkcs12(&p12, &SecretString::new("wrong")).unwrap_err();
    assert!(e.to_string().contains("passphrase"), "{e}");
    // Flip one byte inside the authenticated content.
    let mut altered = p12.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x01;
    assert!(SigningIdentity::from_pkcs12(&altered, &pass()).is_err());
    // Truncated.
    assert!(SigningIdentity::from_pkcs12(&p12[..p12.len() - 10], &pass()).is_err());
    // No MAC at all.
    let nomac = export(d, "k", &["-nomac"]);
    let e = SigningIdentity::from_pkcs12(&nomac, &pass()).unwrap_err();
    assert!(e.to_string().contains("MAC"), "{e}");
    // Legacy algorithms (when this openssl still has the legacy provider).
    let out = openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-legacy",
            "-inkey",
            "k.key",
            "-in",
            "k.pem",
            "-out",
            "legacy.p12",
            "-passout",
            "pass:zażółć gęślą 123",
        ],
    );
    if out.status.success() {
        let legacy = std::fs::read(d.join("legacy.p12")).unwrap();
        let e = SigningIdentity::from_pkcs12(&legacy, &pass()).unwrap_err();
        assert!(e.to_string().contains("re-export"), "{e}");
    }
}
