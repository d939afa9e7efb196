//! Online (interactive) sessions: open, send invoice, close.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::crypto::{SessionKey, b64, unb64};
use super::ksef_number::{RefKind, reference_number};
use super::rules::{FormKind, check_invoice};
use super::store::{Phase, Registered, Session, SessionInvoice, SessionKind, Status};
use super::upo::{AuthProof, ContextId, UpoHeader};
use super::util::{
    json as json_response, no_session, open_session_mut, parse_body, require,
    session_status_forbids, ts,
};
use crate::auth::AuthContext;
use crate::error::ApiError;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenOnlineRequest {
    form_code: FormCodeWire,
    encryption: EncryptionWire,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendInvoiceRequest {
    invoice_hash: String,
    invoice_size: i64,
    encrypted_invoice_hash: String,
    encrypted_invoice_size: i64,
    encrypted_invoice_content: String,
    #[serde(default)]
    offline_mode: bool,
    hash_of_corrected_invoice: Option<String>,
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
        ksef_time::business_date(now),
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
        open_until: Instant::now() + validity.to_std().unwrap_or_default(),
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

/// `POST /sessions/online`.
pub(crate) async fn open(
    State(state): State<AppState>,
    ctx: AuthContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&ctx, "POST", "/sessions/online")?;
    let req: OpenOnlineRequest = parse_body(&body)?;
    let form = form_of(&req.form_code)?;
    let key = unwrap_key(&state, &req.encryption)?;
    let session = new_session(&state, &ctx, SessionKind::Online, form, key, false);
    let body =
        json!({ "referenceNumber": session.reference, "validUntil": ts(&session.valid_until) });
    state.invoicing.with(|s| {
        s.session_order.push(session.reference.clone());
        s.sessions.insert(session.reference.clone(), session);
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

fn invoices_dir(state: &AppState) -> std::path::PathBuf {
    state.data_dir.join("invoicing").join("invoices")
}

/// Result of checking one decrypted invoice, shared by online and batch sessions.
pub(crate) struct Decided {
    pub(crate) final_status: Status,
    pub(crate) ksef_number: Option<String>,
    pub(crate) invoice_number: Option<String>,
    pub(crate) dates: Option<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)>,
}

/// Runs the invoice rules and the duplicate check on `bytes`, and stores an
/// accepted invoice. Must not be called with the store locked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    state: &AppState,
    session_reference: &str,
    form: FormKind,
    bytes: &[u8],
    attachments_allowed: bool,
    offline: bool,
    hash_of_corrected: Option<String>,
    received: chrono::DateTime<Utc>,
    ready_at: Instant,
) -> Decided {
    let today = ksef_time::business_date(received);
    let facts = match check_invoice(bytes, form, attachments_allowed, today) {
        Ok(f) => f,
        Err(e) => {
            return Decided {
                final_status: Status::new(e.status_code(), e.status_description())
                    .with_detail(e.to_string()),
                ksef_number: None,
                invoice_number: None,
                dates: None,
            };
        }
    };
    let dir = invoices_dir(state);
    let hash = super::crypto::sha256_b64(bytes);
    let registered = state.invoicing.with(|s| {
        s.register(
            &facts,
            form,
            &hash,
            dir.clone(),
            offline,
            received,
            &state.invoicing.config,
            session_reference,
            hash_of_corrected,
            ready_at,
            |p| {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(p, bytes)
            },
        )
    });
    let invoice_number = Some(facts.invoice_number.clone());
    match registered {
        Ok((Registered::Accepted(k), dates)) => Decided {
            final_status: Status::new(200, "Sukces"),
            ksef_number: Some(k),
            invoice_number,
            dates,
        },
        Ok((Registered::Duplicate(orig_session, orig_ksef), _)) => {
            let mut st = Status::new(440, "Duplikat faktury")
                .with_detail(format!("Duplikat faktury. Faktura o numerze KSeF: {orig_ksef} została już prawidłowo przesłana do systemu w sesji: {orig_session}"));
            st.extensions = Some(json!({
                "originalSessionReferenceNumber": orig_session,
                "originalKsefNumber": orig_ksef,
            }));
            Decided {
                final_status: st,
                ksef_number: None,
                invoice_number,
                dates: None,
            }
        }
        Err(e) => Decided {
            final_status: Status::new(500, "Nieznany błąd").with_detail(format!("storage: {e}")),
            ksef_number: None,
            invoice_number,
            dates: None,
        },
    }
}

/// `POST /sessions/online/{referenceNumber}/invoices`.
pub(crate) async fn send(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&ctx, "POST", "/sessions/online/{referenceNumber}/invoices")?;
    let req: SendInvoiceRequest = parse_body(&body)?;
    let now = Instant::now();
    // Session checks first.
    let (form, key, count) = state.invoicing.with(|s| {
        let action = "wysyłkę faktur";
        let sess = open_session_mut(s, &ctx, &reference, SessionKind::Online, now, action)?;
        if now > sess.open_until {
            return Err(session_status_forbids(100, action));
        }
        Ok((sess.form, sess.key.clone(), sess.invoices.len()))
    })?;
    if state
        .faults
        .take_session_unavailable("POST /sessions/online/{referenceNumber}/invoices")
    {
        return Err(ApiError::bad_request(
            21184,
            "Sesja tymczasowo niedostępna.",
            [format!(
                "Trwają prace serwisowe i sesja {reference} jest tymczasowo niedostępna. \
                 Spróbuj ponownie później lub otwórz nową sesję, aby wysłać kolejne faktury."
            )],
        ));
    }
    let limit = state.invoicing.config.max_invoices_per_session.min(
        usize::try_from(
            state
                .testdata
                .context_limits(&ctx.context_key())
                .online_session
                .max_invoices,
        )
        .unwrap_or(usize::MAX),
    );
    if count >= limit {
        return Err(ApiError::bad_request(
            21155,
            "Przekroczono dozwoloną liczbę faktur w sesji.",
            [format!(
                "Sesja o numerze referencyjnym {reference} osiągnęła dozwolony limit liczby faktur {limit}."
            )],
        ));
    }
    let Some(key) = key else {
        return Err(no_session(&reference));
    };
    let ciphertext = unb64(&req.encrypted_invoice_content)
        .ok_or_else(|| ApiError::validation("encryptedInvoiceContent is not valid Base64."))?;
    let size_mismatch = || {
        ApiError::bad_request(
            21402,
            "Nieprawidłowy rozmiar pliku.",
            ["Długość treści nie zgadza się z rozmiarem pliku."],
        )
    };
    let hash_mismatch = || {
        ApiError::bad_request(
            21403,
            "Nieprawidłowy skrót pliku.",
            ["Skrót treści nie zgadza się ze skrótem pliku."],
        )
    };
    if i64::try_from(ciphertext.len()).ok() != Some(req.encrypted_invoice_size) {
        return Err(size_mismatch());
    }
    if super::crypto::sha256_b64(&ciphertext) != req.encrypted_invoice_hash {
        return Err(hash_mismatch());
    }
    if req.hash_of_corrected_invoice.is_some() && !req.offline_mode {
        return Err(ApiError::validation(
            "hashOfCorrectedInvoice requires offlineMode = true.",
        ));
    }
    if let Some(corrected) = &req.hash_of_corrected_invoice {
        technical_correction_allowed(&state, &ctx.context_key(), corrected)?;
    }
    let received = state.now();
    let invoice_reference = reference_number(RefKind::Invoice, ksef_time::business_date(received));
    let mut ready_at = Instant::now() + state.invoicing.config.processing_delay;
    if let Some(extra) = state
        .faults
        .take_stuck_processing("POST /sessions/online/{referenceNumber}/invoices")
    {
        ready_at += extra;
    }
    let decided = match key.decrypt(&ciphertext) {
        Err(_) => Decided {
            final_status: Status::new(435, "Błąd odszyfrowania pliku"),
            ksef_number: None,
            invoice_number: None,
            dates: None,
        },
        Ok(plain) => {
            if i64::try_from(plain.len()).ok() != Some(req.invoice_size) {
                return Err(size_mismatch());
            }
            if super::crypto::sha256_b64(&plain) != req.invoice_hash {
                return Err(hash_mismatch());
            }
            if state
                .faults
                .take_async_failure("POST /sessions/online/{referenceNumber}/invoices")
            {
                Decided {
                    final_status: Status::new(550, "Operacja została anulowana przez system"),
                    ksef_number: None,
                    invoice_number: None,
                    dates: None,
                }
            } else {
                decide(
                    &state,
                    &reference,
                    form,
                    &plain,
                    false,
                    req.offline_mode,
                    req.hash_of_corrected_invoice.clone(),
                    received,
                    ready_at,
                )
            }
        }
    };
    state.invoicing.with(|s| {
        if let Some(sess) = s.sessions.get_mut(&reference) {
            let ordinal = sess.invoices.len() + 1;
            sess.updated = received;
            sess.invoices.push(SessionInvoice {
                ordinal,
                reference: invoice_reference.clone(),
                invoice_hash: req.invoice_hash.clone(),
                file_name: None,
                invoice_number: decided.invoice_number,
                ksef_number: decided.ksef_number,
                invoicing_date: received,
                acquisition_date: decided.dates.map(|d| d.0),
                permanent_storage_date: decided.dates.map(|d| d.1),
                offline: req.offline_mode,
                final_status: decided.final_status,
                ready_at,
            });
        }
    });
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "referenceNumber": invoice_reference }),
    ))
}

/// Technical correction rules: the corrected invoice must not have been
/// accepted (21167) and must not already have an accepted correction (21166).
fn technical_correction_allowed(
    state: &AppState,
    context_key: &str,
    corrected: &str,
) -> Result<(), ApiError> {
    let now = Instant::now();
    state.invoicing.with(|s| {
        let originals = s
            .sessions
            .values()
            .filter(|x| x.context_key == context_key)
            .flat_map(|x| x.invoices.iter())
            .filter(|i| i.invoice_hash == corrected);
        if originals.clone().any(|i| i.accepted()) {
            return Err(ApiError::bad_request(
                21167,
                "Status faktury nie pozwala na korektę techniczną.",
                ["Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury."],
            ));
        }
        let already = s
            .invoices
            .values()
            .any(|i| i.hash_of_corrected.as_deref() == Some(corrected) && now >= i.ready_at);
        if already {
            return Err(ApiError::bad_request(
                21166,
                "Korekta techniczna niedostępna.",
                ["Faktura posiada już przetworzoną prawidłowo korektę techniczną."],
            ));
        }
        Ok(())
    })
}

/// Final status of a closed session from its invoices.
pub(crate) fn final_status_for(invoices: &[SessionInvoice]) -> Status {
    if invoices.is_empty() {
        Status::new(440, "Sesja anulowana").with_detail("Nie przesłano faktur.")
    } else if invoices.iter().any(SessionInvoice::accepted) {
        Status::new(200, "Sesja interaktywna przetworzona pomyślnie")
    } else {
        Status::new(445, "Błąd weryfikacji, brak poprawnych faktur")
    }
}

/// Assigns UPO page references (`upo_page_size` documents a page, 10 000 by default).
pub(crate) fn assign_upo_pages(sess: &mut Session, today: NaiveDate) {
    let accepted = sess.invoices.iter().filter(|i| i.accepted()).count();
    let pages = accepted.div_ceil(sess.upo_page_size.max(1));
    sess.upo_pages = (0..pages)
        .map(|_| reference_number(RefKind::Upo, today))
        .collect();
}

/// `POST /sessions/online/{referenceNumber}/close`.
pub(crate) async fn close(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    require(&ctx, "POST", "/sessions/online/{referenceNumber}/close")?;
    let now = Instant::now();
    let mut delay = state.invoicing.config.session_close_delay;
    if let Some(extra) = state
        .faults
        .take_stuck_processing("POST /sessions/online/{referenceNumber}/close")
    {
        delay += extra;
    }
    state.invoicing.with(|s| {
        let sess = open_session_mut(
            s,
            &ctx,
            &reference,
            SessionKind::Online,
            now,
            "jej zamknięcie",
        )?;
        let last_invoice = sess
            .invoices
            .iter()
            .map(|i| i.ready_at)
            .max()
            .unwrap_or(now);
        let ready_at = last_invoice.max(now) + delay;
        let final_status = final_status_for(&sess.invoices);
        let wall_now = state.now();
        assign_upo_pages(sess, ksef_time::business_date(wall_now));
        sess.closed_at = Some(wall_now);
        sess.updated = wall_now;
        sess.phase = Phase::Closed {
            interim: Status::new(170, "Sesja interaktywna zamknięta"),
            final_status,
            ready_at,
        };
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
