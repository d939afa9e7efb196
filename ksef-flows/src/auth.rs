//! Authentication (KSeF token or XAdES signature) and the [`AuthSession`] that keeps the access
//! token fresh.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ksef_api::operations::{OperationMeta, TokenKind, op};
use ksef_api::types;
use ksef_api::{
    BearerToken, ByteStream, ClientState, KsefClient, KsefError, KsefHeaders as _, RawError,
    ResponseValue,
};
use ksef_crypto::xades::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
use ksef_crypto::{CertificateUsage, SecretString, SigningIdentity};

use crate::client::{ANONYMOUS, Ksef};
use crate::error::{AuthFailure, AuthStep, FlowError, Result, boxed};
use crate::limiter::{Limits, RateLimitMode};
use crate::lock::lock;
use crate::retry::{Idempotency, is_ambiguous};
use crate::wait::Polling;

/// How to authenticate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A KSeF token (`POST /auth/ksef-token`), encrypted with the `KsefTokenEncryption` key.
    KsefToken {
        /// The token (secret).
        token: SecretString,
        /// The context to authenticate into.
        context: ContextIdentifier,
    },
    /// An XAdES-signed `AuthTokenRequest` (`POST /auth/xades-signature`).
    Xades {
        /// Certificate and private key.
        identity: Box<SigningIdentity>,
        /// The context to authenticate into.
        context: ContextIdentifier,
        /// How KSeF identifies the signer.
        subject: SubjectIdentifierType,
        /// Ask KSeF to verify the certificate's chain (`verifyCertificateChain=true`): on TEST
        /// a self-signed certificate is then refused (460).
        verify_chain: bool,
    },
}

impl Credentials {
    /// KSeF-token credentials.
    pub fn ksef_token(token: impl Into<SecretString>, context: ContextIdentifier) -> Self {
        Self::KsefToken {
            token: token.into(),
            context,
        }
    }

    /// XAdES credentials (subject identified by the certificate subject).
    pub fn xades(identity: SigningIdentity, context: ContextIdentifier) -> Self {
        Self::Xades {
            identity: Box::new(identity),
            context,
            subject: SubjectIdentifierType::default(),
            verify_chain: false,
        }
    }

    /// For XAdES credentials: ask KSeF to verify the certificate chain
    /// (`verifyCertificateChain`). No effect on KSeF-token credentials.
    #[must_use]
    pub fn verify_certificate_chain(mut self, verify: bool) -> Self {
        if let Self::Xades { verify_chain, .. } = &mut self {
            *verify_chain = verify;
        }
        self
    }

    /// XAdES credentials from a PEM certificate and a PKCS#8 PEM private key.
    pub fn xades_pem(cert_pem: &str, key_pem: &str, context: ContextIdentifier) -> Result<Self> {
        let identity =
            SigningIdentity::from_pem(cert_pem, key_pem).map_err(|source| FlowError::Crypto {
                step: "loading the signing identity",
                source,
            })?;
        Ok(Self::xades(identity, context))
    }

    /// XAdES credentials from a DER certificate and a PKCS#8 DER private key.
    pub fn xades_der(cert_der: &[u8], key_der: &[u8], context: ContextIdentifier) -> Result<Self> {
        let crypto = |source| FlowError::Crypto {
            step: "loading the signing identity",
            source,
        };
        let key = ksef_crypto::identity::PrivateKey::from_pkcs8_der(key_der).map_err(crypto)?;
        let identity = SigningIdentity::new(cert_der, key).map_err(crypto)?;
        Ok(Self::xades(identity, context))
    }

    fn context(&self) -> &ContextIdentifier {
        match self {
            Self::KsefToken { context, .. } | Self::Xades { context, .. } => context,
        }
    }
}

fn context_key(c: &ContextIdentifier) -> String {
    format!("{}:{}", c.type_name(), c.value())
}

fn api_context(c: &ContextIdentifier) -> types::AuthenticationContextIdentifier {
    let type_ = match c.type_name() {
        "Nip" => types::AuthenticationContextIdentifierType::Nip,
        "InternalId" => types::AuthenticationContextIdentifierType::InternalId,
        "NipVatUe" => types::AuthenticationContextIdentifierType::NipVatUe,
        "PeppolId" => types::AuthenticationContextIdentifierType::PeppolId,
        other => types::AuthenticationContextIdentifierType::Unknown(other.to_string()),
    };
    types::AuthenticationContextIdentifier {
        type_,
        value: c.value().to_string(),
    }
}

/// `exp` of a JWT (seconds since the epoch), read without verifying the signature.
pub(crate) fn jwt_exp(token: &str) -> Option<DateTime<Utc>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(v.get("exp")?.as_i64()?, 0)
}

#[derive(Debug)]
struct TokenTimes {
    /// When the current access token stops working.
    expires: DateTime<Utc>,
    /// When it was obtained.
    obtained: DateTime<Utc>,
}

#[derive(Debug)]
struct Inner {
    ksef: Ksef,
    api: KsefClient,
    context: ContextIdentifier,
    context_key: String,
    reference_number: String,
    times: Mutex<TokenTimes>,
    refresh_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    proactive_refreshes: AtomicU64,
    reactive_refreshes: AtomicU64,
    refresh_margin: Mutex<Option<Duration>>,
}

/// An authenticated session: holds the access and refresh tokens (never logged, redacted in
/// `Debug`), refreshes the access token shortly before it expires and once more when KSeF
/// answers 401, and runs every call of the authenticated context through the rate limiter of its
/// [`Ksef`] client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthSession {
    inner: Arc<Inner>,
}

impl Ksef {
    /// Authenticates: challenge, submit (KSeF token or XAdES), poll the status with backoff,
    /// redeem the tokens. With [`RateLimitMode::Effective`](crate::RateLimitMode::Effective) the
    /// context's effective limits are then read from `GET /rate-limits`.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<AuthSession> {
        let span = tracing::info_span!(
            "ksef_authenticate",
            method = match credentials {
                Credentials::KsefToken { .. } => "ksef-token",
                Credentials::Xades { .. } => "xades",
            },
            context = %context_key(credentials.context()),
        );
        let flow = tracing::Instrument::instrument(
            async {
                let mut cancelled = false;
                let mut lost = 0;
                loop {
                    match self.authenticate_inner(credentials).await {
                        // 550: cancelled by the system, "try again" — once
                        Err(FlowError::AuthRejected {
                            reason: AuthFailure::Cancelled,
                            ..
                        }) if !cancelled => {
                            cancelled = true;
                            tracing::warn!(
                                "authentication cancelled by the system (550); retrying once"
                            );
                        }
                        // The submission or the redeem may have been registered without its
                        // answer arriving. Neither can be repeated (the challenge is single-use,
                        // the tokens are redeemed once), but a new authentication can: the
                        // operation left behind is never redeemed and expires.
                        Err(FlowError::Authenticate { step, source })
                            if matches!(step, AuthStep::Submit | AuthStep::Redeem)
                                && is_ambiguous(&source) =>
                        {
                            lost += 1;
                            let Some(wait) = self.retry_policy().resend_after_ambiguous(lost)
                            else {
                                return Err(FlowError::Authenticate { step, source });
                            };
                            tracing::warn!(
                                %step,
                                error = %source,
                                "no answer to the authentication step; authenticating again with a new challenge"
                            );
                            tokio::time::sleep(wait).await;
                        }
                        other => return other,
                    }
                }
            },
            span,
        );
        self.within_deadline("authentication", flow).await
    }

    async fn authenticate_inner(&self, credentials: &Credentials) -> Result<AuthSession> {
        let api = self.api();
        let auth_err = |step| {
            move |e: KsefError| FlowError::Authenticate {
                step,
                source: boxed(e),
            }
        };
        let init = match credentials {
            Credentials::KsefToken { token, context } => {
                self.submit_ksef_token(token, context).await?
            }
            Credentials::Xades {
                identity,
                context,
                subject,
                verify_chain,
            } => {
                let challenge = self.challenge().await?;
                let doc = AuthTokenRequest::new(&challenge.challenge.0, context.clone())
                    .map(|r| r.subject_identifier_type(*subject))
                    .and_then(|r| r.sign_xades_at(identity, self.now()))
                    .map_err(|source| FlowError::Crypto {
                        step: "signing the AuthTokenRequest",
                        source,
                    })?;
                let doc = &doc;
                self.execute(
                    op::AUTH_XADES_SIGNATURE,
                    ANONYMOUS,
                    Idempotency::Unsafe,
                    || {
                        let b = api.auth_xades_signature().body(doc.clone());
                        if *verify_chain {
                            b.verify_certificate_chain(true).send()
                        } else {
                            b.send()
                        }
                    },
                )
                .await
                .map_err(|e| {
                    FlowError::of_call(op::AUTH_XADES_SIGNATURE.name, e, |source| {
                        FlowError::Authenticate {
                            step: AuthStep::Submit,
                            source,
                        }
                    })
                })?
                .into_inner()
            }
        };
        let reference = init.reference_number.0.clone();
        tracing::info!(reference_number = %reference, "authentication submitted");
        let op_state = ClientState::new();
        op_state.set(
            TokenKind::AuthenticationOperation,
            Some(BearerToken::new(init.authentication_token.token)),
        );
        let op_api = api.with_state(op_state.clone());
        // Poll until the operation leaves status 100.
        let mut polling = Polling::start(self.poll_schedule());
        loop {
            let answer = self
                .execute(op::AUTH_STATUS, ANONYMOUS, Idempotency::Safe, || {
                    op_api
                        .auth_status()
                        .reference_number(reference.to_string())
                        .send()
                })
                .await
                .map_err(auth_err(AuthStep::Status))?;
            let retry_after = answer.retry_after();
            let status = answer.into_inner().status;
            match status.code {
                100 => {}
                200 => break,
                code => {
                    let reason = AuthFailure::from_code(code);
                    tracing::warn!(code, ?reason, "authentication rejected");
                    return Err(FlowError::AuthRejected {
                        reason,
                        code,
                        description: status.description,
                        details: status.details.unwrap_or_default(),
                    });
                }
            }
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout("the authentication status"));
            }
        }
        let op_api_ref = &op_api;
        let tokens = self
            .execute(
                op::AUTH_TOKEN_REDEEM,
                ANONYMOUS,
                Idempotency::Unsafe,
                || op_api_ref.auth_token_redeem().send(),
            )
            .await
            .map_err(auth_err(AuthStep::Redeem))?
            .into_inner();
        let state = ClientState::new();
        let expires =
            jwt_exp(&tokens.access_token.token).unwrap_or(tokens.access_token.valid_until);
        state.set(
            TokenKind::Access,
            Some(BearerToken::new(tokens.access_token.token)),
        );
        state.set(
            TokenKind::Refresh,
            Some(BearerToken::new(tokens.refresh_token.token)),
        );
        let context = credentials.context().clone();
        let session = AuthSession {
            inner: Arc::new(Inner {
                ksef: self.clone(),
                api: api.with_state(state),
                context_key: context_key(&context),
                context,
                reference_number: reference,
                times: Mutex::new(TokenTimes {
                    expires,
                    obtained: self.now(),
                }),
                refresh_lock: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                proactive_refreshes: AtomicU64::new(0),
                reactive_refreshes: AtomicU64::new(0),
                refresh_margin: Mutex::new(None),
            }),
        };
        tracing::info!(access_token_expires = %expires, "authenticated");
        if self.rate_limiter().mode() == RateLimitMode::Effective
            && let Err(e) = session.load_effective_rate_limits().await
        {
            tracing::warn!(error = %e, "could not read the effective rate limits; using the spec's");
        }
        Ok(session)
    }

    /// A new single-use challenge (`POST /auth/challenge`).
    async fn challenge(&self) -> Result<types::AuthenticationChallengeResponse> {
        let api = self.api();
        self.execute(op::AUTH_CHALLENGE, ANONYMOUS, Idempotency::Safe, || {
            api.auth_challenge().send()
        })
        .await
        .map(ResponseValue::into_inner)
        .map_err(|e| FlowError::Authenticate {
            step: AuthStep::Challenge,
            source: boxed(e),
        })
    }

    /// Submits a KSeF token, encrypted under the current `KsefTokenEncryption` key. Each attempt
    /// takes a new challenge: KSeF may spend the challenge of a submission it refuses (a
    /// withdrawn key, 21470), so the attempt after refetching the keys cannot reuse it.
    async fn submit_ksef_token(
        &self,
        token: &SecretString,
        context: &ContextIdentifier,
    ) -> Result<types::AuthenticationInitResponse> {
        let api = self.api();
        self.with_public_key(CertificateUsage::KsefTokenEncryption, |cert| async move {
            let challenge = self.challenge().await?;
            let encrypted = ksef_crypto::encrypt_ksef_token(&cert, token, challenge.timestamp_ms)
                .map_err(|source| FlowError::Crypto {
                step: "encrypting the KSeF token",
                source,
            })?;
            let body = types::InitTokenAuthenticationRequest {
                authorization_policy: None,
                challenge: challenge.challenge.clone(),
                context_identifier: api_context(context),
                encrypted_token: encrypted,
                public_key_id: Some(cert.public_key_id().to_string()),
            };
            let body = &body;
            self.execute(op::AUTH_KSEF_TOKEN, ANONYMOUS, Idempotency::Unsafe, || {
                api.auth_ksef_token().body(body.clone()).send()
            })
            .await
            .map(ResponseValue::into_inner)
            .map_err(|e| {
                FlowError::of_call(op::AUTH_KSEF_TOKEN.name, e, |source| {
                    FlowError::Authenticate {
                        step: AuthStep::Submit,
                        source,
                    }
                })
            })
        })
        .await
    }
}

impl AuthSession {
    /// The client this session belongs to.
    pub fn ksef(&self) -> &Ksef {
        &self.inner.ksef
    }

    /// The context authenticated into.
    pub fn context(&self) -> &ContextIdentifier {
        &self.inner.context
    }

    /// Reference number of the authentication operation.
    pub fn reference_number(&self) -> &str {
        &self.inner.reference_number
    }

    /// The raw API client holding this session's tokens (for operations this crate does not wrap).
    pub fn api(&self) -> &KsefClient {
        &self.inner.api
    }

    /// When the current access token expires (JWT `exp`).
    pub fn access_token_expires(&self) -> DateTime<Utc> {
        lock(&self.inner.times).expires
    }

    /// The current access token (a secret: do not log it).
    pub fn access_token(&self) -> Option<BearerToken> {
        self.inner.api.state().get(TokenKind::Access)
    }

    /// The refresh token (a secret: do not log it).
    pub fn refresh_token(&self) -> Option<BearerToken> {
        self.inner.api.state().get(TokenKind::Refresh)
    }

    /// How many times the access token was refreshed before it expired.
    pub fn proactive_refreshes(&self) -> u64 {
        self.inner.proactive_refreshes.load(Ordering::Relaxed)
    }

    /// How many times the access token was refreshed after a 401.
    pub fn reactive_refreshes(&self) -> u64 {
        self.inner.reactive_refreshes.load(Ordering::Relaxed)
    }

    /// Sets how long before expiry the access token is refreshed (default: a quarter of its
    /// lifetime, at most 60 s). `Duration::ZERO` disables proactive refresh.
    pub fn set_refresh_margin(&self, margin: Duration) {
        *lock(&self.inner.refresh_margin) = Some(margin);
    }

    fn margin(&self) -> chrono::Duration {
        if let Some(m) = *lock(&self.inner.refresh_margin) {
            return chrono::Duration::from_std(m).unwrap_or(chrono::Duration::zero());
        }
        let t = lock(&self.inner.times);
        let lifetime = t.expires - t.obtained;
        (lifetime / 4).min(chrono::Duration::seconds(60))
    }

    /// Refreshes the access token now (`POST /auth/token/refresh`).
    pub async fn refresh(&self) -> Result<()> {
        let generation = self.inner.generation.load(Ordering::Acquire);
        self.refresh_if_generation(generation).await
    }

    async fn refresh_if_generation(&self, seen: u64) -> Result<()> {
        let _guard = self.inner.refresh_lock.lock().await;
        if self.inner.generation.load(Ordering::Acquire) != seen {
            return Ok(()); // another task refreshed meanwhile
        }
        let api = &self.inner.api;
        let resp = self
            .inner
            .ksef
            .execute(
                op::AUTH_TOKEN_REFRESH,
                &self.inner.context_key,
                Idempotency::Safe,
                || api.auth_token_refresh().send(),
            )
            .await
            .map_err(|e| FlowError::RefreshToken { source: boxed(e) })?
            .into_inner();
        let expires = jwt_exp(&resp.access_token.token).unwrap_or(resp.access_token.valid_until);
        api.state().set(
            TokenKind::Access,
            Some(BearerToken::new(resp.access_token.token)),
        );
        *lock(&self.inner.times) = TokenTimes {
            expires,
            obtained: self.inner.ksef.now(),
        };
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        tracing::info!(access_token_expires = %expires, "access token refreshed");
        Ok(())
    }

    /// Refreshes the access token if it expires within the refresh margin.
    pub async fn ensure_fresh(&self) -> Result<()> {
        let margin = self.margin();
        if margin <= chrono::Duration::zero() {
            return Ok(());
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        if self.inner.ksef.now() + margin >= self.access_token_expires() {
            self.refresh_if_generation(generation).await?;
            self.inner
                .proactive_refreshes
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs an operation of this context: proactive refresh, rate limiting, retries, and one
    /// refresh-and-retry after a 401.
    pub(crate) async fn call<'s, T, F, Fut>(
        &'s self,
        op: &'static OperationMeta,
        idempotency: Idempotency,
        make: F,
    ) -> std::result::Result<ResponseValue<T>, CallError>
    where
        T: Send,
        F: Fn(&'s KsefClient) -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError<ByteStream>>>,
    {
        self.ensure_fresh().await.map_err(CallError::Refresh)?;
        let api = &self.inner.api;
        let ctx = self.inner.context_key.as_str();
        let generation = self.inner.generation.load(Ordering::Acquire);
        let first = self
            .inner
            .ksef
            .execute(op, ctx, idempotency, || make(api))
            .await;
        match first {
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 401) => {
                tracing::info!(
                    operation = op.name,
                    "401 Unauthorized; refreshing the access token once"
                );
                self.refresh_if_generation(generation)
                    .await
                    .map_err(CallError::Refresh)?;
                self.inner
                    .reactive_refreshes
                    .fetch_add(1, Ordering::Relaxed);
                self.inner
                    .ksef
                    .execute(op, ctx, idempotency, || make(api))
                    .await
                    .map_err(|e| CallError::Api(op.name, e))
            }
            other => other.map_err(|e| CallError::Api(op.name, e)),
        }
    }

    /// Reads `GET /rate-limits` and makes the limiter use these limits for this context.
    pub async fn load_effective_rate_limits(
        &self,
    ) -> Result<std::collections::HashMap<String, Limits>> {
        let r = self.rate_limits().await?;
        let map = effective_limits(&r);
        tracing::debug!(?map, "effective rate limits");
        self.inner
            .ksef
            .rate_limiter()
            .set_context_limits(&self.inner.context_key, map.clone());
        Ok(map)
    }

    /// Revokes this authentication session (`DELETE /auth/sessions/current`): the refresh token
    /// stops working. The tokens are forgotten.
    pub async fn revoke(&self) -> Result<()> {
        self.call(op::AUTH_SESSION_REVOKE_CURRENT, Idempotency::Safe, |api| {
            api.auth_session_revoke_current().send()
        })
        .await
        .map_err(|e| e.into_flow(|source| FlowError::Revoke { source }))?;
        self.inner.api.state().clear();
        tracing::info!("authentication session revoked");
        Ok(())
    }

    /// Creates a KSeF token with `permissions` and waits until it is `Active`. Returns its
    /// reference number and the token (shown once by KSeF: store it safely).
    pub async fn create_ksef_token(
        &self,
        permissions: &[types::TokenPermissionType],
        description: &str,
    ) -> Result<(String, SecretString)> {
        let body = types::GenerateTokenRequest {
            description: description.to_string(),
            permissions: permissions.to_vec(),
        };
        let body = &body;
        let created = self
            .call(op::KSEF_TOKEN_CREATE, Idempotency::Unsafe, |api| {
                api.ksef_token_create().body(body.clone()).send()
            })
            .await
            .map_err(|e| e.into_flow(|source| FlowError::KsefToken { source }))?
            .into_inner();
        let reference = created.reference_number.0.clone();
        let token = SecretString::new(created.token);
        let mut polling = Polling::start(self.inner.ksef.poll_schedule());
        loop {
            let r = reference.as_str();
            let answer = self
                .call(op::KSEF_TOKEN_STATUS, Idempotency::Safe, |api| {
                    api.ksef_token_status()
                        .reference_number(r.to_string())
                        .send()
                })
                .await
                .map_err(|e| e.into_flow(|source| FlowError::KsefToken { source }))?;
            let retry_after = answer.retry_after();
            match answer.into_inner().status {
                types::AuthenticationTokenStatus::Active => break,
                types::AuthenticationTokenStatus::Pending => {}
                other => {
                    return Err(FlowError::KsefTokenNotActive {
                        reference_number: reference,
                        status: other.to_string(),
                    });
                }
            }
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout("the KSeF token to become active"));
            }
        }
        tracing::info!(reference_number = %reference, "KSeF token active");
        Ok((reference, token))
    }
}

impl AuthSession {
    /// An authenticated session from tokens obtained earlier (see [`crate::SavedSession`]).
    pub(crate) fn from_tokens(
        ksef: &Ksef,
        context: ContextIdentifier,
        reference_number: String,
        access_token: &str,
        refresh_token: &str,
    ) -> Self {
        let state = ClientState::new();
        let expires = jwt_exp(access_token).unwrap_or_else(|| ksef.now());
        state.set(
            TokenKind::Access,
            Some(BearerToken::new(access_token.to_string())),
        );
        state.set(
            TokenKind::Refresh,
            Some(BearerToken::new(refresh_token.to_string())),
        );
        AuthSession {
            inner: Arc::new(Inner {
                ksef: ksef.clone(),
                api: ksef.api().with_state(state),
                context_key: context_key(&context),
                context,
                reference_number,
                times: Mutex::new(TokenTimes {
                    expires,
                    obtained: ksef.now(),
                }),
                refresh_lock: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                proactive_refreshes: AtomicU64::new(0),
                reactive_refreshes: AtomicU64::new(0),
                refresh_margin: Mutex::new(None),
            }),
        }
    }
}

/// Every group of a `GET /rate-limits` answer, by its wire name (the spec's group names:
/// `onlineSession`, `onlineSessionClose`, ..., `anonymous`, `global`), so that a group a KSeF
/// release adds needs no code. A negative value (`-1`) means unlimited.
fn effective_limits(
    r: &types::EffectiveApiRateLimits,
) -> std::collections::HashMap<String, Limits> {
    let limit = |v: &serde_json::Value| {
        v.as_i64()
            .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let Ok(serde_json::Value::Object(groups)) = serde_json::to_value(r) else {
        return std::collections::HashMap::new();
    };
    groups
        .iter()
        .filter_map(|(group, v)| {
            Some((
                group.clone(),
                Limits {
                    per_second: limit(v.get("perSecond")?),
                    per_minute: limit(v.get("perMinute")?),
                    per_hour: limit(v.get("perHour")?),
                },
            ))
        })
        .collect()
}

/// Error of [`AuthSession::call`]: the call itself (of the named operation) or the token refresh
/// it needed.
#[derive(Debug)]
pub(crate) enum CallError {
    Api(&'static str, KsefError),
    Refresh(FlowError),
}

impl CallError {
    /// The flow error of the failed step `f`, or [`FlowError::UnreadableBody`] (21001).
    pub(crate) fn into_flow(self, f: impl FnOnce(Box<KsefError>) -> FlowError) -> FlowError {
        match self {
            Self::Api(operation, e) => FlowError::of_call(operation, e, f),
            Self::Refresh(e) => e,
        }
    }

    pub(crate) fn api(&self) -> Option<&KsefError> {
        match self {
            Self::Api(_, e) => Some(e),
            Self::Refresh(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_limits_keep_every_group_and_read_minus_one_as_unlimited() {
        // The spec's example of GET /rate-limits, as KSeF 2.9.0 answers it.
        let body = serde_json::json!({
            "onlineSession": {"perSecond": 10, "perMinute": 30, "perHour": 120},
            "onlineSessionClose": {"perSecond": 20, "perMinute": 60, "perHour": 240},
            "batchSession": {"perSecond": 10, "perMinute": 20, "perHour": 60},
            "batchSessionClose": {"perSecond": 20, "perMinute": 40, "perHour": 120},
            "invoiceSend": {"perSecond": 10, "perMinute": 30, "perHour": 180},
            "invoiceStatus": {"perSecond": 30, "perMinute": 120, "perHour": 1200},
            "sessionList": {"perSecond": 5, "perMinute": 10, "perHour": 60},
            "sessionInvoiceList": {"perSecond": 10, "perMinute": 20, "perHour": 200},
            "sessionMisc": {"perSecond": 10, "perMinute": 120, "perHour": 1200},
            "invoiceMetadata": {"perSecond": 8, "perMinute": 16, "perHour": 20},
            "invoiceExport": {"perSecond": 8, "perMinute": 16, "perHour": 20},
            "invoiceExportStatus": {"perSecond": 10, "perMinute": 60, "perHour": 600},
            "invoiceDownload": {"perSecond": 8, "perMinute": 16, "perHour": 64},
            "collectiveIdentifier": {"perSecond": 20, "perMinute": 120, "perHour": 240},
            "other": {"perSecond": 10, "perMinute": 30, "perHour": 120},
            "anonymous": {"perSecond": 60, "perMinute": -1, "perHour": -1},
            "global": {"perSecond": 75, "perMinute": -1, "perHour": -1}
        });
        let r: types::EffectiveApiRateLimits = serde_json::from_value(body).unwrap();
        let m = effective_limits(&r);
        assert_eq!(m.len(), 17);
        assert_eq!(
            m["onlineSessionClose"],
            Limits {
                per_second: 20,
                per_minute: 60,
                per_hour: 240
            }
        );
        assert_eq!(m["batchSessionClose"].per_hour, 120);
        assert_eq!(
            m["global"],
            Limits {
                per_second: 75,
                per_minute: u32::MAX,
                per_hour: u32::MAX
            }
        );
    }

    #[test]
    fn reads_jwt_exp() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","exp":1900000000}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig");
        assert_eq!(jwt_exp(&token).unwrap().timestamp(), 1_900_000_000);
        assert!(jwt_exp("not-a-jwt").is_none());
    }
}
