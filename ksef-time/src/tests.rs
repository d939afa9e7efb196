#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use chrono::{LocalResult, Offset};
use chrono_tz::Europe::Warsaw;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The IANA database (chrono-tz) is the oracle: every quarter hour of 1997..2040 has the same
/// offset and business date, and so has every minute around each switch.
#[test]
fn offsets_match_the_iana_database() {
    let mut t = utc("1997-01-01T00:00:00Z");
    let end = utc("2041-01-01T00:00:00Z");
    let mut checked = 0u64;
    while t < end {
        let oracle = Warsaw.offset_from_utc_datetime(&t.naive_utc()).fix();
        assert_eq!(warsaw_offset(t), oracle, "offset at {t}");
        assert_eq!(
            business_date(t),
            t.with_timezone(&Warsaw).date_naive(),
            "date at {t}"
        );
        t += TimeDelta::minutes(15);
        checked += 1;
    }
    assert!(checked > 1_500_000);
    for year in 1997..2041 {
        let (start, stop) = summer_time_utc(year).unwrap();
        for switch in [start, stop] {
            for m in -90..=90 {
                let t = Utc.from_utc_datetime(&switch) + TimeDelta::minutes(m);
                let oracle = Warsaw.offset_from_utc_datetime(&t.naive_utc()).fix();
                assert_eq!(warsaw_offset(t), oracle, "offset at {t}");
            }
        }
    }
}

/// Local times map to the instants the IANA database gives (the earlier one when a local time
/// exists twice); the skipped spring hour is read as CET.
#[test]
fn local_times_match_the_iana_database() {
    let mut local = date(2019, 1, 1).and_hms_opt(0, 0, 0).unwrap();
    let end = date(2031, 1, 1).and_hms_opt(0, 0, 0).unwrap();
    while local < end {
        let ours = from_warsaw(local);
        match Warsaw.from_local_datetime(&local) {
            LocalResult::Single(t) => assert_eq!(ours, t.to_utc(), "{local}"),
            LocalResult::Ambiguous(first, _) => assert_eq!(ours, first.to_utc(), "{local}"),
            LocalResult::None => {
                // The skipped hour: read as CET, i.e. one hour later in CEST.
                let cet = FixedOffset::east_opt(3600).unwrap();
                assert_eq!(ours, cet.from_local_datetime(&local).unwrap().to_utc());
                assert_eq!(to_warsaw(ours).naive_local(), local + TimeDelta::hours(1));
            }
        }
        local += TimeDelta::minutes(30);
    }
}

/// The instants the KSeF date rules have to survive.
#[test]
fn business_dates_at_the_hard_instants() {
    let cases = [
        // winter: UTC+1
        ("2027-01-15T22:59:00Z", date(2027, 1, 15)),
        ("2027-01-15T23:00:00Z", date(2027, 1, 16)),
        ("2027-01-15T23:30:00Z", date(2027, 1, 16)),
        // summer: UTC+2
        ("2027-07-15T21:59:00Z", date(2027, 7, 15)),
        ("2027-07-15T22:00:00Z", date(2027, 7, 16)),
        ("2027-07-15T22:59:00Z", date(2027, 7, 16)),
        ("2027-07-15T23:30:00Z", date(2027, 7, 16)),
        // spring switch night (last Sunday of March 2027 is the 28th)
        ("2027-03-27T22:59:00Z", date(2027, 3, 27)),
        ("2027-03-27T23:30:00Z", date(2027, 3, 28)),
        ("2027-03-28T00:59:00Z", date(2027, 3, 28)),
        ("2027-03-28T01:00:00Z", date(2027, 3, 28)),
        ("2027-03-28T21:59:00Z", date(2027, 3, 28)),
        ("2027-03-28T22:00:00Z", date(2027, 3, 29)),
        // autumn switch night (last Sunday of October 2027 is the 31st)
        ("2027-10-30T21:59:00Z", date(2027, 10, 30)),
        ("2027-10-30T22:00:00Z", date(2027, 10, 31)),
        ("2027-10-31T00:59:00Z", date(2027, 10, 31)),
        ("2027-10-31T01:00:00Z", date(2027, 10, 31)),
        ("2027-10-31T22:59:00Z", date(2027, 10, 31)),
        ("2027-10-31T23:00:00Z", date(2027, 11, 1)),
        // New Year's Eve
        ("2026-12-31T22:59:00Z", date(2026, 12, 31)),
        ("2026-12-31T23:30:00Z", date(2027, 1, 1)),
        // leap day
        ("2028-02-28T23:30:00Z", date(2028, 2, 29)),
        ("2028-02-29T22:59:00Z", date(2028, 2, 29)),
        ("2028-02-29T23:30:00Z", date(2028, 3, 1)),
    ];
    for (instant, expected) in cases {
        assert_eq!(business_date(utc(instant)), expected, "{instant}");
    }
}

#[test]
fn start_of_business_day_is_warsaw_midnight() {
    assert_eq!(
        start_of_business_day(date(2027, 1, 16)),
        utc("2027-01-15T23:00:00Z")
    );
    assert_eq!(
        start_of_business_day(date(2027, 7, 16)),
        utc("2027-07-15T22:00:00Z")
    );
    // Both switch days start at midnight of the old offset.
    assert_eq!(
        start_of_business_day(date(2027, 3, 28)),
        utc("2027-03-27T23:00:00Z")
    );
    assert_eq!(
        start_of_business_day(date(2027, 10, 31)),
        utc("2027-10-30T22:00:00Z")
    );
    for d in [date(2027, 3, 28), date(2027, 10, 31), date(2028, 2, 29)] {
        assert_eq!(business_date(start_of_business_day(d)), d);
        assert_eq!(
            business_date(start_of_business_day(d) - TimeDelta::seconds(1)),
            d.pred_opt().unwrap()
        );
    }
}

#[test]
fn api_datetimes() {
    let p = |s| format_utc_millis(parse_api_datetime(s).unwrap());
    assert_eq!(p("2026-01-15T12:00:00"), "2026-01-15T11:00:00.000Z");
    assert_eq!(p("2025-08-28T09:22:13.388"), "2025-08-28T07:22:13.388Z");
    assert_eq!(
        p("2025-08-28T09:22:13.388+00:00"),
        "2025-08-28T09:22:13.388Z"
    );
    assert_eq!(p("2025-08-28T09:22:13Z"), "2025-08-28T09:22:13.000Z");
    assert_eq!(p("2026-01-15T12:00"), "2026-01-15T11:00:00.000Z");
    assert_eq!(p("2026-03-29T01:59:00"), "2026-03-29T00:59:00.000Z");
    assert_eq!(p("2026-03-29T03:00:00"), "2026-03-29T01:00:00.000Z");
    assert!(parse_api_datetime("yesterday").is_none());
    assert!(parse_api_datetime("2026-13-01T00:00:00").is_none());
    assert_eq!(
        format_warsaw_millis(utc("2027-07-15T22:30:00Z")),
        "2027-07-16T00:30:00.000+02:00"
    );
    assert_eq!(
        format_warsaw_millis(utc("2027-01-15T23:30:00Z")),
        "2027-01-16T00:30:00.000+01:00"
    );
}

#[test]
fn clocks() {
    let fixed = FixedClock::at(utc("2026-12-31T23:30:00Z"));
    assert_eq!(fixed.today(), date(2027, 1, 1));
    fixed.advance(TimeDelta::hours(-1));
    assert_eq!(fixed.today(), date(2026, 12, 31));
    fixed.set(utc("2028-02-29T12:00:00Z"));
    assert_eq!(fixed.now(), utc("2028-02-29T12:00:00Z"));

    let start = utc("2027-03-28T00:30:00Z");
    let shifted = ShiftedClock::starting_at(start);
    let read = shifted.now();
    assert!(
        read >= start && read - start < TimeDelta::minutes(10),
        "{read}"
    );
    let later = shifted.now();
    assert!(later >= read, "a shifted clock advances");
    assert_eq!(ShiftedClock::by(shifted.offset()), shifted);

    let system = system_clock();
    let diff = (system.now() - Utc::now()).abs();
    assert!(diff < TimeDelta::minutes(10));
}

#[test]
fn last_sundays() {
    assert_eq!(last_sunday(2027, 3), Some(date(2027, 3, 28)));
    assert_eq!(last_sunday(2027, 10), Some(date(2027, 10, 31)));
    assert_eq!(last_sunday(2026, 3), Some(date(2026, 3, 29)));
    assert_eq!(last_sunday(2026, 10), Some(date(2026, 10, 25)));
    assert_eq!(last_sunday(2026, 12), Some(date(2026, 12, 27)));
}

#[test]
fn hard_instants_parse_and_cover_both_offsets() {
    let all = hard_instants();
    assert_eq!(all.len(), HARD_INSTANTS.len());
    let differ = all
        .iter()
        .filter(|t| business_date(**t) != t.date_naive())
        .count();
    assert!(
        differ >= 8,
        "most hard instants have a Warsaw date after the UTC date"
    );
    assert!(
        all.iter()
            .any(|t| warsaw_offset(*t).local_minus_utc() == 3600)
    );
    assert!(
        all.iter()
            .any(|t| warsaw_offset(*t).local_minus_utc() == 7200)
    );
}
