//! Waiting: the crate's one backoff curve and its one polling loop.
//!
//! KSeF does most work asynchronously: an authentication, an invoice, a session close, a batch
//! session, an export each answer "accepted" first and report their outcome through a status
//! endpoint later. A [`Polling`] paces the loop that asks such an endpoint until the caller's
//! condition holds or the deadline passes:
//!
//! * the first ask goes at once, then the pauses between asks follow a [`Backoff`] curve (capped
//!   exponential with equal jitter, the same curve the retries of failed calls use), so a quick
//!   operation is seen quickly and a slow one is not hammered;
//! * a `Retry-After` the status answer carries lengthens the pause: the next ask is never earlier
//!   than the server asked for (nor earlier than the curve allows);
//! * the last wait is cut short at the deadline and followed by one last ask, so the whole budget
//!   is used; a `Retry-After` that reaches past the deadline ends the wait at once instead (asking
//!   earlier would ignore it).
//!
//! The loop stays with the caller (its condition and the state it keeps between asks are its
//! own); a closure-taking `poll_until` would make the flows' futures lose `Send` (async closures
//! that borrow their surroundings are not provably `Send` today). The time source is tokio's
//! clock, so tests drive it with paused time.

use std::time::Duration;

use rand::RngExt as _;
use tokio::time::Instant;

/// Capped exponential backoff with "equal jitter": the delay before the `n`-th repetition is
/// `first × 2^(n−1)`, capped at `max`; half of it is fixed, the other half random. The fixed half
/// keeps the pace predictable, the random half spreads clients that failed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The full delay before the first repetition.
    pub(crate) first: Duration,
    /// The largest full delay.
    pub(crate) max: Duration,
}

impl Backoff {
    /// The full (unjittered) delay before repetition `n` (1-based; 0 counts as 1).
    pub(crate) fn ceiling(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.first.saturating_mul(factor).min(self.max)
    }

    /// The delay before repetition `n` (1-based): between half of [`ceiling`](Self::ceiling) and
    /// all of it.
    pub(crate) fn delay(&self, n: u32) -> Duration {
        let full = self.ceiling(n);
        let half = full / 2;
        let spread_ms = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
        let jitter_ms = if spread_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread_ms)
        };
        half + Duration::from_millis(jitter_ms).min(full - half)
    }
}

/// How a status is polled: the backoff between asks and the longest total wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PollSchedule {
    /// Delays between asks.
    pub(crate) backoff: Backoff,
    /// Longest total wait, counted from [`Polling::start`].
    pub(crate) timeout: Duration,
}

impl PollSchedule {
    /// The curve status polls use: 200 ms doubling up to 2 s (with jitter), for `timeout` at most.
    pub(crate) fn status(timeout: Duration) -> Self {
        Self {
            backoff: Backoff {
                first: Duration::from_millis(200),
                max: Duration::from_secs(2),
            },
            timeout,
        }
    }
}

/// One poll in progress: its deadline and how many pauses it has made. The caller's loop asks
/// the status, stops when its condition holds, and otherwise calls [`pause`](Self::pause):
///
/// ```ignore
/// let mut polling = Polling::start(ksef.poll_schedule());
/// let done = loop {
///     let answer = ask().await?;
///     if finished(&answer) {
///         break answer;
///     }
///     if !polling.pause(answer.retry_after()).await {
///         return Err(FlowError::Timeout("the thing"));
///     }
/// };
/// ```
#[derive(Debug)]
pub(crate) struct Polling {
    backoff: Backoff,
    /// `None`: a timeout too long for the clock, i.e. none.
    deadline: Option<Instant>,
    pauses: u32,
}

impl Polling {
    /// Starts the clock of a poll: the first ask goes at once, the deadline is `schedule.timeout`
    /// from now.
    pub(crate) fn start(schedule: PollSchedule) -> Self {
        Self {
            backoff: schedule.backoff,
            deadline: Instant::now().checked_add(schedule.timeout),
            pauses: 0,
        }
    }

    /// Waits before the next ask and returns `true`, or returns `false` at once when no ask may
    /// follow: the deadline has passed, or `retry_after` (the `Retry-After` of the last status
    /// answer) reaches past it. The pause is the curve's next delay, or `retry_after` when that
    /// is longer; a pause of the curve is cut at the deadline (so one last ask happens there).
    #[must_use = "`false` means the deadline passed: stop asking"]
    pub(crate) async fn pause(&mut self, retry_after: Option<Duration>) -> bool {
        let left = self.deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() || retry_after.is_some_and(|ra| ra > left) {
            return false;
        }
        self.pauses = self.pauses.saturating_add(1);
        let curve = self.backoff.delay(self.pauses).min(left);
        tokio::time::sleep(retry_after.map_or(curve, |ra| ra.max(curve))).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(timeout_ms: u64) -> PollSchedule {
        PollSchedule {
            backoff: Backoff {
                first: Duration::from_millis(100),
                max: Duration::from_millis(400),
            },
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    /// Asks (recording the instant) until `answer(n)` is `Ok`, pausing with its `Err` as
    /// `Retry-After`; returns the ask instants and whether the condition held.
    async fn run(
        timeout_ms: u64,
        mut answer: impl FnMut(usize) -> Result<(), Option<Duration>>,
    ) -> (Vec<Duration>, bool) {
        let start = Instant::now();
        let mut polling = Polling::start(schedule(timeout_ms));
        let mut asked_at = Vec::new();
        loop {
            asked_at.push(start.elapsed());
            let retry_after = match answer(asked_at.len()) {
                Ok(()) => return (asked_at, true),
                Err(ra) => ra,
            };
            if !polling.pause(retry_after).await {
                return (asked_at, false);
            }
        }
    }

    #[test]
    fn the_curve_doubles_is_capped_and_stays_within_its_jitter_band() {
        let b = Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(10),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(200));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(2), Duration::from_millis(400));
        assert_eq!(b.ceiling(6), Duration::from_millis(6400));
        assert_eq!(b.ceiling(7), Duration::from_secs(10));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
        for n in 1..40 {
            let d = b.delay(n);
            assert!(d >= b.ceiling(n) / 2 && d <= b.ceiling(n), "{n}: {d:?}");
        }
        let zero = Backoff {
            first: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        assert_eq!(zero.delay(3), Duration::ZERO);
        // odd milliseconds: the band is [half, full], never past full
        let odd = Backoff {
            first: Duration::from_millis(3),
            max: Duration::from_millis(3),
        };
        for _ in 0..50 {
            let d = odd.delay(1);
            assert!(d >= Duration::from_micros(1500) && d <= Duration::from_millis(3));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn asks_at_once_then_along_the_curve_until_ready() {
        let (asked_at, ready) = run(60_000, |n| if n == 5 { Ok(()) } else { Err(None) }).await;
        assert!(ready);
        assert_eq!(asked_at.len(), 5);
        assert_eq!(asked_at.first(), Some(&Duration::ZERO));
        // each pause lies in its band of the curve: 100, 200, 400, 400 (capped) ms
        let bands = [100u64, 200, 400, 400];
        for (pair, full) in asked_at.windows(2).zip(bands) {
            let pause = pair[1] - pair[0];
            let full = Duration::from_millis(full);
            assert!(pause >= full / 2 && pause <= full, "{pause:?} vs {full:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_pause_is_cut_at_the_deadline_and_followed_by_one_last_ask() {
        let (asked_at, ready) = run(1_000, |_| Err(None)).await;
        assert!(!ready);
        assert_eq!(asked_at.last(), Some(&Duration::from_millis(1_000)));
        assert!(asked_at.iter().all(|t| *t <= Duration::from_millis(1_000)));
        // at 0, at the deadline, and at least three asks of the curve in between
        assert!(asked_at.len() >= 5, "{asked_at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_longer_than_the_curve_lengthens_the_pause() {
        let (asked_at, ready) = run(60_000, |n| match n {
            1 => Err(Some(Duration::from_secs(7))),
            2 => Err(Some(Duration::from_millis(10))),
            _ => Ok(()),
        })
        .await;
        assert!(ready);
        assert_eq!(asked_at.len(), 3);
        assert_eq!(asked_at[1], Duration::from_secs(7));
        // 10 ms is shorter than the curve's second pause (100–200 ms): the curve wins
        let second = asked_at[2] - asked_at[1];
        assert!(
            second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
            "{second:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_of_zero_at_the_deadline_does_not_spin() {
        let (asked_at, ready) = run(1_000, |_| Err(Some(Duration::ZERO))).await;
        assert!(!ready);
        assert_eq!(asked_at.last(), Some(&Duration::from_millis(1_000)));
        assert!(asked_at.len() < 20, "{asked_at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_too_long_for_the_clock_means_no_deadline() {
        let mut polling = Polling::start(PollSchedule::status(Duration::MAX));
        let start = Instant::now();
        assert!(polling.pause(Some(Duration::from_secs(3600))).await);
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_past_the_deadline_ends_the_wait_without_asking_early() {
        let (asked_at, ready) = run(5_000, |_| Err(Some(Duration::from_secs(30)))).await;
        assert!(!ready);
        assert_eq!(asked_at, [Duration::ZERO]);
        // nothing was waited for either
        let start = Instant::now();
        let mut polling = Polling::start(schedule(5_000));
        assert!(!polling.pause(Some(Duration::from_secs(30))).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_timeout_asks_once() {
        let (asked_at, ready) = run(0, |_| Err(None)).await;
        assert_eq!((asked_at.len(), ready), (1, false));
    }
}
