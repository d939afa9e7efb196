//! A minimal FA (3) invoice, for demos and tests: one line, 23 % VAT, written by this crate.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

/// Data of a generated FA (3) invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleInvoice {
    /// Seller NIP (`Podmiot1`), must be the authenticated context's NIP.
    pub seller_nip: String,
    /// Buyer NIP (`Podmiot2`).
    pub buyer_nip: String,
    /// Invoice number (`P_2`); KSeF's duplicate key is (seller NIP, kind, number).
    pub number: String,
    /// Issue date (`P_1`), not in the future.
    pub issue_date: NaiveDate,
    /// Net amount in grosze (1/100 PLN).
    pub net_grosze: u64,
    /// Line description (`P_7`).
    pub item: String,
    /// Creation timestamp (`Naglowek/DataWytworzeniaFa`).
    pub created: DateTime<Utc>,
}

impl SampleInvoice {
    /// An invoice of `seller_nip` numbered `number`, created now and issued today (the KSeF
    /// business date, Europe/Warsaw), 100.00 PLN net.
    pub fn new(seller_nip: &str, number: &str) -> Self {
        Self::new_at(seller_nip, number, Utc::now())
    }

    /// Like [`SampleInvoice::new`], created at the instant `now` and issued on its business date
    /// (pass the client's clock: `SampleInvoice::new_at(nip, number, ksef.now())`).
    pub fn new_at(seller_nip: &str, number: &str, now: DateTime<Utc>) -> Self {
        Self {
            seller_nip: seller_nip.to_string(),
            buyer_nip: "5265877635".to_string(),
            number: number.to_string(),
            issue_date: ksef_time::business_date(now),
            net_grosze: 10_000,
            item: "Usługa programistyczna".to_string(),
            created: now,
        }
    }

    /// Sets the net amount (grosze).
    #[must_use]
    pub fn net(mut self, grosze: u64) -> Self {
        self.net_grosze = grosze;
        self
    }

    /// Sets the issue date.
    #[must_use]
    pub fn issued(mut self, date: NaiveDate) -> Self {
        self.issue_date = date;
        self
    }

    /// Sets the line description.
    #[must_use]
    pub fn item(mut self, item: &str) -> Self {
        self.item = item.to_string();
        self
    }

    /// The invoice XML (UTF-8, with an XML declaration).
    pub fn to_xml(&self) -> Vec<u8> {
        fn amount(g: u64) -> String {
            format!("{}.{:02}", g / 100, g % 100)
        }
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        }
        let vat = (self.net_grosze * 23).div_ceil(100);
        let gross = self.net_grosze + vat;
        let mut x = String::with_capacity(2048);
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\">\n\
  <Naglowek>\n\
    <KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza>\n\
    <WariantFormularza>3</WariantFormularza>\n\
    <DataWytworzeniaFa>{created}</DataWytworzeniaFa>\n\
    <SystemInfo>ksef-rs</SystemInfo>\n\
  </Naglowek>\n\
  <Podmiot1>\n\
    <DaneIdentyfikacyjne><NIP>{seller}</NIP><Nazwa>Sprzedawca Testowy sp. z o.o.</Nazwa></DaneIdentyfikacyjne>\n\
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Prosta 1, 00-001 Warszawa</AdresL1></Adres>\n\
  </Podmiot1>\n\
  <Podmiot2>\n\
    <DaneIdentyfikacyjne><NIP>{buyer}</NIP><Nazwa>Nabywca Testowy S.A.</Nazwa></DaneIdentyfikacyjne>\n\
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Krzywa 2, 30-002 Kraków</AdresL1></Adres>\n\
    <JST>2</JST>\n\
    <GV>2</GV>\n\
  </Podmiot2>\n\
  <Fa>\n\
    <KodWaluty>PLN</KodWaluty>\n\
    <P_1>{date}</P_1>\n\
    <P_2>{number}</P_2>\n\
    <P_13_1>{net}</P_13_1>\n\
    <P_14_1>{vat}</P_14_1>\n\
    <P_15>{gross}</P_15>\n\
    <Adnotacje>\n\
      <P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A>\n\
      <Zwolnienie><P_19N>1</P_19N></Zwolnienie>\n\
      <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>\n\
      <P_23>2</P_23>\n\
      <PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>\n\
    </Adnotacje>\n\
    <RodzajFaktury>VAT</RodzajFaktury>\n\
    <FaWiersz>\n\
      <NrWierszaFa>1</NrWierszaFa>\n\
      <P_7>{item}</P_7>\n\
      <P_8A>szt.</P_8A>\n\
      <P_8B>1</P_8B>\n\
      <P_9A>{net}</P_9A>\n\
      <P_11>{net}</P_11>\n\
      <P_12>23</P_12>\n\
    </FaWiersz>\n\
  </Fa>\n\
</Faktura>\n",
            created = self.created.format("%Y-%m-%dT%H:%M:%SZ"),
            seller = esc(&self.seller_nip),
            buyer = esc(&self.buyer_nip),
            date = self.issue_date.format("%Y-%m-%d"),
            number = esc(&self.number),
            net = amount(self.net_grosze),
            vat = amount(vat),
            gross = amount(gross),
            item = esc(&self.item),
        );
        x.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_preflight_with_the_right_facts() {
        let inv = SampleInvoice::new("5265877635", "FV/1/2026").net(12_345);
        let xml = inv.to_xml();
        let facts = ksef_crypto::preflight(&xml).unwrap();
        assert_eq!(facts.form_code, ksef_crypto::invoice::FormCode::Fa3);
        assert_eq!(facts.seller_nip.as_deref(), Some("5265877635"));
        assert_eq!(facts.invoice_number.as_deref(), Some("FV/1/2026"));
        assert_eq!(facts.invoice_kind.as_deref(), Some("VAT"));
        let text = String::from_utf8(xml).unwrap();
        assert!(text.contains("<P_14_1>28.40</P_14_1>"), "{text}");
        assert!(text.contains("<P_15>151.85</P_15>"));
    }
}
