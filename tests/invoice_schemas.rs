//! Invoice schema drift: the committed snapshot of the invoice schema surface (types, elements,
//! attributes, facets of FA (3), FA_RR (1) and their base schemas) must match the pinned XSDs, and
//! a change of a schema shows up as a readable diff.
//!
//! After a deliberate re-pin, `cargo xtask regen-schemas --from DIR` rewrites the snapshot (review
//! with `git diff`), or `cargo insta review` shows the pending change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ksef_codegen::{schemas, schemas_regen, schemas_surface, snapshots};
use ksef_tests::{shared_dir, workspace_root};

fn schemas_dir() -> PathBuf {
    std::env::var(schemas::SCHEMAS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|_| shared_dir().join("ksef-schemas"))
}

#[test]
fn invoice_schema_surface() {
    let env = std::env::var(schemas::SCHEMAS_ENV).ok();
    let located =
        schemas::locate(&workspace_root(), env.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!(
        "invoice_schema_surface",
        schemas_surface::render(&located).unwrap()
    );
}

#[test]
fn the_pin_names_both_forms_and_every_imported_file() {
    let lock = schemas::read_lock(&workspace_root()).unwrap();
    assert_eq!(lock.version, "FA (3) 1-0E, FA_RR (1) 1-1E");
    assert_eq!(lock.files.len(), 5, "{:?}", lock.files.keys());
    assert!(
        lock.files.keys().all(|p| !p.contains("PEF")),
        "PEF is not generated"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch workspace (lock and snapshot) and a scratch copy of the schemas.
fn scratch(tag: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("ksef-schema-drift-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let ws = base.join("ws");
    std::fs::create_dir_all(ws.join("spec")).unwrap();
    std::fs::create_dir_all(ws.join("tests/snapshots")).unwrap();
    let snap = "tests/snapshots/invoice_schemas__invoice_schema_surface.snap";
    std::fs::copy(
        workspace_root().join(schemas::SCHEMAS_LOCK_PATH),
        ws.join(schemas::SCHEMAS_LOCK_PATH),
    )
    .unwrap();
    std::fs::copy(workspace_root().join(snap), ws.join(snap)).unwrap();
    let xsd = base.join("schemas");
    std::fs::create_dir_all(xsd.join("faktury/schemy/FA/bazowe")).unwrap();
    std::fs::create_dir_all(xsd.join("faktury/schemy/RR")).unwrap();
    copy_dir(
        &schemas_dir().join("faktury/schemy/FA"),
        &xsd.join("faktury/schemy/FA"),
    );
    copy_dir(
        &schemas_dir().join("faktury/schemy/RR"),
        &xsd.join("faktury/schemy/RR"),
    );
    (ws, xsd)
}

#[test]
fn a_changed_schema_shows_as_a_snapshot_diff_and_fails_the_check_and_the_build_pin() {
    let (ws, xsd) = scratch("change");
    let dir = xsd.to_string_lossy().into_owned();
    let check = |ws: &Path| {
        schemas_regen::run(
            ws,
            &schemas_regen::Options {
                from: None,
                check: true,
            },
            Some(&dir),
        )
    };
    check(&ws).unwrap();

    // A new optional element after P_1M, as a new schema version might add.
    let fa3 = xsd.join("faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd");
    let text = std::fs::read_to_string(&fa3).unwrap();
    let at = text.find("<xsd:element name=\"P_2\"").unwrap();
    let changed = format!(
        "{}<xsd:element name=\"P_1N\" type=\"tns:TZnakowy\" minOccurs=\"0\"/>{}",
        &text[..at],
        &text[at..]
    );
    std::fs::write(&fa3, changed).unwrap();

    // The build's pin no longer matches, and says how to fix it.
    let err = schemas::locate(&ws, Some(&dir)).unwrap_err().to_string();
    assert!(err.contains("schemat_FA(3)_v1-0E.xsd has sha256"), "{err}");
    assert!(err.contains("cargo xtask regen-schemas --from"), "{err}");

    // Re-pinning shows the change as a one-line snapshot diff.
    let old = std::fs::read_to_string(schemas_surface::snapshot_path(&ws)).unwrap();
    let report = schemas_regen::run(
        &ws,
        &schemas_regen::Options {
            from: Some(dir.clone()),
            check: false,
        },
        None,
    )
    .unwrap();
    assert!(
        report.iter().any(|l| l.contains("snapshot changed")),
        "{report:?}"
    );
    let new = std::fs::read_to_string(schemas_surface::snapshot_path(&ws)).unwrap();
    let diff = snapshots::diff(
        snapshots::body_of(&old).unwrap(),
        snapshots::body_of(&new).unwrap(),
        100,
    );
    assert_eq!(
        diff.trim(),
        "+              element name=\"P_1N\" type=\"tns:TZnakowy\" minOccurs=\"0\"",
        "{diff}"
    );
    check(&ws).unwrap();

    // A snapshot that disagrees with the pin fails the check with the diff and the fix.
    std::fs::write(schemas_surface::snapshot_path(&ws), &old).unwrap();
    let err = check(&ws).unwrap_err();
    assert!(
        err.contains("P_1N") && err.contains("cargo xtask regen-schemas"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(ws.parent().unwrap());
}
