//! No secret in argv, output, logs or files in clear: a whole session (login, tokens, send
//! online, send batch with a given and with a generated state key, export run, sync, store
//! query) runs with trace logging, then the KSeF token, the access and refresh tokens, the batch
//! state keys, the batch session's AES key and its presigned upload URLs (read back by opening
//! the sealed files with their keys, as an attacker with the key files would) are looked for in
//! every argv, every byte printed and every file the CLI wrote: caches, batch work directories
//! and state files, export output, the sync store and its checkpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use common::{Harness, s};

/// The associated data of a batch state file: its format line and its clear `state` as JSON
/// with sorted keys and no whitespace.
fn canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap()),
    }
}

/// Opens the sealed part of a batch state file with its state key: the session's AES key (Base64)
/// and the signatures of the presigned upload URLs.
fn batch_secrets(state_key: &[u8], state_file: &std::path::Path) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_file).unwrap()).unwrap();
    assert_eq!(file["sealed"]["algorithm"], "AES-256-GCM");
    let mut aad = String::from("ksef-rs-batch-state/1\n");
    canonical(&file["state"], &mut aad);
    let nonce = b64
        .decode(file["sealed"]["nonce"].as_str().unwrap())
        .unwrap();
    let ciphertext = b64
        .decode(file["sealed"]["ciphertext"].as_str().unwrap())
        .unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(state_key).unwrap();
    let plain = cipher
        .decrypt(
            &aes_gcm::Nonce::from(<[u8; 12]>::try_from(nonce.as_slice()).unwrap()),
            Payload {
                msg: &ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .unwrap();
    let sealed: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    let mut out = vec![sealed["key"].as_str().unwrap().to_string()];
    for u in sealed["uploads"].as_array().unwrap() {
        let url = u["url"].as_str().unwrap();
        let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
        out.push(sig.to_string());
    }
    assert!(out.len() > 1, "the batch had no upload URL");
    out
}

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

    // Batches: one sealed under a key from the environment, one under a key ksef generates and
    // keeps sealed; both work directories are kept.
    let batch_input = |name: &str| {
        let dir = h.path(name);
        std::fs::create_dir(&dir).unwrap();
        for i in 1..=3 {
            let f = h.invoice(&format!("FV/SECRET/{name}/{i}"));
            std::fs::rename(&f, dir.join(format!("{i}.xml"))).unwrap();
        }
        dir
    };
    let batch_dir = batch_input("batch-in-1");
    let state_key_hex: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let given = h.path("batch-given");
    let out = h.run_env(
        &[
            "-vvv",
            "--profile",
            "tok",
            "send",
            "batch",
            s(&batch_dir),
            "--work-dir",
            s(&given),
            "--keep-work-dir",
            "--part-size",
            "2kB",
            "--state-key",
            "env:BATCH_STATE_KEY",
        ],
        &[("RUST_LOG", "trace"), ("BATCH_STATE_KEY", &state_key_hex)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = h.path("batch-generated");
    let out = h.run_env(
        &[
            "-vvv",
            "--profile",
            "tok",
            "send",
            "batch",
            s(&batch_input("batch-in-2")),
            "--work-dir",
            s(&generated),
            "--keep-work-dir",
        ],
        &verbose,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Receiving: an export into a directory, a sync into the profile's store, a store query.
    let since =
        (ksef_time::business_date(chrono::Utc::now()) - chrono::TimeDelta::days(1)).to_string();
    let exported = h.path("exported");
    for args in [
        vec![
            "-vvv",
            "--profile",
            "tok",
            "export",
            "run",
            "--role",
            "seller",
            "--from",
            &since,
            "-o",
            s(&exported),
        ],
        vec!["-vvv", "--profile", "tok", "sync", "--since", &since],
        vec!["-vvv", "--json", "--profile", "tok", "store", "query"],
        vec!["-vvv", "--profile", "tok", "store", "status"],
    ] {
        let out = h.run_env(&args, &verbose);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        Harness::files_under(&exported).len() >= 5,
        "the export wrote no invoices"
    );
    let store_files = Harness::files_under(&h.dir.path().join("data/stores/tok"));
    assert!(
        store_files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "xml")),
        "the sync stored no invoice files: {store_files:?}"
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
    // The batch state keys and what their state files seal.
    secrets.push(state_key_hex.clone());
    let given_state = given.join("batch-state.json");
    let state_key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&state_key_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    secrets.extend(batch_secrets(&state_key, &given_state));
    let batch_keys = Harness::files_under(&h.state_dir().join("batch-keys"));
    assert_eq!(batch_keys.len(), 1, "{batch_keys:?}");
    let name = batch_keys[0].file_stem().unwrap().to_str().unwrap();
    let generated_key = open_sealed(&key, &batch_keys[0], &format!("ksef-cli/batch-keys/{name}"));
    assert_eq!(generated_key.len(), 32);
    {
        use base64::Engine as _;
        secrets.push(base64::engine::general_purpose::STANDARD.encode(&generated_key));
        secrets.push(generated_key.iter().map(|b| format!("{b:02x}")).collect());
    }
    secrets.extend(batch_secrets(
        &generated_key,
        &generated.join("batch-state.json"),
    ));

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
