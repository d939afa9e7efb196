//! A `Read + Seek` view of several files one after another: the decrypted parts of a package
//! read as the one archive they form, without copying them into one file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// The concatenation of files, in order.
#[derive(Debug)]
pub(crate) struct MultiFile {
    paths: Vec<PathBuf>,
    /// Start offset of each file in the concatenation.
    starts: Vec<u64>,
    len: u64,
    pos: u64,
    /// The open file and its index.
    open: Option<(usize, File)>,
}

impl MultiFile {
    pub(crate) fn open(paths: Vec<PathBuf>) -> io::Result<Self> {
        let mut starts = Vec::with_capacity(paths.len());
        let mut len = 0u64;
        for p in &paths {
            starts.push(len);
            len += std::fs::metadata(p)?.len();
        }
        Ok(Self {
            paths,
            starts,
            len,
            pos: 0,
            open: None,
        })
    }

    /// Index of the file holding offset `pos` (`pos < len`).
    fn index_of(&self, pos: u64) -> usize {
        match self.starts.binary_search(&pos) {
            Ok(mut i) => {
                // Skip empty files that start at the same offset.
                while i + 1 < self.starts.len() && self.starts[i + 1] == pos {
                    i += 1;
                }
                i
            }
            Err(i) => i.saturating_sub(1),
        }
    }
}

impl Clone for MultiFile {
    /// An independent reader of the same files (its own position and file handle).
    fn clone(&self) -> Self {
        Self {
            paths: self.paths.clone(),
            starts: self.starts.clone(),
            len: self.len,
            pos: self.pos,
            open: None,
        }
    }
}

impl Read for MultiFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        let i = self.index_of(self.pos);
        let offset = self.pos - self.starts[i];
        let file = match &mut self.open {
            Some((j, f)) if *j == i => f,
            slot => {
                let mut f = File::open(&self.paths[i])?;
                f.seek(SeekFrom::Start(offset))?;
                &mut slot.insert((i, f)).1
            }
        };
        let end = self.starts.get(i + 1).copied().unwrap_or(self.len);
        let room = usize::try_from(end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a decrypted part is shorter than when it was written",
            ));
        }
        self.pos += n as u64;
        if self.pos == end {
            self.open = None;
        }
        Ok(n)
    }
}

impl Seek for MultiFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        if target != self.pos {
            self.pos = target;
            // Reposition lazily: reopen (or seek) on the next read.
            if let Some((i, f)) = &mut self.open {
                let i = *i;
                let end = self.starts.get(i + 1).copied().unwrap_or(self.len);
                if target >= self.starts[i] && target < end {
                    f.seek(SeekFrom::Start(target - self.starts[i]))?;
                } else {
                    self.open = None;
                }
            }
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_seeks_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let chunks: [&[u8]; 4] = [b"hello ", b"", b"wide ", b"world"];
        let paths: Vec<PathBuf> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = dir.path().join(i.to_string());
                std::fs::write(&p, c).unwrap();
                p
            })
            .collect();
        let mut m = MultiFile::open(paths).unwrap();
        let mut all = String::new();
        m.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello wide world");
        for (from, want) in [(0u64, "hello"), (6, "wide "), (4, "o wid"), (11, "world")] {
            m.seek(SeekFrom::Start(from)).unwrap();
            let mut b = vec![0u8; want.len()];
            m.read_exact(&mut b).unwrap();
            assert_eq!(String::from_utf8(b).unwrap(), want, "from {from}");
        }
        assert_eq!(m.seek(SeekFrom::End(-5)).unwrap(), 11);
        m.seek(SeekFrom::Current(-6)).unwrap();
        let mut b = [0u8; 6];
        m.read_exact(&mut b).unwrap();
        assert_eq!(&b, b" wide ");
        assert!(m.seek(SeekFrom::Current(-100)).is_err());
        m.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(m.read(&mut b).unwrap(), 0);
        // a clone reads on its own
        let mut c = m.clone();
        c.seek(SeekFrom::Start(0)).unwrap();
        let mut five = [0u8; 5];
        c.read_exact(&mut five).unwrap();
        assert_eq!(&five, b"hello");
        assert_eq!(m.read(&mut b).unwrap(), 0);
    }
}
