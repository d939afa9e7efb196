//! Oracles for the invoice tests: `xmllint --schema` with the official XSDs (offline, through an
//! XML catalog that maps the base schemas' URL to the local `bazowe/` folder) and `xmllint --c14n`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The official schema folder (`KSEF_SCHEMAS_DIR`, which `.cargo/config.toml` sets).
pub fn schemas_dir() -> PathBuf {
    let dir = std::env::var("KSEF_SCHEMAS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/ksef-schemas"));
    if dir.is_absolute() {
        dir
    } else {
        root().join(dir)
    }
}

/// The sample invoices (`../shared/ksef-samples`).
pub fn samples_dir() -> PathBuf {
    root().join("../shared/ksef-samples")
}

/// Which schema to validate against.
#[derive(Clone, Copy, Debug)]
pub enum Schema {
    Fa3,
    FaRr,
}

fn catalog(dir: &Path) -> PathBuf {
    let base = schemas_dir().join("faktury/schemy/FA/bazowe");
    let url = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/";
    let path = dir.join("catalog.xml");
    std::fs::write(
        &path,
        format!(
            "<?xml version=\"1.0\"?>\n<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">\n\
             <rewriteSystem systemIdStartString=\"{url}\" rewritePrefix=\"file://{b}/\"/>\n\
             <rewriteURI uriStartString=\"{url}\" rewritePrefix=\"file://{b}/\"/>\n</catalog>\n",
            b = base.display()
        ),
    )
    .unwrap();
    path
}

/// Validates documents with `xmllint --schema`; returns xmllint's complaint for the first
/// document it rejects.
pub fn xmllint_validate(schema: Schema, docs: &[Vec<u8>]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let xsd = schemas_dir().join(match schema {
        Schema::Fa3 => "faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd",
        Schema::FaRr => "faktury/schemy/RR/schemat_FA_RR(1)_v1-1E.xsd",
    });
    let catalog = catalog(dir.path());
    let mut files = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let f = dir.path().join(format!("doc{i}.xml"));
        std::fs::write(&f, doc).unwrap();
        files.push(f);
    }
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", &catalog)
        .args(["--nonet", "--noout", "--schema"])
        .arg(&xsd)
        .args(&files)
        .output()
        .expect("xmllint (libxml2-utils) must be installed: .ci/install-oracles installs it");
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let first_bad = files
            .iter()
            .position(|f| stderr.contains(&format!("{} fails", f.display())))
            .map(|i| String::from_utf8_lossy(&docs[i]).into_owned())
            .unwrap_or_default();
        Err(format!("{stderr}\n--- document:\n{first_bad}"))
    }
}

/// The document canonicalised by `xmllint --c14n`, reduced to its values: one entry per element
/// start (name and attributes other than namespace declarations), per non-blank text (trimmed,
/// as the schema's whitespace rules read it) and per element end.
pub fn c14n_values(doc: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("doc.xml");
    std::fs::write(&f, doc).unwrap();
    let out = Command::new("xmllint")
        .arg("--c14n")
        .arg(&f)
        .output()
        .expect("xmllint must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut values = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) => {
                let mut attrs: Vec<String> = e
                    .attributes()
                    .map(|a| a.unwrap())
                    .filter(|a| !a.key.as_ref().starts_with(b"xmlns"))
                    .map(|a| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(a.key.as_ref()),
                            String::from_utf8_lossy(&a.value)
                        )
                    })
                    .collect();
                attrs.sort();
                values.push(format!(
                    "<{} {}",
                    String::from_utf8_lossy(e.name().as_ref()),
                    attrs.join(" ")
                ));
            }
            quick_xml::events::Event::Text(t) => {
                let t = String::from_utf8_lossy(t.as_ref()).into_owned();
                let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                if !t.is_empty() {
                    // xs:decimal compares by value (`7.0` is `7`).
                    let t = if t.contains('.') {
                        t.parse::<ksef_invoice::Decimal>()
                            .map(|d| d.canonical())
                            .unwrap_or(t)
                    } else {
                        t
                    };
                    values.push(t);
                }
            }
            quick_xml::events::Event::GeneralRef(r) => {
                values.push(format!("&{};", String::from_utf8_lossy(r.as_ref())));
            }
            quick_xml::events::Event::End(e) => {
                values.push(format!("</{}", String::from_utf8_lossy(e.name().as_ref())));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    values
}
