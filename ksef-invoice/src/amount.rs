//! [`Amount`]: exact decimal arithmetic for quantities, prices and totals (no floating point).

use std::fmt;
use std::ops::Neg;
use std::str::FromStr;

use ksef_invoice_xsd::Decimal;

use crate::InvoiceError;

/// An exact decimal number: an integer number of units of 10^-`scale`.
///
/// Holds 18-digit amounts and 22-digit quantities without loss. Arithmetic is exact; the only
/// rounding is [`Amount::round`] (half away from zero, as Polish VAT rounding: 0.5 grosza and
/// more rounds up).
#[derive(Clone, Copy, Debug)]
pub struct Amount {
    units: i128,
    scale: u32,
}

/// The largest scale an [`Amount`] keeps (more than any FA (3) field allows).
const MAX_SCALE: u32 = 12;

impl Amount {
    /// Zero.
    pub const ZERO: Self = Self { units: 0, scale: 0 };

    /// A whole number.
    pub fn from_int(value: i64) -> Self {
        Self {
            units: i128::from(value),
            scale: 0,
        }
    }

    /// An amount in grosze (hundredths): `from_minor(12345)` is 123.45.
    pub fn from_minor(value: i64) -> Self {
        Self {
            units: i128::from(value),
            scale: 2,
        }
    }

    /// Number of digits after the decimal point as stored.
    pub fn scale(self) -> u32 {
        self.scale
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        self.units < 0
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        self.units == 0
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        if scale >= self.scale {
            self.units
                .checked_mul(10i128.checked_pow(scale - self.scale)?)
        } else {
            None
        }
    }

    /// `self × other`, exact.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let product = Self {
            units: self.units.checked_mul(other.units)?,
            scale: self.scale + other.scale,
        };
        Some(product.trimmed())
    }

    /// `self + other`, exact.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let scale = self.scale.max(other.scale);
        Some(Self {
            units: self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?,
            scale,
        })
    }

    /// `self − other`, exact.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.checked_add(-other)
    }

    /// Rounded to `digits` decimal places, half away from zero, written with exactly `digits`
    /// places (`round(2)` of 18.7 is 18.70).
    pub fn round(self, digits: u32) -> Self {
        if self.scale <= digits {
            return Self {
                units: self.rescaled(digits).unwrap_or(self.units),
                scale: if self.rescaled(digits).is_some() {
                    digits
                } else {
                    self.scale
                },
            };
        }
        let div = 10i128.pow(self.scale - digits);
        let (q, r) = (self.units / div, self.units % div);
        let q = if r.abs() * 2 >= div {
            q + r.signum()
        } else {
            q
        };
        Self {
            units: q,
            scale: digits,
        }
    }

    /// `self × percent / 100` rounded to 2 places (VAT of a net amount).
    pub fn percent(self, percent: u32) -> Option<Self> {
        let p = Self {
            units: i128::from(percent),
            scale: 2,
        };
        Some(self.checked_mul(p)?.round(2))
    }

    /// `self × 100 / (100 + percent)` rounded to 2 places (net part of a gross amount).
    pub fn net_of_gross(self, percent: u32) -> Option<Self> {
        let s = self.rescaled(self.scale.max(2))?;
        let scale = self.scale.max(2);
        // units × 100 / (100 + p), rounded half away from zero at `scale`, then to 2 places.
        let num = s.checked_mul(100)?.checked_mul(10)?;
        let den = i128::from(100 + percent);
        let q = num / den;
        let q = (q + q.signum() * 5) / 10;
        Some(Self { units: q, scale }.round(2))
    }

    /// `self × part / whole` rounded to 2 places (a proportional share).
    pub(crate) fn share(self, part: Self, whole: Self) -> Option<Self> {
        let s = self.scale.max(part.scale).max(whole.scale);
        let (t, p, w) = (self.rescaled(s)?, part.rescaled(s)?, whole.rescaled(s)?);
        if w == 0 {
            return None;
        }
        let q = t.checked_mul(p)?.checked_mul(1000)?.checked_div(w)?;
        Some(
            Self {
                units: q,
                scale: s + 3,
            }
            .round(2),
        )
    }

    /// Removes trailing zeros of the fraction (keeps the value).
    fn trimmed(mut self) -> Self {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }

    /// Number of significant digits before and after the point (`123.45` → (3, 2)).
    pub fn digit_counts(self) -> (usize, usize) {
        let t = self.to_string();
        let t = t.trim_start_matches('-');
        let (i, f) = t.split_once('.').unwrap_or((t, ""));
        (i.trim_start_matches('0').len(), f.len())
    }

    /// The value of a document's decimal (`None` beyond 26 digits or 12 decimal places).
    pub fn from_decimal(d: &Decimal) -> Option<Self> {
        d.as_str().parse().ok()
    }

    /// The value with no more fractional digits than `digits`, or an error naming `path`.
    pub(crate) fn check_fraction(self, path: &str, digits: u32) -> Result<Self, InvoiceError> {
        let t = self.trimmed();
        if t.scale > digits {
            return Err(InvoiceError::invalid(
                path,
                format!("`{self}` has more than {digits} decimal places"),
            ));
        }
        Ok(self)
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.trimmed().units == other.trimmed().units
            && self.trimmed().scale == other.trimmed().scale
    }
}

impl Eq for Amount {}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        let scale = self.scale.max(other.scale);
        Some(self.rescaled(scale)?.cmp(&other.rescaled(scale)?))
    }
}

impl Neg for Amount {
    type Output = Self;
    fn neg(self) -> Self {
        Self {
            units: -self.units,
            scale: self.scale,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.units < 0;
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let (int, frac) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            ("0", digits.as_str())
        };
        let frac = format!("{frac:0>scale$}");
        if neg {
            f.write_str("-")?;
        }
        f.write_str(int)?;
        if scale > 0 {
            write!(f, ".{frac}")?;
        }
        Ok(())
    }
}

/// A text that is not a decimal number, or has too many digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decimal number with at most 26 digits and {MAX_SCALE} decimal places")]
pub struct AmountError(String);

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AmountError(s.to_string());
        let t = s.trim();
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || frac.len() > MAX_SCALE as usize
            || int.trim_start_matches('0').len() + frac.len() > 26
        {
            return Err(err());
        }
        let units: i128 = format!("{int}{frac}").parse().unwrap_or(0);
        let units = if neg { -units } else { units };
        Ok(Self {
            units,
            scale: u32::try_from(frac.len()).map_err(|_| err())?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn a(s: &str) -> Amount {
        s.parse().unwrap()
    }

    #[test]
    fn exact_arithmetic_and_rounding() {
        assert_eq!(a("0.1").checked_add(a("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(
            a("2.5").checked_mul(a("39.99")).unwrap().to_string(),
            "99.975"
        );
        assert_eq!(a("99.975").round(2).to_string(), "99.98");
        assert_eq!(a("-99.975").round(2).to_string(), "-99.98");
        assert_eq!(a("18.7").round(2).to_string(), "18.70");
        assert_eq!(a("100").percent(23).unwrap().to_string(), "23.00");
        assert_eq!(a("123.45").percent(23).unwrap().to_string(), "28.39");
        assert_eq!(a("100").net_of_gross(23).unwrap().to_string(), "81.30");
        assert_eq!(a("9999999999999999.99").to_string(), "9999999999999999.99");
        assert_eq!(a("0.05").to_string(), "0.05");
        assert_eq!(a("-0.05").to_string(), "-0.05");
        assert!(a("1.50") == a("1.5"));
        assert!(a("1.5") < a("1.51"));
        assert_eq!(a("0012.3400").digit_counts(), (2, 4));
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for bad in ["", ".", "1e3", "1,5", "--1", "abc", "1.0000000000001"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }
}
