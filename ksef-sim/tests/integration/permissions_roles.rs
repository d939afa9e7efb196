//! The role queries answer from the test data: a VAT group, a JST and their members, an
//! enforcement authority and a court bailiff added with `/testdata/subject` and
//! `/testdata/person` show their roles in `/permissions/query/entities/roles` and
//! `/permissions/query/subordinate-entities/roles`, filtered and paged, and lose them when the
//! test data is removed. Every answer is checked against the 2.9.0 schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::harness;

use harness::spec::assert_response;
use harness::*;
use serde_json::{Value, json};

const ENTITY_ROLES: &str = "/permissions/query/entities/roles";
const SUBORDINATE_ROLES: &str = "/permissions/query/subordinate-entities/roles";

async fn entity_roles(env: &Env, nip: &str) -> Vec<Value> {
    let token = env.control().issue_test_access_token(nip);
    let r = env.get(ENTITY_ROLES, Some(&token)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_response("GET", ENTITY_ROLES, 200, &v);
    assert_eq!(v["hasMore"], false);
    v["roles"].as_array().unwrap().clone()
}

async fn subordinate_roles(env: &Env, nip: &str, query: &str, body: &Value) -> Value {
    let token = env.control().issue_test_access_token(nip);
    let r = env
        .post_json(&format!("{SUBORDINATE_ROLES}{query}"), body, Some(&token))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_response("POST", SUBORDINATE_ROLES, 200, &v);
    v
}

async fn add_subject(env: &Env, nip: &str, kind: &str, subunits: &[String]) {
    let body = json!({
        "subjectNip": nip,
        "subjectType": kind,
        "description": "Podmiot testowy",
        "subunits": subunits.iter().map(|s| json!({ "subjectNip": s, "description": format!("Jednostka {s}") })).collect::<Vec<_>>(),
    });
    let r = env.post_json("/testdata/subject", &body, None).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_vat_group_and_its_members_have_their_roles_until_removed() {
    let env = start(default_config()).await;
    let group = random_nip();
    let members: Vec<String> = (0..12).map(|_| random_nip()).collect();
    assert!(entity_roles(&env, &group).await.is_empty());
    add_subject(&env, &group, "VatGroup", &members).await;

    let roles = entity_roles(&env, &group).await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0]["role"], "VatGroupUnit");
    assert!(roles[0].get("parentEntityIdentifier").is_none());

    let roles = entity_roles(&env, &members[3]).await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0]["role"], "VatGroupSubUnit");
    assert_eq!(
        roles[0]["parentEntityIdentifier"],
        json!({ "type": "Nip", "value": group })
    );
    assert_eq!(roles[0]["description"], format!("Jednostka {}", members[3]));

    // the group's members, paged by pageOffset/pageSize
    let first = subordinate_roles(&env, &group, "?pageSize=10", &json!({})).await;
    assert_eq!(first["roles"].as_array().unwrap().len(), 10);
    assert_eq!(first["hasMore"], true);
    let second = subordinate_roles(&env, &group, "?pageSize=10&pageOffset=1", &json!({})).await;
    assert_eq!(second["roles"].as_array().unwrap().len(), 2);
    assert_eq!(second["hasMore"], false);
    let mut listed: Vec<String> = first["roles"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["roles"].as_array().unwrap())
        .map(|r| {
            assert_eq!(r["role"], "VatGroupSubUnit");
            r["subordinateEntityIdentifier"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    listed.sort();
    let mut expected = members.clone();
    expected.sort();
    assert_eq!(listed, expected);
    // filtered by one member
    let one = subordinate_roles(
        &env,
        &group,
        "",
        &json!({ "subordinateEntityIdentifier": { "type": "Nip", "value": members[5] } }),
    )
    .await;
    let one = one["roles"].as_array().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["subordinateEntityIdentifier"]["value"], members[5]);
    // a member has no subordinates
    let none = subordinate_roles(&env, &members[0], "", &json!({})).await;
    assert!(none["roles"].as_array().unwrap().is_empty());
    // page size out of range
    let token = env.control().issue_test_access_token(&group);
    let r = env
        .get(&format!("{ENTITY_ROLES}?pageSize=101"), Some(&token))
        .await;
    assert_eq!(exception_code(r).await, 21405);

    // removed: the roles go with it
    let r = env
        .post_json(
            "/testdata/subject/remove",
            &json!({ "subjectNip": group }),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(entity_roles(&env, &group).await.is_empty());
    assert!(entity_roles(&env, &members[3]).await.is_empty());
    let none = subordinate_roles(&env, &group, "", &json!({})).await;
    assert!(none["roles"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_jst_an_enforcement_authority_and_a_bailiff_have_their_roles() {
    let env = start(default_config()).await;
    let jst = random_nip();
    let unit = random_nip();
    add_subject(&env, &jst, "JST", std::slice::from_ref(&unit)).await;
    assert_eq!(
        entity_roles(&env, &jst).await[0]["role"],
        "LocalGovernmentUnit"
    );
    let roles = entity_roles(&env, &unit).await;
    assert_eq!(roles[0]["role"], "LocalGovernmentSubUnit");
    assert_eq!(roles[0]["parentEntityIdentifier"]["value"], jst);
    let subs = subordinate_roles(&env, &jst, "", &json!({})).await;
    assert_eq!(subs["roles"][0]["role"], "LocalGovernmentSubUnit");
    assert_eq!(
        subs["roles"][0]["subordinateEntityIdentifier"]["value"],
        unit
    );

    let authority = random_nip();
    add_subject(&env, &authority, "EnforcementAuthority", &[]).await;
    assert_eq!(
        entity_roles(&env, &authority).await[0]["role"],
        "EnforcementAuthority"
    );
    // an enforcement authority has no subordinates
    let subs = subordinate_roles(&env, &authority, "", &json!({})).await;
    assert!(subs["roles"].as_array().unwrap().is_empty());

    // a court bailiff (a person); a person who is not one has no role
    let bailiff = random_nip();
    let person = |nip: &str, is_bailiff: bool| json!({ "nip": nip, "pesel": random_pesel(), "isBailiff": is_bailiff, "description": "Osoba testowa" });
    let r = env
        .post_json("/testdata/person", &person(&bailiff, true), None)
        .await;
    assert_eq!(r.status(), 200);
    let roles = entity_roles(&env, &bailiff).await;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["role"], "CourtBailiff");
    let plain = random_nip();
    let r = env
        .post_json("/testdata/person", &person(&plain, false), None)
        .await;
    assert_eq!(r.status(), 200);
    assert!(entity_roles(&env, &plain).await.is_empty());
    let r = env
        .post_json("/testdata/person/remove", &json!({ "nip": bailiff }), None)
        .await;
    assert_eq!(r.status(), 200);
    assert!(entity_roles(&env, &bailiff).await.is_empty());
}

#[tokio::test]
async fn the_role_queries_need_a_credentials_permission() {
    let env = start(default_config()).await;
    let pesel = random_pesel();
    let r = env
        .post_json(
            "/testdata/permissions",
            &json!({
                "contextIdentifier": { "type": "Nip", "value": env.nip },
                "authorizedIdentifier": { "type": "Pesel", "value": pesel },
                "permissions": [{ "permissionType": "InvoiceRead", "description": "Tylko faktury" }],
            }),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let reader = env
        .control()
        .issue_access_token_as(("Nip", &env.nip), ("Pesel", &pesel))
        .unwrap();
    assert_eq!(env.get(ENTITY_ROLES, Some(&reader)).await.status(), 403);
    let r = env
        .post_json(SUBORDINATE_ROLES, &json!({}), Some(&reader))
        .await;
    assert_eq!(r.status(), 403);
}
