//! Sliding-window rate limiting per (group, context, client IP), driven by `x-rate-limits`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ops::OperationInfo;
use crate::sync::lock;

/// Limits of one group (requests per second, minute, hour). `u32::MAX` means unlimited and is
/// `-1` on the wire, as in the spec's `GET /rate-limits` example (`"perMinute": -1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitValues {
    /// Requests per second.
    #[serde(with = "wire_limit")]
    pub per_second: u32,
    /// Requests per minute.
    #[serde(with = "wire_limit")]
    pub per_minute: u32,
    /// Requests per hour.
    #[serde(with = "wire_limit")]
    pub per_hour: u32,
}

/// An int32 on the wire: `-1` (any negative value when reading) is unlimited.
mod wire_limit {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        if *v == u32::MAX {
            s.serialize_i32(-1)
        } else {
            s.serialize_i32(i32::try_from(*v).unwrap_or(i32::MAX))
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = i64::deserialize(d)?;
        Ok(if v < 0 {
            u32::MAX
        } else {
            u32::try_from(v).unwrap_or(u32::MAX)
        })
    }
}

const WINDOWS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(60),
    Duration::from_secs(3600),
];

/// Repeated breaches of one bucket: each new breach within an hour doubles the block
/// (1 s, 2 s, 4 s, ... capped at [`MAX_BLOCK`]), never shorter than the time until the window frees.
#[derive(Debug, Clone, Copy)]
struct Breach {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

/// Longest block imposed for repeated breaches.
const MAX_BLOCK: Duration = Duration::from_secs(60);

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[derive(Debug)]
struct Settings {
    enabled: bool,
    scale: f64,
    /// per-context overrides: context key -> group -> values
    overrides: HashMap<String, BTreeMap<String, RateLimitValues>>,
}

/// The rate limiter shared by all requests.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    settings: Mutex<Settings>,
    hits: Mutex<HashMap<(String, String, IpAddr), VecDeque<Instant>>>,
    breaches: Mutex<HashMap<(String, String, IpAddr), Breach>>,
}

/// The default limits per named group: the groups of the operation table (each with its
/// operations' `x-rate-limits`), plus the groups `GET /rate-limits` reports that no operation
/// names in its 429 table (`anonymous`, `global` in 2.9.0), with the values of the spec's
/// example of that answer.
pub(crate) fn default_group_limits() -> BTreeMap<String, RateLimitValues> {
    let mut out = BTreeMap::new();
    for op in crate::ops::all() {
        if op.group.is_empty() {
            continue;
        }
        out.entry(op.group.to_string()).or_insert(RateLimitValues {
            per_second: op.per_second.unwrap_or(u32::MAX),
            per_minute: op.per_minute.unwrap_or(u32::MAX),
            per_hour: op.per_hour.unwrap_or(u32::MAX),
        });
    }
    let documented: BTreeMap<String, RateLimitValues> =
        serde_json::from_str(crate::ops::RATE_LIMITS.success_example).unwrap_or_default();
    for (group, values) in documented {
        out.entry(group).or_insert(values);
    }
    out
}

impl RateLimiter {
    pub(crate) fn new(enabled: bool, scale: f64) -> Self {
        Self {
            settings: Mutex::new(Settings {
                enabled,
                scale,
                overrides: HashMap::new(),
            }),
            hits: Mutex::new(HashMap::new()),
            breaches: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set_enabled(&self, enabled: bool) {
        lock(&self.settings).enabled = enabled;
    }

    pub(crate) fn set_scale(&self, scale: f64) {
        lock(&self.settings).scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
    }

    /// Forgets all counters.
    pub(crate) fn reset_counters(&self) {
        lock(&self.hits).clear();
        lock(&self.breaches).clear();
    }

    pub(crate) fn set_overrides(&self, context: &str, limits: BTreeMap<String, RateLimitValues>) {
        lock(&self.settings)
            .overrides
            .insert(context.to_string(), limits);
    }

    pub(crate) fn clear_overrides(&self, context: &str) {
        lock(&self.settings).overrides.remove(context);
    }

    /// Effective limits of every named group for a context (after overrides and scale).
    pub(crate) fn effective(&self, context: &str) -> BTreeMap<String, RateLimitValues> {
        let settings = lock(&self.settings);
        let mut out = default_group_limits();
        if let Some(o) = settings.overrides.get(context) {
            for (k, v) in o {
                out.insert(k.clone(), *v);
            }
        }
        for v in out.values_mut() {
            *v = scaled(*v, settings.scale);
        }
        out
    }

    /// Limits that apply to one operation for a context, or None if unlimited.
    fn limits_for(&self, op: &OperationInfo, context: &str) -> Option<RateLimitValues> {
        let settings = lock(&self.settings);
        if !settings.enabled {
            return None;
        }
        let base = settings
            .overrides
            .get(context)
            .and_then(|o| o.get(op.group))
            .copied()
            .or_else(|| {
                if op.per_second.is_none() && op.per_minute.is_none() && op.per_hour.is_none() {
                    None
                } else {
                    Some(RateLimitValues {
                        per_second: op.per_second.unwrap_or(u32::MAX),
                        per_minute: op.per_minute.unwrap_or(u32::MAX),
                        per_hour: op.per_hour.unwrap_or(u32::MAX),
                    })
                }
            })?;
        Some(scaled(base, settings.scale))
    }

    /// Records a request; returns `Err(retry_after_seconds)` when a window is full or the
    /// bucket is blocked after a breach.
    pub(crate) fn check(&self, op: &OperationInfo, context: &str, ip: IpAddr) -> Result<(), u64> {
        self.check_at(op, context, ip, Instant::now())
    }

    pub(crate) fn check_at(
        &self,
        op: &OperationInfo,
        context: &str,
        ip: IpAddr,
        now: Instant,
    ) -> Result<(), u64> {
        let Some(limits) = self.limits_for(op, context) else {
            return Ok(());
        };
        let key = (op.bucket(), context.to_string(), ip);
        if let Some(b) = lock(&self.breaches).get(&key)
            && now < b.blocked_until
        {
            return Err(ceil_secs(b.blocked_until.duration_since(now)));
        }
        let mut hits = lock(&self.hits);
        let q = hits.entry(key.clone()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOWS[2])
        {
            q.pop_front();
        }
        let caps = [limits.per_second, limits.per_minute, limits.per_hour];
        let mut wait = Duration::ZERO;
        for (window, cap) in WINDOWS.iter().zip(caps) {
            let cap = cap as usize;
            let in_window: Vec<&Instant> = q
                .iter()
                .filter(|t| now.saturating_duration_since(**t) < *window)
                .collect();
            if in_window.len() >= cap {
                // The request becomes possible when the oldest counted entry leaves the window.
                let idx = in_window.len() - cap;
                if let Some(t) = in_window.get(idx) {
                    let until = window.saturating_sub(now.saturating_duration_since(**t));
                    wait = wait.max(until);
                }
            }
        }
        if wait > Duration::ZERO {
            drop(hits);
            let mut breaches = lock(&self.breaches);
            let b = breaches.entry(key).or_insert(Breach {
                count: 0,
                last: now,
                blocked_until: now,
            });
            if now.saturating_duration_since(b.last) >= WINDOWS[2] {
                b.count = 0;
            }
            b.count = b.count.saturating_add(1);
            b.last = now;
            let escalation = Duration::from_secs(1u64 << (b.count - 1).min(16)).min(MAX_BLOCK);
            let block = wait.max(escalation);
            b.blocked_until = now + block;
            return Err(ceil_secs(block));
        }
        q.push_back(now);
        Ok(())
    }
}

fn scaled(v: RateLimitValues, scale: f64) -> RateLimitValues {
    let f = |x: u32| -> u32 {
        if x == u32::MAX {
            return x;
        }
        let y = (f64::from(x) * scale).round();
        if y < 1.0 {
            1
        } else if y >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            y as u32
        }
    };
    RateLimitValues {
        per_second: f(v.per_second),
        per_minute: f(v.per_minute),
        per_hour: f(v.per_hour),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_per_second_cap() {
        let rl = RateLimiter::new(true, 1.0);
        let op = crate::ops::find("GET", "/sessions").unwrap(); // 5/s, 10/min
        let ip = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..5 {
            rl.check(op, "ctx", ip).unwrap();
        }
        let retry = rl.check(op, "ctx", ip).unwrap_err();
        assert!((1..=1).contains(&retry));
        // other context is independent
        rl.check(op, "ctx2", ip).unwrap();
        rl.set_enabled(false);
        rl.check(op, "ctx", ip).unwrap();
    }

    #[test]
    fn repeated_breaches_block_longer() {
        let rl = RateLimiter::new(true, 1.0);
        let op = crate::ops::find("GET", "/sessions").unwrap(); // 5/s, 10/min
        let ip = IpAddr::from([127, 0, 0, 1]);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for _ in 0..5 {
            rl.check_at(op, "c", ip, at(0)).unwrap();
        }
        assert_eq!(rl.check_at(op, "c", ip, at(10)), Err(1));
        // blocked until the window frees
        assert_eq!(rl.check_at(op, "c", ip, at(500)), Err(1));
        for _ in 0..5 {
            rl.check_at(op, "c", ip, at(1100)).unwrap();
        }
        // 10 per minute reached: wait until the first entries are a minute old (~59 s)
        let e = rl.check_at(op, "c", ip, at(1200)).unwrap_err();
        assert!((58..=60).contains(&e), "{e}");
        // a third breach after the minute window frees escalates to at least 4 s
        for _ in 0..5 {
            rl.check_at(op, "c", ip, at(61_200)).unwrap();
        }
        assert_eq!(rl.check_at(op, "c", ip, at(61_300)), Err(4));
        assert_eq!(rl.check_at(op, "c", ip, at(63_300)), Err(2));
        rl.reset_counters();
        rl.check_at(op, "c", ip, at(63_400)).unwrap();
    }

    #[test]
    fn scale_and_effective() {
        let rl = RateLimiter::new(true, 2.0);
        let e = rl.effective("c");
        assert_eq!(e["sessionList"].per_second, 10);
        // 15 groups of the operations' 429 tables, plus anonymous and global
        assert_eq!(e.len(), 17);
        assert_eq!(e["onlineSessionClose"].per_minute, 120);
        assert_eq!(e["global"].per_minute, u32::MAX);
    }

    #[test]
    fn unlimited_is_minus_one_on_the_wire() {
        let v = RateLimitValues {
            per_second: 75,
            per_minute: u32::MAX,
            per_hour: u32::MAX,
        };
        let json = serde_json::to_value(v).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"perSecond": 75, "perMinute": -1, "perHour": -1})
        );
        assert_eq!(serde_json::from_value::<RateLimitValues>(json).unwrap(), v);
        let d = default_group_limits();
        assert_eq!(
            (d["anonymous"].per_second, d["anonymous"].per_hour),
            (60, u32::MAX)
        );
        assert_eq!(d["global"].per_second, 75);
    }

    #[test]
    fn closing_a_session_counts_in_its_own_group() {
        let rl = RateLimiter::new(true, 1.0);
        let open = crate::ops::find("POST", "/sessions/online").unwrap(); // 10/s
        let close = crate::ops::find("POST", "/sessions/online/{r}/close").unwrap(); // 20/s
        let ip = IpAddr::from([127, 0, 0, 1]);
        let t = Instant::now();
        for _ in 0..10 {
            rl.check_at(open, "c", ip, t).unwrap();
        }
        assert!(rl.check_at(open, "c", ip, t).is_err());
        // the open group is exhausted, closing still has its 20 per second
        for _ in 0..20 {
            rl.check_at(close, "c", ip, t).unwrap();
        }
        assert!(rl.check_at(close, "c", ip, t).is_err());
        let batch_close = crate::ops::find("POST", "/sessions/batch/{r}/close").unwrap();
        rl.check_at(batch_close, "c", ip, t).unwrap();
    }
}
