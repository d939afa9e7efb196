//! The pin of the official invoice schemas (FA (3), FA_RR (1) and their base types), shared by
//! `ksef-invoice-xsd/build.rs`, `cargo xtask regen-schemas` and the drift test.
//!
//! `spec/ksef-schemas.lock` names the two root schemas and lists every XSD file the generated
//! invoice types come from with its SHA-256 (`file = "<sha256>  <path>"`, paths relative to the
//! schema folder). The build takes the first folder whose files all match: the one in
//! `KSEF_SCHEMAS_DIR` (`.cargo/config.toml` points it at `../shared/ksef-schemas`), then
//! `spec/ksef-schemas/` (the git-ignored copy `regen-schemas` writes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{SpecError, lock::sha256_hex};

/// Environment variable naming the schema folder.
pub const SCHEMAS_ENV: &str = "KSEF_SCHEMAS_DIR";
/// The lock file, relative to the workspace root.
pub const SCHEMAS_LOCK_PATH: &str = "spec/ksef-schemas.lock";
/// The git-ignored local copy of the schema folder, relative to the workspace root.
pub const SCHEMAS_LOCAL_COPY: &str = "spec/ksef-schemas";
/// Where the root schemas live inside the schema folder, and how their file names start.
pub const FA3_PREFIX: &str = "faktury/schemy/FA/schemat_FA(3)_";
/// See [`FA3_PREFIX`].
pub const FA_RR_PREFIX: &str = "faktury/schemy/RR/schemat_FA_RR(1)_";
/// Folder of the shared base schemas (imported by URL from both roots).
pub const BASE_DIR: &str = "faktury/schemy/FA/bazowe";

/// The pin of the schema set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaLock {
    /// Form versions read from the roots' fixed `kodSystemowy`/`wersjaSchemy` (`FA (3) 1-0E, ...`).
    pub version: String,
    /// Where the files were taken from (as given to `regen-schemas`).
    pub source: String,
    /// Path of the FA (3) root schema.
    pub fa3: String,
    /// Path of the FA_RR (1) root schema.
    pub fa_rr: String,
    /// Every file with its lower-case hex SHA-256, by path.
    pub files: BTreeMap<String, String>,
}

fn lock_error(msg: impl Into<String>) -> SpecError {
    SpecError::Schemas(format!("{SCHEMAS_LOCK_PATH}: {}", msg.into()))
}

impl SchemaLock {
    /// Parses the lock file's text (`key = "value"` lines, `#` comments).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let (mut version, mut source, mut fa3, mut fa_rr) = (None, None, None, None);
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
                .ok_or_else(|| lock_error(format!("line {n}: the value must be quoted")))?
                .to_string();
            match key.trim() {
                "version" => version = Some(value),
                "source" => source = Some(value),
                "fa3" => fa3 = Some(value),
                "fa_rr" => fa_rr = Some(value),
                "file" => {
                    let (sha, path) = value.split_once("  ").ok_or_else(|| {
                        lock_error(format!("line {n}: expected `file = \"<sha256>  <path>\"`"))
                    })?;
                    if sha.len() != 64
                        || !sha
                            .bytes()
                            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                    {
                        return Err(lock_error(format!(
                            "line {n}: the sha256 must be 64 lower-case hex digits"
                        )));
                    }
                    files.insert(path.to_string(), sha.to_string());
                }
                other => return Err(lock_error(format!("line {n}: unknown key `{other}`"))),
            }
        }
        let lock = Self {
            version: version.ok_or_else(|| lock_error("missing `version`"))?,
            source: source.ok_or_else(|| lock_error("missing `source`"))?,
            fa3: fa3.ok_or_else(|| lock_error("missing `fa3`"))?,
            fa_rr: fa_rr.ok_or_else(|| lock_error("missing `fa_rr`"))?,
            files,
        };
        for root in [&lock.fa3, &lock.fa_rr] {
            if !lock.files.contains_key(root) {
                return Err(lock_error(format!(
                    "the root schema {root} has no `file` line"
                )));
            }
        }
        Ok(lock)
    }

    /// Renders the lock file's text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# The official KSeF invoice schemas ksef-invoice-xsd is generated from.\n\
             # Written by `cargo xtask regen-schemas`; checked by ksef-invoice-xsd's build script and by\n\
             # `cargo xtask regen-schemas --check`. The XSDs themselves are not in git: see spec/README.md.\n\
             version = \"{}\"\nsource = \"{}\"\nfa3 = \"{}\"\nfa_rr = \"{}\"\n",
            self.version, self.source, self.fa3, self.fa_rr
        );
        for (path, sha) in &self.files {
            out.push_str(&format!("file = \"{sha}  {path}\"\n"));
        }
        out
    }
}

/// A schema set found on disk that matches the lock.
#[derive(Debug)]
pub struct LocatedSchemas {
    /// The folder they were found in.
    pub dir: PathBuf,
    /// The lock they matched.
    pub lock: SchemaLock,
    /// Every file's bytes, by path relative to `dir`.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl LocatedSchemas {
    /// The bytes of the base schemas and the other imported files, by file name (what an
    /// `xsd:import`'s `schemaLocation` ends with).
    pub fn by_file_name(&self) -> BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .map(|(path, bytes)| {
                let name = path.rsplit('/').next().unwrap_or(path).to_string();
                (name, bytes.clone())
            })
            .collect()
    }
}

/// Reads the schema lock of a workspace.
pub fn read_lock(workspace_root: &Path) -> Result<SchemaLock, SpecError> {
    let path = workspace_root.join(SCHEMAS_LOCK_PATH);
    let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Io { path, source })?;
    SchemaLock::parse(&text)
}

/// The candidate folders, in order.
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
    out.push(workspace_root.join(SCHEMAS_LOCAL_COPY));
    out
}

/// Pinned files read back: path relative to the schema folder → bytes.
pub(crate) type PinnedFiles = BTreeMap<String, Vec<u8>>;

/// The first of `candidates` in which every file of `pinned` (path → sha256) exists with its pinned
/// hash, with the files' bytes; otherwise one line per rejected candidate saying why.
pub(crate) fn find_pinned(
    candidates: Vec<PathBuf>,
    pinned: &BTreeMap<String, String>,
) -> Result<(PathBuf, PinnedFiles), Vec<String>> {
    let mut seen = Vec::new();
    'candidates: for dir in candidates {
        let mut files = BTreeMap::new();
        for (path, sha) in pinned {
            let full = dir.join(path);
            match std::fs::read(&full) {
                Ok(bytes) => {
                    let actual = sha256_hex(&bytes);
                    if &actual != sha {
                        seen.push(format!(
                            "  {} has sha256 {actual} (the lock says {sha})",
                            full.display()
                        ));
                        continue 'candidates;
                    }
                    files.insert(path.clone(), bytes);
                }
                Err(_) => {
                    seen.push(format!("  {} does not exist", full.display()));
                    continue 'candidates;
                }
            }
        }
        return Ok((dir, files));
    }
    Err(seen)
}

/// Finds the schema folder whose files all match the lock, or explains what is missing and the one
/// command that fixes it.
pub fn locate(workspace_root: &Path, env_value: Option<&str>) -> Result<LocatedSchemas, SpecError> {
    let lock = read_lock(workspace_root)?;
    let seen = match find_pinned(candidates(workspace_root, env_value), &lock.files) {
        Ok((dir, files)) => return Ok(LocatedSchemas { dir, lock, files }),
        Err(seen) => seen,
    };
    Err(SpecError::NotFound(format!(
        "the KSeF invoice schemas pinned by {SCHEMAS_LOCK_PATH} ({}) were not found:\n{}\n\
         Fix: set {SCHEMAS_ENV} to the folder holding the official schemas (the `ksef-schemas` folder of \
         the reference data, with `faktury/schemy/...` inside), or run \
         `cargo xtask regen-schemas --from DIR` to pin the schemas in DIR and copy them to {SCHEMAS_LOCAL_COPY}/.",
        lock.version,
        seen.join("\n")
    )))
}

/// Finds the schema set in a folder: the newest FA (3) and FA_RR (1) roots and every file they
/// import (by file name, from the root's folder or [`BASE_DIR`]), and builds its lock.
pub fn discover(dir: &Path, source: &str) -> Result<LocatedSchemas, SpecError> {
    let fa3 = newest_root(dir, FA3_PREFIX)?;
    let fa_rr = newest_root(dir, FA_RR_PREFIX)?;
    let mut files = BTreeMap::new();
    let mut pending = vec![fa3.clone(), fa_rr.clone()];
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
        let folder = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        for location in schema_locations(&text) {
            let name = location.rsplit('/').next().unwrap_or(&location);
            let found = [format!("{folder}/{name}"), format!("{BASE_DIR}/{name}")]
                .into_iter()
                .find(|p| dir.join(p).is_file())
                .ok_or_else(|| {
                    SpecError::Schemas(format!(
                        "{path} imports {location}, but no {name} lies in {folder}/ or {BASE_DIR}/ of {}",
                        dir.display()
                    ))
                })?;
            pending.push(found);
        }
        files.insert(path, bytes);
    }
    let version = [&fa3, &fa_rr]
        .iter()
        .map(|root| form_version(&String::from_utf8_lossy(&files[*root])))
        .collect::<Result<Vec<_>, _>>()?
        .join(", ");
    let lock = SchemaLock {
        version,
        source: source.to_string(),
        fa3,
        fa_rr,
        files: files
            .iter()
            .map(|(p, b)| (p.clone(), sha256_hex(b)))
            .collect(),
    };
    Ok(LocatedSchemas {
        dir: dir.to_path_buf(),
        lock,
        files,
    })
}

pub(crate) fn newest_root(dir: &Path, prefix: &str) -> Result<String, SpecError> {
    let (folder, start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let entries = std::fs::read_dir(dir.join(folder)).map_err(|source| SpecError::Io {
        path: dir.join(folder),
        source,
    })?;
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(start) && name.ends_with(".xsd"))
        .max()
        .map(|name| format!("{folder}/{name}"))
        .ok_or_else(|| {
            SpecError::Schemas(format!("no {start}*.xsd in {}", dir.join(folder).display()))
        })
}

/// The `schemaLocation` of every `import`/`include` of a schema text.
pub(crate) fn schema_locations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split('<').skip(1) {
        let tag = part.split('>').next().unwrap_or("");
        let name = tag.split_whitespace().next().unwrap_or("");
        if (name.ends_with(":import") || name.ends_with(":include"))
            && let Some(loc) = attribute(tag, "schemaLocation")
        {
            out.push(loc);
        }
    }
    out
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// `FA (3) 1-0E` from the fixed `kodSystemowy` and `wersjaSchemy` attributes of a root schema.
fn form_version(text: &str) -> Result<String, SpecError> {
    let fixed_of = |attr: &str| {
        text.split('<').find_map(|part| {
            let tag = part.split('>').next().unwrap_or("");
            (attribute(tag, "name").as_deref() == Some(attr))
                .then(|| attribute(tag, "fixed"))
                .flatten()
        })
    };
    match (fixed_of("kodSystemowy"), fixed_of("wersjaSchemy")) {
        (Some(code), Some(version)) => Ok(format!("{code} {version}")),
        _ => Err(SpecError::Schemas(
            "a root schema has no fixed kodSystemowy/wersjaSchemy".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample_lock() -> SchemaLock {
        SchemaLock {
            version: "FA (3) 1-0E, FA_RR (1) 1-1E".into(),
            source: "test".into(),
            fa3: "a/fa3.xsd".into(),
            fa_rr: "b/rr.xsd".into(),
            files: [
                ("a/fa3.xsd".to_string(), "a".repeat(64)),
                ("b/rr.xsd".to_string(), "b".repeat(64)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn lock_round_trips() {
        let lock = sample_lock();
        assert_eq!(SchemaLock::parse(&lock.render()).unwrap(), lock);
    }

    #[test]
    fn lock_rejects_bad_input() {
        let good = sample_lock().render();
        assert!(SchemaLock::parse(&good.replace("fa_rr = ", "# ")).is_err());
        assert!(SchemaLock::parse(&good.replace(&"a".repeat(64), "ABC")).is_err());
        assert!(SchemaLock::parse(&format!("{good}colour = \"red\"\n")).is_err());
        let no_root_file = good.replace(&format!("file = \"{}  b/rr.xsd\"\n", "b".repeat(64)), "");
        assert!(SchemaLock::parse(&no_root_file).is_err());
    }

    #[test]
    fn finds_imports_and_names_the_fix_when_files_are_missing() {
        let dir = std::env::temp_dir().join(format!("ksef-schemas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let fa = dir.join("faktury/schemy/FA");
        std::fs::create_dir_all(fa.join("bazowe")).unwrap();
        std::fs::create_dir_all(dir.join("faktury/schemy/RR")).unwrap();
        let root = |code: &str| {
            format!(
                "<xsd:schema><xsd:import namespace=\"x\" schemaLocation=\"http://h/p/Base.xsd\"/>\
                 <xsd:attribute name=\"kodSystemowy\" fixed=\"{code}\"/><xsd:attribute name=\"wersjaSchemy\" fixed=\"1-0E\"/></xsd:schema>"
            )
        };
        std::fs::write(fa.join("schemat_FA(3)_v1-0E.xsd"), root("FA (3)")).unwrap();
        std::fs::write(fa.join("schemat_FA(3)_v0-9E.xsd"), root("old")).unwrap();
        std::fs::write(
            dir.join("faktury/schemy/RR/schemat_FA_RR(1)_v1-0E.xsd"),
            root("FA_RR (1)"),
        )
        .unwrap();
        std::fs::write(
            fa.join("bazowe/Base.xsd"),
            "<xsd:schema><xsd:include schemaLocation=\"More.xsd\"/></xsd:schema>",
        )
        .unwrap();
        std::fs::write(fa.join("bazowe/More.xsd"), "<xsd:schema/>").unwrap();
        let found = discover(&dir, "test").unwrap();
        assert_eq!(found.lock.version, "FA (3) 1-0E, FA_RR (1) 1-0E");
        assert_eq!(found.lock.fa3, "faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd");
        assert_eq!(found.files.len(), 4, "{:?}", found.files.keys());

        let ws = dir.join("ws");
        std::fs::create_dir_all(ws.join("spec")).unwrap();
        std::fs::write(ws.join(SCHEMAS_LOCK_PATH), found.lock.render()).unwrap();
        let ok = locate(&ws, Some(dir.to_str().unwrap())).unwrap();
        assert_eq!(ok.files.len(), 4);
        std::fs::write(fa.join("bazowe/More.xsd"), "<xsd:schema></xsd:schema>").unwrap();
        let err = locate(&ws, Some(dir.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("More.xsd has sha256"), "{err}");
        assert!(err.contains("regen-schemas --from"), "{err}");
        assert!(err.contains(SCHEMAS_ENV), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
