//! Sealed files: the session cache (`sessions/PROFILE.sealed`), stored secrets
//! (`secrets/PROFILE.sealed`) and batch state keys (`batch-keys/ID.sealed`) under the state
//! directory, AES-256-GCM with a random nonce per
//! write, mode 0600. The additional data binds a file to its kind and profile, so a file copied
//! to another name does not open.
//!
//! The 32-byte sealing key comes from `$KSEF_SEAL_KEY` (Base64), else the OS keyring (feature
//! `keyring`), else `seal.key` in the state directory (random, created on first use, mode 0600).

use std::path::PathBuf;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::TryRng as _;
use zeroize::Zeroizing;

use crate::exit::{CliError, CliResult, Exit};

const MAGIC: &[u8; 8] = b"KSEFSEAL";
const VERSION: u8 = 1;

/// What a sealed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An authentication session (access and refresh tokens).
    Session,
    /// A stored secret (a KSeF token, a passphrase).
    Secret,
    /// The key sealing a batch's state file, named after its work directory.
    BatchKey,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Session => "sessions",
            Kind::Secret => "secrets",
            Kind::BatchKey => "batch-keys",
        }
    }
}

fn failure(msg: impl std::fmt::Display) -> CliError {
    CliError::new(Exit::Failure, anyhow::anyhow!("{msg}"))
}

/// The sealed file of `profile`.
pub fn path(kind: Kind, profile: &str) -> CliResult<PathBuf> {
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || profile.starts_with('.')
    {
        return Err(CliError::usage(format!(
            "profile name {profile:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(crate::paths::state_dir()?
        .join(kind.dir())
        .join(format!("{profile}.sealed")))
}

fn key() -> CliResult<Zeroizing<[u8; 32]>> {
    if let Ok(b64) = std::env::var("KSEF_SEAL_KEY") {
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| CliError::usage("KSEF_SEAL_KEY is not Base64"))?,
        );
        let mut k = Zeroizing::new([0u8; 32]);
        if raw.len() != 32 {
            return Err(CliError::usage("KSEF_SEAL_KEY must hold 32 bytes (Base64)"));
        }
        k.copy_from_slice(&raw);
        return Ok(k);
    }
    #[cfg(feature = "keyring")]
    if let Some(k) = crate::keyring::seal_key()? {
        return Ok(k);
    }
    let path = crate::paths::state_dir()?.join("seal.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let mut k = Zeroizing::new([0u8; 32]);
            if bytes.len() != 32 {
                return Err(failure(format!(
                    "{} is damaged (not 32 bytes); delete it and log in again",
                    path.display()
                )));
            }
            k.copy_from_slice(&bytes);
            Ok(k)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = Zeroizing::new([0u8; 32]);
            rand::rngs::SysRng
                .try_fill_bytes(k.as_mut())
                .map_err(|_| failure("the system random number generator failed"))?;
            crate::paths::write_private(&path, k.as_ref())
                .map_err(|e| failure(format!("cannot write {}: {e}", path.display())))?;
            Ok(k)
        }
        Err(e) => Err(failure(format!("cannot read {}: {e}", path.display()))),
    }
}

fn aad(kind: Kind, profile: &str) -> Vec<u8> {
    format!("ksef-cli/{}/{profile}", kind.dir()).into_bytes()
}

/// Seals `plain` into the file of (`kind`, `profile`).
pub fn store(kind: Kind, profile: &str, plain: &[u8]) -> CliResult<()> {
    let path = path(kind, profile)?;
    let key = key()?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| failure("bad key length"))?;
    let mut nonce = [0u8; 12];
    rand::rngs::SysRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| failure("the system random number generator failed"))?;
    let aad = aad(kind, profile);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| failure("sealing failed"))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + 12 + sealed.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    crate::paths::write_private(&path, &out)
        .map_err(|e| failure(format!("cannot write {}: {e}", path.display())))
}

/// Opens the file of (`kind`, `profile`); `None` when there is none.
pub fn load(kind: Kind, profile: &str) -> CliResult<Option<Zeroizing<Vec<u8>>>> {
    let path = path(kind, profile)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failure(format!("cannot read {}: {e}", path.display()))),
    };
    let head = MAGIC.len() + 1 + 12;
    if bytes.len() < head || &bytes[..MAGIC.len()] != MAGIC || bytes[MAGIC.len()] != VERSION {
        return Err(failure(format!("{} is not a sealed file", path.display())));
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&bytes[MAGIC.len() + 1..head]);
    let key = key()?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| failure("bad key length"))?;
    let aad = aad(kind, profile);
    let plain = cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &bytes[head..],
                aad: &aad,
            },
        )
        .map_err(|_| {
            failure(format!(
                "cannot open {}: another sealing key, or the file was altered",
                path.display()
            ))
        })?;
    Ok(Some(Zeroizing::new(plain)))
}

/// Deletes the file of (`kind`, `profile`); whether there was one.
pub fn remove(kind: Kind, profile: &str) -> CliResult<bool> {
    let path = path(kind, profile)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(failure(format!("cannot delete {}: {e}", path.display()))),
    }
}
