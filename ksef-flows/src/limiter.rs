//! Client-side rate limiter: sliding 1 s / 60 s / 60 min windows per (context, limit group).
//!
//! KSeF counts requests per context and client IP in three sliding windows at once and answers
//! 429 when one is full. The server counts a request when it *arrives*; the client cannot see
//! that instant, but it lies between the moment the request was sent and the moment its answer
//! came back. So a request occupies a slot from the moment it is sent until it completes, and its
//! slot is then dated at its completion (plus a small margin): a slot can only leave a window
//! after the server's own record of it has left. This makes a long run at full speed 429-free
//! whatever the latency, at the cost of being slightly slower than the theoretical limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ksef_api::operations::{OPERATIONS, OperationMeta, RateLimits};
use tokio::sync::Notify;

use crate::lock::lock;

const WINDOWS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(60),
    Duration::from_secs(3600),
];

/// How the client limits its own request rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitMode {
    /// Use each operation's `x-rate-limits` until `GET /rate-limits` of an authenticated context
    /// says otherwise (the effective limits replace the spec's for that context). Default.
    #[default]
    Effective,
    /// Use only the spec's `x-rate-limits`.
    Spec,
    /// No client-side limiting (429 answers are still honoured through `Retry-After`).
    Off,
}

/// Limits of one group: requests per second, minute, hour (`u32::MAX` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Per second.
    pub per_second: u32,
    /// Per minute.
    pub per_minute: u32,
    /// Per hour.
    pub per_hour: u32,
}

impl Limits {
    fn from_spec(l: RateLimits) -> Self {
        Self {
            per_second: l.per_second.unwrap_or(u32::MAX),
            per_minute: l.per_minute.unwrap_or(u32::MAX),
            per_hour: l.per_hour.unwrap_or(u32::MAX),
        }
    }

    fn caps(&self) -> [u32; 3] {
        [self.per_second, self.per_minute, self.per_hour]
    }
}

/// The bucket an operation counts in: its rate-limit group, or the operation itself when the
/// spec names no group (the authentication endpoints are limited per operation and IP).
pub(crate) fn bucket_of(op: &OperationMeta) -> &'static str {
    op.rate_limit_group.unwrap_or(op.name)
}

#[derive(Debug)]
struct Bucket {
    limits: Limits,
    in_flight: u32,
    /// Completion instants, oldest first.
    done: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

impl Bucket {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            in_flight: 0,
            done: VecDeque::new(),
            blocked_until: None,
        }
    }

    /// `Ok(())` when a slot is free now, else how long to wait (`None` = until a request in
    /// flight completes).
    fn check(&mut self, now: Instant, margin: Duration) -> Result<(), Option<Duration>> {
        if let Some(until) = self.blocked_until {
            if until > now {
                return Err(Some(until - now));
            }
            self.blocked_until = None;
        }
        let longest = WINDOWS[2] + margin;
        while self
            .done
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= longest)
        {
            self.done.pop_front();
        }
        let mut wait: Option<Duration> = Some(Duration::ZERO);
        for (window, cap) in WINDOWS.iter().zip(self.limits.caps()) {
            if cap == u32::MAX {
                continue;
            }
            let window = *window + margin;
            let in_window: Vec<Instant> = self
                .done
                .iter()
                .rev()
                .take_while(|t| now.saturating_duration_since(**t) < window)
                .copied()
                .collect();
            let count = self.in_flight as usize + in_window.len();
            if count < cap as usize {
                continue;
            }
            // `count - cap + 1` completed entries must leave the window; the oldest go first.
            let need = count - cap as usize + 1;
            if need > in_window.len() {
                wait = None; // only completions of requests in flight can free a slot
                continue;
            }
            // `in_window` is newest first: the `need`-th oldest is at `len - need`
            let Some(t) = in_window.get(in_window.len() - need) else {
                wait = None;
                continue;
            };
            let d = (*t + window).saturating_duration_since(now);
            wait = wait.map(|w| w.max(d));
        }
        match wait {
            Some(d) if d.is_zero() => Ok(()),
            other => Err(other),
        }
    }
}

#[derive(Debug)]
struct Inner {
    mode: RateLimitMode,
    margin: Duration,
    /// Per-context overrides of group limits (from `GET /rate-limits`).
    overrides: HashMap<String, HashMap<String, Limits>>,
    buckets: HashMap<(String, &'static str), Bucket>,
}

/// The limiter shared by all calls of one [`Ksef`](crate::Ksef) client.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
}

/// A slot held while a request is in flight; dropping it dates the slot.
#[derive(Debug)]
pub(crate) struct Permit {
    limiter: Option<(RateLimiter, String, &'static str)>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((limiter, ctx, bucket)) = self.limiter.take() {
            let mut inner = limiter.lock();
            if let Some(b) = inner.buckets.get_mut(&(ctx, bucket)) {
                b.in_flight = b.in_flight.saturating_sub(1);
                b.done.push_back(Instant::now());
            }
            drop(inner);
            limiter.notify.notify_waiters();
        }
    }
}

impl RateLimiter {
    /// A limiter in `mode`; `margin` is added to every window (default 50 ms).
    pub fn new(mode: RateLimitMode, margin: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                mode,
                margin,
                overrides: HashMap::new(),
                buckets: HashMap::new(),
            })),
            notify: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// The mode.
    pub fn mode(&self) -> RateLimitMode {
        self.lock().mode
    }

    /// Replaces the limits of the groups of one context (e.g. with the effective limits of
    /// `GET /rate-limits`). Ignored in [`RateLimitMode::Spec`] and [`RateLimitMode::Off`].
    pub fn set_context_limits(&self, context: &str, limits: HashMap<String, Limits>) {
        let mut inner = self.lock();
        if inner.mode != RateLimitMode::Effective {
            return;
        }
        for ((ctx, bucket), b) in inner.buckets.iter_mut() {
            if ctx == context
                && let Some(l) = limits.get(*bucket)
            {
                b.limits = *l;
            }
        }
        inner.overrides.insert(context.to_string(), limits);
    }

    /// The limits that apply to an operation (by name, e.g. `"session_status"`) in a context;
    /// `None` for an operation the pinned spec does not have or does not limit.
    pub fn limits_for(&self, context: &str, operation: &str) -> Option<Limits> {
        let op = ksef_api::operations::find(operation)?;
        let inner = self.lock();
        Self::resolve(&inner, context, op)
    }

    fn resolve(inner: &Inner, context: &str, op: &OperationMeta) -> Option<Limits> {
        let bucket = bucket_of(op);
        if let Some(l) = inner.overrides.get(context).and_then(|o| o.get(bucket)) {
            return Some(*l);
        }
        // The group's spec limits: those of the operation, which the spec repeats for every
        // operation of a group.
        op.rate_limits.map(Limits::from_spec).or_else(|| {
            op.rate_limit_group.and_then(|g| {
                OPERATIONS
                    .iter()
                    .filter(|o| o.rate_limit_group == Some(g))
                    .find_map(|o| o.rate_limits.map(Limits::from_spec))
            })
        })
    }

    /// Blocks the bucket of `op` in `context` for `for_` (after a 429 with `Retry-After`).
    pub(crate) fn block(&self, context: &str, op: &'static OperationMeta, for_: Duration) {
        let mut inner = self.lock();
        if inner.mode == RateLimitMode::Off {
            return;
        }
        let until = Instant::now() + for_;
        let limits = Self::resolve(&inner, context, op).unwrap_or(Limits {
            per_second: u32::MAX,
            per_minute: u32::MAX,
            per_hour: u32::MAX,
        });
        let b = inner
            .buckets
            .entry((context.to_string(), bucket_of(op)))
            .or_insert_with(|| Bucket::new(limits));
        b.blocked_until = Some(b.blocked_until.map_or(until, |u| u.max(until)));
    }

    /// Waits until `op` may be sent in `context`, and takes a slot. An operation the spec does
    /// not limit gets a slot at once.
    pub(crate) async fn acquire(&self, context: &str, op: &'static OperationMeta) -> Permit {
        let bucket = bucket_of(op);
        loop {
            let notified = self.notify.notified();
            let wait = {
                let mut inner = self.lock();
                if inner.mode == RateLimitMode::Off {
                    return Permit { limiter: None };
                }
                let Some(limits) = Self::resolve(&inner, context, op) else {
                    return Permit { limiter: None };
                };
                let margin = inner.margin;
                let b = inner
                    .buckets
                    .entry((context.to_string(), bucket))
                    .or_insert_with(|| Bucket::new(limits));
                match b.check(Instant::now(), margin) {
                    Ok(()) => {
                        b.in_flight += 1;
                        return Permit {
                            limiter: Some((self.clone(), context.to_string(), bucket)),
                        };
                    }
                    Err(w) => w,
                }
            };
            tracing::trace!(operation = op.name, bucket, ?wait, "rate limiter: waiting");
            match wait {
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        () = notified => {}
                    }
                }
                None => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        () = notified => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksef_api::operations::op;

    #[test]
    fn bucket_counts_in_flight_and_completed() {
        let mut b = Bucket::new(Limits {
            per_second: 2,
            per_minute: 3,
            per_hour: u32::MAX,
        });
        let t0 = Instant::now();
        let m = Duration::ZERO;
        assert!(b.check(t0, m).is_ok());
        b.in_flight = 2;
        // two in flight fill the per-second window: only a completion helps
        assert_eq!(b.check(t0, m), Err(None));
        b.in_flight = 0;
        b.done.push_back(t0);
        b.done.push_back(t0 + Duration::from_millis(100));
        let w = b
            .check(t0 + Duration::from_millis(200), m)
            .unwrap_err()
            .unwrap();
        assert_eq!(w, Duration::from_millis(800));
        assert!(b.check(t0 + Duration::from_millis(1000), m).is_ok());
        b.done.push_back(t0 + Duration::from_millis(1000));
        // minute window holds 3 now
        let w = b
            .check(t0 + Duration::from_millis(1500), m)
            .unwrap_err()
            .unwrap();
        assert_eq!(w, Duration::from_millis(58_500));
    }

    #[tokio::test]
    async fn closing_a_session_counts_in_its_own_group() {
        use futures::FutureExt as _;
        assert_eq!(bucket_of(op::ONLINE_SESSION_CLOSE), "onlineSessionClose");
        assert_eq!(bucket_of(op::BATCH_SESSION_CLOSE), "batchSessionClose");
        let l = RateLimiter::new(RateLimitMode::Spec, Duration::ZERO);
        // the values the spec documents for the close groups (20/60/240 and 20/40/120)
        let caps = |n| l.limits_for("c", n).unwrap().caps();
        assert_eq!(caps("online_session_close"), [20, 60, 240]);
        assert_eq!(caps("batch_session_close"), [20, 40, 120]);
        assert_eq!(caps("online_session_open"), [10, 30, 120]);
        // ten opens in flight fill onlineSession's second; a close still gets its slot at once
        let open: Vec<Permit> = (0..10)
            .map(|_| {
                l.acquire("c", op::ONLINE_SESSION_OPEN)
                    .now_or_never()
                    .unwrap()
            })
            .collect();
        assert!(
            l.acquire("c", op::ONLINE_SESSION_OPEN)
                .now_or_never()
                .is_none()
        );
        assert!(
            l.acquire("c", op::ONLINE_SESSION_CLOSE)
                .now_or_never()
                .is_some()
        );
        assert!(
            l.acquire("c", op::BATCH_SESSION_CLOSE)
                .now_or_never()
                .is_some()
        );
        drop(open);
    }

    #[test]
    fn groups_share_limits_and_auth_ops_are_alone() {
        let l = RateLimiter::new(RateLimitMode::Effective, Duration::ZERO);
        let send = l.limits_for("c", "online_session_send_invoice").unwrap();
        assert_eq!(send.caps(), [10, 30, 180]);
        assert_eq!(bucket_of(op::AUTH_CHALLENGE), "auth_challenge");
        let mut o = HashMap::new();
        o.insert(
            "invoiceSend".to_string(),
            Limits {
                per_second: 1,
                per_minute: 2,
                per_hour: 3,
            },
        );
        l.set_context_limits("c", o);
        assert_eq!(
            l.limits_for("c", "online_session_send_invoice")
                .unwrap()
                .caps(),
            [1, 2, 3]
        );
        assert_eq!(
            l.limits_for("d", "online_session_send_invoice")
                .unwrap()
                .caps(),
            [10, 30, 180]
        );
    }
}
