//! Generates the raw client from the pinned official OpenAPI document into OUT_DIR.
//!
//! The document is found through `spec/ksef-openapi.lock` (see `ksef_codegen::locate`); when it is
//! missing or does not match the lock, the build stops with one message naming the fix.

use std::path::{Path, PathBuf};

use ksef_codegen::{
    Surface, generate,
    locate::{self, NAMES_PATH, SPEC_ENV},
    names, normalize, parse_document,
};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = locate::pin_root(&manifest);
    println!("cargo::rerun-if-env-changed={SPEC_ENV}");
    println!("cargo::rerun-if-changed={}", root.join("spec").display());
    if let Err(message) = run(&root) {
        for line in message.lines() {
            println!("cargo::error={line}");
        }
    }
}

fn run(root: &Path) -> Result<(), String> {
    let env_value = std::env::var(SPEC_ENV).ok();
    let found = locate::locate(root, env_value.as_deref()).map_err(|e| e.to_string())?;
    println!("cargo::rerun-if-changed={}", found.path.display());
    let overrides_text = std::fs::read_to_string(root.join(NAMES_PATH))
        .map_err(|e| format!("cannot read {NAMES_PATH}: {e}"))?;
    let overrides = names::parse_overrides(&overrides_text).map_err(|e| e.to_string())?;
    let doc = parse_document(&found.bytes).map_err(|e| e.to_string())?;
    let surface = Surface::of(&doc, &overrides).map_err(|e| e.to_string())?;
    let normalized = normalize(&doc, &overrides).map_err(|e| e.to_string())?;
    let generated =
        generate::generate(&normalized, &surface, &found.lock.sha256).map_err(|e| e.to_string())?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("ksef_api.rs"), generated.client)
        .map_err(|e| format!("cannot write the generated client: {e}"))?;
    std::fs::write(out.join("operations.rs"), generated.operations)
        .map_err(|e| format!("cannot write the operation table: {e}"))?;
    Ok(())
}
