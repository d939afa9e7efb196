//! End-to-end: no secret (KSeF token, access or refresh token, any JWT, any bearer header) in any
//! log line of a full flow captured at TRACE level.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_common;

use e2e_common::*;
use ksef_flows::api::types::TokenPermissionType;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::{Credentials, InvoiceInput};
use ksef_sim::SimConfig;
use tracing_subscriber::Layer as _;

#[test]
fn no_secret_appears_in_any_log_line() {
    let sim = Sim::start(SimConfig::default());
    let capture = Capture::default();
    // The only test of this binary: a global subscriber sees every thread (a scoped one can miss
    // events when other tests race on tracing's callsite cache). The simulator's own events are
    // left out: this test is about the client.
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::TRACE)
            .with_target("ksef_sim", tracing::level_filters::LevelFilter::OFF);
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(capture.clone())
                .with_ansi(false)
                .with_filter(filter),
        );
        tracing::subscriber::set_global_default(subscriber).unwrap();
    }
    let secrets = {
        client_rt().block_on(async {
            let ksef = ksef(&sim);
            let (nip, xades) = xades_auth(&ksef).await;
            let (_r, token) = xades
                .create_ksef_token(&[TokenPermissionType::InvoiceWrite], "log test")
                .await
                .unwrap();
            let token_text = token.expose().to_string();
            let auth = ksef
                .authenticate(&Credentials::ksef_token(
                    token,
                    ContextIdentifier::Nip(nip.clone()),
                ))
                .await
                .unwrap();
            let session = auth.open_online_session().await.unwrap();
            let inv = valid_invoices(&nip, "LOG", 2);
            let res = session
                .send_and_wait(&[
                    InvoiceInput::new(inv[0].clone()),
                    InvoiceInput::new(inv[1].clone()),
                ])
                .await
                .unwrap();
            assert!(res.iter().all(|r| r.outcome.ksef_number().is_some()));
            auth.refresh().await.unwrap();
            let summary = session.close_and_wait().await.unwrap();
            session.session_upo(&summary.upo_pages[0]).await.unwrap();
            let mut secrets = vec![token_text];
            for a in [&xades, &auth] {
                secrets.push(a.access_token().unwrap().expose().to_string());
                secrets.push(a.refresh_token().unwrap().expose().to_string());
            }
            auth.revoke().await.unwrap();
            secrets
        })
    };
    let logs = capture.text();
    // the capture really saw the flow, at every level
    assert!(logs.contains("ksef_call"), "{logs}");
    assert!(logs.contains("online session opened"));
    assert!(logs.contains("access token refreshed"));
    for s in &secrets {
        assert!(s.len() > 16);
        assert!(!logs.contains(s.as_str()), "a secret leaked into the logs");
    }
    // no JWT and no bearer header at all
    assert!(!logs.contains("eyJ"), "a JWT leaked into the logs");
    assert!(
        !logs.to_ascii_lowercase().contains("bearer "),
        "an Authorization header leaked"
    );
}
