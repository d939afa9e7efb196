//! Retry rules: what is retried, how long to wait.

use std::time::Duration;

use ksef_api::KsefError;
use rand::RngExt as _;

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
    /// Most attempts of a call after 502/503/504 or a transport failure (safe calls only).
    pub max_attempts: u32,
    /// Most 429 answers tolerated for one call.
    pub max_rate_limited: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one fails the call.
    pub max_retry_after: Duration,
    /// How many times an invoice send answered with 21184 (the online session is temporarily
    /// unavailable during maintenance; nothing was registered) is repeated in the same session
    /// before the invoice is given up with [`FlowError::SessionUnavailable`](crate::FlowError).
    pub session_unavailable_retries: u32,
    /// Wait before the first such repetition; doubled for each further one.
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
    /// Wait before repetition `n` (1-based) of a send that found its session unavailable.
    pub(crate) fn session_unavailable_wait(&self, n: u32) -> Duration {
        self.session_unavailable_delay
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(16)))
    }

    /// Capped exponential backoff with jitter ("equal jitter": half fixed, half random).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
        let d = exp.min(self.max_delay);
        let half = d / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let r = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(r)
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
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.backoff(attempt);
            let full = (p.base_delay * 2u32.pow((attempt - 1).min(16))).min(p.max_delay);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert!(p.backoff(30) <= p.max_delay);
    }
}
