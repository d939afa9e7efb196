//! `cargo xtask regen-spec`: pin an OpenAPI document and refresh everything derived from it that is
//! committed (the lock and the drift snapshots), or `--check` that they agree. Lives here rather than
//! in xtask so that tests can run it on a scratch copy of the workspace.

use std::path::Path;

use crate::{
    SpecDiff, SpecLock, Surface,
    locate::{self, LOCAL_COPY, LOCK_PATH, NAMES_PATH, SPEC_ENV},
    lock::{OFFICIAL_SPEC_URL, sha256_hex},
    names, normalize, parse_document, snapshots,
};

/// Parsed command line of `regen-spec`.
#[derive(Debug, Default)]
pub struct Options {
    /// Where to take the document from (path or URL); default: the official endpoint.
    pub from: Option<String>,
    /// Verify instead of write.
    pub check: bool,
}

impl Options {
    /// Parses the arguments after `regen-spec`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--check" => o.check = true,
                "--from" => o.from = Some(it.next().ok_or("--from needs a path or URL")?.clone()),
                other => return Err(format!("unknown option `{other}` for regen-spec")),
            }
        }
        if o.check && o.from.is_some() {
            return Err("--check verifies the pinned document; it takes no --from".into());
        }
        Ok(o)
    }
}

/// Runs `regen-spec` on the workspace at `root`; `env_spec` is the value of `KSEF_OPENAPI_SPEC`.
/// Returns the lines to show the user.
pub fn run(root: &Path, o: &Options, env_spec: Option<&str>) -> Result<Vec<String>, String> {
    let overrides_text = std::fs::read_to_string(root.join(NAMES_PATH))
        .map_err(|e| format!("cannot read {NAMES_PATH}: {e}"))?;
    let overrides = names::parse_overrides(&overrides_text).map_err(|e| e.to_string())?;
    if o.check {
        return check(root, &overrides, env_spec);
    }
    let source = o
        .from
        .clone()
        .unwrap_or_else(|| OFFICIAL_SPEC_URL.to_string());
    let bytes = fetch(&source)?;
    let doc = parse_document(&bytes).map_err(|e| format!("{source}: {e}"))?;
    // Validation: everything the build will do must succeed on this document.
    let surface = Surface::of(&doc, &overrides).map_err(|e| format!("{source}: {e}"))?;
    let normalized = normalize(&doc, &overrides).map_err(|e| format!("{source}: {e}"))?;
    normalized.openapi().map_err(|e| format!("{source}: {e}"))?;
    let lock = SpecLock::of_document(&bytes, &source).map_err(|e| e.to_string())?;
    // The document pinned so far, if it can still be found: the drift is reported against it.
    let drift = locate::locate(root, env_spec)
        .ok()
        .and_then(|previous| parse_document(&previous.bytes).ok())
        .and_then(|previous| SpecDiff::between(&previous, &doc).ok());

    write(&root.join(LOCAL_COPY), &bytes)?;
    write(&root.join(LOCK_PATH), lock.render().as_bytes())?;
    let mut changed = Vec::new();
    for (path, expression, body) in snapshots::expected(root, &surface) {
        let text = snapshots::file_text(expression, &body);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            write(&path, text.as_bytes())?;
            changed.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    let mut report = vec![
        format!(
            "pinned KSeF API {} ({} operations, {} schemas), sha256 {}",
            lock.version,
            surface.operations.len(),
            surface.schemas.len(),
            lock.sha256
        ),
        format!("wrote {LOCAL_COPY} (git-ignored) and {LOCK_PATH}"),
    ];
    if changed.is_empty() {
        report.push("snapshots unchanged".into());
    } else {
        report.push(format!(
            "snapshots changed (review with `git diff spec tests/snapshots`): {}",
            changed.join(", ")
        ));
    }
    if let Some(drift) = drift.filter(|d| !d.is_empty()) {
        report.push(format!("drift from the previous pin: {}", drift.summary()));
        report.extend(drift.report().into_iter().skip(1));
    }
    if let Some(hint) = stale_env_hint(root, env_spec, &lock) {
        report.push(hint);
    }
    Ok(report)
}

/// When `KSEF_OPENAPI_SPEC` (usually set by `.cargo/config.toml`) names a document other than
/// the new pin, a fresh clone would not find the pinned document: say what to change.
fn stale_env_hint(root: &Path, env_spec: Option<&str>, lock: &SpecLock) -> Option<String> {
    let path = env_spec.filter(|p| !p.is_empty())?;
    let full = root.join(path);
    let matches = std::fs::read(full).is_ok_and(|b| sha256_hex(&b) == lock.sha256);
    (!matches).then(|| {
        format!(
            "note: {SPEC_ENV} points at {path}, which is not the pinned document; this build uses \
             the git-ignored {LOCAL_COPY} for now. Point {SPEC_ENV} in .cargo/config.toml at the new \
             document (or drop it if the document is only downloaded) so that a fresh clone builds."
        )
    })
}

fn check(
    root: &Path,
    overrides: &names::Overrides,
    env_spec: Option<&str>,
) -> Result<Vec<String>, String> {
    let found = locate::locate(root, env_spec).map_err(|e| e.to_string())?;
    let doc = parse_document(&found.bytes).map_err(|e| e.to_string())?;
    let version = crate::lock::api_version(&doc).map_err(|e| e.to_string())?;
    if version != found.lock.version {
        return Err(format!(
            "{LOCK_PATH} says version {} but {} is version {version}",
            found.lock.version,
            found.path.display()
        ));
    }
    normalize(&doc, overrides)
        .and_then(|n| n.openapi())
        .map_err(|e| e.to_string())?;
    let surface = Surface::of(&doc, overrides).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for (path, _, body) in snapshots::expected(root, &surface) {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let committed = snapshots::body_of(&text).unwrap_or("").trim_end();
                if committed != body.trim_end() {
                    problems.push(format!(
                        "{rel} differs from the pinned document:\n{}",
                        snapshots::diff(committed, body.trim_end(), 80)
                    ));
                }
            }
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(vec![format!(
            "ok: {LOCK_PATH} pins KSeF API {version} ({}), snapshots agree ({} operations, {} schemas)",
            found.path.display(),
            surface.operations.len(),
            surface.schemas.len()
        )])
    } else {
        Err(format!(
            "{}\nFix: `cargo xtask regen-spec --from {}` rewrites the snapshots; review them with `git diff`.",
            problems.join("\n\n"),
            found.path.display()
        ))
    }
}

fn fetch(source: &str) -> Result<Vec<u8>, String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let out = std::process::Command::new("curl")
            .args(["--fail", "--silent", "--show-error", "--location", "--max-time", "120", source])
            .output()
            .map_err(|e| format!("cannot run curl to download {source}: {e} (install curl, or download the document yourself and use --from PATH)"))?;
        if !out.status.success() {
            return Err(format!(
                "downloading {source} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out.stdout)
    } else {
        std::fs::read(source).map_err(|e| format!("cannot read {source}: {e}"))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
