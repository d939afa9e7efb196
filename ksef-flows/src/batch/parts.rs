//! The archive sink: cuts the archive into contiguous parts, encrypts each part as its own
//! AES-256-CBC stream into a file of the work directory, and hashes everything on the way.
//!
//! A sealed part is made durable (`fsync`) by a thread of its own while the archive goes on
//! into the next part: the writer does not wait for the disk (≈ 75 ms for a 100 MB part at the
//! 1.3 GB/s measured here). [`PartSyncs::wait`] collects them; the batch state that names the
//! parts is written only after it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use ksef_crypto::SymmetricKey;
use ksef_crypto::symmetric::EncryptWriter;
use sha2::{Digest as _, Sha256};

use super::limits::{BatchLimit, LimitExceeded};

/// One encrypted part on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedPart {
    /// 1-based.
    pub(crate) ordinal: u32,
    /// File name in the work directory.
    pub(crate) file: String,
    /// Plaintext bytes of the archive in this part.
    pub(crate) plain_size: u64,
    /// Size of the encrypted part (`fileParts[].fileSize`).
    pub(crate) size: u64,
    /// SHA-256 of the encrypted part (`fileParts[].fileHash`).
    pub(crate) sha256: [u8; 32],
}

/// The name of part `ordinal`'s file.
pub(crate) fn part_file_name(ordinal: u32) -> String {
    format!("part-{ordinal:03}.aes")
}

struct Open {
    writer: EncryptWriter<BufWriter<File>>,
    plain: u64,
}

/// A `Write` of the plaintext archive.
pub(crate) struct PartSink<'a> {
    dir: PathBuf,
    key: SymmetricKey,
    part_size: u64,
    max_parts: Option<u32>,
    max_archive: Option<u64>,
    current: Option<Open>,
    parts: Vec<SealedPart>,
    archive: Sha256,
    archive_len: u64,
    syncs: Vec<std::thread::JoinHandle<io::Result<()>>>,
    on_part: &'a mut dyn FnMut(&SealedPart),
}

/// The `fsync`s of the sealed parts, still running.
#[derive(Debug)]
#[must_use = "the parts are durable only once `wait` returns"]
pub(crate) struct PartSyncs(Vec<std::thread::JoinHandle<io::Result<()>>>);

impl PartSyncs {
    /// Waits for every part's `fsync`; the first failure is the error.
    pub(crate) fn wait(self) -> io::Result<()> {
        let mut first = Ok(());
        for handle in self.0 {
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a part's sync thread stopped")));
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
}

impl std::fmt::Debug for PartSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartSink")
            .field("dir", &self.dir)
            .field("part_size", &self.part_size)
            .field("parts", &self.parts.len())
            .field("archive_len", &self.archive_len)
            .finish_non_exhaustive()
    }
}

/// Digest and parts of a finished archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedArchive {
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
    pub(crate) parts: Vec<SealedPart>,
}

impl<'a> PartSink<'a> {
    /// `max_parts`/`max_archive` are checked while writing (`None`: not checked).
    pub(crate) fn new(
        dir: &Path,
        key: SymmetricKey,
        part_size: u64,
        max_parts: Option<u32>,
        max_archive: Option<u64>,
        on_part: &'a mut dyn FnMut(&SealedPart),
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            key,
            part_size: part_size.max(1),
            max_parts,
            max_archive,
            current: None,
            parts: Vec::new(),
            archive: Sha256::new(),
            archive_len: 0,
            syncs: Vec::new(),
            on_part,
        }
    }

    /// Bytes of the archive written so far.
    pub(crate) fn archive_len(&self) -> u64 {
        self.archive_len
    }

    fn open_part(&mut self) -> io::Result<Open> {
        let ordinal = u32::try_from(self.parts.len() + 1).unwrap_or(u32::MAX);
        if let Some(max) = self.max_parts
            && ordinal > max
        {
            return Err(io::Error::other(LimitExceeded {
                limit: BatchLimit::Parts,
                max: u64::from(max),
                at_least: u64::from(ordinal),
            }));
        }
        let file = File::create(self.dir.join(part_file_name(ordinal)))?;
        Ok(Open {
            writer: self
                .key
                .encrypt_writer(BufWriter::with_capacity(256 * 1024, file)),
            plain: 0,
        })
    }

    fn seal_current(&mut self) -> io::Result<()> {
        let Some(open) = self.current.take() else {
            return Ok(());
        };
        let (buffered, digests) = open.writer.finish().map_err(io::Error::other)?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        let sync = std::thread::Builder::new()
            .name("ksef-part-sync".into())
            .spawn(move || file.sync_all())?;
        self.syncs.push(sync);
        let ordinal = u32::try_from(self.parts.len() + 1).unwrap_or(u32::MAX);
        let part = SealedPart {
            ordinal,
            file: part_file_name(ordinal),
            plain_size: open.plain,
            size: digests.encrypted.size,
            sha256: digests.encrypted.sha256,
        };
        (self.on_part)(&part);
        self.parts.push(part);
        Ok(())
    }

    /// Seals the last part and returns the archive's digest and parts, and the parts' `fsync`s
    /// to wait for.
    pub(crate) fn finish(mut self) -> io::Result<(SealedArchive, PartSyncs)> {
        self.seal_current()?;
        Ok((
            SealedArchive {
                size: self.archive_len,
                sha256: self.archive.clone().finalize().into(),
                parts: std::mem::take(&mut self.parts),
            },
            PartSyncs(std::mem::take(&mut self.syncs)),
        ))
    }
}

impl Write for PartSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(max) = self.max_archive
            && self.archive_len + buf.len() as u64 > max
        {
            return Err(io::Error::other(LimitExceeded {
                limit: BatchLimit::ArchiveSize,
                max,
                at_least: self.archive_len + buf.len() as u64,
            }));
        }
        let mut open = match self.current.take() {
            Some(o) => o,
            None => self.open_part()?,
        };
        let room = self.part_size - open.plain;
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let chunk = buf.get(..n).unwrap_or_default();
        open.writer.write_all(chunk)?;
        open.plain += n as u64;
        self.archive.update(chunk);
        self.archive_len += n as u64;
        let full = open.plain == self.part_size;
        self.current = Some(open);
        if full {
            self.seal_current()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit_of(e: &io::Error) -> Option<BatchLimit> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
            .map(|l| l.limit)
    }

    #[test]
    fn parts_are_contiguous_and_the_archive_limit_stops_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let key = SymmetricKey::generate().unwrap();
        let mut seen = 0;
        let mut on_part = |_: &SealedPart| seen += 1;
        let mut sink = PartSink::new(dir.path(), key, 10, Some(50), Some(25), &mut on_part);
        sink.write_all(&[7; 25]).unwrap();
        let e = sink.write_all(&[7]).unwrap_err();
        assert_eq!(limit_of(&e), Some(BatchLimit::ArchiveSize));
        assert_eq!(sink.archive_len(), 25);
        let (sealed, syncs) = sink.finish().unwrap();
        syncs.wait().unwrap();
        let plain: Vec<u64> = sealed.parts.iter().map(|p| p.plain_size).collect();
        assert_eq!(plain, [10, 10, 5]);
        // every part is one CBC stream: its plaintext padded to whole blocks
        assert!(sealed.parts.iter().all(|p| p.size == 16));
        assert_eq!(seen, 3);
    }

    #[test]
    fn the_part_limit_stops_the_write_before_a_part_too_many() {
        let dir = tempfile::tempdir().unwrap();
        let key = SymmetricKey::generate().unwrap();
        let mut on_part = |_: &SealedPart| {};
        let mut sink = PartSink::new(dir.path(), key, 10, Some(2), None, &mut on_part);
        sink.write_all(&[1; 20]).unwrap();
        let e = sink.write_all(&[1]).unwrap_err();
        assert_eq!(limit_of(&e), Some(BatchLimit::Parts));
        assert!(!dir.path().join(part_file_name(3)).exists());
    }
}
