//! UPO (urzędowe poświadczenie odbioru, the official receipt): download with `x-ms-meta-hash`
//! verification and a typed parse of the v4-3 document.

use bytes::Bytes;
use futures::StreamExt as _;
use ksef_api::{ByteStream, KsefError, KsefHeaders as _, ResponseValue};

use crate::error::{FlowError, Result, boxed};

pub(crate) mod document;

pub use document::{Upo, UpoDocument};

/// Fields of one `Dokument` while it is read.
#[derive(Default)]
struct DocumentFields([Option<String>; 8]);

const DOCUMENT_FIELDS: [&str; 8] = [
    "NipSprzedawcy",
    "NumerKSeFDokumentu",
    "NumerFaktury",
    "DataWystawieniaFaktury",
    "DataPrzeslaniaDokumentu",
    "DataNadaniaNumeruKSeF",
    "SkrotDokumentu",
    "TrybWysylki",
];

impl DocumentFields {
    fn finish(self) -> Result<UpoDocument> {
        let [nip, number, invoice, issued, sent, assigned, hash, mode] = self.0;
        let need = |v: Option<String>, i: usize| {
            v.ok_or_else(|| {
                FlowError::ParseUpo(format!(
                    "Dokument/{} is missing",
                    DOCUMENT_FIELDS.get(i).copied().unwrap_or("?")
                ))
            })
        };
        Ok(UpoDocument {
            seller_nip: need(nip, 0)?,
            ksef_number: need(number, 1)?,
            invoice_number: need(invoice, 2)?,
            issue_date: need(issued, 3)?,
            sent_at: need(sent, 4)?,
            ksef_number_assigned_at: need(assigned, 5)?,
            invoice_hash: need(hash, 6)?,
            sending_mode: mode,
        })
    }
}

fn parse_error(e: impl std::fmt::Display) -> FlowError {
    FlowError::ParseUpo(e.to_string())
}

fn set_once(slot: &mut Option<String>, text: &str) {
    if slot.is_none() {
        *slot = Some(text.trim().to_string());
    }
}

impl Upo {
    /// Parses a UPO document (namespace-agnostic on element names). The document is read as a
    /// stream of events, without building a tree: a session UPO page lists up to 10 000
    /// invoices.
    pub fn parse(raw: Bytes) -> Result<Self> {
        use quick_xml::events::Event;
        let text = std::str::from_utf8(&raw).map_err(parse_error)?;
        let mut reader = quick_xml::Reader::from_str(text);
        // local names of the open elements
        let mut open: Vec<String> = Vec::new();
        let mut content = String::new();
        let mut root_seen = false;
        let (mut entity, mut session, mut structure, mut form) = (None, None, None, None);
        let (mut page_no, mut pages, mut total) = (None, None, None);
        let mut document: Option<DocumentFields> = None;
        let mut documents = Vec::new();
        loop {
            match reader.read_event().map_err(parse_error)? {
                Event::Start(e) | Event::Empty(e)
                    if !root_seen && e.local_name().as_ref() != b"Potwierdzenie" =>
                {
                    return Err(FlowError::ParseUpo(format!(
                        "root element is {}, expected Potwierdzenie",
                        String::from_utf8_lossy(e.local_name().as_ref())
                    )));
                }
                Event::Start(e) => {
                    root_seen = true;
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if open.len() == 1 && name == "Dokument" {
                        document = Some(DocumentFields::default());
                    }
                    open.push(name);
                    content.clear();
                }
                Event::Empty(e) => {
                    root_seen = true;
                    if open.len() == 1 && e.local_name().as_ref() == b"Dokument" {
                        documents.push(DocumentFields::default().finish()?);
                    }
                }
                Event::Text(t) => content.push_str(&t.decode().map_err(parse_error)?),
                Event::CData(c) => content.push_str(&c.decode().map_err(parse_error)?),
                Event::GeneralRef(r) => match r.resolve_char_ref().map_err(parse_error)? {
                    Some(c) => content.push(c),
                    None => {
                        let name = r.decode().map_err(parse_error)?;
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| parse_error(format!("unknown entity &{name};")))?;
                        content.push_str(resolved);
                    }
                },
                Event::End(_) => {
                    let name = open.pop().unwrap_or_default();
                    let parent = open.last().map(String::as_str);
                    match (open.len(), parent, name.as_str()) {
                        (1, _, "NazwaPodmiotuPrzyjmujacego") => set_once(&mut entity, &content),
                        (1, _, "NumerReferencyjnySesji") => set_once(&mut session, &content),
                        (1, _, "NazwaStrukturyLogicznej") => set_once(&mut structure, &content),
                        (1, _, "KodFormularza") => set_once(&mut form, &content),
                        (1, _, "Dokument") => {
                            if let Some(d) = document.take() {
                                documents.push(d.finish()?);
                            }
                        }
                        (2, Some("OpisPotwierdzenia"), "Strona") => {
                            set_once(&mut page_no, &content)
                        }
                        (2, Some("OpisPotwierdzenia"), "LiczbaStron") => {
                            set_once(&mut pages, &content)
                        }
                        (2, Some("OpisPotwierdzenia"), "CalkowitaLiczbaDokumentow") => {
                            set_once(&mut total, &content)
                        }
                        (2, Some("Dokument"), field) => {
                            if let (Some(d), Some(i)) = (
                                document.as_mut(),
                                DOCUMENT_FIELDS.iter().position(|f| *f == field),
                            ) && let Some(slot) = d.0.get_mut(i)
                            {
                                set_once(slot, &content);
                            }
                        }
                        _ => {}
                    }
                    content.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !root_seen {
            return Err(FlowError::ParseUpo("no root element".into()));
        }
        if let Some(name) = open.last() {
            return Err(FlowError::ParseUpo(format!(
                "the document ends inside <{name}>"
            )));
        }
        let need = |v: Option<String>, name: &str| {
            v.ok_or_else(|| FlowError::ParseUpo(format!("{name} is missing")))
        };
        let page = page_no
            .zip(pages)
            .and_then(|(p, n)| Some((p.parse().ok()?, n.parse().ok()?)));
        Ok(Self {
            receiving_entity: need(entity, "NazwaPodmiotuPrzyjmujacego")?,
            session_reference_number: need(session, "NumerReferencyjnySesji")?,
            page,
            total_documents: total.and_then(|t| t.parse().ok()),
            logical_structure: structure,
            form_code: form,
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
/// reading the rest ([`FlowError::ResponseTooLarge`]); a body that breaks off or does not come
/// in time is a failure of the call, which `call_failed` names.
pub(crate) async fn read_verified(
    what: &'static str,
    response: ResponseValue<ByteStream>,
    limit: u64,
    timeout: std::time::Duration,
    call_failed: impl FnOnce(Box<KsefError>) -> FlowError,
) -> Result<Bytes> {
    let too_large = || FlowError::ResponseTooLarge { what, limit };
    let expected = response.meta_hash().map(str::to_string);
    let announced = response
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    /// Why reading stopped early.
    enum Stop {
        /// The call failed (the body broke off or did not come in time).
        Call(KsefError),
        /// The body was refused.
        Refused(FlowError),
    }
    let mut stream = response.into_inner().into_inner();
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Stop::Call(KsefError::Transport(e)))?;
            if (buf.len() as u64).saturating_add(chunk.len() as u64) > limit {
                return Err(Stop::Refused(too_large()));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    let buf = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(buf)) => buf,
        Ok(Err(Stop::Refused(e))) => return Err(e),
        Ok(Err(Stop::Call(e))) => return Err(call_failed(boxed(e))),
        Err(_) => return Err(call_failed(boxed(KsefError::TimedOut { after: timeout }))),
    };
    verify_meta_hash(what, expected.as_deref(), &buf)?;
    Ok(Bytes::from(buf))
}

/// Reads and parses a UPO document (`what`: which one, for errors) from its download answer,
/// [`MAX_UPO_SIZE`] at most, within `timeout`, checked against `x-ms-meta-hash`.
pub(crate) async fn read_upo(
    what: &'static str,
    response: ResponseValue<ByteStream>,
    timeout: std::time::Duration,
) -> Result<Upo> {
    let body = read_verified(what, response, MAX_UPO_SIZE, timeout, |source| {
        FlowError::DownloadUpo { source }
    })
    .await?;
    Upo::parse(body)
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

        // references and CDATA are resolved; a Dokument without a required field is an error
        let escaped = xml
            .replace("FA/1", "FA&amp;1&#x2F;&lt;x&gt;")
            .replace("Ministerstwo Finansów", "<![CDATA[MF & co]]>");
        let upo = Upo::parse(Bytes::from(escaped)).unwrap();
        assert_eq!(upo.documents[0].invoice_number, "FA&1/<x>");
        assert_eq!(upo.receiving_entity, "MF & co");
        let broken = xml.replace(
            "<SkrotDokumentu>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</SkrotDokumentu>",
            "",
        );
        let e = Upo::parse(Bytes::from(broken)).unwrap_err();
        assert!(e.to_string().contains("Dokument/SkrotDokumentu"), "{e}");
        assert!(Upo::parse(Bytes::from(xml.replace("</Potwierdzenie>", ""))).is_err());
    }
}
