//! What the compressing workers hand to the archive writers.

use std::fs::File;
use std::io::{self, Write};

/// One entry compressed by a worker, ready to be appended by the writer.
#[derive(Debug)]
pub(crate) struct PackedEntry {
    /// Entry name (ASCII, unique in the archive).
    pub(crate) name: String,
    /// Zip: the compressed (or stored) content. TarGz: the deflated tar record.
    pub(crate) data: Vec<u8>,
    /// CRC-32 of the uncompressed bytes the entry stands for (Zip: the content; TarGz: the
    /// whole tar record).
    pub(crate) crc32: u32,
    /// Length of those uncompressed bytes.
    pub(crate) uncompressed: u64,
    /// Zip only: stored instead of deflated.
    pub(crate) stored: bool,
}

/// Copies a spilled file into `out`, returning the number of bytes.
pub(crate) fn copy_file(path: &std::path::Path, out: &mut impl Write) -> io::Result<u64> {
    let mut f = io::BufReader::with_capacity(256 * 1024, File::open(path)?);
    io::copy(&mut f, out)
}
