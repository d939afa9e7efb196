//! [`VatRate`]: the `P_12` rates and the `P_13_x`/`P_14_x` total each one adds to.

use ksef_invoice_xsd::fa3::tns::TStawkaPodatkuType;

/// A VAT rate of an invoice line (`P_12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VatRate {
    /// 23 % (`P_13_1`/`P_14_1`).
    R23,
    /// 22 % (`P_13_1`/`P_14_1`).
    R22,
    /// 8 % (`P_13_2`/`P_14_2`).
    R8,
    /// 7 % (`P_13_2`/`P_14_2`).
    R7,
    /// 5 % (`P_13_3`/`P_14_3`).
    R5,
    /// 4 %, flat-rate taxi (`P_13_4`/`P_14_4`).
    R4,
    /// 3 % (`P_13_4`/`P_14_4`).
    R3,
    /// `0 KR`: 0 % domestic (`P_13_6_1`).
    Zero,
    /// `0 WDT`: 0 % intra-community supply (`P_13_6_2`).
    ZeroIntraCommunity,
    /// `0 EX`: 0 % export (`P_13_6_3`).
    ZeroExport,
    /// `zw`: exempt (`P_13_7`); the invoice needs an exemption basis.
    Exempt,
    /// `np I`: outside Polish VAT, art. 100 ust. 1 pkt 4 excluded (`P_13_8`).
    NotSubjectI,
    /// `np II`: services of art. 100 ust. 1 pkt 4 (`P_13_9`).
    NotSubjectII,
    /// `oo`: reverse charge (`P_13_10`); the invoice is marked `P_18` = 1.
    ReverseCharge,
}

/// Which `P_13_x` / `P_14_x` pair a rate's amounts go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Group {
    P13_1,
    P13_2,
    P13_3,
    P13_4,
    P13_6_1,
    P13_6_2,
    P13_6_3,
    P13_7,
    P13_8,
    P13_9,
    P13_10,
}

impl VatRate {
    /// Every rate.
    pub const ALL: [VatRate; 14] = [
        Self::R23,
        Self::R22,
        Self::R8,
        Self::R7,
        Self::R5,
        Self::R4,
        Self::R3,
        Self::Zero,
        Self::ZeroIntraCommunity,
        Self::ZeroExport,
        Self::Exempt,
        Self::NotSubjectI,
        Self::NotSubjectII,
        Self::ReverseCharge,
    ];

    /// The value written in `P_12` (`23`, `0 KR`, `zw`, `np I` ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::R23 => "23",
            Self::R22 => "22",
            Self::R8 => "8",
            Self::R7 => "7",
            Self::R5 => "5",
            Self::R4 => "4",
            Self::R3 => "3",
            Self::Zero => "0 KR",
            Self::ZeroIntraCommunity => "0 WDT",
            Self::ZeroExport => "0 EX",
            Self::Exempt => "zw",
            Self::NotSubjectI => "np I",
            Self::NotSubjectII => "np II",
            Self::ReverseCharge => "oo",
        }
    }

    /// The rate in percent, for the rates that carry VAT.
    pub fn percent(self) -> Option<u32> {
        match self {
            Self::R23 => Some(23),
            Self::R22 => Some(22),
            Self::R8 => Some(8),
            Self::R7 => Some(7),
            Self::R5 => Some(5),
            Self::R4 => Some(4),
            Self::R3 => Some(3),
            _ => None,
        }
    }

    pub(crate) fn group(self) -> Group {
        match self {
            Self::R23 | Self::R22 => Group::P13_1,
            Self::R8 | Self::R7 => Group::P13_2,
            Self::R5 => Group::P13_3,
            Self::R4 | Self::R3 => Group::P13_4,
            Self::Zero => Group::P13_6_1,
            Self::ZeroIntraCommunity => Group::P13_6_2,
            Self::ZeroExport => Group::P13_6_3,
            Self::Exempt => Group::P13_7,
            Self::NotSubjectI => Group::P13_8,
            Self::NotSubjectII => Group::P13_9,
            Self::ReverseCharge => Group::P13_10,
        }
    }

    pub(crate) fn raw(self) -> TStawkaPodatkuType {
        use TStawkaPodatkuType as T;
        match self {
            Self::R23 => T::_23,
            Self::R22 => T::_22,
            Self::R8 => T::_8,
            Self::R7 => T::_7,
            Self::R5 => T::_5,
            Self::R4 => T::_4,
            Self::R3 => T::_3,
            Self::Zero => T::_0Kr,
            Self::ZeroIntraCommunity => T::_0Wdt,
            Self::ZeroExport => T::_0Ex,
            Self::Exempt => T::Zw,
            Self::NotSubjectI => T::NpI,
            Self::NotSubjectII => T::NpIi,
            Self::ReverseCharge => T::Oo,
        }
    }
}

impl Group {
    /// The net field's name, for error paths and documentation.
    pub(crate) fn net_field(self) -> &'static str {
        match self {
            Self::P13_1 => "P_13_1",
            Self::P13_2 => "P_13_2",
            Self::P13_3 => "P_13_3",
            Self::P13_4 => "P_13_4",
            Self::P13_6_1 => "P_13_6_1",
            Self::P13_6_2 => "P_13_6_2",
            Self::P13_6_3 => "P_13_6_3",
            Self::P13_7 => "P_13_7",
            Self::P13_8 => "P_13_8",
            Self::P13_9 => "P_13_9",
            Self::P13_10 => "P_13_10",
        }
    }
}
