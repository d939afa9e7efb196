//! Spec drift: the committed snapshots of the API surface and the schema set must match the pinned
//! document, and the machinery must show real upstream changes (2.6.0 → 2.7.0, 2.7.0 → 2.9.0) as a
//! readable diff.
//!
//! When a snapshot fails after a deliberate re-pin, `cargo xtask regen-spec --from ...` rewrites it
//! (review with `git diff`), or `cargo insta review` shows the pending change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use ksef_codegen::{SpecDiff, Surface, locate, names, parse_document, regen, snapshots};
use ksef_tests::{shared_spec, workspace_root};

fn overrides() -> names::Overrides {
    names::parse_overrides(
        &std::fs::read_to_string(workspace_root().join(locate::NAMES_PATH)).unwrap(),
    )
    .unwrap()
}

fn surface_of(bytes: &[u8]) -> Surface {
    Surface::of(&parse_document(bytes).unwrap(), &overrides()).unwrap()
}

fn pinned() -> Surface {
    let env = std::env::var(locate::SPEC_ENV).ok();
    let found = locate::locate(&workspace_root(), env.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    surface_of(&found.bytes)
}

#[test]
fn api_surface_snapshot() {
    let surface = pinned();
    insta::assert_snapshot!("api_surface", surface.render_operations());
}

#[test]
fn api_schemas_snapshot() {
    let surface = pinned();
    insta::assert_snapshot!("api_schemas", surface.render_schemas());
}

#[test]
fn the_pinned_surface_has_every_operation_of_2_9_0() {
    let surface = pinned();
    assert_eq!(surface.api_version, "2.9.0");
    assert_eq!(surface.operations.len(), 83);
    let names: BTreeSet<&str> = surface.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), 83, "operation names are unique");
}

fn read(file: &str) -> Vec<u8> {
    let path = shared_spec(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared must lie beside the clone)",
            path.display()
        )
    })
}

#[test]
fn drift_2_6_0_to_2_7_0_is_exactly_5_operations_and_13_schemas() {
    let old = surface_of(&read("ksef-openapi-2.6.0.json"));
    let new = surface_of(&read("ksef-openapi-2.7.0.json"));
    let (old_ops, new_ops) = (old.operation_keys(), new.operation_keys());
    let added: Vec<&String> = new_ops.difference(&old_ops).collect();
    let removed: Vec<&String> = old_ops.difference(&new_ops).collect();
    assert!(removed.is_empty(), "removed: {removed:?}");
    assert_eq!(
        added,
        vec![
            "GET /collective-identifiers/ksef/{ksefNumber}",
            "GET /collective-identifiers/{collectiveIdentifierNumber}/invoices",
            "POST /collective-identifiers",
            "POST /collective-identifiers/query",
            "PUT /testdata/certificates/{serialNumber}",
        ]
    );
    let old_schemas: BTreeSet<&String> = old.schemas.keys().collect();
    let new_schemas: BTreeSet<&String> = new.schemas.keys().collect();
    assert!(
        old_schemas.is_subset(&new_schemas),
        "2.7.0 removed schemas: {:?}",
        old_schemas.difference(&new_schemas).collect::<Vec<_>>()
    );
    assert_eq!(
        new_schemas.difference(&old_schemas).count(),
        13,
        "added: {:?}",
        new_schemas.difference(&old_schemas).collect::<Vec<_>>()
    );
}

fn diff(old: &str, new: &str) -> SpecDiff {
    SpecDiff::between(
        &parse_document(&read(old)).unwrap(),
        &parse_document(&read(new)).unwrap(),
    )
    .unwrap()
}

#[test]
fn drift_2_6_0_to_2_7_0_counts_every_change() {
    let d = diff("ksef-openapi-2.6.0.json", "ksef-openapi-2.7.0.json");
    assert_eq!(
        d.summary(),
        "2.6.0 -> 2.7.0: operations +5 -0 ~39, schemas +13 -0 ~17"
    );
}

#[test]
fn drift_2_7_0_to_2_9_0_replaces_one_operation_adds_4_schemas_changes_19_schemas_and_43_operations()
{
    let d = diff("ksef-openapi-2.7.0.json", "ksef-openapi-2.9.0.json");
    assert_eq!(
        d.summary(),
        "2.7.0 -> 2.9.0: operations +1 -1 ~43, schemas +4 -0 ~19"
    );
    assert_eq!(
        d.operations_removed,
        ["GET /collective-identifiers/{collectiveIdentifierNumber}/invoices"]
    );
    assert_eq!(
        d.operations_added,
        ["POST /collective-identifiers/invoices"]
    );
    assert_eq!(
        d.schemas_added,
        [
            "CollectiveIdentifierContextLimitsOverride",
            "CollectiveIdentifierEffectiveContextLimits",
            "CollectiveIdentifierInvoicesQueryRequest",
            "OwnerPermissionScope",
        ]
    );
    assert_eq!(
        d.schemas_changed,
        [
            "ApiRateLimitsOverride",
            "CollectiveIdentifierInvoice",
            "CollectiveIdentifierInvoicesQueryResponseItem",
            "CurrencyCode",
            "EffectiveApiRateLimits",
            "EffectiveContextLimits",
            "EntityPermissionItemScope",
            "EntityPermissionType",
            "ForbiddenProblemDetails",
            "GenerateCollectiveIdentifierRequest",
            "GenerateCollectiveIdentifierResponse",
            "IndirectPermissionType",
            "InvoiceExportStatusResponse",
            "InvoicePackage",
            "InvoiceQueryFilters",
            "PublicKeyCertificate",
            "QueryPersonalPermissionsResponse",
            "SetSessionLimitsRequest",
            "SystemWarning",
        ]
    );
    // Among the 43: the close operations (own limit groups), the invoice send (21001, 21184),
    // the metadata query (21001; its filter's range shrank to 100 days in the schema).
    for op in [
        "POST /sessions/online/{referenceNumber}/close",
        "POST /sessions/batch/{referenceNumber}/close",
        "POST /sessions/online/{referenceNumber}/invoices",
        "POST /invoices/query/metadata",
        "GET /rate-limits",
        "GET /invoices/exports/{referenceNumber}",
    ] {
        assert!(d.operations_changed.iter().any(|c| c == op), "{op}");
    }
}

#[test]
fn drift_2_7_0_to_2_9_0_moves_the_close_operations_into_their_own_limit_groups() {
    let old = surface_of(&read("ksef-openapi-2.7.0.json"));
    let new = surface_of(&read("ksef-openapi-2.9.0.json"));
    let facts = |s: &Surface, name: &str| {
        let op = s.operations.iter().find(|o| o.name == name).unwrap();
        (
            op.rate_limit_group.clone().unwrap(),
            op.rate_limits.unwrap().to_string(),
        )
    };
    assert_eq!(
        facts(&old, "online_session_close"),
        ("onlineSession".into(), "10/s 30/min 120/h".into())
    );
    assert_eq!(
        facts(&new, "online_session_close"),
        ("onlineSessionClose".into(), "20/s 60/min 240/h".into())
    );
    assert_eq!(
        facts(&old, "batch_session_close"),
        ("batchSession".into(), "10/s 20/min 60/h".into())
    );
    assert_eq!(
        facts(&new, "batch_session_close"),
        ("batchSessionClose".into(), "20/s 40/min 120/h".into())
    );
    // Opening stays in the old groups.
    assert_eq!(facts(&new, "online_session_open").0, "onlineSession");
    assert_eq!(facts(&new, "batch_session_open").0, "batchSession");
}

/// A scratch workspace: the lock, the override map and the committed snapshots.
fn scratch_workspace(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ksef-drift-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("spec")).unwrap();
    std::fs::create_dir_all(dir.join("tests/snapshots")).unwrap();
    let root = workspace_root();
    for f in [
        locate::LOCK_PATH,
        locate::NAMES_PATH,
        "tests/snapshots/spec_drift__api_surface.snap",
        "tests/snapshots/spec_drift__api_schemas.snap",
    ] {
        std::fs::copy(root.join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn regen_spec_from_2_6_0_shows_the_drift_as_a_snapshot_change_and_check_catches_it() {
    let dir = scratch_workspace("regen");
    let old_text =
        std::fs::read_to_string(dir.join("tests/snapshots/spec_drift__api_surface.snap")).unwrap();
    let v260 = shared_spec("ksef-openapi-2.6.0.json");
    let v290 = shared_spec("ksef-openapi-2.9.0.json");
    let v290s = v290.to_string_lossy().into_owned();

    // The committed state agrees with 2.9.0.
    regen::run(
        &dir,
        &regen::Options {
            from: None,
            check: true,
        },
        Some(&v290s),
    )
    .unwrap();

    // Re-pin to 2.6.0: lock and snapshots change.
    let report = regen::run(
        &dir,
        &regen::Options {
            from: Some(v260.to_string_lossy().into_owned()),
            check: false,
        },
        Some(&v290s),
    )
    .unwrap();
    assert!(
        report.iter().any(|l| l.contains("snapshots changed")),
        "{report:?}"
    );
    // The drift from the previous pin is reported, and the stale KSEF_OPENAPI_SPEC named.
    assert!(
        report.iter().any(|l| l
            == "drift from the previous pin: 2.9.0 -> 2.6.0: operations +0 -5 ~51, schemas +0 -17 ~29"),
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .any(|l| l.contains("- operation PUT /testdata/certificates/{serialNumber}")),
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .any(|l| l.contains("KSEF_OPENAPI_SPEC points at") && l.contains(".cargo/config.toml")),
        "{report:?}"
    );
    let lock = std::fs::read_to_string(dir.join(locate::LOCK_PATH)).unwrap();
    assert!(lock.contains("version = \"2.6.0\""), "{lock}");
    let new_text =
        std::fs::read_to_string(dir.join("tests/snapshots/spec_drift__api_surface.snap")).unwrap();
    let diff = snapshots::diff(
        snapshots::body_of(&old_text).unwrap(),
        snapshots::body_of(&new_text).unwrap(),
        10_000,
    );
    let removed_ops: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with("-") && l.contains("  ("))
        .collect();
    assert_eq!(removed_ops.len(), 5, "{diff}");
    assert!(
        diff.contains("-PUT /testdata/certificates/{serialNumber}"),
        "{diff}"
    );

    // The 2.6.0 pin is self-consistent (the build now uses the local copy, not the 2.9.0 env path).
    regen::run(
        &dir,
        &regen::Options {
            from: None,
            check: true,
        },
        Some(&v290s),
    )
    .unwrap();

    // Snapshots that disagree with the pin fail the check with a diff.
    std::fs::write(
        dir.join("tests/snapshots/spec_drift__api_surface.snap"),
        &old_text,
    )
    .unwrap();
    let err = regen::run(
        &dir,
        &regen::Options {
            from: None,
            check: true,
        },
        Some(&v290s),
    )
    .unwrap_err();
    assert!(
        err.contains("-PUT /testdata/certificates/{serialNumber}"),
        "{err}"
    );
    assert!(err.contains("cargo xtask regen-spec"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_fails_when_no_document_matches_the_lock() {
    let dir = scratch_workspace("missing");
    let err = regen::run(
        &dir,
        &regen::Options {
            from: None,
            check: true,
        },
        Some("/nonexistent/spec.json"),
    )
    .unwrap_err();
    assert!(
        err.contains("does not exist") && err.contains("cargo xtask regen-spec"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
