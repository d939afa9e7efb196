//! An authentication session kept between processes: [`AuthSession::save`] turns the tokens into
//! a [`SavedSession`], [`Ksef::resume`] turns it back into a working [`AuthSession`] (the access
//! token is refreshed on first use when it has expired). The saved form holds secrets: seal it
//! before it touches a disk (the `ksef` CLI keeps it AES-256-GCM sealed, mode 0600).

use chrono::{DateTime, Utc};
use ksef_crypto::xades::ContextIdentifier;
use ksef_crypto::{InternalId, Nip, NipVatUe, PeppolId, SecretBytes, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize as _;

use crate::auth::{AuthSession, jwt_exp};
use crate::client::Ksef;
use crate::error::{FlowError, Result};

/// The tokens of an authentication session and what they belong to. Redacts its tokens in
/// `Debug` and zeroizes them on drop.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SavedSession {
    /// The context authenticated into.
    pub context: ContextIdentifier,
    /// Reference number of the authentication operation.
    pub reference_number: String,
    /// Access token (secret).
    pub access_token: SecretString,
    /// When the access token expires (JWT `exp`).
    pub access_token_expires: DateTime<Utc>,
    /// Refresh token (secret).
    pub refresh_token: SecretString,
    /// When the refresh token expires (JWT `exp`), when the token says.
    pub refresh_token_expires: Option<DateTime<Utc>>,
}

/// Wire form of [`SavedSession`]; its strings are zeroized after use.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    context_type: String,
    context_value: String,
    reference_number: String,
    access_token: String,
    refresh_token: String,
}

impl SavedSession {
    /// Serializes to JSON (secret bytes: seal them before storing).
    pub fn to_json(&self) -> Result<SecretBytes> {
        let mut w = Wire {
            context_type: self.context.type_name().to_string(),
            context_value: self.context.value().to_string(),
            reference_number: self.reference_number.clone(),
            access_token: self.access_token.expose().to_string(),
            refresh_token: self.refresh_token.expose().to_string(),
        };
        let out = serde_json::to_vec(&w).map_err(|e| FlowError::Setup(e.to_string()));
        w.access_token.zeroize();
        w.refresh_token.zeroize();
        out.map(SecretBytes::new)
    }

    /// Reads the JSON of [`SavedSession::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let mut w: Wire =
            serde_json::from_slice(bytes).map_err(|e| FlowError::InvalidArgument {
                field: "saved session",
                rule: format!("not a saved session: {e}"),
            })?;
        let context = parse_context(&w.context_type, &w.context_value);
        let access = SecretString::new(std::mem::take(&mut w.access_token));
        let refresh = SecretString::new(std::mem::take(&mut w.refresh_token));
        Ok(Self {
            context: context?,
            reference_number: std::mem::take(&mut w.reference_number),
            access_token_expires: jwt_exp(access.expose()).unwrap_or(DateTime::UNIX_EPOCH),
            refresh_token_expires: jwt_exp(refresh.expose()),
            access_token: access,
            refresh_token: refresh,
        })
    }
}

/// A context identifier from its API type name (`Nip`, `InternalId`, `NipVatUe`, `PeppolId`)
/// and value, each value checked by its rule.
pub fn parse_context(type_name: &str, value: &str) -> Result<ContextIdentifier> {
    let invalid = |e: ksef_crypto::CryptoError| FlowError::InvalidArgument {
        field: "context identifier",
        rule: e.to_string(),
    };
    Ok(match type_name.to_ascii_lowercase().as_str() {
        "nip" => ContextIdentifier::Nip(Nip::parse(value).map_err(invalid)?),
        "internalid" => ContextIdentifier::InternalId(InternalId::parse(value).map_err(invalid)?),
        "nipvatue" => ContextIdentifier::NipVatUe(NipVatUe::parse(value).map_err(invalid)?),
        "peppolid" => ContextIdentifier::PeppolId(PeppolId::parse(value).map_err(invalid)?),
        other => {
            return Err(FlowError::InvalidArgument {
                field: "context identifier type",
                rule: format!("{other:?} is not one of Nip, InternalId, NipVatUe, PeppolId"),
            });
        }
    })
}

impl AuthSession {
    /// The session's tokens, to resume it in another process with [`Ksef::resume`].
    pub fn save(&self) -> Result<SavedSession> {
        let (Some(access), Some(refresh)) = (self.access_token(), self.refresh_token()) else {
            return Err(FlowError::Setup(
                "the session has no tokens (it was revoked)".into(),
            ));
        };
        Ok(SavedSession {
            context: self.context().clone(),
            reference_number: self.reference_number().to_string(),
            access_token_expires: self.access_token_expires(),
            refresh_token_expires: jwt_exp(refresh.expose()),
            access_token: SecretString::new(access.expose()),
            refresh_token: SecretString::new(refresh.expose()),
        })
    }
}

impl Ksef {
    /// An [`AuthSession`] from saved tokens. Nothing is sent: an expired access token is
    /// refreshed on first use, and an expired refresh token then fails with
    /// [`FlowError::RefreshToken`].
    pub fn resume(&self, saved: &SavedSession) -> AuthSession {
        AuthSession::from_tokens(
            self,
            saved.context.clone(),
            saved.reference_number.clone(),
            saved.access_token.expose(),
            saved.refresh_token.expose(),
        )
    }
}
