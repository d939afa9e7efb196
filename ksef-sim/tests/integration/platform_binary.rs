//! The `ksef-sim` binary prints its base URL and control token and serves the API there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_base_url_and_serves() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksef-sim"))
        .args(["--port", "0", "--no-rate-limits"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Kill(child);
    let (line, token_line) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut l = String::new();
        reader.read_line(&mut l).unwrap();
        let mut t = String::new();
        reader.read_line(&mut t).unwrap();
        (l, t)
    })
    .await
    .unwrap();
    let token = token_line
        .trim()
        .strip_prefix("control-token: ")
        .unwrap_or_else(|| panic!("second line: {token_line:?}"))
        .to_string();
    assert!(token.len() >= 32, "{token}");
    let base = line.trim().to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/v2"),
        "{base}"
    );
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/auth/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let root = base.trim_end_matches("/v2");
    let r = http
        .get(format!("{root}/__sim/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    // The control API answers only with the printed token.
    let fault = r#"{"operation": "POST /auth/challenge", "fault": {"kind": "serverError", "status": 503, "count": 1}}"#;
    let r = http
        .post(format!("{root}/__sim/faults"))
        .header("content-type", "application/json")
        .body(fault)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{root}/__sim/faults"))
        .header("content-type", "application/json")
        .header(ksef_sim::CONTROL_TOKEN_HEADER, &token)
        .body(fault)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .post(format!("{base}/auth/challenge"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    drop(guard);
}
