//! A whole working session, only through the `ksef` binary, the way a script would drive it:
//! profile → login → send online → send batch → sync → query the store → QR → logout. Every
//! step's `--json` output is parsed and feeds the next; afterwards the session is unusable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Harness, s};

#[test]
fn profile_login_send_sync_query_qr_logout() {
    let h = Harness::start();
    // profile
    h.ok(&[
        "profile",
        "add",
        "acme",
        "--environment",
        &h.url,
        "--context",
        &format!("Nip:{}", h.nip),
        "--credential",
        "test-identity",
        "--default",
    ]);
    let shown = h.json(&["profile", "show"], 0);
    assert_eq!(shown["name"], "acme", "{shown:#}");

    // login
    h.ok(&["auth", "login"]);
    let status = h.json(&["auth", "status"], 0);
    assert!(status.to_string().contains(&h.nip), "{status:#}");

    // send online
    let online = h.invoice("FV/E2E/ONLINE/1");
    let sent = h.json(&["send", "online", s(&online)], 0);
    let online_number = sent["invoices"][0]["ksefNumber"]
        .as_str()
        .unwrap()
        .to_string();

    // send batch
    let outbox = h.path("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    for i in 1..=3 {
        let f = h.invoice(&format!("FV/E2E/BATCH/{i}"));
        std::fs::rename(&f, outbox.join(f.file_name().unwrap())).unwrap();
    }
    let batch = h.json(&["send", "batch", s(&outbox)], 0);
    assert_eq!(batch["accepted"], 3, "{batch:#}");
    let mut numbers: Vec<String> = batch["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_string())
        .collect();
    numbers.push(online_number.clone());

    // sync into the profile's store, then query it
    let since =
        (ksef_time::business_date(chrono::Utc::now()) - chrono::TimeDelta::days(1)).to_string();
    let synced = h.json(&["sync", "--since", &since, "--once"], 0);
    assert_eq!(synced["newInvoices"], 4, "{synced:#}");
    let stored = h.json_lines(&["store", "query", "--seller-nip", &h.nip]);
    let mut stored_numbers: Vec<String> = stored
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_string())
        .collect();
    stored_numbers.sort();
    numbers.sort();
    assert_eq!(stored_numbers, numbers);
    let file = stored
        .iter()
        .find(|i| i["ksefNumber"] == online_number.as_str())
        .map(|i| i["file"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&online).unwrap()
    );

    // QR of the stored invoice: the link carries the seller NIP and the invoice's hash
    let qr = h.json(&["qr", "kod1", &file, "--ksef-number", &online_number], 0);
    let url = qr["url"].as_str().unwrap();
    assert!(url.contains(&h.nip), "{url}");

    // logout: the session is revoked and the cache gone
    h.ok(&["auth", "logout"]);
    let out = h.run(&["session", "list"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}
