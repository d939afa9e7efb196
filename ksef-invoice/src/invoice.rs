//! [`Invoice`]: one FA (3) or FA_RR (1) document, read strictly and written schema-exactly.

#[cfg(feature = "fa-rr")]
use ksef_invoice_xsd::fa_rr;
use ksef_invoice_xsd::{Decimal, fa3};

use crate::{InvoiceError, xml};

/// Namespace of FA (3).
pub const FA3_NAMESPACE: &str = "http://crd.gov.pl/wzor/2025/06/25/13775/";
/// Namespace of FA_RR (1).
pub const FA_RR_NAMESPACE: &str = "http://crd.gov.pl/wzor/2026/03/06/14189/";

/// The invoice schemas this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FormCode {
    /// `FA (3)`, version `1-0E`: the VAT invoice.
    Fa3,
    /// `FA_RR (1)`, version `1-1E`: the VAT RR invoice (flat-rate farmers).
    FaRr,
}

impl FormCode {
    /// `kodSystemowy` as KSeF expects it (`FA (3)`).
    pub fn system_code(self) -> &'static str {
        match self {
            Self::Fa3 => "FA (3)",
            Self::FaRr => "FA_RR (1)",
        }
    }

    /// `wersjaSchemy` (`1-0E`).
    pub fn schema_version(self) -> &'static str {
        match self {
            Self::Fa3 => "1-0E",
            Self::FaRr => "1-1E",
        }
    }

    /// The form's XML namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Fa3 => FA3_NAMESPACE,
            Self::FaRr => FA_RR_NAMESPACE,
        }
    }
}

/// `RodzajFaktury` of an FA (3) invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvoiceKind {
    /// `VAT`: a basic invoice.
    Vat,
    /// `KOR`: a correction.
    Kor,
    /// `ZAL`: an advance invoice.
    Zal,
    /// `ROZ`: a settlement of advances.
    Roz,
    /// `UPR`: a simplified invoice.
    Upr,
    /// `KOR_ZAL`: a correction of an advance invoice.
    KorZal,
    /// `KOR_ROZ`: a correction of a settlement invoice.
    KorRoz,
}

impl InvoiceKind {
    /// The value written in `RodzajFaktury`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Vat => "VAT",
            Self::Kor => "KOR",
            Self::Zal => "ZAL",
            Self::Roz => "ROZ",
            Self::Upr => "UPR",
            Self::KorZal => "KOR_ZAL",
            Self::KorRoz => "KOR_ROZ",
        }
    }

    pub(crate) fn raw(self) -> fa3::tns::TRodzajFakturyType {
        use fa3::tns::TRodzajFakturyType as R;
        match self {
            Self::Vat => R::Vat,
            Self::Kor => R::Kor,
            Self::Zal => R::Zal,
            Self::Roz => R::Roz,
            Self::Upr => R::Upr,
            Self::KorZal => R::KorZal,
            Self::KorRoz => R::KorRoz,
        }
    }

    fn of_raw(raw: &fa3::tns::TRodzajFakturyType) -> Self {
        use fa3::tns::TRodzajFakturyType as R;
        match raw {
            R::Vat => Self::Vat,
            R::Kor => Self::Kor,
            R::Zal => Self::Zal,
            R::Roz => Self::Roz,
            R::Upr => Self::Upr,
            R::KorZal => Self::KorZal,
            R::KorRoz => Self::KorRoz,
        }
    }
}

#[derive(Debug)]
enum Document {
    Fa3(Box<fa3::tns::Faktura>),
    #[cfg(feature = "fa-rr")]
    FaRr(Box<fa_rr::tns::Faktura>),
}

/// One invoice: an FA (3) or FA_RR (1) document held in the schema-exact generated types.
///
/// Build FA (3) invoices with [`Invoice::vat`], [`Invoice::correction`], [`Invoice::advance`],
/// [`Invoice::settlement`] or [`Invoice::simplified`]; read any document with [`Invoice::parse`].
/// [`Invoice::to_xml`] writes the bytes to send (hash exactly these bytes).
#[derive(Debug)]
pub struct Invoice {
    doc: Document,
}

impl Invoice {
    /// Reads an FA (3) or FA_RR (1) document strictly: element order, choices, patterns, lengths,
    /// digit limits and enumerations are checked; an error names the XML path where reading
    /// stopped.
    pub fn parse(bytes: &[u8]) -> Result<Self, InvoiceError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            InvoiceError::UnsupportedForm(format!("the document is not UTF-8: {e}"))
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match root_namespace(text)?.as_str() {
            FA3_NAMESPACE => Ok(Self {
                doc: Document::Fa3(Box::new(xml::read::<fa3::tns::Faktura>(text)?)),
            }),
            #[cfg(feature = "fa-rr")]
            FA_RR_NAMESPACE => Ok(Self {
                doc: Document::FaRr(Box::new(xml::read::<fa_rr::tns::Faktura>(text)?)),
            }),
            #[cfg(not(feature = "fa-rr"))]
            FA_RR_NAMESPACE => Err(InvoiceError::UnsupportedForm(
                "FA_RR (1): enable the `fa-rr` feature of ksef-invoice (or ksef-flows)".into(),
            )),
            other => Err(InvoiceError::UnsupportedForm(format!(
                "root namespace `{other}` (expected {FA3_NAMESPACE} or {FA_RR_NAMESPACE})"
            ))),
        }
    }

    /// Wraps a generated FA (3) document (for fields the model does not cover); validate it with
    /// [`Invoice::validate`].
    pub fn from_fa3(doc: fa3::tns::Faktura) -> Self {
        Self {
            doc: Document::Fa3(Box::new(doc)),
        }
    }

    /// Wraps a generated FA_RR (1) document.
    #[cfg(feature = "fa-rr")]
    pub fn from_fa_rr(doc: fa_rr::tns::Faktura) -> Self {
        Self {
            doc: Document::FaRr(Box::new(doc)),
        }
    }

    /// The document as UTF-8 XML with an XML declaration, the form's namespace as the default
    /// namespace on the root. These are the bytes to send and to hash.
    pub fn to_xml(&self) -> Result<Vec<u8>, InvoiceError> {
        match &self.doc {
            Document::Fa3(d) => xml::write(d.as_ref()),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => xml::write(d.as_ref()),
        }
    }

    /// Checks the whole document against the schema: writes it and reads it back strictly, so a
    /// value set through [`Invoice::fa3_mut`] that breaks a pattern or digit limit is found,
    /// with its XML path.
    pub fn validate(&self) -> Result<(), InvoiceError> {
        let bytes = self.to_xml()?;
        Self::parse(&bytes).map(|_| ())
    }

    /// Which schema the document follows.
    pub fn form_code(&self) -> FormCode {
        match &self.doc {
            Document::Fa3(_) => FormCode::Fa3,
            #[cfg(feature = "fa-rr")]
            Document::FaRr(_) => FormCode::FaRr,
        }
    }

    /// The invoice number (`P_2` in FA (3), `P_4C` in FA_RR).
    pub fn number(&self) -> &str {
        match &self.doc {
            Document::Fa3(d) => &d.fa.p2.0,
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => &d.faktura_rr.p4c.0,
        }
    }

    /// The issue date as written (`P_1` in FA (3), `P_4B` in FA_RR), `YYYY-MM-DD`.
    pub fn issue_date(&self) -> &str {
        match &self.doc {
            Document::Fa3(d) => &d.fa.p1.0,
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => &d.faktura_rr.p4b.0,
        }
    }

    /// NIP of `Podmiot1`: the seller of an FA (3) invoice, the buyer who issues an FA_RR invoice.
    /// KSeF requires it to match the session's context.
    pub fn issuer_nip(&self) -> &str {
        match &self.doc {
            Document::Fa3(d) => &d.podmiot_1.dane_identyfikacyjne.nip.0,
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => &d.podmiot_1.dane_identyfikacyjne.nip.0,
        }
    }

    /// `RodzajFaktury` of an FA (3) invoice (`None` for FA_RR, whose kinds are `VAT_RR`/`KOR_VAT_RR`).
    pub fn kind(&self) -> Option<InvoiceKind> {
        match &self.doc {
            Document::Fa3(d) => Some(InvoiceKind::of_raw(&d.fa.rodzaj_faktury)),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(_) => None,
        }
    }

    /// The amount due (`P_15` of FA (3)).
    pub fn total(&self) -> Option<&Decimal> {
        match &self.doc {
            Document::Fa3(d) => Some(&d.fa.p15.0),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(_) => None,
        }
    }

    /// Number of invoice lines (`FaWiersz` / `FakturaRRWiersz`).
    pub fn line_count(&self) -> usize {
        match &self.doc {
            Document::Fa3(d) => d.fa.fa_wiersz.len(),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => d.faktura_rr.faktura_rr_wiersz.len(),
        }
    }

    /// The generated FA (3) document, for every field of the schema. Its names come from the
    /// generator (`p1361` for `P_13_6_1`) and may change with a schema version.
    pub fn fa3(&self) -> Option<&fa3::tns::Faktura> {
        match &self.doc {
            Document::Fa3(d) => Some(d),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(_) => None,
        }
    }

    /// Mutable access to the generated FA (3) document; call [`Invoice::validate`] afterwards.
    pub fn fa3_mut(&mut self) -> Option<&mut fa3::tns::Faktura> {
        match &mut self.doc {
            Document::Fa3(d) => Some(d),
            #[cfg(feature = "fa-rr")]
            Document::FaRr(_) => None,
        }
    }

    /// The generated FA_RR (1) document.
    #[cfg(feature = "fa-rr")]
    pub fn fa_rr(&self) -> Option<&fa_rr::tns::Faktura> {
        match &self.doc {
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => Some(d),
            Document::Fa3(_) => None,
        }
    }

    /// Mutable access to the generated FA_RR (1) document; call [`Invoice::validate`] afterwards.
    #[cfg(feature = "fa-rr")]
    pub fn fa_rr_mut(&mut self) -> Option<&mut fa_rr::tns::Faktura> {
        match &mut self.doc {
            #[cfg(feature = "fa-rr")]
            Document::FaRr(d) => Some(d),
            Document::Fa3(_) => None,
        }
    }
}

/// The namespace of the root element.
fn root_namespace(text: &str) -> Result<String, InvoiceError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(text);
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(_) | Event::Empty(_))) => {
                return match ns {
                    quick_xml::name::ResolveResult::Bound(n) => {
                        Ok(String::from_utf8_lossy(n.as_ref()).into_owned())
                    }
                    _ => Err(InvoiceError::UnsupportedForm(
                        "the root element has no namespace".into(),
                    )),
                };
            }
            Ok((_, Event::Eof)) => {
                return Err(InvoiceError::UnsupportedForm(
                    "the document is empty".into(),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(InvoiceError::Parse {
                    path: String::new(),
                    message: format!("not well-formed XML: {e}"),
                    position: Some(reader.buffer_position()),
                });
            }
        }
    }
}
