//! The archives are checked by independent readers: Python's `zipfile`/`tarfile`, `unzip -t`
//! and GNU `tar` with `gzip`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use super::*;

fn timestamp() -> DateTime<Utc> {
    "2026-03-29T00:30:00Z".parse().unwrap()
}

fn contents() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            (
                format!("{i:06}_invoice.xml"),
                format!("<Faktura><P_2>FV/{i}</P_2>{}</Faktura>", "x".repeat(i * 37)).into_bytes(),
            )
        })
        .collect();
    // incompressible: stored in Zip
    let mut noise = vec![0u8; 70_000];
    let mut x: u32 = 0x1234_5678;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    v.push(("000040_noise.xml".into(), noise));
    v.push(("000041_empty.xml".into(), Vec::new()));
    v.push(("000042_exact_block.xml".into(), vec![b'a'; 1024]));
    v
}

fn write_archive(format: Compression, dir: &Path, entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let spill = dir.join("central.tmp");
    let mut w = ArchiveWriter::new(format, Vec::new(), spill.clone(), timestamp(), 6).unwrap();
    let mut packer = EntryPacker::new(format, 6, timestamp());
    for (name, content) in entries {
        let e = packer.pack(name.clone(), content).unwrap();
        w.add(&e).unwrap();
    }
    let out = w.finish().unwrap();
    assert!(!spill.exists(), "the spilled central directory is removed");
    out
}

/// Python prints, per entry in archive order: name, size, SHA-256 of the content.
fn python_listing(format: Compression, archive: &Path) -> String {
    let script = match format {
        Compression::Zip => {
            "import sys,zipfile,hashlib\n\
             z=zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None\n\
             for i in z.infolist():\n\
             \x20 d=z.read(i)\n\
             \x20 print(i.filename,len(d),hashlib.sha256(d).hexdigest(),i.date_time)\n"
        }
        Compression::TarGz => {
            "import sys,tarfile,hashlib\n\
             t=tarfile.open(sys.argv[1],'r:gz')\n\
             for m in t.getmembers():\n\
             \x20 assert m.isfile()\n\
             \x20 d=t.extractfile(m).read()\n\
             \x20 print(m.name,len(d),hashlib.sha256(d).hexdigest(),m.mtime)\n"
        }
    };
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(archive)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn expected_listing(format: Compression, entries: &[(String, Vec<u8>)]) -> String {
    use sha2::Digest as _;
    let when = match format {
        // Warsaw wall clock of 2026-03-29T00:30Z (CET, before the switch): 01:30
        Compression::Zip => "(2026, 3, 29, 1, 30, 0)".to_string(),
        Compression::TarGz => timestamp().timestamp().to_string(),
    };
    entries
        .iter()
        .map(|(n, c)| {
            format!(
                "{n} {} {} {when}\n",
                c.len(),
                hex_lower(&sha2::Sha256::digest(c))
            )
        })
        .collect()
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn zip_is_read_back_by_python_and_unzip() {
    let dir = tempfile::tempdir().unwrap();
    let entries = contents();
    let bytes = write_archive(Compression::Zip, dir.path(), &entries);
    let path = dir.path().join("a.zip");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        python_listing(Compression::Zip, &path),
        expected_listing(Compression::Zip, &entries)
    );
    let t = Command::new("unzip").arg("-t").arg(&path).output().unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stdout));
    // the noise entry is stored, the text entries deflated
    let info = Command::new("zipinfo").arg(&path).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.contains("000040_noise.xml") && l.contains("stor")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.contains("000001_invoice.xml") && l.contains("def")),
        "{info}"
    );
    // deterministic
    assert_eq!(bytes, write_archive(Compression::Zip, dir.path(), &entries));
}

#[test]
fn targz_is_read_back_by_python_and_gnu_tar() {
    let dir = tempfile::tempdir().unwrap();
    let entries = contents();
    let bytes = write_archive(Compression::TarGz, dir.path(), &entries);
    let path = dir.path().join("a.tar.gz");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        python_listing(Compression::TarGz, &path),
        expected_listing(Compression::TarGz, &entries)
    );
    let t = Command::new("gzip").arg("-t").arg(&path).output().unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let t = Command::new("tar")
        .arg("-xzf")
        .arg(&path)
        .arg("-C")
        .arg(&x)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    for (n, c) in &entries {
        assert_eq!(&std::fs::read(x.join(n)).unwrap(), c, "{n}");
    }
}

#[test]
fn zip64_end_records_past_65535_entries() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("central.tmp");
    let path = dir.path().join("many.zip");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = ArchiveWriter::new(Compression::Zip, file, spill, timestamp(), 1).unwrap();
    let mut packer = EntryPacker::new(Compression::Zip, 1, timestamp());
    let n = 70_000;
    for i in 0..n {
        let e = packer
            .pack(format!("{i:06}.xml"), format!("<a>{i}</a>").as_bytes())
            .unwrap();
        w.add(&e).unwrap();
    }
    w.finish().unwrap().flush().unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nl=z.infolist()\n\
             print(len(l), l[-1].filename, z.read(l[-1]).decode())",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{n} {:06}.xml <a>{}</a>", n - 1, n - 1)
    );
}

/// Past 4 GiB the local-header offsets need Zip64 extra fields (about 4.4 GB of disk).
/// `cargo test -p ksef-flows --release -- --ignored zip64_offsets`
#[test]
#[ignore = "writes 4.4 GB to a temporary directory"]
fn zip64_offsets_past_4_gib() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("central.tmp");
    let path = dir.path().join("big.zip");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = ArchiveWriter::new(Compression::Zip, file, spill, timestamp(), 1).unwrap();
    let block = vec![7u8; 100_000_000];
    let crc = crc32fast::hash(&block);
    for i in 0..44 {
        let e = PackedEntry {
            name: format!("{i:06}.bin"),
            data: block.clone(),
            crc32: crc,
            uncompressed: block.len() as u64,
            stored: true,
        };
        w.add(&e).unwrap();
    }
    let small = EntryPacker::new(Compression::Zip, 1, timestamp())
        .pack("000044.xml".into(), b"<last/>")
        .unwrap();
    w.add(&small).unwrap();
    w.finish().unwrap().flush().unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nl=z.infolist()\n\
             print(len(l), l[-1].header_offset > 2**32, z.read(l[-1]).decode())",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "45 True <last/>"
    );
}
