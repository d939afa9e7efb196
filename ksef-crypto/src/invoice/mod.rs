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

/// The first discouraged code point and its byte offset. Every discouraged code point is
/// U+007F or above, so the scan skips the bytes below 0x7F (all of an XML invoice but its
/// non-ASCII text) and decodes only from the others.
fn first_discouraged(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(skip) = bytes.get(i..)?.iter().position(|b| *b >= 0x7F) {
        i += skip;
        let c = text.get(i..)?.chars().next()?;
        if discouraged(c) {
            return Some((i, c));
        }
        i += c.len_utf8();
    }
    None
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

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn path<'a, 'i>(n: roxmltree::Node<'a, 'i>, names: &[&str]) -> Option<roxmltree::Node<'a, 'i>> {
    names.iter().try_fold(n, |acc, name| child(acc, name))
}

fn text_of(n: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
    n.and_then(|n| n.text()).map(|t| t.trim().to_owned())
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
    if let Some((i, c)) = first_discouraged(text) {
        return Err(fail(
            PreflightRule::DiscouragedCodePoint,
            Some(position(bytes, i)),
            format!("U+{:04X}", c as u32),
        ));
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
        let p = e.pos();
        // convert (row, col) to an offset
        let offset = text
            .split_inclusive('\n')
            .take(p.row.saturating_sub(1) as usize)
            .map(str::len)
            .sum::<usize>();
        let line_text = &text[offset.min(text.len())..];
        let col_bytes: usize = line_text
            .chars()
            .take(p.col.saturating_sub(1) as usize)
            .map(char::len_utf8)
            .sum();
        fail(
            PreflightRule::WellFormed,
            Some(position(bytes, offset + col_bytes)),
            e.to_string(),
        )
    })?;
    if let Some(pi) = doc
        .descendants()
        .find(|n| n.node_type() == roxmltree::NodeType::PI)
    {
        return Err(fail(
            PreflightRule::ProcessingInstruction,
            Some(position(bytes, pi.range().start)),
            format!(
                "processing instruction <?{}",
                pi.pi().map(|p| p.target).unwrap_or("")
            ),
        ));
    }
    let root = doc.root_element();
    let form = FormCode::from_root(root.tag_name().namespace(), root.tag_name().name())
        .ok_or_else(|| {
            fail(
                PreflightRule::UnknownForm,
                Some(position(bytes, root.range().start)),
                format!(
                    "root element {{{}}}{} is not FA(2), FA(3), FA_RR(1), PEF(3) or PEF_KOR(3)",
                    root.tag_name().namespace().unwrap_or(""),
                    root.tag_name().name()
                ),
            )
        })?;
    let has_attachments = child(root, "Zalacznik").is_some();
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

    let (nip_node, date_node, number_node, kind_node) = match form {
        FormCode::Fa2 | FormCode::Fa3 => (
            path(root, &["Podmiot1", "DaneIdentyfikacyjne", "NIP"]),
            path(root, &["Fa", "P_1"]),
            path(root, &["Fa", "P_2"]),
            path(root, &["Fa", "RodzajFaktury"]),
        ),
        FormCode::FaRr1 => (
            path(root, &["Podmiot1", "DaneIdentyfikacyjne", "NIP"]),
            path(root, &["FakturaRR", "P_4B"]),
            path(root, &["FakturaRR", "P_4C"]),
            path(root, &["FakturaRR", "RodzajFaktury"]),
        ),
        FormCode::Pef3 | FormCode::PefKor3 => (
            path(
                root,
                &[
                    "AccountingSupplierParty",
                    "Party",
                    "PartyTaxScheme",
                    "CompanyID",
                ],
            ),
            child(root, "IssueDate"),
            child(root, "ID"),
            None,
        ),
    };
    let required = matches!(form, FormCode::Fa2 | FormCode::Fa3 | FormCode::FaRr1);
    let pos_of = |n: Option<roxmltree::Node<'_, '_>>| n.map(|n| position(bytes, n.range().start));

    let mut seller_nip = text_of(nip_node);
    if matches!(form, FormCode::Pef3 | FormCode::PefKor3) {
        seller_nip = seller_nip.map(|s| s.strip_prefix("PL").unwrap_or(&s).to_owned());
    }
    let nip_ok = seller_nip
        .as_deref()
        .is_some_and(|n| crate::ids::Nip::parse_pattern_only(n).is_ok());
    if required && !nip_ok {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(nip_node),
            format!("Podmiot1 NIP missing or not a NIP: {seller_nip:?}"),
        ));
    }
    let seller_nip_checksum_ok = seller_nip
        .as_deref()
        .is_some_and(|n| crate::ids::Nip::parse(n).is_ok());
    let date_text = text_of(date_node);
    let issue_date = match date_text.as_deref() {
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return Err(fail(
                    PreflightRule::RequiredField,
                    pos_of(date_node),
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
    let invoice_number = text_of(number_node).filter(|s| !s.is_empty());
    if required && invoice_number.is_none() {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(number_node),
            "invoice number (P_2 / P_4C) missing",
        ));
    }
    let invoice_kind = text_of(kind_node).filter(|s| !s.is_empty());
    if required && invoice_kind.is_none() {
        return Err(fail(
            PreflightRule::RequiredField,
            pos_of(kind_node),
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

    fn naive(text: &str) -> Option<(usize, char)> {
        text.char_indices().find(|&(_, c)| discouraged(c))
    }

    #[test]
    fn the_byte_scan_finds_what_the_char_scan_finds() {
        for t in [
            "",
            "abc",
            "ą\u{7F}",
            "zażółć \u{85} \u{86}",
            "\u{FDD0}",
            "x\u{1FFFE}y\u{7F}",
        ] {
            assert_eq!(first_discouraged(t), naive(t), "{t:?}");
        }
    }

    proptest! {
        #[test]
        fn the_byte_scan_agrees_with_the_char_scan(s in "\\PC{0,40}", c in any::<char>(), at in 0usize..41) {
            let mut t: String = s.chars().take(at).collect();
            t.push(c);
            t.extend(s.chars().skip(at));
            prop_assert_eq!(first_discouraged(&t), naive(&t));
        }
    }
}
