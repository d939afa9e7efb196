//! UPO (Urzędowe Poświadczenie Odbioru, official receipt) generation, schema
//! `http://upo.schematy.mf.gov.pl/KSeF/v4-3` (`upo-v4-3.xsd`).
//!
//! Unlike the TEST environment, the simulator writes the receiving entity name
//! exactly as the XSD fixes it (`Ministerstwo Finansów`), so its UPOs validate
//! fully against the official schema.

use chrono::{DateTime, NaiveDate, Utc};
use ksef_time::format_utc_millis;

use super::form::FormKind;

/// Most `Dokument` entries one UPO page carries (XSD `maxOccurs`).
pub(crate) const MAX_DOCUMENTS_PER_PAGE: usize = 10_000;

/// The authentication context identifier (`IdKontekstu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContextId {
    /// `Nip`.
    Nip(String),
    /// `IdWewnetrzny` (`NIP-ddddd`).
    InternalId(String),
    /// `IdZlozonyVatUE` (`NIP-VATUE`).
    NipVatUe(String),
    /// `IdDostawcyUslugPeppol`.
    PeppolId(String),
}

/// How the session's owner authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthProof {
    /// Reference number of the KSeF token used.
    KsefToken(String),
    /// Base64 SHA-256 of the signed authentication document.
    SignedDocument(String),
}

/// Session-level data common to every UPO of a session.
#[derive(Debug, Clone)]
pub(crate) struct UpoHeader {
    /// Session reference number.
    pub(crate) session_reference: String,
    /// Context of the session.
    pub(crate) context: ContextId,
    /// Authentication proof.
    pub(crate) auth: AuthProof,
    /// Form of the session.
    pub(crate) form: FormKind,
}

/// One accepted invoice as listed in a UPO.
#[derive(Debug, Clone)]
pub(crate) struct UpoDocument {
    /// Seller NIP (Podmiot1).
    pub(crate) seller_nip: String,
    /// Assigned KSeF number.
    pub(crate) ksef_number: String,
    /// Invoice number (P_2).
    pub(crate) invoice_number: String,
    /// Issue date (P_1).
    pub(crate) issue_date: NaiveDate,
    /// When the document was received.
    pub(crate) received_at: DateTime<Utc>,
    /// When the KSeF number was assigned.
    pub(crate) numbered_at: DateTime<Utc>,
    /// Base64 SHA-256 of the invoice bytes.
    pub(crate) invoice_hash: String,
    /// Sent in offline mode.
    pub(crate) offline: bool,
}

/// Page description of a session UPO (`OpisPotwierdzenia`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpoPage {
    /// 1-based page number.
    pub(crate) page: usize,
    /// Number of pages.
    pub(crate) pages: usize,
    /// 1-based index of the first document on this page.
    pub(crate) first: usize,
    /// 1-based index of the last document on this page.
    pub(crate) last: usize,
    /// Number of documents on all pages.
    pub(crate) total: usize,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders a UPO: one document (invoice UPO, `page = None`) or a page of a
/// session UPO.
pub(crate) fn render(header: &UpoHeader, page: Option<UpoPage>, docs: &[&UpoDocument]) -> String {
    let mut x = String::with_capacity(1024 + docs.len() * 700);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(
        "<Potwierdzenie xmlns=\"http://upo.schematy.mf.gov.pl/KSeF/v4-3\" wersjaSchemy=\"4-3\">\n",
    );
    x.push_str(
        "\t<NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>\n",
    );
    x.push_str(&format!(
        "\t<NumerReferencyjnySesji>{}</NumerReferencyjnySesji>\n",
        escape(&header.session_reference)
    ));
    x.push_str("\t<Uwierzytelnienie>\n\t\t<IdKontekstu>\n");
    let (tag, value) = match &header.context {
        ContextId::Nip(v) => ("Nip", v),
        ContextId::InternalId(v) => ("IdWewnetrzny", v),
        ContextId::NipVatUe(v) => ("IdZlozonyVatUE", v),
        ContextId::PeppolId(v) => ("IdDostawcyUslugPeppol", v),
    };
    x.push_str(&format!("\t\t\t<{tag}>{}</{tag}>\n", escape(value)));
    x.push_str("\t\t</IdKontekstu>\n");
    match &header.auth {
        AuthProof::KsefToken(r) => x.push_str(&format!(
            "\t\t<NumerReferencyjnyTokenaKSeF>{}</NumerReferencyjnyTokenaKSeF>\n",
            escape(r)
        )),
        AuthProof::SignedDocument(h) => x.push_str(&format!(
            "\t\t<SkrotDokumentuUwierzytelniajacego>{}</SkrotDokumentuUwierzytelniajacego>\n",
            escape(h)
        )),
    }
    x.push_str("\t</Uwierzytelnienie>\n");
    if let Some(p) = page {
        x.push_str(&format!(
            "\t<OpisPotwierdzenia>\n\t\t<Strona>{}</Strona>\n\t\t<LiczbaStron>{}</LiczbaStron>\n\t\t<ZakresDokumentowOd>{}</ZakresDokumentowOd>\n\t\t<ZakresDokumentowDo>{}</ZakresDokumentowDo>\n\t\t<CalkowitaLiczbaDokumentow>{}</CalkowitaLiczbaDokumentow>\n\t</OpisPotwierdzenia>\n",
            p.page, p.pages, p.first, p.last, p.total
        ));
    }
    x.push_str(&format!(
        "\t<NazwaStrukturyLogicznej>{}</NazwaStrukturyLogicznej>\n\t<KodFormularza>{}</KodFormularza>\n",
        header.form.structure_name(),
        header.form.system_code()
    ));
    for d in docs {
        x.push_str(&format!(
            "\t<Dokument>\n\t\t<NipSprzedawcy>{}</NipSprzedawcy>\n\t\t<NumerKSeFDokumentu>{}</NumerKSeFDokumentu>\n\t\t<NumerFaktury>{}</NumerFaktury>\n\t\t<DataWystawieniaFaktury>{}</DataWystawieniaFaktury>\n\t\t<DataPrzeslaniaDokumentu>{}</DataPrzeslaniaDokumentu>\n\t\t<DataNadaniaNumeruKSeF>{}</DataNadaniaNumeruKSeF>\n\t\t<SkrotDokumentu>{}</SkrotDokumentu>\n\t\t<TrybWysylki>{}</TrybWysylki>\n\t</Dokument>\n",
            escape(&d.seller_nip),
            escape(&d.ksef_number),
            escape(&d.invoice_number),
            d.issue_date.format("%Y-%m-%d"),
            format_utc_millis(d.received_at),
            format_utc_millis(d.numbered_at),
            escape(&d.invoice_hash),
            if d.offline { "Offline" } else { "Online" },
        ));
    }
    x.push_str("</Potwierdzenie>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> UpoHeader {
        UpoHeader {
            session_reference: "20250625-SO-2C3E6C8000-B675CF5D68-07".into(),
            context: ContextId::Nip("5265877635".into()),
            auth: AuthProof::SignedDocument("kyqH+QUgP8ATWd/95IY632mP4uqibwG66Oqclq9+qno=".into()),
            form: FormKind::Fa3,
        }
    }

    fn doc(n: &str) -> UpoDocument {
        let t = DateTime::parse_from_rfc3339("2025-09-16T09:05:40.841Z")
            .unwrap()
            .with_timezone(&Utc);
        UpoDocument {
            seller_nip: "5265877635".into(),
            ksef_number: "5265877635-20250916-0200A0D6723E-C2".into(),
            invoice_number: n.into(),
            issue_date: NaiveDate::from_ymd_opt(2025, 9, 16).unwrap(),
            received_at: t,
            numbered_at: t,
            invoice_hash: "GZMGNVzs3krF6URKgvaw77OOeG3nJ+WGziT5xguliQ8=".into(),
            offline: false,
        }
    }

    #[test]
    fn renders_well_formed_invoice_upo() {
        let d = doc("FA/1 & <2>");
        let x = render(&header(), None, &[&d]);
        let parsed = roxmltree::Document::parse(&x).unwrap();
        let root = parsed.root_element();
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://upo.schematy.mf.gov.pl/KSeF/v4-3")
        );
        let num = parsed
            .descendants()
            .find(|n| n.has_tag_name(("http://upo.schematy.mf.gov.pl/KSeF/v4-3", "NumerFaktury")))
            .unwrap();
        assert_eq!(num.text(), Some("FA/1 & <2>"));
        assert!(!x.contains("OpisPotwierdzenia"));
        assert!(x.contains(
            "<NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>"
        ));
    }

    #[test]
    fn renders_session_page() {
        let a = doc("A");
        let mut b = doc("B");
        b.ksef_number = "5265877635-20250916-010040741B3E-46".into();
        let x = render(
            &UpoHeader {
                auth: AuthProof::KsefToken("20250514-EC-2DFC46C000-3AC6D5877F-D4".into()),
                ..header()
            },
            Some(UpoPage {
                page: 1,
                pages: 1,
                first: 1,
                last: 2,
                total: 2,
            }),
            &[&a, &b],
        );
        let parsed = roxmltree::Document::parse(&x).unwrap();
        assert_eq!(
            parsed
                .descendants()
                .filter(|n| n.has_tag_name("Dokument"))
                .count(),
            2
        );
        assert!(x.contains("<NumerReferencyjnyTokenaKSeF>"));
        assert!(x.contains("<CalkowitaLiczbaDokumentow>2</CalkowitaLiczbaDokumentow>"));
    }
}
