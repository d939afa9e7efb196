//! `POST /auth/ksef-token`: authentication with a KSeF token encrypted under the simulator's
//! `KsefTokenEncryption` key.

use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::challenge::take_challenge;
use super::ip_rules::parse_ip_rules;
use super::operation::{NewOperation, Outcome, start_operation};
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::identifiers;
use crate::keys::KeyUsage;
use crate::ops::OperationInfo;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextIdentifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AllowedIps {
    #[serde(default)]
    ip4_addresses: Option<Vec<String>>,
    #[serde(default)]
    ip4_ranges: Option<Vec<String>>,
    #[serde(default)]
    ip4_masks: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthorizationPolicy {
    #[serde(default)]
    allowed_ips: Option<AllowedIps>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InitTokenAuthenticationRequest {
    challenge: String,
    context_identifier: ContextIdentifier,
    encrypted_token: String,
    #[serde(default)]
    public_key_id: Option<String>,
    #[serde(default)]
    authorization_policy: Option<AuthorizationPolicy>,
}

pub(crate) async fn ksef_token(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    JsonBody(req): JsonBody<InitTokenAuthenticationRequest>,
) -> Result<Response, ApiError> {
    let ctx = &req.context_identifier;
    identifiers::validate_context(&ctx.kind, &ctx.value).map_err(ApiError::validation)?;
    if let Some(id) = &req.public_key_id
        && id.len() != 44
    {
        return Err(ApiError::validation(
            "publicKeyId must be 44 characters (Base64 of SHA-256).",
        ));
    }
    let ciphertext = STANDARD
        .decode(req.encrypted_token.trim())
        .map_err(|e| ApiError::validation(format!("encryptedToken is not Base64: {e}")))?;
    let policy = req.authorization_policy.unwrap_or_default();
    let ips = policy.allowed_ips.unwrap_or_default();
    let allowed_ips = parse_ip_rules(
        ips.ip4_addresses.as_deref().unwrap_or_default(),
        ips.ip4_ranges.as_deref().unwrap_or_default(),
        ips.ip4_masks.as_deref().unwrap_or_default(),
    )
    .map_err(ApiError::validation)?;
    let rec = take_challenge(&state, &req.challenge)?;
    // 21470 for an unknown/withdrawn key is synchronous.
    let plaintext = state.keys.oaep_decrypt(
        KeyUsage::KsefTokenEncryption,
        req.public_key_id.as_deref(),
        &ciphertext,
        state.now(),
    )?;
    let mut token_ref = None;
    let (outcome, subject) = match plaintext.as_deref().map(std::str::from_utf8) {
        None | Some(Err(_)) => (
            Outcome::fail(450, "Nie udało się odszyfrować tokena."),
            ("Nip".to_string(), ctx.value.clone()),
        ),
        Some(Ok(text)) => match text.rsplit_once('|') {
            None => (
                Outcome::fail(450, "Zaszyfrowana treść nie ma postaci token|timestamp."),
                ("Nip".to_string(), ctx.value.clone()),
            ),
            Some((token, ts)) => {
                let ts_ok = ts.trim().parse::<i64>().ok() == Some(rec.timestamp.timestamp_millis());
                match state.tokens.find_by_token(token) {
                    None => (
                        Outcome::fail(450, "Nieznany token KSeF."),
                        ("Nip".to_string(), ctx.value.clone()),
                    ),
                    Some(t) => {
                        token_ref = Some(t.reference.clone());
                        let subject = (t.author_type.clone(), t.author_value.clone());
                        let outcome = if !ts_ok {
                            Outcome::fail(450, "Znacznik czasu nie odpowiada wyzwaniu.")
                        } else if t.status(state.now()) != "Active" {
                            Outcome::fail(
                                450,
                                format!("Token KSeF ma status {}.", t.status(state.now())),
                            )
                        } else if t.context_type != ctx.kind || t.context_value != ctx.value {
                            Outcome::fail(450, "Token KSeF nie należy do wskazanego kontekstu.")
                        } else {
                            state.tokens.touch(&t.reference, state.now());
                            Outcome::ok(t.permissions.clone())
                        };
                        (outcome, subject)
                    }
                }
            }
        },
    };
    Ok(start_operation(
        &state,
        op,
        NewOperation {
            method: "Token",
            category: "Token",
            context_type: ctx.kind.clone(),
            context_value: ctx.value.clone(),
            subject_type: subject.0,
            subject_value: subject.1,
            outcome,
            allowed_ips,
            ksef_token_reference: token_ref,
            certificate_der: None,
        },
    ))
}
