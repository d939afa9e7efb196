//! Retrieval: download by KSeF number and the metadata query, plus the filter
//! logic shared with exports.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ksef_time::format_utc_millis;
use serde::Deserialize;
use serde_json::{Value, json};

use super::rules::BuyerId;
use super::store::{Store, StoredInvoice};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::json_body::parse as parse_body;
use crate::http::paging::{OffsetPage, PageSizes};
use crate::http::query_string::QueryPairs;
use crate::http::response::{json as json_response, xml_with_hash};
use crate::state::AppState;
use ksef_time::parse_api_datetime;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateRangeWire {
    pub(crate) date_type: String,
    pub(crate) from: String,
    pub(crate) to: Option<String>,
    pub(crate) restrict_to_permanent_storage_hwm_date: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AmountWire {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) from: Option<f64>,
    pub(crate) to: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BuyerIdWire {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: Option<String>,
}

/// `InvoiceQueryFilters`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FiltersWire {
    pub(crate) subject_type: String,
    pub(crate) date_range: DateRangeWire,
    pub(crate) ksef_number: Option<String>,
    pub(crate) invoice_number: Option<String>,
    pub(crate) amount: Option<AmountWire>,
    pub(crate) seller_nip: Option<String>,
    pub(crate) buyer_identifier: Option<BuyerIdWire>,
    pub(crate) currency_codes: Option<Vec<String>>,
    pub(crate) invoicing_mode: Option<String>,
    pub(crate) is_self_invoicing: Option<bool>,
    pub(crate) form_type: Option<String>,
    pub(crate) invoice_types: Option<Vec<String>>,
    pub(crate) has_attachment: Option<bool>,
}

/// Longest `dateRange` of a query or export (2.9.0: 100 days, counted in UTC).
pub(crate) const MAX_RANGE_DAYS: i64 = 100;

/// Which date the range (and the sort order) applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateType {
    Issue,
    Invoicing,
    PermanentStorage,
}

/// Validated filters.
#[derive(Debug, Clone)]
pub(crate) struct Filters {
    pub(crate) wire: FiltersWire,
    pub(crate) date_type: DateType,
    pub(crate) from: DateTime<Utc>,
    pub(crate) to: Option<DateTime<Utc>>,
    pub(crate) restrict_hwm: bool,
}

impl Filters {
    /// Validates the wire filters (21405 with the reason).
    pub(crate) fn parse(wire: FiltersWire, now: DateTime<Utc>) -> Result<Self, ApiError> {
        if !matches!(
            wire.subject_type.as_str(),
            "Subject1" | "Subject2" | "Subject3" | "SubjectAuthorized"
        ) {
            return Err(ApiError::validation(format!(
                "Unknown subjectType '{}'.",
                wire.subject_type
            )));
        }
        let date_type = match wire.date_range.date_type.as_str() {
            "Issue" => DateType::Issue,
            "Invoicing" => DateType::Invoicing,
            "PermanentStorage" => DateType::PermanentStorage,
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown dateRange.dateType '{other}'."
                )));
            }
        };
        let from = parse_api_datetime(&wire.date_range.from)
            .ok_or_else(|| ApiError::validation("dateRange.from is not a date-time."))?;
        let to = wire
            .date_range
            .to
            .as_deref()
            .map(|t| {
                parse_api_datetime(t)
                    .ok_or_else(|| ApiError::validation("dateRange.to is not a date-time."))
            })
            .transpose()?;
        if to.is_some_and(|t| t < from) {
            return Err(ApiError::validation(
                "dateRange.to is before dateRange.from.",
            ));
        }
        let end = to.unwrap_or(now).max(from);
        if end - from > chrono::Duration::days(MAX_RANGE_DAYS) {
            return Err(ApiError::validation(format!(
                "dateRange must not exceed {MAX_RANGE_DAYS} days (UTC)."
            )));
        }
        let restrict_hwm = wire
            .date_range
            .restrict_to_permanent_storage_hwm_date
            .unwrap_or(false);
        Ok(Self {
            wire,
            date_type,
            from,
            to,
            restrict_hwm,
        })
    }

    /// The record's date for this filter's date type (issue dates at Warsaw midnight).
    pub(crate) fn date_of(&self, i: &StoredInvoice) -> DateTime<Utc> {
        match self.date_type {
            // Midnight of the issue date in Europe/Warsaw.
            DateType::Issue => ksef_time::start_of_business_day(i.facts.issue_date),
            DateType::Invoicing => i.invoicing_date,
            DateType::PermanentStorage => i.permanent_storage_date,
        }
    }

    fn subject_matches(&self, ctx_nip: Option<&str>, i: &StoredInvoice) -> bool {
        let Some(nip) = ctx_nip else { return false };
        match self.wire.subject_type.as_str() {
            "Subject1" => i.facts.seller_nip == nip,
            "Subject2" => matches!(&i.facts.buyer_id, BuyerId::Nip(b) if b == nip),
            "Subject3" => i.is_third_subject(nip),
            "SubjectAuthorized" => i.facts.authorized.as_ref().is_some_and(|a| a.0 == nip),
            _ => false,
        }
    }

    fn other_filters_match(&self, i: &StoredInvoice) -> bool {
        let w = &self.wire;
        let f = &i.facts;
        if w.ksef_number.as_ref().is_some_and(|k| *k != i.ksef_number) {
            return false;
        }
        if w.invoice_number
            .as_ref()
            .is_some_and(|n| *n != f.invoice_number)
        {
            return false;
        }
        if w.seller_nip.as_ref().is_some_and(|n| *n != f.seller_nip) {
            return false;
        }
        if let Some(b) = &w.buyer_identifier {
            let ok = match (&f.buyer_id, b.kind.as_str()) {
                (BuyerId::Nip(v), "Nip")
                | (BuyerId::VatUe(v), "VatUe")
                | (BuyerId::Other(v), "Other") => b.value.as_ref().is_none_or(|x| x == v),
                (BuyerId::None, "None") => true,
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        if let Some(a) = &w.amount {
            let v = match a.kind.as_str() {
                "Netto" => f.net,
                "Vat" => f.vat,
                _ => f.gross,
            };
            if a.from.is_some_and(|x| v < x) || a.to.is_some_and(|x| v > x) {
                return false;
            }
        }
        if w.currency_codes
            .as_ref()
            .is_some_and(|c| !c.is_empty() && !c.contains(&f.currency))
        {
            return false;
        }
        let mode = if i.offline { "Offline" } else { "Online" };
        if w.invoicing_mode.as_ref().is_some_and(|m| m != mode) {
            return false;
        }
        if w.is_self_invoicing == Some(true) {
            return false;
        }
        if w.form_type.as_ref().is_some_and(|t| t != i.form.value()) {
            return false;
        }
        if w.invoice_types
            .as_ref()
            .is_some_and(|t| !t.is_empty() && !t.iter().any(|x| x == f.invoice_type))
        {
            return false;
        }
        if w.has_attachment.is_some_and(|h| h != f.has_attachment) {
            return false;
        }
        true
    }

    /// Visible invoices matching the filters, sorted by the filter's date.
    pub(crate) fn select<'a>(
        &self,
        s: &'a Store,
        ctx_nip: Option<&str>,
        now: DateTime<Utc>,
        hwm: DateTime<Utc>,
        descending: bool,
    ) -> Vec<&'a StoredInvoice> {
        let upper = match (
            self.to,
            self.restrict_hwm && self.date_type == DateType::PermanentStorage,
        ) {
            (Some(t), true) => Some(t.min(hwm)),
            (None, true) => Some(hwm),
            (t, false) => t,
        };
        let mut v: Vec<&StoredInvoice> = s
            .repo_order
            .iter()
            .filter_map(|k| s.invoices.get(k))
            .filter(|i| now >= i.ready_at)
            .filter(|i| self.subject_matches(ctx_nip, i))
            .filter(|i| {
                let d = self.date_of(i);
                d >= self.from && upper.is_none_or(|u| d <= u)
            })
            .filter(|i| self.other_filters_match(i))
            .collect();
        v.sort_by(|a, b| {
            self.date_of(a)
                .cmp(&self.date_of(b))
                .then_with(|| a.ksef_number.cmp(&b.ksef_number))
        });
        if descending {
            v.reverse();
        }
        v
    }
}

/// Whether `nip` is a third subject (Podmiot3) of the invoice (by NIP or internal id).
/// `GET /invoices/ksef/{ksefNumber}`.
pub(crate) async fn download(
    State(state): State<AppState>,
    ctx: AuthContext,
    Path(ksef): Path<String>,
) -> Result<Response, ApiError> {
    if !(crate::identifiers::is_ksef_number(&ksef) || ksef.len() == 36) {
        return Err(ApiError::validation(format!(
            "'{ksef}' is not a valid KSeF number."
        )));
    }
    let now = state.now();
    let not_found = || {
        ApiError::bad_request(
            21164,
            "Faktura o podanym identyfikatorze nie istnieje.",
            [format!(
                "Faktura o numerze KSeF {ksef} nie została znaleziona."
            )],
        )
    };
    let found = state.invoicing.with(|s| {
        s.invoices.get(&ksef).map(|i| {
            let mine = ctx.nip.as_deref().is_some_and(|n| i.has_role(n));
            (mine, now >= i.ready_at, i.path.clone())
        })
    });
    let (path, _) = match found {
        Some((true, true, p)) => (p, ()),
        Some((true, false, _)) => {
            return Err(ApiError::bad_request(
                21165,
                "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.",
                [format!(
                    "Faktura o numerze KSeF {ksef} została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie później."
                )],
            ));
        }
        _ => return Err(not_found()),
    };
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(format!("cannot read the invoice: {e}")))?;
    Ok(xml_with_hash(bytes))
}

/// `POST /invoices/query/metadata`.
pub(crate) async fn metadata(
    State(state): State<AppState>,
    ctx: AuthContext,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pairs = QueryPairs::parse(q.as_deref());
    let get = |k: &str| pairs.first(k);
    let descending = match get("sortOrder") {
        None | Some("Asc") => false,
        Some("Desc") => true,
        Some(o) => return Err(ApiError::validation(format!("Unknown sortOrder '{o}'."))),
    };
    let page = OffsetPage::read(&pairs, PageSizes::new(10, 250, 10))?;
    let wire: FiltersWire = parse_body(&body)?;
    let filters = Filters::parse(wire, state.now())?;
    let now = state.now();
    let cap = state.invoicing.config.query_truncation_cap;
    let body = state.invoicing.with(|s| {
        let hwm = s.hwm(now);
        if filters.restrict_hwm && filters.date_type == DateType::PermanentStorage && filters.from > hwm {
            return Err(ApiError::bad_request(
                21183,
                "Zakres filtrowania wykracza poza dostępny zakres danych.",
                ["Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate."],
            ));
        }
        let all = filters.select(s, ctx.nip.as_deref(), now, hwm, descending);
        let is_truncated = all.len() > cap;
        let reachable = &all[..all.len().min(cap)];
        let (slice, has_more) = page.of(reachable);
        let page: Vec<Value> = slice.iter().map(|i| i.metadata_json()).collect();
        let mut v = json!({ "hasMore": has_more, "isTruncated": is_truncated, "invoices": page });
        if filters.date_type == DateType::PermanentStorage {
            v["permanentStorageHwmDate"] = json!(format_utc_millis(hwm));
        }
        Ok(v)
    })?;
    Ok(json_response(StatusCode::OK, &body))
}
