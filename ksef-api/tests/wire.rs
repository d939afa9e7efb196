//! The generated client against a tiny loopback HTTP server that records what it receives and
//! answers with recorded KSeF bodies: headers on the wire, error decoding with status and headers,
//! forward compatibility of responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use ksef_api::{
    BearerToken, DecodeError, Environment, ErrorBody, KsefClient, KsefError, KsefHeaders,
    operations::TokenKind, types,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// One canned answer: status line, headers, body.
struct Canned {
    status: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

/// Serves the canned answers in order (one connection each) and records the raw requests.
async fn serve(answers: Vec<Canned>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        for answer in answers {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then the body by Content-Length.
            loop {
                let n = sock.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse::<usize>().unwrap())
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        let n = sock.read(&mut chunk).await.unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break;
                }
            }
            seen2
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            let mut out = format!(
                "HTTP/1.1 {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                answer.status,
                answer.body.len()
            );
            for (k, v) in answer.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&answer.body);
            sock.write_all(out.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
    });
    (base, seen)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn client(base: &str) -> KsefClient {
    KsefClient::builder(Environment::Custom(base.to_string()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn bearer_token_error_format_and_xml_content_type_reach_the_wire() {
    let challenge = r#"{"challenge":"20250514-CR-226FB7B000-3ACF9BE4C0-10","timestamp":"2025-07-11T12:23:56.0154302+00:00","timestampMs":1752236636015,"clientIp":"127.0.0.1"}"#;
    let init = r#"{"referenceNumber":"20250514-AU-2DFC46C000-3AC6D5877F-D4","authenticationToken":{"token":"eyJ0eXAiOiJKV1Qi","validUntil":"2025-07-11T12:38:56+00:00"}}"#;
    let (base, seen) = serve(vec![
        Canned {
            status: "200 OK",
            headers: vec![
                ("content-type", "application/json"),
                ("x-system-warning", "[W1]: maintenance at 22:00"),
            ],
            body: challenge.into(),
        },
        Canned {
            status: "202 Accepted",
            headers: vec![("content-type", "application/json")],
            body: init.into(),
        },
        Canned {
            status: "204 No Content",
            headers: vec![],
            body: String::new(),
        },
    ])
    .await;
    let c = client(&base);
    let ch = c
        .auth_challenge()
        .send()
        .await
        .decode_error()
        .await
        .unwrap();
    assert_eq!(ch.system_warnings()[0].code.as_deref(), Some("W1"));
    assert_eq!(
        ch.challenge.to_string(),
        "20250514-CR-226FB7B000-3ACF9BE4C0-10"
    );
    let signed = "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\"/>";
    let init = c
        .auth_xades_signature()
        .body(signed.to_string())
        .send()
        .await
        .decode_error()
        .await
        .unwrap();
    assert_eq!(
        init.reference_number.to_string(),
        "20250514-AU-2DFC46C000-3AC6D5877F-D4"
    );
    c.state()
        .set(TokenKind::Access, Some(BearerToken::new("access-jwt")));
    c.auth_session_revoke_current()
        .send()
        .await
        .decode_error()
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    assert!(
        seen[0].starts_with("POST /v2/auth/challenge "),
        "{}",
        seen[0]
    );
    assert!(
        seen[0]
            .to_lowercase()
            .contains("x-error-format: problem-details")
    );
    assert!(!seen[0].to_lowercase().contains("authorization:"));
    assert!(
        seen[1]
            .to_lowercase()
            .contains("content-type: application/xml"),
        "{}",
        seen[1]
    );
    assert!(seen[1].ends_with(signed));
    assert!(seen[2].starts_with("DELETE /v2/auth/sessions/current "));
    assert!(
        seen[2]
            .to_lowercase()
            .contains("authorization: bearer access-jwt")
    );
}

#[tokio::test]
async fn error_bodies_decode_with_status_and_headers() {
    let (base, _) = serve(vec![
        Canned {
            status: "429 Too Many Requests",
            headers: vec![("content-type", "application/problem+json"), ("retry-after", "7")],
            body: r#"{"title":"Too Many Requests","status":429,"detail":"Przekroczono limit.","instance":"/v2/auth/challenge","traceId":"x","timestamp":"2025-10-11T12:23:56Z"}"#.into(),
        },
        Canned {
            status: "400 Bad Request",
            headers: vec![("content-type", "application/json")],
            body: r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21470,"exceptionDescription":"Nieznany klucz.","details":null}],"timestamp":"2025-10-11T12:23:56"}}"#.into(),
        },
        Canned { status: "502 Bad Gateway", headers: vec![("content-type", "text/html")], body: "<html>502 Bad Gateway</html>".into() },
    ])
    .await;
    let c = client(&base);
    let e = c
        .auth_challenge()
        .send()
        .await
        .decode_error()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
    let e = c
        .auth_challenge()
        .send()
        .await
        .decode_error()
        .await
        .unwrap_err();
    assert!(e.has_code(21470), "{e}");
    // 502 is not in the spec: it arrives as an unexpected response and still decodes.
    let e = c
        .auth_challenge()
        .send()
        .await
        .decode_error()
        .await
        .unwrap_err();
    let KsefError::Api(r) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(r.status.as_u16(), 502);
    assert!(matches!(&r.body, ErrorBody::Other { text, .. } if text.contains("Bad Gateway")));
}

#[tokio::test]
async fn a_missing_token_is_refused_before_anything_is_sent() {
    let (base, seen) = serve(vec![]).await;
    let e = client(&base)
        .session_status()
        .reference_number("20250626-SO-2F14610000-242991F8C9-B3".to_string())
        .send()
        .await
        .decode_error()
        .await
        .unwrap_err();
    assert!(matches!(e, KsefError::NotSent(_)), "{e:?}");
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn unknown_enum_values_and_fields_still_deserialize() {
    // A newer KSeF could add an invoicing mode, a status description and a field we do not know.
    let json = r#"{"ordinalNumber":1,"referenceNumber":"20250626-EE-319D7EE000-B67F415CDC-2C","invoiceHash":"mkht+3m5trnfxlTYhq3QFn74LkEO69MFNlsMAkCDSPA=","acquisitionDate":"2025-06-26T11:45:00+00:00","invoicingDate":"2025-06-26T11:44:00+00:00","invoicingMode":"Quantum","status":{"code":999,"description":"Nowy status"},"brandNewField":{"x":1}}"#;
    let s: types::SessionInvoiceStatusResponse = serde_json::from_str(json).unwrap();
    assert_eq!(
        s.invoicing_mode,
        Some(types::InvoicingMode::Unknown("Quantum".into()))
    );
    assert_eq!(s.status.code, 999);
    let known: types::InvoicingMode = serde_json::from_str("\"Offline\"").unwrap();
    assert_eq!(known, types::InvoicingMode::Offline);
    assert_eq!(
        serde_json::to_string(&types::InvoicingMode::Unknown("Quantum".into())).unwrap(),
        "\"Quantum\""
    );
}

#[test]
fn relaxed_patterns_accept_strings_the_pinned_spec_would_reject() {
    // KSeF relaxes identifier patterns between releases; a response must not fail on them.
    let s: types::ReferenceNumber = serde_json::from_str("\"something-new-2099\"").unwrap();
    assert_eq!(s.to_string(), "something-new-2099");
}
