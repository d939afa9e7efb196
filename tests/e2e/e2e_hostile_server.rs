//! The client against a broken or malicious server: a gateway on 127.0.0.1 forwards to the
//! simulator but answers chosen requests with hostile bodies (endless, announced as huge,
//! trickled byte by byte, paging for ever, rate limits of 0). Every such answer ends in a
//! typed error or is ignored, within a bound; none makes the client hang or grow without limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use e2e_common::*;
use ksef_flows::api::{Environment, KsefError};
use ksef_flows::{FlowError, InvoiceInput, Ksef, RateLimitMode, RetryPolicy};
use ksef_sim::SimConfig;

/// What the gateway does instead of forwarding the answer unchanged.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// 200 with a body that never ends.
    Endless,
    /// 200 announcing `Content-Length` of this many bytes, with a short body.
    Announce(u64),
    /// 200 with one byte every 50 ms, for ever.
    Trickle,
    /// The simulator's answer with `continuationToken` set: a new token each time when `true`,
    /// always the same when `false`.
    Continuation { fresh: bool },
    /// The simulator's answer with every number in it set to 0.
    Zeroes,
}

type Rule = Arc<dyn Fn(&Method, &str) -> Option<Hostile> + Send + Sync>;

#[derive(Clone)]
struct Gateway {
    http: reqwest::Client,
    origin: String,
    rule: Rule,
    hits: Arc<AtomicU32>,
    /// Body pieces the hostile answers (endless, announced, trickled) have served so far.
    pieces: Arc<AtomicU32>,
}

/// A body that never ends: `piece` again and again (after `pause` each time), each one counted
/// in `served` as it is handed to the connection.
fn endless(
    piece: &'static [u8],
    pause: Option<Duration>,
    served: Arc<AtomicU32>,
) -> axum::body::Body {
    let stream = futures::stream::unfold(served, move |served| async move {
        if let Some(p) = pause {
            tokio::time::sleep(p).await;
        }
        served.fetch_add(1, Ordering::SeqCst);
        Some((
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(piece)),
            served,
        ))
    });
    axum::body::Body::from_stream(stream)
}

fn zero_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => *n = 0.into(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(zero_numbers),
        serde_json::Value::Object(o) => o.values_mut().for_each(zero_numbers),
        _ => {}
    }
}

async fn forward(
    State(gw): State<Gateway>,
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let hostile = (gw.rule)(&method, uri.path());
    match hostile {
        Some(Hostile::Endless) => {
            gw.hits.fetch_add(1, Ordering::SeqCst);
            static KB: [u8; 1024] = [b'A'; 1024];
            return Response::new(endless(&KB, None, gw.pieces.clone()));
        }
        Some(Hostile::Announce(n)) => {
            gw.hits.fetch_add(1, Ordering::SeqCst);
            let mut r = Response::new(endless(
                b"<Potwierdzenie>",
                Some(Duration::from_secs(1)),
                gw.pieces.clone(),
            ));
            r.headers_mut()
                .insert(axum::http::header::CONTENT_LENGTH, n.into());
            return r;
        }
        Some(Hostile::Trickle) => {
            gw.hits.fetch_add(1, Ordering::SeqCst);
            let mut r = Response::new(endless(
                b" ",
                Some(Duration::from_millis(50)),
                gw.pieces.clone(),
            ));
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            return r;
        }
        _ => {}
    }
    let url = format!("{}{}", gw.origin, uri);
    let mut req = gw.http.request(method, url).body(body);
    let paging = matches!(hostile, Some(Hostile::Continuation { .. }));
    for (k, v) in &headers {
        // the simulator serves the first page again: it never issued the gateway's tokens
        if k != axum::http::header::HOST && !(paging && k == "x-continuation-token") {
            req = req.header(k, v);
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let rh = resp.headers().clone();
    let mut bytes = resp.bytes().await.unwrap();
    if status == StatusCode::OK
        && let Some(h @ (Hostile::Continuation { .. } | Hostile::Zeroes)) = hostile
    {
        let n = gw.hits.fetch_add(1, Ordering::SeqCst);
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        match h {
            Hostile::Continuation { fresh } => {
                let token = if fresh {
                    format!("token-{n}")
                } else {
                    "token".into()
                };
                v["continuationToken"] = token.into();
            }
            _ => zero_numbers(&mut v),
        }
        bytes = serde_json::to_vec(&v).unwrap().into();
    }
    let mut out = Response::new(axum::body::Body::from(bytes));
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

/// Starts the gateway in front of `sim_base`; its base URL and the count of hostile answers.
async fn gateway(
    sim_base: &str,
    rule: impl Fn(&Method, &str) -> Option<Hostile> + Send + Sync + 'static,
) -> (String, Arc<AtomicU32>) {
    let (base, hits, _) = gateway_counting_pieces(sim_base, rule).await;
    (base, hits)
}

/// [`gateway`], with the count of body pieces its hostile answers served as well.
async fn gateway_counting_pieces(
    sim_base: &str,
    rule: impl Fn(&Method, &str) -> Option<Hostile> + Send + Sync + 'static,
) -> (String, Arc<AtomicU32>, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let pieces = Arc::new(AtomicU32::new(0));
    let gw = Gateway {
        http: reqwest::Client::new(),
        origin: sim_base.trim_end_matches("/v2").to_string(),
        rule: Arc::new(rule),
        hits: hits.clone(),
        pieces: pieces.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(gw);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v2"), hits, pieces)
}

/// Runs `test` on a multi-thread client runtime beside a fresh simulator; a test that hangs
/// fails after two minutes instead of blocking CI.
fn run<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let sim = Sim::start(SimConfig::default().with_rate_limit_scale(100.0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        ksef_flows::install_crypto_provider();
        tokio::time::timeout(Duration::from_secs(120), test(sim.base_url.clone()))
            .await
            .expect("the client hung");
    });
}

fn is_upo(m: &Method, path: &str) -> bool {
    m == Method::GET && path.ends_with("/upo")
}

#[test]
fn an_endless_upo_is_cut_at_the_size_cap() {
    run(|sim| async move {
        let (base, hits) = gateway(&sim, |m, p| is_upo(m, p).then_some(Hostile::Endless)).await;
        let ksef = Ksef::builder(Environment::Custom(base))
            .call_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let (_, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let e = session
            .invoice_upo("20260101-EE-0000000000-0000000000-00")
            .await;
        match e {
            Err(FlowError::ResponseTooLarge { what, limit }) => {
                assert_eq!(what, "invoice UPO");
                assert_eq!(limit, ksef_flows::MAX_UPO_SIZE);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_upo_announced_as_huge_is_refused_before_reading() {
    run(|sim| async move {
        let (base, hits, pieces) = gateway_counting_pieces(&sim, |m, p| {
            is_upo(m, p).then_some(Hostile::Announce(50_000_000_000))
        })
        .await;
        let ksef = Ksef::builder(Environment::Custom(base)).build().unwrap();
        let (_, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let e = session
            .invoice_upo("20260101-EE-0000000000-0000000000-00")
            .await
            .unwrap_err();
        assert!(matches!(e, FlowError::ResponseTooLarge { .. }), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "one hostile answer");
        // refused on the header: the trickled body (a piece a second, never ending) was not
        // read. A client that waited on it would have been served a piece per second until
        // some timeout; one piece of slack covers a slow scheduler between the header and
        // the refusal.
        let served = pieces.load(Ordering::SeqCst);
        assert!(
            served <= 1,
            "the client waited on the body: {served} pieces served before it refused"
        );
    });
}

#[test]
fn a_listing_that_never_ends_is_given_up() {
    for fresh in [true, false] {
        run(|sim| async move {
            let (base, hits) = gateway(&sim, move |m, p| {
                (m == Method::GET && p.ends_with("/invoices"))
                    .then_some(Hostile::Continuation { fresh })
            })
            .await;
            let ksef = Ksef::builder(Environment::Custom(base))
                .rate_limit_mode(RateLimitMode::Off)
                .build()
                .unwrap();
            let (_, auth) = xades_auth(&ksef).await;
            let session = auth.open_online_session().await.unwrap();
            let e = session.list_invoices().await.unwrap_err();
            let FlowError::EndlessPaging {
                operation, pages, ..
            } = e
            else {
                panic!("{e:?}")
            };
            assert_eq!(operation, "session_invoices");
            // a session holds at most 10 000 invoices: 10 pages of 1000, and a little slack
            let expected = if fresh { 12 } else { 2 };
            assert_eq!(pages, expected, "fresh tokens: {fresh}");
            assert_eq!(hits.load(Ordering::SeqCst), expected);
        });
    }
}

/// The listings of sessions, KSeF tokens and authentication sessions, read whole as streams,
/// end at the first continuation token the server hands out again.
#[test]
fn every_listing_gives_up_a_repeated_continuation_token() {
    use futures::TryStreamExt as _;
    use ksef_flows::api::types::SessionType;
    use ksef_flows::{SessionFilter, TokenFilter};

    run(|sim| async move {
        let (base, hits) = gateway(&sim, |m, p| {
            (m == Method::GET && matches!(p, "/v2/sessions" | "/v2/tokens" | "/v2/auth/sessions"))
                .then_some(Hostile::Continuation { fresh: false })
        })
        .await;
        let ksef = Ksef::builder(Environment::Custom(base))
            .rate_limit_mode(RateLimitMode::Off)
            .build()
            .unwrap();
        let (_, auth) = xades_auth(&ksef).await;
        let listings = [
            (
                "sessions_list",
                auth.all_sessions(&SessionFilter::new(SessionType::Online))
                    .map_ok(|_| ())
                    .try_collect::<Vec<()>>()
                    .await,
            ),
            (
                "ksef_tokens_list",
                auth.all_ksef_tokens(&TokenFilter::new())
                    .map_ok(|_| ())
                    .try_collect()
                    .await,
            ),
            (
                "auth_sessions_list",
                auth.all_auth_sessions(None)
                    .map_ok(|_| ())
                    .try_collect()
                    .await,
            ),
        ];
        for (name, result) in listings {
            match result {
                Err(FlowError::EndlessPaging {
                    operation, pages, ..
                }) => {
                    assert_eq!(operation, name);
                    assert_eq!(pages, 2, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(hits.load(Ordering::SeqCst), 6);
    });
}

#[test]
fn rate_limits_of_zero_from_the_server_do_not_stop_the_client() {
    run(|sim| async move {
        let (base, hits) = gateway(&sim, |m, p| {
            (m == Method::GET && p == "/v2/rate-limits").then_some(Hostile::Zeroes)
        })
        .await;
        let ksef = Ksef::builder(Environment::Custom(base))
            .rate_limit_mode(RateLimitMode::Effective)
            .build()
            .unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        // the client read the limits (authentication does) and got zeroes everywhere
        let limits = auth.load_effective_rate_limits().await.unwrap();
        assert!(hits.load(Ordering::SeqCst) >= 1);
        assert!(limits.values().any(|l| l.per_second == 0), "{limits:?}");
        // yet the spec's limits stay in force, and sending works
        let l = ksef
            .rate_limiter()
            .limits_for(&format!("Nip:{nip}"), "online_session_send_invoice")
            .unwrap();
        assert!(l.per_second > 0);
        let session = auth.open_online_session().await.unwrap();
        let inputs: Vec<InvoiceInput> = valid_invoices(&nip, "ZERO", 2)
            .into_iter()
            .map(InvoiceInput::new)
            .collect();
        let results = session.send_and_wait(&inputs).await.unwrap();
        assert!(results.iter().all(|r| r.outcome.ksef_number().is_some()));
    });
}

#[test]
fn a_trickling_answer_fails_the_call_at_the_call_timeout() {
    run(|sim| async move {
        let mut policy = RetryPolicy::default();
        policy.max_attempts = 2;
        let (base, hits) = gateway(&sim, |m, p| {
            (m == Method::GET && p.starts_with("/v2/sessions/") && p.matches('/').count() == 3)
                .then_some(Hostile::Trickle)
        })
        .await;
        let ksef = Ksef::builder(Environment::Custom(base))
            // a byte every 50 ms never trips the read timeout
            .read_timeout(Duration::from_secs(30))
            .call_timeout(Duration::from_secs(1))
            .retry_policy(policy)
            .build()
            .unwrap();
        let (_, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let e = session.status().await.unwrap_err();
        let Some(KsefError::TimedOut { after }) = e.api_error() else {
            panic!("{e:?}")
        };
        assert_eq!(*after, Duration::from_secs(1));
        // a status read is safe to repeat: tried as often as the policy allows, then given up
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_flow_that_does_not_finish_ends_at_the_flow_deadline() {
    run(|sim| async move {
        let (base, _) = gateway(&sim, |m, p| {
            (m == Method::POST && p == "/v2/auth/challenge").then_some(Hostile::Trickle)
        })
        .await;
        let ksef = Ksef::builder(Environment::Custom(base))
            .call_timeout(Duration::from_secs(600))
            .flow_deadline(Duration::from_secs(2))
            .build()
            .unwrap();
        let (nip, id) = taxpayer();
        let e = ksef
            .authenticate(&ksef_flows::Credentials::xades(
                id,
                ksef_flows::crypto::xades::ContextIdentifier::Nip(nip),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(e, FlowError::Deadline { flow: "authentication", after } if after == Duration::from_secs(2)),
            "{e:?}"
        );
    });
}

#[test]
fn tokens_never_go_over_plain_http_to_another_host() {
    for url in ["http://10.11.12.13:8080/v2", "http://ksef.example.com/v2"] {
        let e = Ksef::builder(Environment::Custom(url.into()))
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, FlowError::Setup(m) if m.contains("not loopback")),
            "{url}: {e:?}"
        );
        // an explicit opt-in for a trusted network
        assert!(
            Ksef::builder(Environment::Custom(url.into()))
                .allow_plain_http(true)
                .build()
                .is_ok()
        );
    }
    assert!(
        Ksef::builder(Environment::Custom("http://127.0.0.1:1/v2".into()))
            .build()
            .is_ok()
    );
}
