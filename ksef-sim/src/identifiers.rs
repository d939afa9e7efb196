//! KSeF identifiers: the numbers the simulator issues (reference numbers, KSeF numbers) and the
//! identifiers it checks (NIP, PESEL, InternalId, NipVatUe, PeppolId).
//!
//! * Reference number: `YYYYMMDD-TT-HEX(10)-HEX(10)-CC`, 36 characters (`TT` = [`RefKind`]).
//! * KSeF number: `NIP(10)-YYYYMMDD-HEX(12)-CC`, 35 characters.
//!
//! `CC` is CRC-8 (polynomial 0x07, init 0x00, no reflection, no final XOR) over all preceding
//! characters (hyphens included), as two uppercase hex digits. The date is the KSeF business date
//! (Europe/Warsaw) of the moment the number is issued.

use chrono::NaiveDate;

/// CRC-8/SMBUS: polynomial 0x07, init 0x00, no reflection, no final XOR.
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

/// The kinds of reference numbers the simulator issues (the `TT` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// `CR`: authentication challenge.
    Challenge,
    /// `AU`: authentication operation.
    Auth,
    /// `EC`: KSeF token.
    KsefToken,
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
    /// `EG`: permission operation (grant or revocation).
    PermissionOperation,
    /// `EH`: certificate enrollment (as in the spec's example).
    CertificateEnrollment,
}

impl RefKind {
    fn code(self) -> &'static str {
        match self {
            RefKind::Challenge => "CR",
            RefKind::Auth => "AU",
            RefKind::KsefToken => "EC",
            RefKind::OnlineSession => "SO",
            RefKind::BatchSession => "SB",
            RefKind::Invoice => "EE",
            RefKind::Upo => "EU",
            RefKind::Export => "EH",
            RefKind::PermissionOperation => "EG",
            RefKind::CertificateEnrollment => "EH",
        }
    }
}

fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len.div_ceil(2)];
    rand::fill(bytes.as_mut_slice());
    let mut s = hex::encode_upper(bytes);
    s.truncate(len);
    s
}

fn with_checksum(body: String) -> String {
    let cc = crc8(body.as_bytes());
    format!("{body}-{cc:02X}")
}

/// A fresh reference number of `kind` dated `date`.
pub(crate) fn reference_number(kind: RefKind, date: NaiveDate) -> String {
    with_checksum(format!(
        "{}-{}-{}-{}",
        date.format("%Y%m%d"),
        kind.code(),
        random_hex(10),
        random_hex(10)
    ))
}

/// A fresh KSeF number for the seller `nip` (10 digits) dated `date`.
pub(crate) fn ksef_number(nip: &str, date: NaiveDate) -> String {
    with_checksum(format!(
        "{nip}-{}-{}",
        date.format("%Y%m%d"),
        random_hex(12)
    ))
}

/// Whether `b[range]` is all uppercase hex digits.
fn upper_hex(b: &[u8], range: std::ops::Range<usize>) -> bool {
    b.get(range).is_some_and(|h| {
        h.iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    })
}

fn digits(b: &[u8], range: std::ops::Range<usize>) -> bool {
    b.get(range)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

fn checksum_ok(s: &str, body_len: usize) -> bool {
    let cc = crc8(s.as_bytes().get(..body_len).unwrap_or_default());
    s.get(body_len + 1..) == Some(format!("{cc:02X}").as_str())
}

/// Whether `s` is a 36-character reference number (of `kind`, when given) with a valid checksum.
pub(crate) fn is_reference_number(s: &str, kind: Option<RefKind>) -> bool {
    let b = s.as_bytes();
    let dashes = [8usize, 11, 22, 33]
        .iter()
        .all(|i| b.get(*i) == Some(&b'-'));
    let tt_ok = b.get(9..11).is_some_and(|t| {
        t.iter().all(u8::is_ascii_uppercase) && kind.is_none_or(|k| k.code().as_bytes() == t)
    });
    b.len() == 36
        && digits(b, 0..8)
        && dashes
        && tt_ok
        && upper_hex(b, 12..22)
        && upper_hex(b, 23..33)
        && upper_hex(b, 34..36)
        && checksum_ok(s, 33)
}

/// Whether `s` is a 35-character KSeF number with a valid checksum.
pub(crate) fn is_ksef_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 35
        && digits(b, 0..10)
        && b.get(10) == Some(&b'-')
        && digits(b, 11..19)
        && b.get(19) == Some(&b'-')
        && upper_hex(b, 20..32)
        && b.get(32) == Some(&b'-')
        && upper_hex(b, 33..35)
        && checksum_ok(s, 32)
}

/// NIP: pattern and checksum.
pub(crate) fn is_valid_nip(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = b.iter().map(|c| u32::from(c - b'0')).collect();
    // pattern ^[1-9]((\d[1-9])|([1-9]\d))\d{7}$
    if d[0] == 0 || (d[1] == 0 && d[2] == 0) {
        return false;
    }
    let w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    let sum: u32 = d.iter().zip(w).map(|(a, b)| a * b).sum();
    let c = sum % 11;
    c != 10 && c == d[9]
}

/// PESEL: pattern (month codes) and checksum.
pub(crate) fn is_valid_pesel(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = b.iter().map(|c| u32::from(c - b'0')).collect();
    let month = d[2] * 10 + d[3];
    if !matches!(month % 20, 1..=12) {
        return false;
    }
    let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d.iter().zip(w).map(|(a, b)| a * b).sum();
    (10 - sum % 10) % 10 == d[10]
}

/// InternalId `NIP-ddddd` with its check digit.
pub(crate) fn is_valid_internal_id(s: &str) -> bool {
    let Some((nip, rest)) = s.split_once('-') else {
        return false;
    };
    if !is_valid_nip(nip) || rest.len() != 5 || !rest.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let digits: Vec<u32> = nip
        .bytes()
        .chain(rest.bytes())
        .map(|c| u32::from(c - b'0'))
        .collect();
    let (body, check) = digits.split_at(14);
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    check.first() == Some(&(sum % 10))
}

/// Validates a context identifier value for its type; `Err(reason)` when invalid.
pub(crate) fn validate_context(kind: &str, value: &str) -> Result<(), String> {
    let ok = match kind {
        "Nip" => is_valid_nip(value),
        "InternalId" => is_valid_internal_id(value),
        "NipVatUe" => value
            .split_once('-')
            .is_some_and(|(n, vat)| is_valid_nip(n) && vat.len() >= 4 && vat.len() <= 16),
        "PeppolId" => {
            let b = value.as_bytes();
            b.len() == 9
                && b.first() == Some(&b'P')
                && b.get(1..3)
                    .is_some_and(|x| x.iter().all(u8::is_ascii_uppercase))
                && b.get(3..).is_some_and(|x| x.iter().all(u8::is_ascii_digit))
        }
        _ => return Err(format!("Unknown context identifier type '{kind}'.")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid {kind} value '{value}'."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc8_check_value_and_the_documented_ksef_number() {
        // CRC-8/SMBUS check value over "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        // The KSeF number example of the official documentation.
        assert_eq!(crc8(b"5265877635-20250826-0100001AF629"), 0xAF);
        assert!(is_ksef_number("5265877635-20250826-0100001AF629-AF"));
        assert!(!is_ksef_number("5265877635-20250826-0100001AF629-AE"));
        // Official UPO example numbers.
        assert!(is_ksef_number("5265877635-20250916-0200A0D6723E-C2"));
        assert!(is_ksef_number("5265877635-20250916-010040741B3E-46"));
    }

    #[test]
    fn official_reference_numbers_validate() {
        // Examples from the official OpenAPI document.
        for (r, kind) in [
            ("20250514-CR-226FB7B000-3ACF9BE4C0-10", RefKind::Challenge),
            (
                "20250625-SO-2C3E6C8000-B675CF5D68-07",
                RefKind::OnlineSession,
            ),
            (
                "20250626-SB-213D593000-4DE10D80A5-E9",
                RefKind::BatchSession,
            ),
            ("20250625-EE-319D7EE000-B67F415CDC-2C", RefKind::Invoice),
        ] {
            assert!(is_reference_number(r, Some(kind)), "{r}");
            assert!(is_reference_number(r, None), "{r}");
        }
        assert!(!is_reference_number(
            "20250514-CR-226FB7B000-3ACF9BE4C0-10",
            Some(RefKind::Auth)
        ));
    }

    #[test]
    fn generated_numbers_validate_and_carry_the_date() {
        let date = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        for kind in [
            RefKind::Challenge,
            RefKind::Auth,
            RefKind::KsefToken,
            RefKind::OnlineSession,
            RefKind::BatchSession,
            RefKind::Invoice,
            RefKind::Upo,
            RefKind::Export,
        ] {
            for _ in 0..20 {
                let r = reference_number(kind, date);
                assert!(r.starts_with("20280229-"), "{r}");
                assert_eq!(r.get(9..11), Some(kind.code()));
                assert!(is_reference_number(&r, Some(kind)), "{r}");
                let mut broken = r.clone();
                let cc = if r.ends_with("00") { "01" } else { "00" };
                broken.replace_range(34..36, cc);
                assert!(!is_reference_number(&broken, None), "{broken}");
            }
        }
        for _ in 0..50 {
            let k = ksef_number("5265877635", date);
            assert!(k.starts_with("5265877635-20280229-"), "{k}");
            assert!(is_ksef_number(&k), "{k}");
            assert!(!is_reference_number(&k, None));
        }
    }

    #[test]
    fn nip_pesel_internal_id() {
        assert!(is_valid_nip("5265877635"));
        assert!(!is_valid_nip("5265877636"));
        assert!(is_valid_pesel("44051401359"));
        assert!(!is_valid_pesel("44051401358"));
        // check digit computed by the rule for 5265877635-0001?
        let base = "5265877635-0001";
        let digits: Vec<u32> = base
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|c| u32::from(c - b'0'))
            .collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        let id = format!("{base}{}", sum % 10);
        assert!(is_valid_internal_id(&id));
        let wrong = format!("{base}{}", (sum + 1) % 10);
        assert!(!is_valid_internal_id(&wrong));
    }
}
