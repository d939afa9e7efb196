//! Retrieval over real HTTP: metadata query (subject types, date types, sort,
//! paging, truncation, HWM), exports (Zip/TarGz, parts, hashes, decrypt and
//! unpack in the test, onlyMetadata, truncation, concurrency limit 21182).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use harness::*;
use ksef_sim::{Fault, InvoicingConfig};
use serde_json::{Value, json};

/// Sends `n` invoices in one online session; returns KSeF number → bytes.
async fn seed(env: &Env, n: usize) -> HashMap<String, Vec<u8>> {
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let mut refs = Vec::new();
    for _ in 0..n {
        let yesterday = env.clock.today().pred_opt().unwrap();
        let inv = invoice_fa3_on(&env.nip, &unique_number(), yesterday);
        let r = env.send(&session, &k, &inv).await;
        refs.push((r, inv));
    }
    let mut out = HashMap::new();
    for (r, inv) in refs {
        let st = env.wait_invoice(&session, &r).await;
        assert_eq!(st["status"]["code"], 200);
        out.insert(st["ksefNumber"].as_str().unwrap().to_string(), inv);
    }
    env.close_online(&session).await;
    out
}

/// A range from the start of the business day before yesterday (Europe/Warsaw) on the
/// simulator's clock: it holds every invoice seeded today and issued yesterday, at any instant
/// (DST days are 23 or 25 hours long, so "now minus 48 hours" would not do).
fn range(env: &Env, date_type: &str) -> Value {
    let day = env.clock.today() - chrono::Days::new(2);
    let from = ksef_time::format_warsaw_millis(ksef_time::start_of_business_day(day));
    json!({ "dateType": date_type, "from": from })
}

async fn query(env: &Env, params: &str, filters: &Value) -> Value {
    let r = env
        .post(&format!("/invoices/query/metadata?{params}"), filters)
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{params} {filters} -> {v}");
    v
}

fn ksefs(v: &Value) -> Vec<String> {
    v["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn metadata_query_paging_sorting_truncation_and_hwm() {
    metadata_scenario(ksef_time::system_clock()).await;
}

/// The same scenario with the simulator's clock at each instant where the UTC and Warsaw
/// dates differ or the offset changes (late evening in winter and summer, both DST switch
/// nights, New Year's Eve, the leap day).
#[tokio::test]
async fn metadata_query_at_hard_instants() {
    for instant in ksef_time::hard_instants() {
        let clock = std::sync::Arc::new(ksef_time::ShiftedClock::starting_at(instant));
        metadata_scenario(clock).await;
    }
}

async fn metadata_scenario(clock: ksef_time::SharedClock) {
    let cfg = default_config().with_clock(clock).with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(20))
            .with_session_close_delay(Duration::from_millis(20))
            .with_query_truncation_cap(11),
    );
    let env = start(cfg).await;
    let sent = seed(&env, 13).await;

    let filters =
        json!({ "subjectType": "Subject1", "dateRange": range(&env, "PermanentStorage") });
    let p0 = query(&env, "pageSize=10&pageOffset=0", &filters).await;
    assert_eq!(p0["invoices"].as_array().unwrap().len(), 10);
    assert_eq!(p0["hasMore"], true);
    assert_eq!(p0["isTruncated"], true); // 13 records, cap 11
    assert!(p0["permanentStorageHwmDate"].is_string());
    let p1 = query(&env, "pageSize=10&pageOffset=1", &filters).await;
    assert_eq!(p1["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(p1["hasMore"], false);
    let mut seen = ksefs(&p0);
    seen.extend(ksefs(&p1));
    assert!(seen.iter().all(|k| sent.contains_key(k)));
    // Ascending by permanentStorageDate.
    let dates: Vec<String> = p0["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["permanentStorageDate"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    // Metadata content.
    let first = &p0["invoices"][0];
    let k = first["ksefNumber"].as_str().unwrap();
    assert_eq!(first["invoiceHash"], sha_b64(&sent[k]));
    assert_eq!(first["seller"]["nip"], env.nip.as_str());
    assert_eq!(first["buyer"]["identifier"]["type"], "Nip");
    assert_eq!(first["buyer"]["identifier"]["value"], TEMPLATE_BUYER_NIP);
    assert_eq!(first["formCode"]["systemCode"], "FA (3)");
    assert_eq!(first["invoiceType"], "Vat");
    assert_eq!(first["currency"], "PLN");
    assert_eq!(first["grossAmount"], 13102.43);

    // KSeF numbers carry the Warsaw date of their invoicing date.
    for i in p0["invoices"].as_array().unwrap() {
        let k = i["ksefNumber"].as_str().unwrap();
        let invoicing =
            ksef_time::parse_api_datetime(i["invoicingDate"].as_str().unwrap()).unwrap();
        let expected = ksef_time::business_date(invoicing)
            .format("%Y%m%d")
            .to_string();
        assert_eq!(&k[11..19], expected, "{k} invoiced {invoicing}");
    }

    // Desc order reverses.
    let d0 = query(&env, "pageSize=10&sortOrder=Desc", &filters).await;
    let all_asc: Vec<String> = {
        let big = query(&env, "pageSize=250", &filters).await;
        ksefs(&big)
    };
    assert_eq!(all_asc.len(), 11); // capped
    let desc = ksefs(&d0);
    let mut expected_desc: Vec<String> = {
        // The full set sorted descending, capped: take from the reversed full list.
        let cfg_all = query(&env, "pageSize=250&sortOrder=Desc", &filters).await;
        ksefs(&cfg_all)
    };
    expected_desc.truncate(10);
    assert_eq!(desc, expected_desc);
    assert_ne!(desc[0], all_asc[0]);

    // Other date types and a filter.
    for dt in ["Issue", "Invoicing"] {
        let v = query(
            &env,
            "pageSize=250",
            &json!({ "subjectType": "Subject1", "dateRange": range(&env, dt) }),
        )
        .await;
        assert_eq!(v["invoices"].as_array().unwrap().len(), 11, "{dt}");
        assert!(v.get("permanentStorageHwmDate").is_none());
    }
    let one = query(
        &env,
        "pageSize=10",
        &json!({ "subjectType": "Subject1", "dateRange": range(&env, "Invoicing"), "ksefNumber": k }),
    )
    .await;
    assert_eq!(ksefs(&one), vec![k.to_string()]);
    // A window in the future finds nothing.
    let future = ksef_time::format_warsaw_millis(env.clock.now() + chrono::Duration::days(1));
    let none = query(&env, "pageSize=10", &json!({ "subjectType": "Subject1", "dateRange": { "dateType": "Invoicing", "from": future } })).await;
    assert!(none["invoices"].as_array().unwrap().is_empty());
    assert_eq!(none["hasMore"], false);
    assert_eq!(none["isTruncated"], false);

    // restrictToPermanentStorageHwmDate with from after the HWM → 21183.
    let r = env
        .post(
            "/invoices/query/metadata",
            &json!({ "subjectType": "Subject1", "dateRange": { "dateType": "PermanentStorage", "from": future, "restrictToPermanentStorageHwmDate": true } }),
        )
        .await;
    assert_eq!(exception_code(r).await, 21183);
    // pageSize out of range, range too long → 21405.
    let r = env
        .post("/invoices/query/metadata?pageSize=5", &filters)
        .await;
    assert_eq!(exception_code(r).await, 21405);
    let long = json!({ "subjectType": "Subject1", "dateRange": { "dateType": "Issue", "from": "2025-01-01T00:00:00", "to": "2025-06-01T00:00:00" } });
    assert_eq!(
        exception_code(env.post("/invoices/query/metadata", &long).await).await,
        21405
    );
    // 2.9.0: at most 100 days, counted in UTC (across the March DST switch in Warsaw too).
    let window = |to: &str| json!({ "subjectType": "Subject1", "dateRange": { "dateType": "Invoicing", "from": "2026-02-01T00:00:00Z", "to": to } });
    let r = env
        .post("/invoices/query/metadata", &window("2026-05-12T00:00:00Z"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        exception_code(
            env.post("/invoices/query/metadata", &window("2026-05-12T00:00:01Z"))
                .await
        )
        .await,
        21405
    );

    // Subject2: the buyer's context sees the invoices, the seller's does not as buyer.
    let buyer_token = env.control().issue_test_access_token(TEMPLATE_BUYER_NIP);
    let r = env
        .http
        .post(env.url("/invoices/query/metadata?pageSize=250"))
        .bearer_auth(buyer_token)
        .json(&json!({ "subjectType": "Subject2", "dateRange": range(&env, "Invoicing") }))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(ksefs(&v).iter().filter(|k| sent.contains_key(*k)).count() >= 11);
    let v = query(
        &env,
        "pageSize=250",
        &json!({ "subjectType": "Subject2", "dateRange": range(&env, "Invoicing") }),
    )
    .await;
    assert!(v["invoices"].as_array().unwrap().is_empty());

    // Download by KSeF number: unknown → 21164.
    let unknown = format!("{}-20250101-000000000000-00", env.nip);
    let r = env.get_as_owner(&format!("/invoices/ksef/{unknown}")).await;
    assert!(matches!(exception_code(r).await, 21164 | 21405));
}

/// Downloads, verifies and decrypts every part, returns the concatenated archive.
async fn fetch_package(env: &Env, k: &Keys, package: &Value) -> Vec<u8> {
    let mut archive = Vec::new();
    let mut parts = package["parts"].as_array().unwrap().clone();
    parts.sort_by_key(|p| p["ordinalNumber"].as_i64().unwrap());
    for p in &parts {
        assert_eq!(p["method"], "GET");
        // Presigned: no token.
        let r = env
            .http
            .get(p["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let enc = r.bytes().await.unwrap();
        assert_eq!(enc.len() as i64, p["encryptedPartSize"].as_i64().unwrap());
        assert_eq!(sha_b64(&enc), p["encryptedPartHash"].as_str().unwrap());
        let plain = aes_decrypt(&k.key, &k.iv, &enc);
        assert_eq!(plain.len() as i64, p["partSize"].as_i64().unwrap());
        assert_eq!(sha_b64(&plain), p["partHash"].as_str().unwrap());
        archive.extend_from_slice(&plain);
    }
    assert_eq!(archive.len() as i64, package["size"].as_i64().unwrap());
    archive
}

fn unzip(archive: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut out = HashMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.insert(f.name().unwrap().to_string(), buf);
    }
    out
}

fn untar(archive: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut out = HashMap::new();
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.insert(name, buf);
    }
    out
}

async fn start_export(env: &Env, k: &Keys, extra: Value) -> reqwest::Response {
    let mut body = json!({
        "encryption": env.encryption(k),
        "filters": { "subjectType": "Subject1", "dateRange": { "dateType": "PermanentStorage", "from": ksef_time::format_warsaw_millis(env.clock.now() - chrono::Duration::days(1)), "restrictToPermanentStorageHwmDate": true } },
    });
    for (key, v) in extra.as_object().unwrap() {
        body[key] = v.clone();
    }
    env.post("/invoices/exports", &body).await
}

#[tokio::test]
async fn export_zip_in_parts_decrypts_and_unpacks() {
    let cfg = default_config().with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(20))
            .with_session_close_delay(Duration::from_millis(20))
            .with_export_part_size(4096),
    );
    let env = start(cfg).await;
    let sent = seed(&env, 6).await;
    let k = Keys::random();
    let r = start_export(&env, &k, json!({})).await;
    assert_eq!(r.status(), 201);
    let reference = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(&reference[8..12], "-EH-");
    let st = env.wait_export(&reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let package = &st["package"];
    assert_eq!(package["invoiceCount"], 6);
    assert_eq!(package["isTruncated"], false);
    assert!(package["permanentStorageHwmDate"].is_string());
    assert!(
        package["parts"].as_array().unwrap().len() > 1,
        "expected several 4 KiB parts"
    );
    let archive = fetch_package(&env, &k, package).await;
    let files = unzip(&archive);
    assert_eq!(files.len(), 7);
    for (ksef, bytes) in &sent {
        assert_eq!(&files[&format!("{ksef}.xml")], bytes);
    }
    let meta: Value = serde_json::from_slice(&files["_metadata.json"]).unwrap();
    let listed: Vec<&str> = meta["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().all(|k| sent.contains_key(*k)));

    // A download dropped mid-body fails; the same presigned URL works again.
    env.control().inject(
        ksef_sim::PresignedRoute::ExportPart,
        Fault::DropConnection {
            after_bytes: 1000,
            count: 1,
        },
    );
    let url = package["parts"][0]["url"].as_str().unwrap();
    let broken = match env.http.get(url).send().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(broken, "the dropped download must fail");
    let again = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        sha_b64(&again),
        package["parts"][0]["encryptedPartHash"].as_str().unwrap()
    );
}

#[tokio::test]
async fn export_targz_only_metadata_truncation_and_limits() {
    let cfg = default_config().with_invoicing(
        InvoicingConfig::default()
            .with_processing_delay(Duration::from_millis(20))
            .with_session_close_delay(Duration::from_millis(20))
            .with_export_max_invoices(4)
            .with_max_concurrent_exports(1),
    );
    let env = start(cfg).await;
    let sent = seed(&env, 6).await;
    let k = Keys::random();

    // TarGz, only metadata, truncated at 4 invoices.
    let r = start_export(
        &env,
        &k,
        json!({ "onlyMetadata": true, "compressionType": "TarGz" }),
    )
    .await;
    let reference = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let st = env.wait_export(&reference).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let package = &st["package"];
    assert_eq!(package["invoiceCount"], 4);
    assert_eq!(package["isTruncated"], true);
    let last = package["lastPermanentStorageDate"].as_str().unwrap();
    let files = untar(&fetch_package(&env, &k, package).await);
    assert_eq!(files.len(), 1, "only _metadata.json");
    let meta: Value = serde_json::from_slice(&files["_metadata.json"]).unwrap();
    let invs = meta["invoices"].as_array().unwrap();
    assert_eq!(invs.len(), 4);
    assert_eq!(invs[3]["permanentStorageDate"].as_str().unwrap(), last);
    assert!(
        invs.iter()
            .all(|i| sent.contains_key(i["ksefNumber"].as_str().unwrap()))
    );

    // Concurrency limit (1 here, 10 by default): a stuck export blocks a second one → 21182.
    env.control().inject(
        ksef_sim::ops::INVOICE_EXPORT_START,
        Fault::StuckProcessing {
            duration_ms: 2000,
            count: 1,
        },
    );
    let r = start_export(&env, &k, json!({})).await;
    assert_eq!(r.status(), 201);
    let stuck = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        exception_code(start_export(&env, &k, json!({})).await).await,
        21182
    );
    assert_eq!(env.wait_export(&stuck).await["status"]["code"], 200);
    let r = start_export(&env, &k, json!({})).await;
    assert_eq!(r.status(), 201);
    let third = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.wait_export(&third).await["status"]["code"], 200);

    // A key that does not unwrap → 415; an async failure → 550.
    let mut body = json!({
        "encryption": env.encryption_of(&[0u8; 8], &k.iv),
        "filters": { "subjectType": "Subject1", "dateRange": range(&env, "Invoicing") },
    });
    let r = env.post("/invoices/exports", &body).await;
    let bad = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.wait_export(&bad).await["status"]["code"], 415);
    env.control().inject(
        ksef_sim::ops::INVOICE_EXPORT_START,
        Fault::AsyncFailure { count: 1 },
    );
    body["encryption"] = env.encryption(&k);
    let r = env.post("/invoices/exports", &body).await;
    let failed = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.wait_export(&failed).await["status"]["code"], 550);
}

#[tokio::test]
async fn third_subject_sees_the_invoice_as_subject3() {
    let env = start(default_config()).await;
    let third = random_nip();
    let inv = String::from_utf8(invoice_fa3(&env.nip, &unique_number()))
        .unwrap()
        .replace(
            "<Fa>",
            &format!("<Podmiot3><DaneIdentyfikacyjne><NIP>{third}</NIP><Nazwa>Faktor</Nazwa></DaneIdentyfikacyjne><Rola>1</Rola></Podmiot3><Fa>"),
        )
        .into_bytes();
    let k = Keys::random();
    let session = env.open_online(&k).await;
    let r = env.send(&session, &k, &inv).await;
    let ksef = env.wait_invoice(&session, &r).await["ksefNumber"]
        .as_str()
        .unwrap()
        .to_string();

    let token = env.control().issue_test_access_token(&third);
    let ask = |subject: &'static str| {
        let (http, url, token, range) = (
            env.http.clone(),
            env.url("/invoices/query/metadata"),
            token.clone(),
            range(&env, "Invoicing"),
        );
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "subjectType": subject, "dateRange": range }))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let v = ask("Subject3").await;
    assert_eq!(ksefs(&v), vec![ksef.clone()]);
    let ts = &v["invoices"][0]["thirdSubjects"][0];
    assert_eq!(ts["identifier"]["type"], "Nip");
    assert_eq!(ts["identifier"]["value"], third.as_str());
    assert_eq!(ts["role"], 1);
    assert!(ksefs(&ask("Subject1").await).is_empty());
    let r = env
        .http
        .get(env.url(&format!("/invoices/ksef/{ksef}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), inv.as_slice());
    // An unrelated context cannot download it.
    let stranger = env.control().issue_test_access_token(&random_nip());
    let r = env
        .http
        .get(env.url(&format!("/invoices/ksef/{ksef}")))
        .bearer_auth(stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(exception_code(r).await, 21164);
}

#[tokio::test]
async fn export_package_expires_with_210() {
    let cfg = default_config();
    let invoicing = cfg
        .invoicing
        .clone()
        .with_export_package_validity(Duration::from_millis(300));
    let env = start(cfg.with_invoicing(invoicing)).await;
    seed(&env, 1).await;
    let k = Keys::random();
    let r = start_export(&env, &k, json!({})).await;
    let reference = r.json::<Value>().await.unwrap()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    // Poll until the package has expired; it must have been 200 with a package before.
    let mut saw_package = None;
    let mut last = Value::Null;
    for _ in 0..400 {
        last = env
            .get_json(&format!("/invoices/exports/{reference}"))
            .await;
        match last["status"]["code"].as_i64().unwrap() {
            200 => {
                saw_package = Some(
                    last["package"]["parts"][0]["url"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            }
            210 => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(last["status"]["code"], 210, "{last}");
    assert!(last.get("package").is_none());
    harness::spec::assert_response("GET", "/invoices/exports/{referenceNumber}", 200, &last);
    // Parts are gone too (when the 200 state was observed at all on this machine).
    if let Some(url) = saw_package {
        assert_eq!(env.http.get(url).send().await.unwrap().status(), 404);
    }
}
