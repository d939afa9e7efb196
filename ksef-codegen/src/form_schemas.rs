//! The pin of every invoice form's official schema (FA (2), FA (3), FA_RR (1), PEF (3),
//! PEF_KOR (3)) with everything each root imports: what `ksef-sim` validates received invoices
//! against. It follows the convention of [`crate::schemas`] (same folders, same
//! `KSEF_SCHEMAS_DIR`, same `file = "<sha256>  <path>"` lines) in its own lock,
//! `spec/ksef-form-schemas.lock`, because the generation pin there deliberately stays limited to the
//! two forms `ksef-invoice-xsd` generates types for. `cargo xtask regen-schemas` writes both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::SpecError;
use crate::lock::sha256_hex;
use crate::schemas::{
    BASE_DIR, FA_RR_PREFIX, FA3_PREFIX, SCHEMAS_ENV, SCHEMAS_LOCAL_COPY, candidates, find_pinned,
    newest_root, schema_locations,
};

/// The lock file, relative to the workspace root.
pub const FORMS_LOCK_PATH: &str = "spec/ksef-form-schemas.lock";

/// Every form KSeF accepts (`formCode.systemCode`) and where its root schema lives (the newest file
/// whose name starts with the prefix is pinned).
pub const FORM_ROOTS: &[(&str, &str)] = &[
    ("FA (2)", "faktury/schemy/FA/schemat_FA(2)_"),
    ("FA (3)", FA3_PREFIX),
    ("FA_RR (1)", FA_RR_PREFIX),
    ("PEF (3)", "faktury/schemy/PEF/Schemat_PEF(3)_"),
    ("PEF_KOR (3)", "faktury/schemy/PEF/Schemat_PEF_KOR(3)_"),
];

/// The pin of the form schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormsLock {
    /// Where the files were taken from (as given to `regen-schemas`).
    pub source: String,
    /// `formCode.systemCode` → path of its root schema, in [`FORM_ROOTS`] order.
    pub forms: Vec<(String, String)>,
    /// Every file with its lower-case hex SHA-256, by path.
    pub files: BTreeMap<String, String>,
}

fn lock_error(msg: impl Into<String>) -> SpecError {
    SpecError::Schemas(format!("{FORMS_LOCK_PATH}: {}", msg.into()))
}

impl FormsLock {
    /// Parses the lock file's text (`key = "value"` lines, `#` comments).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let mut source = None;
        let mut forms = Vec::new();
        let mut files = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| lock_error(format!("line {n}: expected `key = \"value\"`")))?;
            let value = value
                .trim()
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| lock_error(format!("line {n}: the value must be quoted")))?;
            let pair = |what: &str| {
                value
                    .split_once("  ")
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| lock_error(format!("line {n}: expected `{what}`")))
            };
            match key.trim() {
                "source" => source = Some(value.to_string()),
                "form" => forms.push(pair("form = \"<system code>  <path>\"")?),
                "file" => {
                    let (sha, path) = pair("file = \"<sha256>  <path>\"")?;
                    if sha.len() != 64
                        || !sha
                            .bytes()
                            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                    {
                        return Err(lock_error(format!(
                            "line {n}: the sha256 must be 64 lower-case hex digits"
                        )));
                    }
                    files.insert(path, sha);
                }
                other => return Err(lock_error(format!("line {n}: unknown key `{other}`"))),
            }
        }
        let lock = Self {
            source: source.ok_or_else(|| lock_error("missing `source`"))?,
            forms,
            files,
        };
        for (code, _) in FORM_ROOTS {
            if !lock.forms.iter().any(|(c, _)| c == code) {
                return Err(lock_error(format!("no `form` line for {code}")));
            }
        }
        for (code, root) in &lock.forms {
            if !lock.files.contains_key(root) {
                return Err(lock_error(format!(
                    "the root schema {root} of {code} has no `file` line"
                )));
            }
        }
        Ok(lock)
    }

    /// Renders the lock file's text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# The official schema of every KSeF invoice form and the files each imports: what ksef-sim\n\
             # validates received invoices against. Written by `cargo xtask regen-schemas`; checked by\n\
             # ksef-sim's build script and by `cargo xtask regen-schemas --check`. Not in git: see spec/README.md.\n\
             source = \"{}\"\n",
            self.source
        );
        for (code, path) in &self.forms {
            out.push_str(&format!("form = \"{code}  {path}\"\n"));
        }
        for (path, sha) in &self.files {
            out.push_str(&format!("file = \"{sha}  {path}\"\n"));
        }
        out
    }
}

/// A set of form schemas found on disk that matches the lock.
#[derive(Debug)]
pub struct LocatedForms {
    /// The folder they were found in.
    pub dir: PathBuf,
    /// The lock they matched.
    pub lock: FormsLock,
    /// Every file's bytes, by path relative to `dir`.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads the form schema lock of a workspace.
pub fn read_lock(workspace_root: &Path) -> Result<FormsLock, SpecError> {
    let path = workspace_root.join(FORMS_LOCK_PATH);
    let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Io { path, source })?;
    FormsLock::parse(&text)
}

/// Finds the folder whose files all match the lock (`KSEF_SCHEMAS_DIR`, then the local copy), or
/// explains what is missing and the one command that fixes it.
pub fn locate(workspace_root: &Path, env_value: Option<&str>) -> Result<LocatedForms, SpecError> {
    let lock = read_lock(workspace_root)?;
    let seen = match find_pinned(candidates(workspace_root, env_value), &lock.files) {
        Ok((dir, files)) => return Ok(LocatedForms { dir, lock, files }),
        Err(seen) => seen,
    };
    Err(SpecError::NotFound(format!(
        "the KSeF invoice form schemas pinned by {FORMS_LOCK_PATH} were not found:\n{}\n\
         Fix: set {SCHEMAS_ENV} to the folder holding the official schemas (the `ksef-schemas` folder of \
         the reference data, with `faktury/schemy/...` inside), or run \
         `cargo xtask regen-schemas --from DIR` to pin the schemas in DIR and copy them to {SCHEMAS_LOCAL_COPY}/.",
        seen.join("\n")
    )))
}

/// Where an `import`/`include` of the file `from` points inside the schema folder: a relative
/// location from the importing file's folder, an `http` location by file name from that folder or
/// [`BASE_DIR`].
fn resolve(dir: &Path, from: &str, location: &str) -> Option<String> {
    let folder = from.rsplit_once('/').map_or("", |(d, _)| d);
    let mut candidates = Vec::new();
    if !location.contains("://") {
        let mut parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
        for part in location.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        candidates.push(parts.join("/"));
    }
    let name = location.rsplit('/').next().unwrap_or(location);
    candidates.push(format!("{folder}/{name}"));
    candidates.push(format!("{BASE_DIR}/{name}"));
    candidates.into_iter().find(|p| dir.join(p).is_file())
}

/// Finds every form's newest root schema in a folder and every file it imports, and builds the lock.
pub fn discover(dir: &Path, source: &str) -> Result<LocatedForms, SpecError> {
    let mut forms = Vec::new();
    for (code, prefix) in FORM_ROOTS {
        forms.push((code.to_string(), newest_root(dir, prefix)?));
    }
    let mut files = BTreeMap::new();
    let mut pending: Vec<String> = forms.iter().map(|(_, p)| p.clone()).collect();
    while let Some(path) = pending.pop() {
        if files.contains_key(&path) {
            continue;
        }
        let full = dir.join(&path);
        let bytes = std::fs::read(&full).map_err(|source| SpecError::Io {
            path: full.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for location in schema_locations(&text) {
            let found = resolve(dir, &path, &location).ok_or_else(|| {
                SpecError::Schemas(format!(
                    "{path} imports {location}, which is not in {}",
                    dir.display()
                ))
            })?;
            pending.push(found);
        }
        files.insert(path, bytes);
    }
    let lock = FormsLock {
        source: source.to_string(),
        forms,
        files: files
            .iter()
            .map(|(p, b)| (p.clone(), sha256_hex(b)))
            .collect(),
    };
    Ok(LocatedForms {
        dir: dir.to_path_buf(),
        lock,
        files,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lock_round_trips_and_rejects_bad_input() {
        let mut files = BTreeMap::new();
        let mut forms = Vec::new();
        for (i, (code, prefix)) in FORM_ROOTS.iter().enumerate() {
            let path = format!("{prefix}v{i}.xsd");
            files.insert(path.clone(), format!("{i:064x}"));
            forms.push((code.to_string(), path));
        }
        let lock = FormsLock {
            source: "test".into(),
            forms,
            files,
        };
        let text = lock.render();
        assert_eq!(FormsLock::parse(&text).unwrap(), lock);
        assert!(FormsLock::parse(&text.replace("form = \"PEF (3)", "# ")).is_err());
        assert!(FormsLock::parse(&format!("{text}colour = \"red\"\n")).is_err());
        assert!(FormsLock::parse(&text.replace(&format!("{:064x}", 1), "ABC")).is_err());
    }

    #[test]
    fn follows_relative_and_url_imports() {
        let dir = std::env::temp_dir().join(format!("ksef-form-schemas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (code, prefix) in FORM_ROOTS {
            let path = dir.join(format!("{prefix}v1.xsd"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let import = if code.starts_with("PEF") {
                "./bazowe/Ubl.xsd"
            } else {
                "http://h/p/Base.xsd"
            };
            std::fs::write(
                &path,
                format!("<xsd:schema><xsd:import namespace=\"x\" schemaLocation=\"{import}\"/></xsd:schema>"),
            )
            .unwrap();
        }
        std::fs::create_dir_all(dir.join(BASE_DIR)).unwrap();
        std::fs::write(dir.join(BASE_DIR).join("Base.xsd"), "<xsd:schema/>").unwrap();
        std::fs::create_dir_all(dir.join("faktury/schemy/PEF/bazowe")).unwrap();
        std::fs::write(
            dir.join("faktury/schemy/PEF/bazowe/Ubl.xsd"),
            "<xs:schema><xs:import schemaLocation=\"Cbc.xsd\"/></xs:schema>",
        )
        .unwrap();
        std::fs::write(
            dir.join("faktury/schemy/PEF/bazowe/Cbc.xsd"),
            "<xs:schema/>",
        )
        .unwrap();
        let found = discover(&dir, "test").unwrap();
        assert_eq!(found.lock.forms.len(), FORM_ROOTS.len());
        assert!(
            found
                .files
                .contains_key("faktury/schemy/PEF/bazowe/Cbc.xsd"),
            "{:?}",
            found.files.keys()
        );
        assert_eq!(found.files.len(), FORM_ROOTS.len() + 3);

        let ws = dir.join("ws");
        std::fs::create_dir_all(ws.join("spec")).unwrap();
        std::fs::write(ws.join(FORMS_LOCK_PATH), found.lock.render()).unwrap();
        assert_eq!(
            locate(&ws, Some(dir.to_str().unwrap()))
                .unwrap()
                .files
                .len(),
            found.files.len()
        );
        std::fs::write(
            dir.join(BASE_DIR).join("Base.xsd"),
            "<xsd:schema></xsd:schema>",
        )
        .unwrap();
        let err = locate(&ws, Some(dir.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Base.xsd has sha256"), "{err}");
        assert!(err.contains("regen-schemas --from"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
