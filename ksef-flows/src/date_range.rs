//! Splitting a date range into the windows KSeF accepts in one invoice query or export.
//!
//! `InvoiceQueryFilters.dateRange` (of `POST /invoices/query/metadata` and `POST /invoices/exports`)
//! may span at most **100 days, counted in UTC** (API 2.9.0; 3 months before). Its dates are
//! ISO 8601 instants with `Z` or an explicit offset (2.9.0 no longer lists dates without an
//! offset); `to` may be left out, which KSeF reads as "now, in UTC".
//!
//! [`split_date_range`] cuts `[from, to]` into consecutive windows of at most 100 × 24 h. Counting
//! in UTC means counting exact durations: a span of 100 calendar days in Europe/Warsaw that
//! crosses the October switch to CET lasts 100 days and one hour, so it takes two windows, while
//! one crossing the March switch to CEST lasts an hour less and fits in one.
//!
//! Consecutive windows share their boundary instant (window *n* ends where window *n + 1*
//! begins). The spec does not say whether `to` is inclusive, so an invoice dated exactly at a
//! boundary may come back from both windows: deduplicate by KSeF number (incremental
//! synchronisation does anyway). Nothing between two windows is ever skipped.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ksef_api::types;

use crate::error::{FlowError, Result};

/// Longest date range KSeF accepts in one invoice query or export, in days counted in UTC.
pub const MAX_DATE_RANGE_DAYS: i64 = 100;

/// [`MAX_DATE_RANGE_DAYS`] as a duration (100 × 24 h).
pub const MAX_DATE_RANGE: TimeDelta = TimeDelta::days(MAX_DATE_RANGE_DAYS);

/// One window of a split range: the instants `from` to `to`, at most the allowed span apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateWindow {
    /// Start of the window (`dateRange.from`).
    pub from: DateTime<Utc>,
    /// End of the window (`dateRange.to`).
    pub to: DateTime<Utc>,
}

impl DateWindow {
    /// How long the window is.
    pub fn span(&self) -> TimeDelta {
        self.to - self.from
    }

    /// The window as the `dateRange` of a query or export filter, on `date_type` (the dates are
    /// sent in UTC, with their offset).
    pub fn query_range(
        &self,
        date_type: types::InvoiceQueryDateType,
    ) -> types::InvoiceQueryDateRange {
        types::InvoiceQueryDateRange {
            date_type,
            from: self.from,
            to: Some(self.to),
            restrict_to_permanent_storage_hwm_date: None,
        }
    }
}

/// The windows of a split range, in order (an iterator that knows its length).
#[derive(Debug, Clone)]
pub struct DateWindows {
    next: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    max: TimeDelta,
}

impl Iterator for DateWindows {
    type Item = DateWindow;

    fn next(&mut self) -> Option<DateWindow> {
        let from = self.next?;
        let to = match from.checked_add_signed(self.max) {
            Some(t) if t < self.end => t,
            _ => self.end,
        };
        self.next = (to < self.end).then_some(to);
        Some(DateWindow { from, to })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl ExactSizeIterator for DateWindows {}

impl DateWindows {
    fn remaining(&self) -> usize {
        let Some(from) = self.next else { return 0 };
        let nanos = |d: TimeDelta| {
            i128::from(d.num_seconds()) * 1_000_000_000 + i128::from(d.subsec_nanos())
        };
        let (total, max) = (nanos(self.end - from), nanos(self.max).max(1));
        let n = if total <= 0 {
            1
        } else {
            (total + max - 1) / max
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

/// Splits `[from, to]` into consecutive windows of at most [`MAX_DATE_RANGE`] (100 days in UTC),
/// the longest range KSeF accepts in one invoice query or export. `from == to` gives one empty
/// window; `from` after `to` is refused. For an open range ("until now") pass the current instant
/// as `to`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let to = Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
/// let windows: Vec<_> = ksef_flows::split_date_range(&from, &to).unwrap().collect();
/// assert_eq!(windows.len(), 4);
/// assert_eq!(windows[0].to, windows[1].from);
/// assert_eq!(windows[3].to, to);
/// ```
pub fn split_date_range<Tz: TimeZone>(
    from: &DateTime<Tz>,
    to: &DateTime<Tz>,
) -> Result<DateWindows> {
    split_date_range_by(from, to, MAX_DATE_RANGE)
}

/// [`split_date_range`] with another longest span (e.g. a shorter one to keep each query's
/// result small); `max` must be positive.
pub fn split_date_range_by<Tz: TimeZone>(
    from: &DateTime<Tz>,
    to: &DateTime<Tz>,
    max: TimeDelta,
) -> Result<DateWindows> {
    if max <= TimeDelta::zero() {
        return Err(FlowError::InvalidArgument {
            field: "max",
            rule: format!("the longest window must be positive, not {max}"),
        });
    }
    let (from, to) = (from.with_timezone(&Utc), to.with_timezone(&Utc));
    if from > to {
        return Err(FlowError::InvalidArgument {
            field: "dateRange",
            rule: format!(
                "from ({}) must not be after to ({})",
                from.to_rfc3339(),
                to.to_rfc3339()
            ),
        });
    }
    Ok(DateWindows {
        next: Some(from),
        end: to,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// A Europe/Warsaw wall-clock time with the offset in force then (CET +1, CEST +2).
    fn warsaw(y: i32, mo: u32, d: u32, h: u32, offset_hours: i32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(offset_hours * 3600)
            .unwrap()
            .with_ymd_and_hms(y, mo, d, h, 0, 0)
            .unwrap()
    }

    fn windows<Tz: TimeZone>(from: &DateTime<Tz>, to: &DateTime<Tz>) -> Vec<DateWindow> {
        let w = split_date_range(from, to).unwrap();
        let n = w.len();
        let all: Vec<DateWindow> = w.collect();
        assert_eq!(all.len(), n, "ExactSizeIterator length");
        all
    }

    /// Contiguous, in order, each at most 100 days, covering exactly [from, to].
    fn assert_cover(all: &[DateWindow], from: DateTime<Utc>, to: DateTime<Utc>) {
        assert_eq!(all.first().unwrap().from, from);
        assert_eq!(all.last().unwrap().to, to);
        for w in all {
            assert!(w.from <= w.to);
            assert!(w.span() <= MAX_DATE_RANGE, "{w:?}");
        }
        for pair in all.windows(2) {
            assert_eq!(pair[0].to, pair[1].from);
            assert_eq!(
                pair[0].span(),
                MAX_DATE_RANGE,
                "only the last window is shorter"
            );
        }
    }

    #[test]
    fn exactly_100_days_is_one_window_and_one_second_more_is_two() {
        let from = utc(2026, 2, 1, 0, 0, 0);
        let to = utc(2026, 5, 12, 0, 0, 0);
        assert_eq!(to - from, TimeDelta::days(100));
        assert_eq!(windows(&from, &to), vec![DateWindow { from, to }]);
        let later = to + TimeDelta::seconds(1);
        let w = windows(&from, &later);
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[1],
            DateWindow {
                from: to,
                to: later
            }
        );
        assert_cover(&w, from, later);
    }

    #[test]
    fn a_year_takes_four_windows() {
        let from = utc(2025, 1, 1, 0, 0, 0);
        let to = utc(2026, 1, 1, 0, 0, 0);
        let w = windows(&from, &to);
        assert_eq!(w.len(), 4);
        assert_cover(&w, from, to);
        assert_eq!(w[3].span(), TimeDelta::days(65));
    }

    #[test]
    fn an_empty_range_is_one_empty_window_and_a_reversed_one_is_refused() {
        let t = utc(2026, 3, 29, 1, 30, 0);
        assert_eq!(windows(&t, &t), vec![DateWindow { from: t, to: t }]);
        let err = split_date_range(&t, &(t - TimeDelta::nanoseconds(1))).unwrap_err();
        assert!(
            matches!(
                err,
                FlowError::InvalidArgument {
                    field: "dateRange",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("must not be after"), "{err}");
        let err = split_date_range_by(&t, &t, TimeDelta::zero()).unwrap_err();
        assert!(matches!(
            err,
            FlowError::InvalidArgument { field: "max", .. }
        ));
    }

    #[test]
    fn the_october_dst_switch_makes_100_warsaw_days_one_hour_too_long() {
        // 2026-08-01 00:00 CEST to 2026-11-09 00:00 CET: 100 calendar days in Warsaw, but the
        // clocks went back on 2026-10-25, so the span is 100 days and 1 hour in UTC.
        let from = warsaw(2026, 8, 1, 0, 2);
        let to = warsaw(2026, 11, 9, 0, 1);
        let w = windows(&from, &to);
        assert_eq!(w.len(), 2);
        assert_cover(&w, from.with_timezone(&Utc), to.with_timezone(&Utc));
        assert_eq!(w[1].span(), TimeDelta::hours(1));
    }

    #[test]
    fn the_march_dst_switch_makes_100_warsaw_days_fit() {
        // 2026-02-01 00:00 CET to 2026-05-12 00:00 CEST: the clocks went forward on 2026-03-29,
        // so 100 Warsaw days last 100 days less one hour.
        let from = warsaw(2026, 2, 1, 0, 1);
        let to = warsaw(2026, 5, 12, 0, 2);
        let w = windows(&from, &to);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].span(), TimeDelta::days(100) - TimeDelta::hours(1));
    }

    #[test]
    fn windows_are_in_utc_whatever_the_input_offset() {
        let from = warsaw(2026, 1, 1, 0, 1);
        let w = windows(&from, &warsaw(2026, 1, 2, 0, 1));
        assert_eq!(w[0].from, utc(2025, 12, 31, 23, 0, 0));
        assert_eq!(w[0].from.to_rfc3339(), "2025-12-31T23:00:00+00:00");
        let range = w[0].query_range(types::InvoiceQueryDateType::PermanentStorage);
        assert_eq!(range.to, Some(w[0].to));
        let json = serde_json::to_value(&range).unwrap();
        assert_eq!(json["from"], "2025-12-31T23:00:00Z");
        assert_eq!(json["dateType"], "PermanentStorage");
    }

    #[test]
    fn a_custom_span_and_a_long_range() {
        let from = utc(2000, 1, 1, 0, 0, 0);
        let to = utc(2030, 1, 1, 0, 0, 0);
        let w = windows(&from, &to);
        assert_cover(&w, from, to);
        assert_eq!(w.len(), 110); // 10 958 days / 100, rounded up
        let by_week: Vec<_> =
            split_date_range_by(&from, &utc(2000, 1, 15, 0, 0, 1), TimeDelta::days(7))
                .unwrap()
                .collect();
        assert_eq!(by_week.len(), 3);
    }
}
