//! End-to-end resilience: injected 429 storms, 5xx bursts and lost answers never lose or
//! duplicate an invoice; a sustained run at full speed against real (scaled-down) limits gets no
//! 429 because of the client-side rate limiter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::e2e_common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse as _;

use e2e_common::*;
use ksef_flows::api::types::{
    ApiRateLimitValuesOverride, ApiRateLimitsOverride, SetRateLimitsRequest,
};
use ksef_flows::api::{DecodeError as _, Environment};
use ksef_flows::{FlowError, InvoiceInput, InvoiceOutcome, Ksef, RateLimitMode, RetryPolicy};
use ksef_sim::{Fault, SimConfig};

const SEND: &str = "POST /sessions/online/{referenceNumber}/invoices";

#[test]
fn storms_and_bursts_lose_and_duplicate_nothing() {
    let sim = Sim::start(SimConfig::default().with_rate_limit_scale(100.0));
    let control = sim.control();
    client_rt().block_on(async {
        // short read timeout so that injected latency turns into lost answers
        let ksef = Ksef::builder(Environment::Custom(sim.base_url.clone()))
            .read_timeout(Duration::from_millis(400))
            .build()
            .unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        let mut session = auth.open_online_session().await.unwrap();
        session.set_concurrency(8);
        let bytes = valid_invoices(&nip, "STORM", 40);
        let inputs: Vec<InvoiceInput> = bytes.iter().cloned().map(InvoiceInput::new).collect();

        // phase A: answers lost (the client gives up waiting) -> reconciliation
        control.inject(
            SEND,
            Fault::Latency {
                delay_ms: 1000,
                count: Some(3),
            },
        );
        let a = session.send_all(&inputs[..10]).await;
        // phase B: 503 bursts and a 429 storm on sends, 5xx on status reads
        control.inject(
            SEND,
            Fault::ServerError {
                status: 503,
                count: 4,
            },
        );
        control.inject(
            SEND,
            Fault::RateLimitStorm {
                count: 8,
                retry_after: 1,
            },
        );
        control.inject(
            "GET /sessions/{referenceNumber}/invoices",
            Fault::ServerError {
                status: 502,
                count: 2,
            },
        );
        control.inject(
            "GET /sessions/{referenceNumber}",
            Fault::ServerError {
                status: 504,
                count: 2,
            },
        );
        let b = session.send_all(&inputs[10..]).await;

        let sent: Vec<_> = a.into_iter().chain(b).map(|r| r.unwrap()).collect();
        assert_eq!(sent.len(), 40);
        let outcomes = session.wait_for(&sent).await.unwrap();
        let mut numbers = HashSet::new();
        for (i, o) in outcomes.iter().enumerate() {
            let n = o.ksef_number().unwrap_or_else(|| panic!("#{i}: {o:?}"));
            assert!(numbers.insert(n.to_string()));
            assert_eq!(
                sent[i].invoice_hash,
                ksef_flows::crypto::b64::sha256_b64(&bytes[i])
            );
        }
        assert!(
            ksef.rate_limited_responses() >= 4,
            "{}",
            ksef.rate_limited_responses()
        );
        assert!(
            ksef.transient_retries() >= 2,
            "{}",
            ksef.transient_retries()
        );

        // the server's view: each input exactly once
        let listed = session.list_invoices().await.unwrap();
        let mut per_hash: HashMap<String, usize> = HashMap::new();
        for inv in &listed {
            *per_hash.entry(inv.invoice_hash.0.clone()).or_default() += 1;
        }
        assert_eq!(listed.len(), 40, "server holds {} invoices", listed.len());
        for b in &bytes {
            assert_eq!(
                per_hash.get(&ksef_flows::crypto::b64::sha256_b64(b)),
                Some(&1)
            );
        }
        let summary = session.close_and_wait().await.unwrap();
        assert_eq!(summary.successful_invoice_count, Some(40));
    });
}

fn limits(per_second: i32, per_minute: i32, per_hour: i32) -> ApiRateLimitValuesOverride {
    ApiRateLimitValuesOverride {
        per_second,
        per_minute,
        per_hour,
    }
}

#[test]
fn sustained_full_speed_run_gets_no_429() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        // any 429 fails the call: the run must not meet one
        let mut policy = RetryPolicy::default();
        policy.max_rate_limited = 0;
        let ksef = Ksef::builder(Environment::Custom(sim.base_url.clone()))
            .retry_policy(policy)
            .build()
            .unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        // small effective limits for this context (TEST's /testdata/rate-limits)
        let tight = || limits(4, 1000, 10000);
        let req = SetRateLimitsRequest {
            rate_limits: ApiRateLimitsOverride {
                batch_session: limits(10, 20, 60),
                collective_identifier: limits(10, 60, 120),
                invoice_download: limits(8, 16, 64),
                invoice_export: limits(8, 16, 20),
                invoice_export_status: limits(10, 60, 600),
                invoice_metadata: limits(8, 16, 20),
                invoice_send: tight(),
                invoice_status: tight(),
                online_session: limits(10, 30, 120),
                other: limits(10, 30, 120),
                session_invoice_list: tight(),
                session_list: limits(5, 10, 60),
                session_misc: tight(),
            },
        };
        auth.api()
            .post_testdata_rate_limits()
            .body(req)
            .send()
            .await
            .decode_error()
            .await
            .unwrap();
        let effective = auth.load_effective_rate_limits().await.unwrap();
        assert_eq!(effective["invoiceSend"].per_second, 4);

        let mut session = auth.open_online_session().await.unwrap();
        session.set_concurrency(32);
        let bytes = valid_invoices(&nip, "RATE", 24);
        let inputs: Vec<InvoiceInput> = bytes.iter().cloned().map(InvoiceInput::new).collect();
        let results = session.send_and_wait(&inputs).await.unwrap();
        for r in &results {
            assert!(
                r.outcome.ksef_number().is_some(),
                "#{}: {:?}",
                r.index,
                r.outcome
            );
        }
        let summary = session.close_and_wait().await.unwrap();
        assert_eq!(summary.successful_invoice_count, Some(24));
        assert_eq!(ksef.rate_limited_responses(), 0);

        // control: the same run without the client-side limiter does meet 429s
        let unlimited = Ksef::builder(Environment::Custom(sim.base_url.clone()))
            .rate_limit_mode(RateLimitMode::Off)
            .build()
            .unwrap();
        let (nip2, auth2) = xades_auth(&unlimited).await;
        auth2
            .api()
            .post_testdata_rate_limits()
            .body(SetRateLimitsRequest {
                rate_limits: ApiRateLimitsOverride {
                    invoice_send: tight(),
                    ..auth_limits_default()
                },
            })
            .send()
            .await
            .decode_error()
            .await
            .unwrap();
        let mut s2 = auth2.open_online_session().await.unwrap();
        s2.set_concurrency(32);
        let inputs2: Vec<InvoiceInput> = valid_invoices(&nip2, "RATE", 8)
            .into_iter()
            .map(InvoiceInput::new)
            .collect();
        // 8 at once against 4/s: some must be refused (they are then retried after Retry-After)
        let _ = s2.send_all(&inputs2).await;
        assert!(unlimited.rate_limited_responses() > 0);
    });
}

fn auth_limits_default() -> ApiRateLimitsOverride {
    ApiRateLimitsOverride {
        batch_session: limits(10, 20, 60),
        collective_identifier: limits(10, 60, 120),
        invoice_download: limits(8, 16, 64),
        invoice_export: limits(8, 16, 20),
        invoice_export_status: limits(10, 60, 600),
        invoice_metadata: limits(8, 16, 20),
        invoice_send: limits(10, 30, 180),
        invoice_status: limits(30, 120, 1200),
        online_session: limits(10, 30, 120),
        other: limits(10, 30, 120),
        session_invoice_list: limits(10, 20, 200),
        session_list: limits(5, 10, 60),
        session_misc: limits(10, 120, 1200),
    }
}

/// A gateway in front of the simulator that forwards every request but answers the first `lose`
/// invoice sends with 504 *after* the simulator has registered them: the answer is lost, the
/// invoice is not.
async fn lossy_gateway(sim_base: String, lose: u32) -> (String, Arc<AtomicU32>) {
    #[derive(Clone)]
    struct Gw {
        http: reqwest::Client,
        origin: String,
        lose: u32,
        lost: Arc<AtomicU32>,
    }
    async fn forward(
        State(gw): State<Gw>,
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        let url = format!("{}{}", gw.origin, uri);
        let mut req = gw.http.request(method.clone(), url).body(body);
        for (k, v) in &headers {
            if k != axum::http::header::HOST {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let rh = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let is_send = method == axum::http::Method::POST
            && uri.path().starts_with("/v2/sessions/online/")
            && uri.path().ends_with("/invoices");
        if is_send && status.as_u16() == 202 && gw.lost.fetch_add(1, Ordering::SeqCst) < gw.lose {
            return (
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                "upstream timed out",
            )
                .into_response();
        }
        let mut out = axum::response::Response::new(axum::body::Body::from(bytes));
        *out.status_mut() = status;
        for (k, v) in &rh {
            if k != axum::http::header::TRANSFER_ENCODING
                && k != axum::http::header::CONTENT_LENGTH
                && k != axum::http::header::CONNECTION
            {
                out.headers_mut().append(k, v.clone());
            }
        }
        out
    }
    let origin = sim_base.trim_end_matches("/v2").to_string();
    let lost = Arc::new(AtomicU32::new(0));
    let gw = Gw {
        http: reqwest::Client::new(),
        origin,
        lose,
        lost: lost.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(gw);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v2"), lost)
}

#[test]
fn answers_lost_after_registration_are_reconciled_not_resent() {
    let sim = Sim::start(SimConfig::default().with_rate_limit_scale(100.0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        ksef_flows::install_crypto_provider();
        let (gateway, lost) = lossy_gateway(sim.base_url.clone(), 3).await;
        let ksef = Ksef::builder(Environment::Custom(gateway)).build().unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let bytes = valid_invoices(&nip, "LOST", 10);
        let inputs: Vec<InvoiceInput> = bytes.iter().cloned().map(InvoiceInput::new).collect();
        let sent: Vec<_> = session
            .send_all(&inputs)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(lost.load(Ordering::SeqCst) >= 3);
        // the three lost answers were found in the session's invoice list, not sent again
        assert_eq!(sent.iter().filter(|s| s.reconciled).count(), 3);
        let outcomes = session.wait_for(&sent).await.unwrap();
        assert!(outcomes.iter().all(|o| o.ksef_number().is_some()));
        let listed = session.list_invoices().await.unwrap();
        assert_eq!(listed.len(), 10);
        let hashes: HashSet<_> = listed.iter().map(|i| i.invoice_hash.0.clone()).collect();
        for (i, b) in bytes.iter().enumerate() {
            let h = ksef_flows::crypto::b64::sha256_b64(b);
            assert!(hashes.contains(&h));
            assert_eq!(sent[i].invoice_hash, h);
        }
    });
}

#[test]
fn a_session_under_maintenance_is_tried_again_then_left_for_a_new_one() {
    let sim = Sim::start(SimConfig::default().with_rate_limits(false));
    let control = sim.control();
    client_rt().block_on(async {
        let mut policy = RetryPolicy::default();
        policy.session_unavailable_retries = 1;
        policy.session_unavailable_delay = Duration::from_millis(20);
        let ksef = Ksef::builder(Environment::Custom(sim.base_url.clone()))
            .retry_policy(policy)
            .build()
            .unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        let inputs: Vec<InvoiceInput> = valid_invoices(&nip, "MAINT", 5)
            .into_iter()
            .map(InvoiceInput::new)
            .collect();
        let mut session = auth.open_online_session().await.unwrap();
        session.set_concurrency(1);

        // one 21184: the send is tried again later in the same session and goes through
        control.inject(SEND, Fault::SessionUnavailable { count: 1 });
        let first = session.send_and_wait(&inputs[..1]).await.unwrap();
        assert!(first[0].outcome.ksef_number().is_some(), "{first:?}");

        // the session stays unavailable: the invoice fails after its retry, the rest are held back
        control.inject(SEND, Fault::SessionUnavailable { count: 2 });
        let rest = session.send_and_wait(&inputs[1..]).await.unwrap();
        assert_eq!(rest.len(), 4);
        for r in &rest {
            assert!(r.needs_new_session(), "#{}: {:?}", r.index, r.outcome);
            let InvoiceOutcome::NotSent(FlowError::SessionUnavailable {
                index,
                session: s,
                source,
            }) = &r.outcome
            else {
                panic!("#{}: {:?}", r.index, r.outcome)
            };
            assert_eq!(*index, r.index);
            assert_eq!(s, session.reference_number());
            // only the first one got KSeF's answer; the others were never sent
            assert_eq!(source.is_some(), r.index == 0, "#{}", r.index);
        }
        assert!(rest[0].outcome.reference_number().is_none());
        // nothing of them reached the first session
        assert_eq!(session.list_invoices().await.unwrap().len(), 1);

        // KSeF's advice: a new session for the invoices not sent
        let again: Vec<InvoiceInput> = rest
            .iter()
            .filter(|r| r.needs_new_session())
            .map(|r| inputs[1 + r.index].clone())
            .collect();
        let second = auth.open_online_session().await.unwrap();
        let results = second.send_and_wait(&again).await.unwrap();
        for r in &results {
            assert!(
                r.outcome.ksef_number().is_some(),
                "#{}: {:?}",
                r.index,
                r.outcome
            );
        }
        assert_eq!(
            session
                .close_and_wait()
                .await
                .unwrap()
                .successful_invoice_count,
            Some(1)
        );
        assert_eq!(
            second
                .close_and_wait()
                .await
                .unwrap()
                .successful_invoice_count,
            Some(4)
        );
    });
}
