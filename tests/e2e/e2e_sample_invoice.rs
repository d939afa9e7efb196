//! The FA (3) invoice the demo and the end-to-end tests generate is valid against the official
//! XSD (xmllint, offline through an XML catalog, as `../shared/ksef-schemas/README.md` describes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn sample_fa3_invoice_validates_against_the_official_xsd() {
    let fa = ksef_tests::shared_dir()
        .join("ksef-schemas")
        .join("faktury")
        .join("schemy")
        .join("FA");
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.xml");
    let base = format!("file://{}/bazowe/", fa.display());
    let remote = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/";
    std::fs::write(
        &catalog,
        format!(
            "<?xml version=\"1.0\"?>\n<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">\n\
             <rewriteSystem systemIdStartString=\"{remote}\" rewritePrefix=\"{base}\"/>\n\
             <rewriteURI uriStartString=\"{remote}\" rewritePrefix=\"{base}\"/>\n</catalog>\n"
        ),
    )
    .unwrap();
    let samples = [
        ksef_flows::sample::SampleInvoice::new("5265877635", "FV/1/2026").to_xml(),
        ksef_flows::sample::SampleInvoice::new("1234563218", "FV/2/2026 & <co>")
            .net(123_456_789)
            .item("Usługa \"specjalna\" & inne")
            .to_xml(),
    ];
    for (i, xml) in samples.iter().enumerate() {
        let file = dir.path().join(format!("inv{i}.xml"));
        std::fs::write(&file, xml).unwrap();
        let out = Command::new("xmllint")
            .env("XML_CATALOG_FILES", &catalog)
            .args(["--nonet", "--noout", "--schema"])
            .arg(fa.join("schemat_FA(3)_v1-0E.xsd"))
            .arg(&file)
            .output()
            .expect("xmllint (Debian libxml2-utils) must be installed");
        assert!(
            out.status.success(),
            "sample {i} does not validate:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(xml)
        );
    }
    // the oracle can fail: a document without the mandatory P_2 is rejected
    let broken = String::from_utf8(samples[0].clone())
        .unwrap()
        .replace("<P_2>FV/1/2026</P_2>", "");
    let file = dir.path().join("broken.xml");
    std::fs::write(&file, broken).unwrap();
    let out = Command::new("xmllint")
        .env("XML_CATALOG_FILES", &catalog)
        .args(["--nonet", "--noout", "--schema"])
        .arg(fa.join("schemat_FA(3)_v1-0E.xsd"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
