//! Streaming Zip writer (PKWARE APPNOTE 6.3): local header + data per entry, central directory
//! spilled to a file, Zip64 end records when needed.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::entry::{PackedEntry, copy_file};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// Version 2.0: deflate; 4.5: Zip64.
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Made by: UNIX (3), spec version 4.5.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
/// Regular file, rw-r--r--.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// A Zip archive written front to back into `out`.
#[derive(Debug)]
pub(crate) struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    spill_path: PathBuf,
    central: BufWriter<File>,
    central_len: u64,
    entries: u64,
    time: u16,
    date: u16,
}

fn too_large(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} is too large for Zip"),
    )
}

impl<W: Write> ZipWriter<W> {
    pub(crate) fn new(out: W, spill_path: PathBuf, (time, date): (u16, u16)) -> io::Result<Self> {
        let central = BufWriter::with_capacity(64 * 1024, File::create(&spill_path)?);
        Ok(Self {
            out,
            offset: 0,
            spill_path,
            central,
            central_len: 0,
            entries: 0,
            time,
            date,
        })
    }

    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    pub(crate) fn add(&mut self, e: &PackedEntry) -> io::Result<()> {
        let name = e.name.as_bytes();
        let name_len = u16::try_from(name.len()).map_err(|_| too_large("an entry name"))?;
        let size = u32::try_from(e.uncompressed)
            .ok()
            .filter(|s| *s < u32::MAX)
            .ok_or_else(|| too_large("an entry"))?;
        let csize = u32::try_from(e.data.len())
            .ok()
            .filter(|s| *s < u32::MAX)
            .ok_or_else(|| too_large("an entry"))?;
        let method = if e.stored {
            METHOD_STORED
        } else {
            METHOD_DEFLATE
        };
        let local_offset = self.offset;

        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        h.extend_from_slice(&VERSION_DEFLATE.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // flags
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&self.time.to_le_bytes());
        h.extend_from_slice(&self.date.to_le_bytes());
        h.extend_from_slice(&e.crc32.to_le_bytes());
        h.extend_from_slice(&csize.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra length
        h.extend_from_slice(name);
        self.out.write_all(&h)?;
        self.out.write_all(&e.data)?;
        self.offset += h.len() as u64 + e.data.len() as u64;

        let zip64 = local_offset >= u64::from(u32::MAX);
        let mut c = Vec::with_capacity(46 + name.len() + 12);
        c.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
        c.extend_from_slice(&MADE_BY.to_le_bytes());
        let needed = if zip64 {
            VERSION_ZIP64
        } else {
            VERSION_DEFLATE
        };
        c.extend_from_slice(&needed.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // flags
        c.extend_from_slice(&method.to_le_bytes());
        c.extend_from_slice(&self.time.to_le_bytes());
        c.extend_from_slice(&self.date.to_le_bytes());
        c.extend_from_slice(&e.crc32.to_le_bytes());
        c.extend_from_slice(&csize.to_le_bytes());
        c.extend_from_slice(&size.to_le_bytes());
        c.extend_from_slice(&name_len.to_le_bytes());
        let extra_len: u16 = if zip64 { 12 } else { 0 };
        c.extend_from_slice(&extra_len.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // comment length
        c.extend_from_slice(&0u16.to_le_bytes()); // disk number start
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&EXTERNAL_ATTRIBUTES.to_le_bytes());
        let offset32 = if zip64 {
            u32::MAX
        } else {
            u32::try_from(local_offset).unwrap_or(u32::MAX)
        };
        c.extend_from_slice(&offset32.to_le_bytes());
        c.extend_from_slice(name);
        if zip64 {
            // Zip64 extended information: only the field that overflowed (the offset)
            c.extend_from_slice(&1u16.to_le_bytes());
            c.extend_from_slice(&8u16.to_le_bytes());
            c.extend_from_slice(&local_offset.to_le_bytes());
        }
        self.central.write_all(&c)?;
        self.central_len += c.len() as u64;
        self.entries += 1;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.central.flush()?;
        drop(self.central);
        let cd_offset = self.offset;
        let copied = copy_file(&self.spill_path, &mut self.out)?;
        std::fs::remove_file(&self.spill_path)?;
        if copied != self.central_len {
            return Err(io::Error::other(
                "the spilled central directory changed size",
            ));
        }
        let cd_size = self.central_len;
        let end_offset = cd_offset + cd_size;
        let needs_zip64 = self.entries >= u64::from(u16::MAX)
            || cd_offset >= u64::from(u32::MAX)
            || cd_size >= u64::from(u32::MAX);
        let mut t = Vec::with_capacity(98);
        if needs_zip64 {
            t.extend_from_slice(&ZIP64_END_OF_CENTRAL.to_le_bytes());
            t.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of this record
            t.extend_from_slice(&MADE_BY.to_le_bytes());
            t.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes()); // this disk
            t.extend_from_slice(&0u32.to_le_bytes()); // disk of the central directory
            t.extend_from_slice(&self.entries.to_le_bytes());
            t.extend_from_slice(&self.entries.to_le_bytes());
            t.extend_from_slice(&cd_size.to_le_bytes());
            t.extend_from_slice(&cd_offset.to_le_bytes());
            t.extend_from_slice(&ZIP64_LOCATOR.to_le_bytes());
            t.extend_from_slice(&0u32.to_le_bytes()); // disk of the zip64 end record
            t.extend_from_slice(&end_offset.to_le_bytes());
            t.extend_from_slice(&1u32.to_le_bytes()); // number of disks
        }
        let entries16 = u16::try_from(self.entries)
            .ok()
            .filter(|n| *n < u16::MAX)
            .unwrap_or(u16::MAX);
        let clamp32 = |v: u64| {
            u32::try_from(v)
                .ok()
                .filter(|n| *n < u32::MAX)
                .unwrap_or(u32::MAX)
        };
        t.extend_from_slice(&END_OF_CENTRAL.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes()); // this disk
        t.extend_from_slice(&0u16.to_le_bytes()); // disk of the central directory
        t.extend_from_slice(&entries16.to_le_bytes());
        t.extend_from_slice(&entries16.to_le_bytes());
        t.extend_from_slice(&clamp32(cd_size).to_le_bytes());
        t.extend_from_slice(&clamp32(cd_offset).to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.out.write_all(&t)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
