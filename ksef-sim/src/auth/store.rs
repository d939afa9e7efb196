//! State of authentication: issued challenges and authentication operations (which become the
//! authentication sessions once their tokens are redeemed).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use super::ip_rules::IpRule;
use crate::error::ApiError;
use crate::jwt::{Claims, TokenKind};
use crate::sync::lock;

/// One issued challenge.
#[derive(Debug, Clone)]
pub(crate) struct ChallengeRecord {
    pub timestamp: DateTime<Utc>,
    pub used: bool,
    /// The client it was issued to.
    pub ip: IpAddr,
}

/// How much of each kind the store keeps at most (from `SimConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthCaps {
    pub challenges: usize,
    pub challenges_per_ip: usize,
    pub operations: usize,
    pub pending_per_context: usize,
}

impl AuthCaps {
    pub(crate) fn of(config: &crate::SimConfig) -> Self {
        Self {
            challenges: config.max_challenges,
            challenges_per_ip: config.max_challenges_per_ip,
            operations: config.max_auth_operations,
            pending_per_context: config.max_pending_auth_per_context,
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
    pub ready_at: DateTime<Utc>,
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
    /// DER of the signing certificate, for signature authentication (certificate enrollment
    /// data come from its subject).
    pub certificate_der: Option<Vec<u8>>,
}

impl AuthOperation {
    /// The claims of a new token of `kind` for this operation (a fresh `jti`).
    pub(crate) fn claims(
        &self,
        kind: TokenKind,
        issued: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    ) -> Claims {
        Claims {
            typ: kind,
            reference: self.reference.clone(),
            ctt: self.context_type.clone(),
            ctv: self.context_value.clone(),
            sub: format!("{}:{}", self.subject_type, self.subject_value),
            iat: issued.timestamp(),
            exp: valid_until.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub(crate) fn ip_allowed(&self, ip: IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|r| r.matches(ip))
    }

    /// The status code at `now` (100 until `ready_at`).
    pub(crate) fn current_code(&self, now: DateTime<Utc>) -> u16 {
        if now < self.ready_at {
            100
        } else {
            self.status_code
        }
    }
}

/// The maps, and the orders in which their entries came (the oldest are forgotten first when
/// a cap is reached). An order may still name entries removed since; it is compacted when it
/// grows to twice what it describes.
#[derive(Debug, Default)]
struct AuthInner {
    challenges: HashMap<String, ChallengeRecord>,
    challenge_order: VecDeque<String>,
    challenges_by_ip: HashMap<IpAddr, VecDeque<String>>,
    operations: HashMap<String, AuthOperation>,
    operation_order: VecDeque<String>,
    /// Unredeemed operations per context (`Type:value`).
    pending_by_context: HashMap<String, VecDeque<String>>,
}

/// Removes entries of `map` from the front of `order` until `map` holds fewer than `cap`.
fn forget_oldest<V>(map: &mut HashMap<String, V>, order: &mut VecDeque<String>, cap: usize) {
    while map.len() >= cap.max(1) {
        let Some(oldest) = order.pop_front() else {
            break;
        };
        map.remove(&oldest);
    }
}

/// Drops the names of removed entries from an order once it has grown to twice the map.
fn compact<V>(order: &mut VecDeque<String>, map: &HashMap<String, V>) {
    if order.len() > 2 * map.len() + 64 {
        order.retain(|k| map.contains_key(k));
    }
}

/// Drops the names of removed (or, for operations, redeemed) entries from grouped orders and
/// the groups left empty.
fn compact_groups<K: Eq + Hash, V>(
    groups: &mut HashMap<K, VecDeque<String>>,
    map: &HashMap<String, V>,
    live: impl Fn(&V) -> bool,
) {
    groups.retain(|_, order| {
        order.retain(|k| map.get(k).is_some_and(&live));
        !order.is_empty()
    });
}

impl AuthInner {
    fn compact_all(&mut self) {
        self.challenge_order
            .retain(|k| self.challenges.contains_key(k));
        self.operation_order
            .retain(|k| self.operations.contains_key(k));
        compact_groups(&mut self.challenges_by_ip, &self.challenges, |_| true);
        compact_groups(&mut self.pending_by_context, &self.operations, |op| {
            !op.redeemed
        });
    }
}

/// Store of challenges and authentication operations, each under a hard cap.
#[derive(Debug, Default)]
pub(crate) struct AuthStore {
    inner: Mutex<AuthInner>,
}

/// How many challenges and operations the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AuthCounts {
    pub challenges: usize,
    pub operations: usize,
}

/// Why a challenge cannot be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeRefused {
    Unknown,
    Used,
    Expired,
}

impl AuthStore {
    /// Records an issued challenge. Past `caps.challenges_per_ip` the client's oldest challenge
    /// is forgotten, past `caps.challenges` the oldest of all.
    pub(crate) fn add_challenge(&self, challenge: String, rec: ChallengeRecord, caps: AuthCaps) {
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        if inner.challenges_by_ip.len() > inner.challenges.len() + 64 {
            inner.compact_all();
        }
        let per_ip = caps.challenges_per_ip.max(1);
        let mine = inner.challenges_by_ip.entry(rec.ip).or_default();
        if mine.len() >= per_ip {
            mine.retain(|k| inner.challenges.contains_key(k));
        }
        while mine.len() >= per_ip {
            match mine.pop_front() {
                Some(oldest) => {
                    inner.challenges.remove(&oldest);
                }
                None => break,
            }
        }
        mine.push_back(challenge.clone());
        forget_oldest(
            &mut inner.challenges,
            &mut inner.challenge_order,
            caps.challenges,
        );
        inner.challenge_order.push_back(challenge.clone());
        inner.challenges.insert(challenge, rec);
        compact(&mut inner.challenge_order, &inner.challenges);
    }

    /// Checks that `challenge` exists, is unused and was issued within `validity` before `now`,
    /// and marks it used — in one step under the lock, so that two concurrent submissions of
    /// one challenge cannot both redeem it.
    pub(crate) fn redeem_challenge(
        &self,
        challenge: &str,
        now: DateTime<Utc>,
        validity: chrono::Duration,
    ) -> Result<ChallengeRecord, ChallengeRefused> {
        let mut inner = lock(&self.inner);
        let rec = inner
            .challenges
            .get_mut(challenge)
            .ok_or(ChallengeRefused::Unknown)?;
        if rec.used {
            return Err(ChallengeRefused::Used);
        }
        if rec
            .timestamp
            .checked_add_signed(validity)
            .is_none_or(|end| now > end)
        {
            return Err(ChallengeRefused::Expired);
        }
        rec.used = true;
        Ok(rec.clone())
    }

    /// Forgets challenges issued more than `validity` before `now` and operations whose last
    /// token expired before `now` (`expired` decides); returns how many of each were forgotten.
    pub(crate) fn evict(
        &self,
        now: DateTime<Utc>,
        validity: chrono::Duration,
        expired: impl Fn(&AuthOperation) -> bool,
    ) -> (usize, usize) {
        let mut inner = lock(&self.inner);
        let (c, o) = (inner.challenges.len(), inner.operations.len());
        inner.challenges.retain(|_, r| {
            r.timestamp
                .checked_add_signed(validity)
                .is_some_and(|end| end >= now)
        });
        inner.operations.retain(|_, op| !expired(op));
        inner.compact_all();
        (c - inner.challenges.len(), o - inner.operations.len())
    }

    /// Records an operation. Past `caps.pending_per_context` unredeemed operations of its
    /// context the oldest of them is forgotten, past `caps.operations` the oldest of all.
    pub(crate) fn insert(&self, op: AuthOperation, caps: AuthCaps) {
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        if inner.pending_by_context.len() > inner.operations.len() + 64 {
            inner.compact_all();
        }
        if !op.redeemed {
            let per_context = caps.pending_per_context.max(1);
            let context = format!("{}:{}", op.context_type, op.context_value);
            let pending = inner.pending_by_context.entry(context).or_default();
            if pending.len() >= per_context {
                pending.retain(|k| inner.operations.get(k).is_some_and(|o| !o.redeemed));
            }
            while pending.len() >= per_context {
                match pending.pop_front() {
                    Some(oldest) => {
                        inner.operations.remove(&oldest);
                    }
                    None => break,
                }
            }
            pending.push_back(op.reference.clone());
        }
        if !inner.operations.contains_key(&op.reference) {
            forget_oldest(
                &mut inner.operations,
                &mut inner.operation_order,
                caps.operations,
            );
            inner.operation_order.push_back(op.reference.clone());
        }
        inner.operations.insert(op.reference.clone(), op);
        compact(&mut inner.operation_order, &inner.operations);
    }

    /// How many challenges and operations are held.
    pub(crate) fn counts(&self) -> AuthCounts {
        let inner = lock(&self.inner);
        AuthCounts {
            challenges: inner.challenges.len(),
            operations: inner.operations.len(),
        }
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

fn method_info(op: &AuthOperation) -> Value {
    let display = match op.method.as_str() {
        "Token" => "Token KSeF",
        "QualifiedSeal" => "Pieczęć kwalifikowana",
        "QualifiedSignature" => "Podpis kwalifikowany",
        "PersonalSignature" => "Podpis osobisty",
        "InternalCertificate" => "Certyfikat KSeF",
        _ => "Inna metoda",
    };
    json!({ "category": op.method_category, "code": op.method, "displayName": display })
}

fn status_json(op: &AuthOperation, now: DateTime<Utc>) -> Value {
    let code = op.current_code(now);
    let (code, description, details) = if op.revoked_refresh && code == 200 {
        (
            425,
            "Uwierzytelnienie unieważnione".to_string(),
            vec!["Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika".to_string()],
        )
    } else if code == 100 {
        (100, "Uwierzytelnianie w toku".to_string(), Vec::new())
    } else {
        (
            code,
            op.status_description.clone(),
            op.status_details.clone(),
        )
    };
    let mut status = json!({ "code": code, "description": description });
    if !details.is_empty()
        && let Some(o) = status.as_object_mut()
    {
        o.insert("details".into(), json!(details));
    }
    status
}

/// `AuthenticationOperationStatusResponse` as seen at `now`.
pub(crate) fn operation_json(op: &AuthOperation, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "startDate": format_utc_millis(op.start),
        "authenticationMethod": op.method,
        "authenticationMethodInfo": method_info(op),
        "status": status_json(op, now),
        "isTokenRedeemed": op.redeemed,
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(t) = op.last_refresh {
            o.insert("lastTokenRefreshDate".into(), json!(format_utc_millis(t)));
        }
        if let Some(t) = op.refresh_valid_until {
            o.insert("refreshTokenValidUntil".into(), json!(format_utc_millis(t)));
        }
    }
    v
}

/// 21304: no authentication operation with this reference number.
pub(crate) fn unknown_operation(reference: &str) -> ApiError {
    ApiError::bad_request(
        21304,
        "Brak uwierzytelnienia.",
        [format!(
            "Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona."
        )],
    )
}
