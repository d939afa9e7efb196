//! Parallel download of the encrypted parts of a package: plain `GET`s of presigned URLs (no
//! `Authorization`), each streamed through a blocking worker that hashes the ciphertext,
//! decrypts it, hashes the plaintext and writes it to a temporary file.

use std::collections::HashMap;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use ksef_crypto::SymmetricKey;
use tokio::sync::mpsc;

use super::archive::DecryptedPackage;
use super::handle::Export;
use super::package::{DownloadOptions, ExportPackage, PackagePart};
use crate::error::PartFailure;
use crate::error::{FlowError, Result};
use crate::progress::ExportEvent;

/// Presigned URLs that stop working within this margin are refreshed before use.
const EXPIRY_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(5);
/// Size of the buffer in front of each decrypted part file.
const WRITE_BUFFER: usize = 256 * 1024;
/// Chunks in flight between a download and its decrypting worker.
const CHANNEL_DEPTH: usize = 8;

/// The current presigned URLs of a package, refreshed together when they expire.
struct Urls<'a> {
    export: &'a Export,
    current: tokio::sync::Mutex<(u64, HashMap<u32, PackagePart>)>,
    refreshes: AtomicU32,
    max_refreshes: u32,
}

impl Urls<'_> {
    async fn get(&self, ordinal: u32) -> Option<(u64, PackagePart)> {
        let g = self.current.lock().await;
        g.1.get(&ordinal).map(|p| (g.0, p.clone()))
    }

    /// Fetches fresh URLs unless another task did since `seen`; `Ok(false)` when the refresh
    /// budget is spent.
    async fn refresh(&self, seen: u64) -> Result<bool> {
        let mut g = self.current.lock().await;
        if g.0 != seen {
            return Ok(true);
        }
        if self.refreshes.fetch_add(1, Ordering::Relaxed) >= self.max_refreshes {
            return Ok(false);
        }
        let fresh = self.export.refreshed_package().await?;
        for part in fresh.parts {
            match g.1.get_mut(&part.ordinal) {
                Some(old)
                    if old.encrypted_hash == part.encrypted_hash
                        && old.encrypted_size == part.encrypted_size =>
                {
                    *old = part;
                }
                _ => {
                    return Err(FlowError::PackageInconsistent(format!(
                        "part {} changed between two status queries of export {}",
                        part.ordinal,
                        self.export.reference_number()
                    )));
                }
            }
        }
        g.0 += 1;
        tracing::info!(
            reference_number = %self.export.reference_number(),
            "presigned URLs refreshed"
        );
        self.export.progress().emit(ExportEvent::UrlsRefreshed);
        Ok(true)
    }
}

pub(super) async fn download(
    export: &Export,
    package: &ExportPackage,
    options: &DownloadOptions,
) -> Result<DecryptedPackage> {
    let base = options.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).map_err(|source| FlowError::Io {
        step: "creating the directory for decrypted parts",
        source,
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(".ksef-export-")
        .tempdir_in(&base)
        .map_err(|source| FlowError::Io {
            step: "creating a temporary directory for decrypted parts",
            source,
        })?;
    let urls = Urls {
        export,
        current: tokio::sync::Mutex::new((
            0,
            package
                .parts
                .iter()
                .map(|p| (p.ordinal, p.clone()))
                .collect(),
        )),
        refreshes: AtomicU32::new(0),
        max_refreshes: options.max_url_refreshes,
    };
    let dir = tmp.path().to_path_buf();
    let urls = &urls;
    let fetches: Vec<_> = package
        .parts
        .iter()
        .map(|part| fetch_part(export, urls, part.clone(), &dir, options))
        .collect();
    let mut files: Vec<(u32, PathBuf)> = futures::stream::iter(fetches)
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;
    files.sort_by_key(|(o, _)| *o);
    Ok(DecryptedPackage::new(
        tmp,
        files.into_iter().map(|(_, p)| p).collect(),
        package.clone(),
        options.durability,
    ))
}

/// One part into `dir/part-NNNNN`: its ordinal and file.
async fn fetch_part(
    export: &Export,
    urls: &Urls<'_>,
    part: PackagePart,
    dir: &Path,
    options: &DownloadOptions,
) -> Result<(u32, PathBuf)> {
    let path = dir.join(format!("part-{:05}", part.ordinal));
    fetch_with_retries(export, urls, &part, &path, options).await?;
    Ok((part.ordinal, path))
}

async fn fetch_with_retries(
    export: &Export,
    urls: &Urls<'_>,
    declared: &PackagePart,
    path: &Path,
    options: &DownloadOptions,
) -> Result<()> {
    let ksef = export.auth().ksef();
    let progress = export.progress();
    let fail = |failure| FlowError::ExportPart {
        ordinal: declared.ordinal,
        part_name: declared.name.clone(),
        failure,
    };
    let mut attempt = 0u32;
    loop {
        let Some((generation, part)) = urls.get(declared.ordinal).await else {
            return Err(fail(PartFailure::Expired));
        };
        if part.expires <= ksef.now() + EXPIRY_MARGIN {
            if urls.refresh(generation).await? {
                continue;
            }
            return Err(fail(PartFailure::Expired));
        }
        attempt += 1;
        progress.emit(ExportEvent::PartStarted {
            ordinal: part.ordinal,
            attempt,
        });
        let span = tracing::debug_span!("ksef_export_part", ordinal = part.ordinal, attempt);
        let outcome = tracing::Instrument::instrument(fetch_once(export, &part, path), span).await;
        match outcome {
            Ok(bytes) => {
                tracing::debug!(ordinal = part.ordinal, bytes, "export part verified");
                progress.emit(ExportEvent::PartVerified {
                    ordinal: part.ordinal,
                    encrypted_bytes: bytes,
                });
                return Ok(());
            }
            Err(PartFailure::Http { status }) if status == 401 || status == 403 => {
                // A presigned URL the storage refuses: expired (clocks differ) or revoked.
                attempt -= 1;
                tracing::warn!(
                    ordinal = part.ordinal,
                    status,
                    "download URL refused; fetching fresh URLs"
                );
                if !urls.refresh(generation).await? {
                    let failure = if part.expires <= ksef.now() {
                        PartFailure::Expired
                    } else {
                        PartFailure::Http { status }
                    };
                    return Err(fail(failure));
                }
            }
            Err(failure) => {
                let retrying = failure.is_transient() && attempt < options.max_attempts;
                tracing::warn!(ordinal = part.ordinal, attempt, error = %failure, retrying, "export part failed");
                progress.emit(ExportEvent::PartFailed {
                    ordinal: part.ordinal,
                    attempt,
                    reason: failure.to_string(),
                    retrying,
                });
                if !retrying {
                    return Err(fail(failure));
                }
                tokio::time::sleep(ksef.retry_policy().backoff(attempt)).await;
            }
        }
    }
}

/// Whether a `Content-Type` announces a page rather than binary data.
fn is_page(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/") || ct.contains("html") || ct.contains("json") || ct.contains("xml")
}

/// One attempt: download, hash, decrypt, hash, write. Returns the encrypted bytes received.
async fn fetch_once(
    export: &Export,
    part: &PackagePart,
    path: &Path,
) -> std::result::Result<u64, PartFailure> {
    let http = export.auth().ksef().api().http();
    let method = reqwest::Method::from_bytes(part.method.trim().to_ascii_uppercase().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    // A plain request: the presigned URL is the credential, an Authorization header breaks it.
    let response = http
        .request(method, &part.url)
        .send()
        .await
        .map_err(|e| PartFailure::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(PartFailure::Http {
            status: status.as_u16(),
        });
    }
    let headers = response.headers();
    if let Some(ct) = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        && is_page(ct)
    {
        return Err(PartFailure::ContentType {
            content_type: ct.to_string(),
        });
    }
    if let Some(len) = response.content_length()
        && len != part.encrypted_size
    {
        return Err(PartFailure::Size {
            expected: part.encrypted_size,
            actual: len,
        });
    }
    let meta_hash = headers
        .get(ksef_api::HEADER_META_HASH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string());
    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let key = export.key().clone();
    let file = path.to_path_buf();
    let worker = tokio::task::spawn_blocking(move || decrypt_to_file(&key, rx, &file));
    let mut received = 0u64;
    let mut body = response.bytes_stream();
    let mut transfer: std::result::Result<(), PartFailure> = Ok(());
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > part.encrypted_size {
                    transfer = Err(PartFailure::Size {
                        expected: part.encrypted_size,
                        actual: received,
                    });
                    break;
                }
                if tx.send(chunk).await.is_err() {
                    break; // the worker stopped: its error tells why
                }
            }
            Err(e) => {
                transfer = Err(PartFailure::Transport(e.without_url().to_string()));
                break;
            }
        }
    }
    drop(tx);
    let decrypted = worker
        .await
        .map_err(|e| PartFailure::Io(format!("the decrypting task failed: {e}")))?;
    transfer?;
    if received != part.encrypted_size {
        return Err(PartFailure::Size {
            expected: part.encrypted_size,
            actual: received,
        });
    }
    let digests = decrypted?;
    let actual = digests.encrypted.sha256_b64();
    if let Some(header) = meta_hash
        && header != actual
    {
        return Err(PartFailure::MetaHash {
            expected: actual,
            header,
        });
    }
    if actual != part.encrypted_hash {
        return Err(PartFailure::EncryptedHash {
            expected: part.encrypted_hash.clone(),
            actual,
        });
    }
    if digests.plain.size != part.size {
        return Err(PartFailure::Plain {
            what: "partSize",
            expected: part.size.to_string(),
            actual: digests.plain.size.to_string(),
        });
    }
    let plain = digests.plain.sha256_b64();
    if plain != part.hash {
        return Err(PartFailure::Plain {
            what: "partHash",
            expected: part.hash.clone(),
            actual: plain,
        });
    }
    Ok(received)
}

/// The blocking side of one attempt: ciphertext chunks in, plaintext to `path`, digests out.
fn decrypt_to_file(
    key: &SymmetricKey,
    mut rx: mpsc::Receiver<Bytes>,
    path: &Path,
) -> std::result::Result<ksef_crypto::StreamDigests, PartFailure> {
    let io = |e: std::io::Error| PartFailure::Io(e.to_string());
    let file = std::fs::File::create(path).map_err(io)?;
    let mut writer = key.decrypt_writer(BufWriter::with_capacity(WRITE_BUFFER, file));
    while let Some(chunk) = rx.blocking_recv() {
        writer.write_all(&chunk).map_err(io)?;
    }
    let (buffered, digests) = writer
        .finish()
        .map_err(|e| PartFailure::Decrypt(e.to_string()))?;
    buffered
        .into_inner()
        .map_err(|e| PartFailure::Io(e.error().to_string()))?;
    Ok(digests)
}
