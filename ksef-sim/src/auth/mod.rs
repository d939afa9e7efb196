//! Authentication: challenges, KSeF-token and XAdES authentication, status, redeem, refresh,
//! authentication sessions.

pub(crate) mod context;
pub(crate) mod handlers;
pub(crate) mod permissions;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};

pub(crate) use context::AuthContext;

use crate::sync::lock;

/// One issued challenge.
#[derive(Debug, Clone)]
pub(crate) struct ChallengeRecord {
    pub timestamp: DateTime<Utc>,
    pub used: bool,
}

/// An IPv4 rule of an authorization policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IpRule {
    Addr(std::net::Ipv4Addr),
    Range(std::net::Ipv4Addr, std::net::Ipv4Addr),
    Mask(std::net::Ipv4Addr, u8),
}

impl IpRule {
    pub(crate) fn matches(&self, ip: IpAddr) -> bool {
        let IpAddr::V4(ip) = ip else { return false };
        match self {
            IpRule::Addr(a) => *a == ip,
            IpRule::Range(a, b) => (u32::from(*a)..=u32::from(*b)).contains(&u32::from(ip)),
            IpRule::Mask(a, bits) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from((*bits).min(32)))
                };
                u32::from(*a) & mask == u32::from(ip) & mask
            }
        }
    }
}

/// One authentication operation (and the session it becomes once redeemed).
#[derive(Debug, Clone)]
pub(crate) struct AuthOperation {
    pub reference: String,
    pub start: DateTime<Utc>,
    /// `AuthenticationMethod` value (`Token`, `QualifiedSeal`, `QualifiedSignature`...).
    pub method: String,
    /// `AuthenticationMethodInfo.category` (`Token`, `XadesSignature`).
    pub method_category: String,
    pub context_type: String,
    pub context_value: String,
    pub subject_type: String,
    pub subject_value: String,
    pub permissions: Vec<String>,
    /// When status 100 turns into the final status.
    pub ready_at: Instant,
    pub status_code: u16,
    pub status_description: String,
    pub status_details: Vec<String>,
    pub redeemed: bool,
    /// jti of the current refresh token (set on redeem).
    pub refresh_jti: Option<String>,
    pub refresh_valid_until: Option<DateTime<Utc>>,
    pub last_refresh: Option<DateTime<Utc>>,
    pub revoked_refresh: bool,
    pub revoked_access: bool,
    pub allowed_ips: Vec<IpRule>,
    /// Reference of the KSeF token used, for `Token` authentication.
    pub ksef_token_reference: Option<String>,
}

impl AuthOperation {
    pub(crate) fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|r| r.matches(ip))
    }

    /// Current status code (100 until `ready_at`).
    pub(crate) fn current_code(&self) -> u16 {
        if Instant::now() < self.ready_at {
            100
        } else {
            self.status_code
        }
    }
}

#[derive(Debug, Default)]
struct AuthInner {
    challenges: HashMap<String, ChallengeRecord>,
    operations: HashMap<String, AuthOperation>,
}

/// Store of challenges and authentication operations.
#[derive(Debug, Default)]
pub(crate) struct AuthStore {
    inner: Mutex<AuthInner>,
}

impl AuthStore {
    pub(crate) fn add_challenge(&self, challenge: String, rec: ChallengeRecord) {
        lock(&self.inner).challenges.insert(challenge, rec);
    }

    pub(crate) fn challenge(&self, challenge: &str) -> Option<ChallengeRecord> {
        lock(&self.inner).challenges.get(challenge).cloned()
    }

    pub(crate) fn mark_challenge_used(&self, challenge: &str) {
        if let Some(c) = lock(&self.inner).challenges.get_mut(challenge) {
            c.used = true;
        }
    }

    pub(crate) fn insert(&self, op: AuthOperation) {
        lock(&self.inner)
            .operations
            .insert(op.reference.clone(), op);
    }

    /// A copy of one operation.
    pub(crate) fn operation(&self, reference: &str) -> Option<AuthOperation> {
        lock(&self.inner).operations.get(reference).cloned()
    }

    /// Modifies one operation in place; returns the closure's result.
    pub(crate) fn update<T>(
        &self,
        reference: &str,
        f: impl FnOnce(&mut AuthOperation) -> T,
    ) -> Option<T> {
        lock(&self.inner).operations.get_mut(reference).map(f)
    }

    /// Copies of all operations matching `pred`.
    pub(crate) fn filter(&self, pred: impl Fn(&AuthOperation) -> bool) -> Vec<AuthOperation> {
        lock(&self.inner)
            .operations
            .values()
            .filter(|o| pred(o))
            .cloned()
            .collect()
    }
}
