//! `POST /auth/challenge`: single-use challenges, and their check when an authentication
//! request names one.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use serde_json::{Value, json};

use super::context::client_ip;
use super::store::{AuthCaps, ChallengeRecord, ChallengeRefused};
use crate::error::ApiError;
use crate::identifiers::{self, RefKind};
use crate::state::AppState;

pub(crate) async fn challenge(State(state): State<AppState>, parts: Parts) -> Json<Value> {
    let now = state.now();
    let ip = client_ip(&parts);
    let challenge =
        identifiers::reference_number(RefKind::Challenge, ksef_time::business_date(now));
    state.auth.add_challenge(
        challenge.clone(),
        ChallengeRecord {
            timestamp: now,
            used: false,
            ip,
        },
        AuthCaps::of(&state.config),
    );
    Json(json!({
        "challenge": challenge,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "timestampMs": now.timestamp_millis(),
        "clientIp": ip.to_string(),
    }))
}

fn bad_challenge(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        21111,
        "Nieprawidłowe wyzwanie autoryzacyjne.",
        [detail.into()],
    )
}

/// Checks that a challenge exists, is unused and not expired; marks it used.
pub(crate) fn take_challenge(
    state: &AppState,
    challenge: &str,
) -> Result<ChallengeRecord, ApiError> {
    if !identifiers::is_reference_number(challenge, Some(RefKind::Challenge)) {
        return Err(bad_challenge(format!(
            "Challenge '{challenge}' has an invalid format."
        )));
    }
    let validity = chrono::Duration::from_std(state.config.challenge_validity)
        .unwrap_or(chrono::Duration::minutes(10));
    state
        .auth
        .redeem_challenge(challenge, state.now(), validity)
        .map_err(|refused| {
            bad_challenge(match refused {
                ChallengeRefused::Unknown => format!("Challenge '{challenge}' is unknown."),
                ChallengeRefused::Used => format!("Challenge '{challenge}' was already used."),
                ChallengeRefused::Expired => format!("Challenge '{challenge}' has expired."),
            })
        })
}
