//! Where the CLI keeps its files (XDG base directories):
//!
//! * `$KSEF_CONFIG_DIR` or `$XDG_CONFIG_HOME/ksef` or `~/.config/ksef`: `config.toml` (profiles,
//!   never a secret).
//! * `$KSEF_STATE_DIR` or `$XDG_STATE_HOME/ksef` or `~/.local/state/ksef`: the sealed session
//!   cache and sealed secrets (`sessions/`, `secrets/`, AES-256-GCM, mode 0600) and the key that
//!   seals them (`seal.key`, mode 0600) unless it comes from `$KSEF_SEAL_KEY` or the OS keyring;
//!   the sealed keys of batches (`batch-keys/`) and their default work directories (`batches/`).
//! * `$KSEF_DATA_DIR` or `$XDG_DATA_HOME/ksef` or `~/.local/share/ksef`: the stores `ksef sync`
//!   fills (`stores/PROFILE/`).

use std::path::PathBuf;

use crate::exit::{CliError, CliResult};

fn home() -> CliResult<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            CliError::usage("HOME is not set; set KSEF_CONFIG_DIR and KSEF_STATE_DIR instead")
        })
}

fn dir(own: &str, xdg: &str, fallback: &[&str]) -> CliResult<PathBuf> {
    if let Some(d) = std::env::var_os(own).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os(xdg).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("ksef"));
    }
    let mut p = home()?;
    for f in fallback {
        p.push(f);
    }
    p.push("ksef");
    Ok(p)
}

/// The directory of `config.toml`.
pub fn config_dir() -> CliResult<PathBuf> {
    dir("KSEF_CONFIG_DIR", "XDG_CONFIG_HOME", &[".config"])
}

/// The directory of sealed sessions, sealed secrets and the sealing key.
pub fn state_dir() -> CliResult<PathBuf> {
    dir("KSEF_STATE_DIR", "XDG_STATE_HOME", &[".local", "state"])
}

/// The directory of the invoice stores.
pub fn data_dir() -> CliResult<PathBuf> {
    dir("KSEF_DATA_DIR", "XDG_DATA_HOME", &[".local", "share"])
}

/// Creates `dir` (and parents) with mode 0700 where the platform has modes.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Writes `bytes` to a file that must not exist yet (never over another one), with `mode` on
/// Unix (0o600 for a secret), flushed to disk.
pub fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes `bytes` to `path` atomically (temporary file + rename), readable by the owner only.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let parent = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    create_private_dir(parent)?;
    let tmp = parent.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
