//! The simulator's one notion of "now".
//!
//! Every rule and every phase of asynchronous work reads the configured clock
//! (`SimConfig::clock`, through `Shared::now`): dates in numbers, token and URL expiry, and when
//! an authentication, an invoice, a closed session or an export leaves its interim status.
//! With a clock that advances in real time (the default, or a `ShiftedClock`) processing takes
//! the configured delays; with one that stands still (`FixedClock`) it waits until the clock is
//! moved. Only the rate limiter measures request rates on the machine's monotonic clock, and the
//! latency fault sleeps in real time.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// `t` moved forward by `delay`, saturating at the end of time.
pub(crate) fn after(t: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(delay)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_saturate() {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            after(t, Duration::from_millis(1500)),
            t + TimeDelta::milliseconds(1500)
        );
        assert_eq!(after(t, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
