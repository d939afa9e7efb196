//! KSeF identifiers: KSeF numbers with CRC-8, reference numbers, NIP, PESEL,
//! InternalId, NipVatUe, PeppolId and KSeF certificate serial numbers.
//!
//! Every type validates on construction (`parse` / `FromStr`), so holding one means the value
//! matches the official pattern and checksum. `random()` constructors produce valid values for
//! tests (TEST environment data must use fresh random NIPs).

use std::fmt;
use std::str::FromStr;

use rand::RngExt as _;

use crate::error::{CryptoError, Result};

/// CRC-8 with polynomial 0x07, init 0x00, no reflection, no final XOR (KSeF number checksum).
pub fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn invalid(kind: &'static str, value: &str, reason: &'static str) -> CryptoError {
    CryptoError::InvalidIdentifier {
        kind,
        value: value.chars().take(64).collect(),
        reason,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn upper_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

/// The NIP pattern `^[1-9]((\d[1-9])|([1-9]\d))\d{7}$` (without checksum).
fn nip_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && all_digits(s) && b[0] != b'0' && !(b[1] == b'0' && b[2] == b'0')
}

fn nip_checksum_ok(s: &str) -> bool {
    const W: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = W.iter().zip(&d).map(|(w, x)| w * x).sum();
    let c = sum % 11;
    c != 10 && c == d[9]
}

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $name {
            type Err = CryptoError;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Polish tax identification number (10 digits, checksum weights 6,5,7,2,3,4,5,6,7 mod 11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nip(String);
string_id!(Nip);

impl Nip {
    /// Parse and validate pattern and checksum.
    pub fn parse(s: &str) -> Result<Self> {
        if !nip_pattern(s) {
            return Err(invalid(
                "NIP",
                s,
                "does not match ^[1-9]((\\d[1-9])|([1-9]\\d))\\d{7}$",
            ));
        }
        if !nip_checksum_ok(s) {
            return Err(invalid("NIP", s, "checksum mismatch"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Validate only the XSD pattern (PRD enforces the checksum; TEST historically did not).
    pub fn parse_pattern_only(s: &str) -> Result<Self> {
        if !nip_pattern(s) {
            return Err(invalid(
                "NIP",
                s,
                "does not match ^[1-9]((\\d[1-9])|([1-9]\\d))\\d{7}$",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// A random valid NIP (for the TEST environment).
    pub fn random() -> Self {
        let mut rng = rand::rng();
        loop {
            let mut s = String::with_capacity(10);
            s.push(char::from(b'0' + rng.random_range(1..10u8)));
            for _ in 0..8 {
                s.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
            s.push('0');
            if !nip_pattern(&s) {
                continue;
            }
            const W: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
            let sum: u32 = W
                .iter()
                .zip(s.bytes())
                .map(|(w, b)| w * u32::from(b - b'0'))
                .sum();
            let c = sum % 11;
            if c == 10 {
                continue;
            }
            s.pop();
            s.push(char::from(b'0' + c as u8));
            return Self(s);
        }
    }
}

/// PESEL (11 digits, weights 1,3,7,9,1,3,7,9,1,3, check = (10 − sum mod 10) mod 10).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pesel(String);
string_id!(Pesel);

fn pesel_check(d: &[u8]) -> u8 {
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = W.iter().zip(d).map(|(w, b)| w * u32::from(b - b'0')).sum();
    ((10 - sum % 10) % 10) as u8
}

impl Pesel {
    /// Parse and validate pattern (month field) and checksum.
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        if b.len() != 11 || !all_digits(s) {
            return Err(invalid("PESEL", s, "must be 11 digits"));
        }
        let month = (b[2] - b'0') * 10 + (b[3] - b'0');
        let m = month % 20;
        if !(1..=12).contains(&m) {
            return Err(invalid("PESEL", s, "invalid month field"));
        }
        if pesel_check(&b[..10]) != b[10] - b'0' {
            return Err(invalid("PESEL", s, "checksum mismatch"));
        }
        Ok(Self(s.to_owned()))
    }

    /// A random valid PESEL (born 1950–2009).
    pub fn random() -> Self {
        let mut rng = rand::rng();
        let year: u32 = rng.random_range(1950..2010);
        let month: u32 = rng.random_range(1..13) + if year >= 2000 { 20 } else { 0 };
        let day: u32 = rng.random_range(1..29);
        let serial: u32 = rng.random_range(0..10000);
        let mut s = format!("{:02}{:02}{:02}{:04}", year % 100, month, day, serial);
        let c = pesel_check(s.as_bytes());
        s.push(char::from(b'0' + c));
        Self(s)
    }
}

/// InternalId `NIP-ddddd` (16 chars); the last digit is Σ digit × (1,3,1,3,…) over the other 14
/// digits, mod 10. The NIP part must match the NIP pattern (its checksum is not required).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InternalId(String);
string_id!(InternalId);

fn internal_check(digits14: &[u8]) -> u8 {
    let sum: u32 = digits14
        .iter()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (sum % 10) as u8
}

impl InternalId {
    /// Parse and validate.
    pub fn parse(s: &str) -> Result<Self> {
        let (nip, rest) = s
            .split_once('-')
            .ok_or_else(|| invalid("InternalId", s, "expected NIP-ddddd"))?;
        if !nip_pattern(nip) || rest.len() != 5 || !all_digits(rest) {
            return Err(invalid("InternalId", s, "expected NIP-ddddd"));
        }
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).collect();
        if internal_check(&digits[..14]) != digits[14] - b'0' {
            return Err(invalid("InternalId", s, "checksum mismatch"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Build from a NIP and a 4-digit suffix, computing the check digit.
    pub fn from_nip(nip: &Nip, suffix: u16) -> Result<Self> {
        if suffix > 9999 {
            return Err(invalid(
                "InternalId",
                &suffix.to_string(),
                "suffix must be 0..=9999",
            ));
        }
        let mut s = format!("{}-{:04}", nip.as_str(), suffix);
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).collect();
        s.push(char::from(b'0' + internal_check(&digits)));
        Ok(Self(s))
    }

    /// The NIP part.
    pub fn nip_part(&self) -> &str {
        &self.0[..10]
    }
}

/// Checks the EU VAT number part of NipVatUe against the official (VIES-based) pattern.
fn vat_ue_ok(v: &str) -> bool {
    if !v.is_ascii() {
        return false;
    }
    let (cc, r) = match (v.get(..2), v.get(2..)) {
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    let d = |s: &str, n: usize| s.len() == n && all_digits(s);
    let dr = |s: &str, a: usize, b: usize| (a..=b).contains(&s.len()) && all_digits(s);
    let up = |c: u8| c.is_ascii_uppercase();
    let alnum_plus = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'+' || c == b'*';
    let rb = r.as_bytes();
    match cc {
        "AT" => r.len() == 9 && rb[0] == b'U' && d(&r[1..], 8),
        "BE" => r.len() == 10 && matches!(rb[0], b'0' | b'1') && d(&r[1..], 9),
        "BG" => dr(r, 9, 10),
        "CY" => r.len() == 9 && d(&r[..8], 8) && up(rb[8]),
        "CZ" => dr(r, 8, 10),
        "DE" | "EE" | "EL" | "PT" => d(r, 9),
        "DK" | "FI" | "HU" | "LU" | "MT" | "SI" => d(r, 8),
        "ES" => {
            r.len() == 9
                && ((up(rb[0]) && d(&r[1..], 8))
                    || (d(&r[..8], 8) && up(rb[8]))
                    || (up(rb[0]) && d(&r[1..8], 7) && up(rb[8])))
        }
        "FR" => {
            r.len() == 11 && rb[..2].iter().all(|&c| up(c) || c.is_ascii_digit()) && d(&r[2..], 9)
        }
        "HR" | "IT" | "LV" => d(r, 11),
        "IE" => {
            (r.len() == 9 && d(&r[..7], 7) && up(rb[7]) && up(rb[8]))
                || (r.len() == 8
                    && rb[0].is_ascii_digit()
                    && alnum_plus(rb[1])
                    && d(&r[2..7], 5)
                    && up(rb[7]))
        }
        "LT" => d(r, 9) || d(r, 12),
        "NL" => r.len() == 12 && rb.iter().all(|&c| alnum_plus(c)),
        "RO" => dr(r, 2, 10),
        "SE" => d(r, 12),
        "SK" => d(r, 10),
        "XI" => {
            d(r, 9)
                || d(r, 12)
                || (r.len() == 5 && (r.starts_with("GD") || r.starts_with("HA")) && d(&r[2..], 3))
        }
        _ => false,
    }
}

/// NipVatUe: `NIP-<EU VAT number>` (collective identifier of a Polish and an EU entity).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NipVatUe(String);
string_id!(NipVatUe);

impl NipVatUe {
    /// Parse and validate against the XSD pattern.
    pub fn parse(s: &str) -> Result<Self> {
        let (nip, vat) = s
            .split_once('-')
            .ok_or_else(|| invalid("NipVatUe", s, "expected NIP-<VAT UE>"))?;
        if !nip_pattern(nip) {
            return Err(invalid(
                "NipVatUe",
                s,
                "NIP part does not match the NIP pattern",
            ));
        }
        if !vat_ue_ok(vat) {
            return Err(invalid(
                "NipVatUe",
                s,
                "VAT UE part does not match the official pattern",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Peppol service provider identifier `P[A-Z]{2}[0-9]{6}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeppolId(String);
string_id!(PeppolId);

impl PeppolId {
    /// Parse and validate.
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        if b.len() == 9
            && b[0] == b'P'
            && b[1..3].iter().all(u8::is_ascii_uppercase)
            && all_digits(&s[3..])
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("PeppolId", s, "expected P[A-Z]{2}[0-9]{6}"))
        }
    }
}

/// KSeF certificate serial number `^[0-9A-F]{16}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateSerial(String);
string_id!(CertificateSerial);

impl CertificateSerial {
    /// Parse and validate.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 16 && upper_hex(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("certificate serial", s, "expected ^[0-9A-F]{16}$"))
        }
    }
}

fn date_ok(s: &str) -> bool {
    // YYYYMMDD with year 2020-9999, valid calendar day
    if s.len() != 8 || !all_digits(s) {
        return false;
    }
    let y: i32 = s[..4].parse().unwrap_or(0);
    let m: u32 = s[4..6].parse().unwrap_or(0);
    let d: u32 = s[6..].parse().unwrap_or(0);
    y >= 2020 && chrono::NaiveDate::from_ymd_opt(y, m, d).is_some()
}

/// KSeF invoice number: `NIP-YYYYMMDD-HEX12-CC` (35 chars, KSeF 2.0) or the KSeF 1.0 form with an
/// extra hyphen in the technical part (`NIP-YYYYMMDD-HEX6-HEX6-CC`, 36 chars). `CC` is the CRC-8 of
/// the first 32 characters of the 35-character form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KsefNumber(String);
string_id!(KsefNumber);

impl KsefNumber {
    /// Parse and validate format and checksum.
    pub fn parse(s: &str) -> Result<Self> {
        if !s.is_ascii() {
            return Err(invalid("KSeF number", s, "must be ASCII"));
        }
        let canon = match s.len() {
            35 => s.to_owned(),
            36 => {
                // NIP(10) - DATE(8) - HEX6 - HEX6 - CC
                if s.as_bytes().get(26) != Some(&b'-') {
                    return Err(invalid(
                        "KSeF number",
                        s,
                        "36-char form must be NIP-YYYYMMDD-HEX6-HEX6-CC",
                    ));
                }
                format!("{}{}", &s[..26], &s[27..])
            }
            _ => {
                return Err(invalid(
                    "KSeF number",
                    s,
                    "must be 35 (or legacy 36) characters",
                ));
            }
        };
        if !canon.is_ascii() {
            return Err(invalid("KSeF number", s, "must be ASCII"));
        }
        let b = canon.as_bytes();
        if b[10] != b'-' || b[19] != b'-' || b[32] != b'-' {
            return Err(invalid("KSeF number", s, "expected NIP-YYYYMMDD-HEX12-CC"));
        }
        if !nip_pattern(&canon[..10]) {
            return Err(invalid(
                "KSeF number",
                s,
                "NIP part does not match the NIP pattern",
            ));
        }
        if !date_ok(&canon[11..19]) {
            return Err(invalid("KSeF number", s, "invalid date part"));
        }
        if !upper_hex(&canon[20..32]) || !upper_hex(&canon[33..35]) {
            return Err(invalid(
                "KSeF number",
                s,
                "technical part and checksum must be uppercase hex",
            ));
        }
        if format!("{:02X}", crc8(&b[..32])) != canon[33..] {
            return Err(invalid("KSeF number", s, "CRC-8 checksum mismatch"));
        }
        Ok(Self(s.to_owned()))
    }

    /// Build a number from its parts, computing the checksum (e.g. for simulators and tests).
    pub fn generate(nip: &Nip, date: chrono::NaiveDate, technical: [u8; 6]) -> Result<Self> {
        let data = format!(
            "{}-{}-{}",
            nip.as_str(),
            date.format("%Y%m%d"),
            hex::encode_upper(technical)
        );
        let s = format!("{data}-{:02X}", crc8(data.as_bytes()));
        Self::parse(&s)
    }

    /// The 35-character form (removes the legacy extra hyphen).
    pub fn normalized(&self) -> String {
        if self.0.len() == 36 {
            format!("{}{}", &self.0[..26], &self.0[27..])
        } else {
            self.0.clone()
        }
    }

    /// The seller NIP part.
    pub fn nip(&self) -> &str {
        &self.0[..10]
    }

    /// The date part.
    pub fn date(&self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.0[11..19], "%Y%m%d").ok()
    }
}

/// Kind of a KSeF reference number (the `TT` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReferenceKind {
    /// CR: auth challenge.
    Challenge,
    /// AU: authentication operation.
    Auth,
    /// SO: online session.
    OnlineSession,
    /// SB: batch session.
    BatchSession,
    /// EE: invoice in a session.
    Invoice,
    /// EU: UPO.
    Upo,
    /// EH: export.
    Export,
    /// EC: KSeF token.
    Token,
    /// EG: permission operation.
    Permission,
    /// Any other two uppercase letters.
    Other([u8; 2]),
}

impl ReferenceKind {
    fn from_code(c: &[u8]) -> Self {
        match c {
            b"CR" => Self::Challenge,
            b"AU" => Self::Auth,
            b"SO" => Self::OnlineSession,
            b"SB" => Self::BatchSession,
            b"EE" => Self::Invoice,
            b"EU" => Self::Upo,
            b"EH" => Self::Export,
            b"EC" => Self::Token,
            b"EG" => Self::Permission,
            _ => Self::Other([c[0], c[1]]),
        }
    }

    /// The two-letter code.
    pub fn code(&self) -> [u8; 2] {
        match self {
            Self::Challenge => *b"CR",
            Self::Auth => *b"AU",
            Self::OnlineSession => *b"SO",
            Self::BatchSession => *b"SB",
            Self::Invoice => *b"EE",
            Self::Upo => *b"EU",
            Self::Export => *b"EH",
            Self::Token => *b"EC",
            Self::Permission => *b"EG",
            Self::Other(c) => *c,
        }
    }
}

/// Reference number `YYYYMMDD-TT-HEX10-HEX10-CC` (36 chars). The checksum is validated by
/// [`ReferenceNumber::parse_strict`] (observed rule: CRC-8 over the first 33 characters);
/// [`ReferenceNumber::parse`] checks only the format, because the rule is observed, not documented.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReferenceNumber(String);
string_id!(ReferenceNumber);

impl ReferenceNumber {
    /// Parse and validate the format.
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        if b.len() != 36 || !s.is_ascii() {
            return Err(invalid("reference number", s, "must be 36 characters"));
        }
        if b[8] != b'-' || b[11] != b'-' || b[22] != b'-' || b[33] != b'-' {
            return Err(invalid(
                "reference number",
                s,
                "expected YYYYMMDD-TT-HEX10-HEX10-CC",
            ));
        }
        if !all_digits(&s[..8]) || !b[9..11].iter().all(u8::is_ascii_uppercase) {
            return Err(invalid(
                "reference number",
                s,
                "expected YYYYMMDD-TT-HEX10-HEX10-CC",
            ));
        }
        if !upper_hex(&s[12..22]) || !upper_hex(&s[23..33]) || !upper_hex(&s[34..]) {
            return Err(invalid(
                "reference number",
                s,
                "hex parts must be uppercase hex",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Parse, validate the format and the CRC-8 over the first 33 characters.
    pub fn parse_strict(s: &str) -> Result<Self> {
        let r = Self::parse(s)?;
        if format!("{:02X}", crc8(&s.as_bytes()[..33])) != s[34..] {
            return Err(invalid("reference number", s, "CRC-8 checksum mismatch"));
        }
        Ok(r)
    }

    /// Generate a reference number of the given kind and date with random hex parts.
    pub fn generate(kind: ReferenceKind, date: chrono::NaiveDate) -> Self {
        let mut rng = rand::rng();
        let a: [u8; 5] = rng.random();
        let b: [u8; 5] = rng.random();
        let code = kind.code();
        let data = format!(
            "{}-{}{}-{}-{}",
            date.format("%Y%m%d"),
            char::from(code[0]),
            char::from(code[1]),
            hex::encode_upper(a),
            hex::encode_upper(b)
        );
        Self(format!("{data}-{:02X}", crc8(data.as_bytes())))
    }

    /// The kind (`TT`).
    pub fn kind(&self) -> ReferenceKind {
        ReferenceKind::from_code(&self.0.as_bytes()[9..11])
    }
}

#[cfg(test)]
mod tests;
