//! Streaming archive handling for batch sessions (unpacking) and exports
//! (packing), Zip and TarGz, always from and to files on disk.
//!
//! Only one entry at a time is held in memory, and never more than the
//! per-invoice size limit plus one byte of it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Archive formats (`CompressionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Zip (default).
    Zip,
    /// Tar compressed with gzip.
    TarGz,
}

impl Compression {
    /// Parses the API enum value; `None` means the default (Zip).
    pub(crate) fn from_api(v: Option<&str>) -> Option<Self> {
        match v {
            None | Some("Zip") => Some(Self::Zip),
            Some("TarGz") => Some(Self::TarGz),
            Some(_) => None,
        }
    }

    /// File extension of a package in this format.
    /// The API enum value (`compressionType`).
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Self::Zip => "Zip",
            Self::TarGz => "TarGz",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::TarGz => "tar.gz",
        }
    }
}

/// One file read from an archive.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Its name in the archive.
    pub(crate) name: String,
    /// Its bytes, or `None` when it exceeded the limit (then only `limit + 1` bytes were read).
    pub(crate) bytes: Option<Vec<u8>>,
    /// SHA-256 of the bytes read (of the whole file unless it is oversized).
    pub(crate) sha256: [u8; 32],
}

/// What unpacking an archive may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnpackLimits {
    /// Largest file kept; reading a larger one stops one byte past it.
    pub(crate) entry_limit: u64,
    /// Most files.
    pub(crate) max_entries: usize,
    /// Most uncompressed bytes per byte of the archive.
    pub(crate) max_ratio: u64,
    /// Uncompressed bytes always allowed, whatever the ratio.
    pub(crate) floor: u64,
}

impl UnpackLimits {
    /// Most uncompressed bytes in all for an archive of `archive_len` bytes.
    fn max_total(&self, archive_len: u64) -> u64 {
        archive_len.saturating_mul(self.max_ratio).max(self.floor)
    }
}

/// Archive could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    /// The archive is corrupt or not of the declared type.
    #[error("cannot read the archive: {0}")]
    Corrupt(String),
    /// More entries than allowed.
    #[error("the archive holds more than {0} files")]
    TooManyEntries(usize),
    /// The archive unpacks to more than allowed (a decompression bomb).
    #[error("the archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// Local I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Counts the uncompressed bytes read against the archive's budget.
struct Budget {
    left: u64,
    max: u64,
    exceeded: bool,
}

impl Budget {
    fn new(max: u64) -> Self {
        Self {
            left: max,
            max,
            exceeded: false,
        }
    }

    fn take(&mut self, n: u64) -> Result<(), ArchiveError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.exceeded = true;
                Err(ArchiveError::TooLarge(self.max))
            }
        }
    }
}

/// A reader that fails once more than its budget was read through it.
struct Budgeted<'a, R> {
    inner: R,
    budget: &'a mut Budget,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget
            .take(n as u64)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(n)
    }
}

fn read_limited(
    r: &mut dyn Read,
    limit: u64,
    name: String,
    budget: &mut Budget,
) -> Result<Entry, ArchiveError> {
    let mut buf = Vec::new();
    let mut metered = Budgeted { inner: r, budget };
    let result = (&mut metered)
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf);
    if metered.budget.exceeded {
        return Err(ArchiveError::TooLarge(metered.budget.max));
    }
    let read = result.map_err(|e| ArchiveError::Corrupt(format!("{name}: {e}")))? as u64;
    let sha256 = Sha256::digest(&buf).into();
    Ok(Entry {
        name,
        bytes: (read <= limit).then_some(buf),
        sha256,
    })
}

/// Reads every regular file of the archive at `path`, calling `each` per file in archive
/// order. Entries larger than `limits.entry_limit` are reported with `bytes: None` and are read
/// no further than one byte past the limit. The number of files is checked before the first one
/// is handed to `each` (a Zip's central directory is counted; a TarGz is decompressed once, into
/// a plain tar next to it, whose headers are counted by seeking over the data); all
/// uncompressed bytes count against the ratio budget; a Zip whose entries overlap is refused.
pub(crate) fn unpack(
    path: &Path,
    compression: Compression,
    limits: UnpackLimits,
    mut each: impl FnMut(Entry),
) -> Result<usize, ArchiveError> {
    let archive_len = std::fs::metadata(path)?.len();
    let mut budget = Budget::new(limits.max_total(archive_len));
    match compression {
        Compression::Zip => {
            let mut zip = zip::ZipArchive::new(BufReader::new(File::open(path)?))
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
            if zip
                .has_overlapping_entries()
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
            {
                return Err(ArchiveError::Corrupt(
                    "entries of the archive overlap".to_string(),
                ));
            }
            let mut files = 0usize;
            for i in 0..zip.len() {
                let entry = zip
                    .by_index_raw(i)
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                if !entry.is_dir() {
                    files += 1;
                    if files > limits.max_entries {
                        return Err(ArchiveError::TooManyEntries(limits.max_entries));
                    }
                }
            }
            let mut count = 0usize;
            for i in 0..zip.len() {
                let mut entry = zip
                    .by_index(i)
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                if entry.is_dir() {
                    continue;
                }
                count += 1;
                let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
                each(read_limited(
                    &mut entry,
                    limits.entry_limit,
                    name,
                    &mut budget,
                )?);
            }
            Ok(count)
        }
        Compression::TarGz => {
            let tar_path = path.with_extension("unpacked.tar");
            let result = (|| {
                gunzip(path, &tar_path, &mut budget)?;
                tar_files(&tar_path, limits.max_entries)?;
                let mut tar = tar::Archive::new(BufReader::new(File::open(&tar_path)?));
                let entries = tar
                    .entries_with_seek()
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                let mut count = 0usize;
                // The bytes were counted against the budget when the archive was decompressed.
                let mut unmetered = Budget::new(u64::MAX);
                for entry in entries {
                    let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                    if !is_file(&entry) {
                        continue;
                    }
                    count += 1;
                    let name = entry
                        .path()
                        .map(|p| p.to_string_lossy().into_owned())
                        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                    each(read_limited(
                        &mut entry,
                        limits.entry_limit,
                        name,
                        &mut unmetered,
                    )?);
                }
                Ok(count)
            })();
            let _ = std::fs::remove_file(&tar_path);
            result
        }
    }
}

fn is_file<R: Read>(entry: &tar::Entry<'_, R>) -> bool {
    let kind = entry.header().entry_type();
    kind.is_file() || kind == tar::EntryType::Continuous
}

/// Decompresses `gz` into `out` within the budget.
fn gunzip(gz: &Path, out: &Path, budget: &mut Budget) -> Result<(), ArchiveError> {
    let decoder = flate2::read::GzDecoder::new(BufReader::new(File::open(gz)?));
    let mut reader = Budgeted {
        inner: decoder,
        budget,
    };
    let mut writer = BufWriter::new(File::create(out)?);
    let copied = std::io::copy(&mut reader, &mut writer);
    if reader.budget.exceeded {
        return Err(ArchiveError::TooLarge(reader.budget.max));
    }
    copied.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    writer.flush()?;
    Ok(())
}

/// Counts the regular files of the plain tar at `path` (headers only, the data is seeked over);
/// fails as soon as there are more than `max`.
fn tar_files(path: &Path, max: usize) -> Result<usize, ArchiveError> {
    let mut tar = tar::Archive::new(BufReader::new(File::open(path)?));
    let mut files = 0usize;
    for entry in tar
        .entries_with_seek()
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
    {
        let entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        if is_file(&entry) {
            files += 1;
            if files > max {
                return Err(ArchiveError::TooManyEntries(max));
            }
        }
    }
    Ok(files)
}

/// Writes an archive to a file, one entry at a time.
pub(crate) enum Packer {
    /// Zip writer.
    Zip(Box<zip::ZipWriter<BufWriter<File>>>),
    /// Tar over gzip writer.
    TarGz(Box<tar::Builder<flate2::write::GzEncoder<BufWriter<File>>>>),
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Packer::Zip(_) => "Packer::Zip",
            Packer::TarGz(_) => "Packer::TarGz",
        })
    }
}

impl Packer {
    /// Creates the archive file at `path`.
    pub(crate) fn create(path: &Path, compression: Compression) -> Result<Self, ArchiveError> {
        let out = BufWriter::new(File::create(path)?);
        Ok(match compression {
            Compression::Zip => Packer::Zip(Box::new(zip::ZipWriter::new(out))),
            Compression::TarGz => Packer::TarGz(Box::new(tar::Builder::new(
                flate2::write::GzEncoder::new(out, flate2::Compression::default()),
            ))),
        })
    }

    /// Adds one file.
    pub(crate) fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        match self {
            Packer::Zip(z) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(bytes.len() as u64 >= 0xFFFF_FFFF);
                z.start_file(name, options)
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                z.write_all(bytes)?;
            }
            Packer::TarGz(t) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_entry_type(tar::EntryType::Regular);
                t.append_data(&mut header, name, bytes)?;
            }
        }
        Ok(())
    }

    /// Finishes and flushes the archive.
    pub(crate) fn finish(self) -> Result<(), ArchiveError> {
        match self {
            Packer::Zip(z) => {
                let mut w = z
                    .finish()
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                w.flush()?;
            }
            Packer::TarGz(t) => {
                let gz = t.into_inner()?;
                let mut w = gz.finish()?;
                w.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entry_limit: u64, max_entries: usize) -> UnpackLimits {
        UnpackLimits {
            entry_limit,
            max_entries,
            max_ratio: 100,
            floor: 1 << 20,
        }
    }

    fn roundtrip(c: Compression) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let mut packer = Packer::create(&p, c).unwrap();
        packer.add("one.xml", b"<a/>").unwrap();
        packer.add("big.xml", &[b'x'; 100]).unwrap();
        packer.add("_metadata.json", b"{}").unwrap();
        packer.finish().unwrap();
        let mut got = Vec::new();
        let n = unpack(&p, c, limits(50, 10), |e| got.push(e)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(got[0].name, "one.xml");
        assert_eq!(got[0].bytes.as_deref(), Some(&b"<a/>"[..]));
        assert_eq!(got[1].bytes, None);
        // read no further than one byte past the limit
        assert_eq!(got[1].sha256, <[u8; 32]>::from(Sha256::digest([b'x'; 51])));
        assert_eq!(got[0].sha256, <[u8; 32]>::from(Sha256::digest(b"<a/>")));
        assert_eq!(got[2].bytes.as_deref(), Some(&b"{}"[..]));
        assert!(matches!(
            unpack(&p, c, limits(50, 2), |_| panic!(
                "no entry may be processed over the limit"
            )),
            Err(ArchiveError::TooManyEntries(2))
        ));
    }

    #[test]
    fn zip_roundtrip() {
        roundtrip(Compression::Zip);
    }

    #[test]
    fn targz_roundtrip() {
        roundtrip(Compression::TarGz);
    }

    #[test]
    fn garbage_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g");
        std::fs::write(&p, b"this is not an archive at all").unwrap();
        assert!(matches!(
            unpack(&p, Compression::Zip, limits(10, 10), |_| {}),
            Err(ArchiveError::Corrupt(_))
        ));
        assert!(matches!(
            unpack(&p, Compression::TarGz, limits(10, 10), |_| {}),
            Err(ArchiveError::Corrupt(_))
        ));
    }

    #[test]
    fn bombs_stop_at_the_budget() {
        for c in [Compression::Zip, Compression::TarGz] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("bomb");
            let mut packer = Packer::create(&p, c).unwrap();
            for i in 0..8 {
                packer
                    .add(&format!("{i}.xml"), &vec![0u8; 4 << 20])
                    .unwrap();
            }
            packer.finish().unwrap();
            let small = UnpackLimits {
                entry_limit: 8 << 20,
                max_entries: 100,
                max_ratio: 100,
                floor: 1 << 20,
            };
            let mut seen = 0;
            let r = unpack(&p, c, small, |_| seen += 1);
            assert!(matches!(r, Err(ArchiveError::TooLarge(_))), "{c:?}: {r:?}");
            assert!(seen < 8, "{c:?}");
        }
    }
}
