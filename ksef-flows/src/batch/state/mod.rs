//! The state file of a batch: everything needed to continue it after a crash.
//!
//! The file is JSON. Its `state` member is in clear (what the batch is, its part plan, the
//! phase, the session reference number, the confirmed parts, the SHA-256 of the inputs file);
//! the secrets (the session's AES key and IV, and the presigned part-upload URLs, which grant
//! write access to the parts) are in `sealed`: AES-256-GCM under the caller's [`StateKey`], with
//! a fresh 96-bit random nonce for every write and the clear `state` as associated data
//! (`ksef-rs-batch-state/1\n` + the state as JSON with sorted keys and no whitespace), so a
//! changed clear part is detected as well. The file is replaced atomically (written to a
//! temporary file with mode 0600, synced, renamed over the old one, directory synced).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ksef_crypto::SymmetricKey;
use rand::TryRng as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::progress::BatchPhase;
use crate::error::{FlowError, Result};

/// File name of the state file in the work directory.
pub(crate) const STATE_FILE: &str = "batch-state.json";
const FORMAT: &str = "ksef-rs-batch-state";
const VERSION: u32 = 1;

/// The 256-bit key that seals a batch's state file (AES-256-GCM). Supply the same key to
/// continue the batch later. Redacted in `Debug`, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct StateKey([u8; 32]);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey([redacted])")
    }
}

fn key_error(detail: impl Into<String>) -> FlowError {
    FlowError::BatchState {
        path: None,
        detail: format!("state key: {}", detail.into()),
    }
}

impl StateKey {
    /// From 32 raw bytes (e.g. from a key-management callback).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key (keep it: the batch cannot be continued without it).
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        rand::rngs::SysRng
            .try_fill_bytes(&mut k)
            .map_err(|_| key_error("the system random number generator failed"))?;
        let key = Self(k);
        k.zeroize();
        Ok(key)
    }

    /// From text: standard Base64 of 32 bytes, or 64 hexadecimal digits (surrounding
    /// whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self> {
        let t = text.trim();
        let mut raw: Zeroizing<Vec<u8>> = Zeroizing::new(
            if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                (0..32)
                    .filter_map(|i| {
                        t.get(2 * i..2 * i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect()
            } else {
                ksef_crypto::b64::decode("state key", t)
                    .map_err(|_| key_error("not Base64 or hexadecimal"))?
            },
        );
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| key_error(format!("{} bytes, must be 32", raw.len())))?;
        raw.zeroize();
        Ok(Self(bytes))
    }

    /// From an environment variable holding [`from_text`](Self::from_text)'s format.
    pub fn from_env(var: &str) -> Result<Self> {
        let v = Zeroizing::new(
            std::env::var(var)
                .map_err(|_| key_error(format!("environment variable {var} is not set")))?,
        );
        Self::from_text(&v)
    }

    /// From a file holding 32 raw bytes, or [`from_text`](Self::from_text)'s format.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let raw = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| key_error(format!("cannot read {}: {e}", path.display())))?,
        );
        if let Ok(b) = <[u8; 32]>::try_from(raw.as_slice()) {
            return Ok(Self(b));
        }
        let text = std::str::from_utf8(&raw)
            .map_err(|_| key_error("the key file is neither 32 bytes nor text"))?;
        Self::from_text(text)
    }

    /// Standard Base64 of the key, to store it somewhere safe.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(ksef_crypto::b64::encode(self.0))
    }
}

/// The clear part of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchState {
    pub(crate) batch_id: String,
    pub(crate) created_at: String,
    pub(crate) form: FormRecord,
    pub(crate) compression: String,
    pub(crate) offline_mode: bool,
    pub(crate) archive: ArchiveRecord,
    pub(crate) parts: Vec<PartRecord>,
    pub(crate) inputs: InputsRecord,
    pub(crate) phase: BatchPhase,
    pub(crate) session: Option<SessionRecord>,
    pub(crate) abandoned_sessions: Vec<AbandonedSession>,
    pub(crate) final_status: Option<StatusRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FormRecord {
    pub(crate) system_code: String,
    pub(crate) schema_version: String,
    pub(crate) value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArchiveRecord {
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartRecord {
    pub(crate) ordinal: u32,
    pub(crate) file: String,
    pub(crate) plain_size: u64,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InputsRecord {
    pub(crate) file: String,
    pub(crate) count: usize,
    pub(crate) packed: usize,
    pub(crate) stopped: usize,
    pub(crate) sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionRecord {
    pub(crate) reference_number: String,
    /// Base URL of the environment the session lives in.
    pub(crate) environment: String,
    /// Context of the session (`Nip:1234567890`).
    pub(crate) context: String,
    pub(crate) opened_at: String,
    pub(crate) confirmed_parts: BTreeSet<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AbandonedSession {
    pub(crate) reference_number: Option<String>,
    pub(crate) reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusRecord {
    pub(crate) code: i32,
    pub(crate) description: String,
    pub(crate) details: Vec<String>,
}

/// Where and how to upload one part (from the session open answer). The URL is a credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadTarget {
    pub(crate) ordinal: u32,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: BTreeMap<String, String>,
}

impl Drop for UploadTarget {
    fn drop(&mut self) {
        self.url.zeroize();
    }
}

impl std::fmt::Debug for UploadTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadTarget")
            .field("ordinal", &self.ordinal)
            .field("method", &self.method)
            .field("url", &"[redacted]")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The sealed part of the state file.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    pub(crate) key: SymmetricKey,
    pub(crate) uploads: Vec<UploadTarget>,
}

#[derive(Serialize, Deserialize)]
struct SecretsWire {
    key: String,
    iv: String,
    uploads: Vec<UploadTarget>,
}

impl Drop for SecretsWire {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    algorithm: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct StateFileWire {
    format: String,
    version: u32,
    state: BatchState,
    sealed: Sealed,
}

/// Reads and writes one state file.
#[derive(Debug, Clone)]
pub(crate) struct StateStore {
    path: PathBuf,
    key: StateKey,
}

/// The associated data of the seal: `ksef-rs-batch-state/1`, a newline, and the clear state as
/// canonical JSON (object keys sorted, no whitespace), so that any reader can rebuild it from
/// the file whatever the order of its members.
fn aad(state: &BatchState) -> Result<Vec<u8>> {
    let fail = |e: serde_json::Error| FlowError::BatchState {
        path: None,
        detail: format!("cannot serialise the state: {e}"),
    };
    let mut a = format!("{FORMAT}/{VERSION}\n").into_bytes();
    let value = serde_json::to_value(state).map_err(fail)?;
    canonical_json(&value, &mut a).map_err(fail)?;
    Ok(a)
}

fn canonical_json(v: &serde_json::Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                if let Some(item) = m.get(k) {
                    canonical_json(item, out)?;
                }
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out)?;
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

impl StateStore {
    pub(crate) fn new(dir: &Path, key: StateKey) -> Self {
        Self {
            path: dir.join(STATE_FILE),
            key,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, detail: impl Into<String>) -> FlowError {
        FlowError::BatchState {
            path: Some(self.path.clone()),
            detail: detail.into(),
        }
    }

    /// Seals and writes the state atomically.
    pub(crate) fn save(&self, state: &BatchState, secrets: &Secrets) -> Result<()> {
        let wire = SecretsWire {
            key: ksef_crypto::b64::encode(secrets.key.key_bytes()),
            iv: secrets.key.iv_b64(),
            uploads: secrets.uploads.clone(),
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(&wire).map_err(|e| self.error(format!("serialise: {e}")))?,
        );
        drop(wire);
        let mut nonce = [0u8; 12];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| self.error("the system random number generator failed"))?;
        let cipher = Aes256Gcm::new_from_slice(&self.key.0)
            .map_err(|_| self.error("invalid state key length"))?;
        let aad = aad(state)?;
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| self.error("sealing failed"))?;
        let file = StateFileWire {
            format: FORMAT.into(),
            version: VERSION,
            state: state.clone(),
            sealed: Sealed {
                algorithm: "AES-256-GCM".into(),
                nonce: ksef_crypto::b64::encode(nonce),
                ciphertext: ksef_crypto::b64::encode(&sealed),
            },
        };
        let mut bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| self.error(format!("serialise: {e}")))?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes).map_err(|e| self.error(format!("write: {e}")))
    }

    /// Reads and opens the state file; `None` when there is none.
    pub(crate) fn load(&self) -> Result<Option<(BatchState, Secrets)>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("read: {e}"))),
        };
        let file: StateFileWire = serde_json::from_slice(&bytes)
            .map_err(|e| self.error(format!("not a batch state file: {e}")))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(self.error(format!(
                "format {} version {} (this library reads {FORMAT} version {VERSION})",
                file.format, file.version
            )));
        }
        let nonce: [u8; 12] = ksef_crypto::b64::decode("nonce", &file.sealed.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| self.error("malformed nonce"))?;
        let ciphertext = ksef_crypto::b64::decode("sealed", &file.sealed.ciphertext)
            .map_err(|_| self.error("malformed sealed part"))?;
        let cipher = Aes256Gcm::new_from_slice(&self.key.0)
            .map_err(|_| self.error("invalid state key length"))?;
        let aad = aad(&file.state)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    self.error(
                        "cannot open the sealed part: another state key, or the file was altered",
                    )
                })?,
        );
        let wire: SecretsWire =
            serde_json::from_slice(&plain).map_err(|e| self.error(format!("sealed part: {e}")))?;
        let raw = Zeroizing::new(
            ksef_crypto::b64::decode("key", &wire.key).map_err(|_| self.error("sealed key"))?,
        );
        let iv = ksef_crypto::b64::decode("iv", &wire.iv).map_err(|_| self.error("sealed IV"))?;
        let key = SymmetricKey::from_slices(&raw, &iv).map_err(|_| self.error("sealed key"))?;
        Ok(Some((
            file.state,
            Secrets {
                key,
                uploads: wire.uploads.clone(),
            },
        )))
    }
}

/// Replaces `path` with `bytes`: temporary file (mode 0600), fsync, rename, fsync of the
/// directory. A reader sees the old or the new content, never a mix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    #[cfg(unix)]
    {
        // an older temporary file may have had other permissions
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes a directory's entries (renames, new files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes a work directory, the state file first: a run killed halfway through leaves either
/// a complete batch or no batch, never a state file whose other files are gone.
pub(crate) fn remove_work_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(STATE_FILE)) {
        Ok(()) => sync_dir(dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests;
