//! Online (interactive) sessions: open, send invoice, close.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ksef_time::format_utc_millis;
use serde::Deserialize;
use serde_json::json;

use super::crypto::unb64;
use super::intake::{Decided, ReceivedInvoice, decide};
use super::opening::{EncryptionWire, FormCodeWire, form_of, new_session, unwrap_key};
use super::store::{
    Phase, SessionInvoice, SessionKind, Status, no_session, session_status_forbids,
};
use crate::auth::context::AuthContext;
use crate::clock::after;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::response::json as json_response;
use crate::identifiers::{RefKind, reference_number};
use crate::ops::OperationInfo;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenOnlineRequest {
    form_code: FormCodeWire,
    encryption: EncryptionWire,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendInvoiceRequest {
    invoice_hash: String,
    invoice_size: i64,
    encrypted_invoice_hash: String,
    encrypted_invoice_size: i64,
    encrypted_invoice_content: String,
    #[serde(default)]
    offline_mode: bool,
    hash_of_corrected_invoice: Option<String>,
}

/// `POST /sessions/online`.
pub(crate) async fn open(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<OpenOnlineRequest>,
) -> Result<Response, ApiError> {
    let form = form_of(&req.form_code)?;
    let key = unwrap_key(&state, &req.encryption)?;
    let session = new_session(&state, &ctx, SessionKind::Online, form, key, false);
    let body = json!({ "referenceNumber": session.reference, "validUntil": format_utc_millis(session.valid_until) });
    state.invoicing.with(|s| {
        s.session_order.push(session.reference.clone());
        s.sessions.insert(session.reference.clone(), session);
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `POST /sessions/online/{referenceNumber}/invoices`.
pub(crate) async fn send(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
    JsonBody(req): JsonBody<SendInvoiceRequest>,
) -> Result<Response, ApiError> {
    let now = state.now();
    // Session checks first.
    let (form, key, count) = state.invoicing.with(|s| {
        let action = "wysyłkę faktur";
        let sess = s.open_session_mut(
            &ctx.context_key(),
            &reference,
            SessionKind::Online,
            now,
            action,
        )?;
        if now > sess.valid_until {
            return Err(session_status_forbids(100, action));
        }
        Ok((sess.form, sess.key.clone(), sess.invoices.len()))
    })?;
    if state.faults.take_session_unavailable(op) {
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
                .limits
                .context(&ctx.context_key())
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
    fn size_mismatch() -> ApiError {
        ApiError::bad_request(
            21402,
            "Nieprawidłowy rozmiar pliku.",
            ["Długość treści nie zgadza się z rozmiarem pliku."],
        )
    }
    fn hash_mismatch() -> ApiError {
        ApiError::bad_request(
            21403,
            "Nieprawidłowy skrót pliku.",
            ["Skrót treści nie zgadza się ze skrótem pliku."],
        )
    }
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
    let invoice_reference = reference_number(RefKind::Invoice, received);
    let delay = state
        .invoicing
        .config
        .processing_delay
        .saturating_add(state.faults.take_stuck_processing(op).unwrap_or_default());
    let ready_at = after(received, delay);
    // Decryption and the invoice rules (parsing up to 3 MB of XML) run on the bounded pool.
    let job = {
        let state = state.clone();
        let reference = reference.clone();
        let invoice_size = req.invoice_size;
        let invoice_hash = req.invoice_hash.clone();
        let offline = req.offline_mode;
        let hash_of_corrected = req.hash_of_corrected_invoice.clone();
        let context_key = ctx.context_key();
        move || -> Result<Decided, ApiError> {
            Ok(match key.decrypt(&ciphertext) {
                Err(_) => Decided::refused(Status::new(435, "Błąd odszyfrowania pliku")),
                Ok(plain) => {
                    if i64::try_from(plain.len()).ok() != Some(invoice_size) {
                        return Err(size_mismatch());
                    }
                    if super::crypto::sha256_b64(&plain) != invoice_hash {
                        return Err(hash_mismatch());
                    }
                    if state.faults.take_async_failure(op) {
                        Decided::refused(Status::cancelled_by_system())
                    } else {
                        decide(
                            &state,
                            ReceivedInvoice {
                                session_reference: &reference,
                                context_key: &context_key,
                                form,
                                bytes: &plain,
                                // online sessions never accept attachments
                                attachments_allowed: false,
                                offline,
                                hash_of_corrected,
                                received_at: received,
                                ready_at,
                            },
                        )
                    }
                }
            })
        }
    };
    let decided = state.blocking.run(job).await??;
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
    let now = state.now();
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

/// `POST /sessions/online/{referenceNumber}/close`.
pub(crate) async fn close(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let mut delay = state.invoicing.config.session_close_delay;
    if let Some(extra) = state.faults.take_stuck_processing(op) {
        delay = delay.saturating_add(extra);
    }
    state.invoicing.with(|s| {
        let sess = s.open_session_mut(
            &ctx.context_key(),
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
        let ready_at = after(last_invoice.max(now), delay);
        let final_status = final_status_for(&sess.invoices);
        sess.assign_upo_pages(now);
        sess.closed_at = Some(now);
        sess.updated = now;
        sess.phase = Phase::Closed {
            interim: Status::new(170, "Sesja interaktywna zamknięta"),
            final_status,
            ready_at,
        };
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
