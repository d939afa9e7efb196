//! End-to-end: the operations ksef-flows offers for the `ksef` CLI, against ksef-sim over
//! loopback HTTP — a saved session resumed in a "new process" (a second client), KSeF token
//! list/status/revoke, authentication sessions list/revoke, sessions list/status/invoices/UPO by
//! reference number, limits and rate limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_common;

use e2e_common::*;
use ksef_flows::api::types::{
    AuthenticationTokenStatus, CommonSessionStatus, SessionType, TokenPermissionType,
};
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::{
    Credentials, FlowError, InvoiceInput, InvoiceSelection, SavedSession, SessionFilter,
    TokenFilter, UpoOf,
};
use ksef_sim::SimConfig;

#[test]
fn a_saved_session_resumes_in_another_client_and_refreshes() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let saved = auth.save().unwrap();
        assert_eq!(saved.context, ContextIdentifier::Nip(nip.clone()));
        assert!(saved.refresh_token_expires.unwrap() > saved.access_token_expires);
        let json = saved.to_json().unwrap();
        // Debug never shows the tokens.
        let debug = format!("{saved:?}");
        assert!(!debug.contains(saved.access_token.expose()));
        assert!(!debug.contains(saved.refresh_token.expose()));

        // "Another process": a fresh client, the tokens read back from JSON.
        let other = e2e_common::ksef(&sim);
        let back = SavedSession::from_json(json.expose()).unwrap();
        assert_eq!(back.reference_number, auth.reference_number());
        assert_eq!(back.access_token.expose(), saved.access_token.expose());
        let resumed = other.resume(&back);
        let session = resumed.open_online_session().await.unwrap();
        assert_eq!(session.status().await.unwrap().status.code, 100);
        resumed.refresh().await.unwrap();
        assert_ne!(
            resumed.access_token().unwrap().expose(),
            saved.access_token.expose(),
            "refreshed"
        );
        // Revoked in one client, the saved refresh token is dead everywhere.
        auth.revoke().await.unwrap();
        let dead = other.resume(&back).refresh().await;
        assert!(
            matches!(dead, Err(FlowError::RefreshToken { .. })),
            "{dead:?}"
        );
        assert!(SavedSession::from_json(b"{}").is_err());
        assert!(matches!(
            ksef_flows::parse_context("Nip", "1234567890"),
            Err(FlowError::InvalidArgument { .. })
        ));
    });
}

#[test]
fn ksef_tokens_and_authentication_sessions() {
    let sim = Sim::start(SimConfig::default().with_rate_limits(false));
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let mut refs = Vec::new();
        for i in 0..12 {
            let (r, _) = auth
                .create_ksef_token(
                    &[TokenPermissionType::InvoiceRead],
                    &format!("e2e token {i}"),
                )
                .await
                .unwrap();
            refs.push(r);
        }
        // Pages of 10 with a continuation token.
        let filter = TokenFilter::new().page_size(10);
        let first = auth.list_ksef_tokens(&filter, None).await.unwrap();
        assert_eq!(first.items.len(), 10);
        assert!(first.has_more());
        let second = auth
            .list_ksef_tokens(&filter, first.continuation_token.as_deref())
            .await
            .unwrap();
        assert_eq!(second.items.len(), 2);
        assert!(!second.has_more());
        let status = auth.ksef_token_status(&refs[0]).await.unwrap();
        assert_eq!(status.status, AuthenticationTokenStatus::Active);
        assert_eq!(status.description, "e2e token 0");
        auth.revoke_ksef_token(&refs[0]).await.unwrap();
        let active = auth
            .list_ksef_tokens(
                &TokenFilter::new().status(AuthenticationTokenStatus::Active),
                None,
            )
            .await
            .unwrap();
        assert!(active.items.iter().all(|t| t.reference_number.0 != refs[0]));
        // Bad input is refused before anything is sent.
        for bad in [
            auth.list_ksef_tokens(&TokenFilter::new().page_size(5), None)
                .await,
            auth.list_ksef_tokens(&TokenFilter::new().description("ab"), None)
                .await,
        ] {
            assert!(
                matches!(bad, Err(FlowError::InvalidArgument { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            auth.ksef_token_status("nope").await,
            Err(FlowError::InvalidArgument { .. })
        ));

        // Authentication sessions: this one is current, another can be revoked.
        let (_, token) = auth
            .create_ksef_token(&[TokenPermissionType::InvoiceWrite], "second session")
            .await
            .unwrap();
        let second = ksef
            .authenticate(&Credentials::ksef_token(token, ContextIdentifier::Nip(nip)))
            .await
            .unwrap();
        let list = auth.list_auth_sessions(None, None).await.unwrap();
        let current: Vec<_> = list
            .items
            .iter()
            .filter(|s| s.is_current == Some(true))
            .collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].reference_number.0, auth.reference_number());
        assert!(
            list.items
                .iter()
                .any(|s| s.reference_number.0 == second.reference_number())
        );
        auth.revoke_auth_session(second.reference_number())
            .await
            .unwrap();
        assert!(matches!(
            second.refresh().await,
            Err(FlowError::RefreshToken { .. })
        ));
    });
}

#[test]
fn sessions_by_reference_and_their_upo() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let mut session = auth.open_online_session().await.unwrap();
        // One send at a time: KSeF judges a duplicate by which invoice it registered first, so
        // the duplicate (#2) must reach it after its original (#0); concurrent sends would race.
        session.set_concurrency(1);
        let reference = session.reference_number().to_string();
        let mut invoices: Vec<InvoiceInput> = valid_invoices(&nip, "CLIFLOW", 2)
            .into_iter()
            .map(InvoiceInput::new)
            .collect();
        invoices.push(InvoiceInput::new(
            valid_invoices(&nip, "CLIFLOW", 1).remove(0),
        ));
        let results = session.send_and_wait(&invoices).await.unwrap();
        let accepted: Vec<&str> = results
            .iter()
            .filter_map(|r| r.outcome.ksef_number())
            .collect();
        assert_eq!(accepted.len(), 2, "the third is a duplicate");
        let summary = session.close_and_wait().await.unwrap();
        assert_eq!(summary.code, 200);

        let list = auth
            .list_sessions(
                &SessionFilter::new(SessionType::Online).status(CommonSessionStatus::Succeeded),
                None,
            )
            .await
            .unwrap();
        let item = list
            .items
            .iter()
            .find(|s| s.reference_number.0 == reference)
            .unwrap();
        assert_eq!(item.total_invoice_count, 3);
        assert_eq!(item.successful_invoice_count, 2);
        assert_eq!(item.failed_invoice_count, 1);
        let status = auth.session_status(&reference).await.unwrap();
        assert_eq!(status.status.code, 200);
        let all = auth
            .session_invoices(&reference, InvoiceSelection::All, None, None)
            .await
            .unwrap();
        assert_eq!(all.items.len(), 3);
        let failed = auth
            .session_invoices(&reference, InvoiceSelection::Failed, Some(10), None)
            .await
            .unwrap();
        assert_eq!(failed.items.len(), 1);
        assert_eq!(failed.items[0].status.code, 440);

        let page = &summary.upo_pages[0];
        let upo = auth
            .download_upo(
                &reference,
                &UpoOf::SessionPage(page.reference_number.clone()),
            )
            .await
            .unwrap();
        let mut listed: Vec<&str> = upo
            .documents
            .iter()
            .map(|d| d.ksef_number.as_str())
            .collect();
        listed.sort_unstable();
        let mut expected = accepted.clone();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        let inv_ref = results[0].outcome.reference_number().unwrap().to_string();
        let one = auth
            .download_upo(&reference, &UpoOf::Invoice(inv_ref))
            .await
            .unwrap();
        assert_eq!(one.documents[0].ksef_number, accepted[0]);
        let by_number = auth
            .download_upo(&reference, &UpoOf::KsefNumber(accepted[1].to_string()))
            .await
            .unwrap();
        assert_eq!(by_number.documents[0].ksef_number, accepted[1]);
        assert!(matches!(
            auth.download_upo(&reference, &UpoOf::KsefNumber("x".into()))
                .await,
            Err(FlowError::InvalidArgument { .. })
        ));
        // An unknown session: KSeF's answer, typed.
        let unknown = auth
            .session_status("20250101-SO-0000000000-0000000000-00")
            .await;
        assert!(
            matches!(
                unknown,
                Err(FlowError::SessionStatus { .. }) | Err(FlowError::InvalidArgument { .. })
            ),
            "{unknown:?}"
        );
    });
}

#[test]
fn limits_and_rate_limits() {
    let sim = Sim::start(SimConfig::default());
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (_, auth) = xades_auth(&ksef).await;
        let l = auth.limits().await.unwrap();
        assert!(l.context.online_session.max_invoices > 0);
        let r = auth.rate_limits().await.unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["invoiceSend"]["perSecond"], 10);
        assert_eq!(v["onlineSessionClose"]["perHour"], 240);
    });
}
