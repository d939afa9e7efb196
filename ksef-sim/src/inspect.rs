//! A read-only view of what the simulator holds for one context, for tests that check a run
//! lost and duplicated nothing on the server's side rather than trusting the client's report.

use std::collections::HashMap;

use crate::control::SimControl;
use crate::invoicing::store::{Phase, SessionKind};

/// What the simulator holds for one context (see [`SimControl::context_view`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextView {
    /// Online sessions opened in the context.
    pub online_sessions: usize,
    /// Batch sessions opened in the context.
    pub batch_sessions: usize,
    /// Batch sessions still open (never closed).
    pub open_batch_sessions: usize,
    /// Invoice hash (Base64 SHA-256 of the invoice) → how many times an invoice with this hash
    /// was accepted (given a KSeF number) in the context's sessions.
    pub accepted: HashMap<String, usize>,
    /// Invoice hash → how many times it was registered in the context's sessions with any
    /// status (accepted, rejected or still processing).
    pub registered: HashMap<String, usize>,
    /// Exports started in the context.
    pub exports: usize,
    /// Authentication operations in the context (those whose tokens can still be used).
    pub auth_operations: usize,
    /// Of these, the ones whose tokens were redeemed.
    pub redeemed_auth_operations: usize,
}

/// How many challenges and authentication operations the simulator holds (every context),
/// see [`SimControl::auth_held`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthHeld {
    /// Challenges issued and not forgotten yet.
    pub challenges: usize,
    /// Authentication operations (and sessions) not forgotten yet.
    pub operations: usize,
}

impl SimControl {
    /// How many challenges and authentication operations the simulator holds: never more than
    /// the caps of [`crate::SimConfig`], whatever a client sends.
    pub fn auth_held(&self) -> AuthHeld {
        let counts = self.state.auth.counts();
        AuthHeld {
            challenges: counts.challenges,
            operations: counts.operations,
        }
    }

    /// What the simulator holds for the context `context_type` (`"Nip"`, `"InternalId"`,
    /// `"NipVatUe"`) `value`: its sessions, the invoices accepted in them, its exports and
    /// authentication operations.
    pub fn context_view(&self, context_type: &str, value: &str) -> ContextView {
        let key = format!("{context_type}:{value}");
        let mut view = self.state.invoicing.with(|s| {
            let mut view = ContextView::default();
            for session in s.sessions.values().filter(|x| x.context_key == key) {
                match session.kind {
                    SessionKind::Online => view.online_sessions += 1,
                    SessionKind::Batch => {
                        view.batch_sessions += 1;
                        if matches!(session.phase, Phase::Open) {
                            view.open_batch_sessions += 1;
                        }
                    }
                }
                for invoice in &session.invoices {
                    *view
                        .registered
                        .entry(invoice.invoice_hash.clone())
                        .or_default() += 1;
                    if invoice.accepted() && invoice.ksef_number.is_some() {
                        *view
                            .accepted
                            .entry(invoice.invoice_hash.clone())
                            .or_default() += 1;
                    }
                }
            }
            view.exports = s.exports.values().filter(|e| e.context_key == key).count();
            view
        });
        let operations = self
            .state
            .auth
            .filter(|op| op.context_type == context_type && op.context_value == value);
        view.auth_operations = operations.len();
        view.redeemed_auth_operations = operations.iter().filter(|op| op.redeemed).count();
        view
    }
}
