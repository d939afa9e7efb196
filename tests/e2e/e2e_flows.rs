//! End-to-end: ksef-flows against ksef-sim over loopback HTTP — authentication, token refresh,
//! key rotation, an online session of 100 invoices, no secret in the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::e2e_common;

use std::collections::HashSet;
use std::time::Duration;

use e2e_common::*;
use ksef_flows::api::types::TokenPermissionType;
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::crypto::{CertificateUsage, KsefNumber, SecretString};
use ksef_flows::{AuthFailure, Credentials, FlowError, InvoiceInput, InvoiceOutcome};
use ksef_sim::{KeyUsage, SimConfig};

#[test]
fn xades_then_ksef_token_authentication_and_revoke() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, xades) = xades_auth(&ksef).await;
        assert!(xades.access_token().is_some() && xades.refresh_token().is_some());
        assert!(xades.access_token_expires() > chrono::Utc::now());

        let (_r, token) = xades
            .create_ksef_token(&[TokenPermissionType::InvoiceWrite], "e2e token")
            .await
            .unwrap();
        let ctx = ContextIdentifier::Nip(nip.clone());
        let by_token = ksef
            .authenticate(&Credentials::ksef_token(token, ctx.clone()))
            .await
            .unwrap();
        assert_ne!(by_token.reference_number(), xades.reference_number());
        // the token session can work: open a session
        let s = by_token.open_online_session().await.unwrap();
        assert_eq!(s.status().await.unwrap().status.code, 100);

        // revoke: the refresh token stops working
        by_token.revoke().await.unwrap();
        let refreshed = by_token.refresh().await;
        assert!(
            matches!(refreshed, Err(FlowError::RefreshToken { .. })),
            "{refreshed:?}"
        );

        // a wrong KSeF token: typed 450 with its detail
        let bad = ksef
            .authenticate(&Credentials::ksef_token(
                SecretString::new("not-a-real-token"),
                ctx,
            ))
            .await
            .unwrap_err();
        match bad {
            FlowError::AuthRejected {
                reason, details, ..
            } => {
                assert_eq!(reason, AuthFailure::InvalidToken);
                assert!(!details.is_empty());
            }
            other => panic!("expected AuthRejected, got {other:?}"),
        }
    });
}

#[test]
fn access_token_is_refreshed_before_it_expires() {
    let sim = Sim::start(SimConfig::default().with_access_token_lifetime(Duration::from_secs(4)));
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (_nip, auth) = xades_auth(&ksef).await;
        // refresh when less than 2 s remain (tolerates a loaded machine)
        auth.set_refresh_margin(Duration::from_secs(2));
        let session = auth.open_online_session().await.unwrap();
        let first_exp = auth.access_token_expires();
        // keep working for longer than two token lifetimes
        let until = tokio::time::Instant::now() + Duration::from_secs(9);
        let mut calls = 0;
        while tokio::time::Instant::now() < until {
            session.status().await.unwrap();
            calls += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(calls > 10);
        assert!(
            auth.proactive_refreshes() >= 2,
            "{}",
            auth.proactive_refreshes()
        );
        assert_eq!(
            auth.reactive_refreshes(),
            0,
            "no call should have met a 401"
        );
        assert!(auth.access_token_expires() > first_exp);
    });
}

#[test]
fn a_401_triggers_one_refresh_and_the_call_is_retried() {
    let sim = Sim::start(SimConfig::default().with_access_token_lifetime(Duration::from_secs(2)));
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (_nip, auth) = xades_auth(&ksef).await;
        auth.set_refresh_margin(Duration::ZERO); // no proactive refresh: let the token expire
        let session = auth.open_online_session().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2600)).await;
        assert!(auth.access_token_expires() < chrono::Utc::now());
        let st = session.status().await.unwrap();
        assert_eq!(st.status.code, 100);
        assert_eq!(auth.reactive_refreshes(), 1);
        assert!(auth.access_token_expires() > chrono::Utc::now());
    });
}

#[test]
fn withdrawn_keys_are_refetched_and_the_call_retried_once() {
    let sim = Sim::start(SimConfig::default());
    let control = sim.control();
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, xades) = xades_auth(&ksef).await;
        let (_r, token) = xades
            .create_ksef_token(&[TokenPermissionType::InvoiceWrite], "rotation")
            .await
            .unwrap();
        let s1 = xades.open_online_session().await.unwrap();
        let inv = valid_invoices(&nip, "ROT", 3);
        let r1 = s1
            .send_and_wait(&[InvoiceInput::new(inv[0].clone())])
            .await
            .unwrap();
        assert!(r1[0].outcome.ksef_number().is_some());

        // emergency rotation of both keys: the cached ids now answer 21470
        let mut old_ids = Vec::new();
        for usage in [
            CertificateUsage::SymmetricKeyEncryption,
            CertificateUsage::KsefTokenEncryption,
        ] {
            let old = ksef.public_key(usage.clone()).await.unwrap();
            let key_usage = match usage {
                CertificateUsage::SymmetricKeyEncryption => KeyUsage::SymmetricKeyEncryption,
                _ => KeyUsage::KsefTokenEncryption,
            };
            // RSA key generation blocks; the simulator runs on its own runtime
            let now = chrono::Utc::now();
            control
                .add_key(
                    key_usage,
                    now - chrono::Duration::minutes(1),
                    now + chrono::Duration::days(1),
                )
                .unwrap();
            assert!(control.withdraw_key(old.public_key_id()));
            old_ids.push(old.public_key_id().to_string());
        }

        // a new session: 21470, refetch, retry with the new key
        let s2 = xades.open_online_session().await.unwrap();
        let r2 = s2
            .send_and_wait(&[InvoiceInput::new(inv[1].clone())])
            .await
            .unwrap();
        assert!(r2[0].outcome.ksef_number().is_some(), "{:?}", r2[0].outcome);
        // the cache was refetched because of the 21470 (nothing else refreshes it)
        let now_sym = ksef
            .public_key(CertificateUsage::SymmetricKeyEncryption)
            .await
            .unwrap();
        assert_ne!(now_sym.public_key_id(), old_ids[0]);
        // KSeF-token authentication after the rotation
        let auth = ksef
            .authenticate(&Credentials::ksef_token(token, ContextIdentifier::Nip(nip)))
            .await
            .unwrap();
        let s3 = auth.open_online_session().await.unwrap();
        let r3 = s3
            .send_and_wait(&[InvoiceInput::new(inv[2].clone())])
            .await
            .unwrap();
        assert!(r3[0].outcome.ksef_number().is_some());
        // the first session still works (its key was unwrapped when it was opened)
        assert_eq!(s1.status().await.unwrap().status.code, 100);
    });
}

/// What each input of the 100-invoice run is and must become.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Accepted,
    Duplicate,
    ServerRejected,
    PreflightFails,
}

#[test]
fn hundred_invoices_every_input_mapped_to_its_outcome() {
    let sim = Sim::start(SimConfig::default().with_rate_limit_scale(10.0));
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let mut session = auth.open_online_session().await.unwrap();
        session.set_concurrency(16);
        let tomorrow = ksef.today() + chrono::Duration::days(1);
        let mut inputs = Vec::new();
        let mut expect = Vec::new();
        for i in 0..100usize {
            let sample = ksef_flows::sample::SampleInvoice::new(nip.as_str(), &format!("H/{i}"))
                .net(100 + i as u64);
            let (bytes, e) = match i {
                // server-side rejections (450: issue date in the future)
                7 | 23 | 58 | 91 => (sample.issued(tomorrow).to_xml(), Expect::ServerRejected),
                // caught by pre-flight, never sent
                15 => (b"\xEF\xBB\xBF<Faktura/>".to_vec(), Expect::PreflightFails),
                44 => (b"<Faktura><P_2>x</Faktura>".to_vec(), Expect::PreflightFails),
                77 => {
                    let mut b = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?pi x?>".to_vec();
                    b.extend_from_slice(&sample.to_xml()[39..]);
                    (b, Expect::PreflightFails)
                }
                // same seller, kind and number as #3, other bytes
                99 => (
                    ksef_flows::sample::SampleInvoice::new(nip.as_str(), "H/3")
                        .net(5)
                        .to_xml(),
                    Expect::Duplicate,
                ),
                _ => (sample.to_xml(), Expect::Accepted),
            };
            inputs.push(InvoiceInput::new(bytes));
            expect.push(e);
        }
        // make the duplicate arrive after its original
        let first: Vec<InvoiceInput> = inputs[..99].to_vec();
        let mut results = session.send_and_wait(&first).await.unwrap();
        let mut last = session.send_and_wait(&inputs[99..]).await.unwrap();
        assert_eq!(last.len(), 1);
        results.push(last.remove(0));
        assert_eq!(results.len(), 100);

        let mut numbers = HashSet::new();
        for (i, (r, e)) in results.iter().zip(&expect).enumerate() {
            let want = if i == 99 { 0 } else { i };
            assert_eq!(r.index, want, "index of {i}");
            assert_eq!(r.invoice_hash, ksef_flows::crypto::b64::sha256_b64(&inputs[i].bytes));
            match e {
                Expect::Accepted => {
                    let n = r.outcome.ksef_number().unwrap_or_else(|| panic!("#{i}: {:?}", r.outcome));
                    let parsed = KsefNumber::parse(n).unwrap();
                    assert_eq!(parsed.nip(), nip.as_str());
                    assert!(numbers.insert(n.to_string()), "KSeF number {n} given twice");
                }
                Expect::Duplicate => {
                    assert_eq!(r.outcome.rejection_code(), Some(440), "#{i}: {:?}", r.outcome);
                    assert_eq!(r.outcome.original_ksef_number(), results[3].outcome.ksef_number());
                }
                Expect::ServerRejected => {
                    assert_eq!(r.outcome.rejection_code(), Some(450), "#{i}: {:?}", r.outcome);
                }
                Expect::PreflightFails => assert!(
                    matches!(&r.outcome, InvoiceOutcome::NotSent(FlowError::Preflight { index, .. }) if *index == want),
                    "#{i}: {:?}",
                    r.outcome
                ),
            }
        }
        assert_eq!(numbers.len(), 92);

        let summary = session.close_and_wait().await.unwrap();
        assert_eq!(summary.code, 200);
        assert_eq!(summary.invoice_count, Some(97));
        assert_eq!(summary.successful_invoice_count, Some(92));
        assert_eq!(summary.failed_invoice_count, Some(5));
        let mut in_upo = HashSet::new();
        for page in &summary.upo_pages {
            let upo = session.session_upo(page).await.unwrap();
            assert_eq!(upo.session_reference_number, session.reference_number());
            for d in upo.documents {
                // the UPO names each invoice with the hash of its exact bytes
                let idx = results
                    .iter()
                    .position(|r| r.outcome.ksef_number() == Some(d.ksef_number.as_str()))
                    .unwrap();
                assert_eq!(d.invoice_hash, results[idx].invoice_hash);
                in_upo.insert(d.ksef_number);
            }
        }
        assert_eq!(in_upo, numbers);
        // per-invoice UPO
        let r0 = results[0].outcome.reference_number().unwrap();
        let upo0 = session.invoice_upo(r0).await.unwrap();
        assert_eq!(upo0.documents.len(), 1);
        assert_eq!(Some(upo0.documents[0].ksef_number.as_str()), results[0].outcome.ksef_number());
    });
}

#[test]
fn system_warnings_are_surfaced() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        // TEST (and ksef-sim) echo X-Test-System-Warning as X-System-Warning
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-test-system-warning",
            reqwest::header::HeaderValue::from_static("[W-42]: planned maintenance tonight"),
        );
        ksef_flows::install_crypto_provider();
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        let ksef =
            ksef_flows::Ksef::builder(ksef_flows::api::Environment::Custom(sim.base_url.clone()))
                .http_client(http)
                .build()
                .unwrap();
        let (nip, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let inv = valid_invoices(&nip, "WARN", 1).remove(0);
        let r = session
            .send_and_wait(&[InvoiceInput::new(inv)])
            .await
            .unwrap();
        // per invoice, in its result
        assert_eq!(r[0].warnings.len(), 1);
        assert_eq!(r[0].warnings[0].code.as_deref(), Some("W-42"));
        // and per client, with the operation that received it
        let w = ksef.system_warnings();
        assert!(!w.is_empty());
        assert!(w.iter().any(|w| w.operation == "online_session_open"));
        assert!(w.iter().all(|w| w.warning.code.as_deref() == Some("W-42")
            && w.warning.message == "planned maintenance tonight"));
    });
}

#[test]
fn a_blocked_context_is_a_typed_480() {
    use ksef_flows::api::DecodeError as _;
    use ksef_flows::api::types::{
        BlockContextAuthenticationRequest, TestDataAuthenticationContextIdentifier,
        TestDataAuthenticationContextIdentifierType,
    };
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, id) = taxpayer();
        let creds = Credentials::xades(id, ContextIdentifier::Nip(nip.clone()));
        let auth = ksef.authenticate(&creds).await.unwrap();
        auth.api()
            .post_testdata_context_block()
            .body(BlockContextAuthenticationRequest {
                context_identifier: Some(TestDataAuthenticationContextIdentifier {
                    type_: TestDataAuthenticationContextIdentifierType::Nip,
                    value: nip.to_string(),
                }),
            })
            .send()
            .await
            .decode_error()
            .await
            .unwrap();
        match ksef.authenticate(&creds).await {
            Err(FlowError::AuthRejected { reason, code, .. }) => {
                assert_eq!(reason, AuthFailure::Blocked);
                assert_eq!(code, 480);
            }
            other => panic!("expected a 480, got {other:?}"),
        }
    });
}

#[test]
fn technical_correction_of_a_rejected_offline_invoice() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let session = auth.open_online_session().await.unwrap();
        let future = ksef.today() + chrono::Duration::days(3);
        let original = ksef_flows::sample::SampleInvoice::new(nip.as_str(), "OFF/1")
            .issued(future)
            .to_xml();
        let fixed = ksef_flows::sample::SampleInvoice::new(nip.as_str(), "OFF/1").to_xml();
        let accepted = valid_invoices(&nip, "OFFOK", 1).remove(0);
        let r = session
            .send_and_wait(&[
                InvoiceInput::new(original.clone()).offline(),
                InvoiceInput::new(accepted.clone()).offline(),
            ])
            .await
            .unwrap();
        assert_eq!(
            r[0].outcome.rejection_code(),
            Some(450),
            "{:?}",
            r[0].outcome
        );
        assert!(r[1].outcome.ksef_number().is_some());

        // the correction carries offlineMode and the original's hash, and is accepted
        let correction = InvoiceInput::new(fixed.clone()).technical_correction_of(&original);
        assert!(correction.offline_mode);
        let c = session
            .send_and_wait(std::slice::from_ref(&correction))
            .await
            .unwrap();
        assert!(c[0].outcome.ksef_number().is_some(), "{:?}", c[0].outcome);

        // a second correction of the same original: 21166; of an accepted invoice: 21167
        let again = session.send(0, &correction).await.unwrap_err();
        assert!(
            matches!(again, FlowError::SendInvoice { .. }) && again.has_code(21166),
            "{again:?}"
        );
        let of_accepted = InvoiceInput::new(fixed).technical_correction_of(&accepted);
        let e = session.send(0, &of_accepted).await.unwrap_err();
        assert!(e.has_code(21167), "{e:?}");
    });
}
