//! Every operation of the simulator's operation table (built by `ksef-codegen` from the pinned
//! spec) is exercised by at least one test that checks the simulator's *state* — what an
//! operation stored is seen by another one — and answers valid against the spec's schemas.
//!
//! [`COVERAGE`] names, for each operation (`"METHOD /path"`), the state tests that exercise it
//! (`file::test`, the file under `ksef-sim/tests/integration/` or `ksef-sim/tests/`). The tests here fail when an operation of the table
//! has no entry, when an entry names an operation the table lacks, and when a named test does
//! not exist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

/// Operation → the state tests that exercise it.
const COVERAGE: &[(&str, &[&str])] = &[
    // authentication
    (
        "POST /auth/challenge",
        &[
            "auth_flow::status_polls_100_then_200_and_redeem_works_once",
            "auth_flow::expired_challenge_is_rejected",
        ],
    ),
    (
        "POST /auth/xades-signature",
        &[
            "auth_xades::xmlsec1_signed_documents_in_every_accepted_form_authenticate",
            "auth_xades::blocked_context_ends_with_480_and_chain_verification_rejects_self_signed",
        ],
    ),
    (
        "POST /auth/ksef-token",
        &["auth_ksef_token::token_lifecycle_and_token_authentication"],
    ),
    (
        "GET /auth/{referenceNumber}",
        &["auth_flow::status_polls_100_then_200_and_redeem_works_once"],
    ),
    (
        "POST /auth/token/redeem",
        &["auth_flow::status_polls_100_then_200_and_redeem_works_once"],
    ),
    (
        "POST /auth/token/refresh",
        &["auth_flow::refresh_sessions_list_and_revocation"],
    ),
    (
        "GET /auth/sessions",
        &[
            "auth_flow::sessions_are_paged_with_continuation_tokens",
            "auth_flow::refresh_sessions_list_and_revocation",
        ],
    ),
    (
        "DELETE /auth/sessions/current",
        &["auth_flow::refresh_sessions_list_and_revocation"],
    ),
    (
        "DELETE /auth/sessions/{referenceNumber}",
        &["auth_flow::refresh_sessions_list_and_revocation"],
    ),
    (
        "GET /security/public-key-certificates",
        &[
            "platform_keys::published_certificates_have_correct_identifiers",
            "auth_ksef_token::key_rotation_add_and_withdraw",
        ],
    ),
    // KSeF tokens
    (
        "POST /tokens",
        &["auth_ksef_token::token_lifecycle_and_token_authentication"],
    ),
    (
        "GET /tokens",
        &["auth_ksef_token::token_lifecycle_and_token_authentication"],
    ),
    (
        "GET /tokens/{referenceNumber}",
        &["auth_ksef_token::token_lifecycle_and_token_authentication"],
    ),
    (
        "DELETE /tokens/{referenceNumber}",
        &["auth_ksef_token::token_lifecycle_and_token_authentication"],
    ),
    // sessions and invoices
    (
        "POST /sessions/online",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "POST /sessions/online/{referenceNumber}/invoices",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "POST /sessions/online/{referenceNumber}/close",
        &[
            "invoicing_online::online_happy_path_with_upos_and_download",
            "invoicing_online::empty_session_is_cancelled_with_440",
        ],
    ),
    (
        "POST /sessions/batch",
        &["invoicing_batch::batch_zip_happy_path"],
    ),
    (
        "POST /sessions/batch/{referenceNumber}/close",
        &["invoicing_batch::batch_zip_happy_path"],
    ),
    (
        "GET /sessions",
        &["invoicing_online::session_list_pages_and_filters"],
    ),
    (
        "GET /sessions/{referenceNumber}",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "GET /sessions/{referenceNumber}/invoices",
        &["invoicing_online::invoice_rules_give_450_and_failed_list_pages"],
    ),
    (
        "GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "GET /sessions/{referenceNumber}/invoices/failed",
        &["invoicing_online::invoice_rules_give_450_and_failed_list_pages"],
    ),
    (
        "GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo",
        &["invoicing_online::online_happy_path_with_upos_and_download"],
    ),
    (
        "GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}",
        &["invoicing_online::session_upo_in_pages"],
    ),
    (
        "GET /invoices/ksef/{ksefNumber}",
        &[
            "invoicing_online::online_happy_path_with_upos_and_download",
            "invoicing_retrieval::third_subject_sees_the_invoice_as_subject3",
        ],
    ),
    (
        "POST /invoices/query/metadata",
        &["invoicing_retrieval::metadata_query_paging_sorting_truncation_and_hwm"],
    ),
    (
        "POST /invoices/exports",
        &["invoicing_retrieval::export_zip_in_parts_decrypts_and_unpacks"],
    ),
    (
        "GET /invoices/exports/{referenceNumber}",
        &[
            "invoicing_retrieval::export_zip_in_parts_decrypts_and_unpacks",
            "invoicing_retrieval::export_package_expires_with_210",
        ],
    ),
    // collective identifiers
    (
        "POST /collective-identifiers",
        &[
            "collective_identifiers_state::a_collective_identifier_is_found_by_date_by_number_and_by_each_invoice",
            "collective_identifiers_state::generation_refuses_what_ksef_refuses",
        ],
    ),
    (
        "POST /collective-identifiers/query",
        &[
            "collective_identifiers_state::a_collective_identifier_is_found_by_date_by_number_and_by_each_invoice",
            "collective_identifiers_state::the_lists_page_with_continuation_tokens",
        ],
    ),
    (
        "POST /collective-identifiers/invoices",
        &[
            "collective_identifiers_state::a_collective_identifier_is_found_by_date_by_number_and_by_each_invoice",
            "collective_identifiers_state::the_buyer_sees_the_details_a_stranger_only_the_numbers",
        ],
    ),
    (
        "GET /collective-identifiers/ksef/{ksefNumber}",
        &[
            "collective_identifiers_state::a_collective_identifier_is_found_by_date_by_number_and_by_each_invoice",
            "collective_identifiers_state::the_buyer_sees_the_details_a_stranger_only_the_numbers",
        ],
    ),
    // permissions
    (
        "POST /permissions/persons/grants",
        &["permissions_state::a_person_grant_appears_counts_is_enforced_and_goes_when_revoked"],
    ),
    (
        "POST /permissions/entities/grants",
        &["permissions_state::entity_grants_are_received_by_the_entity_and_let_its_seal_in"],
    ),
    (
        "POST /permissions/authorizations/grants",
        &[
            "permissions_state::the_seller_must_be_the_context_or_have_authorized_it_and_the_duplicate_key_is_per_seller",
        ],
    ),
    (
        "POST /permissions/indirect/grants",
        &["permissions_state::entity_grants_are_received_by_the_entity_and_let_its_seal_in"],
    ),
    (
        "POST /permissions/subunits/grants",
        &["permissions_state::subunit_and_eu_entity_administrators_are_stored_and_listed"],
    ),
    (
        "POST /permissions/eu-entities/administration/grants",
        &["permissions_state::subunit_and_eu_entity_administrators_are_stored_and_listed"],
    ),
    (
        "POST /permissions/eu-entities/grants",
        &["permissions_state::subunit_and_eu_entity_administrators_are_stored_and_listed"],
    ),
    (
        "DELETE /permissions/common/grants/{permissionId}",
        &["permissions_state::a_person_grant_appears_counts_is_enforced_and_goes_when_revoked"],
    ),
    (
        "DELETE /permissions/authorizations/grants/{permissionId}",
        &[
            "permissions_state::the_seller_must_be_the_context_or_have_authorized_it_and_the_duplicate_key_is_per_seller",
        ],
    ),
    (
        "GET /permissions/operations/{referenceNumber}",
        &["permissions_state::a_person_grant_appears_counts_is_enforced_and_goes_when_revoked"],
    ),
    (
        "GET /permissions/attachments/status",
        &["platform_cross::limits_and_test_data_endpoints"],
    ),
    (
        "POST /permissions/query/personal/grants",
        &["permissions_state::a_person_grant_appears_counts_is_enforced_and_goes_when_revoked"],
    ),
    (
        "POST /permissions/query/persons/grants",
        &[
            "permissions_state::a_person_grant_appears_counts_is_enforced_and_goes_when_revoked",
            "permissions_state::person_queries_page_with_has_more",
        ],
    ),
    (
        "POST /permissions/query/subunits/grants",
        &["permissions_state::subunit_and_eu_entity_administrators_are_stored_and_listed"],
    ),
    (
        "POST /permissions/query/entities/grants",
        &["permissions_state::entity_grants_are_received_by_the_entity_and_let_its_seal_in"],
    ),
    (
        "POST /permissions/query/authorizations/grants",
        &[
            "permissions_state::the_seller_must_be_the_context_or_have_authorized_it_and_the_duplicate_key_is_per_seller",
        ],
    ),
    (
        "POST /permissions/query/eu-entities/grants",
        &["permissions_state::subunit_and_eu_entity_administrators_are_stored_and_listed"],
    ),
    (
        "GET /permissions/query/entities/roles",
        &[
            "permissions_roles::a_vat_group_and_its_members_have_their_roles_until_removed",
            "permissions_roles::a_jst_an_enforcement_authority_and_a_bailiff_have_their_roles",
        ],
    ),
    (
        "POST /permissions/query/subordinate-entities/roles",
        &[
            "permissions_roles::a_vat_group_and_its_members_have_their_roles_until_removed",
            "permissions_roles::a_jst_an_enforcement_authority_and_a_bailiff_have_their_roles",
        ],
    ),
    // limits
    (
        "GET /limits/context",
        &["platform_cross::limits_and_test_data_endpoints"],
    ),
    (
        "GET /limits/subject",
        &[
            "platform_cross::limits_and_test_data_endpoints",
            "limits_state::certificate_limit_overrides_are_reset",
        ],
    ),
    (
        "GET /rate-limits",
        &[
            "platform_cross::per_context_limits_and_effective_values_follow_the_spec",
            "limits_state::rate_limit_overrides_are_replaced_by_production_values_and_reset",
        ],
    ),
    // test data
    (
        "POST /testdata/subject",
        &["permissions_roles::a_vat_group_and_its_members_have_their_roles_until_removed"],
    ),
    (
        "POST /testdata/subject/remove",
        &["permissions_roles::a_vat_group_and_its_members_have_their_roles_until_removed"],
    ),
    (
        "POST /testdata/person",
        &[
            "permissions_roles::a_jst_an_enforcement_authority_and_a_bailiff_have_their_roles",
            "auth_xades::subject_rules_seal_pesel_fingerprint_and_failures",
        ],
    ),
    (
        "POST /testdata/person/remove",
        &["permissions_roles::a_jst_an_enforcement_authority_and_a_bailiff_have_their_roles"],
    ),
    (
        "POST /testdata/permissions",
        &[
            "auth_xades::subject_rules_seal_pesel_fingerprint_and_failures",
            "permissions_roles::the_role_queries_need_a_credentials_permission",
        ],
    ),
    (
        "POST /testdata/permissions/revoke",
        &["auth_xades::subject_rules_seal_pesel_fingerprint_and_failures"],
    ),
    (
        "POST /testdata/attachment",
        &[
            "invoicing_batch::attachments_need_the_taxpayer_option",
            "platform_cross::limits_and_test_data_endpoints",
        ],
    ),
    (
        "POST /testdata/attachment/revoke",
        &["platform_cross::limits_and_test_data_endpoints"],
    ),
    (
        "POST /testdata/context/block",
        &["auth_xades::blocked_context_ends_with_480_and_chain_verification_rejects_self_signed"],
    ),
    (
        "POST /testdata/context/unblock",
        &["auth_xades::blocked_context_ends_with_480_and_chain_verification_rejects_self_signed"],
    ),
    (
        "POST /testdata/limits/context/session",
        &[
            "platform_cross::limits_and_test_data_endpoints",
            "collective_identifiers_state::generation_refuses_what_ksef_refuses",
        ],
    ),
    (
        "DELETE /testdata/limits/context/session",
        &["platform_cross::limits_and_test_data_endpoints"],
    ),
    (
        "POST /testdata/limits/subject/certificate",
        &[
            "platform_cross::limits_and_test_data_endpoints",
            "limits_state::certificate_limit_overrides_are_reset",
        ],
    ),
    (
        "DELETE /testdata/limits/subject/certificate",
        &["limits_state::certificate_limit_overrides_are_reset"],
    ),
    (
        "POST /testdata/rate-limits",
        &[
            "platform_cross::per_context_limits_and_effective_values_follow_the_spec",
            "limits_state::rate_limit_overrides_are_replaced_by_production_values_and_reset",
        ],
    ),
    (
        "DELETE /testdata/rate-limits",
        &["limits_state::rate_limit_overrides_are_replaced_by_production_values_and_reset"],
    ),
    (
        "POST /testdata/rate-limits/production",
        &["limits_state::rate_limit_overrides_are_replaced_by_production_values_and_reset"],
    ),
    // certificates
    (
        "GET /certificates/limits",
        &[
            "certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked",
            "certificates_state::requests_are_checked_and_limits_are_enforced",
        ],
    ),
    (
        "GET /certificates/enrollments/data",
        &["certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked"],
    ),
    (
        "POST /certificates/enrollments",
        &[
            "certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked",
            "certificates_state::requests_are_checked_and_limits_are_enforced",
        ],
    ),
    (
        "GET /certificates/enrollments/{referenceNumber}",
        &["certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked"],
    ),
    (
        "POST /certificates/retrieve",
        &["certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked"],
    ),
    (
        "POST /certificates/{certificateSerialNumber}/revoke",
        &["certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked"],
    ),
    (
        "POST /certificates/query",
        &["certificates_state::an_enrolled_certificate_authenticates_until_it_is_revoked"],
    ),
    (
        "PUT /testdata/certificates/{serialNumber}",
        &[
            "certificates_state::an_offline_certificate_signs_but_does_not_authenticate_and_an_expired_one_neither",
        ],
    ),
    // Peppol
    (
        "GET /peppol/query",
        &["peppol_state::a_provider_is_registered_at_its_first_authentication"],
    ),
];

fn table() -> BTreeSet<String> {
    ksef_sim::ops::all().iter().map(|o| o.key()).collect()
}

#[test]
fn every_operation_of_the_table_has_a_state_test() {
    let table = table();
    assert_eq!(
        table.len(),
        ksef_sim::ops::all().len(),
        "operation keys repeat"
    );
    let mut listed = BTreeSet::new();
    for key in COVERAGE.iter().map(|(k, _)| *k) {
        assert!(listed.insert(key.to_string()), "{key} is listed twice");
    }
    let missing: Vec<&String> = table.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "operations without a state test: {missing:#?}"
    );
    let unknown: Vec<&String> = listed.difference(&table).collect();
    assert!(
        unknown.is_empty(),
        "not operations of the table: {unknown:#?}"
    );
    for (key, tests) in COVERAGE {
        assert!(!tests.is_empty(), "{key} names no test");
    }
}

/// Whether `source` defines a test function `name`: `fn name(` right under attributes of which
/// one is `#[test]` or `#[tokio::test]`.
fn defines_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().map(str::trim_start).collect();
    lines.iter().enumerate().any(|(i, l)| {
        let is_fn =
            l.starts_with(&format!("async fn {name}(")) || l.starts_with(&format!("fn {name}("));
        is_fn
            && lines[..i]
                .iter()
                .rev()
                .take_while(|a| a.starts_with("#["))
                .any(|a| a.starts_with("#[test]") || a.starts_with("#[tokio::test"))
    })
}

#[test]
fn every_named_test_exists() {
    let tests_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let integration = tests_dir.join("integration");
    let mut absent = Vec::new();
    for (key, tests) in COVERAGE {
        for t in *tests {
            let (file, name) = t
                .split_once("::")
                .unwrap_or_else(|| panic!("{key}: '{t}' is not file::test"));
            let in_integration = integration.join(format!("{file}.rs"));
            let path = if in_integration.exists() {
                in_integration
            } else {
                tests_dir.join(format!("{file}.rs"))
            };
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{key}: {}: {e}", path.display()));
            if !defines_test(&source, name) {
                absent.push(format!("{key}: {t}"));
            }
        }
    }
    assert!(
        absent.is_empty(),
        "named tests that do not exist: {absent:#?}"
    );
}

#[test]
fn the_checker_finds_what_is_there_and_only_that() {
    let src = "#[tokio::test]\nasync fn real_one() {}\n\nfn helper() {}\n";
    assert!(defines_test(src, "real_one"));
    assert!(!defines_test(src, "helper"));
    assert!(!defines_test(src, "real"));
}
