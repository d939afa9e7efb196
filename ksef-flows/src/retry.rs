//! Retry rules: what is retried, how long to wait.

use std::time::Duration;

use ksef_api::KsefError;

use crate::wait::Backoff;

/// Whether repeating a call cannot do harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, and writes whose repetition is harmless: retried after 502/503/504 and transport
    /// failures.
    Safe,
    /// Writes whose repetition could duplicate something (an invoice send, redeem): retried only
    /// when the server certainly did not process them (429, connection refused).
    Unsafe,
}

/// Retry and backoff settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most attempts of a call after 502/503/504 or a transport failure: of a call that is safe
    /// to repeat, and of an invoice send whose earlier attempts reconciliation did not find on
    /// the server.
    pub max_attempts: u32,
    /// Most 429 answers tolerated for one call.
    pub max_rate_limited: u32,
    /// First backoff delay (capped exponential with equal jitter: each delay lies between half
    /// and all of `base_delay × 2^(attempt−1)`, capped at `max_delay`).
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one fails the call.
    pub max_retry_after: Duration,
    /// How many times an invoice send answered with 21184 (the online session is temporarily
    /// unavailable during maintenance; nothing was registered) is repeated in the same session
    /// before the invoice is given up with [`FlowError::SessionUnavailable`](crate::FlowError).
    pub session_unavailable_retries: u32,
    /// Wait before the first such repetition; doubled for each further one up to `max_delay`
    /// (or this delay, when larger), with the same jitter as every backoff.
    pub session_unavailable_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_rate_limited: 10,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(15 * 60),
            session_unavailable_retries: 2,
            session_unavailable_delay: Duration::from_secs(5),
        }
    }
}

/// What to do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// 429: wait this long (Retry-After), then retry.
    RateLimited(Duration),
    /// Transient failure of a call that may be repeated: wait, then retry.
    Transient(Duration),
    /// Give up.
    Fail,
}

impl RetryPolicy {
    /// The backoff curve of retries: `base_delay` doubling up to `max_delay`, with jitter.
    pub(crate) fn curve(&self) -> Backoff {
        Backoff {
            first: self.base_delay,
            max: self.max_delay,
        }
    }

    /// Wait before repetition `attempt` (1-based) of a call, on [`curve`](Self::curve).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.curve().delay(attempt)
    }

    /// Whether to send an invoice again after its `lost`-th send (1-based) ended ambiguously (5xx,
    /// broken connection) and reconciliation did not find it: the wait before reconciling, or
    /// `None` once `max_attempts` sends were made.
    pub(crate) fn resend_after_ambiguous(&self, lost: u32) -> Option<Duration> {
        (lost < self.max_attempts).then(|| self.backoff(lost))
    }

    /// Whether to send an invoice again after its session answered 21184 (temporarily
    /// unavailable) for the `n`-th time (1-based): the wait, or `None` once
    /// `session_unavailable_retries` repetitions were made. The curve starts at
    /// `session_unavailable_delay` and doubles up to `max_delay` (or that delay, when larger).
    pub(crate) fn retry_unavailable(&self, n: u32) -> Option<Duration> {
        let curve = Backoff {
            first: self.session_unavailable_delay,
            max: self.max_delay.max(self.session_unavailable_delay),
        };
        (n <= self.session_unavailable_retries).then(|| curve.delay(n))
    }

    pub(crate) fn decide(
        &self,
        error: &KsefError,
        idempotency: Idempotency,
        attempts: u32,
        rate_limited: u32,
    ) -> Decision {
        match error {
            KsefError::Api(r) => {
                let status = r.status.as_u16();
                if status == 429 {
                    if rate_limited >= self.max_rate_limited {
                        return Decision::Fail;
                    }
                    let wait = r
                        .retry_after()
                        .unwrap_or_else(|| self.backoff(rate_limited + 1));
                    if wait > self.max_retry_after {
                        return Decision::Fail;
                    }
                    return Decision::RateLimited(wait);
                }
                if matches!(status, 502..=504)
                    && idempotency == Idempotency::Safe
                    && attempts < self.max_attempts
                {
                    let wait = r
                        .retry_after()
                        .map_or_else(|| self.backoff(attempts), |ra| ra.min(self.max_delay));
                    return Decision::Transient(wait);
                }
                Decision::Fail
            }
            KsefError::Transport(e) if attempts < self.max_attempts => {
                // A refused connection never reached the server: safe for every call.
                if idempotency == Idempotency::Safe || e.is_connect() {
                    Decision::Transient(self.backoff(attempts))
                } else {
                    Decision::Fail
                }
            }
            _ => Decision::Fail,
        }
    }
}

/// Whether an error leaves it unknown if the server processed the request.
pub(crate) fn is_ambiguous(error: &KsefError) -> bool {
    match error {
        KsefError::Api(r) => r.status.is_server_error(),
        KsefError::Transport(e) => !e.is_connect(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_policy_curve() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.backoff(attempt);
            let full = p.curve().ceiling(attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert_eq!(p.curve().ceiling(1), p.base_delay);
        assert_eq!(p.curve().ceiling(30), p.max_delay);
    }

    #[test]
    fn sends_are_repeated_as_the_policy_allows() {
        let mut p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.resend_after_ambiguous(1).is_some());
        assert!(p.resend_after_ambiguous(2).is_some());
        assert_eq!(p.resend_after_ambiguous(3), None);
        p.session_unavailable_retries = 2;
        p.session_unavailable_delay = Duration::from_secs(5);
        p.max_delay = Duration::from_secs(8);
        let first = p.retry_unavailable(1).unwrap();
        assert!(first >= Duration::from_millis(2500) && first <= Duration::from_secs(5));
        let second = p.retry_unavailable(2).unwrap();
        assert!(second >= Duration::from_secs(4) && second <= Duration::from_secs(8));
        assert_eq!(p.retry_unavailable(3), None);
        // a delay above max_delay is kept, not cut
        p.max_delay = Duration::from_secs(1);
        assert!(p.retry_unavailable(1).unwrap() >= Duration::from_millis(2500));
    }
}
