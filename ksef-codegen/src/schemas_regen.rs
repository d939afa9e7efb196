//! `cargo xtask regen-schemas`: pin the invoice schemas of a folder (lock, git-ignored local copy,
//! surface snapshot), or `--check` that lock, schemas and snapshot agree. Lives here rather than in
//! xtask so that tests can run it on a scratch copy of the workspace.

use std::path::Path;

use crate::schemas::{self, SCHEMAS_LOCAL_COPY, SCHEMAS_LOCK_PATH};
use crate::{schemas_surface, snapshots};

/// Parsed command line of `regen-schemas`.
#[derive(Debug, Default)]
pub struct Options {
    /// The folder to take the schemas from (with `faktury/schemy/...` inside); default: the
    /// folder in `KSEF_SCHEMAS_DIR`.
    pub from: Option<String>,
    /// Verify instead of write.
    pub check: bool,
}

impl Options {
    /// Parses the arguments after `regen-schemas`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--check" => o.check = true,
                "--from" => o.from = Some(it.next().ok_or("--from needs a folder")?.clone()),
                other => return Err(format!("unknown option `{other}` for regen-schemas")),
            }
        }
        if o.check && o.from.is_some() {
            return Err("--check verifies the pinned schemas; it takes no --from".into());
        }
        Ok(o)
    }
}

/// Runs `regen-schemas` on the workspace at `root`; `env_dir` is the value of `KSEF_SCHEMAS_DIR`.
/// Returns the lines to show the user.
pub fn run(root: &Path, o: &Options, env_dir: Option<&str>) -> Result<Vec<String>, String> {
    if o.check {
        return check(root, env_dir);
    }
    let from = o
        .from
        .clone()
        .or_else(|| env_dir.map(str::to_string))
        .ok_or_else(|| {
            format!(
                "no schema folder: pass --from DIR or set {}",
                schemas::SCHEMAS_ENV
            )
        })?;
    let dir = if Path::new(&from).is_absolute() {
        Path::new(&from).to_path_buf()
    } else {
        root.join(&from)
    };
    let found = schemas::discover(&dir, &display_source(root, &dir)).map_err(|e| e.to_string())?;
    let surface = schemas_surface::render(&found).map_err(|e| e.to_string())?;

    let copy = root.join(SCHEMAS_LOCAL_COPY);
    for (path, bytes) in &found.files {
        write(&copy.join(path), bytes)?;
    }
    write(
        &root.join(SCHEMAS_LOCK_PATH),
        found.lock.render().as_bytes(),
    )?;
    let snap = schemas_surface::snapshot_path(root);
    let text = schemas_surface::file_text(&surface);
    let changed = std::fs::read_to_string(&snap).ok().as_deref() != Some(text.as_str());
    if changed {
        write(&snap, text.as_bytes())?;
    }
    Ok(vec![
        format!(
            "pinned {} ({} files) from {}",
            found.lock.version,
            found.files.len(),
            dir.display()
        ),
        format!("wrote {SCHEMAS_LOCAL_COPY}/ (git-ignored) and {SCHEMAS_LOCK_PATH}"),
        if changed {
            "schema surface snapshot changed (review with `git diff tests/snapshots`)".to_string()
        } else {
            "schema surface snapshot unchanged".to_string()
        },
    ])
}

fn check(root: &Path, env_dir: Option<&str>) -> Result<Vec<String>, String> {
    let found = schemas::locate(root, env_dir).map_err(|e| e.to_string())?;
    let rediscovered =
        schemas::discover(&found.dir, &found.lock.source).map_err(|e| e.to_string())?;
    if rediscovered.lock.files != found.lock.files
        || rediscovered.lock.version != found.lock.version
    {
        return Err(format!(
            "{SCHEMAS_LOCK_PATH} does not list the schema set of {} ({} with {} files); \
             Fix: `cargo xtask regen-schemas --from {}`",
            found.dir.display(),
            rediscovered.lock.version,
            rediscovered.files.len(),
            found.dir.display()
        ));
    }
    let surface = schemas_surface::render(&found).map_err(|e| e.to_string())?;
    let snap = schemas_surface::snapshot_path(root);
    let committed =
        std::fs::read_to_string(&snap).map_err(|e| format!("{}: {e}", snap.display()))?;
    let body = snapshots::body_of(&committed).unwrap_or("").trim_end();
    if body != surface.trim_end() {
        return Err(format!(
            "{} differs from the pinned schemas:\n{}\nFix: `cargo xtask regen-schemas --from {}` rewrites it; review with `git diff`.",
            snap.strip_prefix(root).unwrap_or(&snap).display(),
            snapshots::diff(body, surface.trim_end(), 80),
            found.dir.display()
        ));
    }
    Ok(vec![format!(
        "ok: {SCHEMAS_LOCK_PATH} pins {} ({}, {} files), the surface snapshot agrees",
        found.lock.version,
        found.dir.display(),
        found.files.len()
    )])
}

/// The folder as recorded in the lock: relative to the workspace's parent (`../shared/...`) when it
/// lies there, so that the lock does not name one machine's paths.
fn display_source(root: &Path, dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let parent = root
        .canonicalize()
        .ok()
        .and_then(|r| r.parent().map(Path::to_path_buf));
    match parent.as_deref().and_then(|p| dir.strip_prefix(p).ok()) {
        Some(rest) => format!("../{}", rest.display()),
        None => dir.display().to_string(),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
