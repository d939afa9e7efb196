//! Inputs of a batch: files, a directory, or any named bytes or reader.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// One invoice of a batch: a name (used in the archive entry's name and in the results) and
/// where its exact bytes come from. The bytes are read once, when the batch is prepared, and
/// never re-encoded.
#[non_exhaustive]
pub struct BatchInput {
    /// The input's name: a file's path, or the caller's label.
    pub name: String,
    source: Source,
}

enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for BatchInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Bytes(b) => format!("{} bytes", b.len()),
            Source::File(p) => format!("file {}", p.display()),
            Source::Reader(_) => "reader".to_string(),
        };
        f.debug_struct("BatchInput")
            .field("name", &self.name)
            .field("source", &source)
            .finish()
    }
}

impl BatchInput {
    /// An invoice held in memory.
    pub fn bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self {
            name: name.into(),
            source: Source::Bytes(bytes.into()),
        }
    }

    /// An invoice file, read when the batch is prepared; its name is the path.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            name: path.to_string_lossy().into_owned(),
            source: Source::File(path),
        }
    }

    /// An invoice read from `reader` when the batch is prepared.
    pub fn reader(name: impl Into<String>, reader: impl Read + Send + 'static) -> Self {
        Self {
            name: name.into(),
            source: Source::Reader(Box::new(reader)),
        }
    }

    /// Reads the bytes: at most `limit + 1` of them, enough for pre-flight to reject an
    /// oversized invoice without reading all of it.
    pub(crate) fn read(self, limit: usize) -> io::Result<Bytes> {
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        let mut buf = Vec::new();
        match self.source {
            Source::Bytes(b) => return Ok(b),
            Source::File(p) => {
                std::fs::File::open(&p)?.take(cap).read_to_end(&mut buf)?;
            }
            Source::Reader(r) => {
                r.take(cap).read_to_end(&mut buf)?;
            }
        }
        Ok(Bytes::from(buf))
    }
}

/// Every `*.xml` file under `dir` (recursively, case-insensitive extension, symbolic links to
/// directories not followed), in a stable order: sorted by path.
pub fn xml_files_in(dir: impl AsRef<Path>) -> io::Result<Vec<BatchInput>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.as_ref().to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
                && std::fs::metadata(&path)?.is_file()
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(BatchInput::file).collect())
}

/// Longest part of an entry name taken from the input's name.
const NAME_STEM_MAX: usize = 80;

/// The archive entry name of input `index`: its zero-padded position, then a safe version of
/// its own name (ASCII letters, digits, `-`, `_`, `.`; at most 80 characters), then `.xml`,
/// e.g. `000042_FV-2026-17.xml`. Unique (the position) and short enough for ustar and for
/// KSeF's `invoiceFileName` (128 characters).
pub(crate) fn entry_name(index: usize, input_name: &str) -> String {
    let base = input_name.rsplit(['/', '\\']).next().unwrap_or(input_name);
    let stem = match base.len().checked_sub(4) {
        Some(cut)
            if base
                .get(cut..)
                .is_some_and(|e| e.eq_ignore_ascii_case(".xml")) =>
        {
            base.get(..cut).unwrap_or(base)
        }
        _ => base,
    };
    let mut safe = String::with_capacity(stem.len().min(NAME_STEM_MAX));
    for c in stem.chars() {
        if safe.len() >= NAME_STEM_MAX {
            break;
        }
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let safe = safe.trim_matches(['_', '.']);
    if safe.is_empty() {
        format!("{index:06}.xml")
    } else {
        format!("{index:06}_{safe}.xml")
    }
}

/// The input position encoded in an entry name made by [`entry_name`].
pub(crate) fn index_of_entry(name: &str) -> Option<usize> {
    let digits: &str = name
        .split(['_', '.'])
        .next()
        .filter(|d| d.len() >= 6 && d.bytes().all(|b| b.is_ascii_digit()))?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entry_names_are_safe_unique_and_reversible() {
        let cases = [
            (0, "a.xml", "000000_a.xml"),
            (42, "/data/in/FV 2026/17.XML", "000042_17.xml"),
            (7, "faktura zażółć.xml", "000007_faktura_za.xml"),
            (3, "", "000003.xml"),
            (3, "../../etc/passwd", "000003_passwd.xml"),
            (1_234_567, "x.y.z", "1234567_x.y.z.xml"),
            (9, "C:\\Users\\ala\\FV#1.xml", "000009_FV_1.xml"),
        ];
        for (i, input, expected) in cases {
            let n = entry_name(i, input);
            assert_eq!(n, expected, "{input}");
            assert_eq!(index_of_entry(&n), Some(i));
        }
        let long = entry_name(1, &"ą".repeat(500));
        assert_eq!(long, "000001.xml");
        let long = entry_name(1, &"a".repeat(500));
        assert!(long.len() <= 6 + 1 + NAME_STEM_MAX + 4, "{long}");
        assert_eq!(index_of_entry("invoice.xml"), None);
        assert_eq!(index_of_entry("12_a.xml"), None);
    }

    #[test]
    fn directory_walk_is_recursive_sorted_and_xml_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        for p in [
            "b/c/3.xml",
            "a.XML",
            "b/2.xml",
            "b/readme.txt",
            "b/c/x.xml.bak",
        ] {
            std::fs::write(d.path().join(p), p).unwrap();
        }
        let names: Vec<String> = xml_files_in(d.path())
            .unwrap()
            .into_iter()
            .map(|i| {
                i.name
                    .strip_prefix(&*d.path().to_string_lossy())
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["/a.XML", "/b/2.xml", "/b/c/3.xml"]);
        let first = xml_files_in(d.path()).unwrap().remove(0);
        assert_eq!(&first.read(100).unwrap()[..], b"a.XML");
    }
}
