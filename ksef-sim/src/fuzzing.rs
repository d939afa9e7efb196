//! Entry points for the fuzz harness (`fuzz/` in the workspace). Hidden from the documentation
//! and not part of the simulator's API: they expose two internal parsers of untrusted input as
//! they run inside the request handlers, and nothing else. They are always compiled (no cargo
//! feature), so that the workspace's test build and `cargo run -p ksef-cli` share one build of
//! the simulator.

use chrono::{DateTime, Utc};

/// Verifies a signed `AuthTokenRequest` as `POST /auth/xades-signature` does (parsing, XSD-like
/// checks, canonicalization, digests, signature, certificate), with the certificate judged at
/// `now`. `Ok` carries the authenticated context (`type:value`), `Err` the KSeF code.
#[doc(hidden)]
pub fn verify_xades_auth_request(body: &[u8], now: DateTime<Utc>) -> Result<String, i64> {
    crate::xml::xades::verify_auth_request(body, now)
        .map(|v| format!("{}:{}", v.context_type, v.context_value))
        .map_err(|e| e.codes().first().copied().unwrap_or_default())
}

/// Unpacks a batch archive (Zip, or TarGz when `tar_gz`) as batch processing does, from a
/// temporary file, with the per-invoice size limit of batch sessions and at most `max_entries`
/// files. `Ok` lists each file's name and size, `Err` says why the archive was refused.
#[doc(hidden)]
pub fn unpack_batch_archive(
    archive: &[u8],
    tar_gz: bool,
    max_entries: usize,
) -> Result<Vec<(String, u64)>, String> {
    use crate::invoicing::archive::{Compression, UnpackLimits, unpack};
    use crate::invoicing::rules::MAX_INVOICE_SIZE_WITH_ATTACHMENT;
    let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(file.path(), archive).map_err(|e| e.to_string())?;
    let compression = if tar_gz {
        Compression::TarGz
    } else {
        Compression::Zip
    };
    let mut files = Vec::new();
    // the limits of batch processing, with the harness's count
    let limits = UnpackLimits {
        entry_limit: MAX_INVOICE_SIZE_WITH_ATTACHMENT as u64,
        max_entries,
        max_ratio: 100,
        floor: 64 << 20,
    };
    unpack(file.path(), compression, limits, |entry| {
        let size = entry.bytes.as_ref().map_or(0, |b| b.len() as u64);
        files.push((entry.name, size));
    })
    .map_err(|e| e.to_string())?;
    Ok(files)
}
