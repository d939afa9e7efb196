//! The decrypted package: `_metadata.json` as typed records and the invoices unpacked as a
//! stream, each checked against the hash its metadata declares before anyone sees it.
//!
//! Zip is read through its central directory over the decrypted part files (no copy into one
//! archive): `_metadata.json` first, then the invoices in archive order. TarGz is one stream; an
//! invoice that comes before `_metadata.json` is staged in a temporary file (its hash computed
//! while it is written) and checked when the metadata arrives. Memory holds one buffer per
//! entry being copied and the metadata records (at most 10 000 per package), never the package.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::multifile::MultiFile;
use super::package::{Compression, Durability, ExportPackage};
use crate::error::{FlowError, Result};
use crate::query::InvoiceMetadata;

/// Name of the metadata file in a package.
const METADATA_FILE: &str = "_metadata.json";
/// Largest `_metadata.json` read (10 000 records take a few MB).
const MAX_METADATA_BYTES: u64 = 512 * 1024 * 1024;
/// Largest invoice file held in memory by [`PackageInvoices`] (KSeF: 3 MB with attachments).
const MAX_INVOICE_BYTES: u64 = 64 * 1024 * 1024;
/// Copy buffer of unpacked files.
const COPY_BUFFER: usize = 256 * 1024;
/// Zip entries up to this size (compressed and unpacked; a KSeF invoice is at most 3 MB) are
/// inflated in one call into a buffer (libdeflate, faster than a streaming inflate); larger
/// ones are streamed.
const WHOLE_ENTRY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct MetadataFile {
    invoices: Vec<InvoiceMetadata>,
}

/// A downloaded, verified and decrypted package, in a temporary directory removed on drop.
#[derive(Debug)]
pub struct DecryptedPackage {
    dir: tempfile::TempDir,
    parts: Vec<PathBuf>,
    package: ExportPackage,
    durability: Durability,
}

/// The files [`DecryptedPackage::unpack_to_dir`] wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnpackedFiles {
    /// `_metadata.json`, in its order.
    pub metadata: Vec<InvoiceMetadata>,
    /// The invoice files written, in archive order.
    pub invoices: Vec<UnpackedInvoice>,
    /// Their total size.
    pub bytes: u64,
}

/// One invoice file written by [`DecryptedPackage::unpack_to_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnpackedInvoice {
    /// The KSeF number (the file is `{ksef_number}.xml`).
    pub ksef_number: String,
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Base64 SHA-256 of its bytes (equal to the metadata's `invoiceHash`).
    pub sha256: String,
}

/// One invoice of a package, checked against its metadata.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PackageInvoice {
    /// The KSeF number.
    pub ksef_number: String,
    /// The invoice's exact bytes.
    pub bytes: Vec<u8>,
    /// Its record of `_metadata.json`.
    pub metadata: InvoiceMetadata,
}

/// The KSeF number an archive entry stands for (`{ksefNumber}.xml`, in any folder), if its name
/// has that form. Only ASCII letters, digits and hyphens are accepted, so the name is safe as a
/// file name.
pub(crate) fn ksef_number_of(entry: &str) -> Option<&str> {
    let file = entry.rsplit(['/', '\\']).next()?;
    let stem = file
        .strip_suffix(".xml")
        .or_else(|| file.strip_suffix(".XML"))?;
    let ok = (1..=64).contains(&stem.len())
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(stem)
}

fn is_metadata(entry: &str) -> bool {
    entry.rsplit(['/', '\\']).next() == Some(METADATA_FILE)
}

fn corrupt(e: impl std::fmt::Display) -> FlowError {
    FlowError::Unpack(e.to_string())
}

fn io_err(step: &'static str) -> impl Fn(io::Error) -> FlowError {
    move |source| FlowError::Io { step, source }
}

/// A `Write` that hashes what passes through.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn b64(d: [u8; 32]) -> String {
    ksef_crypto::b64::encode(d)
}

/// Parses `_metadata.json` from a reader.
fn read_metadata(r: &mut dyn Read) -> Result<Vec<InvoiceMetadata>> {
    let limited = BufReader::with_capacity(COPY_BUFFER, r.take(MAX_METADATA_BYTES));
    let m: MetadataFile = serde_json::from_reader(limited)
        .map_err(|e| FlowError::Unpack(format!("{METADATA_FILE} cannot be read: {e}")))?;
    Ok(m.invoices)
}

/// Metadata by KSeF number, refusing a number listed twice.
fn index(metadata: &[InvoiceMetadata]) -> Result<HashMap<String, usize>> {
    let mut map = HashMap::with_capacity(metadata.len());
    for (i, m) in metadata.iter().enumerate() {
        if map.insert(m.ksef_number.0.clone(), i).is_some() {
            return Err(FlowError::PackageInconsistent(format!(
                "{METADATA_FILE} lists {} twice",
                m.ksef_number.0
            )));
        }
    }
    Ok(map)
}

/// The entry of `ksef` must be listed and its hash must be the declared one.
fn check(
    metadata: &[InvoiceMetadata],
    by_number: &HashMap<String, usize>,
    ksef: &str,
    sha256: &str,
) -> Result<usize> {
    let i = *by_number.get(ksef).ok_or_else(|| {
        FlowError::PackageInconsistent(format!(
            "{ksef}.xml is in the package but not in {METADATA_FILE}"
        ))
    })?;
    let expected = &metadata[i].invoice_hash.0;
    if expected != sha256 {
        return Err(FlowError::InvoiceHash {
            ksef_number: ksef.to_string(),
            expected: expected.clone(),
            actual: sha256.to_string(),
        });
    }
    Ok(i)
}

/// After the last entry: every listed invoice must have come (unless the package holds only
/// metadata) and the count must be the package's.
fn check_complete(
    package: &ExportPackage,
    metadata: &[InvoiceMetadata],
    seen: &HashSet<String>,
) -> Result<()> {
    if metadata.len() as u64 != package.invoice_count {
        return Err(FlowError::PackageInconsistent(format!(
            "{METADATA_FILE} lists {} invoices, the package status {}",
            metadata.len(),
            package.invoice_count
        )));
    }
    if seen.is_empty() {
        return Ok(()); // onlyMetadata
    }
    let missing: Vec<&str> = metadata
        .iter()
        .map(|m| m.ksef_number.0.as_str())
        .filter(|k| !seen.contains(*k))
        .collect();
    if let Some(first) = missing.first() {
        return Err(FlowError::PackageInconsistent(format!(
            "{} invoice(s) of {METADATA_FILE} are missing from the package, e.g. {first}",
            missing.len()
        )));
    }
    Ok(())
}

/// One regular file of the archive, in the order [`DecryptedPackage::walk`] visits them.
enum Entry<'a> {
    Metadata(&'a mut dyn Read),
    Invoice(&'a str, &'a mut dyn Read),
}

/// An invoice written to a temporary name, not yet checked.
struct Staged {
    ksef_number: String,
    tmp: PathBuf,
    size: u64,
    sha256: String,
}

impl DecryptedPackage {
    pub(crate) fn new(
        dir: tempfile::TempDir,
        parts: Vec<PathBuf>,
        package: ExportPackage,
        durability: Durability,
    ) -> Self {
        Self {
            dir,
            parts,
            package,
            durability,
        }
    }

    /// The package as KSeF described it.
    pub fn package(&self) -> &ExportPackage {
        &self.package
    }

    /// The archive format.
    pub fn compression(&self) -> &Compression {
        &self.package.compression
    }

    /// The decrypted archive (the parts one after another), e.g. to keep a copy of it.
    pub fn archive(&self) -> io::Result<impl Read + io::Seek + use<>> {
        MultiFile::open(self.parts.clone())
    }

    /// Visits `_metadata.json` and the invoice files; Zip: the metadata first.
    fn walk(&self, mut visit: impl FnMut(Entry<'_>) -> Result<()>) -> Result<()> {
        let archive =
            MultiFile::open(self.parts.clone()).map_err(io_err("opening the decrypted parts"))?;
        match &self.package.compression {
            Compression::TarGz => {
                let gz =
                    flate2::read::GzDecoder::new(BufReader::with_capacity(COPY_BUFFER, archive));
                let mut tar = tar::Archive::new(gz);
                for entry in tar.entries().map_err(corrupt)? {
                    let mut entry = entry.map_err(corrupt)?;
                    let kind = entry.header().entry_type();
                    if kind.is_dir() {
                        continue;
                    }
                    let name = entry
                        .path()
                        .map_err(corrupt)?
                        .to_string_lossy()
                        .into_owned();
                    if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                        return Err(FlowError::Unpack(format!(
                            "{name} is not a regular file ({kind:?})"
                        )));
                    }
                    if is_metadata(&name) {
                        visit(Entry::Metadata(&mut entry))?;
                    } else {
                        visit(Entry::Invoice(&name, &mut entry))?;
                    }
                }
                Ok(())
            }
            Compression::Zip => {
                let mut zip = zip::ZipArchive::new(archive).map_err(corrupt)?;
                let metadata_index = (0..zip.len()).find(|&i| {
                    zip.name_for_index(i)
                        .is_some_and(|n| n.is_ok_and(|n| is_metadata(&n)))
                });
                if let Some(i) = metadata_index {
                    let mut m = zip.by_index(i).map_err(corrupt)?;
                    visit(Entry::Metadata(&mut m))?;
                }
                for i in 0..zip.len() {
                    if Some(i) == metadata_index {
                        continue;
                    }
                    let mut entry = zip.by_index(i).map_err(corrupt)?;
                    if entry.is_dir() {
                        continue;
                    }
                    let name = entry.name().map_err(corrupt)?.into_owned();
                    visit(Entry::Invoice(&name, &mut entry))?;
                }
                Ok(())
            }
            other => Err(FlowError::Unpack(format!(
                "compression type {} is not supported",
                other.as_str()
            ))),
        }
    }

    /// `_metadata.json` as typed records (TarGz: read up to that file).
    pub fn metadata(&self) -> Result<Vec<InvoiceMetadata>> {
        let mut found = None;
        // Stop the walk as soon as the metadata is read.
        let stop = "metadata found";
        let walked = self.walk(|e| match e {
            Entry::Metadata(r) => {
                found = Some(read_metadata(r)?);
                Err(FlowError::Unpack(stop.into()))
            }
            Entry::Invoice(..) => Ok(()),
        });
        match (found, walked) {
            (Some(m), _) => Ok(m),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(FlowError::PackageInconsistent(format!(
                "the package has no {METADATA_FILE}"
            ))),
        }
    }

    /// Unpacks the package into `dir` (created if missing): `{ksefNumber}.xml` for every
    /// invoice, written under a temporary name, checked against its metadata's `invoiceHash`,
    /// flushed to disk (unless [`Durability::ProcessCrash`]) and renamed into place. A file
    /// that fails the check never gets its final name; files already in place when an error
    /// stops the unpacking were checked. Blocking: call it from a blocking thread.
    pub fn unpack_to_dir(&self, dir: &Path) -> Result<UnpackedFiles> {
        self.unpack_with(dir, self.durability)
    }

    fn unpack_with(&self, dir: &Path, durability: Durability) -> Result<UnpackedFiles> {
        std::fs::create_dir_all(dir).map_err(io_err("creating the target directory"))?;
        let mut staged: Vec<Staged> = Vec::new();
        let result = self.unpack_into(dir, durability, &mut staged);
        // Nothing unverified stays behind.
        for s in staged {
            let _ = std::fs::remove_file(&s.tmp);
        }
        let files = result?;
        if durability == Durability::Fsync {
            sync_dir(dir)?;
        }
        Ok(files)
    }

    fn unpack_into(
        &self,
        dir: &Path,
        durability: Durability,
        staged: &mut Vec<Staged>,
    ) -> Result<UnpackedFiles> {
        if self.package.compression == Compression::Zip {
            return self.unpack_zip(dir, durability);
        }
        let mut metadata: Option<(Vec<InvoiceMetadata>, HashMap<String, usize>)> = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut invoices = Vec::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut place = |s: Staged, metadata: &(Vec<InvoiceMetadata>, HashMap<String, usize>)| {
            check(&metadata.0, &metadata.1, &s.ksef_number, &s.sha256)?;
            let path = dir.join(format!("{}.xml", s.ksef_number));
            std::fs::rename(&s.tmp, &path).map_err(io_err("renaming an unpacked invoice"))?;
            bytes += s.size;
            invoices.push(UnpackedInvoice {
                ksef_number: s.ksef_number,
                path,
                size: s.size,
                sha256: s.sha256,
            });
            Ok::<(), FlowError>(())
        };
        self.walk(|entry| match entry {
            Entry::Metadata(r) => {
                if metadata.is_some() {
                    return Err(FlowError::PackageInconsistent(format!(
                        "the package holds {METADATA_FILE} twice"
                    )));
                }
                let m = read_metadata(r)?;
                let idx = index(&m)?;
                let meta = (m, idx);
                let mut pending = std::mem::take(staged).into_iter();
                while let Some(s) = pending.next() {
                    let tmp = s.tmp.clone();
                    if let Err(e) = place(s, &meta) {
                        let _ = std::fs::remove_file(tmp);
                        for rest in pending {
                            let _ = std::fs::remove_file(rest.tmp);
                        }
                        return Err(e);
                    }
                }
                metadata = Some(meta);
                Ok(())
            }
            Entry::Invoice(name, r) => {
                let ksef = ksef_number_of(name).ok_or_else(|| {
                    FlowError::PackageInconsistent(format!(
                        "unexpected file {name:?} in the package"
                    ))
                })?;
                if !seen.insert(ksef.to_string()) {
                    return Err(FlowError::PackageInconsistent(format!(
                        "{ksef}.xml is in the package twice"
                    )));
                }
                let s = stage(dir, ksef, Staging::Reader(r, &mut buf), durability)?;
                match &metadata {
                    Some(meta) => {
                        let tmp = s.tmp.clone();
                        if let Err(e) = place(s, meta) {
                            let _ = std::fs::remove_file(tmp);
                            return Err(e);
                        }
                    }
                    None => staged.push(s),
                }
                Ok(())
            }
        })?;
        let Some((metadata, _)) = metadata else {
            return Err(FlowError::PackageInconsistent(format!(
                "the package has no {METADATA_FILE}"
            )));
        };
        check_complete(&self.package, &metadata, &seen)?;
        tracing::debug!(
            invoices = invoices.len(),
            bytes,
            "export package unpacked and checked"
        );
        Ok(UnpackedFiles {
            metadata,
            invoices,
            bytes,
        })
    }

    /// Zip: the metadata through the central directory, then the entries split into contiguous
    /// ranges unpacked by one thread each (the entries are independent; inflating, hashing and
    /// writing are what an unpack spends its time on).
    fn unpack_zip(&self, dir: &Path, durability: Durability) -> Result<UnpackedFiles> {
        let archive =
            MultiFile::open(self.parts.clone()).map_err(io_err("opening the decrypted parts"))?;
        let mut zip = zip::ZipArchive::new(archive).map_err(corrupt)?;
        let mut metadata_index = None;
        let mut names = Vec::with_capacity(zip.len());
        for i in 0..zip.len() {
            let name = match zip.name_for_index(i) {
                Some(n) => n.map_err(corrupt)?.into_owned(),
                None => continue,
            };
            if is_metadata(&name) {
                if metadata_index.replace(i).is_some() {
                    return Err(FlowError::PackageInconsistent(format!(
                        "the package holds {METADATA_FILE} twice"
                    )));
                }
            } else if !name.ends_with('/') {
                let ksef = ksef_number_of(&name).ok_or_else(|| {
                    FlowError::PackageInconsistent(format!(
                        "unexpected file {name:?} in the package"
                    ))
                })?;
                names.push((i, ksef.to_string()));
            }
        }
        let Some(mi) = metadata_index else {
            return Err(FlowError::PackageInconsistent(format!(
                "the package has no {METADATA_FILE}"
            )));
        };
        let metadata = read_metadata(&mut zip.by_index(mi).map_err(corrupt)?)?;
        let by_number = index(&metadata)?;
        let mut seen: HashSet<String> = HashSet::with_capacity(names.len());
        for (_, k) in &names {
            if !seen.insert(k.clone()) {
                return Err(FlowError::PackageInconsistent(format!(
                    "{k}.xml is in the package twice"
                )));
            }
            // Checked before any file is written: an unlisted entry stops the unpacking.
            if !by_number.contains_key(k) {
                return Err(FlowError::PackageInconsistent(format!(
                    "{k}.xml is in the package but not in {METADATA_FILE}"
                )));
            }
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, 4)
            .min(names.len().div_ceil(16).max(1));
        let chunk = names.len().div_ceil(threads).max(1);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (metadata_ref, by_number_ref, stop_ref) = (&metadata, &by_number, &stop);
        let results: Vec<Result<Vec<UnpackedInvoice>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = names
                .chunks(chunk)
                .map(|range| {
                    let mut zip = zip.clone();
                    scope.spawn(move || {
                        let mut buf = vec![0u8; COPY_BUFFER];
                        let mut whole = WholeEntry::new();
                        let mut out = Vec::with_capacity(range.len());
                        for (i, ksef) in range {
                            if stop_ref.load(std::sync::atomic::Ordering::Relaxed) {
                                break;
                            }
                            let placed = (|| {
                                let s = match whole.inflate(&mut zip, *i, ksef)? {
                                    Some(plain) => {
                                        stage(dir, ksef, Staging::Bytes(plain), durability)?
                                    }
                                    None => {
                                        let mut entry = zip.by_index(*i).map_err(corrupt)?;
                                        stage(
                                            dir,
                                            ksef,
                                            Staging::Reader(&mut entry, &mut buf),
                                            durability,
                                        )?
                                    }
                                };
                                let tmp = s.tmp.clone();
                                let placed = check(metadata_ref, by_number_ref, ksef, &s.sha256)
                                    .and_then(|_| {
                                        let path = dir.join(format!("{ksef}.xml"));
                                        std::fs::rename(&s.tmp, &path)
                                            .map_err(io_err("renaming an unpacked invoice"))?;
                                        Ok(UnpackedInvoice {
                                            ksef_number: s.ksef_number,
                                            path,
                                            size: s.size,
                                            sha256: s.sha256,
                                        })
                                    });
                                if placed.is_err() {
                                    let _ = std::fs::remove_file(tmp);
                                }
                                placed
                            })();
                            match placed {
                                Ok(u) => out.push(u),
                                Err(e) => {
                                    stop_ref.store(true, std::sync::atomic::Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(FlowError::Unpack("an unpacking thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut invoices = Vec::with_capacity(names.len());
        let mut first_error = None;
        for r in results {
            match r {
                Ok(v) => invoices.extend(v),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        check_complete(&self.package, &metadata, &seen)?;
        let bytes = invoices.iter().map(|u| u.size).sum();
        tracing::debug!(
            invoices = invoices.len(),
            bytes,
            threads,
            "export package unpacked and checked"
        );
        Ok(UnpackedFiles {
            metadata,
            invoices,
            bytes,
        })
    }

    /// The invoices as an iterator of checked (KSeF number, bytes, metadata), one in memory at a
    /// time. Zip is read lazily; TarGz is unpacked into the package's temporary directory first
    /// when its metadata does not come first. Blocking: iterate in a blocking thread.
    pub fn invoices(&self) -> Result<PackageInvoices> {
        match &self.package.compression {
            Compression::Zip => {
                let archive = MultiFile::open(self.parts.clone())
                    .map_err(io_err("opening the decrypted parts"))?;
                let mut zip = zip::ZipArchive::new(archive).map_err(corrupt)?;
                let metadata_index = (0..zip.len())
                    .find(|&i| {
                        zip.name_for_index(i)
                            .is_some_and(|n| n.is_ok_and(|n| is_metadata(&n)))
                    })
                    .ok_or_else(|| {
                        FlowError::PackageInconsistent(format!(
                            "the package has no {METADATA_FILE}"
                        ))
                    })?;
                let metadata = {
                    let mut m = zip.by_index(metadata_index).map_err(corrupt)?;
                    read_metadata(&mut m)?
                };
                let by_number = index(&metadata)?;
                Ok(PackageInvoices {
                    source: Source::Zip {
                        zip: Box::new(zip),
                        next: 0,
                        metadata_index,
                    },
                    metadata,
                    by_number,
                    seen: HashSet::new(),
                    package: self.package.clone(),
                    done: false,
                })
            }
            _ => {
                let dir = tempfile::Builder::new()
                    .prefix("unpacked-")
                    .tempdir_in(self.dir.path())
                    .map_err(io_err("creating a staging directory"))?
                    .keep();
                let files = self.unpack_with(&dir, Durability::ProcessCrash)?;
                let by_number = index(&files.metadata)?;
                Ok(PackageInvoices {
                    source: Source::Files {
                        files: files.invoices.into_iter(),
                    },
                    metadata: files.metadata,
                    by_number,
                    seen: HashSet::new(),
                    package: self.package.clone(),
                    done: false,
                })
            }
        }
    }
}

/// One unpacking thread's buffers for Zip entries read and inflated whole.
struct WholeEntry {
    packed: Vec<u8>,
    plain: Vec<u8>,
    inflate: libdeflater::Decompressor,
}

impl WholeEntry {
    fn new() -> Self {
        Self {
            packed: Vec::new(),
            plain: Vec::new(),
            inflate: libdeflater::Decompressor::new(),
        }
    }

    /// Entry `i`'s content, its CRC-32 checked, when the entry is small enough to be held
    /// whole (`None`: stream it instead).
    fn inflate<R: Read + io::Seek>(
        &mut self,
        zip: &mut zip::ZipArchive<R>,
        i: usize,
        ksef: &str,
    ) -> Result<Option<&[u8]>> {
        let mut raw = zip.by_index_raw(i).map_err(corrupt)?;
        let method = raw.compression();
        let (csize, size, crc) = (raw.compressed_size(), raw.size(), raw.crc32());
        let fits = csize <= WHOLE_ENTRY_BYTES && size <= WHOLE_ENTRY_BYTES;
        let known = matches!(
            method,
            zip::CompressionMethod::Deflated | zip::CompressionMethod::Stored
        );
        if !fits || !known || raw.encrypted() {
            return Ok(None);
        }
        let (csize, size) = (
            usize::try_from(csize).unwrap_or(usize::MAX),
            usize::try_from(size).unwrap_or(usize::MAX),
        );
        self.packed.resize(csize, 0);
        raw.read_exact(&mut self.packed)
            .map_err(|e| corrupt(format!("{ksef}.xml: {e}")))?;
        drop(raw);
        let plain: &[u8] = if method == zip::CompressionMethod::Stored {
            if csize != size {
                return Err(corrupt(format!(
                    "{ksef}.xml: stored entry of {csize} bytes declares {size}"
                )));
            }
            &self.packed
        } else {
            self.plain.resize(size, 0);
            let n = self
                .inflate
                .deflate_decompress(&self.packed, &mut self.plain)
                .map_err(|e| corrupt(format!("{ksef}.xml: invalid deflate data ({e})")))?;
            if n != size {
                return Err(corrupt(format!(
                    "{ksef}.xml: inflated to {n} bytes, the archive declares {size}"
                )));
            }
            &self.plain
        };
        if crc32fast::hash(plain) != crc {
            return Err(corrupt(format!("{ksef}.xml: CRC-32 mismatch")));
        }
        Ok(Some(plain))
    }
}

/// Where an entry's bytes come from when it is staged.
enum Staging<'a> {
    /// Inflated whole in memory (written straight through: the buffer passes large writes on).
    Bytes(&'a [u8]),
    /// Read through `buf`.
    Reader(&'a mut dyn Read, &'a mut [u8]),
}

/// Writes one entry to a temporary file in `dir`, hashing it.
fn stage(dir: &Path, ksef: &str, from: Staging<'_>, durability: Durability) -> Result<Staged> {
    let tmp = dir.join(format!(".{ksef}.xml.{:016x}.tmp", rand::random::<u64>()));
    let file = File::create(&tmp).map_err(io_err("creating an unpacked invoice"))?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(COPY_BUFFER, file),
        sha: Sha256::new(),
        size: 0,
    };
    let copied = (|| {
        match from {
            Staging::Bytes(bytes) => w
                .write_all(bytes)
                .map_err(io_err("writing an unpacked invoice"))?,
            Staging::Reader(r, buf) => loop {
                let n = match r.read(buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(corrupt(format!("{ksef}.xml: {e}"))),
                };
                w.write_all(&buf[..n])
                    .map_err(io_err("writing an unpacked invoice"))?;
            },
        }
        let file = w.inner.into_inner().map_err(|e| FlowError::Io {
            step: "writing an unpacked invoice",
            source: e.into_error(),
        })?;
        if durability == Durability::Fsync {
            file.sync_all()
                .map_err(io_err("flushing an unpacked invoice"))?;
        }
        Ok(Staged {
            ksef_number: ksef.to_string(),
            tmp: tmp.clone(),
            size: w.size,
            sha256: b64(w.sha.finalize().into()),
        })
    })();
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
}

/// Flushes a directory's entries (renames) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("flushing the directory"))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

enum Source {
    Zip {
        zip: Box<zip::ZipArchive<MultiFile>>,
        next: usize,
        metadata_index: usize,
    },
    Files {
        files: std::vec::IntoIter<UnpackedInvoice>,
    },
}

/// Iterator over the checked invoices of a package ([`DecryptedPackage::invoices`]). After the
/// last invoice it checks that every invoice of the metadata came (an error item otherwise).
pub struct PackageInvoices {
    source: Source,
    metadata: Vec<InvoiceMetadata>,
    by_number: HashMap<String, usize>,
    seen: HashSet<String>,
    package: ExportPackage,
    done: bool,
}

impl std::fmt::Debug for PackageInvoices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageInvoices")
            .field("invoices", &self.metadata.len())
            .field("seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl PackageInvoices {
    /// `_metadata.json` of the package.
    pub fn metadata(&self) -> &[InvoiceMetadata] {
        &self.metadata
    }

    fn next_entry(&mut self) -> Option<Result<(String, Vec<u8>)>> {
        match &mut self.source {
            Source::Files { files } => {
                let f = files.next()?;
                Some(
                    std::fs::read(&f.path)
                        .map(|b| (f.ksef_number, b))
                        .map_err(io_err("reading an unpacked invoice")),
                )
            }
            Source::Zip {
                zip,
                next,
                metadata_index,
            } => loop {
                if *next >= zip.len() {
                    return None;
                }
                let i = *next;
                *next += 1;
                if i == *metadata_index {
                    continue;
                }
                let read = (|| {
                    let mut entry = zip.by_index(i).map_err(corrupt)?;
                    if entry.is_dir() {
                        return Ok(None);
                    }
                    let name = entry.name().map_err(corrupt)?.into_owned();
                    let ksef = ksef_number_of(&name).ok_or_else(|| {
                        FlowError::PackageInconsistent(format!(
                            "unexpected file {name:?} in the package"
                        ))
                    })?;
                    let mut bytes = Vec::with_capacity(
                        usize::try_from(entry.size().min(MAX_INVOICE_BYTES)).unwrap_or(0),
                    );
                    (&mut entry)
                        .take(MAX_INVOICE_BYTES + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| corrupt(format!("{name}: {e}")))?;
                    if bytes.len() as u64 > MAX_INVOICE_BYTES {
                        return Err(FlowError::Unpack(format!(
                            "{name} is larger than {MAX_INVOICE_BYTES} bytes"
                        )));
                    }
                    Ok(Some((ksef.to_string(), bytes)))
                })();
                match read {
                    Ok(None) => continue,
                    Ok(Some(v)) => return Some(Ok(v)),
                    Err(e) => return Some(Err(e)),
                }
            },
        }
    }
}

impl Iterator for PackageInvoices {
    type Item = Result<PackageInvoice>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.next_entry() {
            None => {
                self.done = true;
                return check_complete(&self.package, &self.metadata, &self.seen)
                    .err()
                    .map(Err);
            }
            Some(Err(e)) => Err(e),
            Some(Ok((ksef, bytes))) => {
                if self.seen.insert(ksef.clone()) {
                    let sha = b64(Sha256::digest(&bytes).into());
                    check(&self.metadata, &self.by_number, &ksef, &sha).map(|i| PackageInvoice {
                        metadata: self.metadata[i].clone(),
                        ksef_number: ksef,
                        bytes,
                    })
                } else {
                    Err(FlowError::PackageInconsistent(format!(
                        "{ksef}.xml is in the package twice"
                    )))
                }
            }
        };
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Zip with one deflated and one stored entry, written by the `zip` crate.
    fn two_entries(text: &[u8]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("a.xml", deflated).unwrap();
        w.write_all(text).unwrap();
        w.start_file("b.xml", stored).unwrap();
        w.write_all(text).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn whole_entries_inflate_and_a_corrupt_entry_is_refused() {
        let text: Vec<u8> = (0..200_000u32)
            .map(|i| b"<Faktura>0123456789</Faktura>"[(i % 29) as usize] ^ (i % 7) as u8)
            .collect();
        let bytes = two_entries(&text);
        let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes.clone())).unwrap();
        let mut whole = WholeEntry::new();
        for i in 0..2 {
            let got = whole.inflate(&mut zip, i, "k").unwrap().map(<[u8]>::to_vec);
            assert_eq!(got.as_deref(), Some(&text[..]), "entry {i}");
        }
        // a flipped bit in either entry's data: invalid deflate data or a CRC-32 mismatch
        let data_start = 30 + "a.xml".len();
        for at in [data_start + 10, bytes.len() / 2 + 1000] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let mut zip = zip::ZipArchive::new(io::Cursor::new(bad)).unwrap();
            let e = (0..2)
                .map(|i| whole.inflate(&mut zip, i, "k").map(|_| ()))
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("the flipped bit at {at} went unnoticed"));
            assert!(matches!(e, FlowError::Unpack(_)), "{e:?}");
        }
    }

    #[test]
    fn entry_names() {
        let k = "5265877635-20250826-0100001AF629-AF";
        assert_eq!(ksef_number_of(&format!("{k}.xml")), Some(k));
        assert_eq!(ksef_number_of(&format!("dir/{k}.xml")), Some(k));
        // only the last component is ever used: no way out of the target directory
        assert_eq!(ksef_number_of("../../etc/passwd.xml"), Some("passwd"));
        assert_eq!(ksef_number_of("..\\..\\x.xml"), Some("x"));
        assert_eq!(ksef_number_of("../.xml"), None);
        assert_eq!(ksef_number_of("a b.xml"), None);
        assert_eq!(ksef_number_of(".xml"), None);
        assert_eq!(ksef_number_of(&format!("{k}.json")), None);
        assert!(is_metadata("_metadata.json"));
        assert!(!is_metadata("x_metadata.json"));
    }
}
