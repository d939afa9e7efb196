//! `ksef cert …` against the embedded simulator: enroll (new key, or an existing CSR from
//! `cert csr`), list, retrieve, log in with the enrolled certificate, KOD II with an Offline
//! one, revoke (then the login is refused: exit 4), self-signed TEST identities; keys in 0600
//! files, never printed; exit codes 2 for bad arguments and 1 for refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::Harness;

fn mode(path: &std::path::Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o600
    }
}

fn openssl_text(args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn enroll_list_login_kod2_revoke() {
    let h = Harness::start();
    h.login("owner");
    let p = |n: &str| h.path(n).to_str().unwrap().to_string();

    // Enroll an Authentication certificate with a new key.
    let auth = h.json(
        &[
            "cert",
            "enroll",
            "--name",
            "CLI Authentication",
            "--type",
            "authentication",
            "--cert-out",
            &p("auth.pem"),
            "--key-out",
            &p("auth.key"),
        ],
        0,
    );
    let serial = auth["serialNumber"].as_str().unwrap().to_string();
    assert_eq!(serial.len(), 16);
    assert_eq!(auth["type"], "Authentication");
    assert_eq!(mode(&h.path("auth.key")), 0o600);
    let text = openssl_text(&["x509", "-in", &p("auth.pem"), "-noout", "-text"]);
    assert!(text.contains("KSeF Simulator CA"), "{text}");
    assert!(text.contains(&format!("TINPL-{}", h.nip)), "{text}");

    // Listed (JSON Lines), retrievable.
    let listed = h.json_lines(&["cert", "list", "--status", "active"]);
    assert!(
        listed
            .iter()
            .any(|c| c["certificateSerialNumber"] == serial.as_str()),
        "{listed:?}"
    );
    std::fs::create_dir(h.path("got")).unwrap();
    let got = h.json(&["cert", "retrieve", &serial, "--out-dir", &p("got")], 0);
    assert_eq!(got["certificates"][0]["serialNumber"], serial.as_str());
    assert_eq!(
        std::fs::read_to_string(h.path(&format!("got/{serial}.pem"))).unwrap(),
        std::fs::read_to_string(h.path("auth.pem")).unwrap()
    );

    // The enrolled certificate logs in.
    h.ok(&[
        "profile",
        "add",
        "bycert",
        "-e",
        &h.url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "certificate",
        "--certificate",
        &p("auth.pem"),
        "--key",
        &p("auth.key"),
    ]);
    let login = h.json(&["--profile", "bycert", "auth", "login"], 0);
    assert_eq!(login["context"]["value"], h.nip.as_str());

    // A CSR made by `cert csr`, submitted with `cert enroll --csr`, comes back as DER.
    h.json(
        &[
            "--profile",
            "owner",
            "cert",
            "csr",
            "--csr-out",
            &p("req.pem"),
            "--key-out",
            &p("req.key"),
            "--algorithm",
            "rsa",
        ],
        0,
    );
    assert_eq!(mode(&h.path("req.key")), 0o600);
    let req_text = openssl_text(&["req", "-in", &p("req.pem"), "-noout", "-verify", "-subject"]);
    assert!(req_text.contains(&format!("TINPL-{}", h.nip)), "{req_text}");
    let offline = h.json(
        &[
            "--profile",
            "owner",
            "cert",
            "enroll",
            "--name",
            "CLI Offline",
            "--type",
            "offline",
            "--csr",
            &p("req.pem"),
            "--cert-out",
            &p("offline.der"),
        ],
        0,
    );
    let offline_serial = offline["serialNumber"].as_str().unwrap().to_string();
    // The same request labelled `NEW CERTIFICATE REQUEST` is read as PEM too; PEM of another
    // label is refused before anything is sent (exit 2, naming the label).
    let req = std::fs::read_to_string(h.path("req.pem")).unwrap();
    std::fs::write(
        h.path("req-new.pem"),
        req.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
    )
    .unwrap();
    h.json(
        &[
            "--profile",
            "owner",
            "cert",
            "enroll",
            "--name",
            "CLI Offline New",
            "--type",
            "offline",
            "--csr",
            &p("req-new.pem"),
            "--cert-out",
            &p("offline-new.pem"),
        ],
        0,
    );
    let out = h.run(&[
        "--profile",
        "owner",
        "cert",
        "enroll",
        "--name",
        "CLI Wrong Label",
        "--type",
        "offline",
        "--csr",
        &p("auth.pem"),
        "--cert-out",
        &p("wrong.pem"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a PEM CERTIFICATE,"), "{err}");
    assert!(!h.path("wrong.pem").exists());
    assert!(offline["key"].is_null());
    let der_text = openssl_text(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        &p("offline.der"),
        "-noout",
        "-text",
    ]);
    assert!(der_text.contains("Non Repudiation"), "{der_text}");

    // KOD II with the Offline certificate and the CSR's key.
    let invoice = h.invoice("CERT/1");
    let kod2 = h.json(
        &[
            "--profile",
            "owner",
            "qr",
            "kod2",
            invoice.to_str().unwrap(),
            "--cert",
            &p("offline.der"),
            "--key",
            &p("req.key"),
        ],
        0,
    );
    let url = kod2["url"].as_str().unwrap();
    assert!(url.contains(&format!("/{offline_serial}/")), "{url}");

    // Revoked, the certificate no longer logs in (exit 4); revoking again is refused (exit 1).
    let revoked = h.json(
        &[
            "--profile",
            "owner",
            "cert",
            "revoke",
            &serial,
            "--reason",
            "key-compromise",
        ],
        0,
    );
    assert_eq!(revoked["revoked"], true);
    assert_eq!(revoked["reason"], "KeyCompromise");
    let out = h.run(&["--profile", "bycert", "auth", "login"]);
    assert_eq!(out.status.code(), Some(4));
    let out = h.run(&["--profile", "owner", "cert", "revoke", &serial]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("25009"));

    // Bad arguments: exit 2 before anything is sent.
    let out = h.run(&["--profile", "owner", "cert", "revoke", "not-a-serial"]);
    assert_eq!(out.status.code(), Some(2));
    let out = h.run(&[
        "--profile",
        "owner",
        "cert",
        "enroll",
        "--name",
        "Again",
        "--type",
        "authentication",
        "--cert-out",
        &p("auth.pem"),
        "--key-out",
        &p("other.key"),
    ]);
    assert_eq!(out.status.code(), Some(2));

    // No private key was ever printed.
    for (args, stdout, stderr) in h.runs.lock().unwrap().iter() {
        assert!(
            !stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"),
            "a key in the output of {args:?}"
        );
    }
}

#[test]
fn self_signed_test_identities() {
    let h = Harness::start();
    let p = |n: &str| h.path(n).to_str().unwrap().to_string();
    let person = h.json(
        &[
            "cert",
            "self-signed",
            "--nip",
            &h.nip,
            "--cert-out",
            &p("me.pem"),
            "--key-out",
            &p("me.key"),
        ],
        0,
    );
    assert_eq!(person["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(mode(&h.path("me.key")), 0o600);
    let text = openssl_text(&["x509", "-in", &p("me.pem"), "-noout", "-subject"]);
    assert!(text.contains(&format!("TINPL-{}", h.nip)), "{text}");
    let seal = h.json(
        &[
            "cert",
            "self-signed",
            "--nip",
            &h.nip,
            "--organization",
            "Firma Testowa",
            "--algorithm",
            "rsa",
            "--cert-out",
            &p("seal.der"),
            "--key-out",
            &p("seal.key"),
        ],
        0,
    );
    assert!(seal["subject"].as_str().unwrap().contains("Firma Testowa"));
    // The self-signed identity logs in as the owner (TEST accepts self-signed certificates).
    h.ok(&[
        "profile",
        "add",
        "me",
        "-e",
        &h.url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "certificate",
        "--certificate",
        &p("me.pem"),
        "--key",
        &p("me.key"),
    ]);
    h.json(&["--profile", "me", "auth", "login"], 0);
    // An invalid NIP and an existing output file: exit 2.
    let out = h.run(&[
        "cert",
        "self-signed",
        "--nip",
        "1234567890",
        "--cert-out",
        &p("x.pem"),
        "--key-out",
        &p("x.key"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = h.run(&[
        "cert",
        "self-signed",
        "--nip",
        &h.nip,
        "--cert-out",
        &p("me.pem"),
        "--key-out",
        &p("y.key"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}
