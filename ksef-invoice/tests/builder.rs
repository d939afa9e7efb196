//! The builder: every kind of invoice it makes validates with `xmllint --schema` (the official
//! XSD), totals are exact, and bad values are refused with the XML path of the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use common::{Schema, xmllint_validate};
use ksef_invoice::{
    Amount, CorrectedInvoice, Invoice, InvoiceBuilder, InvoiceError, InvoiceKind, Line, Party,
    PartyId, Payment, SettledAdvance, VatRate,
};
use proptest::prelude::*;

fn a(s: &str) -> Amount {
    s.parse().unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn seller() -> Party {
    Party::with_nip("5265877635", "Sprzedawca Testowy sp. z o.o.")
        .address("ul. Prosta 1", Some("00-001 Warszawa"))
        .email("biuro@example.com")
}

fn buyer() -> Party {
    Party::with_nip("5260250274", "Nabywca Testowy S.A.")
        .address("ul. Krzywa 2, 30-002 Kraków", None)
}

fn created() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0).unwrap()
}

fn xml(b: InvoiceBuilder) -> Vec<u8> {
    b.created_at(created()).build().unwrap().to_xml().unwrap()
}

fn text_of(doc: &[u8], element: &str) -> Vec<String> {
    let t = String::from_utf8(doc.to_vec()).unwrap();
    t.split(&format!("<{element}>"))
        .skip(1)
        .map(|p| p.split('<').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_vat_invoice_has_exact_totals_per_rate_and_validates() {
    let b = Invoice::vat(seller(), buyer(), "FV/2026/01/1", date(2026, 1, 15))
        .line(Line::new("Usługa programistyczna", a("2.5"), a("39.99"), VatRate::R23).unit("h"))
        .line(Line::new("Licencja", a("1"), a("0.01"), VatRate::R23))
        .line(Line::new("Książka", a("3"), a("19.99"), VatRate::R5).unit("szt."))
        .line(Line::new("Eksport", a("1"), a("100"), VatRate::ZeroExport))
        .payment(Payment {
            due_date: Some(date(2026, 1, 29)),
            form: Some(6),
            bank_account: Some("61109010140000071219812874".into()),
            paid_on: None,
        })
        .footer("Dziękujemy za zakupy – zażółć gęślą jaźń");
    let totals = b.totals().unwrap();
    // 2.5 × 39.99 = 99.975 → 99.98; + 0.01 = 99.99 net at 23 % → 23.00 VAT (22.9977).
    assert_eq!(totals.per_rate[0].field, "P_13_1");
    assert_eq!(totals.per_rate[0].net.to_string(), "99.99");
    assert_eq!(totals.per_rate[0].vat.to_string(), "23.00");
    assert_eq!(totals.per_rate[1].field, "P_13_3");
    assert_eq!(totals.per_rate[1].net.to_string(), "59.97");
    assert_eq!(totals.per_rate[1].vat.to_string(), "3.00");
    assert_eq!(totals.per_rate[2].field, "P_13_6_3");
    assert_eq!(totals.gross.to_string(), "285.96");
    let doc = xml(b);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    assert_eq!(text_of(&doc, "P_15"), ["285.96"]);
    assert_eq!(text_of(&doc, "P_11"), ["99.98", "0.01", "59.97", "100.00"]);
    let text = String::from_utf8(doc.clone()).unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Faktura "),
        "{text}"
    );
    assert!(
        text.contains(" xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\""),
        "{text}"
    );
    assert!(text.contains("<KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza><WariantFormularza>3</WariantFormularza>"), "{text}");
    let back = Invoice::parse(&doc).unwrap();
    assert_eq!(back.kind(), Some(InvoiceKind::Vat));
    assert_eq!(back.number(), "FV/2026/01/1");
    assert_eq!(back.total().unwrap().canonical(), "285.96");
    assert_eq!(back.line_count(), 4);
}

#[test]
fn a_correction_carries_the_differences_and_the_corrected_invoice() {
    let corrected = CorrectedInvoice {
        number: "FV/2026/01/1".into(),
        issue_date: date(2026, 1, 15),
        ksef_number: Some("5265877635-20260115-0100001AF629-AF".into()),
    };
    let b = Invoice::correction(
        seller(),
        buyer(),
        "KOR/2026/01/1",
        date(2026, 1, 20),
        corrected,
        "Rabat",
    )
    .line_before(Line::new("Usługa", a("10"), a("100"), VatRate::R23))
    .line(Line::new("Usługa", a("10"), a("90"), VatRate::R23));
    let totals = b.totals().unwrap();
    assert_eq!(totals.net.to_string(), "-100.00");
    assert_eq!(totals.vat.to_string(), "-23.00");
    assert_eq!(totals.gross.to_string(), "-123.00");
    let doc = xml(b);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    let text = String::from_utf8(doc).unwrap();
    assert!(
        text.contains(
            "<RodzajFaktury>KOR</RodzajFaktury><PrzyczynaKorekty>Rabat</PrzyczynaKorekty>"
        ),
        "{text}"
    );
    assert!(text.contains("<NrKSeF>1</NrKSeF><NrKSeFFaKorygowanej>5265877635-20260115-0100001AF629-AF</NrKSeFFaKorygowanej>"), "{text}");
    assert!(text.contains("<StanPrzed>1</StanPrzed>"), "{text}");
}

#[test]
fn an_advance_splits_the_received_amount_over_the_order_rates() {
    let b = Invoice::advance(seller(), buyer(), "ZAL/2026/1", date(2026, 1, 15))
        .order_line(Line::new("Meble", a("1"), a("1000"), VatRate::R23))
        .order_line(Line::new("Transport", a("1"), a("100"), VatRate::R8))
        .advance_received(a("500"));
    let totals = b.totals().unwrap();
    assert_eq!(totals.gross.to_string(), "500.00");
    // 1230 of 1338 gross is at 23 %: 459.64 gross → 373.69 net + 85.95 VAT; the rest 40.36 at 8 %.
    assert_eq!(totals.per_rate[0].net.to_string(), "373.69");
    assert_eq!(totals.per_rate[0].vat.to_string(), "85.95");
    assert_eq!(totals.per_rate[1].net.to_string(), "37.37");
    assert_eq!(totals.per_rate[1].vat.to_string(), "2.99");
    let doc = xml(b);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    assert_eq!(text_of(&doc, "WartoscZamowienia"), ["1338.00"]);

    let zal = Invoice::parse(&doc).unwrap();
    let roz = Invoice::settlement(seller(), buyer(), "ROZ/2026/1", date(2026, 2, 1))
        .line(Line::new("Meble", a("1"), a("1000"), VatRate::R23))
        .line(Line::new("Transport", a("1"), a("100"), VatRate::R8))
        .settles(
            SettledAdvance::from_invoice(&zal, Some("5265877635-20260115-0100001AF629-AF"))
                .unwrap(),
        );
    let totals = roz.totals().unwrap();
    assert_eq!(totals.gross.to_string(), "838.00");
    let doc = xml(roz);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    assert!(String::from_utf8(doc).unwrap().contains(
        "<NrKSeFFaZaliczkowej>5265877635-20260115-0100001AF629-AF</NrKSeFFaZaliczkowej>"
    ));
}

#[test]
fn a_simplified_invoice_names_the_buyer_by_nip_and_keeps_to_450_pln() {
    let b = Invoice::simplified(seller(), "5260250274", "UPR/1", date(2026, 1, 15))
        .line(Line::new("Kawa", a("2"), a("12.50"), VatRate::R8));
    let doc = xml(b);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    assert_eq!(text_of(&doc, "RodzajFaktury"), ["UPR"]);
    let err = Invoice::simplified(seller(), "5260250274", "UPR/2", date(2026, 1, 15))
        .line(Line::new("Ekspres", a("1"), a("500"), VatRate::R23))
        .build()
        .unwrap_err();
    assert_eq!(err.path(), Some("Faktura/Fa/P_15"), "{err}");
}

#[test]
fn foreign_currency_exempt_and_reverse_charge_are_annotated() {
    let b = Invoice::vat(
        seller(),
        Party::new(
            PartyId::EuVat {
                country: "DE".into(),
                number: "811907980".into(),
            },
            "Kunde GmbH",
        )
        .address("Hauptstr. 1, Berlin", None),
        "FV/EUR/1",
        date(2026, 1, 15),
    )
    .currency("EUR", Some(a("4.2512")))
    .line(Line::new("Beratung", a("1"), a("100"), VatRate::R23))
    .line(Line::new("Szkolenie", a("1"), a("50"), VatRate::Exempt))
    .line(Line::new("Montaż", a("1"), a("70"), VatRate::ReverseCharge))
    .exemption_basis("art. 43 ust. 1 pkt 29 ustawy o VAT")
    .split_payment(true);
    let doc = xml(b);
    xmllint_validate(Schema::Fa3, std::slice::from_ref(&doc)).unwrap();
    assert_eq!(text_of(&doc, "P_14_1W"), ["97.78"]);
    assert_eq!(
        text_of(&doc, "P_19A"),
        ["art. 43 ust. 1 pkt 29 ustawy o VAT"]
    );
    assert_eq!(text_of(&doc, "P_18"), ["1"]);
    assert_eq!(text_of(&doc, "P_18A"), ["1"]);
    assert_eq!(text_of(&doc, "KodUE"), ["DE"]);
}

fn refused(b: InvoiceBuilder) -> InvoiceError {
    b.created_at(created()).build().unwrap_err()
}

#[test]
fn bad_values_are_refused_with_their_path() {
    let base = || Invoice::vat(seller(), buyer(), "FV/1", date(2026, 1, 15));
    let line = || Line::new("x", a("1"), a("1"), VatRate::R23);
    let cases: Vec<(InvoiceError, &str)> = vec![
        (
            refused(
                Invoice::vat(
                    Party::with_nip("5265877636", "S").address("a", None),
                    buyer(),
                    "FV/1",
                    date(2026, 1, 15),
                )
                .line(line()),
            ),
            "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP",
        ),
        (
            refused(
                Invoice::vat(
                    seller(),
                    Party::with_nip("0123456789", "B"),
                    "FV/1",
                    date(2026, 1, 15),
                )
                .line(line()),
            ),
            "Faktura/Podmiot2/DaneIdentyfikacyjne/NIP",
        ),
        (
            refused(Invoice::vat(seller(), buyer(), "", date(2026, 1, 15)).line(line())),
            "Faktura/Fa/P_2",
        ),
        (
            refused(
                Invoice::vat(seller(), buyer(), &"N".repeat(257), date(2026, 1, 15)).line(line()),
            ),
            "Faktura/Fa/P_2",
        ),
        (
            refused(base().line(Line::new("x", a("1"), a("1.123456789"), VatRate::R23))),
            "Faktura/Fa/FaWiersz[1]/P_9A",
        ),
        (
            refused(base().line(Line::new("x", a("1.1234567"), a("1"), VatRate::R23))),
            "Faktura/Fa/FaWiersz[1]/P_8B",
        ),
        (
            refused(base().line(Line::new(&"ż".repeat(513), a("1"), a("1"), VatRate::R23))),
            "Faktura/Fa/FaWiersz[1]/P_7",
        ),
        (
            refused(base().line(line()).currency("XYZ", Some(a("1")))),
            "Faktura/Fa/KodWaluty",
        ),
        (
            refused(base().line(line()).currency("EUR", None)),
            "Faktura/Fa/P_14_1W",
        ),
        (
            refused(base().line(Line::new("x", a("1"), a("1"), VatRate::Exempt))),
            "Faktura/Fa/Adnotacje/Zwolnienie/P_19A",
        ),
        (refused(base()), "Faktura/Fa/FaWiersz"),
        (
            refused(Invoice::vat(seller(), buyer(), "FV/1", date(2051, 1, 1)).line(line())),
            "Faktura/Fa/P_1",
        ),
        (
            refused(base().line(Line::new(
                "x",
                a("100000000000000000"),
                a("1"),
                VatRate::R23,
            ))),
            "Faktura/Fa/FaWiersz[1]/P_8B",
        ),
        (
            refused(base().line(line()).payment(Payment {
                bank_account: Some("12".into()),
                ..Payment::default()
            })),
            "Faktura/Fa/Platnosc/RachunekBankowy/NrRB",
        ),
        (
            refused(
                Invoice::vat(seller().country("XX"), buyer(), "FV/1", date(2026, 1, 15))
                    .line(line()),
            ),
            "Faktura/Podmiot1/Adres/KodKraju",
        ),
    ];
    for (err, path) in cases {
        assert_eq!(err.path(), Some(path), "{err}");
    }
    // Length is counted in characters: 512 × "ż" (1024 bytes) is a valid P_7.
    let doc = xml(base().line(Line::new(&"ż".repeat(512), a("1"), a("1"), VatRate::R23)));
    xmllint_validate(Schema::Fa3, &[doc]).unwrap();
}

// ---- property tests: random invoices of every kind always validate with xmllint ----

fn amount(max_int_digits: u32, frac: u32) -> impl Strategy<Value = Amount> {
    (
        0u64..10u64.pow(max_int_digits.min(18)),
        0u64..10u64.pow(frac),
    )
        .prop_map(move |(i, f)| {
            format!("{i}.{f:0>w$}", w = frac as usize)
                .parse::<Amount>()
                .unwrap()
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9ąćęłńóśźżĄĆĘŁŃÓŚŹŻ .,/-]{1,40}",
        "[ąęółśżźćń]{200,512}",
    ]
    .prop_map(|s| {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.is_empty() { "x".to_string() } else { t }
    })
}

fn rate() -> impl Strategy<Value = VatRate> {
    proptest::sample::select(
        VatRate::ALL
            .into_iter()
            .filter(|r| *r != VatRate::Exempt)
            .collect::<Vec<_>>(),
    )
}

fn lines(max: usize) -> impl Strategy<Value = Vec<Line>> {
    proptest::collection::vec(
        (text(), amount(6, 3), amount(9, 2), rate())
            .prop_map(|(n, q, p, r)| Line::new(&n, q, p, r).unit("szt.")),
        1..max,
    )
}

#[derive(Debug, Clone)]
enum Kind {
    Vat(Vec<Line>),
    Kor(Vec<Line>, Vec<Line>),
    Zal(Vec<Line>, u32),
    Roz(Vec<Line>, Amount, Amount),
    Upr(Vec<Line>),
    Big(Amount, i64),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        lines(12).prop_map(Kind::Vat),
        (lines(5), lines(5)).prop_map(|(b, a)| Kind::Kor(b, a)),
        (lines(5), 1u32..100).prop_map(|(l, pct)| Kind::Zal(l, pct)),
        (lines(5), amount(4, 2), amount(3, 2)).prop_map(|(l, n, v)| Kind::Roz(l, n, v)),
        proptest::collection::vec(
            (text(), amount(1, 0), amount(1, 2), rate())
                .prop_map(|(n, q, p, r)| Line::new(&n, q, p, r)),
            1..3
        )
        .prop_map(Kind::Upr),
        // Up to 18-digit amounts (16 before the point): P_15 stays within the schema's 18 digits.
        (1i64..1_000_000_000_000_000, 1i64..=700)
            .prop_map(|(n, q)| Kind::Big(Amount::from_minor(n), q)),
    ]
}

fn build(k: Kind, number: &str, name: &str) -> Result<Invoice, InvoiceError> {
    let d = date(2026, 3, 29);
    let s = Party::with_nip("5265877635", name).address(name, Some("00-950 Warszawa"));
    let b = match k {
        Kind::Vat(lines) => lines
            .into_iter()
            .fold(Invoice::vat(s, buyer(), number, d), InvoiceBuilder::line),
        Kind::Kor(before, after) => {
            let c = CorrectedInvoice {
                number: "FV/1".into(),
                issue_date: d,
                ksef_number: None,
            };
            let reason: String = name.chars().take(256).collect();
            let b = before.into_iter().fold(
                Invoice::correction(s, buyer(), number, d, c, &reason),
                InvoiceBuilder::line_before,
            );
            after.into_iter().fold(b, InvoiceBuilder::line)
        }
        Kind::Zal(lines, pct) => {
            let b = lines.into_iter().fold(
                Invoice::advance(s, buyer(), number, d),
                InvoiceBuilder::order_line,
            );
            let part = b.order_gross().unwrap().percent(pct).unwrap();
            b.advance_received(part)
        }
        Kind::Roz(lines, net, vat) => lines
            .into_iter()
            .fold(
                Invoice::settlement(s, buyer(), number, d),
                InvoiceBuilder::line,
            )
            .settles(SettledAdvance::outside_ksef("ZAL/1").part(VatRate::R23, net, vat)),
        Kind::Upr(lines) => lines.into_iter().fold(
            Invoice::simplified(s, "5260250274", number, d),
            InvoiceBuilder::line,
        ),
        Kind::Big(price, q) => Invoice::vat(s, buyer(), number, d).line(Line::new(
            name,
            Amount::from_int(q),
            price,
            VatRate::R23,
        )),
    };
    b.created_at(created()).build()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_invoices_of_every_kind_validate_with_xmllint(
        batch in proptest::collection::vec((kind(), "[A-Z]{2}/[0-9]{1,6}/[a-zęó]{0,8}", text()), 8),
    ) {
        let mut docs = Vec::new();
        for (k, number, name) in batch {
            match build(k.clone(), &number, &name) {
                Ok(inv) => docs.push(inv.to_xml().unwrap()),
                // The only refusals the generator can provoke: an over-limit simplified invoice
                // and totals beyond 18 digits, each with its path.
                Err(e) => prop_assert!(
                    e.path() == Some("Faktura/Fa/P_15") || e.path().is_some_and(|p| p.contains("P_13") || p.contains("P_14")),
                    "{k:?}: {e}"
                ),
            }
        }
        if !docs.is_empty() {
            prop_assert!(xmllint_validate(Schema::Fa3, &docs).is_ok(), "{}", xmllint_validate(Schema::Fa3, &docs).unwrap_err());
        }
    }

    #[test]
    fn bad_names_and_numbers_are_refused_with_the_right_path(
        bad_nip in "[0-9]{10}",
        long in "[ąęółśżźćń]{513,600}",
        bad_country in "[A-Z]{2}",
    ) {
        let base = || Invoice::vat(seller(), buyer(), "FV/1", date(2026, 1, 15)).line(Line::new("x", a("1"), a("1"), VatRate::R23));
        let nip_ok = {
            let d: Vec<u32> = bad_nip.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let s: u32 = d.iter().zip([6, 5, 7, 2, 3, 4, 5, 6, 7]).map(|(x, w)| x * w).sum();
            s % 11 == d[9] && d[0] != 0 && !(d[1] == 0 && d[2] == 0)
        };
        let r = Invoice::vat(seller(), Party::with_nip(&bad_nip, "B"), "FV/1", date(2026, 1, 15))
            .line(Line::new("x", a("1"), a("1"), VatRate::R23)).created_at(created()).build();
        if nip_ok {
            prop_assert!(r.is_ok(), "{:?}", r.err());
        } else {
            let e = r.unwrap_err();
            prop_assert_eq!(e.path(), Some("Faktura/Podmiot2/DaneIdentyfikacyjne/NIP"));
        }
        let e = refused(base().footer("ok").line(Line::new(&long, a("1"), a("1"), VatRate::R8)));
        prop_assert_eq!(e.path(), Some("Faktura/Fa/FaWiersz[2]/P_7"));
        let r = Invoice::vat(seller().country(&bad_country), buyer(), "FV/1", date(2026, 1, 15))
            .line(Line::new("x", a("1"), a("1"), VatRate::R23)).created_at(created()).build();
        if let Err(e) = r {
            prop_assert_eq!(e.path(), Some("Faktura/Podmiot1/Adres/KodKraju"));
        }
    }
}
