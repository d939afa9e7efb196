//! `ksef permissions grant|list|revoke|status` against the embedded simulator: grants to
//! persons, entities and entity authorizations seen from both sides, revocation, the exit codes,
//! and the simulator enforcing what was granted (a person logs in only while a permission holds).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Harness;
use serde_json::Value;

fn pesel() -> String {
    ksef_flows::crypto::Pesel::random().as_str().to_string()
}

fn nip() -> String {
    ksef_flows::crypto::Nip::random().as_str().to_string()
}

fn code(h: &Harness, args: &[&str]) -> (Option<i32>, String) {
    let out = h.run(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of a JSON Lines listing whose `key.value` is `value`.
fn rows_for<'a>(rows: &'a [Value], key: &str, value: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r[key]["value"] == value).collect()
}

fn scopes(rows: &[&Value], field: &str) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| r[field].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn grant_list_and_revoke_persons_entities_and_authorizations() {
    let h = Harness::start();
    h.login("owner");
    let person = pesel();

    // A person: two permissions, one operation, applied when the command returns.
    let g = h.json(
        &[
            "permissions",
            "grant",
            "person",
            "--subject",
            &format!("Pesel:{person}"),
            "--permission",
            "invoice-read",
            "--permission",
            "invoice-write",
            "--permission",
            "invoice-read",
            "--first-name",
            "Jan",
            "--last-name",
            "Kowalski",
            "--description",
            "Invoices of the shop",
        ],
        0,
    );
    assert_eq!(g["kind"], "person");
    assert_eq!(g["subject"]["type"], "Pesel");
    assert_eq!(g["subject"]["value"], person.as_str());
    assert_eq!(
        g["permissions"],
        serde_json::json!(["InvoiceRead", "InvoiceWrite"])
    );
    assert_eq!(g["status"]["code"], 200);
    let reference = g["referenceNumber"].as_str().unwrap().to_string();
    assert!(reference.contains("-EG-"), "{reference}");
    let st = h.json(&["permissions", "status", &reference], 0);
    assert_eq!(st["status"]["code"], 200);

    let rows = h.json_lines(&["permissions", "list", "persons"]);
    let mine = rows_for(&rows, "authorizedIdentifier", &person);
    assert_eq!(
        scopes(&mine, "permissionScope"),
        ["InvoiceRead", "InvoiceWrite"]
    );
    for r in &mine {
        assert_eq!(r["permissionState"], "Active");
        assert_eq!(r["description"], "Invoices of the shop");
        assert_eq!(r["subjectPersonDetails"]["lastName"], "Kowalski");
        assert_eq!(r["id"].as_str().unwrap().len(), 36);
    }
    // Only the InvoiceWrite filter.
    let rows = h.json_lines(&[
        "permissions",
        "list",
        "persons",
        "--granted",
        "--permission",
        "invoice-write",
    ]);
    assert_eq!(
        scopes(
            &rows_for(&rows, "authorizedIdentifier", &person),
            "permissionScope"
        ),
        ["InvoiceWrite"]
    );
    let table = h.ok(&["permissions", "list", "persons"]);
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&format!("Pesel:{person}")), "{table}");
    assert!(table.contains("Jan Kowalski"), "{table}");

    // An entity: the grant shows in this context and, from the entity's own login, as a
    // permission it received.
    let partner = nip();
    let g = h.json(
        &[
            "permissions",
            "grant",
            "entity",
            "--nip",
            &partner,
            "--permission",
            "invoice-read",
            "--can-delegate",
            "--name",
            "Biuro Rachunkowe Sp. z o.o.",
            "--description",
            "Accounting office",
        ],
        0,
    );
    assert_eq!(g["kind"], "entity");
    assert_eq!(g["permissions"], serde_json::json!(["InvoiceRead"]));
    let rows = h.json_lines(&["permissions", "list", "persons"]);
    assert_eq!(
        scopes(
            &rows_for(&rows, "authorizedIdentifier", &partner),
            "permissionScope"
        ),
        ["InvoiceRead"]
    );

    // An entity authorization, granted here and received there.
    let g = h.json(
        &[
            "permissions",
            "grant",
            "authorization",
            "--subject",
            &format!("Nip:{partner}"),
            "--permission",
            "self-invoicing",
            "--name",
            "Biuro Rachunkowe Sp. z o.o.",
            "--description",
            "Self-invoicing of services",
        ],
        0,
    );
    assert_eq!(g["kind"], "authorization");
    assert_eq!(g["permissions"], serde_json::json!(["SelfInvoicing"]));
    let granted = h.json_lines(&["permissions", "list", "authorizations"]);
    let auth_rows = rows_for(&granted, "authorizedEntityIdentifier", &partner);
    assert_eq!(auth_rows.len(), 1);
    assert_eq!(auth_rows[0]["authorizationScope"], "SelfInvoicing");
    assert_eq!(
        auth_rows[0]["authorizingEntityIdentifier"]["value"],
        h.nip.as_str()
    );
    let authorization_id = auth_rows[0]["id"].as_str().unwrap().to_string();

    let ctx = format!("Nip:{partner}");
    h.ok(&[
        "profile",
        "add",
        "partner",
        "-e",
        &h.url,
        "-c",
        &ctx,
        "--credential",
        "test-identity",
    ]);
    h.ok(&["--profile", "partner", "auth", "login"]);
    let received = h.json_lines(&["--profile", "partner", "permissions", "list", "entities"]);
    let from_owner = rows_for(&received, "contextIdentifier", &h.nip);
    assert_eq!(from_owner.len(), 1, "{received:?}");
    assert_eq!(from_owner[0]["permissionScope"], "InvoiceRead");
    assert_eq!(from_owner[0]["canDelegate"], true);
    let received = h.json_lines(&[
        "--profile",
        "partner",
        "permissions",
        "list",
        "authorizations",
        "--received",
    ]);
    assert_eq!(
        rows_for(&received, "authorizingEntityIdentifier", &h.nip).len(),
        1
    );

    // An authorization is revoked through its own endpoint: the common one refuses it (KSeF
    // 400, exit 1), --authorization revokes it.
    let (c, err) = code(&h, &["permissions", "revoke", &authorization_id]);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("21405"), "{err}");
    let r = h.json(
        &[
            "permissions",
            "revoke",
            "--authorization",
            &authorization_id,
        ],
        0,
    );
    assert_eq!(r["kind"], "authorization");
    assert_eq!(r["permissionId"], authorization_id.as_str());
    assert_eq!(r["status"]["code"], 200);
    let granted = h.json_lines(&["permissions", "list", "authorizations"]);
    assert!(rows_for(&granted, "authorizedEntityIdentifier", &partner).is_empty());

    // Revoking the person's permissions leaves none active.
    let rows = h.json_lines(&["permissions", "list", "persons"]);
    for r in rows_for(&rows, "authorizedIdentifier", &person) {
        let id = r["id"].as_str().unwrap();
        let out = h.ok(&["permissions", "revoke", id]);
        assert!(out.contains("revoked"), "{out}");
    }
    let rows = h.json_lines(&["permissions", "list", "persons", "--state", "active"]);
    assert!(rows_for(&rows, "authorizedIdentifier", &person).is_empty());
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let h = Harness::start();
    h.login("owner");
    let before = h.json_lines(&["permissions", "list", "persons"]).len();
    let person = format!("Pesel:{}", pesel());
    let cases: Vec<Vec<&str>> = vec![
        // PESEL with a wrong check digit
        vec!["--subject", "Pesel:44051401358"],
        // unknown identifier type
        vec!["--subject", "Regon:123456789"],
        // description too short
        vec!["--subject", &person, "--description", "abc"],
        // a fingerprint needs the person's identifier
        vec![
            "--subject",
            "Fingerprint:6d3c6ad1c6c5b6f1d6a5e0f4a1b7d7e2f1a3c5b7d9e1f3a5c7e9b1d3f5a7c9e1",
        ],
        // --person-id without a fingerprint
        vec!["--subject", &person, "--person-id", "Pesel:44051401359"],
    ];
    for extra in cases {
        let mut args = vec![
            "permissions",
            "grant",
            "person",
            "--permission",
            "invoice-read",
            "--first-name",
            "Jan",
            "--last-name",
            "Kowalski",
        ];
        if !extra.contains(&"--description") {
            args.extend(["--description", "Valid description"]);
        }
        args.extend(extra.iter().copied());
        let (c, err) = code(&h, &args);
        assert_eq!(c, Some(2), "{args:?}: {err}");
        assert!(err.starts_with("ksef: error: "), "{err}");
    }
    let (c, err) = code(
        &h,
        &["--json", "permissions", "revoke", "../../auth/sessions"],
    );
    assert_eq!(c, Some(2), "{err}");
    let doc: Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["exitCode"], 2);
    // clap: a permission the endpoint does not know
    let (c, _) = code(
        &h,
        &[
            "permissions",
            "grant",
            "entity",
            "--nip",
            &nip(),
            "--permission",
            "credentials-manage",
            "--name",
            "Some Entity",
            "--description",
            "Valid description",
        ],
    );
    assert_eq!(c, Some(2));
    assert_eq!(
        h.json_lines(&["permissions", "list", "persons"]).len(),
        before
    );
}

/// A personal certificate for `pesel` (serialNumber PNOPL-…), made by openssl.
fn person_certificate(h: &Harness, pesel: &str) -> (String, String) {
    let subj = format!("/GN=Anna/SN=Nowak/serialNumber=PNOPL-{pesel}/CN=Anna Nowak/C=PL");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "person.key",
            "-out",
            "person.pem",
            "-days",
            "2",
            "-subj",
            &subj,
        ])
        .current_dir(h.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        h.path("person.pem").to_str().unwrap().to_string(),
        h.path("person.key").to_str().unwrap().to_string(),
    )
}

#[test]
fn a_person_works_in_the_context_only_while_a_grant_holds() {
    let h = Harness::start();
    h.login("owner");
    let person = pesel();
    let (cert, key) = person_certificate(&h, &person);
    h.ok(&[
        "profile",
        "add",
        "anna",
        "-e",
        &h.url,
        "-c",
        &format!("Nip:{}", h.nip),
        "--credential",
        "certificate",
        "--certificate",
        &cert,
        "--key",
        &key,
    ]);
    // No permission in the context yet: KSeF refuses the login (exit 4).
    let (c, err) = code(&h, &["--profile", "anna", "auth", "login"]);
    assert_eq!(c, Some(4), "{err}");

    h.ok(&[
        "permissions",
        "grant",
        "person",
        "--subject",
        &format!("Pesel:{person}"),
        "--permission",
        "invoice-read",
        "--first-name",
        "Anna",
        "--last-name",
        "Nowak",
        "--description",
        "Reads the invoices",
    ]);
    h.ok(&["--profile", "anna", "auth", "login"]);
    let mine = h.json_lines(&["--profile", "anna", "permissions", "list", "mine"]);
    let scopes: Vec<&str> = mine
        .iter()
        .map(|r| r["permissionScope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["InvoiceRead"], "{mine:?}");
    assert_eq!(mine[0]["contextIdentifier"]["value"], h.nip.as_str());

    // InvoiceRead does not let her manage permissions: 403, exit 4.
    let (c, err) = code(
        &h,
        &[
            "--profile",
            "anna",
            "permissions",
            "grant",
            "person",
            "--subject",
            &format!("Pesel:{}", pesel()),
            "--permission",
            "invoice-read",
            "--first-name",
            "Jan",
            "--last-name",
            "Kowalski",
            "--description",
            "Not allowed to grant",
        ],
    );
    assert_eq!(c, Some(4), "{err}");

    // Revoked: the next login is refused again.
    let id = mine[0]["id"].as_str().unwrap().to_string();
    h.ok(&["permissions", "revoke", &id]);
    let (c, err) = code(&h, &["--profile", "anna", "auth", "login"]);
    assert_eq!(c, Some(4), "{err}");
}

#[test]
fn listings_read_every_page() {
    let h = Harness::start();
    h.login("owner");
    // 13 persons × 8 permissions = 104 grants: more than one page of 100.
    let all = [
        "invoice-read",
        "invoice-write",
        "credentials-read",
        "credentials-manage",
        "introspection",
        "subunit-manage",
        "enforcement-operations",
        "collective-identifier-manage",
    ];
    let mut persons = Vec::new();
    for i in 0..13 {
        let person = pesel();
        let subject = format!("Pesel:{person}");
        let mut args = vec![
            "-q",
            "permissions",
            "grant",
            "person",
            "--subject",
            &subject,
            "--first-name",
            "Jan",
            "--last-name",
            "Kowalski",
            "--description",
            "Many permissions",
        ];
        for p in all {
            args.extend(["--permission", p]);
        }
        let out = h.ok(&args);
        assert!(out.is_empty(), "-q printed {out:?} (grant {i})");
        persons.push(person);
    }
    let rows = h.json_lines(&["permissions", "list", "persons"]);
    assert_eq!(rows.len(), 104, "{} rows", rows.len());
    let ids: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 104, "a permission came twice");
    for p in &persons {
        assert_eq!(rows_for(&rows, "authorizedIdentifier", p).len(), 8, "{p}");
    }
    let table = h.ok(&["permissions", "list", "persons"]);
    assert!(table.trim_end().ends_with("104 permissions"), "{table}");
}
