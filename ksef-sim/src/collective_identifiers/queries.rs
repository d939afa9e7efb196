//! The three lists of collective identifiers: `POST /collective-identifiers/query` (by creation
//! date, in the context), `POST /collective-identifiers/invoices` (the invoices of given
//! identifiers) and `GET /collective-identifiers/ksef/{ksefNumber}` (the identifiers of one
//! invoice). All three page with `x-continuation-token`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use ksef_time::{format_utc_millis, parse_api_datetime};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{CollectiveIdentifier, Member};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::paging::{ContinuationPage, PageSizes};
use crate::identifiers::{is_collective_identifier_number, is_ksef_number};
use crate::state::AppState;

/// Longest `dateCreatedFrom`–`dateCreatedTo` range.
const MAX_RANGE_DAYS: i64 = 100;
/// Most identifiers one `/collective-identifiers/invoices` request may name.
const MAX_NUMBERS_PER_REQUEST: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    page_size: Option<i64>,
}

/// A page of `items` under `key`, with the continuation token of the next page.
fn paged(key: &str, items: &[Value], page: ContinuationPage) -> Json<Value> {
    let (slice, next) = page.of(items);
    let mut body = json!({ key: slice });
    if let (Some(n), Some(m)) = (next, body.as_object_mut()) {
        m.insert("continuationToken".into(), json!(n));
    }
    Json(body)
}

/// Whether the context sees `c` in its lists: it created it, or (a NIP context) it is the
/// seller of its invoices.
fn visible_to(ctx: &AuthContext, c: &CollectiveIdentifier) -> bool {
    c.context_key == ctx.context_key()
        || (ctx.context_type == "Nip" && c.seller_nip == ctx.context_value)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ByDateRequest {
    date_created_from: String,
    date_created_to: String,
    #[serde(default)]
    collective_identifier_number: Option<String>,
    #[serde(default)]
    invoice_count_from: Option<i64>,
    #[serde(default)]
    invoice_count_to: Option<i64>,
    #[serde(default)]
    created_in_current_context: Option<bool>,
}

fn date_range(req: &ByDateRequest) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let from = parse_api_datetime(&req.date_created_from)
        .ok_or_else(|| ApiError::validation("dateCreatedFrom is not a date-time."))?;
    let to = parse_api_datetime(&req.date_created_to)
        .ok_or_else(|| ApiError::validation("dateCreatedTo is not a date-time."))?;
    if to < from {
        return Err(ApiError::validation(
            "dateCreatedTo is before dateCreatedFrom.",
        ));
    }
    if to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::validation(format!(
            "dateCreatedFrom..dateCreatedTo must not exceed {MAX_RANGE_DAYS} days."
        )));
    }
    Ok((from, to))
}

/// `POST /collective-identifiers/query`.
pub(crate) async fn by_date(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
    JsonBody(req): JsonBody<ByDateRequest>,
) -> Result<Json<Value>, ApiError> {
    let page = ContinuationPage::read(&headers, q.page_size, PageSizes::new(10, 200, 10))?;
    let (from, to) = date_range(&req)?;
    let here = ctx.context_key();
    let items: Vec<Value> = state
        .collective_identifiers
        .newest_first(|c| {
            let count = i64::try_from(c.members.len()).unwrap_or(i64::MAX);
            visible_to(&ctx, c)
                && c.created >= from
                && c.created <= to
                && req
                    .collective_identifier_number
                    .as_ref()
                    .is_none_or(|n| *n == c.number)
                && req.invoice_count_from.is_none_or(|n| count >= n)
                && req.invoice_count_to.is_none_or(|n| count <= n)
                && req
                    .created_in_current_context
                    .is_none_or(|b| b == (c.context_key == here))
        })
        .iter()
        .map(|c| {
            json!({
                "collectiveIdentifierNumber": c.number,
                "dateCreated": format_utc_millis(c.created),
                "invoiceCount": c.members.len(),
                "createdInCurrentContext": c.context_key == here,
            })
        })
        .collect();
    Ok(paged("collectiveIdentifiers", &items, page))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvoicesRequest {
    collective_identifier_numbers: Vec<String>,
}

/// One invoice of an identifier as the context may see it: the payment and description only for
/// the identifier's creator and the taxpayers with a role on the invoice (`detailsHidden`
/// otherwise).
fn member_json(state: &AppState, ctx: &AuthContext, c: &CollectiveIdentifier, m: &Member) -> Value {
    let may_see = c.context_key == ctx.context_key()
        || ctx.nip.as_deref().is_some_and(|n| {
            state.invoicing.with(|s| {
                s.invoices
                    .get(&m.ksef_number)
                    .is_some_and(|i| i.has_role(n))
            })
        });
    let hidden = m.has_details() && !may_see;
    let mut v = json!({
        "ksefNumber": m.ksef_number,
        "collectiveIdentifierNumber": c.number,
        "detailsHidden": hidden,
    });
    if !hidden && let Some(obj) = v.as_object_mut() {
        if let Some(p) = &m.payment {
            obj.insert(
                "payment".into(),
                json!({ "amount": p.amount, "currency": p.currency }),
            );
        }
        if let Some(d) = &m.description {
            obj.insert("description".into(), json!(d));
        }
    }
    v
}

/// `POST /collective-identifiers/invoices`: anyone holding an identifier's number may list its
/// invoices; unknown numbers list nothing.
pub(crate) async fn invoices(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
    JsonBody(req): JsonBody<InvoicesRequest>,
) -> Result<Json<Value>, ApiError> {
    let page = ContinuationPage::read(&headers, q.page_size, PageSizes::new(10, 500, 10))?;
    let numbers = &req.collective_identifier_numbers;
    if numbers.is_empty() || numbers.len() > MAX_NUMBERS_PER_REQUEST {
        return Err(ApiError::validation(format!(
            "collectiveIdentifierNumbers must name 1 to {MAX_NUMBERS_PER_REQUEST} identifiers."
        )));
    }
    if let Some(bad) = numbers.iter().find(|n| !is_collective_identifier_number(n)) {
        return Err(ApiError::validation(format!(
            "collectiveIdentifierNumbers: '{bad}' is not a collective identifier."
        )));
    }
    let found = state.collective_identifiers.with_numbers(numbers);
    let mut pairs: Vec<(&CollectiveIdentifier, &Member)> = found
        .iter()
        .flat_map(|c| c.members.iter().map(move |m| (c, m)))
        .collect();
    pairs.sort_by(|a, b| {
        b.1.ksef_number
            .cmp(&a.1.ksef_number)
            .then(b.0.number.cmp(&a.0.number))
    });
    let items: Vec<Value> = pairs
        .iter()
        .map(|(c, m)| member_json(&state, &ctx, c, m))
        .collect();
    Ok(paged("invoices", &items, page))
}

/// `GET /collective-identifiers/ksef/{ksefNumber}`: the identifiers the invoice belongs to that
/// the context created, or all of them when its taxpayer has a role on the invoice.
pub(crate) async fn by_ksef_number(
    State(state): State<AppState>,
    ctx: AuthContext,
    headers: HeaderMap,
    Path(ksef_number): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = ContinuationPage::read(&headers, q.page_size, PageSizes::new(10, 200, 10))?;
    if !is_ksef_number(&ksef_number) {
        return Err(ApiError::validation(format!(
            "'{ksef_number}' is not a KSeF number."
        )));
    }
    let has_role = ctx.nip.as_deref().is_some_and(|n| {
        state
            .invoicing
            .with(|s| s.invoices.get(&ksef_number).is_some_and(|i| i.has_role(n)))
    });
    let here = ctx.context_key();
    let items: Vec<Value> = state
        .collective_identifiers
        .newest_first(|c| c.contains(&ksef_number) && (has_role || c.context_key == here))
        .iter()
        .map(|c| {
            json!({
                "collectiveIdentifierNumber": c.number,
                "createdInCurrentContext": c.context_key == here,
                "dateCreated": format_utc_millis(c.created),
            })
        })
        .collect();
    Ok(paged("collectiveIdentifiers", &items, page))
}
