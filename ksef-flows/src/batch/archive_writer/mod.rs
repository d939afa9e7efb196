//! Writers of batch archives (Zip and TarGz) built for a parallel, streaming pipeline.
//!
//! Each invoice is compressed on its own by a worker thread ([`EntryPacker`]); the single writer
//! thread then appends the finished entries in input order ([`ArchiveWriter`]). Nothing but the
//! entry being appended is held in memory: the Zip central directory is spilled to a file next
//! to the parts and copied to the end of the archive when it is finished.
//!
//! * Zip: every entry is a complete raw-deflate stream (or stored, when deflate does not
//!   shrink it), with its CRC-32 and sizes in the local header (no data descriptors). Zip64
//!   records are written when the archive grows past 4 GiB or 65 535 entries.
//! * TarGz: one gzip member over a ustar stream. Each entry (header, content, padding) is
//!   deflated independently and ends with a sync flush, so the concatenation of the entries'
//!   deflate output is one valid deflate stream; the gzip CRC-32 is combined from the entries'.
//!
//! Archives are deterministic: the same inputs, names and timestamp give the same bytes.

mod deflate;
mod entry;
mod targz;
mod zip;

use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};

pub(crate) use self::entry::PackedEntry;
pub(crate) use self::targz::TarGzWriter;
pub(crate) use self::zip::ZipWriter;
use super::options::Compression;

/// Compresses entries (one per worker thread, reused for every entry).
///
/// Zip entries are whole buffers, deflated in one call by libdeflate (faster than zlib at a
/// given level, and a smaller output). TarGz entries must end with a sync flush so that they
/// concatenate into one deflate stream, which only a streaming compressor (zlib) can do.
pub(crate) struct EntryPacker {
    compressor: Compressor,
    mtime: u64,
}

/// The compressor of one format: only the one the format uses is built.
enum Compressor {
    /// libdeflate, whole buffers, and its output buffer.
    Zip {
        whole: libdeflater::Compressor,
        scratch: Vec<u8>,
    },
    /// zlib, streaming with sync flushes.
    TarGz(flate2::Compress),
}

impl std::fmt::Debug for EntryPacker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let format = match self.compressor {
            Compressor::Zip { .. } => Compression::Zip,
            Compressor::TarGz(_) => Compression::TarGz,
        };
        f.debug_struct("EntryPacker")
            .field("format", &format)
            .finish_non_exhaustive()
    }
}

impl EntryPacker {
    pub(crate) fn new(format: Compression, level: u32, timestamp: DateTime<Utc>) -> Self {
        let level = level.min(9);
        let compressor = match format {
            Compression::Zip => Compressor::Zip {
                whole: libdeflater::Compressor::new(
                    i32::try_from(level)
                        .ok()
                        .and_then(|l| libdeflater::CompressionLvl::new(l).ok())
                        .unwrap_or_default(),
                ),
                scratch: Vec::new(),
            },
            Compression::TarGz => Compressor::TarGz(flate2::Compress::new(
                flate2::Compression::new(level),
                false,
            )),
        };
        Self {
            compressor,
            mtime: u64::try_from(timestamp.timestamp()).unwrap_or(0),
        }
    }

    /// Compresses the content of one entry.
    pub(crate) fn pack(&mut self, name: String, content: &[u8]) -> io::Result<PackedEntry> {
        match &mut self.compressor {
            Compressor::Zip { whole, scratch } => {
                let bound = whole.deflate_compress_bound(content.len());
                if scratch.len() < bound {
                    scratch.resize(bound, 0);
                }
                let n = whole
                    .deflate_compress(content, scratch)
                    .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
                let crc32 = crc32fast::hash(content);
                let stored = n >= content.len();
                let data = if stored {
                    content.to_vec()
                } else {
                    scratch.get(..n).unwrap_or_default().to_vec()
                };
                Ok(PackedEntry {
                    name,
                    data,
                    crc32,
                    uncompressed: content.len() as u64,
                    stored,
                })
            }
            Compressor::TarGz(compress) => {
                let header = targz::header(&name, content.len() as u64, self.mtime)?;
                let pad = targz::padding(content.len() as u64);
                let zeros = [0u8; 512];
                let pad = zeros.get(..pad).unwrap_or_default();
                let pieces = [&header[..], content, pad];
                let mut data = Vec::new();
                deflate::deflate(compress, &pieces, &mut data, false)?;
                let mut crc = crc32fast::Hasher::new();
                for p in pieces {
                    crc.update(p);
                }
                Ok(PackedEntry {
                    name,
                    data,
                    crc32: crc.finalize(),
                    uncompressed: (header.len() + content.len() + pad.len()) as u64,
                    stored: false,
                })
            }
        }
    }
}

/// The writer of one archive, in the chosen format.
#[derive(Debug)]
pub(crate) enum ArchiveWriter<W: Write> {
    /// Zip.
    Zip(ZipWriter<W>),
    /// TarGz.
    TarGz(TarGzWriter<W>),
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive. `spill` is a file path the Zip writer may use for its central
    /// directory (removed when the archive is finished); `timestamp` dates the entries.
    pub(crate) fn new(
        format: Compression,
        out: W,
        spill: PathBuf,
        timestamp: DateTime<Utc>,
        level: u32,
    ) -> io::Result<Self> {
        Ok(match format {
            Compression::Zip => Self::Zip(ZipWriter::new(out, spill, dos_datetime(timestamp))?),
            Compression::TarGz => Self::TarGz(TarGzWriter::new(out, timestamp, level)?),
        })
    }

    /// Appends an entry packed by an [`EntryPacker`] of the same format.
    pub(crate) fn add(&mut self, entry: &PackedEntry) -> io::Result<()> {
        match self {
            Self::Zip(z) => z.add(entry),
            Self::TarGz(t) => t.add(entry),
        }
    }

    /// Writes the archive's trailer and returns the sink.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Self::Zip(z) => z.finish(),
            Self::TarGz(t) => t.finish(),
        }
    }

    /// The sink.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        match self {
            Self::Zip(z) => z.get_mut(),
            Self::TarGz(t) => t.get_mut(),
        }
    }
}

/// MS-DOS date and time of the entries: the Europe/Warsaw wall clock of `t` (Zip stores local
/// time without a zone), clamped to the DOS range (1980–2107).
fn dos_datetime(t: DateTime<Utc>) -> (u16, u16) {
    let local = ksef_time::to_warsaw(t);
    let year = local.year().clamp(1980, 2107);
    let date = (((year - 1980) as u32) << 9) | (local.month() << 5) | local.day();
    let time = (local.hour() << 11) | (local.minute() << 5) | (local.second() / 2);
    (
        u16::try_from(time).unwrap_or(0),
        u16::try_from(date).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests;
