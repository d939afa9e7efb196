//! Finding the pinned OpenAPI document on disk.
//!
//! Candidates, in order: the path in `KSEF_OPENAPI_SPEC` (which `.cargo/config.toml` points at
//! `../shared/spec/ksef-openapi-2.9.0.json`), then `spec/ksef-openapi.json` (the git-ignored copy
//! that `cargo xtask regen-spec` writes). The first candidate whose SHA-256 equals the lock wins, so
//! the lock, not the search order, decides which document is used.

use std::path::{Path, PathBuf};

use crate::{SpecError, SpecLock, lock::sha256_hex};

/// Name of the environment variable that points at the document.
pub const SPEC_ENV: &str = "KSEF_OPENAPI_SPEC";
/// The lock file, relative to the workspace root.
pub const LOCK_PATH: &str = "spec/ksef-openapi.lock";
/// The git-ignored local copy, relative to the workspace root.
pub const LOCAL_COPY: &str = "spec/ksef-openapi.json";
/// The override map, relative to the workspace root.
pub const NAMES_PATH: &str = "spec/operation-names.txt";

/// The folder whose `spec/` holds the pin (lock and operation names) for a crate built from
/// `manifest_dir`: the workspace root (the crate's parent) when it has the lock, else the crate's
/// own folder, which is where a packaged crate carries the pin (`ksef-api/spec` and
/// `ksef-sim/spec` link to the workspace's `spec/`, so `cargo package` copies it in).
pub fn pin_root(manifest_dir: &Path) -> PathBuf {
    match manifest_dir.parent() {
        Some(parent) if parent.join(LOCK_PATH).is_file() => parent.to_path_buf(),
        Some(_) if manifest_dir.join(LOCK_PATH).is_file() => manifest_dir.to_path_buf(),
        Some(parent) => parent.to_path_buf(),
        None => manifest_dir.to_path_buf(),
    }
}

/// A document found on disk that matches the lock.
#[derive(Debug)]
pub struct Located {
    /// Where it was found.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The lock it matched.
    pub lock: SpecLock,
}

/// Reads the lock file of a workspace.
pub fn read_lock(workspace_root: &Path) -> Result<SpecLock, SpecError> {
    let path = workspace_root.join(LOCK_PATH);
    let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Io { path, source })?;
    SpecLock::parse(&text)
}

/// The candidate paths, in order.
pub fn candidates(workspace_root: &Path, env_value: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = env_value.filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        out.push(if p.is_absolute() {
            p
        } else {
            workspace_root.join(p)
        });
    }
    out.push(workspace_root.join(LOCAL_COPY));
    out
}

/// Finds the document that matches the lock, or explains what is missing and the one command that
/// fixes it.
pub fn locate(workspace_root: &Path, env_value: Option<&str>) -> Result<Located, SpecError> {
    let lock = read_lock(workspace_root)?;
    let mut seen = Vec::new();
    for path in candidates(workspace_root, env_value) {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let sha = sha256_hex(&bytes);
                if sha == lock.sha256 {
                    return Ok(Located { path, bytes, lock });
                }
                seen.push(format!(
                    "  {} has sha256 {sha} (does not match the lock)",
                    path.display()
                ));
            }
            Err(_) => seen.push(format!("  {} does not exist", path.display())),
        }
    }
    Err(SpecError::NotFound(format!(
        "the KSeF OpenAPI document pinned by {LOCK_PATH} (version {}, sha256 {}) was not found:\n{}\n\
         Fix: run `cargo xtask regen-spec` to download it (or `cargo xtask regen-spec --from PATH_OR_URL` to pin another \
         document), or set {SPEC_ENV} to the absolute path of the pinned document (outside the ksef-rs repository: \
         download {} and check its sha256).",
        lock.version,
        lock.sha256,
        seen.join("\n"),
        crate::lock::OFFICIAL_SPEC_URL
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_with(doc: &[u8], lock_doc: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ksef-codegen-locate-{}-{}",
            std::process::id(),
            sha256_hex(doc)
        ));
        std::fs::create_dir_all(dir.join("spec")).unwrap();
        let lock = SpecLock {
            version: "9.9.9".into(),
            source: "test".into(),
            sha256: sha256_hex(lock_doc),
        };
        std::fs::write(dir.join(LOCK_PATH), lock.render()).unwrap();
        std::fs::write(dir.join("elsewhere.json"), doc).unwrap();
        dir
    }

    #[test]
    fn finds_the_env_path_when_it_matches() {
        let dir = workspace_with(b"{\"a\":1}", b"{\"a\":1}");
        let found = locate(&dir, Some("elsewhere.json")).unwrap();
        assert_eq!(found.path, dir.join("elsewhere.json"));
        assert_eq!(found.lock.version, "9.9.9");
    }

    #[test]
    fn falls_back_to_the_local_copy() {
        let dir = workspace_with(b"{\"b\":1}", b"{\"b\":2}");
        std::fs::write(dir.join(LOCAL_COPY), b"{\"b\":2}").unwrap();
        let found = locate(&dir, Some("elsewhere.json")).unwrap();
        assert_eq!(found.path, dir.join(LOCAL_COPY));
    }

    #[test]
    fn the_pin_is_found_in_the_workspace_or_in_a_packaged_crate() {
        let ws = workspace_with(b"{\"p\":1}", b"{\"p\":1}");
        let krate = ws.join("ksef-api");
        std::fs::create_dir_all(&krate).unwrap();
        assert_eq!(pin_root(&krate), ws);
        // a packaged crate: no lock beside it, its own spec/ has one
        let registry =
            std::env::temp_dir().join(format!("ksef-codegen-pin-{}", std::process::id()));
        let packaged = registry.join("ksef-api-0.1.0");
        std::fs::create_dir_all(packaged.join("spec")).unwrap();
        assert_eq!(pin_root(&packaged), registry);
        std::fs::copy(ws.join(LOCK_PATH), packaged.join(LOCK_PATH)).unwrap();
        assert_eq!(pin_root(&packaged), packaged);
    }

    #[test]
    fn explains_a_mismatch_and_names_the_fix() {
        let dir = workspace_with(b"{\"c\":1}", b"{\"c\":2}");
        let err = locate(&dir, Some("elsewhere.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match the lock"), "{err}");
        assert!(err.contains("does not exist"), "{err}");
        assert!(err.contains("cargo xtask regen-spec"), "{err}");
    }
}
