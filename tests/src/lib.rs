//! Helpers shared by the workspace-level tests.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// `../shared` beside the workspace (reference data: official spec, XSDs, samples).
pub fn shared_dir() -> PathBuf {
    workspace_root().join("..").join("shared")
}

/// A path under `../shared/spec`.
pub fn shared_spec(file: &str) -> PathBuf {
    shared_dir().join("spec").join(file)
}
