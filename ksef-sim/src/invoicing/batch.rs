//! Batch sessions: open with presigned part-upload URLs, streaming part
//! uploads to disk, close, and background processing (part decryption file to
//! file, archive hash check, unpacking, per-invoice processing).
//!
//! Memory stays flat regardless of the batch size: parts are streamed to disk
//! while hashed, decrypted in 256 KiB chunks into one archive file, and the
//! archive is read one entry at a time.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::archive::{ArchiveError, Compression, UnpackLimits, unpack};
use super::crypto::{StreamError, b64};
use super::intake::{Decided, ReceivedInvoice, decide};
use super::opening::{EncryptionWire, FormCodeWire, form_of, new_session, unwrap_key};
use super::rules::MAX_INVOICE_SIZE_WITH_ATTACHMENT;
use super::store::{BatchInfo, PartInfo, Phase, SessionInvoice, SessionKind, Status};
use crate::auth::context::AuthContext;
use crate::clock::after;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::response::json as json_response;
use crate::identifiers::{RefKind, reference_number};
use crate::ops::OperationInfo;
use crate::presign::PresignedRoute;
use crate::presign::extractor::Presigned;
use crate::state::AppState;

/// Largest plaintext part (100 MB); an encrypted part may be one padding block longer.
const MAX_PART_SIZE: i64 = 100_000_000;
/// Most parts per batch.
const MAX_PARTS: usize = 50;
/// Largest plaintext archive.
const MAX_ARCHIVE_SIZE: i64 = 5_000_000_000;
/// Most uncompressed bytes per byte of a batch archive (XML compresses ~5-20 times; a
/// decompression bomb far more).
const MAX_UNPACK_RATIO: u64 = 100;
/// Uncompressed bytes a batch archive may always unpack to, whatever its ratio.
const UNPACK_FLOOR: u64 = 64 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartWire {
    ordinal_number: i64,
    file_size: i64,
    file_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchFileWire {
    file_size: i64,
    file_hash: String,
    compression_type: Option<String>,
    file_parts: Vec<PartWire>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenBatchRequest {
    form_code: FormCodeWire,
    batch_file: BatchFileWire,
    encryption: EncryptionWire,
    #[serde(default)]
    offline_mode: bool,
}

fn is_sha256_b64(s: &str) -> bool {
    s.len() == 44 && super::crypto::unb64(s).is_some_and(|b| b.len() == 32)
}

/// `POST /sessions/batch`.
pub(crate) async fn open(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    JsonBody(req): JsonBody<OpenBatchRequest>,
) -> Result<Response, ApiError> {
    let form = form_of(&req.form_code)?;
    let bf = &req.batch_file;
    let compression = Compression::from_api(bf.compression_type.as_deref())
        .ok_or_else(|| ApiError::validation("compressionType must be Zip or TarGz."))?;
    if bf.file_parts.is_empty() {
        return Err(ApiError::validation("fileParts must not be empty."));
    }
    if bf.file_parts.len() > MAX_PARTS {
        return Err(ApiError::bad_request(
            21161,
            "Przekroczono dozwoloną liczbę części pakietu.",
            [format!(
                "Liczba części {} przekracza limit {MAX_PARTS}.",
                bf.file_parts.len()
            )],
        ));
    }
    if bf.file_size <= 0 || bf.file_size > MAX_ARCHIVE_SIZE {
        return Err(ApiError::validation(format!(
            "batchFile.fileSize must be between 1 and {MAX_ARCHIVE_SIZE}."
        )));
    }
    if !is_sha256_b64(&bf.file_hash) {
        return Err(ApiError::validation(
            "batchFile.fileHash must be a Base64 SHA-256 digest.",
        ));
    }
    let n = bf.file_parts.len() as i64;
    let mut ordinals: Vec<i64> = bf.file_parts.iter().map(|p| p.ordinal_number).collect();
    ordinals.sort_unstable();
    if ordinals != (1..=n).collect::<Vec<_>>() {
        return Err(ApiError::validation(
            "fileParts ordinalNumber values must be 1..N, each once.",
        ));
    }
    for p in &bf.file_parts {
        if p.file_size <= 0 || p.file_size > MAX_PART_SIZE + 16 {
            return Err(ApiError::bad_request(
                21157,
                "Nieprawidłowy rozmiar części pakietu.",
                [format!(
                    "Część {} ma rozmiar {} (dozwolone 1..{}).",
                    p.ordinal_number,
                    p.file_size,
                    MAX_PART_SIZE + 16
                )],
            ));
        }
        if !is_sha256_b64(&p.file_hash) {
            return Err(ApiError::validation(format!(
                "fileParts[{}].fileHash must be a Base64 SHA-256 digest.",
                p.ordinal_number
            )));
        }
    }
    let key = unwrap_key(&state, &req.encryption)?;
    let mut session = new_session(
        &state,
        &ctx,
        SessionKind::Batch,
        form,
        key,
        req.offline_mode,
    );
    let dir = state
        .data_dir
        .join("invoicing")
        .join("batch")
        .join(&session.reference);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("cannot create the batch directory: {e}")))?;
    let mut parts: Vec<PartInfo> = bf
        .file_parts
        .iter()
        .map(|p| PartInfo {
            ordinal: u32::try_from(p.ordinal_number).unwrap_or(0),
            size: u64::try_from(p.file_size).unwrap_or(0),
            hash: p.file_hash.clone(),
            uploaded: false,
        })
        .collect();
    parts.sort_by_key(|p| p.ordinal);
    let uploads: Vec<Value> = parts
        .iter()
        .map(|p| {
            let u = state.presign.url(
                &state.faults,
                op,
                PresignedRoute::BatchPart,
                &[&session.reference, &p.ordinal.to_string()],
            );
            json!({
                "ordinalNumber": p.ordinal,
                "method": "PUT",
                "url": u.url,
                "headers": { "x-ms-blob-type": "BlockBlob" },
            })
        })
        .collect();
    session.batch = Some(BatchInfo {
        file_size: u64::try_from(bf.file_size).unwrap_or(0),
        file_hash: bf.file_hash.clone(),
        compression,
        parts,
        dir,
    });
    let body = json!({ "referenceNumber": session.reference, "partUploadRequests": uploads });
    state.invoicing.with(|s| {
        s.session_order.push(session.reference.clone());
        s.sessions.insert(session.reference.clone(), session);
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

fn blob_error(status: StatusCode, code: &str, msg: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{msg}</Message></Error>"
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/xml"),
    );
    r
}

/// Deletes a file when dropped (a no-op once it was renamed away).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn part_path(dir: &std::path::Path, ordinal: u32) -> PathBuf {
    dir.join(format!("part-{ordinal:03}.bin"))
}

/// `PUT` on a presigned part-upload URL: streams the body to disk while
/// hashing it; 201 when size and hash match the declaration.
pub(crate) async fn upload_part(
    _p: Presigned,
    State(state): State<AppState>,
    Path((reference, ordinal)): Path<(String, u32)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return blob_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Authorization header must not be sent with a presigned URL.",
        );
    }
    if headers.get("x-ms-blob-type").and_then(|v| v.to_str().ok()) != Some("BlockBlob") {
        return blob_error(
            StatusCode::BAD_REQUEST,
            "MissingRequiredHeader",
            "x-ms-blob-type: BlockBlob is required.",
        );
    }
    let found = state.invoicing.with(|s| {
        let sess = s.sessions.get(&reference)?;
        if !matches!(sess.phase, Phase::Open) {
            return Some(Err(()));
        }
        let b = sess.batch.as_ref()?;
        let p = b.parts.iter().find(|p| p.ordinal == ordinal)?;
        Some(Ok((b.dir.clone(), p.size, p.hash.clone())))
    });
    let (dir, size, hash) = match found {
        None => return blob_error(StatusCode::NOT_FOUND, "BlobNotFound", "No such part."),
        Some(Err(())) => {
            return blob_error(
                StatusCode::CONFLICT,
                "SessionClosed",
                "The session no longer accepts uploads.",
            );
        }
        Some(Ok(v)) => v,
    };
    let tmp = dir.join(format!("part-{ordinal:03}.{}.tmp", uuid::Uuid::new_v4()));
    // Removes the partial file also when the client goes away mid-upload (the handler is then
    // dropped at an await point).
    let _partial = RemoveOnDrop(tmp.clone());
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            written += chunk.len() as u64;
            if written > size {
                return Ok::<_, std::io::Error>((written, None));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await.ok();
        Ok((written, Some(b64(&hasher.finalize()))))
    }
    .await;
    let cleanup = || async {
        let _ = tokio::fs::remove_file(&tmp).await;
    };
    match result {
        Err(_) => {
            cleanup().await;
            blob_error(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                "The upload was interrupted.",
            )
        }
        Ok((written, got)) if written != size || got.is_none() => {
            cleanup().await;
            blob_error(
                StatusCode::BAD_REQUEST,
                "InvalidBlobSize",
                &format!("Part {ordinal}: received {written} bytes, declared {size}."),
            )
        }
        Ok((_, got)) if got.as_deref() != Some(hash.as_str()) => {
            cleanup().await;
            blob_error(
                StatusCode::BAD_REQUEST,
                "HashMismatch",
                &format!(
                    "Part {ordinal}: SHA-256 of the body does not match the declared fileHash."
                ),
            )
        }
        Ok(_) => {
            if tokio::fs::rename(&tmp, part_path(&dir, ordinal))
                .await
                .is_err()
            {
                cleanup().await;
                return blob_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "Cannot store the part.",
                );
            }
            state.invoicing.with(|s| {
                if let Some(p) = s
                    .sessions
                    .get_mut(&reference)
                    .and_then(|x| x.batch.as_mut())
                    .and_then(|b| b.parts.iter_mut().find(|p| p.ordinal == ordinal))
                {
                    p.uploaded = true;
                }
            });
            StatusCode::CREATED.into_response()
        }
    }
}

/// `POST /sessions/batch/{referenceNumber}/close`.
pub(crate) async fn close(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.now();
    state.invoicing.with(|s| {
        let sess = s.open_session_mut(
            &ctx.context_key(),
            &reference,
            SessionKind::Batch,
            now,
            "jej zamknięcie",
        )?;
        if now > sess.valid_until {
            sess.phase = Phase::Failed(
                Status::new(440, "Sesja anulowana").with_detail("Przekroczono czas wysyłki"),
            );
            return Err(ApiError::bad_request(
                21208,
                "Czas oczekiwania na requesty upload lub finish został przekroczony.",
                ["Sesja anulowana, przekroczony czas wysyłki."],
            ));
        }
        let missing: Vec<String> = sess
            .batch
            .as_ref()
            .map(|b| {
                b.parts
                    .iter()
                    .filter(|p| !p.uploaded)
                    .map(|p| p.ordinal.to_string())
                    .collect()
            })
            .unwrap_or_default();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(
                21205,
                "Pakiet nie może być pusty.",
                missing
                    .iter()
                    .map(|o| format!("Nie przesłano zadeklarowanej '{o}' części pliku.")),
            ));
        }
        sess.phase = Phase::Processing;
        sess.closed_at = Some(now);
        sess.updated = now;
        Ok(())
    })?;
    let extra = state.faults.take_stuck_processing(op);
    let cancel_one = state.faults.take_async_failure(op);
    let st = state.clone();
    let r = reference.clone();
    state.blocking.spawn(move || {
        let final_status = process(&st, &r, cancel_one);
        finish(&st, &r, final_status, extra);
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn finish(
    state: &AppState,
    reference: &str,
    final_status: Status,
    extra: Option<std::time::Duration>,
) {
    let delay = state
        .invoicing
        .config
        .session_close_delay
        .saturating_add(extra.unwrap_or_default());
    let ready_at = after(state.now(), delay);
    let dir = state.invoicing.with(|s| {
        let sess = s.sessions.get_mut(reference)?;
        if final_status.code == 200 {
            sess.assign_upo_pages(state.now());
        }
        let invoices_ready = sess
            .invoices
            .iter()
            .map(|i| i.ready_at)
            .max()
            .unwrap_or(ready_at);
        sess.phase = Phase::Closed {
            interim: Status::new(150, "Trwa przetwarzanie"),
            final_status,
            ready_at: ready_at.max(invoices_ready),
        };
        sess.updated = state.now();
        sess.batch.as_ref().map(|b| b.dir.clone())
    });
    // Parts and the archive are no longer needed.
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Processes a closed batch session and returns its final status; with `cancel_one` its first
/// invoice ends with 550 (cancelled by the system) instead of being decided.
fn process(state: &AppState, reference: &str, mut cancel_one: bool) -> Status {
    let snapshot = state.invoicing.with(|s| {
        s.sessions.get(reference).and_then(|x| {
            x.batch.clone().map(|b| {
                (
                    x.key.clone(),
                    b,
                    x.form,
                    x.offline_mode,
                    x.context_key.clone(),
                )
            })
        })
    });
    let Some((key, batch, form, offline, context_key)) = snapshot else {
        return Status::new(500, "Nieznany błąd (session vanished)");
    };
    let Some(key) = key else {
        return Status::new(415, "Błąd odszyfrowania dostarczonego klucza");
    };
    // 1. Decrypt each part separately into one archive file.
    let archive = batch.dir.join("archive.bin");
    let mut hasher = Sha256::new();
    let decrypted = (|| -> Result<u64, (Status, bool)> {
        let io_fail = |e: std::io::Error| {
            (
                Status::new(500, "Nieznany błąd").with_detail(format!("I/O: {e}")),
                true,
            )
        };
        let mut out =
            BufWriter::with_capacity(256 * 1024, File::create(&archive).map_err(io_fail)?);
        let mut total = 0u64;
        for p in &batch.parts {
            let input = BufReader::with_capacity(
                256 * 1024,
                File::open(part_path(&batch.dir, p.ordinal)).map_err(io_fail)?,
            );
            total += key
                .decrypt_stream(input, &mut out, &mut hasher)
                .map_err(|e| match e {
                    StreamError::Decrypt => (
                        Status::new(435, "Błąd odszyfrowania zaszyfrowanych części archiwum")
                            .with_detail(format!("Część {} nie daje się odszyfrować.", p.ordinal)),
                        false,
                    ),
                    StreamError::Io(e) => io_fail(e),
                })?;
            // Free disk space as we go.
            let _ = std::fs::remove_file(part_path(&batch.dir, p.ordinal));
        }
        out.flush().map_err(io_fail)?;
        Ok(total)
    })();
    let total = match decrypted {
        Ok(t) => t,
        Err((st, _)) => return st,
    };
    // 2. Archive size and hash.
    if total != batch.file_size || b64(&hasher.finalize()) != batch.file_hash {
        return Status::new(405, "Błąd weryfikacji poprawności dostarczonych elementów paczki").with_detail(format!(
            "Rozmiar lub skrót archiwum nie zgadza się z deklaracją (otrzymano {total} B, zadeklarowano {} B).",
            batch.file_size
        ));
    }
    // 3. Unpack and process each invoice independently.
    let max = state.invoicing.config.max_invoices_per_session.min(
        usize::try_from(
            state
                .limits
                .context(&context_key)
                .batch_session
                .max_invoices,
        )
        .unwrap_or(usize::MAX),
    );
    let nip = context_key
        .strip_prefix("Nip:")
        .map(|n| n.to_string())
        .or_else(|| {
            context_key
                .split_once(':')
                .and_then(|(_, v)| v.split('-').next())
                .map(str::to_string)
        });
    let attachments = state.invoicing.config.attachments_allowed
        || nip
            .as_deref()
            .is_some_and(|n| state.testdata.attachments_allowed(n, state.now()));
    let mut ordinal = 0usize;
    let limits = UnpackLimits {
        entry_limit: MAX_INVOICE_SIZE_WITH_ATTACHMENT as u64,
        max_entries: max,
        max_ratio: MAX_UNPACK_RATIO,
        floor: UNPACK_FLOOR,
    };
    let result = unpack(&archive, batch.compression, limits, |entry| {
        ordinal += 1;
        let received = state.now();
        let invoice_reference = reference_number(RefKind::Invoice, received);
        let ready_at = after(received, state.invoicing.config.processing_delay);
        let hash = b64(&entry.sha256);
        let decided = match &entry.bytes {
            Some(_) if std::mem::take(&mut cancel_one) => {
                Decided::refused(Status::cancelled_by_system())
            }
            Some(bytes) => decide(
                state,
                ReceivedInvoice {
                    session_reference: reference,
                    context_key: &context_key,
                    form,
                    bytes,
                    attachments_allowed: attachments,
                    offline,
                    hash_of_corrected: None,
                    received_at: received,
                    ready_at,
                },
            ),
            None => Decided::refused(
                Status::new(450, "Błąd weryfikacji semantyki dokumentu faktury").with_detail(
                    format!(
                        "Plik {} przekracza dopuszczalny rozmiar ({} B).",
                        entry.name, MAX_INVOICE_SIZE_WITH_ATTACHMENT
                    ),
                ),
            ),
        };
        state.invoicing.with(|s| {
            if let Some(sess) = s.sessions.get_mut(reference) {
                sess.invoices.push(SessionInvoice {
                    ordinal,
                    reference: invoice_reference,
                    invoice_hash: hash,
                    file_name: Some(entry.name.clone()),
                    invoice_number: decided.invoice_number,
                    ksef_number: decided.ksef_number,
                    invoicing_date: received,
                    acquisition_date: decided.dates.map(|d| d.0),
                    permanent_storage_date: decided.dates.map(|d| d.1),
                    offline,
                    final_status: decided.final_status,
                    ready_at,
                });
            }
        });
    });
    let _ = std::fs::remove_file(&archive);
    match result {
        Err(ArchiveError::Corrupt(e)) => {
            Status::new(430, "Błąd dekompresji pierwotnego archiwum").with_detail(e)
        }
        Err(ArchiveError::TooLarge(n)) => Status::new(430, "Błąd dekompresji pierwotnego archiwum")
            .with_detail(format!("Archiwum rozpakowuje się do ponad {n} B.")),
        Err(ArchiveError::TooManyEntries(n)) => {
            Status::new(420, "Przekroczony limit faktur w sesji")
                .with_detail(format!("Limit: {n}."))
        }
        Err(ArchiveError::Io(e)) => {
            Status::new(500, "Nieznany błąd").with_detail(format!("I/O: {e}"))
        }
        Ok(0) => Status::new(440, "Sesja anulowana").with_detail("Nie przesłano faktur"),
        Ok(_) => {
            let any_ok = state.invoicing.with(|s| {
                s.sessions
                    .get(reference)
                    .is_some_and(|x| x.invoices.iter().any(SessionInvoice::accepted))
            });
            if any_ok {
                Status::new(200, "Sesja wsadowa przetworzona pomyślnie")
            } else {
                Status::new(445, "Błąd weryfikacji, brak poprawnych faktur")
            }
        }
    }
}
