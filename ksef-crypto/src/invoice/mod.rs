//! Invoice pre-flight: checks KSeF applies to every invoice, done
//! locally on the raw bytes (never re-encoded), plus extraction of the facts needed for the
//! duplicate rule (Podmiot1 NIP, RodzajFaktury, P_2), for KOD I (P_1, seller NIP, hash) and for
//! opening the right session (form code).
//!
//! Order of the checks: empty → hard size cap → UTF-8 BOM → UTF-8 validity → prolog encoding →
//! discouraged code points → well-formedness → processing instructions → form code → size limit
//! for the form (1 000 000 B, or 3 000 000 B when the invoice carries a `Zalacznik`) → required
//! fields. Each failure is a [`CryptoError::Preflight`] naming the [`PreflightRule`] and, where it
//! applies, the position.

use chrono::NaiveDate;

mod scan;

use crate::error::{CryptoError, Position, PreflightRule, Result};

/// Maximum invoice size without attachments.
pub const MAX_SIZE: usize = 1_000_000;
/// Maximum invoice size with attachments.
pub const MAX_SIZE_WITH_ATTACHMENTS: usize = 3_000_000;

/// An invoice schema KSeF accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FormCode {
    /// FA (2), TEST only.
    Fa2,
    /// FA (3).
    Fa3,
    /// FA_RR (1).
    FaRr1,
    /// PEF (3).
    Pef3,
    /// PEF_KOR (3).
    PefKor3,
}

impl FormCode {
    /// `formCode.systemCode`.
    pub fn system_code(&self) -> &'static str {
        match self {
            Self::Fa2 => "FA (2)",
            Self::Fa3 => "FA (3)",
            Self::FaRr1 => "FA_RR (1)",
            Self::Pef3 => "PEF (3)",
            Self::PefKor3 => "PEF_KOR (3)",
        }
    }
    /// `formCode.schemaVersion`.
    pub fn schema_version(&self) -> &'static str {
        match self {
            Self::Fa2 | Self::Fa3 => "1-0E",
            Self::FaRr1 => "1-1E",
            Self::Pef3 | Self::PefKor3 => "2-1",
        }
    }
    /// `formCode.value`.
    pub fn value(&self) -> &'static str {
        match self {
            Self::Fa2 | Self::Fa3 => "FA",
            Self::FaRr1 => "FA_RR",
            Self::Pef3 | Self::PefKor3 => "PEF",
        }
    }

    fn from_root(ns: Option<&str>, name: &str) -> Option<Self> {
        match (ns, name) {
            (Some("http://crd.gov.pl/wzor/2023/06/29/12648/"), "Faktura") => Some(Self::Fa2),
            (Some("http://crd.gov.pl/wzor/2025/06/25/13775/"), "Faktura") => Some(Self::Fa3),
            (Some("http://crd.gov.pl/wzor/2026/03/06/14189/"), "Faktura") => Some(Self::FaRr1),
            (Some("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"), "Invoice") => {
                Some(Self::Pef3)
            }
            (Some("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"), "CreditNote") => {
                Some(Self::PefKor3)
            }
            _ => None,
        }
    }
}

/// What pre-flight learned about an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvoiceFacts {
    /// Schema.
    pub form_code: FormCode,
    /// Size in bytes (`invoiceSize`).
    pub size: usize,
    /// SHA-256 of the exact bytes (`invoiceHash`, KOD I).
    pub sha256: [u8; 32],
    /// Whether the invoice carries attachments (`Zalacznik`).
    pub has_attachments: bool,
    /// Seller NIP: `Podmiot1/DaneIdentyfikacyjne/NIP` (FA), supplier `PartyTaxScheme/CompanyID`
    /// without a `PL` prefix (PEF).
    pub seller_nip: Option<String>,
    /// Whether `seller_nip` passes the NIP checksum (enforced on PRD).
    pub seller_nip_checksum_ok: bool,
    /// Issue date: `P_1` (FA), `P_4B` (FA_RR), `cbc:IssueDate` (PEF).
    pub issue_date: Option<NaiveDate>,
    /// Invoice number: `P_2` (FA), `P_4C` (FA_RR), `cbc:ID` (PEF).
    pub invoice_number: Option<String>,
    /// `RodzajFaktury` (FA, FA_RR).
    pub invoice_kind: Option<String>,
}

impl InvoiceFacts {
    /// Standard Base64 of the SHA-256 (`invoiceHash`).
    pub fn sha256_b64(&self) -> String {
        crate::b64::encode(self.sha256)
    }
}

/// Position of byte `offset` in `text` (1-based line and character column).
fn position(text: &[u8], offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // count characters (UTF-8 lead bytes)
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    Position {
        offset,
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

fn fail(rule: PreflightRule, pos: Option<Position>, detail: impl Into<String>) -> CryptoError {
    CryptoError::Preflight {
        rule,
        position: pos,
        detail: detail.into(),
    }
}

fn discouraged(c: char) -> bool {
    let u = c as u32;
    (0x7F..=0x84).contains(&u)
        || (0x86..=0x9F).contains(&u)
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u >= 0x1_0000 && (u & 0xFFFE) == 0xFFFE)
}

/// Check the XML declaration's encoding, if there is a declaration.
fn check_prolog(text: &str, bytes: &[u8]) -> Result<()> {
    if !text.starts_with("<?xml") || !text[5..].starts_with(|c: char| c.is_ascii_whitespace()) {
        return Ok(());
    }
    let end = text.find("?>").ok_or_else(|| {
        fail(
            PreflightRule::WellFormed,
            Some(position(bytes, 0)),
            "unterminated XML declaration",
        )
    })?;
    let decl = &text[5..end];
    if let Some(i) = decl.find("encoding") {
        let rest = decl[i + 8..].trim_start();
        let rest = rest.strip_prefix('=').map(str::trim_start).unwrap_or("");
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
        let value = quote.and_then(|q| rest[1..].split(q).next()).unwrap_or("");
        if !value.eq_ignore_ascii_case("utf-8") {
            return Err(fail(
                PreflightRule::PrologEncoding,
                Some(position(bytes, 5 + i)),
                format!("declared encoding {value:?}, must be UTF-8"),
            ));
        }
    }
    Ok(())
}

/// Paths (local names from the root, first matching child at each step) of the fields
/// pre-flight reads, in the order of [`Field`], for the form the root element names.
fn field_paths(form: Option<FormCode>) -> scan::Paths {
    const FA: &[&[&str]] = &[
        &["Zalacznik"],
        &["Podmiot1", "DaneIdentyfikacyjne", "NIP"],
        &["Fa", "P_1"],
        &["Fa", "P_2"],
        &["Fa", "RodzajFaktury"],
    ];
    const FA_RR: &[&[&str]] = &[
        &["Zalacznik"],
        &["Podmiot1", "DaneIdentyfikacyjne", "NIP"],
        &["FakturaRR", "P_4B"],
        &["FakturaRR", "P_4C"],
        &["FakturaRR", "RodzajFaktury"],
    ];
    const PEF: &[&[&str]] = &[
        &["Zalacznik"],
        &[
            "AccountingSupplierParty",
            "Party",
            "PartyTaxScheme",
            "CompanyID",
        ],
        &["IssueDate"],
        &["ID"],
    ];
    match form {
        Some(FormCode::Fa2 | FormCode::Fa3) => FA,
        Some(FormCode::FaRr1) => FA_RR,
        Some(FormCode::Pef3 | FormCode::PefKor3) => PEF,
        None => &[],
    }
}

/// Index of each field in [`field_paths`].
#[derive(Clone, Copy)]
enum Field {
    Attachment = 0,
    SellerNip,
    IssueDate,
    Number,
    Kind,
}

/// Run all pre-flight checks on the raw invoice bytes and extract its facts.
pub fn preflight(bytes: &[u8]) -> Result<InvoiceFacts> {
    if bytes.is_empty() {
        return Err(fail(PreflightRule::Empty, None, "no bytes"));
    }
    if bytes.len() > MAX_SIZE_WITH_ATTACHMENTS {
        return Err(fail(
            PreflightRule::SizeLimit,
            None,
            format!(
                "{} bytes > {MAX_SIZE_WITH_ATTACHMENTS} (limit with attachments)",
                bytes.len()
            ),
        ));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(fail(
            PreflightRule::Utf8Bom,
            Some(position(bytes, 0)),
            "UTF-8 byte-order mark",
        ));
    }
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(fail(
            PreflightRule::Utf8,
            Some(position(bytes, 0)),
            "UTF-16 byte-order mark: the invoice must be UTF-8",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        fail(
            PreflightRule::Utf8,
            Some(position(bytes, e.valid_up_to())),
            "invalid UTF-8 sequence",
        )
    })?;
    check_prolog(text, bytes)?;
    let (non_xml, discouraged) = scan::first_bad_char(text, self::discouraged);
    if let Some((i, c)) = discouraged {
        return Err(fail(
            PreflightRule::DiscouragedCodePoint,
            Some(position(bytes, i)),
            format!("U+{:04X}", c as u32),
        ));
    }
    if let Some((i, c)) = non_xml {
        return Err(fail(
            PreflightRule::WellFormed,
            Some(position(bytes, i)),
            format!("U+{:04X} is not an XML character", c as u32),
        ));
    }
    let outline = scan::scan(text, &|ns, name| field_paths(FormCode::from_root(ns, name)))
        .map_err(|e| {
            fail(
                PreflightRule::WellFormed,
                Some(position(bytes, e.offset)),
                e.message,
            )
        })?;
    if let Some((at, target)) = outline.first_pi {
        return Err(fail(
            PreflightRule::ProcessingInstruction,
            Some(position(bytes, at)),
            format!("processing instruction <?{target}"),
        ));
    }
    let root_ns = outline.root_namespace.as_deref();
    let form = FormCode::from_root(root_ns, outline.root_local).ok_or_else(|| {
        fail(
            PreflightRule::UnknownForm,
            Some(position(bytes, outline.root_start)),
            format!(
                "root element {{{}}}{} is not FA(2), FA(3), FA_RR(1), PEF(3) or PEF_KOR(3)",
                root_ns.unwrap_or(""),
                outline.root_local
            ),
        )
    })?;
    let field = |f: Field| outline.found.get(f as usize).and_then(Option::as_ref);
    let pos_of = |f: Field| field(f).map(|n| position(bytes, n.start));
    let text_of = |f: Field| {
        field(f)
            .and_then(|n| n.text.as_deref())
            .map(|t| t.trim().to_owned())
    };
    let has_attachments = field(Field::Attachment).is_some();
    let limit = if has_attachments {
        MAX_SIZE_WITH_ATTACHMENTS
    } else {
        MAX_SIZE
    };
    if bytes.len() > limit {
        return Err(fail(
            PreflightRule::SizeLimit,
            None,
            format!("{} bytes > {limit}", bytes.len()),
        ));
    }

    let required = matches!(form, FormCode::Fa2 | FormCode::Fa3 | FormCode::FaRr1);

    let mut seller_nip = text_of(Field::SellerNip);
    if matches!(form, FormCode::Pef3 | FormCode::PefKor3) {
        seller_nip = seller_nip.map(|s| s.strip_prefix("PL").unwrap_or(&s).to_owned());
    }
    let nip_ok = seller_nip
        .as_deref()
        .is_some_and(|n| crate::ids::Nip::parse_pattern_only(n).is_ok());
    if required && !nip_ok {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(Field::SellerNip),
            format!("Podmiot1 NIP missing or not a NIP: {seller_nip:?}"),
        ));
    }
    let seller_nip_checksum_ok = seller_nip
        .as_deref()
        .is_some_and(|n| crate::ids::Nip::parse(n).is_ok());
    let date_text = text_of(Field::IssueDate);
    let issue_date = match date_text.as_deref() {
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return Err(fail(
                    PreflightRule::RequiredField,
                    pos_of(Field::IssueDate),
                    format!("issue date {d:?} is not YYYY-MM-DD"),
                ));
            }
        },
        None if required => {
            return Err(fail(
                PreflightRule::RequiredField,
                None,
                "issue date (P_1 / P_4B) missing",
            ));
        }
        None => None,
    };
    let invoice_number = text_of(Field::Number).filter(|s| !s.is_empty());
    if required && invoice_number.is_none() {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(Field::Number),
            "invoice number (P_2 / P_4C) missing",
        ));
    }
    let invoice_kind = text_of(Field::Kind).filter(|s| !s.is_empty());
    if required && invoice_kind.is_none() {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(Field::Kind),
            "RodzajFaktury missing",
        ));
    }
    Ok(InvoiceFacts {
        form_code: form,
        size: bytes.len(),
        sha256: crate::b64::sha256(bytes),
        has_attachments,
        seller_nip,
        seller_nip_checksum_ok,
        issue_date,
        invoice_number,
        invoice_kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both scans of [`scan::first_bad_char`], one character at a time.
    fn naive(text: &str) -> (scan::CharHit, scan::CharHit) {
        let non_xml = text.char_indices().find(|&(_, c)| {
            let u = c as u32;
            (u < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || u == 0xFFFE || u == 0xFFFF
        });
        let bad = text.char_indices().find(|&(_, c)| discouraged(c));
        // the byte scan stops at the first discouraged code point
        let non_xml = non_xml.filter(|n| bad.is_none_or(|b| n.0 < b.0));
        (non_xml, bad)
    }

    #[test]
    fn the_byte_scan_finds_what_the_char_scan_finds() {
        let long = format!("{}\u{1}{}\u{FFFF}", "a".repeat(70), "b".repeat(40));
        for t in [
            "",
            "abc",
            "ą\u{7F}",
            "zażółć \u{85} \u{86}",
            "\u{FDD0}",
            "x\u{1FFFE}y\u{7F}",
            "a\u{0}b\u{7F}",
            "tab\tnl\ncr\r\u{FFFE}",
            &long,
        ] {
            assert_eq!(scan::first_bad_char(t, discouraged), naive(t), "{t:?}");
        }
    }

    /// Characters the scan must stop at or look at: not XML, discouraged, allowed non-ASCII.
    fn edge_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '\u{0}',
                '\u{1F}',
                '\u{7F}',
                '\u{85}',
                '\u{86}',
                '\u{FFFE}',
                '\u{FFFF}',
                '\u{FDD0}',
                '\u{1FFFE}',
                'ą',
                '\t',
                '\r',
            ]),
        ]
    }

    proptest! {
        /// Plain ASCII runs (long enough for the 32-byte skip) with up to three edge characters
        /// put anywhere, so both kinds of finding meet in either order.
        #[test]
        fn the_byte_scan_agrees_with_the_char_scan(
            s in "[ -~\t\n\r]{0,120}",
            put in prop::collection::vec((edge_char(), 0usize..121), 0..4),
        ) {
            let mut t = s;
            for (c, at) in put {
                let mut at = at.min(t.len());
                while !t.is_char_boundary(at) {
                    at -= 1;
                }
                t.insert(at, c);
            }
            prop_assert_eq!(scan::first_bad_char(&t, discouraged), naive(&t));
        }
    }
}
