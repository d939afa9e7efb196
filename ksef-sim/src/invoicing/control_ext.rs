//! Test affordances of the invoicing part on [`crate::SimControl`].

use std::time::Instant;

use crate::auth::permissions::OWNER_PERMISSIONS;
use crate::auth::store::AuthOperation;
use crate::identifiers::{RefKind, reference_number};
use crate::jwt::{Claims, TokenKind, sign};

impl crate::SimControl {
    /// Registers a completed owner authentication in the `Nip` context `nip`
    /// (all owner permissions, KSeF-token method) and returns an access token for
    /// it, skipping the challenge and signature steps. Meant for tests of the
    /// invoicing endpoints that do not exercise authentication itself.
    pub fn issue_test_access_token(&self, nip: &str) -> String {
        let state = &self.state;
        let now = state.now();
        let date = ksef_time::business_date(now);
        let reference = reference_number(RefKind::Auth, date);
        let token_ref = reference_number(RefKind::KsefToken, date);
        state.auth.insert(AuthOperation {
            reference: reference.clone(),
            start: now,
            method: "Token".into(),
            method_category: "Token".into(),
            context_type: "Nip".into(),
            context_value: nip.to_string(),
            subject_type: "Nip".into(),
            subject_value: nip.to_string(),
            permissions: OWNER_PERMISSIONS.iter().map(|p| (*p).to_string()).collect(),
            ready_at: Instant::now(),
            status_code: 200,
            status_description: "Uwierzytelnianie zakończone sukcesem".into(),
            status_details: Vec::new(),
            redeemed: true,
            refresh_jti: None,
            refresh_valid_until: None,
            last_refresh: None,
            revoked_refresh: false,
            revoked_access: false,
            allowed_ips: Vec::new(),
            ksef_token_reference: Some(token_ref),
        });
        let lifetime = i64::try_from(state.config.access_token_lifetime.as_secs()).unwrap_or(900);
        sign(
            &state.jwt_secret,
            &Claims {
                typ: TokenKind::Access,
                reference,
                ctt: "Nip".into(),
                ctv: nip.to_string(),
                sub: format!("Nip:{nip}"),
                iat: now.timestamp(),
                exp: now.timestamp() + lifetime,
                jti: uuid::Uuid::new_v4().to_string(),
            },
        )
    }
}
