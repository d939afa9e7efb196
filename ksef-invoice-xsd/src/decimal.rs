//! `xs:decimal` as written: the generated types carry every decimal value in this lossless
//! newtype instead of `f64`, so `295.81` stays `295.81` and 18-digit amounts keep every digit.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use xsd_parser_types::quick_xml::{DeserializeBytesFromStr, SerializeBytesToString};

/// A decimal number exactly as it appears in the document (an `xs:decimal` lexical value with
/// surrounding whitespace removed).
///
/// `Display` prints the digits as written and ignores any precision in the format string: the
/// generated serializer formats decimals with `{:.0N}` where the schema sets `fractionDigits`, and
/// that must never add or drop digits.
///
/// Equality and order are numeric (`7.0 == 7`, as in the schema's value space); the text is kept.
#[derive(Debug, Clone)]
pub struct Decimal(String);

/// A text that is not an `xs:decimal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalError(String);

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a decimal number", self.0)
    }
}

impl std::error::Error for DecimalError {}

impl Decimal {
    /// The lexical value (`-12.50`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits before and after the decimal point, without sign and leading zeros of the
    /// integer part or trailing zeros of the fraction (`-0012.500` → (`12`, `5`)).
    pub fn digits(&self) -> (&str, &str) {
        let s = self.0.trim_start_matches(['+', '-']);
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        (int.trim_start_matches('0'), frac.trim_end_matches('0'))
    }
}

impl Decimal {
    /// A value written in the schema (facets, enumerations); the generated code calls this.
    #[doc(hidden)]
    pub fn from_schema(s: &str) -> Self {
        Self(s.trim().to_string())
    }

    /// The canonical text of the value (`+007.50` → `7.5`, `7.0` → `7`).
    pub fn canonical(&self) -> String {
        canonical(&self.0)
    }

    fn is_negative(&self) -> bool {
        let (int, frac) = self.digits();
        self.0.starts_with('-') && !(int.is_empty() && frac.is_empty())
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        let (ai, af) = self.digits();
        let (bi, bf) = other.digits();
        ai.len()
            .cmp(&bi.len())
            .then_with(|| ai.cmp(bi))
            .then_with(|| af.cmp(bf))
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.is_negative().hash(state);
        self.digits().hash(state);
    }
}

/// The canonical text of a decimal value (`+007.50` → `7.5`, `7.0` → `7`, `-0.0` → `0`); text that
/// is not a decimal is returned trimmed. The generated code matches decimal enumerations on it.
#[doc(hidden)]
pub fn canonical(s: &str) -> String {
    let Ok(d) = s.parse::<Decimal>() else {
        return s.trim().to_string();
    };
    let (int, frac) = d.digits();
    let int = if int.is_empty() { "0" } else { int };
    let sign = if d.is_negative() { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim_matches([' ', '\t', '\r', '\n']);
        let body = t.strip_prefix(['+', '-']).unwrap_or(t);
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        let ok = digits(int)
            && frac.is_none_or(digits)
            && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
        if ok {
            Ok(Self(t.to_string()))
        } else {
            Err(DecimalError(s.to_string()))
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DeserializeBytesFromStr for Decimal {}
impl SerializeBytesToString for Decimal {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_the_digits_as_written() {
        let d: Decimal = "295.81".parse().unwrap();
        assert_eq!(format!("{d:.08}"), "295.81");
        let d: Decimal = " 123456789012345678.5 ".parse().unwrap();
        assert_eq!(d.to_string(), "123456789012345678.5");
        assert_eq!(
            "-0012.500".parse::<Decimal>().unwrap().digits(),
            ("12", "5")
        );
    }

    #[test]
    fn canonical_text() {
        assert_eq!(canonical("7.0"), "7");
        assert_eq!(canonical("+007.50"), "7.5");
        assert_eq!(canonical("-0.0"), "0");
        assert_eq!(canonical(".5"), "0.5");
        assert_eq!(canonical(" x "), "x");
    }

    #[test]
    fn compares_by_value() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(d("7.0"), d("7"));
        assert_eq!(d("-0.0"), d("0"));
        assert!(d("-2") < d("-1.5"));
        assert!(d("10") > d("9.99"));
        assert!(d("0.05") < d("0.5"));
        assert!(d("-0.01") < d("0"));
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for bad in ["", ".", "1e5", "1,5", "--1", "1.2.3", "NaN", "+"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
        for good in ["0", "-1", "+.5", "5.", "007.10"] {
            assert!(good.parse::<Decimal>().is_ok(), "{good}");
        }
    }
}
