//! Session status, session lists, invoice status lists and UPO downloads.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use ksef_time::format_utc_millis;
use serde_json::{Value, json};

use super::store::no_session;
use super::store::{Session, SessionKind, Store};
use super::upo::{UpoPage, render};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::paging::{ContinuationPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::http::response::{json as json_response, xml_with_hash};
use crate::ops::OperationInfo;
use crate::presign::PresignedRoute;
use crate::presign::extractor::Presigned;
use crate::presign::signer::PresignedUrl;
use crate::state::AppState;

/// Page sizes of the session and session-invoice lists.
const PAGE_SIZES: PageSizes = PageSizes::new(10, 1000, 10);

/// A presigned URL of one session UPO page, issued by `op`.
fn session_upo_url(
    state: &AppState,
    op: &OperationInfo,
    sess: &Session,
    page_ref: &str,
) -> PresignedUrl {
    state.presign.url(
        &state.faults,
        op,
        PresignedRoute::SessionUpo,
        &[&sess.reference, page_ref],
    )
}

/// A presigned URL of one invoice's UPO, issued by `op`.
fn invoice_upo_url(
    state: &AppState,
    op: &OperationInfo,
    sess: &Session,
    inv_ref: &str,
) -> PresignedUrl {
    state.presign.url(
        &state.faults,
        op,
        PresignedRoute::InvoiceUpo,
        &[&sess.reference, inv_ref],
    )
}

/// `GET /sessions/{referenceNumber}`.
pub(crate) async fn status(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let body = state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), &reference)?;
        let st = sess.status(now);
        let (total, ok, failed) = sess.counts(now);
        let mut v = json!({
            "status": st.to_json(),
            "dateCreated": format_utc_millis(sess.created),
            "dateUpdated": format_utc_millis(sess.updated),
            "validUntil": format_utc_millis(sess.valid_until),
            "invoiceCount": total,
            "successfulInvoiceCount": ok,
            "failedInvoiceCount": failed,
        });
        if st.code == 200 && !sess.upo_pages.is_empty() {
            let pages: Vec<Value> = sess
                .upo_pages
                .iter()
                .map(|p| {
                    let u = session_upo_url(&state, op, sess, p);
                    json!({ "referenceNumber": p, "downloadUrl": u.url, "downloadUrlExpirationDate": format_utc_millis(u.expires_at) })
                })
                .collect();
            v["upo"] = json!({ "pages": pages });
        }
        Ok::<_, ApiError>(v)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /sessions`.
pub(crate) async fn list(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = QueryPairs::parse(q.as_deref());
    let kind = match pairs.first("sessionType") {
        Some("Online") => SessionKind::Online,
        Some("Batch") => SessionKind::Batch,
        _ => {
            return Err(ApiError::validation(
                "sessionType is required (Online or Batch).",
            ));
        }
    };
    let page = ContinuationPage::read(&headers, pairs.int("pageSize")?, PAGE_SIZES)?;
    let statuses: Vec<&str> = pairs.all("statuses").collect();
    let date = |key: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        pairs
            .first(key)
            .map(|v| {
                ksef_time::parse_api_datetime(v)
                    .ok_or_else(|| ApiError::validation(format!("{key} is not a date-time.")))
            })
            .transpose()
    };
    let (cf, ct, clf, clt, mf, mt) = (
        date("dateCreatedFrom")?,
        date("dateCreatedTo")?,
        date("dateClosedFrom")?,
        date("dateClosedTo")?,
        date("dateModifiedFrom")?,
        date("dateModifiedTo")?,
    );
    let reference = pairs.first("referenceNumber");
    let now = state.now();
    let body = state.invoicing.with(|s| {
        let matching: Vec<&Session> = s
            .session_order
            .iter()
            .rev()
            .filter_map(|r| s.sessions.get(r))
            .filter(|x| x.context_key == ctx.context_key() && x.kind == kind)
            .filter(|x| reference.is_none_or(|r| x.reference == r))
            .filter(|x| statuses.is_empty() || statuses.contains(&x.common_status(now)))
            .filter(|x| cf.is_none_or(|d| x.created >= d) && ct.is_none_or(|d| x.created <= d))
            .filter(|x| mf.is_none_or(|d| x.updated >= d) && mt.is_none_or(|d| x.updated <= d))
            .filter(|x| {
                (clf.is_none() && clt.is_none())
                    || x.closed_at
                        .is_some_and(|c| clf.is_none_or(|d| c >= d) && clt.is_none_or(|d| c <= d))
            })
            .collect();
        let (sessions, next) = page.of(&matching);
        let sessions: Vec<Value> = sessions
            .iter()
            .map(|x| {
                let (total, ok, failed) = x.counts(now);
                json!({
                    "referenceNumber": x.reference,
                    "status": x.status(now).to_json(),
                    "dateCreated": format_utc_millis(x.created),
                    "dateUpdated": format_utc_millis(x.updated),
                    "validUntil": format_utc_millis(x.valid_until),
                    "totalInvoiceCount": total,
                    "successfulInvoiceCount": ok,
                    "failedInvoiceCount": failed,
                })
            })
            .collect();
        let mut v = json!({ "sessions": sessions });
        if let Some(next) = next {
            v["continuationToken"] = json!(next);
        }
        v
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn invoice_page(
    state: &AppState,
    op: &OperationInfo,
    ctx: &AuthContext,
    reference: &str,
    headers: &HeaderMap,
    q: Option<&str>,
    only_failed: bool,
) -> Result<Value, ApiError> {
    let pairs = QueryPairs::parse(q);
    let page = ContinuationPage::read(headers, pairs.int("pageSize")?, PAGE_SIZES)?;
    let now = state.now();
    state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), reference)?;
        let selected: Vec<_> = sess
            .invoices
            .iter()
            .filter(|i| !only_failed || i.failed(now))
            .collect();
        let (invoices, next) = page.of(&selected);
        let invoices: Vec<Value> = invoices
            .iter()
            .map(|i| {
                let url = (i.is_ready(now) && i.accepted())
                    .then(|| invoice_upo_url(state, op, sess, &i.reference));
                i.to_json(now, url)
            })
            .collect();
        let mut v = json!({ "invoices": invoices });
        if let Some(next) = next {
            v["continuationToken"] = json!(next);
        }
        Ok(v)
    })
}

/// `GET /sessions/{referenceNumber}/invoices`.
pub(crate) async fn invoices(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let v = invoice_page(&state, op, &ctx, &reference, &headers, q.as_deref(), false)?;
    Ok(json_response(StatusCode::OK, &v))
}

/// `GET /sessions/{referenceNumber}/invoices/failed`.
pub(crate) async fn failed_invoices(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path(reference): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let v = invoice_page(&state, op, &ctx, &reference, &headers, q.as_deref(), true)?;
    Ok(json_response(StatusCode::OK, &v))
}

/// `GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}`.
pub(crate) async fn invoice_status(
    State(state): State<AppState>,
    op: &'static OperationInfo,
    ctx: AuthContext,
    Path((reference, inv_ref)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let v = state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), &reference)?;
        let inv = sess
            .invoices
            .iter()
            .find(|i| i.reference == inv_ref)
            .ok_or_else(|| {
                ApiError::bad_request(
                    21405,
                    "Błąd walidacji danych wejściowych.",
                    [format!(
                        "Faktura {inv_ref} nie istnieje w sesji {reference}."
                    )],
                )
            })?;
        let url = (inv.is_ready(now) && inv.accepted())
            .then(|| invoice_upo_url(&state, op, sess, &inv.reference));
        Ok::<_, ApiError>(inv.to_json(now, url))
    })?;
    Ok(json_response(StatusCode::OK, &v))
}

fn upo_not_available(what: &str) -> ApiError {
    ApiError::bad_request(
        21405,
        "Błąd walidacji danych wejściowych.",
        [format!("UPO {what} nie jest dostępne.")],
    )
}

/// Renders the UPO of one invoice (by invoice reference or KSeF number).
fn render_invoice_upo(
    s: &Store,
    sess: &Session,
    now: DateTime<Utc>,
    pick: impl Fn(&super::store::SessionInvoice) -> bool,
) -> Result<Vec<u8>, ApiError> {
    let inv = sess
        .invoices
        .iter()
        .find(|i| pick(i))
        .filter(|i| i.is_ready(now) && i.accepted())
        .ok_or_else(|| upo_not_available("faktury"))?;
    let stored = inv
        .ksef_number
        .as_ref()
        .and_then(|k| s.invoices.get(k))
        .ok_or_else(|| upo_not_available("faktury"))?;
    let doc = stored.upo_document();
    Ok(render(&sess.upo_header, None, &[&doc]).into_bytes())
}

/// Renders page `page_ref` of the session UPO.
fn render_session_upo(
    s: &Store,
    sess: &Session,
    page_ref: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ApiError> {
    if !(sess.is_final(now) && sess.status(now).code == 200) {
        return Err(upo_not_available("sesji"));
    }
    let idx = sess
        .upo_pages
        .iter()
        .position(|p| p == page_ref)
        .ok_or_else(|| upo_not_available("sesji"))?;
    let docs = sess.upo_documents(&s.invoices);
    let total = docs.len();
    let per_page = sess.upo_page_size.max(1);
    let start = idx * per_page;
    let chunk: Vec<_> = docs.iter().skip(start).take(per_page).collect();
    if chunk.is_empty() {
        return Err(upo_not_available("sesji"));
    }
    let page = UpoPage {
        page: idx + 1,
        pages: sess.upo_pages.len(),
        first: start + 1,
        last: start + chunk.len(),
        total,
    };
    Ok(render(&sess.upo_header, Some(page), &chunk).into_bytes())
}

/// `GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo`.
pub(crate) async fn invoice_upo(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path((reference, inv_ref)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let xml = state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), &reference)?;
        render_invoice_upo(s, sess, state.now(), |i| i.reference == inv_ref)
    })?;
    Ok(xml_with_hash(xml))
}

/// `GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo`.
pub(crate) async fn invoice_upo_by_ksef(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path((reference, ksef)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let xml = state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), &reference)?;
        render_invoice_upo(s, sess, state.now(), |i| {
            i.ksef_number.as_deref() == Some(ksef.as_str())
        })
    })?;
    Ok(xml_with_hash(xml))
}

/// `GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}`.
pub(crate) async fn session_upo(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path((reference, upo_ref)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let xml = state.invoicing.with(|s| {
        let sess = s.session_of(&ctx.context_key(), &reference)?;
        render_session_upo(s, sess, &upo_ref, state.now())
    })?;
    Ok(xml_with_hash(xml))
}

/// Presigned session UPO download (no token).
pub(crate) async fn presigned_session_upo(
    _p: Presigned,
    State(state): State<AppState>,
    Path((reference, upo_ref)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let xml = state.invoicing.with(|s| {
        let sess = s
            .sessions
            .get(&reference)
            .ok_or_else(|| no_session(&reference))?;
        render_session_upo(s, sess, &upo_ref, state.now())
    })?;
    Ok(xml_with_hash(xml))
}

/// Presigned invoice UPO download (no token).
pub(crate) async fn presigned_invoice_upo(
    _p: Presigned,
    State(state): State<AppState>,
    Path((reference, inv_ref)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let xml = state.invoicing.with(|s| {
        let sess = s
            .sessions
            .get(&reference)
            .ok_or_else(|| no_session(&reference))?;
        render_invoice_upo(s, sess, state.now(), |i| i.reference == inv_ref)
    })?;
    Ok(xml_with_hash(xml))
}
