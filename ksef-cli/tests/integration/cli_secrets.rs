//! No secret in argv, output, logs or files in clear: a whole session runs with trace logging,
//! then the KSeF token, the access and refresh tokens (read back by opening the sealed cache
//! with the sealing key, as an attacker with the key file would) and the PKCS#8 key are looked
//! for in every argv, every byte printed and every file the CLI wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use common::{Harness, s};

/// Opens a sealed file the way the CLI does (format KSEFSEAL, version 1, nonce, AES-256-GCM).
fn open_sealed(key: &[u8], path: &std::path::Path, aad: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"KSEFSEAL\x01"));
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
    let nonce = aes_gcm::Nonce::from(<[u8; 12]>::try_from(&bytes[9..21]).unwrap());
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &bytes[21..],
                aad: aad.as_bytes(),
            },
        )
        .unwrap()
}

#[test]
fn no_secret_in_argv_output_logs_or_files() {
    let h = Harness::start();
    let verbose = [("RUST_LOG", "trace")];
    h.login("owner");
    let token_file = h.path("token.txt");
    h.run_env(
        &[
            "-vvv",
            "token",
            "create",
            "--description",
            "secret check token",
            "--permission",
            "invoice-write",
            "--permission",
            "invoice-read",
            "--to-profile",
            "tok",
            "--output",
            s(&token_file),
        ],
        &verbose,
    );
    let ksef_token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    std::fs::remove_file(&token_file).unwrap(); // the one file the user asked for in clear
    let ctx = format!("Nip:{}", h.nip);
    h.ok(&[
        "profile",
        "add",
        "env",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--secret",
        "env:SECRET_CHECK_TOKEN",
    ]);
    let runs: Vec<Vec<&str>> = vec![
        vec!["-vvv", "--profile", "tok", "auth", "login"],
        vec!["-vvv", "--profile", "env", "auth", "login"],
        vec!["-vvv", "--json", "--profile", "tok", "auth", "status"],
        vec!["-vvv", "--profile", "tok", "auth", "refresh"],
        vec!["-vvv", "--profile", "tok", "auth", "sessions", "list"],
        vec!["-vvv", "--json", "--profile", "tok", "token", "list"],
        vec!["-vvv", "--profile", "tok", "profile", "show"],
    ];
    for args in &runs {
        let out = h.run_env(
            args,
            &[("RUST_LOG", "trace"), ("SECRET_CHECK_TOKEN", &ksef_token)],
        );
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let inv = h.invoice("FV/SECRET/1");
    h.run_env(
        &["-vvv", "--profile", "tok", "send", "online", s(&inv)],
        &verbose,
    );

    // The tokens of the cached sessions, opened with the key file.
    let key = std::fs::read(h.state_dir().join("seal.key")).unwrap();
    let mut secrets = vec![ksef_token.clone()];
    for profile in ["tok", "env", "owner"] {
        let plain = open_sealed(
            &key,
            &h.state_dir().join(format!("sessions/{profile}.sealed")),
            &format!("ksef-cli/sessions/{profile}"),
        );
        let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        for k in ["accessToken", "refreshToken"] {
            let t = v[k].as_str().unwrap().to_string();
            assert!(t.len() > 40, "{k}");
            secrets.push(t);
        }
    }
    // The sealed KSeF token opens to the same token.
    let sealed_token = open_sealed(
        &key,
        &h.state_dir().join("secrets/tok.sealed"),
        "ksef-cli/secrets/tok",
    );
    assert_eq!(String::from_utf8(sealed_token).unwrap(), ksef_token);

    // A sealed file under another name does not open (the name is authenticated).
    std::fs::copy(
        h.state_dir().join("sessions/tok.sealed"),
        h.state_dir().join("sessions/env.sealed"),
    )
    .unwrap();
    let out = h.run(&["--profile", "env", "auth", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("altered"));

    let runs = h.runs.lock().unwrap();
    assert!(runs.len() > 10);
    let logged: usize = runs.iter().map(|(_, _, e)| e.len()).sum();
    assert!(
        logged > 10_000,
        "trace logging produced only {logged} bytes"
    );
    for secret in &secrets {
        // Also the middle of a JWT, in case something prints a part of it.
        let probe = &secret[secret.len() / 3..secret.len() / 3 + 16];
        for (argv, out, err) in runs.iter() {
            for needle in [secret.as_str(), probe] {
                assert!(
                    !argv.iter().any(|a| a.contains(needle)),
                    "secret in argv {argv:?}"
                );
                assert!(!out.contains(needle), "secret on stdout of {argv:?}");
                assert!(!err.contains(needle), "secret on stderr of {argv:?}");
            }
        }
        for f in Harness::files_under(h.dir.path()) {
            let bytes = std::fs::read(&f).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(probe), "secret in clear in {}", f.display());
        }
    }
}
