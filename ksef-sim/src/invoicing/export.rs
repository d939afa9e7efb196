//! Exports: `POST /invoices/exports` starts a background build of a package
//! (`{ksefNumber}.xml` files + `_metadata.json`, Zip or TarGz), split into
//! parts before encryption, each part encrypted with the client's key;
//! `GET /invoices/exports/{ref}` reports it with presigned download URLs.

use ksef_time::format_utc_millis;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::archive::{Compression, Packer};
use super::crypto::{SessionKey, b64};
use super::opening::{EncryptionWire, unwrap_key};
use super::query::{DateType, Filters, FiltersWire};
use super::store::{Export, ExportPackage, ExportPart, Status, StoredInvoice};
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportRequest {
    encryption: EncryptionWire,
    #[serde(default)]
    only_metadata: bool,
    filters: FiltersWire,
    compression_type: Option<String>,
}

/// `POST /invoices/exports`.
pub(crate) async fn start(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    JsonBody(req): JsonBody<ExportRequest>,
) -> Result<Response, ApiError> {
    let compression = Compression::from_api(req.compression_type.as_deref())
        .ok_or_else(|| ApiError::validation("compressionType must be Zip or TarGz."))?;
    let filters = Filters::parse(req.filters, state.now())?;
    let key = unwrap_key(&state, &req.encryption)?;
    let now = state.now();
    let created = now;
    let reference = reference_number(RefKind::Export, created);
    let context_key = ctx.context_key();
    let max = state.invoicing.config.max_concurrent_exports;
    state.invoicing.with(|s| {
        let running = s.exports.values().filter(|e| e.context_key == context_key && e.in_progress(now)).count();
        if running >= max {
            return Err(ApiError::bad_request(
                21182,
                "Osiągnięto limit trwających eksportów.",
                [format!("Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit {max} równoczesnych eksportów faktur. Spróbuj ponownie później.")],
            ));
        }
        s.exports.insert(
            reference.clone(),
            Export { context_key: context_key.clone(), result: None, ready_at: now },
        );
        Ok(())
    })?;
    let extra = state.faults.take_stuck_processing(op);
    let fail = state.faults.take_async_failure(op);
    let st = state.clone();
    let r = reference.clone();
    let nip = ctx.nip.clone();
    let only_metadata = req.only_metadata;
    state.blocking.spawn(move || {
        let (status, package) = if fail {
            (Status::cancelled_by_system().with_detail("Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie"), None)
        } else {
            match key {
                None => (
                    Status::new(415, "Błąd odszyfrowania dostarczonego klucza"),
                    None,
                ),
                Some(key) => build(
                    &st,
                    &r,
                    &filters,
                    nip.as_deref(),
                    &key,
                    only_metadata,
                    compression,
                ),
            }
        };
        st.invoicing.with(|s| {
            if let Some(e) = s.exports.get_mut(&r) {
                e.result = Some((status, package, st.now()));
                e.ready_at = after(st.now(), extra.unwrap_or_default());
            }
        });
    });
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "referenceNumber": reference }),
    ))
}

fn export_dir(state: &AppState, reference: &str) -> PathBuf {
    state
        .data_dir
        .join("invoicing")
        .join("exports")
        .join(reference)
}

fn build(
    state: &AppState,
    reference: &str,
    filters: &Filters,
    nip: Option<&str>,
    key: &SessionKey,
    only_metadata: bool,
    compression: Compression,
) -> (Status, Option<ExportPackage>) {
    let now = state.now();
    let max = state.invoicing.config.export_max_invoices;
    let max_bytes = state.invoicing.config.export_max_package_bytes;
    // Select (ascending by the filter's date), then cut at the limits.
    let (selected, hwm): (Vec<StoredInvoice>, _) = match state.invoicing.with(|s| {
        let hwm = s.hwm(now);
        if filters.restrict_hwm
            && filters.date_type == DateType::PermanentStorage
            && filters.from > hwm
        {
            return Err(());
        }
        Ok((
            filters
                .select(s, nip, now, hwm, false)
                .into_iter()
                .cloned()
                .collect(),
            hwm,
        ))
    }) {
        Ok(v) => v,
        Err(()) => {
            return (
                Status::new(420, "Zakres filtrowania wykracza poza dostępny zakres danych").with_detail(
                    "Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate.",
                ),
                None,
            );
        }
    };
    let dir = export_dir(state, reference);
    let fail = |e: String| (Status::new(500, "Nieznany błąd").with_detail(e), None);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("I/O: {e}"));
    }
    let archive = dir.join(format!("package.{}", compression.extension()));
    let mut included: Vec<&StoredInvoice> = Vec::new();
    let mut is_truncated = false;
    let packed = (|| -> Result<(), String> {
        let mut packer = Packer::create(&archive, compression).map_err(|e| e.to_string())?;
        let mut bytes_in = 0u64;
        for inv in &selected {
            if included.len() >= max || bytes_in >= max_bytes {
                is_truncated = true;
                break;
            }
            if !only_metadata {
                let bytes = std::fs::read(&inv.path)
                    .map_err(|e| format!("read {}: {e}", inv.ksef_number))?;
                packer
                    .add(&format!("{}.xml", inv.ksef_number), &bytes)
                    .map_err(|e| e.to_string())?;
                bytes_in += bytes.len() as u64;
            }
            included.push(inv);
        }
        let metadata: Vec<Value> = included.iter().map(|i| i.metadata_json()).collect();
        let meta = json!({ "invoices": metadata }).to_string();
        packer
            .add("_metadata.json", meta.as_bytes())
            .map_err(|e| e.to_string())?;
        packer.finish().map_err(|e| e.to_string())
    })();
    if let Err(e) = packed {
        return fail(e);
    }
    // Split before encryption; encrypt each part separately.
    let part_size = state.invoicing.config.export_part_size.max(16);
    let parts = (|| -> Result<(Vec<ExportPart>, u64), String> {
        let total = std::fs::metadata(&archive)
            .map_err(|e| e.to_string())?
            .len();
        let mut input = BufReader::new(File::open(&archive).map_err(|e| e.to_string())?);
        let count = total.div_ceil(part_size).max(1);
        let mut parts = Vec::new();
        for ordinal in 1..=count {
            let name = format!("{reference}-{ordinal:03}.{}.aes", compression.extension());
            let path = dir.join(&name);
            let mut out = BufWriter::new(File::create(&path).map_err(|e| e.to_string())?);
            let chunk = (&mut input).take(part_size);
            let (size, hash, enc_size, enc_hash) = key
                .encrypt_stream(chunk, &mut out)
                .map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            parts.push(ExportPart {
                ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                name,
                path,
                size,
                hash: b64(&hash),
                encrypted_size: enc_size,
                encrypted_hash: b64(&enc_hash),
            });
        }
        Ok((parts, total))
    })();
    let _ = std::fs::remove_file(&archive);
    let (parts, total) = match parts {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let last_date = included.last().map(|i| match filters.date_type {
        DateType::Issue => (
            "lastIssueDate",
            i.facts.issue_date.format("%Y-%m-%d").to_string(),
        ),
        DateType::Invoicing => ("lastInvoicingDate", format_utc_millis(i.invoicing_date)),
        DateType::PermanentStorage => (
            "lastPermanentStorageDate",
            format_utc_millis(i.permanent_storage_date),
        ),
    });
    let package = ExportPackage {
        compression,
        invoice_count: included.len(),
        size: total,
        parts,
        is_truncated,
        last_date: if is_truncated {
            last_date
        } else {
            last_date.filter(|_| false)
        },
        hwm: (filters.date_type == DateType::PermanentStorage).then_some(hwm),
    };
    (
        Status::new(200, "Eksport faktur zakończony sukcesem"),
        Some(package),
    )
}

/// `GET /invoices/exports/{referenceNumber}`.
pub(crate) async fn status(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let body = state.invoicing.with(|s| {
        let e = s
            .exports
            .get(&reference)
            .filter(|e| e.context_key == ctx.context_key())
            .ok_or_else(|| {
                ApiError::bad_request(
                    21405,
                    "Błąd walidacji danych wejściowych.",
                    [format!("Eksport {reference} nie istnieje.")],
                )
            })?;
        if e.in_progress(now) {
            return Ok(json!({ "status": Status::new(100, "Eksport faktur w toku").to_json() }));
        }
        let Some((st, package, completed)) = &e.result else {
            return Ok(json!({ "status": Status::new(100, "Eksport faktur w toku").to_json() }));
        };
        let expires = *completed
            + chrono::Duration::from_std(state.invoicing.config.export_package_validity)
                .unwrap_or(chrono::Duration::days(7));
        if package.is_some() && state.now() >= expires {
            let v = json!({
                "status": Status::new(210, "Eksport faktur wygasł i nie jest już dostępny do pobrania").to_json(),
                "completedDate": format_utc_millis(*completed),
                "packageExpirationDate": format_utc_millis(expires),
            });
            return Ok(v);
        }
        let mut v = json!({ "status": st.to_json(), "completedDate": format_utc_millis(*completed) });
        if let Some(p) = package {
            let parts: Vec<Value> = p
                .parts
                .iter()
                .map(|part| {
                    let u = state.presign.url(
                        &state.faults,
                        op,
                        PresignedRoute::ExportPart,
                        &[&reference, &part.ordinal.to_string()],
                    );
                    json!({
                        "ordinalNumber": part.ordinal,
                        "partName": part.name,
                        "method": "GET",
                        "url": u.url,
                        "partSize": part.size,
                        "partHash": part.hash,
                        "encryptedPartSize": part.encrypted_size,
                        "encryptedPartHash": part.encrypted_hash,
                        "expirationDate": format_utc_millis(u.expires_at),
                    })
                })
                .collect();
            let mut pkg = json!({
                "invoiceCount": p.invoice_count,
                "size": p.size,
                "parts": parts,
                "isTruncated": p.is_truncated,
                "compressionType": p.compression.api_name(),
            });
            if let Some((k, d)) = &p.last_date {
                pkg[*k] = json!(d);
            }
            if let Some(h) = &p.hwm {
                pkg["permanentStorageHwmDate"] = json!(format_utc_millis(*h));
            }
            v["package"] = pkg;
            v["packageExpirationDate"] = json!(format_utc_millis(expires));
        }
        Ok::<_, ApiError>(v)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}

/// Presigned download of one encrypted export part (streamed from disk).
pub(crate) async fn download_part(
    _p: Presigned,
    State(state): State<AppState>,
    Path((reference, ordinal)): Path<(String, u32)>,
) -> Response {
    let found = state.invoicing.with(|s| {
        s.exports
            .get(&reference)
            .and_then(|e| e.result.as_ref())
            .filter(|(_, _, completed)| {
                let validity =
                    chrono::Duration::from_std(state.invoicing.config.export_package_validity)
                        .unwrap_or(chrono::Duration::days(7));
                state.now() < *completed + validity
            })
            .and_then(|(_, p, _)| p.as_ref())
            .and_then(|p| p.parts.iter().find(|x| x.ordinal == ordinal))
            .map(|x| (x.path.clone(), x.encrypted_size, x.encrypted_hash.clone()))
    });
    let Some((path, size, hash)) = found else {
        return (StatusCode::NOT_FOUND, "BlobNotFound").into_response();
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return (StatusCode::NOT_FOUND, "BlobNotFound").into_response();
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    // As the real storage: the Base64 SHA-256 of the encrypted part.
    if let Ok(v) = HeaderValue::from_str(&hash) {
        resp.headers_mut().insert("x-ms-meta-hash", v);
    }
    resp
}
