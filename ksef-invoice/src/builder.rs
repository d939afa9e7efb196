//! [`InvoiceBuilder`]: FA (3) invoices of the common kinds with fixed values filled in, totals per
//! VAT rate computed exactly, and every value checked against its schema type on `build()`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use ksef_invoice_xsd::fa3::{etd, tns};

use crate::amount::Amount;
use crate::rate::{Group, VatRate};
use crate::xml::value;
use crate::{Invoice, InvoiceError, InvoiceKind};

/// How a party is identified (`DaneIdentyfikacyjne`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartyId {
    /// A Polish NIP (10 digits).
    Nip(String),
    /// An EU VAT number: country code (`DE`) and number.
    EuVat {
        /// `KodUE`.
        country: String,
        /// `NrVatUE`.
        number: String,
    },
    /// No tax identifier (`BrakID`), e.g. a consumer; only for the buyer.
    None,
}

/// A seller or buyer: identifier, name, address, contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    id: PartyId,
    name: String,
    country: String,
    address_line1: Option<String>,
    address_line2: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

impl Party {
    /// A party with a Polish NIP; the address's country is `PL`.
    pub fn with_nip(nip: &str, name: &str) -> Self {
        Self::new(PartyId::Nip(nip.to_string()), name)
    }

    /// A party identified as `id`.
    pub fn new(id: PartyId, name: &str) -> Self {
        let country = match &id {
            PartyId::EuVat { country, .. } => country.clone(),
            _ => "PL".to_string(),
        };
        Self {
            id,
            name: name.to_string(),
            country,
            address_line1: None,
            address_line2: None,
            email: None,
            phone: None,
        }
    }

    /// The address (`AdresL1`, and optionally `AdresL2`).
    #[must_use]
    pub fn address(mut self, line1: &str, line2: Option<&str>) -> Self {
        self.address_line1 = Some(line1.to_string());
        self.address_line2 = line2.map(str::to_string);
        self
    }

    /// The address's country code (`KodKraju`, ISO 3166, default `PL`).
    #[must_use]
    pub fn country(mut self, code: &str) -> Self {
        self.country = code.to_string();
        self
    }

    /// An e-mail address (`DaneKontaktowe/Email`).
    #[must_use]
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_string());
        self
    }

    /// A phone number (`DaneKontaktowe/Telefon`).
    #[must_use]
    pub fn phone(mut self, phone: &str) -> Self {
        self.phone = Some(phone.to_string());
        self
    }

    /// The identifier.
    pub fn id(&self) -> &PartyId {
        &self.id
    }
}

/// One invoice line (`FaWiersz`): net value = quantity × unit net price, rounded to grosze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    name: String,
    unit: Option<String>,
    quantity: Amount,
    unit_net_price: Amount,
    rate: VatRate,
    index: Option<String>,
}

impl Line {
    /// A line of `quantity` × `unit_net_price` at `rate`.
    pub fn new(name: &str, quantity: Amount, unit_net_price: Amount, rate: VatRate) -> Self {
        Self {
            name: name.to_string(),
            unit: None,
            quantity,
            unit_net_price,
            rate,
            index: None,
        }
    }

    /// The unit of measure (`P_8A`, e.g. `szt.`, `h`).
    #[must_use]
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_string());
        self
    }

    /// The seller's product index (`Indeks`).
    #[must_use]
    pub fn index(mut self, index: &str) -> Self {
        self.index = Some(index.to_string());
        self
    }

    /// The VAT rate.
    pub fn rate(&self) -> VatRate {
        self.rate
    }

    /// Net value (`P_11`): quantity × unit net price, rounded half up to 2 places.
    pub fn net(&self) -> Option<Amount> {
        Some(self.quantity.checked_mul(self.unit_net_price)?.round(2))
    }
}

/// The invoice a correction (KOR) corrects (`DaneFaKorygowanej`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedInvoice {
    /// Its number (`NrFaKorygowanej`).
    pub number: String,
    /// Its issue date (`DataWystFaKorygowanej`).
    pub issue_date: NaiveDate,
    /// Its KSeF number, when it was issued in KSeF (`NrKSeFFaKorygowanej`); `None` writes `NrKSeFN`.
    pub ksef_number: Option<String>,
}

/// An advance invoice a settlement (ROZ) settles (`FakturaZaliczkowa`), with the net and VAT it
/// carried per rate, which the settlement deducts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledAdvance {
    ksef_number: Option<String>,
    number: String,
    parts: Vec<(VatRate, Amount, Amount)>,
}

impl SettledAdvance {
    /// An advance invoice issued in KSeF (`NrKSeFFaZaliczkowej`).
    pub fn in_ksef(ksef_number: &str) -> Self {
        Self {
            ksef_number: Some(ksef_number.to_string()),
            number: String::new(),
            parts: Vec::new(),
        }
    }

    /// An advance invoice issued outside KSeF (`NrKSeFZN` = 1, `NrFaZaliczkowej`).
    pub fn outside_ksef(number: &str) -> Self {
        Self {
            ksef_number: None,
            number: number.to_string(),
            parts: Vec::new(),
        }
    }

    /// The advance invoice `invoice` (an FA (3) `ZAL`) with the net and VAT per rate it carried;
    /// `ksef_number` is the KSeF number it received (`None`: it was issued outside KSeF).
    pub fn from_invoice(
        invoice: &Invoice,
        ksef_number: Option<&str>,
    ) -> Result<Self, InvoiceError> {
        let fa = &invoice
            .fa3()
            .ok_or_else(|| InvoiceError::invalid("Faktura", "the advance invoice is not FA (3)"))?
            .fa;
        let read = |field: &str, d: &ksef_invoice_xsd::Decimal| {
            Amount::from_decimal(d).ok_or_else(|| {
                InvoiceError::invalid(
                    &format!("Faktura/Fa/{field}"),
                    format!("`{d}` is not an amount"),
                )
            })
        };
        let mut parts = Vec::new();
        if let Some(c) = &fa.content_150 {
            parts.push((
                VatRate::R23,
                read("P_13_1", &c.p131.0)?,
                read("P_14_1", &c.p141.0)?,
            ));
        }
        if let Some(c) = &fa.content_151 {
            parts.push((
                VatRate::R8,
                read("P_13_2", &c.p132.0)?,
                read("P_14_2", &c.p142.0)?,
            ));
        }
        if let Some(c) = &fa.content_152 {
            parts.push((
                VatRate::R5,
                read("P_13_3", &c.p133.0)?,
                read("P_14_3", &c.p143.0)?,
            ));
        }
        if let Some(c) = &fa.content_153 {
            parts.push((
                VatRate::R4,
                read("P_13_4", &c.p134.0)?,
                read("P_14_4", &c.p144.0)?,
            ));
        }
        let zero = Amount::ZERO.round(2);
        for (field, rate, v) in [
            ("P_13_6_1", VatRate::Zero, &fa.p1361),
            ("P_13_6_2", VatRate::ZeroIntraCommunity, &fa.p1362),
            ("P_13_6_3", VatRate::ZeroExport, &fa.p1363),
            ("P_13_7", VatRate::Exempt, &fa.p137),
            ("P_13_8", VatRate::NotSubjectI, &fa.p138),
            ("P_13_9", VatRate::NotSubjectII, &fa.p139),
            ("P_13_10", VatRate::ReverseCharge, &fa.p1310),
        ] {
            if let Some(v) = v {
                parts.push((rate, read(field, &v.0)?, zero));
            }
        }
        Ok(Self {
            ksef_number: ksef_number.map(str::to_string),
            number: invoice.number().to_string(),
            parts,
        })
    }

    /// Adds the net and VAT the advance carried at `rate`.
    #[must_use]
    pub fn part(mut self, rate: VatRate, net: Amount, vat: Amount) -> Self {
        self.parts.push((rate, net, vat));
        self
    }
}

/// Net and VAT of one `P_13_x`/`P_14_x` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTotal {
    /// The `P_13_x` field (`P_13_1`, `P_13_6_1` ...).
    pub field: &'static str,
    /// Net (`P_13_x`).
    pub net: Amount,
    /// VAT (`P_14_x`); zero for rates without VAT.
    pub vat: Amount,
}

/// The totals of an invoice, per `P_13_x` field and overall (`P_15`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// One entry per `P_13_x` field used, in schema order.
    pub per_rate: Vec<RateTotal>,
    /// Sum of the nets.
    pub net: Amount,
    /// Sum of the VAT.
    pub vat: Amount,
    /// `P_15`: net + VAT.
    pub gross: Amount,
}

/// Payment terms (`Platnosc`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payment {
    /// `TerminPlatnosci/Termin`.
    pub due_date: Option<NaiveDate>,
    /// `FormaPlatnosci` (1 cash, 2 card, 3 voucher, 4 cheque, 5 credit, 6 transfer, 7 mobile).
    pub form: Option<u8>,
    /// `RachunekBankowy/NrRB`.
    pub bank_account: Option<String>,
    /// Paid on this date (`Zaplacono` = 1, `DataZaplaty`).
    pub paid_on: Option<NaiveDate>,
}

/// Builds an FA (3) invoice. Start from [`Invoice::vat`], [`Invoice::correction`],
/// [`Invoice::advance`], [`Invoice::settlement`] or [`Invoice::simplified`].
#[derive(Debug, Clone)]
pub struct InvoiceBuilder {
    kind: InvoiceKind,
    seller: Party,
    buyer: Party,
    number: String,
    issue_date: NaiveDate,
    place: Option<String>,
    sale_date: Option<NaiveDate>,
    currency: String,
    exchange_rate: Option<Amount>,
    lines: Vec<Line>,
    lines_before: Vec<Line>,
    corrected: Option<CorrectedInvoice>,
    correction_reason: Option<String>,
    order_lines: Vec<Line>,
    advance_received: Option<Amount>,
    advances: Vec<SettledAdvance>,
    payment: Option<Payment>,
    split_payment: bool,
    exemption_basis: Option<String>,
    system_info: String,
    created_at: Option<DateTime<Utc>>,
    footer: Option<String>,
}

/// Highest gross of a simplified invoice in PLN (art. 106e ust. 5 pkt 3 of the VAT act).
const SIMPLIFIED_LIMIT_PLN: i64 = 450;

impl Invoice {
    /// A basic VAT invoice (`RodzajFaktury` = `VAT`).
    pub fn vat(seller: Party, buyer: Party, number: &str, issue_date: NaiveDate) -> InvoiceBuilder {
        InvoiceBuilder::new(InvoiceKind::Vat, seller, buyer, number, issue_date)
    }

    /// A correction (`KOR`) of `corrected`, for `reason` (`PrzyczynaKorekty`). Add the corrected
    /// lines as they were with [`InvoiceBuilder::line_before`] and as they are now with
    /// [`InvoiceBuilder::line`]; the totals are the differences.
    pub fn correction(
        seller: Party,
        buyer: Party,
        number: &str,
        issue_date: NaiveDate,
        corrected: CorrectedInvoice,
        reason: &str,
    ) -> InvoiceBuilder {
        let mut b = InvoiceBuilder::new(InvoiceKind::Kor, seller, buyer, number, issue_date);
        b.corrected = Some(corrected);
        b.correction_reason = Some(reason.to_string());
        b
    }

    /// An advance invoice (`ZAL`) for an order: add the ordered lines with
    /// [`InvoiceBuilder::order_line`] (`Zamowienie`) and the gross advance received with
    /// [`InvoiceBuilder::advance_received`]; the advance is split over the order's rates.
    pub fn advance(
        seller: Party,
        buyer: Party,
        number: &str,
        issue_date: NaiveDate,
    ) -> InvoiceBuilder {
        InvoiceBuilder::new(InvoiceKind::Zal, seller, buyer, number, issue_date)
    }

    /// A settlement invoice (`ROZ`): the full order as lines, minus the advances it settles
    /// ([`InvoiceBuilder::settles`]).
    pub fn settlement(
        seller: Party,
        buyer: Party,
        number: &str,
        issue_date: NaiveDate,
    ) -> InvoiceBuilder {
        InvoiceBuilder::new(InvoiceKind::Roz, seller, buyer, number, issue_date)
    }

    /// A simplified invoice (`UPR`, at most 450 PLN gross) to a buyer known by NIP only.
    pub fn simplified(
        seller: Party,
        buyer_nip: &str,
        number: &str,
        issue_date: NaiveDate,
    ) -> InvoiceBuilder {
        let buyer = Party {
            id: PartyId::Nip(buyer_nip.to_string()),
            name: String::new(),
            country: "PL".to_string(),
            address_line1: None,
            address_line2: None,
            email: None,
            phone: None,
        };
        InvoiceBuilder::new(InvoiceKind::Upr, seller, buyer, number, issue_date)
    }
}

impl InvoiceBuilder {
    fn new(
        kind: InvoiceKind,
        seller: Party,
        buyer: Party,
        number: &str,
        issue_date: NaiveDate,
    ) -> Self {
        Self {
            kind,
            seller,
            buyer,
            number: number.to_string(),
            issue_date,
            place: None,
            sale_date: None,
            currency: "PLN".to_string(),
            exchange_rate: None,
            lines: Vec::new(),
            lines_before: Vec::new(),
            corrected: None,
            correction_reason: None,
            order_lines: Vec::new(),
            advance_received: None,
            advances: Vec::new(),
            payment: None,
            split_payment: false,
            exemption_basis: None,
            system_info: "ksef-rs".to_string(),
            created_at: None,
            footer: None,
        }
    }

    /// Adds a line (for a correction: the line as it is after the correction).
    #[must_use]
    pub fn line(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    /// A correction's line as it was before (`StanPrzed` = 1).
    #[must_use]
    pub fn line_before(mut self, line: Line) -> Self {
        self.lines_before.push(line);
        self
    }

    /// An ordered line of an advance invoice (`ZamowienieWiersz`).
    #[must_use]
    pub fn order_line(mut self, line: Line) -> Self {
        self.order_lines.push(line);
        self
    }

    /// The gross advance received, which an advance invoice documents (`P_15`).
    #[must_use]
    pub fn advance_received(mut self, gross: Amount) -> Self {
        self.advance_received = Some(gross);
        self
    }

    /// An advance invoice this settlement settles.
    #[must_use]
    pub fn settles(mut self, advance: SettledAdvance) -> Self {
        self.advances.push(advance);
        self
    }

    /// The currency (`KodWaluty`, ISO 4217, default `PLN`) and, when not PLN, the exchange rate
    /// used for the VAT in PLN (`P_14_xW`).
    #[must_use]
    pub fn currency(mut self, code: &str, exchange_rate: Option<Amount>) -> Self {
        self.currency = code.to_string();
        self.exchange_rate = exchange_rate;
        self
    }

    /// The place of issue (`P_1M`).
    #[must_use]
    pub fn place(mut self, place: &str) -> Self {
        self.place = Some(place.to_string());
        self
    }

    /// The date of supply, when it differs from the issue date (`P_6`).
    #[must_use]
    pub fn sale_date(mut self, date: NaiveDate) -> Self {
        self.sale_date = Some(date);
        self
    }

    /// Payment terms.
    #[must_use]
    pub fn payment(mut self, payment: Payment) -> Self {
        self.payment = Some(payment);
        self
    }

    /// Split payment (`P_18A` = 1, "mechanizm podzielonej płatności").
    #[must_use]
    pub fn split_payment(mut self, on: bool) -> Self {
        self.split_payment = on;
        self
    }

    /// The legal basis of an exemption (`P_19A`), required when a line is [`VatRate::Exempt`].
    #[must_use]
    pub fn exemption_basis(mut self, basis: &str) -> Self {
        self.exemption_basis = Some(basis.to_string());
        self
    }

    /// `SystemInfo` (default `ksef-rs`).
    #[must_use]
    pub fn system_info(mut self, info: &str) -> Self {
        self.system_info = info.to_string();
        self
    }

    /// `DataWytworzeniaFa`, the moment the document was produced (default: the system clock at
    /// `build()`).
    #[must_use]
    pub fn created_at(mut self, instant: DateTime<Utc>) -> Self {
        self.created_at = Some(instant);
        self
    }

    /// A footer text (`Stopka/Informacje/StopkaFaktury`).
    #[must_use]
    pub fn footer(mut self, text: &str) -> Self {
        self.footer = Some(text.to_string());
        self
    }

    /// The gross value of the order lines of an advance invoice (`WartoscZamowienia`).
    pub fn order_gross(&self) -> Result<Amount, InvoiceError> {
        let overflow = || {
            InvoiceError::invalid(
                "Faktura/Fa/Zamowienie/WartoscZamowienia",
                "the amounts overflow",
            )
        };
        let mut total = Amount::ZERO.round(2);
        for (rate, net) in rate_nets(&self.order_lines)? {
            let vat = match rate.percent() {
                Some(p) => net.percent(p).ok_or_else(overflow)?,
                None => Amount::ZERO,
            };
            total = total
                .checked_add(net)
                .and_then(|t| t.checked_add(vat))
                .ok_or_else(overflow)?;
        }
        Ok(total)
    }

    /// The totals `build()` writes, per `P_13_x` field and `P_15`.
    pub fn totals(&self) -> Result<Totals, InvoiceError> {
        let overflow = || InvoiceError::invalid("Faktura/Fa/P_15", "the amounts overflow");
        let mut groups: BTreeMap<Group, (Amount, Amount)> = BTreeMap::new();
        let mut add = |rate: VatRate, net: Amount, vat: Amount| -> Result<(), InvoiceError> {
            let e = groups
                .entry(rate.group())
                .or_insert((Amount::ZERO, Amount::ZERO));
            e.0 = e.0.checked_add(net).ok_or_else(overflow)?;
            e.1 = e.1.checked_add(vat).ok_or_else(overflow)?;
            Ok(())
        };
        match self.kind {
            InvoiceKind::Zal | InvoiceKind::KorZal => {
                for (rate, net, vat) in self.advance_split()? {
                    add(rate, net, vat)?;
                }
            }
            _ => {
                for (sign, lines) in [(false, &self.lines), (true, &self.lines_before)] {
                    for (rate, net) in rate_nets(lines)? {
                        let vat = match rate.percent() {
                            Some(p) => net.percent(p).ok_or_else(overflow)?,
                            None => Amount::ZERO.round(2),
                        };
                        if sign {
                            add(rate, -net, -vat)?;
                        } else {
                            add(rate, net, vat)?;
                        }
                    }
                }
                for adv in &self.advances {
                    for (rate, net, vat) in &adv.parts {
                        add(*rate, -*net, -*vat)?;
                    }
                }
            }
        }
        let mut totals = Totals {
            per_rate: Vec::new(),
            net: Amount::ZERO.round(2),
            vat: Amount::ZERO.round(2),
            gross: Amount::ZERO.round(2),
        };
        for (group, (net, vat)) in groups {
            totals.net = totals.net.checked_add(net).ok_or_else(overflow)?;
            totals.vat = totals.vat.checked_add(vat).ok_or_else(overflow)?;
            totals.per_rate.push(RateTotal {
                field: group.net_field(),
                net: net.round(2),
                vat: vat.round(2),
            });
        }
        totals.gross = totals
            .net
            .checked_add(totals.vat)
            .ok_or_else(overflow)?
            .round(2);
        totals.net = totals.net.round(2);
        totals.vat = totals.vat.round(2);
        Ok(totals)
    }

    /// The received advance split over the order's rates in proportion to their gross, each
    /// part turned into net and VAT; the last rate takes the rounding remainder.
    fn advance_split(&self) -> Result<Vec<(VatRate, Amount, Amount)>, InvoiceError> {
        let path = "Faktura/Fa/P_15";
        let received = self
            .advance_received
            .ok_or_else(|| {
                InvoiceError::invalid(
                    path,
                    "an advance invoice needs the advance received (advance_received)",
                )
            })?
            .check_fraction(path, 2)?;
        let overflow = || InvoiceError::invalid(path, "the amounts overflow");
        let order = rate_nets(&self.order_lines)?;
        if order.is_empty() {
            return Err(InvoiceError::invalid(
                "Faktura/Fa/Zamowienie",
                "an advance invoice needs at least one order line (order_line)",
            ));
        }
        let grosses: Vec<(VatRate, Amount)> = order
            .iter()
            .map(|(rate, net)| {
                let vat = match rate.percent() {
                    Some(p) => net.percent(p),
                    None => Some(Amount::ZERO),
                };
                Some((*rate, net.checked_add(vat?)?))
            })
            .collect::<Option<_>>()
            .ok_or_else(overflow)?;
        let order_gross = grosses
            .iter()
            .try_fold(Amount::ZERO, |s, (_, g)| s.checked_add(*g))
            .ok_or_else(overflow)?;
        if order_gross.is_zero() || received > order_gross {
            return Err(InvoiceError::invalid(
                path,
                format!("the advance {received} exceeds the order's gross value {order_gross}"),
            ));
        }
        let mut out = Vec::new();
        let mut left = received;
        for (i, (rate, gross)) in grosses.iter().enumerate() {
            let part = if i + 1 == grosses.len() {
                left
            } else {
                share(received, *gross, order_gross).ok_or_else(overflow)?
            };
            left = left.checked_sub(part).ok_or_else(overflow)?;
            let net = match rate.percent() {
                Some(p) => part.net_of_gross(p).ok_or_else(overflow)?,
                None => part.round(2),
            };
            let vat = part.checked_sub(net).ok_or_else(overflow)?.round(2);
            out.push((*rate, net, vat));
        }
        Ok(out)
    }

    /// Checks every value and builds the invoice; an error names the XML path and the rule.
    pub fn build(self) -> Result<Invoice, InvoiceError> {
        // Lines first, so that a bad quantity or price is reported at its own path rather than
        // at a total it makes overflow.
        let lines = self.line_elements()?;
        let order = self.order_element()?;
        let totals = self.totals()?;
        self.check_rules(&totals)?;
        let doc = tns::Faktura {
            naglowek: self.header()?,
            podmiot_1: self.seller_element()?,
            podmiot_2: self.buyer_element()?,
            podmiot_3: Vec::new(),
            podmiot_upowazniony: None,
            fa: self.fa(&totals, lines, order)?,
            stopka: match &self.footer {
                Some(text) => Some(tns::FakturaStopkaElementType {
                    content: Some(tns::FakturaStopkaElementTypeContent {
                        informacje: vec![tns::FakturaStopkaInformacjeElementType {
                            content: Some(tns::FakturaStopkaInformacjeElementTypeContent {
                                stopka_faktury: Some(value(
                                    "Faktura/Stopka/Informacje/StopkaFaktury",
                                    text,
                                )?),
                            }),
                        }],
                        rejestry: Vec::new(),
                    }),
                }),
                None => None,
            },
            zalacznik: None,
        };
        let invoice = Invoice::from_fa3(doc);
        invoice.validate()?;
        Ok(invoice)
    }

    fn check_rules(&self, totals: &Totals) -> Result<(), InvoiceError> {
        if self.kind == InvoiceKind::Upr
            && self.currency == "PLN"
            && totals.gross > Amount::from_int(SIMPLIFIED_LIMIT_PLN)
        {
            return Err(InvoiceError::invalid(
                "Faktura/Fa/P_15",
                format!(
                    "a simplified invoice (UPR) may not exceed {SIMPLIFIED_LIMIT_PLN} PLN gross; this one is {}",
                    totals.gross
                ),
            ));
        }
        if !matches!(self.kind, InvoiceKind::Zal | InvoiceKind::KorZal) && self.lines.is_empty() {
            return Err(InvoiceError::invalid(
                "Faktura/Fa/FaWiersz",
                "the invoice has no lines (line)",
            ));
        }
        let has_exempt = self
            .lines
            .iter()
            .chain(&self.lines_before)
            .chain(&self.order_lines)
            .any(|l| l.rate == VatRate::Exempt);
        if has_exempt && self.exemption_basis.is_none() {
            return Err(InvoiceError::invalid(
                "Faktura/Fa/Adnotacje/Zwolnienie/P_19A",
                "a line is exempt (zw): give the legal basis with exemption_basis",
            ));
        }
        if self.currency != "PLN" && self.exchange_rate.is_none() && totals.vat != Amount::ZERO {
            return Err(InvoiceError::invalid(
                "Faktura/Fa/P_14_1W",
                format!(
                    "an invoice in {} needs the exchange rate for the VAT in PLN (currency(code, Some(rate)))",
                    self.currency
                ),
            ));
        }
        for (path, nip) in [
            ("Faktura/Podmiot1/DaneIdentyfikacyjne/NIP", &self.seller.id),
            ("Faktura/Podmiot2/DaneIdentyfikacyjne/NIP", &self.buyer.id),
        ] {
            if let PartyId::Nip(nip) = nip {
                check_nip(path, nip)?;
            }
        }
        if !matches!(self.seller.id, PartyId::Nip(_)) {
            return Err(InvoiceError::invalid(
                "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP",
                "the seller must be identified by a Polish NIP",
            ));
        }
        Ok(())
    }

    fn header(&self) -> Result<tns::TNaglowekType, InvoiceError> {
        let created = self
            .created_at
            .unwrap_or_else(|| ksef_time::Clock::now(&ksef_time::SystemClock))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(tns::TNaglowekType {
            kod_formularza: tns::TNaglowekKodFormularzaElementType {
                kod_systemowy: "FA (3)".to_string(),
                wersja_schemy: "1-0E".to_string(),
                content: tns::TKodFormularzaType::Fa,
            },
            wariant_formularza: tns::TNaglowekWariantFormularzaElementType::_3,
            data_wytworzenia_fa: value("Faktura/Naglowek/DataWytworzeniaFa", &created)?,
            system_info: Some(value("Faktura/Naglowek/SystemInfo", &self.system_info)?),
        })
    }

    fn address(&self, base: &str, party: &Party) -> Result<Option<tns::TAdresType>, InvoiceError> {
        let Some(line1) = &party.address_line1 else {
            return Ok(None);
        };
        Ok(Some(tns::TAdresType {
            kod_kraju: value(&format!("{base}/Adres/KodKraju"), &party.country)?,
            adres_l1: value(&format!("{base}/Adres/AdresL1"), line1)?,
            adres_l2: party
                .address_line2
                .as_deref()
                .map(|l| value(&format!("{base}/Adres/AdresL2"), l))
                .transpose()?,
            gln: None,
        }))
    }

    fn seller_element(&self) -> Result<tns::FakturaPodmiot1ElementType, InvoiceError> {
        let base = "Faktura/Podmiot1";
        let p = &self.seller;
        let PartyId::Nip(nip) = &p.id else {
            return Err(InvoiceError::invalid(
                "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP",
                "the seller must be identified by a Polish NIP",
            ));
        };
        let contact = match (&p.email, &p.phone) {
            (None, None) => Vec::new(),
            (email, phone) => vec![tns::FakturaPodmiot1DaneKontaktoweElementType {
                content: Some(tns::FakturaPodmiot1DaneKontaktoweElementTypeContent {
                    email: email
                        .as_deref()
                        .map(|e| value(&format!("{base}/DaneKontaktowe/Email"), e))
                        .transpose()?,
                    telefon: phone
                        .as_deref()
                        .map(|t| value(&format!("{base}/DaneKontaktowe/Telefon"), t))
                        .transpose()?,
                }),
            }],
        };
        Ok(tns::FakturaPodmiot1ElementType {
            prefiks_podatnika: None,
            nr_eori: None,
            dane_identyfikacyjne: tns::TPodmiot1Type {
                nip: value(&format!("{base}/DaneIdentyfikacyjne/NIP"), nip)?,
                nazwa: value(&format!("{base}/DaneIdentyfikacyjne/Nazwa"), &p.name)?,
            },
            adres: self.address(base, p)?.ok_or_else(|| {
                InvoiceError::invalid(
                    "Faktura/Podmiot1/Adres/AdresL1",
                    "the seller's address is required (Party::address)",
                )
            })?,
            adres_koresp: None,
            dane_kontaktowe: contact,
            status_info_podatnika: None,
        })
    }

    fn buyer_element(&self) -> Result<tns::FakturaPodmiot2ElementType, InvoiceError> {
        let base = "Faktura/Podmiot2";
        let p = &self.buyer;
        let id_path = format!("{base}/DaneIdentyfikacyjne");
        let content_73 = match &p.id {
            PartyId::Nip(nip) => {
                tns::TPodmiot2Content73Type::Nip(value(&format!("{id_path}/NIP"), nip)?)
            }
            PartyId::EuVat { country, number } => {
                tns::TPodmiot2Content73Type::Content74(tns::TPodmiot2Content74Type {
                    kod_ue: value(&format!("{id_path}/KodUE"), country)?,
                    nr_vat_ue: value(&format!("{id_path}/NrVatUE"), number)?,
                })
            }
            PartyId::None => tns::TPodmiot2Content73Type::BrakId(etd::TWybor1Type::_1),
        };
        let content_76 = if p.name.is_empty() {
            None
        } else {
            Some(tns::TPodmiot2Content76Type {
                nazwa: value(&format!("{id_path}/Nazwa"), &p.name)?,
            })
        };
        let contact = match (&p.email, &p.phone) {
            (None, None) => Vec::new(),
            (email, phone) => vec![tns::FakturaPodmiot2DaneKontaktoweElementType {
                content: Some(tns::FakturaPodmiot2DaneKontaktoweElementTypeContent {
                    email: email
                        .as_deref()
                        .map(|e| value(&format!("{base}/DaneKontaktowe/Email"), e))
                        .transpose()?,
                    telefon: phone
                        .as_deref()
                        .map(|t| value(&format!("{base}/DaneKontaktowe/Telefon"), t))
                        .transpose()?,
                }),
            }],
        };
        Ok(tns::FakturaPodmiot2ElementType {
            nr_eori: None,
            dane_identyfikacyjne: tns::TPodmiot2Type {
                content_73,
                content_76,
            },
            adres: self.address(base, p)?,
            adres_koresp: None,
            dane_kontaktowe: contact,
            nr_klienta: None,
            id_nabywcy: None,
            jst: tns::FakturaPodmiot2JstElementType::_2,
            gv: tns::FakturaPodmiot2GvElementType::_2,
        })
    }

    fn fa(
        &self,
        totals: &Totals,
        fa_wiersz: Vec<tns::FakturaFaFaWierszElementType>,
        zamowienie: Option<tns::FakturaFaZamowienieElementType>,
    ) -> Result<tns::FakturaFaElementType, InvoiceError> {
        let base = "Faktura/Fa";
        let amount = |field: &str, a: Amount| -> Result<tns::TKwotowyType, InvoiceError> {
            value(&format!("{base}/{field}"), &a.round(2).to_string())
        };
        let vat_pln = |field: &str,
                       vat: Amount|
         -> Result<Option<tns::TKwotowyType>, InvoiceError> {
            match (self.currency.as_str(), self.exchange_rate) {
                ("PLN", _) | (_, None) => Ok(None),
                (_, Some(rate)) => {
                    let pln = vat.checked_mul(rate).ok_or_else(|| {
                        InvoiceError::invalid(&format!("{base}/{field}"), "the amounts overflow")
                    })?;
                    Some(amount(field, pln)).transpose()
                }
            }
        };
        let mut fa = tns::FakturaFaElementType {
            kod_waluty: value(&format!("{base}/KodWaluty"), &self.currency)?,
            p1: value(&format!("{base}/P_1"), &self.issue_date.to_string())?,
            p1m: self
                .place
                .as_deref()
                .map(|p| value(&format!("{base}/P_1M"), p))
                .transpose()?,
            p2: value(&format!("{base}/P_2"), &self.number)?,
            wz: Vec::new(),
            content_149: self
                .sale_date
                .map(|d| {
                    value(&format!("{base}/P_6"), &d.to_string())
                        .map(tns::FakturaFaContent149Type::P6)
                })
                .transpose()?,
            content_150: None,
            content_151: None,
            content_152: None,
            content_153: None,
            content_154: None,
            p1361: None,
            p1362: None,
            p1363: None,
            p137: None,
            p138: None,
            p139: None,
            p1310: None,
            p1311: None,
            p15: amount("P_15", totals.gross)?,
            kurs_waluty_z: None,
            adnotacje: self.annotations(totals)?,
            rodzaj_faktury: self.kind.raw(),
            content_155: self.correction_data()?,
            zaliczka_czesciowa: Vec::new(),
            fp: None,
            tp: None,
            dodatkowy_opis: Vec::new(),
            faktura_zaliczkowa: self.advance_refs()?,
            zwrot_akcyzy: None,
            fa_wiersz,
            rozliczenie: None,
            platnosc: self.payment_element()?,
            warunki_transakcji: None,
            zamowienie,
        };
        for t in &totals.per_rate {
            let (net, vat) = (t.net, t.vat);
            match t.field {
                "P_13_1" => {
                    fa.content_150 = Some(tns::FakturaFaContent150Type {
                        p131: amount("P_13_1", net)?,
                        p141: amount("P_14_1", vat)?,
                        p141w: vat_pln("P_14_1W", vat)?,
                    });
                }
                "P_13_2" => {
                    fa.content_151 = Some(tns::FakturaFaContent151Type {
                        p132: amount("P_13_2", net)?,
                        p142: amount("P_14_2", vat)?,
                        p142w: vat_pln("P_14_2W", vat)?,
                    });
                }
                "P_13_3" => {
                    fa.content_152 = Some(tns::FakturaFaContent152Type {
                        p133: amount("P_13_3", net)?,
                        p143: amount("P_14_3", vat)?,
                        p143w: vat_pln("P_14_3W", vat)?,
                    });
                }
                "P_13_4" => {
                    fa.content_153 = Some(tns::FakturaFaContent153Type {
                        p134: amount("P_13_4", net)?,
                        p144: amount("P_14_4", vat)?,
                        p144w: vat_pln("P_14_4W", vat)?,
                    });
                }
                "P_13_6_1" => fa.p1361 = Some(amount("P_13_6_1", net)?),
                "P_13_6_2" => fa.p1362 = Some(amount("P_13_6_2", net)?),
                "P_13_6_3" => fa.p1363 = Some(amount("P_13_6_3", net)?),
                "P_13_7" => fa.p137 = Some(amount("P_13_7", net)?),
                "P_13_8" => fa.p138 = Some(amount("P_13_8", net)?),
                "P_13_9" => fa.p139 = Some(amount("P_13_9", net)?),
                "P_13_10" => fa.p1310 = Some(amount("P_13_10", net)?),
                _ => {}
            }
        }
        Ok(fa)
    }

    fn annotations(
        &self,
        _totals: &Totals,
    ) -> Result<tns::FakturaFaAdnotacjeElementType, InvoiceError> {
        let all = || {
            self.lines
                .iter()
                .chain(&self.lines_before)
                .chain(&self.order_lines)
        };
        let yes_no = |b: bool| {
            if b {
                etd::TWybor12Type::_1
            } else {
                etd::TWybor12Type::_2
            }
        };
        let zwolnienie = match &self.exemption_basis {
            Some(basis) if all().any(|l| l.rate == VatRate::Exempt) => {
                tns::FakturaFaAdnotacjeZwolnienieElementType::Content95(
                    tns::FakturaFaAdnotacjeZwolnienieContent95Type {
                        p19: etd::TWybor1Type::_1,
                        content_96: tns::FakturaFaAdnotacjeZwolnienieContent96Type::P19A(value(
                            "Faktura/Fa/Adnotacje/Zwolnienie/P_19A",
                            basis,
                        )?),
                    },
                )
            }
            _ => tns::FakturaFaAdnotacjeZwolnienieElementType::P19N(etd::TWybor1Type::_1),
        };
        Ok(tns::FakturaFaAdnotacjeElementType {
            p16: etd::TWybor12Type::_2,
            p17: etd::TWybor12Type::_2,
            p18: yes_no(all().any(|l| l.rate == VatRate::ReverseCharge)),
            p18a: yes_no(self.split_payment),
            zwolnienie,
            nowe_srodki_transportu: tns::FakturaFaAdnotacjeNoweSrodkiTransportuElementType::P22N(
                etd::TWybor1Type::_1,
            ),
            p23: etd::TWybor12Type::_2,
            p_marzy: tns::FakturaFaAdnotacjePMarzyElementType::PPMarzyN(etd::TWybor1Type::_1),
        })
    }

    fn correction_data(&self) -> Result<Option<tns::FakturaFaContent155Type>, InvoiceError> {
        if !matches!(
            self.kind,
            InvoiceKind::Kor | InvoiceKind::KorZal | InvoiceKind::KorRoz
        ) {
            return Ok(None);
        }
        let base = "Faktura/Fa/DaneFaKorygowanej";
        let corrected = self.corrected.as_ref().ok_or_else(|| {
            InvoiceError::invalid(base, "a correction needs the corrected invoice")
        })?;
        let content_110 = match &corrected.ksef_number {
            Some(n) => tns::FakturaFaDaneFaKorygowanejContent110Type::Content111(
                tns::FakturaFaDaneFaKorygowanejContent111Type {
                    nr_k_se_f: etd::TWybor1Type::_1,
                    nr_k_se_f_fa_korygowanej: value(&format!("{base}/NrKSeFFaKorygowanej"), n)?,
                },
            ),
            None => tns::FakturaFaDaneFaKorygowanejContent110Type::NrKSeFn(etd::TWybor1Type::_1),
        };
        Ok(Some(tns::FakturaFaContent155Type {
            przyczyna_korekty: self
                .correction_reason
                .as_deref()
                .map(|r| value("Faktura/Fa/PrzyczynaKorekty", r))
                .transpose()?,
            typ_korekty: None,
            dane_fa_korygowanej: vec![tns::FakturaFaDaneFaKorygowanejElementType {
                data_wyst_fa_korygowanej: value(
                    &format!("{base}/DataWystFaKorygowanej"),
                    &corrected.issue_date.to_string(),
                )?,
                nr_fa_korygowanej: value(&format!("{base}/NrFaKorygowanej"), &corrected.number)?,
                content_110,
            }],
            okres_fa_korygowanej: None,
            nr_fa_korygowany: None,
            podmiot_1k: None,
            podmiot_2k: Vec::new(),
            content_156: None,
        }))
    }

    fn advance_refs(
        &self,
    ) -> Result<Vec<tns::FakturaFaFakturaZaliczkowaElementType>, InvoiceError> {
        let base = "Faktura/Fa/FakturaZaliczkowa";
        self.advances
            .iter()
            .map(|a| match &a.ksef_number {
                Some(n) => Ok(
                    tns::FakturaFaFakturaZaliczkowaElementType::NrKSeFFaZaliczkowej(value(
                        &format!("{base}/NrKSeFFaZaliczkowej"),
                        n,
                    )?),
                ),
                None => Ok(tns::FakturaFaFakturaZaliczkowaElementType::Content116(
                    tns::FakturaFaFakturaZaliczkowaContent116Type {
                        nr_k_se_fzn: etd::TWybor1Type::_1,
                        nr_fa_zaliczkowej: value(&format!("{base}/NrFaZaliczkowej"), &a.number)?,
                    },
                )),
            })
            .collect()
    }

    fn line_elements(&self) -> Result<Vec<tns::FakturaFaFaWierszElementType>, InvoiceError> {
        let before = self.lines_before.iter().map(|l| (l, true));
        let after = self.lines.iter().map(|l| (l, false));
        before
            .chain(after)
            .enumerate()
            .map(|(i, (line, stan_przed))| {
                let p = format!("Faktura/Fa/FaWiersz[{}]", i + 1);
                let net = line.net().ok_or_else(|| {
                    InvoiceError::invalid(&format!("{p}/P_11"), "the amounts overflow")
                })?;
                Ok(tns::FakturaFaFaWierszElementType {
                    nr_wiersza_fa: value(&format!("{p}/NrWierszaFa"), &(i + 1).to_string())?,
                    uu_id: None,
                    p6a: None,
                    p7: Some(value(&format!("{p}/P_7"), &line.name)?),
                    indeks: line
                        .index
                        .as_deref()
                        .map(|x| value(&format!("{p}/Indeks"), x))
                        .transpose()?,
                    gtin: None,
                    pk_wi_u: None,
                    cn: None,
                    pkob: None,
                    p8a: line
                        .unit
                        .as_deref()
                        .map(|u| value(&format!("{p}/P_8A"), u))
                        .transpose()?,
                    p8b: Some(value(&format!("{p}/P_8B"), &line.quantity.to_string())?),
                    p9a: Some(value(
                        &format!("{p}/P_9A"),
                        &line.unit_net_price.to_string(),
                    )?),
                    p9b: None,
                    p10: None,
                    p11: Some(value(&format!("{p}/P_11"), &net.to_string())?),
                    p11a: None,
                    p11_vat: None,
                    p12: Some(line.rate.raw()),
                    p12_xii: None,
                    p12_zal_15: None,
                    kwota_akcyzy: None,
                    gtu: None,
                    procedura: None,
                    kurs_waluty: None,
                    stan_przed: stan_przed.then_some(etd::TWybor1Type::_1),
                })
            })
            .collect()
    }

    fn order_element(&self) -> Result<Option<tns::FakturaFaZamowienieElementType>, InvoiceError> {
        if self.order_lines.is_empty() {
            return Ok(None);
        }
        let base = "Faktura/Fa/Zamowienie";
        let mut total = Amount::ZERO;
        let mut rows = Vec::new();
        for (i, line) in self.order_lines.iter().enumerate() {
            let p = format!("{base}/ZamowienieWiersz[{}]", i + 1);
            let overflow =
                || InvoiceError::invalid(&format!("{p}/P_11NettoZ"), "the amounts overflow");
            let net = line.net().ok_or_else(overflow)?;
            let vat = match line.rate.percent() {
                Some(pc) => net.percent(pc).ok_or_else(overflow)?,
                None => Amount::ZERO.round(2),
            };
            total = total
                .checked_add(net)
                .and_then(|t| t.checked_add(vat))
                .ok_or_else(overflow)?;
            rows.push(tns::FakturaFaZamowienieZamowienieWierszElementType {
                nr_wiersza_zam: value(&format!("{p}/NrWierszaZam"), &(i + 1).to_string())?,
                uu_idz: None,
                p7z: Some(value(&format!("{p}/P_7Z"), &line.name)?),
                indeks_z: None,
                gtinz: None,
                pk_wi_uz: None,
                cnz: None,
                pkobz: None,
                p8_az: line
                    .unit
                    .as_deref()
                    .map(|u| value(&format!("{p}/P_8AZ"), u))
                    .transpose()?,
                p8_bz: Some(value(&format!("{p}/P_8BZ"), &line.quantity.to_string())?),
                p9_az: Some(value(
                    &format!("{p}/P_9AZ"),
                    &line.unit_net_price.to_string(),
                )?),
                p11_netto_z: Some(value(&format!("{p}/P_11NettoZ"), &net.to_string())?),
                p11_vat_z: Some(value(&format!("{p}/P_11VatZ"), &vat.to_string())?),
                p12z: Some(line.rate.raw()),
                p12z_xii: None,
                p12z_zal_15: None,
                gtuz: None,
                procedura_z: None,
                kwota_akcyzy_z: None,
                stan_przed_z: None,
            });
        }
        Ok(Some(tns::FakturaFaZamowienieElementType {
            wartosc_zamowienia: value(
                &format!("{base}/WartoscZamowienia"),
                &total.round(2).to_string(),
            )?,
            zamowienie_wiersz: rows,
        }))
    }

    fn payment_element(&self) -> Result<Option<tns::FakturaFaPlatnoscElementType>, InvoiceError> {
        let Some(pay) = &self.payment else {
            return Ok(None);
        };
        let base = "Faktura/Fa/Platnosc";
        Ok(Some(tns::FakturaFaPlatnoscElementType {
            content_129: pay
                .paid_on
                .map(|d| -> Result<_, InvoiceError> {
                    Ok(tns::FakturaFaPlatnoscContent129Type::Content130(
                        tns::FakturaFaPlatnoscContent130Type {
                            zaplacono: etd::TWybor1Type::_1,
                            data_zaplaty: value(&format!("{base}/DataZaplaty"), &d.to_string())?,
                        },
                    ))
                })
                .transpose()?,
            termin_platnosci: pay
                .due_date
                .map(|d| -> Result<_, InvoiceError> {
                    Ok(tns::FakturaFaPlatnoscTerminPlatnosciElementType {
                        content: Some(tns::FakturaFaPlatnoscTerminPlatnosciElementTypeContent {
                            termin: Some(value(
                                &format!("{base}/TerminPlatnosci/Termin"),
                                &d.to_string(),
                            )?),
                            termin_opis: None,
                        }),
                    })
                })
                .transpose()?
                .into_iter()
                .collect(),
            content_132: pay
                .form
                .map(|f| {
                    value(&format!("{base}/FormaPlatnosci"), &f.to_string())
                        .map(tns::FakturaFaPlatnoscContent132Type::FormaPlatnosci)
                })
                .transpose()?,
            rachunek_bankowy: pay
                .bank_account
                .as_deref()
                .map(|nr| -> Result<_, InvoiceError> {
                    Ok(tns::TRachunekBankowyType {
                        content_70: tns::TRachunekBankowyContent70Type {
                            nr_rb: value(&format!("{base}/RachunekBankowy/NrRB"), nr)?,
                            swift: None,
                        },
                        rachunek_wlasny_banku: None,
                        nazwa_banku: None,
                        opis_rachunku: None,
                    })
                })
                .transpose()?
                .into_iter()
                .collect(),
            rachunek_bankowy_faktora: Vec::new(),
            skonto: None,
            link_do_platnosci: None,
            ipk_se_f: None,
        }))
    }
}

/// Net per rate of a set of lines (sums of the rounded line nets), in rate order.
fn rate_nets(lines: &[Line]) -> Result<Vec<(VatRate, Amount)>, InvoiceError> {
    let mut by_rate: BTreeMap<VatRate, Amount> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let path = format!("Faktura/Fa/FaWiersz[{}]", i + 1);
        line.quantity.check_fraction(&format!("{path}/P_8B"), 6)?;
        line.unit_net_price
            .check_fraction(&format!("{path}/P_9A"), 8)?;
        let net = line.net().ok_or_else(|| {
            InvoiceError::invalid(&format!("{path}/P_11"), "the amounts overflow")
        })?;
        let e = by_rate.entry(line.rate).or_insert(Amount::ZERO);
        *e = e.checked_add(net).ok_or_else(|| {
            InvoiceError::invalid(&format!("{path}/P_11"), "the amounts overflow")
        })?;
    }
    Ok(by_rate.into_iter().collect())
}

/// `total × part / whole`, rounded half up to 2 places.
fn share(total: Amount, part: Amount, whole: Amount) -> Option<Amount> {
    total.share(part, whole)
}

/// The NIP checksum (weights 6 5 7 2 3 4 5 6 7, sum mod 11 equals the tenth digit).
fn check_nip(path: &str, nip: &str) -> Result<(), InvoiceError> {
    let digits: Vec<u32> = nip.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 10 || nip.len() != 10 {
        return Err(InvoiceError::invalid(
            path,
            format!("`{nip}` is not a 10-digit NIP"),
        ));
    }
    let weights = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    if sum % 11 != digits[9] {
        return Err(InvoiceError::invalid(
            path,
            format!("`{nip}` has a wrong check digit"),
        ));
    }
    Ok(())
}
