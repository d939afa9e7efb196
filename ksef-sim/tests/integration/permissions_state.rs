//! Permissions keep state: a grant is an operation with a status, appears in the queries (with
//! their filters and paging), counts at the holder's next authentication, is enforced (403
//! missing-permissions without it) and disappears when revoked. The seller rule of invoices rests
//! on the same grants: a context issues its own invoices, or a seller's that authorized it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::*;
use serde_json::{Value, json};

const PESEL: &str = "90010112345";

fn person_details() -> Value {
    json!({ "subjectDetailsType": "PersonByIdentifier", "personById": { "firstName": "Jan", "lastName": "Kowalski" } })
}

/// A valid PESEL (checksum computed here).
fn pesel() -> String {
    let base = &PESEL[..10];
    let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = base
        .bytes()
        .zip(w)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{base}{}", (10 - sum % 10) % 10)
}

async fn operation_ok(env: &Env, reference: &str) {
    let v = env
        .get_json(&format!("/permissions/operations/{reference}"))
        .await;
    assert_eq!(v["status"]["code"], 200, "{v}");
}

async fn granted(env: &Env, path: &str, body: &Value) -> String {
    let r = env.post(path, body).await;
    assert_eq!(r.status(), 202, "{path}");
    let v: Value = r.json().await.unwrap();
    let reference = v["referenceNumber"].as_str().unwrap().to_string();
    operation_ok(env, &reference).await;
    reference
}

async fn query(env: &Env, path: &str, body: &Value) -> Value {
    let r = env.post(path, body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{path}: {v}");
    harness::spec::assert_response("POST", path.split('?').next().unwrap(), 200, &v);
    v
}

/// An `Env` for another subject of the same simulator.
fn as_subject(env: &Env, token: String, nip: &str) -> Env {
    Env {
        sim: None,
        base: env.base.clone(),
        http: env.http.clone(),
        token,
        nip: nip.to_string(),
        sym_key: env.sym_key.clone(),
        sym_key_id: env.sym_key_id.clone(),
        clock: env.clock.clone(),
    }
}

#[tokio::test]
async fn a_person_grant_appears_counts_is_enforced_and_goes_when_revoked() {
    let env = start(default_config()).await;
    let pesel = pesel();
    let control = env.control().clone();
    // Without a grant the person cannot work in the context at all.
    assert!(
        control
            .issue_access_token_as(("Nip", &env.nip), ("Pesel", &pesel))
            .is_none()
    );
    let reference = granted(
        &env,
        "/permissions/persons/grants",
        &json!({
            "subjectIdentifier": { "type": "Pesel", "value": pesel },
            "permissions": ["InvoiceRead"],
            "description": "Księgowa",
            "subjectDetails": person_details(),
        }),
    )
    .await;
    assert!(reference.contains("-EG-"), "{reference}");

    // Visible in both person queries, filtered.
    let all = query(
        &env,
        "/permissions/query/persons/grants",
        &json!({ "queryType": "PermissionsInCurrentContext" }),
    )
    .await;
    let list = all["permissions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{all}");
    assert_eq!(list[0]["permissionScope"], "InvoiceRead");
    assert_eq!(list[0]["authorizedIdentifier"]["value"], pesel);
    assert_eq!(list[0]["subjectPersonDetails"]["lastName"], "Kowalski");
    let id = list[0]["id"].as_str().unwrap().to_string();
    let mine = query(
        &env,
        "/permissions/query/persons/grants",
        &json!({ "queryType": "PermissionsGrantedInCurrentContext", "permissionTypes": ["InvoiceRead"] }),
    )
    .await;
    assert_eq!(mine["permissions"].as_array().unwrap().len(), 1);
    let none = query(
        &env,
        "/permissions/query/persons/grants",
        &json!({ "queryType": "PermissionsInCurrentContext", "permissionTypes": ["InvoiceWrite"] }),
    )
    .await;
    assert_eq!(none["permissions"].as_array().unwrap().len(), 0);

    // The grant counts at the person's authentication: InvoiceRead, not InvoiceWrite.
    let token = control
        .issue_access_token_as(("Nip", &env.nip), ("Pesel", &pesel))
        .expect("the grant lets the person in");
    let person = as_subject(&env, token, &env.nip);
    let own = query(&person, "/permissions/query/personal/grants", &json!({})).await;
    assert_eq!(own["permissions"].as_array().unwrap().len(), 1, "{own}");
    assert!(own.get("ownerPermissions").is_none(), "{own}");
    let k = Keys::random();
    let r = person
        .post(
            "/sessions/online",
            &json!({ "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" }, "encryption": person.encryption(&k) }),
        )
        .await;
    assert_eq!(r.status(), 403, "InvoiceWrite is missing");
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem.to_string().contains("missing-permissions"),
        "{problem}"
    );
    // The owner sees its owner permissions.
    let owner = query(&env, "/permissions/query/personal/grants", &json!({})).await;
    assert!(
        owner["ownerPermissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "InvoiceWrite"),
        "{owner}"
    );

    // Revoked: gone from the query, and the person can no longer get in.
    let r = env
        .http
        .delete(env.url(&format!("/permissions/common/grants/{id}")))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    operation_ok(&env, v["referenceNumber"].as_str().unwrap()).await;
    let after = query(
        &env,
        "/permissions/query/persons/grants",
        &json!({ "queryType": "PermissionsInCurrentContext" }),
    )
    .await;
    assert_eq!(after["permissions"].as_array().unwrap().len(), 0, "{after}");
    assert!(
        control
            .issue_access_token_as(("Nip", &env.nip), ("Pesel", &pesel))
            .is_none()
    );
    // Revoking again: no such grant.
    let r = env
        .http
        .delete(env.url(&format!("/permissions/common/grants/{id}")))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn person_queries_page_with_has_more() {
    let env = start(default_config()).await;
    for i in 0..12 {
        let nip = random_nip();
        granted(
            &env,
            "/permissions/persons/grants",
            &json!({
                "subjectIdentifier": { "type": "Nip", "value": nip },
                "permissions": ["InvoiceRead"],
                "description": format!("Osoba {i}"),
                "subjectDetails": person_details(),
            }),
        )
        .await;
    }
    let body = json!({ "queryType": "PermissionsInCurrentContext" });
    let p0 = query(&env, "/permissions/query/persons/grants?pageSize=10", &body).await;
    assert_eq!(p0["permissions"].as_array().unwrap().len(), 10);
    assert_eq!(p0["hasMore"], true);
    let p1 = query(
        &env,
        "/permissions/query/persons/grants?pageSize=10&pageOffset=1",
        &body,
    )
    .await;
    assert_eq!(p1["permissions"].as_array().unwrap().len(), 2);
    assert_eq!(p1["hasMore"], false);
    let r = env
        .post("/permissions/query/persons/grants?pageSize=5", &body)
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_seller_must_be_the_context_or_have_authorized_it_and_the_duplicate_key_is_per_seller()
{
    let seller = start(default_config()).await;
    let buyer_nip = random_nip();
    let buyer_token = seller.control().issue_test_access_token(&buyer_nip);
    let buyer = as_subject(&seller, buyer_token, &buyer_nip);
    let number = unique_number();
    let invoice = invoice_fa3(&seller.nip, &number);

    // The buyer's context may not issue the seller's invoice.
    let k = Keys::random();
    let session = buyer.open_online(&k).await;
    let r = buyer.send(&session, &k, &invoice).await;
    let st = buyer.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 450, "{st}");
    assert!(st.to_string().contains(&seller.nip), "{st}");

    // The seller authorizes the buyer to self-invoice: visible on both sides.
    granted(
        &seller,
        "/permissions/authorizations/grants",
        &json!({
            "subjectIdentifier": { "type": "Nip", "value": buyer_nip },
            "permission": "SelfInvoicing",
            "description": "Samofakturowanie",
            "subjectDetails": { "fullName": "Nabywca S.A." },
        }),
    )
    .await;
    let given = query(
        &seller,
        "/permissions/query/authorizations/grants",
        &json!({ "queryType": "Granted" }),
    )
    .await;
    let grants = given["authorizationGrants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{given}");
    assert_eq!(grants[0]["authorizationScope"], "SelfInvoicing");
    let id = grants[0]["id"].as_str().unwrap().to_string();
    let received = query(
        &buyer,
        "/permissions/query/authorizations/grants",
        &json!({ "queryType": "Received" }),
    )
    .await;
    assert_eq!(received["authorizationGrants"].as_array().unwrap().len(), 1);

    // Now the buyer issues the seller's invoice; the seller sending the same number is a
    // duplicate (the key is the seller's).
    let r = buyer.send(&session, &k, &invoice).await;
    let st = buyer.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 200, "{st}");
    let ks = Keys::random();
    let own_session = seller.open_online(&ks).await;
    let r = seller.send(&own_session, &ks, &invoice).await;
    let st = seller.wait_invoice(&own_session, &r).await;
    assert_eq!(st["status"]["code"], 440, "{st}");

    // Revoked: the buyer is refused again.
    let r = seller
        .http
        .delete(seller.url(&format!("/permissions/authorizations/grants/{id}")))
        .bearer_auth(&seller.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let again = invoice_fa3(&seller.nip, &unique_number());
    let r = buyer.send(&session, &k, &again).await;
    let st = buyer.wait_invoice(&session, &r).await;
    assert_eq!(st["status"]["code"], 450, "{st}");
}

#[tokio::test]
async fn entity_grants_are_received_by_the_entity_and_let_its_seal_in() {
    let owner = start(default_config()).await;
    let office = random_nip();
    // An accounting office (entity) gets InvoiceRead, delegable.
    granted(
        &owner,
        "/permissions/entities/grants",
        &json!({
            "subjectIdentifier": { "type": "Nip", "value": office },
            "permissions": [{ "type": "InvoiceRead", "canDelegate": true }],
            "description": "Biuro rachunkowe",
            "subjectDetails": { "fullName": "Biuro S.A." },
        }),
    )
    .await;
    let control = owner.control().clone();
    let token = control
        .issue_access_token_as(("Nip", &owner.nip), ("Nip", &office))
        .expect("the entity works in the owner's context");
    let seal = as_subject(&owner, token, &owner.nip);
    // InvoiceRead: invoice queries work; granting does not (no CredentialsManage).
    let r = seal
        .post(
            "/permissions/persons/grants",
            &json!({
                "subjectIdentifier": { "type": "Pesel", "value": pesel() },
                "permissions": ["InvoiceRead"],
                "description": "x",
                "subjectDetails": person_details(),
            }),
        )
        .await;
    assert_eq!(r.status(), 403);
    // The office, in its own context, sees what it received.
    let office_env = as_subject(&owner, control.issue_test_access_token(&office), &office);
    let v = query(
        &office_env,
        "/permissions/query/entities/grants",
        &json!({}),
    )
    .await;
    let list = v["permissions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["contextIdentifier"]["value"], owner.nip);
    assert_eq!(list[0]["canDelegate"], true);

    // Indirect: the office passes InvoiceRead for the owner's invoices to its employee.
    let employee = pesel();
    granted(
        &office_env,
        "/permissions/indirect/grants",
        &json!({
            "subjectIdentifier": { "type": "Pesel", "value": employee },
            "targetIdentifier": { "type": "Nip", "value": owner.nip },
            "permissions": ["InvoiceRead"],
            "description": "Pracownik biura",
            "subjectDetails": person_details(),
        }),
    )
    .await;
    let token = control.issue_access_token_as(("Nip", &owner.nip), ("Pesel", &employee));
    assert!(token.is_some(), "the indirect grant lets the employee in");
    let owner_view = query(
        &owner,
        "/permissions/query/persons/grants",
        &json!({ "queryType": "PermissionsInCurrentContext" }),
    )
    .await;
    // The owner sees the entity grant it made.
    assert!(
        owner_view["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["authorizedIdentifier"]["value"] == office),
        "{owner_view}"
    );
}

#[tokio::test]
async fn subunit_and_eu_entity_administrators_are_stored_and_listed() {
    let env = start(default_config()).await;
    let internal = internal_id(&env.nip, 1);
    granted(
        &env,
        "/permissions/subunits/grants",
        &json!({
            "subjectIdentifier": { "type": "Pesel", "value": pesel() },
            "contextIdentifier": { "type": "InternalId", "value": internal },
            "description": "Kierownik oddziału",
            "subunitName": "Oddział 1",
            "subjectDetails": person_details(),
        }),
    )
    .await;
    let v = query(&env, "/permissions/query/subunits/grants", &json!({})).await;
    let list = v["permissions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["subunitIdentifier"]["value"], internal);
    assert_eq!(list[0]["subunitName"], "Oddział 1");

    let fingerprint = "AB".repeat(32);
    let eu = format!("{}-DE123456789", env.nip);
    granted(
        &env,
        "/permissions/eu-entities/administration/grants",
        &json!({
            "subjectIdentifier": { "type": "Fingerprint", "value": fingerprint },
            "contextIdentifier": { "type": "NipVatUe", "value": eu },
            "description": "Administrator podmiotu unijnego",
            "euEntityName": "Firma GmbH",
            "subjectDetails": { "subjectDetailsType": "PersonByFingerprintWithoutIdentifier",
                "personByFpNoId": { "firstName": "Hans", "lastName": "Meier", "birthDate": "1980-01-01",
                    "idDocument": { "type": "Passport", "number": "C01X00T47", "country": "DE" } } },
            "euEntityDetails": { "fullName": "Firma GmbH", "address": "Berlin" },
        }),
    )
    .await;
    let v = query(&env, "/permissions/query/eu-entities/grants", &json!({})).await;
    let list = v["permissions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["permissionScope"], "VatUeManage");
    assert_eq!(list[0]["vatUeIdentifier"], "DE123456789");
    // The administrator holds VatUeManage in the EU entity's context and grants there.
    let token = env
        .control()
        .issue_access_token_as(("NipVatUe", &eu), ("Fingerprint", &fingerprint))
        .expect("the administrator works in the EU entity's context");
    let admin = as_subject(&env, token, &env.nip);
    granted(
        &admin,
        "/permissions/eu-entities/grants",
        &json!({
            "subjectIdentifier": { "type": "Fingerprint", "value": "CD".repeat(32) },
            "permissions": ["InvoiceRead"],
            "description": "Księgowy podmiotu unijnego",
            "subjectDetails": { "subjectDetailsType": "PersonByFingerprintWithoutIdentifier",
                "personByFpNoId": { "firstName": "Anna", "lastName": "Schmidt", "birthDate": "1985-02-02",
                    "idDocument": { "type": "Passport", "number": "C01X00T48", "country": "DE" } } },
        }),
    )
    .await;
    let v = query(
        &admin,
        "/permissions/query/eu-entities/grants",
        &json!({ "permissionTypes": ["InvoiceRead"] }),
    )
    .await;
    assert_eq!(v["permissions"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["permissions"][0]["euEntityName"], "Firma GmbH");
}
