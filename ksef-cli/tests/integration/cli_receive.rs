//! Receiving invoices: `ksef invoice get|query`, `ksef export run`, `ksef sync` and
//! `ksef store query|status` against the embedded simulator, after `ksef send online` put
//! invoices there. The bytes that come back are compared with the files that were sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;

use common::{Harness, s};

/// The Warsaw business date before today: a range start that holds at any hour.
fn yesterday() -> String {
    (ksef_time::business_date(chrono::Utc::now()) - chrono::TimeDelta::days(1)).to_string()
}

/// Sends three invoices; KSeF number → the file sent.
fn send_three(h: &Harness) -> BTreeMap<String, Vec<u8>> {
    let files: Vec<_> = (1..=3)
        .map(|i| h.invoice_with(&format!("FV/RCV/{i}"), |x| x.net(1_000 * i)))
        .collect();
    let args: Vec<&str> = ["send", "online"]
        .into_iter()
        .chain(files.iter().map(|f| s(f)))
        .collect();
    let sent = h.json(&args, 0);
    sent["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let k = i["ksefNumber"].as_str().unwrap().to_string();
            let f = i["file"].as_str().unwrap();
            (k, std::fs::read(f).unwrap())
        })
        .collect()
}

#[test]
fn invoice_get_and_query() {
    let h = Harness::start();
    h.login("t");
    let sent = send_three(&h);
    let (k0, bytes0) = sent.iter().next().unwrap();

    // get: exactly the bytes sent, to a file or stdout; never over an existing file silently.
    let out = h.path("got.xml");
    let got = h.json(&["invoice", "get", k0, "-o", s(&out)], 0);
    assert_eq!(std::fs::read(&out).unwrap(), *bytes0);
    assert_eq!(got["bytes"], bytes0.len());
    assert_eq!(
        got["sha256"],
        ksef_flows::crypto::b64::sha256_b64(bytes0).as_str()
    );
    assert_eq!(h.ok(&["invoice", "get", k0]).as_bytes(), bytes0.as_slice());
    assert_eq!(
        h.run(&["invoice", "get", k0, "-o", s(&out)]).status.code(),
        Some(2)
    );
    h.ok(&["invoice", "get", k0, "-o", s(&out), "--force"]);
    assert_eq!(
        h.run(&["invoice", "get", "not-a-ksef-number"])
            .status
            .code(),
        Some(2)
    );
    let unknown = format!("{}-20250101-0123456789AB-CD", h.nip);
    let out = h.run(&["invoice", "get", &unknown]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");

    // query: JSON Lines of the API's metadata, every invoice once.
    let from = yesterday();
    let all = h.json_lines(&["invoice", "query", "--role", "seller", "--from", &from]);
    let numbers: Vec<&str> = all
        .iter()
        .map(|m| m["ksefNumber"].as_str().unwrap())
        .collect();
    for k in sent.keys() {
        assert_eq!(
            numbers.iter().filter(|n| **n == k.as_str()).count(),
            1,
            "{k}"
        );
    }
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|m| m["seller"]["nip"] == h.nip.as_str()));
    let one = h.json_lines(&[
        "invoice",
        "query",
        "--role",
        "seller",
        "--from",
        &from,
        "--invoice-number",
        "FV/RCV/2",
    ]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["invoiceNumber"], "FV/RCV/2");
    let limited = h.json_lines(&[
        "invoice", "query", "--role", "seller", "--from", &from, "--limit", "2", "--desc",
    ]);
    assert_eq!(limited.len(), 2);
    // As buyer the context received nothing.
    assert!(
        h.json_lines(&["invoice", "query", "--from", &from])
            .is_empty()
    );
    // Human output: a header and one row per invoice.
    let text = h.ok(&["invoice", "query", "--role", "seller", "--from", &from]);
    assert!(text.starts_with("KSEF NUMBER"), "{text}");
    for k in sent.keys() {
        assert!(text.contains(k.as_str()), "{text}");
    }
    // Bad filters are refused before anything is sent.
    for bad in [
        vec!["--seller-nip", "123"],
        vec!["--invoice-type", "Bogus"],
        vec!["--currency", "XYZ1"],
        vec!["--to", "1999-01-01"],
    ] {
        let mut args = vec!["invoice", "query", "--role", "seller", "--from", &from];
        args.extend(bad.iter());
        let out = h.run(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
    }
    assert_eq!(
        h.run(&["invoice", "query", "--from", "yesterday"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn export_sync_and_store() {
    let h = Harness::start();
    h.login("t");
    let sent = send_three(&h);
    let from = yesterday();

    // export run: every invoice as {ksefNumber}.xml with the bytes sent, and _metadata.json.
    let dir = h.path("exported");
    let exp = h.json(
        &[
            "export",
            "run",
            "--role",
            "seller",
            "--from",
            &from,
            "-o",
            s(&dir),
        ],
        0,
    );
    assert_eq!(exp["invoiceCount"], 3, "{exp:#}");
    assert_eq!(exp["isTruncated"], false);
    assert!(exp["continueFrom"].is_null());
    let files = exp["invoices"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        let k = f["ksefNumber"].as_str().unwrap();
        let bytes = std::fs::read(f["file"].as_str().unwrap()).unwrap();
        assert_eq!(&bytes, sent.get(k).unwrap(), "{k}");
        assert!(dir.join(format!("{k}.xml")).is_file());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("_metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["invoices"].as_array().unwrap().len(), 3);
    // Only the metadata.
    let dir2 = h.path("meta-only");
    let m = h.json(
        &[
            "export",
            "run",
            "--role",
            "seller",
            "--from",
            &from,
            "-o",
            s(&dir2),
            "--metadata-only",
        ],
        0,
    );
    assert_eq!(m["metadata"], 3);
    assert!(m["invoices"].as_array().unwrap().is_empty());
    assert!(dir2.join("_metadata.json").is_file());

    // sync: the first run stores the three issued invoices, the second finds nothing new.
    let store = h.path("store");
    let first = h.json(
        &["sync", "--store", s(&store), "--since", &from, "--once"],
        0,
    );
    assert_eq!(first["newInvoices"], 3, "{first:#}");
    assert_eq!(first["storedInvoices"], 3);
    let roles = first["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0]["role"], "seller");
    assert_eq!(roles[0]["newInvoices"], 3);
    assert_eq!(roles[1]["role"], "buyer");
    assert!(roles.iter().all(|r| r["caughtUp"] == true));
    let second = h.json(&["sync", "--store", s(&store)], 0);
    assert_eq!(second["newInvoices"], 0, "{second:#}");
    assert_eq!(second["storedInvoices"], 3);

    // store query: JSON Lines with the files, exactly the bytes sent.
    let stored = h.json_lines(&["store", "query", "--store", s(&store)]);
    assert_eq!(stored.len(), 3);
    for inv in &stored {
        let k = inv["ksefNumber"].as_str().unwrap();
        let bytes = std::fs::read(inv["file"].as_str().unwrap()).unwrap();
        assert_eq!(&bytes, sent.get(k).unwrap());
        assert_eq!(inv["metadata"]["ksefNumber"], k);
    }
    let first_seq = stored[0]["seq"].as_u64().unwrap();
    let after = h.json_lines(&[
        "store",
        "query",
        "--store",
        s(&store),
        "--after",
        &first_seq.to_string(),
    ]);
    assert_eq!(after.len(), 2);
    let by_seller = h.json_lines(&[
        "store",
        "query",
        "--store",
        s(&store),
        "--seller-nip",
        &h.nip,
    ]);
    assert_eq!(by_seller.len(), 3);
    let nobody = h.json_lines(&[
        "store",
        "query",
        "--store",
        s(&store),
        "--buyer-nip",
        "1111111111",
    ]);
    assert!(nobody.is_empty());
    let status = h.json(&["store", "status", "--store", s(&store)], 0);
    assert_eq!(status["invoices"], 3);
    assert_eq!(status["checkpoints"].as_array().unwrap().len(), 2);
    let text = h.ok(&["store", "query", "--store", s(&store)]);
    assert!(
        text.contains("KSEF NUMBER") && text.contains("FV/RCV/1"),
        "{text}"
    );

    // The profile's default store, and errors.
    let default = h.json(&["sync", "--since", &from], 0);
    assert_eq!(default["newInvoices"], 3);
    assert_eq!(h.json_lines(&["store", "query"]).len(), 3);
    assert_eq!(
        h.run(&["store", "query", "--store", s(&h.path("nothing"))])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(h.run(&["sync", "--every", "0s"]).status.code(), Some(2));
    assert_eq!(
        h.run(&["sync", "--once", "--every", "15m"]).status.code(),
        Some(2)
    );
}
