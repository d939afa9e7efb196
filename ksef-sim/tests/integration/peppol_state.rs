//! Peppol service providers are state: a provider registers itself by authenticating in its
//! `PeppolId` context with a seal whose common name is that identifier, and from then on
//! `GET /peppol/query` lists it, once, under the seal's organization name, paged. Answers are
//! checked against the 2.9.0 schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::assert_response;
use harness::*;
use serde_json::Value;

async fn providers(env: &Env, query: &str) -> Value {
    let r = env
        .get(&format!("/peppol/query{query}"), Some(&env.token))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_response("GET", "/peppol/query", 200, &v);
    v
}

/// Signs an authentication in the `PeppolId` context `id` with `cert`; the authentication's
/// final status code.
async fn authenticate(env: &Env, id: &str, cert: &TestCert) -> i64 {
    let ch = env.challenge().await;
    let req = auth_request(
        ch["challenge"].as_str().unwrap(),
        "PeppolId",
        id,
        "certificateFingerprint",
    );
    let r = env
        .submit_xades(&manual_xades(&req, cert, ManualAlg::RsaPkcs1))
        .await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let st = env
        .wait_auth(
            v["referenceNumber"].as_str().unwrap(),
            v["authenticationToken"]["token"].as_str().unwrap(),
        )
        .await;
    st["status"]["code"].as_i64().unwrap()
}

#[tokio::test]
async fn a_provider_is_registered_at_its_first_authentication() {
    let env = start(default_config()).await;
    let none = providers(&env, "").await;
    assert!(none["peppolProviders"].as_array().unwrap().is_empty());
    assert_eq!(none["hasMore"], false);

    let id = "PPL123456";
    let seal = TestCert::new(KeyKind::Rsa, &format!("/O=Dostawca Testowy/CN={id}"));
    // no permissions in its own context yet: the authentication ends 415, the seal is accepted
    assert_eq!(authenticate(&env, id, &seal).await, 415);
    authenticate(&env, id, &seal).await;
    let listed = providers(&env, "").await;
    let list = listed["peppolProviders"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["name"], "Dostawca Testowy");

    // a certificate whose common name is not the identifier registers nothing
    let other = TestCert::new(KeyKind::Rsa, "/O=Ktoś Inny/CN=Jan Kowalski");
    authenticate(&env, "PDE000001", &other).await;
    assert_eq!(
        providers(&env, "").await["peppolProviders"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // paging: eleven providers over two pages of ten
    for n in 0..10 {
        let id = format!("PDE{:06}", 100 + n);
        let seal = TestCert::new(KeyKind::Rsa, &format!("/O=Dostawca {n}/CN={id}"));
        authenticate(&env, &id, &seal).await;
    }
    let first = providers(&env, "?pageSize=10").await;
    assert_eq!(first["peppolProviders"].as_array().unwrap().len(), 10);
    assert_eq!(first["hasMore"], true);
    let second = providers(&env, "?pageSize=10&pageOffset=1").await;
    assert_eq!(second["peppolProviders"].as_array().unwrap().len(), 1);
    assert_eq!(second["hasMore"], false);
}

#[tokio::test]
async fn a_rejected_certificate_registers_no_provider() {
    // the simulator's clock 60 days ahead: the seal, valid for 30 days, has expired
    let clock: ksef_time::SharedClock =
        std::sync::Arc::new(ksef_time::ShiftedClock::by(chrono::TimeDelta::days(60)));
    let env = start(default_config().with_clock(clock)).await;
    let id = "PPL654321";
    let seal = TestCert::new(KeyKind::Rsa, &format!("/O=Dostawca Wygasły/CN={id}"));
    assert_eq!(authenticate(&env, id, &seal).await, 460);
    let listed = providers(&env, "").await;
    assert!(
        listed["peppolProviders"].as_array().unwrap().is_empty(),
        "{listed}"
    );
}
