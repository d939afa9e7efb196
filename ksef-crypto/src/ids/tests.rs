use super::*;
use proptest::prelude::*;

#[test]
fn ksef_number_known_example() {
    // the KSeF number given as an example in the KSeF documentation
    let n = KsefNumber::parse("5265877635-20250826-0100001AF629-AF").unwrap();
    assert_eq!(n.nip(), "5265877635");
    assert_eq!(n.date(), chrono::NaiveDate::from_ymd_opt(2025, 8, 26));
    assert_eq!(
        format!("{:02X}", crc8(b"5265877635-20250826-0100001AF629")),
        "AF"
    );
    // wrong checksum, lowercase, wrong length
    assert!(KsefNumber::parse("5265877635-20250826-0100001AF629-AE").is_err());
    assert!(KsefNumber::parse("5265877635-20250826-0100001af629-AF").is_err());
    assert!(KsefNumber::parse("5265877635-20250826-0100001AF629-A").is_err());
    // legacy 36-char form: extra hyphen in the technical part, same checksum
    let legacy = KsefNumber::parse("5265877635-20250826-0100001-AF629-AF");
    assert!(legacy.is_err(), "hyphen must split 6+6");
    let legacy = KsefNumber::parse("5265877635-20250826-010000-1AF629-AF").unwrap();
    assert_eq!(legacy.normalized(), "5265877635-20250826-0100001AF629-AF");
}

#[test]
fn crc8_check_value() {
    // CRC-8 (poly 0x07, init 0, no reflection, no xorout) check value for "123456789" is 0xF4
    assert_eq!(crc8(b"123456789"), 0xF4);
}

#[test]
fn nip_known() {
    assert!(Nip::parse("5265877635").is_ok());
    assert!(Nip::parse("5265877636").is_err());
    assert!(Nip::parse("0265877635").is_err());
    assert!(Nip::parse("526587763").is_err());
    // pattern-only accepts a bad checksum
    assert!(Nip::parse_pattern_only("5265877636").is_ok());
}

#[test]
fn pesel_known() {
    // textbook valid PESELs
    assert!(Pesel::parse("44051401359").is_ok());
    assert!(Pesel::parse("02070803628").is_ok());
    assert!(Pesel::parse("44051401358").is_err());
    assert!(Pesel::parse("44151401359").is_err()); // month 15
}

#[test]
fn internal_id_known() {
    let nip = Nip::parse("5265877635").unwrap();
    let id = InternalId::from_nip(&nip, 1).unwrap();
    assert_eq!(&id.as_str()[..15], "5265877635-0001");
    // recompute by hand: digits 5,2,6,5,8,7,7,6,3,5,0,0,0,1 weights 1,3,...
    let d = [5u32, 2, 6, 5, 8, 7, 7, 6, 3, 5, 0, 0, 0, 1];
    let s: u32 = d
        .iter()
        .enumerate()
        .map(|(i, x)| x * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    assert_eq!(id.as_str().as_bytes()[15] - b'0', (s % 10) as u8);
    assert!(InternalId::parse(id.as_str()).is_ok());
    let mut bad = id.as_str().to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '9' {
        '0'
    } else {
        char::from(last as u8 + 1)
    });
    assert!(InternalId::parse(&bad).is_err());
}

#[test]
fn nip_vat_ue_and_peppol() {
    assert!(NipVatUe::parse("5265877635-DE123456789").is_ok());
    assert!(NipVatUe::parse("5265877635-ATU12345678").is_ok());
    assert!(NipVatUe::parse("5265877635-IE1234567AB").is_ok());
    assert!(NipVatUe::parse("5265877635-IE1A23456B").is_ok());
    assert!(NipVatUe::parse("5265877635-XIGD123").is_ok());
    assert!(NipVatUe::parse("5265877635-DE12345678").is_err());
    assert!(NipVatUe::parse("5265877635-PL1234567890").is_err());
    assert!(PeppolId::parse("PAB123456").is_ok());
    assert!(PeppolId::parse("PaB123456").is_err());
    assert!(CertificateSerial::parse("0123456789ABCDEF").is_ok());
    assert!(CertificateSerial::parse("0123456789abcdef").is_err());
}

#[test]
fn reference_number_observed_checksum() {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 10, 11).unwrap();
    let r = ReferenceNumber::generate(ReferenceKind::OnlineSession, d);
    assert_eq!(r.as_str().len(), 36);
    assert_eq!(r.kind(), ReferenceKind::OnlineSession);
    assert!(ReferenceNumber::parse_strict(r.as_str()).is_ok());
    assert!(ReferenceNumber::parse("20251011-so-0123456789-0123456789-00").is_err());
}

fn corrupt(s: &str, idx: usize, alt: u8) -> Option<String> {
    let mut b = s.as_bytes().to_vec();
    let i = idx % b.len();
    let orig = b[i];
    let alphabet: &[u8] = if orig.is_ascii_digit() {
        b"0123456789"
    } else if orig == b'-' {
        return None;
    } else {
        b"0123456789ABCDEF"
    };
    let c = alphabet[(alt as usize) % alphabet.len()];
    if c == orig {
        return None;
    }
    b[i] = c;
    String::from_utf8(b).ok()
}

proptest! {
    #[test]
    fn nip_generate_validate(_x in 0u8..4) {
        let n = Nip::random();
        prop_assert!(Nip::parse(n.as_str()).is_ok());
    }

    #[test]
    fn nip_single_digit_corruption_rejected(idx in 0usize..10, alt in 0u8..10) {
        let n = Nip::random();
        if let Some(c) = corrupt(n.as_str(), idx, alt) {
            prop_assert!(Nip::parse(&c).is_err(), "{} accepted", c);
        }
    }

    #[test]
    fn pesel_generate_validate_corrupt(idx in 0usize..11, alt in 0u8..10) {
        let p = Pesel::random();
        prop_assert!(Pesel::parse(p.as_str()).is_ok());
        if let Some(c) = corrupt(p.as_str(), idx, alt) {
            prop_assert!(Pesel::parse(&c).is_err(), "{} accepted", c);
        }
    }

    #[test]
    fn ksef_number_generate_validate_corrupt(
        tech in any::<[u8; 6]>(),
        days in 0i64..3000,
        idx in 0usize..35,
        alt in 0u8..16,
    ) {
        let nip = Nip::random();
        let date = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(days);
        let k = KsefNumber::generate(&nip, date, tech).unwrap();
        prop_assert_eq!(k.as_str().len(), 35);
        prop_assert!(KsefNumber::parse(k.as_str()).is_ok());
        if let Some(c) = corrupt(k.as_str(), idx, alt) {
            // CRC-8 detects every single-character substitution
            prop_assert!(KsefNumber::parse(&c).is_err(), "{} accepted", c);
        }
    }

    #[test]
    fn internal_id_generate_validate_corrupt(suffix in 0u16..10000, idx in 11usize..16, alt in 0u8..10) {
        let id = InternalId::from_nip(&Nip::random(), suffix).unwrap();
        prop_assert!(InternalId::parse(id.as_str()).is_ok());
        if let Some(c) = corrupt(id.as_str(), idx, alt) {
            prop_assert!(InternalId::parse(&c).is_err(), "{} accepted", c);
        }
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,40}") {
        let _ = KsefNumber::parse(&s);
        let _ = ReferenceNumber::parse_strict(&s);
        let _ = Nip::parse(&s);
        let _ = Pesel::parse(&s);
        let _ = InternalId::parse(&s);
        let _ = NipVatUe::parse(&s);
        let _ = PeppolId::parse(&s);
        let _ = CertificateSerial::parse(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(
        prefix in "[0-9]{10}-[A-Z]{2}",
        tail in "[\\x{e9}\\x{17c}0-9A-F-]{0,26}",
    ) {
        let s = format!("{prefix}{tail}");
        let _ = KsefNumber::parse(&s);
        let _ = NipVatUe::parse(&s);
        let _ = InternalId::parse(&s);
        let _ = ReferenceNumber::parse(&s);
    }
}

#[test]
fn non_ascii_inputs_are_rejected_not_panicking() {
    assert!(NipVatUe::parse("5265877635-ATé1234567").is_err());
    assert!(KsefNumber::parse("5265877635-20250826-0100001AF62é-A").is_err());
    assert!(KsefNumber::parse("5265877635-20250826-0100001AF6é-AF").is_err());
}
