//! Time as KSeF sees it: the **business date** in Europe/Warsaw and an **injectable clock**.
//!
//! KSeF judges every calendar date — an invoice's issue date not being in the future, the date
//! inside KSeF and reference numbers, query and export ranges, the High Water Mark — in
//! Europe/Warsaw time (CET, UTC+1, in winter; CEST, UTC+2, in summer). The UTC calendar date is
//! wrong for one or two hours every day, so nothing in this workspace derives a date with
//! `Utc::now().date_naive()`: it asks a [`Clock`] for the instant and [`business_date`] for the
//! date.
//!
//! ```
//! use chrono::{NaiveDate, TimeZone, Utc};
//! use ksef_time::{business_date, Clock, FixedClock};
//!
//! // 23:30 UTC on New Year's Eve is already 1 January in Warsaw.
//! let clock = FixedClock::at(Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap());
//! assert_eq!(business_date(clock.now()), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
//! ```
//!
//! Summer time follows the EU rule Poland applies: from 01:00 UTC on the last Sunday of March
//! to 01:00 UTC on the last Sunday of October. The rule is checked hour by hour against the IANA
//! database (`chrono-tz`) in this crate's tests.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};

/// A source of the current instant. Everything in the workspace that reads the time takes it
/// from a `Clock`, so tests can run at 23:30 UTC, on DST switch nights or on New Year's Eve.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// The KSeF business date (Europe/Warsaw) of the current instant.
    fn today(&self) -> NaiveDate {
        business_date(self.now())
    }
}

/// A clock shared between components (a simulator and a client in one test, say).
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The machine's clock as a [`SharedClock`].
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// The machine's clock moved by a constant offset: it starts at a chosen instant and then
/// advances in real time, so timeouts, token lifetimes and polling behave normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftedClock {
    offset: TimeDelta,
}

impl ShiftedClock {
    /// A clock that reads `start` now and advances from there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }

    /// A clock `offset` ahead of (or, if negative, behind) the machine's clock.
    pub fn by(offset: TimeDelta) -> Self {
        Self { offset }
    }

    /// The offset from the machine's clock.
    pub fn offset(&self) -> TimeDelta {
        self.offset
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// A clock that stands still until it is moved with [`FixedClock::set`] or
/// [`FixedClock::advance`]. For unit tests of rules that depend on the instant.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    /// A clock standing at `instant`.
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(instant),
        }
    }

    /// Moves the clock to `instant`.
    pub fn set(&self, instant: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = instant;
    }

    /// Moves the clock forward by `delta` (saturating).
    pub fn advance(&self, delta: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = now
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const CET: i32 = 3600;
const CEST: i32 = 7200;

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_of_next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    last.checked_sub_days(chrono::Days::new(u64::from(back)))
        .filter(|d| d.weekday() == Weekday::Sun)
}

/// The UTC instants at which summer time starts and ends in `year` (01:00 UTC on the last
/// Sundays of March and October).
fn summer_time_utc(year: i32) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let one = NaiveTime::from_hms_opt(1, 0, 0)?;
    Some((
        last_sunday(year, 3)?.and_time(one),
        last_sunday(year, 10)?.and_time(one),
    ))
}

/// The UTC offset of Europe/Warsaw at `instant`: +01:00 (CET) or +02:00 (CEST).
pub fn warsaw_offset(instant: DateTime<Utc>) -> FixedOffset {
    let utc = instant.naive_utc();
    let summer =
        matches!(summer_time_utc(utc.year()), Some((start, end)) if utc >= start && utc < end);
    let secs = if summer { CEST } else { CET };
    FixedOffset::east_opt(secs).unwrap_or(Utc.fix())
}

/// `instant` in Europe/Warsaw local time, with its offset.
pub fn to_warsaw(instant: DateTime<Utc>) -> DateTime<FixedOffset> {
    instant.with_timezone(&warsaw_offset(instant))
}

/// The KSeF business date of `instant`: its calendar date in Europe/Warsaw.
pub fn business_date(instant: DateTime<Utc>) -> NaiveDate {
    to_warsaw(instant).date_naive()
}

/// The instant a Warsaw local date-time denotes.
///
/// Local times that do not exist (the hour skipped when summer time starts, 02:00–03:00 on the
/// last Sunday of March) are read as CET, which lands an hour later in summer time; local times
/// that exist twice (03:00 back to 02:00 on the last Sunday of October) are read as the first
/// of the two (summer time).
pub fn from_warsaw(local: NaiveDateTime) -> DateTime<Utc> {
    // Try summer time first: it is right whenever the result falls into summer time, which also
    // picks the earlier reading of an ambiguous autumn hour.
    let as_summer = local - TimeDelta::seconds(i64::from(CEST));
    let as_summer = Utc.from_utc_datetime(&as_summer);
    if warsaw_offset(as_summer).local_minus_utc() == CEST {
        return as_summer;
    }
    Utc.from_utc_datetime(&(local - TimeDelta::seconds(i64::from(CET))))
}

/// Midnight at the start of `date` in Europe/Warsaw, as an instant. (Midnight always exists in
/// Warsaw: the clocks change at 02:00/03:00.)
pub fn start_of_business_day(date: NaiveDate) -> DateTime<Utc> {
    from_warsaw(date.and_time(NaiveTime::MIN))
}

/// Parses a KSeF API date-time: RFC 3339 with `Z` or an offset, or — as the API allows for
/// dates in requests — a local date-time without an offset, which is Europe/Warsaw time
/// (`2026-01-15T12:00:00`, `2026-01-15T12:00:00.123`, `2026-01-15T12:00`).
pub fn parse_api_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Some(from_warsaw(local))
}

/// Formats an instant the way KSeF writes timestamps: RFC 3339 in UTC with milliseconds,
/// `2026-01-15T11:00:00.000Z`.
pub fn format_utc_millis(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Formats an instant in Europe/Warsaw local time with its offset and milliseconds,
/// `2026-01-15T12:00:00.000+01:00` (the form to send in query and export ranges: always with
/// an offset).
pub fn format_warsaw_millis(instant: DateTime<Utc>) -> String {
    to_warsaw(instant).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Instants at which date rules typically break, for tests: the last minute before and a time
/// after Warsaw midnight in winter (UTC+1) and summer (UTC+2), both nights the clocks change
/// (around 01:00 UTC on the last Sundays of March and October 2027), New Year's Eve and the
/// days around a leap day. Between 22:00/23:00 and 24:00 UTC the UTC date is a day behind the
/// Warsaw date.
pub const HARD_INSTANTS: [&str; 16] = [
    "2027-01-15T22:59:00Z",
    "2027-01-15T23:30:00Z",
    "2027-07-15T21:59:00Z",
    "2027-07-15T22:59:00Z",
    "2027-07-15T23:30:00Z",
    "2027-03-27T23:30:00Z",
    "2027-03-28T00:59:00Z",
    "2027-03-28T01:30:00Z",
    "2027-10-30T22:30:00Z",
    "2027-10-31T00:30:00Z",
    "2027-10-31T01:30:00Z",
    "2027-10-31T23:30:00Z",
    "2026-12-31T23:30:00Z",
    "2028-02-28T23:30:00Z",
    "2028-02-29T22:59:00Z",
    "2028-02-29T23:30:00Z",
];

/// [`HARD_INSTANTS`] as instants.
pub fn hard_instants() -> Vec<DateTime<Utc>> {
    HARD_INSTANTS
        .iter()
        .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
        .collect()
}

#[cfg(test)]
mod tests;
