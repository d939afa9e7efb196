//! What opening a session (or an export) involves, shared by [`super::online`],
//! [`super::batch`] and [`super::export`]: the form code, the session key unwrapped from
//! `encryption`, the new session record with its UPO header.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::crypto::{SessionKey, b64, unb64};
use super::form::FormKind;
use super::store::{Phase, Session, SessionKind, Status};
use super::upo::{AuthProof, ContextId, UpoHeader};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::identifiers::{RefKind, reference_number};
use crate::keys::KeyUsage;
use crate::state::AppState;

/// `FormCode`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FormCodeWire {
    pub(crate) system_code: String,
    pub(crate) schema_version: String,
    pub(crate) value: String,
}

/// `EncryptionInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EncryptionWire {
    pub(crate) encrypted_symmetric_key: String,
    pub(crate) initialization_vector: String,
    pub(crate) public_key_id: Option<String>,
}

/// Resolves a form code or answers 21405.
pub(crate) fn form_of(f: &FormCodeWire) -> Result<FormKind, ApiError> {
    FormKind::from_form_code(&f.system_code, &f.schema_version, &f.value).ok_or_else(|| {
        ApiError::validation(format!(
            "Unsupported formCode {{systemCode: {}, schemaVersion: {}, value: {}}}.",
            f.system_code, f.schema_version, f.value
        ))
    })
}

/// Unwraps the session key. `Err` for an unknown key id (21470) or malformed
/// Base64 (21405); `Ok(None)` when the key does not decrypt (status 415 later).
pub(crate) fn unwrap_key(
    state: &AppState,
    enc: &EncryptionWire,
) -> Result<Option<SessionKey>, ApiError> {
    let wrapped = unb64(&enc.encrypted_symmetric_key)
        .ok_or_else(|| ApiError::validation("encryptedSymmetricKey is not valid Base64."))?;
    let iv = unb64(&enc.initialization_vector)
        .ok_or_else(|| ApiError::validation("initializationVector is not valid Base64."))?;
    if iv.len() != 16 {
        return Err(ApiError::validation(
            "initializationVector must be 16 bytes.",
        ));
    }
    let raw = state.keys.oaep_decrypt(
        KeyUsage::SymmetricKeyEncryption,
        enc.public_key_id.as_deref(),
        &wrapped,
        state.now(),
    )?;
    Ok(raw.and_then(|k| {
        let k = zeroize::Zeroizing::new(k);
        SessionKey::from_parts(&k, &iv)
    }))
}

/// The UPO header for a session opened by `ctx`.
pub(crate) fn upo_header(
    state: &AppState,
    ctx: &AuthContext,
    reference: &str,
    form: FormKind,
) -> UpoHeader {
    let context = match ctx.context_type.as_str() {
        "InternalId" => ContextId::InternalId(ctx.context_value.clone()),
        "NipVatUe" => ContextId::NipVatUe(ctx.context_value.clone()),
        "PeppolId" => ContextId::PeppolId(ctx.context_value.clone()),
        _ => ContextId::Nip(ctx.context_value.clone()),
    };
    let token_ref = state
        .auth
        .operation(&ctx.auth_reference)
        .and_then(|op| op.ksef_token_reference);
    let auth = match token_ref {
        Some(r) => AuthProof::KsefToken(r),
        // The signed document itself is not kept; its stand-in digest is derived
        // from the authentication operation's reference number.
        None => AuthProof::SignedDocument(b64(&Sha256::digest(ctx.auth_reference.as_bytes()))),
    };
    UpoHeader {
        session_reference: reference.to_string(),
        context,
        auth,
        form,
    }
}

/// A new session record.
pub(crate) fn new_session(
    state: &AppState,
    ctx: &AuthContext,
    kind: SessionKind,
    form: FormKind,
    key: Option<SessionKey>,
    offline_mode: bool,
) -> Session {
    let now = state.now();
    let reference = reference_number(
        if kind == SessionKind::Online {
            RefKind::OnlineSession
        } else {
            RefKind::BatchSession
        },
        now,
    );
    let validity = chrono::Duration::from_std(state.invoicing.config.session_validity)
        .unwrap_or(chrono::Duration::hours(12));
    Session {
        upo_header: upo_header(state, ctx, &reference, form),
        reference,
        kind,
        context_key: ctx.context_key(),
        form,
        phase: if key.is_none() && kind == SessionKind::Online {
            Phase::Failed(Status::new(415, "Błąd odszyfrowania dostarczonego klucza"))
        } else {
            Phase::Open
        },
        key,
        created: now,
        updated: now,
        closed_at: None,
        valid_until: now + validity,
        invoices: Vec::new(),
        offline_mode,
        upo_pages: Vec::new(),
        upo_page_size: state
            .invoicing
            .config
            .upo_page_size
            .clamp(1, super::upo::MAX_DOCUMENTS_PER_PAGE),
        batch: None,
    }
}
