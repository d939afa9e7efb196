//! UPO (urzędowe poświadczenie odbioru, the official receipt): download with `x-ms-meta-hash`
//! verification and a typed parse of the v4-3 document.

use bytes::Bytes;
use futures::StreamExt as _;
use ksef_api::{ByteStream, KsefHeaders as _, ResponseValue};

use crate::error::{FlowError, Result};

/// One `Dokument` entry of a UPO: an invoice KSeF accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpoDocument {
    /// `NipSprzedawcy`.
    pub seller_nip: String,
    /// `NumerKSeFDokumentu`.
    pub ksef_number: String,
    /// `NumerFaktury`.
    pub invoice_number: String,
    /// `DataWystawieniaFaktury`.
    pub issue_date: String,
    /// `DataPrzeslaniaDokumentu`.
    pub sent_at: String,
    /// `DataNadaniaNumeruKSeF`.
    pub ksef_number_assigned_at: String,
    /// `SkrotDokumentu`: Base64 SHA-256 of the invoice.
    pub invoice_hash: String,
    /// `TrybWysylki` (`Online`, `Offline`).
    pub sending_mode: Option<String>,
}

/// A parsed UPO with the exact bytes KSeF sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upo {
    /// The document as received (its SHA-256 matched `x-ms-meta-hash`).
    pub raw: Bytes,
    /// `NazwaPodmiotuPrzyjmujacego`.
    pub receiving_entity: String,
    /// `NumerReferencyjnySesji`.
    pub session_reference_number: String,
    /// `OpisPotwierdzenia/Strona` and `LiczbaStron` (page, pages), when present.
    pub page: Option<(u32, u32)>,
    /// `OpisPotwierdzenia/CalkowitaLiczbaDokumentow`, when present.
    pub total_documents: Option<u64>,
    /// `NazwaStrukturyLogicznej`.
    pub logical_structure: Option<String>,
    /// `KodFormularza`.
    pub form_code: Option<String>,
    /// The accepted invoices.
    pub documents: Vec<UpoDocument>,
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text(n: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

impl Upo {
    /// Parses a UPO document (namespace-agnostic on element names).
    pub fn parse(raw: Bytes) -> Result<Self> {
        let s = std::str::from_utf8(&raw).map_err(|e| FlowError::ParseUpo(e.to_string()))?;
        let doc = roxmltree::Document::parse(s).map_err(|e| FlowError::ParseUpo(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().name() != "Potwierdzenie" {
            return Err(FlowError::ParseUpo(format!(
                "root element is {}, expected Potwierdzenie",
                root.tag_name().name()
            )));
        }
        let need = |name: &'static str| {
            text(root, name).ok_or_else(|| FlowError::ParseUpo(format!("{name} is missing")))
        };
        let receiving_entity = need("NazwaPodmiotuPrzyjmujacego")?;
        let session_reference_number = need("NumerReferencyjnySesji")?;
        let desc = child(root, "OpisPotwierdzenia");
        let page = desc.and_then(|d| {
            Some((
                text(d, "Strona")?.parse().ok()?,
                text(d, "LiczbaStron")?.parse().ok()?,
            ))
        });
        let total_documents = desc.and_then(|d| text(d, "CalkowitaLiczbaDokumentow")?.parse().ok());
        let mut documents = Vec::new();
        for d in root
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "Dokument")
        {
            let need = |name: &'static str| {
                text(d, name)
                    .ok_or_else(|| FlowError::ParseUpo(format!("Dokument/{name} is missing")))
            };
            documents.push(UpoDocument {
                seller_nip: need("NipSprzedawcy")?,
                ksef_number: need("NumerKSeFDokumentu")?,
                invoice_number: need("NumerFaktury")?,
                issue_date: need("DataWystawieniaFaktury")?,
                sent_at: need("DataPrzeslaniaDokumentu")?,
                ksef_number_assigned_at: need("DataNadaniaNumeruKSeF")?,
                invoice_hash: need("SkrotDokumentu")?,
                sending_mode: text(d, "TrybWysylki"),
            });
        }
        Ok(Self {
            receiving_entity,
            session_reference_number,
            page,
            total_documents,
            logical_structure: text(root, "NazwaStrukturyLogicznej"),
            form_code: text(root, "KodFormularza"),
            documents,
            raw,
        })
    }
}

/// Most bytes accepted for one UPO document. A session UPO page lists at most 10 000 invoices
/// of well under 1 KB each; anything far larger is not a UPO.
pub const MAX_UPO_SIZE: u64 = 32 * 1024 * 1024;

/// Reads a streamed body completely, at most `limit` bytes and within `timeout`, and checks it
/// against `x-ms-meta-hash`. A body announced or found larger than `limit` is refused without
/// reading the rest.
pub(crate) async fn read_verified(
    what: &'static str,
    response: ResponseValue<ByteStream>,
    limit: u64,
    timeout: std::time::Duration,
) -> std::result::Result<Bytes, ReadError> {
    let too_large = || ReadError::Flow(FlowError::ResponseTooLarge { what, limit });
    let expected = response.meta_hash().map(str::to_string);
    let announced = response
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut stream = response.into_inner().into_inner();
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(ReadError::Transport)?;
            if (buf.len() as u64).saturating_add(chunk.len() as u64) > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    let buf = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ReadError::TimedOut(timeout))??;
    verify_meta_hash(what, expected.as_deref(), &buf).map_err(ReadError::Flow)?;
    Ok(Bytes::from(buf))
}

/// Checks a body against its `x-ms-meta-hash` (Base64 SHA-256); a missing header is an error.
pub fn verify_meta_hash(what: &'static str, header: Option<&str>, body: &[u8]) -> Result<()> {
    let actual = ksef_crypto::b64::sha256_b64(body);
    if header.map(str::trim) != Some(actual.as_str()) {
        return Err(FlowError::HashMismatch {
            what,
            expected: header.map(str::to_string),
            actual,
        });
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) enum ReadError {
    Transport(reqwest::Error),
    TimedOut(std::time::Duration),
    /// The body was refused (too large, hash mismatch).
    Flow(FlowError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_hash_is_checked() {
        let body = b"<Potwierdzenie/>";
        // independent oracle: `printf '<Potwierdzenie/>' | openssl dgst -sha256 -binary | base64`
        let good = "lJgfkP2gOlAQj3sCtDsi+0zy7SPhj+A4aO6hJ+vzMqw=";
        assert_eq!(ksef_crypto::b64::sha256_b64(body), good);
        verify_meta_hash("UPO", Some(good), body).unwrap();
        let bad = verify_meta_hash("UPO", Some("AAAA"), body).unwrap_err();
        assert!(matches!(
            bad,
            FlowError::HashMismatch {
                expected: Some(_),
                ..
            }
        ));
        assert!(matches!(
            verify_meta_hash("UPO", None, body),
            Err(FlowError::HashMismatch { expected: None, .. })
        ));
    }

    #[test]
    fn parses_documents_and_rejects_other_roots() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">
  <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>
  <NumerReferencyjnySesji>20250626-SO-2F14610000-242991F8C9-B4</NumerReferencyjnySesji>
  <OpisPotwierdzenia><Strona>1</Strona><LiczbaStron>1</LiczbaStron><ZakresDokumentowOd>1</ZakresDokumentowOd><ZakresDokumentowDo>1</ZakresDokumentowDo><CalkowitaLiczbaDokumentow>1</CalkowitaLiczbaDokumentow></OpisPotwierdzenia>
  <NazwaStrukturyLogicznej>schemat.xsd</NazwaStrukturyLogicznej>
  <KodFormularza>FA (3)</KodFormularza>
  <Dokument>
    <NipSprzedawcy>5265877635</NipSprzedawcy>
    <NumerKSeFDokumentu>5265877635-20250626-010080DD2B5E-26</NumerKSeFDokumentu>
    <NumerFaktury>FA/1</NumerFaktury>
    <DataWystawieniaFaktury>2025-06-26</DataWystawieniaFaktury>
    <DataPrzeslaniaDokumentu>2025-06-26T10:00:00Z</DataPrzeslaniaDokumentu>
    <DataNadaniaNumeruKSeF>2025-06-26T10:00:01Z</DataNadaniaNumeruKSeF>
    <SkrotDokumentu>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</SkrotDokumentu>
    <TrybWysylki>Online</TrybWysylki>
  </Dokument>
</Potwierdzenie>"#;
        let upo = Upo::parse(Bytes::from(xml)).unwrap();
        assert_eq!(upo.page, Some((1, 1)));
        assert_eq!(upo.total_documents, Some(1));
        assert_eq!(upo.documents.len(), 1);
        assert_eq!(
            upo.documents[0].ksef_number,
            "5265877635-20250626-010080DD2B5E-26"
        );
        assert_eq!(upo.documents[0].sending_mode.as_deref(), Some("Online"));
        assert!(Upo::parse(Bytes::from("<Other/>")).is_err());
        assert!(Upo::parse(Bytes::from("<Potwierdzenie/>")).is_err());
    }
}
