//! The structured invoice forms KSeF accepts ([`FormKind`]) and their `formCode` triples.

/// The structured forms KSeF accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormKind {
    /// `FA (2)` / `1-0E` / `FA`.
    Fa2,
    /// `FA (3)` / `1-0E` / `FA`.
    Fa3,
    /// `FA_RR (1)` / `1-1E` / `FA_RR`.
    FaRr1,
    /// `PEF (3)` / `2-1` / `PEF`.
    Pef3,
    /// `PEF_KOR (3)` / `2-1` / `PEF`.
    PefKor3,
}

impl FormKind {
    /// Recognises a `formCode` triple.
    pub(crate) fn from_form_code(
        system_code: &str,
        schema_version: &str,
        value: &str,
    ) -> Option<Self> {
        [Self::Fa2, Self::Fa3, Self::FaRr1, Self::Pef3, Self::PefKor3]
            .into_iter()
            .find(|f| {
                f.system_code() == system_code
                    && f.schema_version() == schema_version
                    && f.value() == value
            })
    }

    /// `formCode.systemCode`.
    pub(crate) fn system_code(self) -> &'static str {
        match self {
            Self::Fa2 => "FA (2)",
            Self::Fa3 => "FA (3)",
            Self::FaRr1 => "FA_RR (1)",
            Self::Pef3 => "PEF (3)",
            Self::PefKor3 => "PEF_KOR (3)",
        }
    }

    /// `formCode.schemaVersion`.
    pub(crate) fn schema_version(self) -> &'static str {
        match self {
            Self::Fa2 | Self::Fa3 => "1-0E",
            Self::FaRr1 => "1-1E",
            Self::Pef3 | Self::PefKor3 => "2-1",
        }
    }

    /// `formCode.value`.
    pub(crate) fn value(self) -> &'static str {
        match self {
            Self::Fa2 | Self::Fa3 => "FA",
            Self::FaRr1 => "FA_RR",
            Self::Pef3 | Self::PefKor3 => "PEF",
        }
    }

    /// Name of the logical structure (XSD file) reported in the UPO.
    pub(crate) fn structure_name(self) -> &'static str {
        match self {
            Self::Fa2 => "Schemat_FA(2)_v1-0E.xsd",
            Self::Fa3 => "Schemat_FA(3)_v1-0E.xsd",
            Self::FaRr1 => "Schemat_FA_RR(1)_v1-1E.xsd",
            Self::Pef3 => "Schemat_PEF(3)_v2-1.xsd",
            Self::PefKor3 => "Schemat_PEF_KOR(3)_v2-1.xsd",
        }
    }

    pub(crate) fn expected_root(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Fa2 => (&["http://crd.gov.pl/wzor/2023/06/29/12648/"], "Faktura"),
            Self::Fa3 => (&["http://crd.gov.pl/wzor/2025/06/25/13775/"], "Faktura"),
            Self::FaRr1 => (
                &[
                    "http://crd.gov.pl/wzor/2026/03/06/14189/",
                    "http://crd.gov.pl/wzor/2025/10/28/14040/",
                ],
                "Faktura",
            ),
            Self::Pef3 => (
                &["urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"],
                "Invoice",
            ),
            Self::PefKor3 => (
                &["urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"],
                "CreditNote",
            ),
        }
    }
}
