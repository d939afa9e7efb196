//! KSeF numbers and reference numbers (ksef-rules §7).
//!
//! * KSeF number: `NIP(10)-YYYYMMDD-HEX(12)-CC`, 35 characters.
//! * Reference number: `YYYYMMDD-TT-HEX(10)-HEX(10)-CC`, 36 characters.
//!
//! `CC` is CRC-8 (polynomial 0x07, init 0x00, no reflection, no final XOR)
//! over all preceding characters (hyphens included), as two uppercase hex digits.

use chrono::NaiveDate;
use rand::RngExt;

/// CRC-8/SMBUS: poly 0x07, init 0, no reflection, no final XOR.
pub(crate) fn crc8(data: &[u8]) -> u8 {
    let mut crc: u8 = 0;
    for &byte in data {
        crc ^= byte;
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

/// Kinds of reference numbers this part of the simulator issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// `SO`: online session.
    OnlineSession,
    /// `SB`: batch session.
    BatchSession,
    /// `EE`: invoice.
    Invoice,
    /// `EU`: UPO.
    Upo,
    /// `EH`: export.
    Export,
    /// `AU`: authentication operation (test affordance).
    Auth,
    /// `EC`: KSeF token (test affordance).
    KsefToken,
}

impl RefKind {
    fn code(self) -> &'static str {
        match self {
            RefKind::OnlineSession => "SO",
            RefKind::BatchSession => "SB",
            RefKind::Invoice => "EE",
            RefKind::Upo => "EU",
            RefKind::Export => "EH",
            RefKind::Auth => "AU",
            RefKind::KsefToken => "EC",
        }
    }
}

fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(HEX[rng.random_range(0..16usize)]))
        .collect()
}

/// A fresh reference number of the given kind for `date`.
pub(crate) fn reference_number(kind: RefKind, date: NaiveDate) -> String {
    let body = format!(
        "{}-{}-{}-{}",
        date.format("%Y%m%d"),
        kind.code(),
        random_hex(10),
        random_hex(10)
    );
    let cc = crc8(body.as_bytes());
    format!("{body}-{cc:02X}")
}

/// A fresh KSeF number for the seller `nip` (10 digits) and `date`.
pub(crate) fn ksef_number(nip: &str, date: NaiveDate) -> String {
    let body = format!("{nip}-{}-{}", date.format("%Y%m%d"), random_hex(12));
    let cc = crc8(body.as_bytes());
    format!("{body}-{cc:02X}")
}

/// Whether `s` is a syntactically valid 35-character KSeF number with a correct checksum.
pub(crate) fn is_valid_ksef_number(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 35 || !s.is_ascii() {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let hex = |r: std::ops::Range<usize>| {
        b[r].iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    };
    if !(digits(0..10) && b[10] == b'-' && digits(11..19) && b[19] == b'-') {
        return false;
    }
    if !(hex(20..32) && b[32] == b'-' && hex(33..35)) {
        return false;
    }
    format!("{:02X}", crc8(&b[..32])) == s[33..35]
}

#[cfg(test)]
/// Whether `s` is a syntactically valid 36-character reference number with a correct checksum.
pub(crate) fn is_valid_reference_number(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 || !s.is_ascii() {
        return false;
    }
    let ok_shape = b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..11]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b[11] == b'-'
        && b[22] == b'-'
        && b[33] == b'-';
    ok_shape && format!("{:02X}", crc8(&b[..33])) == s[34..36]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc8_check_value() {
        // CRC-8/SMBUS check value over "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
    }

    #[test]
    fn ksef_number_example_from_rules() {
        assert!(is_valid_ksef_number("5265877635-20250826-0100001AF629-AF"));
        assert!(!is_valid_ksef_number("5265877635-20250826-0100001AF629-AE"));
        // Official UPO example numbers.
        assert!(is_valid_ksef_number("5265877635-20250916-0200A0D6723E-C2"));
        assert!(is_valid_ksef_number("5265877635-20250916-010040741B3E-46"));
    }

    #[test]
    fn generated_numbers_are_valid() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        for _ in 0..50 {
            let k = ksef_number("5265877635", d);
            assert_eq!(k.len(), 35);
            assert!(k.starts_with("5265877635-20260102-"));
            assert!(is_valid_ksef_number(&k), "{k}");
            let r = reference_number(RefKind::BatchSession, d);
            assert_eq!(r.len(), 36);
            assert_eq!(&r[8..12], "-SB-");
            assert!(is_valid_reference_number(&r), "{r}");
        }
    }

    #[test]
    fn official_reference_number_checksum() {
        // Examples from the official OpenAPI document.
        assert!(is_valid_reference_number(
            "20250625-SO-2C3E6C8000-B675CF5D68-07"
        ));
        assert!(is_valid_reference_number(
            "20250626-SB-213D593000-4DE10D80A5-E9"
        ));
        assert!(is_valid_reference_number(
            "20250625-EE-319D7EE000-B67F415CDC-2C"
        ));
        let d = NaiveDate::from_ymd_opt(2025, 9, 16).unwrap();
        let r = reference_number(RefKind::Upo, d);
        let mut broken = r.clone();
        broken.replace_range(34..36, if &r[34..36] == "00" { "01" } else { "00" });
        assert!(!is_valid_reference_number(&broken));
    }
}
