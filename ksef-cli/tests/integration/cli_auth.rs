//! `ksef auth …` against the embedded simulator: login with each credential kind, the sealed
//! cache, status/refresh/logout, sessions list/revoke, exit code 4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::Harness;

#[test]
fn login_status_refresh_sessions_and_logout() {
    let h = Harness::start();
    // Not logged in yet: exit 4 and the hint.
    h.ok(&[
        "profile",
        "add",
        "t",
        "-e",
        &h.url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "test-identity",
    ]);
    let out = h.run(&["auth", "status"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ksef auth login"));

    let login = h.json(&["auth", "login"], 0);
    assert_eq!(login["profile"], "t");
    assert_eq!(login["context"]["type"], "Nip");
    assert_eq!(login["context"]["value"], h.nip.as_str());
    let reference = login["referenceNumber"].as_str().unwrap().to_string();
    assert_eq!(reference.len(), 36);
    assert!(reference.contains("-AU-"));

    // The cache is sealed (no JWT inside) and private.
    let cache = h.state_dir().join("sessions/t.sealed");
    let bytes = std::fs::read(&cache).unwrap();
    assert!(bytes.starts_with(b"KSEFSEAL"));
    assert!(
        !String::from_utf8_lossy(&bytes).contains("eyJ"),
        "a JWT in clear"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in [&cache, &h.state_dir().join("seal.key")] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{} mode {mode:o}", f.display());
        }
    }

    let status = h.json(&["auth", "status"], 0);
    assert_eq!(status["referenceNumber"], reference.as_str());
    assert_eq!(status["accessTokenValid"], true);
    assert_eq!(status["refreshTokenValid"], true);

    let refreshed = h.json(&["auth", "refresh"], 0);
    assert!(refreshed["accessTokenExpires"].is_string());

    // A second login (another authentication session) shows up in the list; the current one is
    // marked, and revoking the other one works.
    h.ok(&[
        "profile",
        "add",
        "u",
        "-e",
        &h.url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "test-identity",
    ]);
    let other = h.json(&["--profile", "u", "auth", "login"], 0);
    let other_ref = other["referenceNumber"].as_str().unwrap().to_string();
    let sessions = h.json_lines(&["auth", "sessions", "list"]);
    let refs: Vec<&str> = sessions
        .iter()
        .map(|s| s["referenceNumber"].as_str().unwrap())
        .collect();
    assert!(
        refs.contains(&reference.as_str()) && refs.contains(&other_ref.as_str()),
        "{refs:?}"
    );
    let current: Vec<&serde_json::Value> =
        sessions.iter().filter(|s| s["isCurrent"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["referenceNumber"], reference.as_str());
    let revoked = h.json(&["auth", "sessions", "revoke", &other_ref], 0);
    assert_eq!(revoked["revoked"], true);
    // The revoked session's refresh token is dead: refreshing it is an authentication failure.
    let out = h.run(&["--profile", "u", "auth", "refresh"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A malformed reference is refused before anything is sent.
    assert_eq!(
        h.run(&["auth", "sessions", "revoke", "nope"]).status.code(),
        Some(2)
    );

    let logout = h.json(&["auth", "logout"], 0);
    assert_eq!(logout["revoked"], true);
    assert_eq!(logout["cacheRemoved"], true);
    assert!(!cache.exists());
    assert_eq!(h.run(&["auth", "status"]).status.code(), Some(4));
    // Logging out twice is not an error.
    let again = h.json(&["auth", "logout"], 0);
    assert_eq!(again["revoked"], false);
}

#[test]
fn token_profiles_log_in_and_a_revoked_token_is_refused() {
    let h = Harness::start();
    h.login("owner");
    let created = h.json(
        &[
            "token",
            "create",
            "--description",
            "ksef-cli test token",
            "--permission",
            "invoice-write",
            "--permission",
            "invoice-read",
            "--to-profile",
            "bytoken",
            "--output",
            "token.txt",
        ],
        0,
    );
    let token_ref = created["referenceNumber"].as_str().unwrap().to_string();
    assert_eq!(created["stored"]["profile"], "bytoken");
    let file = h.path("token.txt");
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(token.len() > 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The token is never printed.
    let printed = h
        .runs
        .lock()
        .unwrap()
        .iter()
        .any(|(_, o, e)| o.contains(&token) || e.contains(&token));
    assert!(!printed);
    // An existing file is never overwritten.
    let out = h.run(&[
        "token",
        "create",
        "--description",
        "second token",
        "--permission",
        "invoice-read",
        "--output",
        "token.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // The sealed token logs in; so does the same token from a file and from an env var.
    let by_token = h.json(&["--profile", "bytoken", "auth", "login"], 0);
    assert_eq!(by_token["context"]["value"], h.nip.as_str());
    let ctx = format!("Nip:{}", h.nip);
    h.ok(&[
        "profile",
        "add",
        "fromfile",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--secret",
        &format!("file:{}", common::s(&file)),
    ]);
    h.ok(&["--profile", "fromfile", "auth", "login"]);
    h.ok(&[
        "profile",
        "add",
        "fromenv",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--secret",
        "env:CLI_TEST_TOKEN",
    ]);
    let out = h.run(&["--profile", "fromenv", "auth", "login"]);
    assert_eq!(out.status.code(), Some(4), "the variable is not set");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CLI_TEST_TOKEN"));
    let out = h.run_env(
        &["--profile", "fromenv", "auth", "login"],
        &[("CLI_TEST_TOKEN", token.trim())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `prompt` needs a terminal; tests have none.
    h.ok(&[
        "profile", "add", "prompted", "-e", &h.url, "-c", &ctx, "--secret", "prompt",
    ]);
    assert_eq!(
        h.run(&["--profile", "prompted", "auth", "login"])
            .status
            .code(),
        Some(4)
    );

    // Token list/status/revoke.
    let tokens = h.json_lines(&["--profile", "owner", "token", "list"]);
    let mine = tokens
        .iter()
        .find(|t| t["referenceNumber"] == token_ref.as_str())
        .unwrap();
    assert_eq!(mine["status"], "Active");
    assert_eq!(mine["description"], "ksef-cli test token");
    let status = h.json(&["--profile", "owner", "token", "status", &token_ref], 0);
    assert_eq!(status["status"], "Active");
    let revoked = h.json(&["--profile", "owner", "token", "revoke", &token_ref], 0);
    assert_eq!(revoked["revoked"], true);
    let active = h.json_lines(&["--profile", "owner", "token", "list", "--status", "active"]);
    assert!(
        active
            .iter()
            .all(|t| t["referenceNumber"] != token_ref.as_str())
    );
    // A revoked token no longer authenticates: exit 4.
    let out = h.run(&["--profile", "bytoken", "auth", "login"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `profile secret` seals a token read from stdin.
    let out = h
        .cmd()
        .args(["profile", "secret", "fromenv"])
        .write_stdin(format!("{}\n", token.trim()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = h.json(&["profile", "show", "fromenv"], 0);
    assert_eq!(shown["secret"], "sealed");
}

/// Certificate profiles: PEM, DER and PKCS#12 (made by openssl), each logging in with XAdES.
#[test]
fn certificate_profiles_in_pem_der_and_pkcs12() {
    let h = Harness::start();
    let d = h.dir.path();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A TEST-style personal certificate: serialNumber TINPL-<NIP> authenticates as the owner.
    let subj = format!(
        "/GN=Jan/SN=Kowalski/serialNumber=TINPL-{}/CN=Jan Kowalski/C=PL",
        h.nip
    );
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "id.key",
        "-out",
        "id.pem",
        "-days",
        "2",
        "-subj",
        &subj,
    ]);
    run(&["x509", "-in", "id.pem", "-outform", "DER", "-out", "id.der"]);
    run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        "id.key",
        "-outform",
        "DER",
        "-out",
        "id.key.der",
    ]);
    run(&[
        "pkcs12",
        "-export",
        "-inkey",
        "id.key",
        "-in",
        "id.pem",
        "-out",
        "id.p12",
        "-passout",
        "pass:p12-passphrase",
    ]);
    let ctx = format!("Nip:{}", h.nip);
    let p = |n: &str| h.path(n).to_str().unwrap().to_string();
    h.ok(&[
        "profile",
        "add",
        "pem",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "certificate",
        "--certificate",
        &p("id.pem"),
        "--key",
        &p("id.key"),
    ]);
    h.ok(&[
        "profile",
        "add",
        "der",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "certificate",
        "--certificate",
        &p("id.der"),
        "--key",
        &p("id.key.der"),
    ]);
    h.ok(&[
        "profile",
        "add",
        "p12",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "certificate",
        "--certificate",
        &p("id.p12"),
        "--secret",
        "env:P12_PASS",
    ]);
    for profile in ["pem", "der"] {
        let login = h.json(&["--profile", profile, "auth", "login"], 0);
        assert_eq!(login["context"]["value"], h.nip.as_str(), "{profile}");
    }
    let out = h.run_env(
        &["--profile", "p12", "auth", "login"],
        &[("P12_PASS", "p12-passphrase")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A wrong passphrase is an authentication failure that names the file, and sends nothing.
    let out = h.run_env(
        &["--profile", "p12", "auth", "login"],
        &[("P12_PASS", "wrong")],
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("id.p12"));
    // A key that is not the certificate's: a usage error before anything is sent.
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "other.key",
        "-out",
        "other.pem",
        "-days",
        "2",
        "-subj",
        "/CN=other",
    ]);
    h.ok(&[
        "profile",
        "add",
        "mismatch",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "certificate",
        "--certificate",
        &p("id.pem"),
        "--key",
        &p("other.key"),
    ]);
    let out = h.run(&["--profile", "mismatch", "auth", "login"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
}
