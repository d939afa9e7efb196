//! `ksef send online`, `ksef validate`, `ksef session …` and `ksef qr …` against the embedded
//! simulator, with `--json` output parsed and the exit codes checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, s};

#[test]
fn send_online_then_inspect_the_session_and_its_upo() {
    let h = Harness::start();
    h.login("t");
    let a = h.invoice("FV/CLI/1");
    let b = h.invoice_with("FV/CLI/2", |i| i.net(12_345));
    let sent = h.json(&["send", "online", s(&a), s(&b)], 0);
    let session = sent["session"].as_str().unwrap().to_string();
    assert!(session.contains("-SO-"), "{session}");
    assert_eq!(sent["accepted"], 2);
    assert_eq!(sent["rejected"], 0);
    assert_eq!(sent["closed"], true);
    assert_eq!(sent["status"]["code"], 200);
    let invoices = sent["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[0]["file"], s(&a));
    assert_eq!(invoices[0]["status"], "accepted");
    let ksef0 = invoices[0]["ksefNumber"].as_str().unwrap().to_string();
    assert!(ksef0.starts_with(&h.nip), "{ksef0}");
    let inv_ref = invoices[0]["referenceNumber"].as_str().unwrap().to_string();
    assert!(!sent["upoPages"].as_array().unwrap().is_empty());

    // A duplicate and a broken file: partial, exit 3, each outcome named.
    let dup = h.invoice_with("FV/CLI/1", |i| i.net(777));
    let broken = h.path("broken.xml");
    std::fs::write(&broken, b"<Faktura><oops></Faktura>").unwrap();
    let c = h.invoice("FV/CLI/3");
    let partial = h.json(&["send", "online", s(&dup), s(&broken), s(&c)], 3);
    let inv = partial["invoices"].as_array().unwrap();
    assert_eq!(inv[0]["status"], "rejected");
    assert_eq!(inv[0]["code"], 440);
    assert_eq!(inv[0]["extensions"]["originalKsefNumber"], ksef0.as_str());
    assert_eq!(inv[1]["status"], "notSent");
    assert!(inv[1]["error"].as_str().unwrap().contains("pre-flight"));
    assert_eq!(inv[2]["status"], "accepted");
    assert_eq!(partial["accepted"], 1);
    // Human output: a table per file, and the exit code alone tells a script.
    let out = h.run(&["send", "online", s(&dup)]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FILE") && text.contains("rejected") && text.contains("440"),
        "{text}"
    );

    // Sessions: list (JSON Lines), status, invoices, UPO.
    let list = h.json_lines(&["session", "list"]);
    assert!(
        list.iter()
            .any(|x| x["referenceNumber"] == session.as_str()),
        "{list:?}"
    );
    let status = h.json(&["session", "status", &session], 0);
    assert_eq!(status["status"]["code"], 200);
    assert_eq!(status["successfulInvoiceCount"], 2);
    let invs = h.json_lines(&["session", "invoices", &session]);
    assert_eq!(invs.len(), 2);
    assert!(invs.iter().any(|i| i["ksefNumber"] == ksef0.as_str()));
    let failed = h.json_lines(&["session", "invoices", &session, "--failed"]);
    assert!(failed.is_empty());

    let upo_file = h.path("upo.xml");
    let upo = h.json(&["session", "upo", &session, "-o", s(&upo_file)], 0);
    let doc = &upo["upo"][0];
    assert_eq!(doc["sessionReferenceNumber"], session.as_str());
    assert_eq!(doc["invoices"].as_array().unwrap().len(), 2);
    let xml = std::fs::read(&upo_file).unwrap();
    assert_eq!(doc["bytes"], xml.len());
    assert!(String::from_utf8_lossy(&xml).contains(&ksef0));
    // The UPO of one invoice, by reference and by KSeF number; XML on stdout without -o.
    let by_ref = h.ok(&["session", "upo", &session, "--invoice", &inv_ref]);
    assert!(
        by_ref.contains(&ksef0) && by_ref.contains("Potwierdzenie"),
        "{by_ref}"
    );
    let by_number = h.json(&["session", "upo", &session, "--ksef-number", &ksef0], 0);
    assert_eq!(
        by_number["upo"][0]["invoices"][0]["ksefNumber"],
        ksef0.as_str()
    );
    // Unknown sessions fail with exit 1 (KSeF answers 4xx), malformed ones with 2.
    assert_eq!(h.run(&["session", "status", "nope"]).status.code(), Some(2));
}

#[test]
fn validate_tells_by_exit_code() {
    let h = Harness::start();
    let good = h.invoice("FV/V/1");
    let v = h.json_lines(&["validate", s(&good)]);
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["form"], "FA (3)");
    assert_eq!(v[0]["invoiceNumber"], "FV/V/1");
    assert_eq!(v[0]["sellerNip"], h.nip.as_str());
    let bom = h.path("bom.xml");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(&good).unwrap());
    std::fs::write(&bom, bytes).unwrap();
    let out = h.run(&["--json", "validate", s(&good), s(&bom)]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["valid"], false);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("bom"),
        "{}",
        lines[1]
    );
    assert_eq!(h.run(&["validate", "missing.xml"]).status.code(), Some(1));
    // No profile needed: validation sends nothing.
    assert!(!h.config_dir().join("config.toml").exists());
}

#[test]
fn qr_codes_as_url_png_and_svg() {
    let h = Harness::start();
    let inv = h.invoice("FV/QR/1");
    let png = h.path("kod1.png");
    let svg = h.path("kod1.svg");
    let k1 = h.json(
        &[
            "qr",
            "kod1",
            s(&inv),
            "--png",
            s(&png),
            "--svg",
            s(&svg),
            "--environment",
            "test",
        ],
        0,
    );
    let url = k1["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "https://qr-test.ksef.mf.gov.pl/invoice/{}/",
            h.nip
        )),
        "{url}"
    );
    assert_eq!(k1["label"], "OFFLINE");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("<svg") && svg_text.contains("OFFLINE"));
    // The hash in the link is SHA-256 of the exact bytes (openssl is the oracle).
    let digest = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", s(&inv)])
        .output()
        .unwrap()
        .stdout;
    let b64url = base64_url(&digest);
    assert!(url.ends_with(&b64url), "{url} vs {b64url}");
    // Human output is the link alone; a KSeF number becomes the label.
    let number = "5265877635-20250826-0100001AF629-AF";
    let text = h.ok(&[
        "qr",
        "kod1",
        s(&inv),
        "--ksef-number",
        number,
        "--svg",
        s(&svg),
        "--environment",
        "demo",
    ]);
    assert!(
        text.starts_with("https://qr-demo.ksef.mf.gov.pl/invoice/"),
        "{text}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains(number));
    assert_eq!(
        h.run(&["qr", "kod1", s(&inv), "--ksef-number", "bad"])
            .status
            .code(),
        Some(2)
    );

    // KOD II with an offline certificate (a self-signed one made by openssl: the serial is the
    // certificate's own).
    let key = h.path("k.pem");
    let cert = h.path("c.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            s(&key),
            "-out",
            s(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=offline",
            "-set_serial",
            "0x0123456789ABCDEF",
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let k2 = h.json(
        &[
            "qr",
            "kod2",
            s(&inv),
            "--cert",
            s(&cert),
            "--key",
            s(&key),
            "--context",
            &format!("Nip:{}", h.nip),
            "--environment",
            "test",
            "--png",
            s(&png),
        ],
        0,
    );
    let url2 = k2["url"].as_str().unwrap();
    assert!(
        url2.starts_with(&format!(
            "https://qr-test.ksef.mf.gov.pl/certificate/Nip/{}/{}/0123456789ABCDEF/{b64url}/",
            h.nip, h.nip
        )),
        "{url2}"
    );
    assert_eq!(k2["label"], "CERTYFIKAT");
    // The signature verifies with openssl over the signed part (ECDSA r||s → DER).
    let signed = url2.trim_start_matches("https://");
    let (signed_part, sig) = signed.rsplit_once('/').unwrap();
    let raw = base64_url_decode(sig);
    assert_eq!(raw.len(), 64);
    let der = ecdsa_der(&raw);
    std::fs::write(h.path("msg"), signed_part).unwrap();
    std::fs::write(h.path("sig.der"), der).unwrap();
    let pubkey = std::process::Command::new("openssl")
        .args(["x509", "-in", s(&cert), "-pubkey", "-noout", "-out"])
        .arg(h.path("pub.pem"))
        .output()
        .unwrap();
    assert!(pubkey.status.success());
    let verify = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            s(&h.path("pub.pem")),
            "-signature",
            s(&h.path("sig.der")),
            s(&h.path("msg")),
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// r||s (32 + 32 bytes) as an ASN.1 DER ECDSA-Sig-Value.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    fn int(b: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_none_or(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    }
    let mut body = int(&raw[..32]);
    body.extend(int(&raw[32..]));
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}
