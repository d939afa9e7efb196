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
    /// Its bytes, or `None` when it exceeded the limit (then `size` is at least `limit + 1`).
    pub(crate) bytes: Option<Vec<u8>>,
    /// Its full size.
    pub(crate) size: u64,
    /// SHA-256 of all its bytes (also of an oversized entry, read through).
    pub(crate) sha256: [u8; 32],
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
    /// Local I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A `Write` that only hashes.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read_limited(r: &mut dyn Read, limit: u64, name: String) -> Result<Entry, ArchiveError> {
    let mut buf = Vec::new();
    let read = r
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ArchiveError::Corrupt(format!("{name}: {e}")))? as u64;
    let mut hasher = Sha256::new();
    hasher.update(&buf);
    if read > limit {
        // Hash the rest without keeping it.
        let mut sink = HashWriter(&mut hasher);
        let rest = std::io::copy(r, &mut sink)
            .map_err(|e| ArchiveError::Corrupt(format!("{name}: {e}")))?;
        return Ok(Entry {
            name,
            bytes: None,
            size: read + rest,
            sha256: hasher.finalize().into(),
        });
    }
    Ok(Entry {
        name,
        bytes: Some(buf),
        size: read,
        sha256: hasher.finalize().into(),
    })
}

/// Reads every regular file of the archive at `path`, calling `each` per file
/// in archive order. Entries larger than `entry_limit` are reported with
/// `bytes: None`. Fails on more than `max_entries` files.
pub(crate) fn unpack(
    path: &Path,
    compression: Compression,
    entry_limit: u64,
    max_entries: usize,
    mut each: impl FnMut(Entry),
) -> Result<usize, ArchiveError> {
    // Count first, so that an archive over the limit processes no invoice at all.
    let total = visit(path, compression, |_, _| Ok(()))?;
    if total > max_entries {
        return Err(ArchiveError::TooManyEntries(max_entries));
    }
    visit(path, compression, |name, reader| {
        each(read_limited(reader, entry_limit, name)?);
        Ok(())
    })
}

/// Calls `f` with the name and a reader of every regular file, in archive order.
fn visit(
    path: &Path,
    compression: Compression,
    mut f: impl FnMut(String, &mut dyn Read) -> Result<(), ArchiveError>,
) -> Result<usize, ArchiveError> {
    let file = File::open(path)?;
    let mut count = 0usize;
    match compression {
        Compression::Zip => {
            let mut zip = zip::ZipArchive::new(BufReader::new(file))
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
            for i in 0..zip.len() {
                let mut entry = zip
                    .by_index(i)
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                if entry.is_dir() {
                    continue;
                }
                count += 1;
                let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
                f(name, &mut entry)?;
            }
        }
        Compression::TarGz => {
            let gz = flate2::read::GzDecoder::new(BufReader::new(file));
            let mut tar = tar::Archive::new(gz);
            let entries = tar
                .entries()
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                let kind = entry.header().entry_type();
                if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                    continue;
                }
                count += 1;
                let name = entry
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
                f(name, &mut entry)?;
            }
        }
    }
    Ok(count)
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

    fn roundtrip(c: Compression) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let mut packer = Packer::create(&p, c).unwrap();
        packer.add("one.xml", b"<a/>").unwrap();
        packer.add("big.xml", &[b'x'; 100]).unwrap();
        packer.add("_metadata.json", b"{}").unwrap();
        packer.finish().unwrap();
        let mut got = Vec::new();
        let n = unpack(&p, c, 50, 10, |e| got.push(e)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(got[0].name, "one.xml");
        assert_eq!(got[0].bytes.as_deref(), Some(&b"<a/>"[..]));
        assert_eq!(got[1].bytes, None);
        assert_eq!(got[1].size, 100);
        assert_eq!(got[1].sha256, <[u8; 32]>::from(Sha256::digest([b'x'; 100])));
        assert_eq!(got[0].sha256, <[u8; 32]>::from(Sha256::digest(b"<a/>")));
        assert_eq!(got[2].bytes.as_deref(), Some(&b"{}"[..]));
        assert!(matches!(
            unpack(&p, c, 50, 2, |_| panic!(
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
            unpack(&p, Compression::Zip, 10, 10, |_| {}),
            Err(ArchiveError::Corrupt(_))
        ));
        assert!(matches!(
            unpack(&p, Compression::TarGz, 10, 10, |_| {}),
            Err(ArchiveError::Corrupt(_))
        ));
    }
}
