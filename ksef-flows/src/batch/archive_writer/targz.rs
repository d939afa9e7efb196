//! Streaming TarGz writer: a gzip member (RFC 1952) over a ustar stream whose entries were
//! deflated independently, each ending with a sync flush.

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::entry::PackedEntry;

const BLOCK: u64 = 512;

/// The ustar header of a regular file `name` of `size` bytes.
pub(super) fn header(name: &str, size: u64, mtime: u64) -> io::Result<[u8; 512]> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(*h.as_bytes())
}

/// Zero bytes that pad `size` bytes of content to a whole 512-byte block.
pub(super) fn padding(size: u64) -> usize {
    usize::try_from((BLOCK - size % BLOCK) % BLOCK).unwrap_or(0)
}

/// A TarGz archive written front to back into `out`.
pub(crate) struct TarGzWriter<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    level: u32,
}

impl<W: Write> std::fmt::Debug for TarGzWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarGzWriter")
            .field("uncompressed", &self.crc.total_len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> TarGzWriter<W> {
    pub(crate) fn new(mut out: W, timestamp: DateTime<Utc>, level: u32) -> io::Result<Self> {
        let mtime = u32::try_from(timestamp.timestamp()).unwrap_or(0);
        let mut h = [0u8; 10];
        h[0] = 0x1f;
        h[1] = 0x8b;
        h[2] = 8; // deflate
        h[3] = 0; // no flags
        h[4..8].copy_from_slice(&mtime.to_le_bytes());
        h[8] = 0; // extra flags
        h[9] = 255; // operating system: unknown
        out.write_all(&h)?;
        Ok(Self {
            out,
            crc: crc32fast::Hasher::new(),
            level,
        })
    }

    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    pub(crate) fn add(&mut self, e: &PackedEntry) -> io::Result<()> {
        self.out.write_all(&e.data)?;
        self.crc.combine(&crc32fast::Hasher::new_with_initial_len(
            e.crc32,
            e.uncompressed,
        ));
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        // end of archive: two zero blocks, in the final deflate block
        let end = [0u8; 2 * BLOCK as usize];
        let mut c = flate2::Compress::new(flate2::Compression::new(self.level.min(9)), false);
        let mut data = Vec::new();
        super::deflate::deflate(&mut c, &[&end], &mut data, true)?;
        self.out.write_all(&data)?;
        self.crc.update(&end);
        let total = self.crc.total_len();
        let crc = self.crc.finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE: the uncompressed length modulo 2^32
        self.out
            .write_all(&((total & 0xFFFF_FFFF) as u32).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}
