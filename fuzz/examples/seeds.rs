//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`, every seed made by
//! this workspace's own code (sample invoices, XAdES signatures, archives, UPOs and error bodies
//! shaped like KSeF's). Run again after changing a target's input format:
//!
//! ```text
//! cargo run -p ksef-fuzz --example seeds
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ksef_crypto::ids::{CertificateSerial, ReferenceKind};
use ksef_crypto::xades::{AuthNamespace, ContextIdentifier, SubjectIdentifierType};
use ksef_crypto::{
    AuthTokenRequest, InternalId, KeyAlgorithm, KsefNumber, Nip, Pesel, ReferenceNumber,
    SigningIdentity,
};
use ksef_flows::sample::SampleInvoice;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let at = ksef_fuzz::seed_instant();
    let nip = Nip::parse("5265877635").unwrap();

    // sim_xades: signed requests as the client sends them, and variants around them
    let challenge = "20260115-CR-0123456789-ABCDEF0123-4F";
    let ec = SigningIdentity::self_signed_personal_at(&nip, KeyAlgorithm::EcdsaP256, at).unwrap();
    let rsa = SigningIdentity::self_signed_personal_at(&nip, KeyAlgorithm::Rsa2048, at).unwrap();
    let request = || AuthTokenRequest::new(challenge, ContextIdentifier::Nip(nip.clone())).unwrap();
    let signed_ec = request().sign_xades_at(&ec, at).unwrap();
    let mut xades = vec![
        ("enveloped-ecdsa.xml", signed_ec.clone().into_bytes()),
        (
            "enveloped-rsa.xml",
            request().sign_xades_at(&rsa, at).unwrap().into_bytes(),
        ),
        (
            "namespace-2-1-fingerprint.xml",
            request()
                .namespace(AuthNamespace::V2_1)
                .subject_identifier_type(SubjectIdentifierType::CertificateFingerprint)
                .sign_xades_at(&ec, at)
                .unwrap()
                .into_bytes(),
        ),
        (
            "allowed-ips.xml",
            request()
                .allow_ip4_address("192.0.2.1")
                .unwrap()
                .allow_ip4_range("192.0.2.10-192.0.2.20")
                .unwrap()
                .allow_ip4_mask("198.51.100.0/24")
                .unwrap()
                .sign_xades_at(&ec, at)
                .unwrap()
                .into_bytes(),
        ),
        (
            "internal-id-context.xml",
            AuthTokenRequest::new(
                challenge,
                ContextIdentifier::InternalId(InternalId::from_nip(&nip, 7).unwrap()),
            )
            .unwrap()
            .sign_xades_at(&ec, at)
            .unwrap()
            .into_bytes(),
        ),
    ];
    // the signed document with its signature cut off: the request checks without a signature
    if let Some(i) = signed_ec.find("<ds:Signature") {
        let unsigned = format!("{}</AuthTokenRequest>", &signed_ec[..i]);
        xades.push(("unsigned.xml", unsigned.into_bytes()));
    }
    write(&root, "sim_xades", &xades);

    // invoice_preflight: sample invoices and small documents of every form
    let fa3 = SampleInvoice::new_at(nip.as_str(), "FV/2026/01/1", at).to_xml();
    let fa3_text = String::from_utf8(fa3.clone()).unwrap();
    let mut preflight = vec![
        ("fa3-sample.xml", fa3.clone()),
        (
            "fa3-two-items.xml",
            SampleInvoice::new_at(nip.as_str(), "FV/2026/01/2", at)
                .item("Druga pozycja")
                .net(123_456)
                .to_xml(),
        ),
        (
            "fa3-with-attachment.xml",
            fa3_text
                .replace(
                    "</Faktura>",
                    "<Zalacznik><BlokDanych/></Zalacznik></Faktura>",
                )
                .into_bytes(),
        ),
        (
            "fa2-sample.xml",
            fa3_text
                .replace(
                    "http://crd.gov.pl/wzor/2025/06/25/13775/",
                    "http://crd.gov.pl/wzor/2023/06/29/12648/",
                )
                .into_bytes(),
        ),
    ];
    preflight.push((
        "pef3-minimal.xml",
        br#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
  <cbc:ID>PEF/1</cbc:ID>
  <cbc:IssueDate>2026-01-15</cbc:IssueDate>
  <cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme><cbc:CompanyID>PL5265877635</cbc:CompanyID></cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>
</Invoice>"#
            .to_vec(),
    ));
    preflight.push((
        "fa-rr-minimal.xml",
        br#"<Faktura xmlns="http://crd.gov.pl/wzor/2026/03/06/14189/"><Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP></DaneIdentyfikacyjne></Podmiot1><FakturaRR><P_4B>2026-01-15</P_4B><P_4C>RR/1</P_4C><RodzajFaktury>VAT_RR</RodzajFaktury></FakturaRR></Faktura>"#
            .to_vec(),
    ));
    write(&root, "invoice_preflight", &preflight);

    // sim_batch_archive: a format byte, then a Zip (0) or TarGz (1) of invoices
    let invoices: Vec<(String, Vec<u8>)> = (1..=3)
        .map(|i| {
            let xml = SampleInvoice::new_at(nip.as_str(), &format!("FV/B/{i}"), at).to_xml();
            (format!("invoice-{i}.xml"), xml)
        })
        .collect();
    let with_format = |format: u8, archive: Vec<u8>| {
        let mut v = vec![format];
        v.extend(archive);
        v
    };
    let archives = vec![
        (
            "zip-three-invoices",
            with_format(0, zip_of(&invoices, true)),
        ),
        ("zip-stored", with_format(0, zip_of(&invoices[..1], false))),
        ("zip-empty", with_format(0, zip_of(&[], true))),
        (
            "tar-gz-three-invoices",
            with_format(1, tar_gz_of(&invoices)),
        ),
        ("tar-gz-empty", with_format(1, tar_gz_of(&[]))),
    ];
    write(&root, "sim_batch_archive", &archives);

    // upo_parse: UPOs of one and of several invoices, as KSeF's v4-3 documents look
    let numbers: Vec<KsefNumber> = (0..3u8)
        .map(|i| KsefNumber::generate(&nip, at.date_naive(), [1, 0, 0, 0x1A, 0xF6, i]).unwrap())
        .collect();
    let session = ReferenceNumber::generate(ReferenceKind::OnlineSession, at.date_naive());
    let upos = vec![
        (
            "one-invoice.xml",
            upo(session.as_str(), &numbers[..1]).into_bytes(),
        ),
        (
            "three-invoices.xml",
            upo(session.as_str(), &numbers).into_bytes(),
        ),
        ("no-invoice.xml", upo(session.as_str(), &[]).into_bytes()),
    ];
    write(&root, "upo_parse", &upos);

    // error_body: status byte (400 + n), content-type byte, Retry-After line, body
    let error = |status: u16, content_type: u8, retry_after: &str, body: &str| {
        let mut v = vec![u8::try_from(status - 400).unwrap(), content_type];
        v.extend_from_slice(retry_after.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(body.as_bytes());
        v
    };
    let errors = vec![
        (
            "problem-400.bin",
            error(
                400,
                0,
                "",
                r#"{"title":"Bad Request","status":400,"detail":"Błąd walidacji","errors":[{"code":21405,"description":"Błąd walidacji danych wejściowych.","details":["formCode"]}],"traceId":"0af7651916cd43dd8448eb211c80319c"}"#,
            ),
        ),
        (
            "problem-403.bin",
            error(
                403,
                0,
                "",
                r#"{"title":"Forbidden","status":403,"detail":"Brak uprawnień.","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceWrite"]}}"#,
            ),
        ),
        (
            "exception-400.bin",
            error(
                400,
                1,
                "",
                r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21470,"exceptionDescription":"Nieznany klucz publiczny.","details":null},{"exceptionCode":21001,"exceptionDescription":"Nieczytelna treść.","details":["x"]}],"serviceCode":"00-abc-01"}}"#,
            ),
        ),
        (
            "legacy-429.bin",
            error(
                429,
                1,
                "30",
                r#"{"status":{"code":429,"description":"Too Many Requests","details":["Przekroczono limit 10 żądań na sekundę."]}}"#,
            ),
        ),
        (
            "problem-429-http-date.bin",
            error(
                429,
                0,
                "Wed, 21 Oct 2015 07:28:00 GMT",
                r#"{"title":"Too Many Requests","status":429}"#,
            ),
        ),
        (
            "gateway-502.bin",
            error(
                502,
                2,
                "",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
        ),
        ("empty-503.bin", error(503, 3, "5", "")),
    ];
    write(&root, "error_body", &errors);

    // identifiers: one valid value of each kind, and the legacy 36-character KSeF number
    let k = numbers[0].as_str();
    let legacy = format!("{}-{}", &k[..26], &k[26..]);
    let ids = vec![
        ("nip", nip.to_string()),
        ("pesel", Pesel::parse("44051401359").unwrap().to_string()),
        (
            "internal-id",
            InternalId::from_nip(&nip, 1).unwrap().to_string(),
        ),
        ("nip-vat-ue", format!("{nip}-DE123456789")),
        ("peppol-id", "PAB123456".to_string()),
        (
            "certificate-serial",
            CertificateSerial::parse("0123456789ABCDEF")
                .unwrap()
                .to_string(),
        ),
        ("ksef-number", k.to_string()),
        ("ksef-number-legacy", legacy),
        ("reference-number", session.to_string()),
    ];
    let ids: Vec<(&str, Vec<u8>)> = ids.into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
    write(&root, "identifiers", &ids);
}

fn write(root: &Path, target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir: PathBuf = root.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    println!("{target}: {} seeds", seeds.len());
}

fn zip_of(files: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in files {
        w.start_file(name.as_str(), options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn tar_gz_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        t.append_data(&mut header, name, bytes.as_slice()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

fn upo(session: &str, numbers: &[KsefNumber]) -> String {
    let mut docs = String::new();
    for (i, n) in numbers.iter().enumerate() {
        let hash = ksef_crypto::b64::sha256_b64(n.as_str());
        docs.push_str(&format!(
            "  <Dokument>\n    <NipSprzedawcy>{}</NipSprzedawcy>\n    <NumerKSeFDokumentu>{n}</NumerKSeFDokumentu>\n    <NumerFaktury>FV/{i}</NumerFaktury>\n    <DataWystawieniaFaktury>2026-01-15</DataWystawieniaFaktury>\n    <DataPrzeslaniaDokumentu>2026-01-15T10:00:00Z</DataPrzeslaniaDokumentu>\n    <DataNadaniaNumeruKSeF>2026-01-15T10:00:01Z</DataNadaniaNumeruKSeF>\n    <SkrotDokumentu>{hash}</SkrotDokumentu>\n    <TrybWysylki>Online</TrybWysylki>\n  </Dokument>\n",
            n.nip()
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\">\n  <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>\n  <NumerReferencyjnySesji>{session}</NumerReferencyjnySesji>\n  <OpisPotwierdzenia><Strona>1</Strona><LiczbaStron>1</LiczbaStron><ZakresDokumentowOd>1</ZakresDokumentowOd><ZakresDokumentowDo>{count}</ZakresDokumentowDo><CalkowitaLiczbaDokumentow>{count}</CalkowitaLiczbaDokumentow></OpisPotwierdzenia>\n  <NazwaStrukturyLogicznej>schemat_upo_v4-3.xsd</NazwaStrukturyLogicznej>\n  <KodFormularza>FA (3)</KodFormularza>\n{docs}</Potwierdzenie>\n",
        count = numbers.len()
    )
}
