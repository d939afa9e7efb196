//! Granted permissions and the operations that granted or revoked them.
//!
//! Every grant (to a person, an entity, an entity authorization, indirect, for a subunit's
//! administration, for an EU entity) is one [`Grant`] record with the context it was granted in,
//! the authorized subject, its scope and its author. A grant or a revocation is an operation with a
//! reference number and a status (`GET /permissions/operations/{referenceNumber}`). Revoked grants
//! are kept with their revocation instant and no longer count.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::sync::lock;

/// What kind of grant a record is (which endpoint created it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    /// `POST /permissions/persons/grants`.
    Person,
    /// `POST /permissions/entities/grants`.
    Entity,
    /// `POST /permissions/authorizations/grants`.
    Authorization,
    /// `POST /permissions/indirect/grants`.
    Indirect,
    /// `POST /permissions/subunits/grants`.
    Subunit,
    /// `POST /permissions/eu-entities/administration/grants`.
    EuEntityAdministration,
    /// `POST /permissions/eu-entities/grants`.
    EuEntity,
}

/// A typed identifier (`{type, value}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Ident {
    pub(crate) kind: String,
    pub(crate) value: String,
}

impl Ident {
    pub(crate) fn new(kind: &str, value: &str) -> Self {
        Self {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// The JSON `{type, value}`.
    pub(crate) fn json(&self) -> Value {
        serde_json::json!({ "type": self.kind, "value": self.value })
    }
}

/// One granted permission.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// `PermissionId`.
    pub(crate) id: String,
    pub(crate) kind: GrantKind,
    /// The context it works in (for an authorization: the authorizing entity).
    pub(crate) context: Ident,
    /// Who holds it.
    pub(crate) authorized: Ident,
    /// The target of an indirect grant (`Nip`, `InternalId` or `AllPartners`).
    pub(crate) target: Option<Ident>,
    /// The permission (`InvoiceWrite`, `SelfInvoicing`, `VatUeManage`, ...).
    pub(crate) scope: String,
    pub(crate) description: String,
    pub(crate) can_delegate: bool,
    /// Who granted it (the authenticated subject).
    pub(crate) author: Ident,
    /// The context the author was working in when granting it.
    pub(crate) granted_in: Ident,
    pub(crate) start: DateTime<Utc>,
    /// The `subjectDetails` of the request.
    pub(crate) subject_details: Value,
    /// `subunitName` / `euEntityName`.
    pub(crate) name: Option<String>,
    /// `euEntityDetails`.
    pub(crate) eu_entity_details: Option<Value>,
    pub(crate) revoked: Option<DateTime<Utc>>,
}

impl Grant {
    /// Whether it counts at `now`.
    pub(crate) fn active(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && self.revoked.is_none_or(|r| r > now)
    }
}

/// The status of a grant or revocation operation.
#[derive(Debug, Clone)]
pub(crate) struct OperationStatus {
    pub(crate) code: i32,
    pub(crate) description: String,
    pub(crate) details: Vec<String>,
    /// The context that started it (only that context may read it).
    pub(crate) context: Ident,
}

#[derive(Debug, Default)]
struct Inner {
    grants: Vec<Grant>,
    operations: HashMap<String, OperationStatus>,
}

/// The permissions of one simulator.
#[derive(Debug, Default)]
pub(crate) struct PermissionStore {
    inner: Mutex<Inner>,
}

impl PermissionStore {
    /// Records grants made by one operation.
    pub(crate) fn add(&self, operation: &str, context: &Ident, grants: Vec<Grant>) {
        let mut inner = lock(&self.inner);
        let n = grants.len();
        inner.grants.extend(grants);
        inner.operations.insert(
            operation.to_string(),
            OperationStatus {
                code: 200,
                description: "Operacja zakończona sukcesem".into(),
                details: vec![format!("Liczba nadanych uprawnień: {n}.")],
                context: context.clone(),
            },
        );
    }

    /// Revokes the grant `id` visible from `context` (filtered by `may_revoke`); the operation's
    /// reference records the outcome. `None` when no such grant exists.
    pub(crate) fn revoke(
        &self,
        operation: &str,
        context: &Ident,
        id: &str,
        now: DateTime<Utc>,
        may_revoke: impl Fn(&Grant) -> bool,
    ) -> Option<Grant> {
        let mut inner = lock(&self.inner);
        let grant = inner
            .grants
            .iter_mut()
            .find(|g| g.id == id && g.revoked.is_none() && may_revoke(g))?;
        grant.revoked = Some(now);
        let revoked = grant.clone();
        inner.operations.insert(
            operation.to_string(),
            OperationStatus {
                code: 200,
                description: "Operacja zakończona sukcesem".into(),
                details: vec![format!("Odebrano uprawnienie {id}.")],
                context: context.clone(),
            },
        );
        Some(revoked)
    }

    /// The status of an operation started in `context`.
    pub(crate) fn operation(&self, reference: &str, context: &Ident) -> Option<OperationStatus> {
        lock(&self.inner)
            .operations
            .get(reference)
            .filter(|o| &o.context == context)
            .cloned()
    }

    /// The grants active at `now` that satisfy `pred`, newest first (then by id), as the API
    /// sorts them.
    pub(crate) fn active(&self, now: DateTime<Utc>, pred: impl Fn(&Grant) -> bool) -> Vec<Grant> {
        let mut out: Vec<Grant> = lock(&self.inner)
            .grants
            .iter()
            .filter(|g| g.active(now) && pred(g))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Whether an active grant satisfies `pred`.
    pub(crate) fn any(&self, now: DateTime<Utc>, pred: impl Fn(&Grant) -> bool) -> bool {
        lock(&self.inner)
            .grants
            .iter()
            .any(|g| g.active(now) && pred(g))
    }
}

impl PermissionStore {
    /// The permissions `subject` holds through grants when working in `context` at `now`: person
    /// and EU-entity grants in that context, subunit administration, entity grants to the
    /// subject's entity, and indirect grants whose intermediary may pass the permission on.
    pub(crate) fn held(&self, context: &Ident, subject: &Ident, now: DateTime<Utc>) -> Vec<String> {
        let inner = lock(&self.inner);
        let active: Vec<&Grant> = inner.grants.iter().filter(|g| g.active(now)).collect();
        let ctx_nip = context.value.split('-').next().unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        for g in &active {
            if &g.authorized != subject {
                continue;
            }
            let counts = match g.kind {
                GrantKind::Person
                | GrantKind::Entity
                | GrantKind::Subunit
                | GrantKind::EuEntity
                | GrantKind::EuEntityAdministration => &g.context == context,
                GrantKind::Authorization => false,
                GrantKind::Indirect => {
                    let target_ok = match g.target.as_ref().map(|t| t.kind.as_str()) {
                        Some("AllPartners") | None => true,
                        Some(_) => g.target.as_ref() == Some(context),
                    };
                    // The intermediary (the grant's context) holds a delegable entity grant of
                    // the same scope from the context's entity.
                    target_ok
                        && context.kind == "Nip"
                        && active.iter().any(|e| {
                            e.kind == GrantKind::Entity
                                && e.context.value == ctx_nip
                                && e.authorized.kind == "Nip"
                                && e.authorized.value == g.context.value
                                && e.scope == g.scope
                                && e.can_delegate
                        })
                }
            };
            if counts && !out.contains(&g.scope) {
                out.push(g.scope.clone());
            }
        }
        out
    }
}
