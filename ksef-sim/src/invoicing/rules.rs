//! Invoice rules applied to the raw (decrypted) invoice bytes, and extraction of the facts the simulator needs
//! (seller NIP, issue date, invoice number, invoice kind, amounts).
//!
//! This is an independent implementation of the rules: it works on the exact
//! bytes received and never re-encodes them.

use chrono::NaiveDate;
use roxmltree::{Node, NodeType};

use super::form::FormKind;
use super::form_schemas::SchemaError;

/// Maximum invoice size without attachments.
pub(crate) const MAX_INVOICE_SIZE: usize = 1_000_000;
/// Maximum invoice size with attachments.
pub(crate) const MAX_INVOICE_SIZE_WITH_ATTACHMENT: usize = 3_000_000;

/// Identifier of the buyer as reported in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuyerId {
    /// Polish NIP.
    Nip(String),
    /// EU VAT number (country code + number).
    VatUe(String),
    /// Other identifier.
    Other(String),
    /// No identifier.
    None,
}

/// Facts extracted from a valid invoice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InvoiceFacts {
    /// Seller NIP (Podmiot1).
    pub(crate) seller_nip: String,
    /// Seller name, if present.
    pub(crate) seller_name: Option<String>,
    /// Buyer identifier.
    pub(crate) buyer_id: BuyerId,
    /// Buyer name, if present.
    pub(crate) buyer_name: Option<String>,
    /// Issue date (P_1).
    pub(crate) issue_date: NaiveDate,
    /// Invoice number (P_2).
    pub(crate) invoice_number: String,
    /// Invoice kind as written (RodzajFaktury, or the UBL type code).
    pub(crate) kind_raw: String,
    /// Invoice kind as the API enum `InvoiceType`.
    pub(crate) invoice_type: &'static str,
    /// Currency code.
    pub(crate) currency: String,
    /// Net amount.
    pub(crate) net: f64,
    /// VAT amount.
    pub(crate) vat: f64,
    /// Gross amount.
    pub(crate) gross: f64,
    /// Whether the invoice carries an attachment (`Zalacznik`).
    pub(crate) has_attachment: bool,
    /// Third subjects (Podmiot3).
    pub(crate) third_subjects: Vec<ThirdSubject>,
    /// Authorised subject (PodmiotUpowazniony): NIP, name, role.
    pub(crate) authorized: Option<(String, Option<String>, i32)>,
}

/// A third subject (Podmiot3) of an invoice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThirdSubject {
    /// `ThirdSubjectIdentifierType`: Nip, InternalId, VatUe, Other, None.
    pub(crate) id_type: &'static str,
    /// Identifier value (absent for `None`).
    pub(crate) id_value: Option<String>,
    /// Name, if present.
    pub(crate) name: Option<String>,
    /// Role (`Rola`; 0 for `RolaInna`).
    pub(crate) role: i32,
}

fn third_subjects(root: Node<'_, '_>) -> Vec<ThirdSubject> {
    root.children()
        .filter(|n| n.is_element() && n.tag_name().name() == "Podmiot3")
        .map(|p| {
            let d = child(p, "DaneIdentyfikacyjne");
            let get = |name: &str| d.and_then(|d| text_at(d, &[name]));
            let (id_type, id_value) = if let Some(v) = get("NIP") {
                ("Nip", Some(v))
            } else if let Some(v) = get("IDWew") {
                ("InternalId", Some(v))
            } else if let Some(v) = get("NrVatUE") {
                (
                    "VatUe",
                    Some(format!("{}{v}", get("KodUE").unwrap_or_default())),
                )
            } else if let Some(v) = get("NrID") {
                ("Other", Some(v))
            } else {
                ("None", None)
            };
            let role = text_at(p, &["Rola"])
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            ThirdSubject {
                id_type,
                id_value,
                name: get("Nazwa"),
                role,
            }
        })
        .collect()
}

fn authorized_subject(root: Node<'_, '_>) -> Option<(String, Option<String>, i32)> {
    let p = child(root, "PodmiotUpowazniony")?;
    let nip = text_at(p, &["DaneIdentyfikacyjne", "NIP"])?;
    let name = text_at(p, &["DaneIdentyfikacyjne", "Nazwa"]);
    let role = text_at(p, &["RolaPU"])
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    Some((nip, name, role))
}

impl InvoiceFacts {
    /// The duplicate-detection key (Podmiot1 NIP, RodzajFaktury, P_2).
    pub(crate) fn duplicate_key(&self) -> (String, String, String) {
        (
            self.seller_nip.clone(),
            self.kind_raw.clone(),
            self.invoice_number.clone(),
        )
    }
}

/// A rule an invoice broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuleError {
    /// Larger than the allowed size.
    #[error("invoice size {size} B exceeds the limit of {limit} B")]
    TooLarge { size: usize, limit: usize },
    /// Starts with a byte-order mark.
    #[error("invoice starts with a byte-order mark (UTF-8 without BOM required)")]
    Bom,
    /// Not valid UTF-8.
    #[error("invoice is not valid UTF-8 (at byte {0})")]
    NotUtf8(usize),
    /// The prolog declares an encoding other than UTF-8.
    #[error("the XML declaration declares encoding '{0}', only UTF-8 is allowed")]
    PrologEncoding(String),
    /// Contains a processing instruction.
    #[error("processing instructions are not allowed ('{0}')")]
    ProcessingInstruction(String),
    /// Contains a discouraged code point.
    #[error("discouraged code point U+{0:04X}")]
    DiscouragedCodePoint(u32),
    /// Not well-formed XML.
    #[error("XML is not well-formed: {0}")]
    NotWellFormed(String),
    /// The root element does not match the session's form code.
    #[error("root element {{{found_ns}}}{found} does not match form code {form}")]
    WrongRoot {
        found_ns: String,
        found: String,
        form: &'static str,
    },
    /// `kodSystemowy` in the header does not match the session's form code.
    #[error(
        "KodFormularza kodSystemowy '{found}' does not match the session's form code '{expected}'"
    )]
    WrongFormCode {
        found: String,
        expected: &'static str,
    },
    /// A required element is missing or malformed.
    #[error("element {0} is missing or invalid")]
    MissingField(&'static str),
    /// The issue date lies after the date of acceptance.
    #[error("issue date {0} is after the date of acceptance")]
    IssueDateInFuture(NaiveDate),
    /// Attachments are not allowed here.
    #[error("invoices with attachments are not allowed in this session")]
    AttachmentNotAllowed,
    /// The invoice does not conform to the XSD of its form (libxml2's messages).
    #[error("Dokument nie jest zgodny ze schematem {schema}: {message}")]
    Schema {
        schema: &'static str,
        message: String,
    },
    /// The schema of the form could not be prepared.
    #[error("{0}")]
    SchemaUnavailable(String),
}

/// Whether [`check_invoice`] validates against the form's XSD: invoices sent in a session always
/// are; seeded fixtures (`SimControl::seed_invoices`) and the unit tests of the other rules are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemaCheck {
    /// Validate against the pinned XSD of the form.
    Validate,
    /// Only the structural rules.
    Skip,
}

impl RuleError {
    /// The per-invoice status code KSeF reports for this failure.
    pub(crate) fn status_code(&self) -> i32 {
        match self {
            RuleError::AttachmentNotAllowed => 415,
            RuleError::SchemaUnavailable(_) => 500,
            _ => 450,
        }
    }

    /// The per-invoice status description.
    pub(crate) fn status_description(&self) -> &'static str {
        match self {
            RuleError::AttachmentNotAllowed => "Brak możliwości wysyłania faktury z załącznikiem",
            RuleError::SchemaUnavailable(_) => "Nieznany błąd",
            _ => "Błąd weryfikacji semantyki dokumentu faktury",
        }
    }
}

fn is_discouraged(c: char) -> bool {
    let cp = u32::from(c);
    (0x7F..=0x84).contains(&cp)
        || (0x86..=0x9F).contains(&cp)
        || (0xFDD0..=0xFDEF).contains(&cp)
        || (cp >= 0x1_0000 && (cp & 0xFFFF == 0xFFFE || cp & 0xFFFF == 0xFFFF))
}

/// Checks the XML declaration, if any: it must declare UTF-8 (or nothing).
fn check_prolog(text: &str) -> Result<(), RuleError> {
    let Some(rest) = text.strip_prefix("<?xml") else {
        return Ok(());
    };
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        // `<?xml-stylesheet ...?>` and the like are processing instructions.
        return Err(RuleError::ProcessingInstruction(pi_target(text)));
    }
    let end = rest
        .find("?>")
        .ok_or_else(|| RuleError::NotWellFormed("unterminated XML declaration".into()))?;
    let decl = &rest[..end];
    if let Some(pos) = decl.find("encoding") {
        let after = decl[pos + "encoding".len()..].trim_start();
        let after = after
            .strip_prefix('=')
            .ok_or_else(|| RuleError::NotWellFormed("malformed encoding declaration".into()))?
            .trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or_else(|| RuleError::NotWellFormed("malformed encoding declaration".into()))?;
        let value = after[1..]
            .split(quote)
            .next()
            .ok_or_else(|| RuleError::NotWellFormed("malformed encoding declaration".into()))?;
        if !value.eq_ignore_ascii_case("utf-8") {
            return Err(RuleError::PrologEncoding(value.to_string()));
        }
    }
    Ok(())
}

fn pi_target(text: &str) -> String {
    text.trim_start_matches("<?")
        .split(|c: char| c.is_whitespace() || c == '?')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn path<'a, 'i>(node: Node<'a, 'i>, names: &[&str]) -> Option<Node<'a, 'i>> {
    names.iter().try_fold(node, |n, name| child(n, name))
}

fn text_at(node: Node<'_, '_>, names: &[&str]) -> Option<String> {
    path(node, names)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn number_at(node: Node<'_, '_>, names: &[&str]) -> f64 {
    text_at(node, names)
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn date_of(s: Option<String>, field: &'static str) -> Result<NaiveDate, RuleError> {
    s.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .ok_or(RuleError::MissingField(field))
}

fn nip_ok(nip: &str) -> bool {
    nip.len() == 10 && nip.bytes().all(|b| b.is_ascii_digit()) && !nip.starts_with('0')
}

fn invoice_type_of(kind: &str) -> &'static str {
    match kind {
        "ZAL" => "Zal",
        "KOR" => "Kor",
        "ROZ" => "Roz",
        "UPR" => "Upr",
        "KOR_ZAL" => "KorZal",
        "KOR_ROZ" => "KorRoz",
        "VAT_RR" => "VatRr",
        "KOR_VAT_RR" => "KorVatRr",
        _ => "Vat",
    }
}

/// Applies every invoice rule to `bytes` for a session of form `form`.
///
/// `attachments_allowed` is false in online sessions and for taxpayers
/// without the attachment option; `today` is the date of acceptance.
pub(crate) fn check_invoice(
    bytes: &[u8],
    form: FormKind,
    attachments_allowed: bool,
    today: NaiveDate,
    schema: SchemaCheck,
) -> Result<InvoiceFacts, RuleError> {
    if bytes.len() > MAX_INVOICE_SIZE_WITH_ATTACHMENT {
        return Err(RuleError::TooLarge {
            size: bytes.len(),
            limit: MAX_INVOICE_SIZE_WITH_ATTACHMENT,
        });
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(RuleError::Bom);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| RuleError::NotUtf8(e.valid_up_to()))?;
    if let Some(c) = text.chars().find(|c| is_discouraged(*c)) {
        return Err(RuleError::DiscouragedCodePoint(u32::from(c)));
    }
    check_prolog(text)?;
    let doc = crate::xml::limits::parse(text, &crate::xml::limits::XmlLimits::INVOICE)
        .map_err(|e| RuleError::NotWellFormed(e.to_string()))?;
    if let Some(pi) = doc.descendants().find(|n| n.node_type() == NodeType::PI) {
        let target = pi.pi().map(|p| p.target.to_string()).unwrap_or_default();
        return Err(RuleError::ProcessingInstruction(target));
    }
    let root = doc.root_element();
    let (namespaces, local) = form.expected_root();
    let ns = root.tag_name().namespace().unwrap_or_default();
    if root.tag_name().name() != local || !namespaces.contains(&ns) {
        return Err(RuleError::WrongRoot {
            found_ns: ns.to_string(),
            found: root.tag_name().name().to_string(),
            form: form.system_code(),
        });
    }
    if schema == SchemaCheck::Validate {
        super::form_schemas::validate(form, bytes).map_err(|e| match e {
            SchemaError::Invalid(message) => RuleError::Schema {
                schema: form.structure_name(),
                message,
            },
            unavailable @ SchemaError::Unavailable { .. } => {
                RuleError::SchemaUnavailable(unavailable.to_string())
            }
        })?;
    }
    let facts = match form {
        FormKind::Fa2 | FormKind::Fa3 | FormKind::FaRr1 => extract_fa(root, form)?,
        FormKind::Pef3 | FormKind::PefKor3 => extract_pef(root, form)?,
    };
    let limit = if facts.has_attachment {
        MAX_INVOICE_SIZE_WITH_ATTACHMENT
    } else {
        MAX_INVOICE_SIZE
    };
    if bytes.len() > limit {
        return Err(RuleError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    if facts.has_attachment && !attachments_allowed {
        return Err(RuleError::AttachmentNotAllowed);
    }
    if facts.issue_date > today {
        return Err(RuleError::IssueDateInFuture(facts.issue_date));
    }
    Ok(facts)
}

fn extract_fa(root: Node<'_, '_>, form: FormKind) -> Result<InvoiceFacts, RuleError> {
    if let Some(code) = path(root, &["Naglowek", "KodFormularza"]) {
        let found = code.attribute("kodSystemowy").unwrap_or_default();
        if found != form.system_code() {
            return Err(RuleError::WrongFormCode {
                found: found.to_string(),
                expected: form.system_code(),
            });
        }
    } else {
        return Err(RuleError::MissingField("Naglowek/KodFormularza"));
    }
    let seller_nip = text_at(root, &["Podmiot1", "DaneIdentyfikacyjne", "NIP"])
        .filter(|n| nip_ok(n))
        .ok_or(RuleError::MissingField("Podmiot1/DaneIdentyfikacyjne/NIP"))?;
    let seller_name = text_at(root, &["Podmiot1", "DaneIdentyfikacyjne", "Nazwa"]);
    let buyer = path(root, &["Podmiot2", "DaneIdentyfikacyjne"]);
    let buyer_id = match buyer {
        Some(b) => {
            if let Some(nip) = text_at(b, &["NIP"]) {
                BuyerId::Nip(nip)
            } else if let Some(vat) = text_at(b, &["NrVatUE"]) {
                BuyerId::VatUe(format!(
                    "{}{}",
                    text_at(b, &["KodUE"]).unwrap_or_default(),
                    vat
                ))
            } else if let Some(id) = text_at(b, &["NrID"]) {
                BuyerId::Other(id)
            } else {
                BuyerId::None
            }
        }
        None => BuyerId::None,
    };
    let buyer_name = buyer.and_then(|b| text_at(b, &["Nazwa"]));
    let has_attachment = child(root, "Zalacznik").is_some();
    // The invoice body and where the form keeps its date, number, kind and totals.
    let (fa, issue_date, invoice_number, kind_raw, net, vat, gross) = if form == FormKind::FaRr1 {
        let fa = child(root, "FakturaRR").ok_or(RuleError::MissingField("FakturaRR"))?;
        let issue_date = date_of(text_at(fa, &["P_4B"]), "FakturaRR/P_4B")?;
        let invoice_number =
            text_at(fa, &["P_4C"]).ok_or(RuleError::MissingField("FakturaRR/P_4C"))?;
        let kind_raw = text_at(fa, &["RodzajFaktury"])
            .ok_or(RuleError::MissingField("FakturaRR/RodzajFaktury"))?;
        let (net, vat) = (number_at(fa, &["P_11_1"]), number_at(fa, &["P_11_2"]));
        (
            fa,
            issue_date,
            invoice_number,
            kind_raw,
            net,
            vat,
            number_at(fa, &["P_12_1"]),
        )
    } else {
        let fa = child(root, "Fa").ok_or(RuleError::MissingField("Fa"))?;
        let issue_date = date_of(text_at(fa, &["P_1"]), "Fa/P_1")?;
        let invoice_number = text_at(fa, &["P_2"]).ok_or(RuleError::MissingField("Fa/P_2"))?;
        let kind_raw =
            text_at(fa, &["RodzajFaktury"]).ok_or(RuleError::MissingField("Fa/RodzajFaktury"))?;
        let mut net = 0.0;
        let mut vat = 0.0;
        for n in fa.children().filter(Node::is_element) {
            let name = n.tag_name().name();
            let value = n
                .text()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
            if name.starts_with("P_13_") {
                net += value;
            } else if name.starts_with("P_14_") && !name.ends_with('W') {
                vat += value;
            }
        }
        (
            fa,
            issue_date,
            invoice_number,
            kind_raw,
            net,
            vat,
            number_at(fa, &["P_15"]),
        )
    };
    Ok(InvoiceFacts {
        seller_nip,
        seller_name,
        buyer_id,
        buyer_name,
        issue_date,
        invoice_number,
        invoice_type: invoice_type_of(&kind_raw),
        kind_raw,
        currency: text_at(fa, &["KodWaluty"]).unwrap_or_else(|| "PLN".into()),
        net,
        vat,
        gross,
        has_attachment,
        third_subjects: third_subjects(root),
        authorized: authorized_subject(root),
    })
}

fn extract_pef(root: Node<'_, '_>, form: FormKind) -> Result<InvoiceFacts, RuleError> {
    let supplier = path(root, &["AccountingSupplierParty", "Party"])
        .ok_or(RuleError::MissingField("AccountingSupplierParty/Party"))?;
    let seller_nip = text_at(supplier, &["PartyTaxScheme", "CompanyID"])
        .map(|s| s.trim_start_matches("PL").to_string())
        .filter(|n| nip_ok(n))
        .ok_or(RuleError::MissingField(
            "AccountingSupplierParty/Party/PartyTaxScheme/CompanyID",
        ))?;
    let seller_name = text_at(supplier, &["PartyName", "Name"])
        .or_else(|| text_at(supplier, &["PartyLegalEntity", "RegistrationName"]));
    let customer = path(root, &["AccountingCustomerParty", "Party"]);
    let buyer_id = customer
        .and_then(|c| {
            text_at(c, &["PartyLegalEntity", "CompanyID"])
                .or_else(|| text_at(c, &["PartyTaxScheme", "CompanyID"]))
        })
        .map(|id| {
            if nip_ok(&id) {
                BuyerId::Nip(id)
            } else {
                BuyerId::Other(id)
            }
        })
        .unwrap_or(BuyerId::None);
    let buyer_name = customer.and_then(|c| text_at(c, &["PartyName", "Name"]));
    let issue_date = date_of(text_at(root, &["IssueDate"]), "IssueDate")?;
    let invoice_number = text_at(root, &["ID"]).ok_or(RuleError::MissingField("ID"))?;
    let kind_raw = if form == FormKind::PefKor3 {
        text_at(root, &["CreditNoteTypeCode"]).unwrap_or_else(|| "381".into())
    } else {
        text_at(root, &["InvoiceTypeCode"]).unwrap_or_else(|| "380".into())
    };
    let vat = root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "TaxTotal")
        .filter_map(|t| text_at(t, &["TaxAmount"]))
        .filter_map(|t| t.parse::<f64>().ok())
        .next()
        .unwrap_or(0.0);
    Ok(InvoiceFacts {
        seller_nip,
        seller_name,
        buyer_id,
        buyer_name,
        issue_date,
        invoice_number,
        kind_raw,
        invoice_type: if form == FormKind::PefKor3 {
            "KorPef"
        } else {
            "VatPef"
        },
        currency: text_at(root, &["DocumentCurrencyCode"]).unwrap_or_else(|| "PLN".into()),
        net: number_at(root, &["LegalMonetaryTotal", "TaxExclusiveAmount"]),
        vat,
        gross: number_at(root, &["LegalMonetaryTotal", "TaxInclusiveAmount"]),
        has_attachment: false,
        third_subjects: Vec::new(),
        authorized: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 10).unwrap()
    }

    fn fa3(nip: &str, date: &str, number: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza></Naglowek>
  <Podmiot1><DaneIdentyfikacyjne><NIP>{nip}</NIP><Nazwa>Seller</Nazwa></DaneIdentyfikacyjne></Podmiot1>
  <Podmiot2><DaneIdentyfikacyjne><NIP>3861610227</NIP><Nazwa>Buyer</Nazwa></DaneIdentyfikacyjne></Podmiot2>
  <Fa><KodWaluty>PLN</KodWaluty><P_1>{date}</P_1><P_2>{number}</P_2>
  <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_15>123.00</P_15><RodzajFaktury>VAT</RodzajFaktury></Fa>
</Faktura>"#
        )
    }

    #[test]
    fn accepts_and_extracts() {
        let x = fa3("5265877635", "2026-01-05", "FV/1/2026");
        let f = check_invoice(
            x.as_bytes(),
            FormKind::Fa3,
            false,
            today(),
            SchemaCheck::Skip,
        )
        .unwrap();
        assert_eq!(f.seller_nip, "5265877635");
        assert_eq!(f.invoice_number, "FV/1/2026");
        assert_eq!(f.kind_raw, "VAT");
        assert_eq!(f.invoice_type, "Vat");
        assert_eq!(f.issue_date, NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        assert_eq!(f.buyer_id, BuyerId::Nip("3861610227".into()));
        assert!((f.gross - 123.0).abs() < 1e-9);
        assert!((f.net - 100.0).abs() < 1e-9);
        assert!((f.vat - 23.0).abs() < 1e-9);
    }

    #[test]
    fn official_fa3_template_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/ksef-samples/invoice-template_v3.xml"
        );
        let Ok(t) = std::fs::read_to_string(path) else {
            return; // reference data absent
        };
        let x = t
            .replace("#nip#", "5265877635")
            .replace("#invoicing_date#", "2026-01-05")
            .replace("#invoice_number#", "77");
        let f = check_invoice(
            x.as_bytes(),
            FormKind::Fa3,
            false,
            today(),
            SchemaCheck::Skip,
        )
        .unwrap();
        assert_eq!(f.invoice_number, "FA/GRQMB-77/05/2025");
        // Wrong form for this document.
        assert!(matches!(
            check_invoice(
                x.as_bytes(),
                FormKind::Fa2,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::WrongRoot { .. })
        ));
    }

    fn sample(name: &str) -> Option<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ksef-samples/");
        std::fs::read_to_string(format!("{dir}{name}"))
            .ok()
            .map(|t| {
                t.replace("#nip#", "5265877635")
                    .replace("#supplier_nip#", "5265877635")
                    .replace("#buyer_nip#", "3861610227")
                    .replace("#invoicing_date#", "2026-01-05")
                    .replace("#issue_date#", "2026-01-05")
                    .replace("#due_date#", "2026-02-05")
                    .replace("#invoice_number#", "77")
                    .replace("#iban#", "PL61109010140000071219812874")
                    .replace("#buyer_reference#", "REF")
                    .replace("#compliant#", "")
            })
    }

    #[test]
    fn official_fa2_fa_rr_and_pef_templates_pass() {
        let cases = [
            ("invoice-template.xml", FormKind::Fa2, "Vat"),
            ("invoice-template-fa-rr-1.xml", FormKind::FaRr1, "VatRr"),
            ("invoice_template_pef.xml", FormKind::Pef3, "VatPef"),
        ];
        let today = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        for (file, form, kind) in cases {
            let Some(x) = sample(file) else { continue };
            let f = check_invoice(x.as_bytes(), form, false, today, SchemaCheck::Skip)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(f.seller_nip, "5265877635", "{file}");
            assert_eq!(f.invoice_type, kind, "{file}");
            assert!(
                f.invoice_number.contains("77"),
                "{file}: {}",
                f.invoice_number
            );
            // Any other form is refused.
            let other = if form == FormKind::Fa3 {
                FormKind::Fa2
            } else {
                FormKind::Fa3
            };
            assert!(
                check_invoice(x.as_bytes(), other, false, today, SchemaCheck::Skip).is_err(),
                "{file}"
            );
        }
    }

    #[test]
    fn rejects_bom_encoding_pi_and_code_points() {
        let x = fa3("5265877635", "2026-01-05", "A");
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(x.as_bytes());
        assert_eq!(
            check_invoice(&bom, FormKind::Fa3, false, today(), SchemaCheck::Skip),
            Err(RuleError::Bom)
        );

        let latin = x.replace("UTF-8", "ISO-8859-2");
        assert_eq!(
            check_invoice(
                latin.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::PrologEncoding("ISO-8859-2".into()))
        );
        let lower = x.replace("UTF-8", "utf-8");
        assert!(
            check_invoice(
                lower.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            )
            .is_ok()
        );

        let pi = x.replace("<Naglowek>", "<?foo bar?><Naglowek>");
        assert_eq!(
            check_invoice(
                pi.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::ProcessingInstruction("foo".into()))
        );
        let ss = x.replace(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml-stylesheet href=\"a.xsl\"?>",
        );
        assert!(matches!(
            check_invoice(
                ss.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::ProcessingInstruction(_))
        ));

        let cp = x
            .replace("Seller", "Sel\u{0085}ler")
            .replace("Sel\u{0085}ler", "Sel\u{0086}ler");
        assert_eq!(
            check_invoice(
                cp.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::DiscouragedCodePoint(0x86))
        );
        let nel = x.replace("Seller", "Sel\u{0085}ler");
        assert!(
            check_invoice(
                nel.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            )
            .is_ok()
        );
        let nonchar = x.replace("Seller", "Sel\u{1FFFE}ler");
        assert_eq!(
            check_invoice(
                nonchar.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::DiscouragedCodePoint(0x1FFFE))
        );

        let bad = [b"<Faktura>".as_slice(), &[0xC3, 0x28], b"</Faktura>"].concat();
        assert!(matches!(
            check_invoice(&bad, FormKind::Fa3, false, today(), SchemaCheck::Skip),
            Err(RuleError::NotUtf8(9))
        ));
    }

    #[test]
    fn rejects_malformed_wrong_root_future_and_size() {
        let x = fa3("5265877635", "2026-01-05", "A");
        let broken = x.replace("</Faktura>", "");
        assert!(matches!(
            check_invoice(
                broken.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::NotWellFormed(_))
        ));
        let fa2 = x.replace("2025/06/25/13775", "2023/06/29/12648");
        assert!(matches!(
            check_invoice(
                fa2.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::WrongRoot { .. })
        ));
        // Namespace right but header says another form.
        assert!(matches!(
            check_invoice(
                fa2.as_bytes(),
                FormKind::Fa2,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::WrongFormCode { .. })
        ));
        let future = fa3("5265877635", "2026-01-11", "A");
        assert!(matches!(
            check_invoice(
                future.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::IssueDateInFuture(_))
        ));
        let big = x.replace(
            "<Fa>",
            &format!("<Fa><!--{}-->", "x".repeat(MAX_INVOICE_SIZE)),
        );
        assert!(matches!(
            check_invoice(
                big.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::TooLarge {
                limit: MAX_INVOICE_SIZE,
                ..
            })
        ));
        let no_nip = fa3("0123456789", "2026-01-05", "A");
        assert!(matches!(
            check_invoice(
                no_nip.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::MissingField(_))
        ));
        let dtd = x.replace(
            "<Faktura ",
            "<!DOCTYPE Faktura [<!ENTITY a \"b\">]><Faktura ",
        );
        assert!(matches!(
            check_invoice(
                dtd.as_bytes(),
                FormKind::Fa3,
                false,
                today(),
                SchemaCheck::Skip
            ),
            Err(RuleError::NotWellFormed(_))
        ));
    }

    #[test]
    fn third_and_authorized_subjects() {
        let x = fa3("5265877635", "2026-01-05", "A").replace(
            "<Fa>",
            "<Podmiot3><DaneIdentyfikacyjne><NIP>1111111111</NIP><Nazwa>Faktor</Nazwa></DaneIdentyfikacyjne><Rola>1</Rola></Podmiot3>\
             <Podmiot3><DaneIdentyfikacyjne><IDWew>2222222222-00001</IDWew></DaneIdentyfikacyjne><RolaInna>1</RolaInna><OpisRoli>x</OpisRoli></Podmiot3>\
             <PodmiotUpowazniony><DaneIdentyfikacyjne><NIP>3333333333</NIP><Nazwa>Komornik</Nazwa></DaneIdentyfikacyjne><RolaPU>2</RolaPU></PodmiotUpowazniony><Fa>",
        );
        let f = check_invoice(
            x.as_bytes(),
            FormKind::Fa3,
            false,
            today(),
            SchemaCheck::Skip,
        )
        .unwrap();
        assert_eq!(f.third_subjects.len(), 2);
        assert_eq!(f.third_subjects[0].id_type, "Nip");
        assert_eq!(f.third_subjects[0].id_value.as_deref(), Some("1111111111"));
        assert_eq!(f.third_subjects[0].role, 1);
        assert_eq!(f.third_subjects[1].id_type, "InternalId");
        assert_eq!(f.third_subjects[1].role, 0);
        assert_eq!(
            f.authorized,
            Some(("3333333333".into(), Some("Komornik".into()), 2))
        );
    }

    #[test]
    fn attachments() {
        let x = fa3("5265877635", "2026-01-05", "A").replace(
            "</Faktura>",
            "<Zalacznik><BlokDanych/></Zalacznik></Faktura>",
        );
        let e = check_invoice(
            x.as_bytes(),
            FormKind::Fa3,
            false,
            today(),
            SchemaCheck::Skip,
        )
        .unwrap_err();
        assert_eq!(e, RuleError::AttachmentNotAllowed);
        assert_eq!(e.status_code(), 415);
        assert!(
            check_invoice(
                x.as_bytes(),
                FormKind::Fa3,
                true,
                today(),
                SchemaCheck::Skip
            )
            .unwrap()
            .has_attachment
        );
    }

    #[test]
    fn form_codes() {
        assert_eq!(
            FormKind::from_form_code("FA (3)", "1-0E", "FA"),
            Some(FormKind::Fa3)
        );
        assert_eq!(
            FormKind::from_form_code("PEF_KOR (3)", "2-1", "PEF"),
            Some(FormKind::PefKor3)
        );
        assert_eq!(FormKind::from_form_code("FA (3)", "1-0E", "PEF"), None);
    }
}
