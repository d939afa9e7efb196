//! Invoice queries: the filters shared by the metadata query and exports, and the metadata query
//! as an async stream that pages, restarts past the truncation cap, deduplicates and splits
//! long ranges.
//!
//! ```no_run
//! # async fn demo(auth: ksef_flows::AuthSession) -> ksef_flows::Result<()> {
//! use futures::TryStreamExt as _;
//! use ksef_flows::query::{DateType, InvoiceQuery, SubjectType};
//!
//! let from = chrono::Utc::now() - chrono::Duration::days(30);
//! let query = InvoiceQuery::new(SubjectType::Subject2, DateType::PermanentStorage, from)
//!     .restrict_to_hwm(true);
//! let mut invoices = auth.query_metadata(query);
//! while let Some(m) = invoices.try_next().await? {
//!     println!("{} {} {}", m.ksef_number.0, m.seller.nip.0, m.gross_amount);
//! }
//! # Ok(()) }
//! ```

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use ksef_api::operations::op;
use ksef_api::types;

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::paging::PageGuard;
use crate::retry::Idempotency;

/// One invoice's metadata (`InvoiceMetadata`, as in `_metadata.json` and the metadata query).
pub type InvoiceMetadata = types::InvoiceMetadata;
/// `subjectType`: the role the context's subject plays on the invoice (`Subject1` seller,
/// `Subject2` buyer, `Subject3` third party, `SubjectAuthorized` authorised subject).
pub type SubjectType = types::InvoiceQuerySubjectType;
/// `dateRange.dateType`: `Issue`, `Invoicing` or `PermanentStorage` (the one for incremental
/// retrieval: it never changes and the high-water mark applies to it).
pub type DateType = types::InvoiceQueryDateType;
/// `sortOrder` of the metadata query.
pub type SortOrder = types::SortOrder;

use crate::date_range::{MAX_DATE_RANGE as MAX_RANGE, split_date_range};
/// Allowed `pageSize` of the metadata query.
const PAGE_SIZES: std::ops::RangeInclusive<u32> = 10..=250;
/// Most records the metadata query reaches for one filter set before it reports truncation.
const MAX_QUERY_RECORDS: usize = 10_000;

/// Filters of a metadata query or export (`InvoiceQueryFilters`), with the query's sort order
/// and page size. Every filter of the API is reachable through [`InvoiceQuery::filters`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InvoiceQuery {
    /// The filters as sent (`dateRange` is rewritten per window by the stream).
    pub filters: types::InvoiceQueryFilters,
    /// `sortOrder` of the metadata query (exports are always ascending). Default `Asc`.
    pub sort: SortOrder,
    /// `pageSize` of the metadata query, 10–250. Default 250.
    pub page_size: u32,
}

impl InvoiceQuery {
    /// Invoices where the context's subject is `subject`, with a `date_type` date from `from`
    /// on (no end: up to now). Dates go out in UTC with their offset.
    pub fn new<Tz: TimeZone>(
        subject: SubjectType,
        date_type: DateType,
        from: DateTime<Tz>,
    ) -> Self {
        Self::from_filters(types::InvoiceQueryFilters {
            amount: None,
            buyer_identifier: None,
            currency_codes: None,
            date_range: types::InvoiceQueryDateRange {
                date_type,
                from: from.with_timezone(&Utc),
                restrict_to_permanent_storage_hwm_date: None,
                to: None,
            },
            form_type: None,
            has_attachment: None,
            invoice_number: None,
            invoice_types: None,
            invoicing_mode: None,
            is_self_invoicing: None,
            ksef_number: None,
            seller_nip: None,
            subject_type: subject,
        })
    }

    /// A query with these filters, ascending, 250 per page.
    pub fn from_filters(filters: types::InvoiceQueryFilters) -> Self {
        Self {
            filters,
            sort: SortOrder::Asc,
            page_size: *PAGE_SIZES.end(),
        }
    }

    /// Ends the range at `to` (inclusive).
    #[must_use]
    pub fn to<Tz: TimeZone>(mut self, to: DateTime<Tz>) -> Self {
        self.filters.date_range.to = Some(to.with_timezone(&Utc));
        self
    }

    /// `restrictToPermanentStorageHwmDate`: never beyond the permanent-storage high-water mark
    /// (only for [`DateType::PermanentStorage`]).
    #[must_use]
    pub fn restrict_to_hwm(mut self, on: bool) -> Self {
        self.filters
            .date_range
            .restrict_to_permanent_storage_hwm_date = Some(on);
        self
    }

    /// Sort order of the metadata query.
    #[must_use]
    pub fn sort(mut self, order: SortOrder) -> Self {
        self.sort = order;
        self
    }

    /// Page size of the metadata query (10–250).
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Mutable access to every filter of the API (`sellerNip`, `amount`, `invoiceTypes`, ...).
    pub fn filters(&mut self) -> &mut types::InvoiceQueryFilters {
        &mut self.filters
    }

    fn validate(&self) -> Result<()> {
        let invalid =
            |field: &'static str, rule: String| Err(FlowError::InvalidArgument { field, rule });
        if !self.filters.subject_type.is_known() {
            return invalid(
                "subjectType",
                format!(
                    "must be Subject1, Subject2, Subject3 or SubjectAuthorized, not {}",
                    self.filters.subject_type.as_str()
                ),
            );
        }
        let range = &self.filters.date_range;
        if !range.date_type.is_known() {
            return invalid(
                "dateRange.dateType",
                format!(
                    "must be Issue, Invoicing or PermanentStorage, not {}",
                    range.date_type.as_str()
                ),
            );
        }
        if let Some(to) = range.to
            && to < range.from
        {
            return invalid(
                "dateRange",
                format!(
                    "from ({}) must not be after to ({})",
                    range.from.to_rfc3339(),
                    to.to_rfc3339()
                ),
            );
        }
        if range.restrict_to_permanent_storage_hwm_date == Some(true)
            && range.date_type != DateType::PermanentStorage
        {
            return invalid(
                "dateRange.restrictToPermanentStorageHwmDate",
                "applies only to dateType PermanentStorage".into(),
            );
        }
        if !PAGE_SIZES.contains(&self.page_size) {
            return invalid(
                "pageSize",
                format!("must be 10 to 250, not {}", self.page_size),
            );
        }
        if !matches!(self.sort, SortOrder::Asc | SortOrder::Desc) {
            return invalid("sortOrder", "must be Asc or Desc".into());
        }
        Ok(())
    }

    /// The filters of one export: valid, and a range KSeF accepts in one request (at most 100
    /// days in UTC, up to `now` when open).
    pub(crate) fn to_api_filters_at(
        &self,
        now: DateTime<Utc>,
    ) -> Result<types::InvoiceQueryFilters> {
        self.validate()?;
        let range = &self.filters.date_range;
        let end = range.to.unwrap_or(now).max(range.from);
        if end - range.from > MAX_RANGE {
            return Err(FlowError::InvalidArgument {
                field: "dateRange",
                rule: format!(
                    "an export may span at most 100 days (UTC); {} to {} is longer: export consecutive windows",
                    range.from.to_rfc3339(),
                    end.to_rfc3339()
                ),
            });
        }
        Ok(self.filters.clone())
    }
}

/// The instant a record stands at for a date type (issue dates: midnight in Europe/Warsaw).
pub(crate) fn date_of(m: &InvoiceMetadata, date_type: &DateType) -> DateTime<Utc> {
    match date_type {
        DateType::Issue => ksef_time::start_of_business_day(m.issue_date),
        DateType::Invoicing => m.invoicing_date,
        _ => m.permanent_storage_date,
    }
}

/// Windows of at most 100 days covering `[from, to]`; an open end stays open in the last one.
fn windows(
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> VecDeque<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let end = to.unwrap_or(now).max(from);
    let mut out: VecDeque<(DateTime<Utc>, Option<DateTime<Utc>>)> = split_date_range(&from, &end)
        .map(|w| w.map(|w| (w.from, Some(w.to))).collect())
        .unwrap_or_default();
    match out.back_mut() {
        Some(last) => last.1 = to,
        None => out.push_back((from, to)),
    }
    out
}

struct MetadataState {
    auth: AuthSession,
    query: InvoiceQuery,
    descending: bool,
    /// Windows not started yet (in the order they are read).
    windows: VecDeque<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// The range of the running window (moved on truncation).
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    page: u32,
    /// Ends the paging of the running range when the server never stops answering `hasMore`.
    guard: PageGuard,
    buffer: VecDeque<InvoiceMetadata>,
    /// Recently yielded KSeF numbers and their dates: records repeated at a restart boundary or
    /// shifted by new invoices between two pages are dropped.
    recent: HashMap<String, DateTime<Utc>>,
    failed: Option<FlowError>,
    done: bool,
}

fn range_guard(page_size: u32) -> PageGuard {
    PageGuard::new(
        op::INVOICE_METADATA_QUERY.name,
        MAX_QUERY_RECORDS,
        Some(page_size),
    )
}

impl MetadataState {
    fn next_window(&mut self) -> bool {
        match self.windows.pop_front() {
            Some((from, to)) => {
                self.from = from;
                self.to = to;
                self.first_page();
                true
            }
            None => false,
        }
    }

    /// Starts paging the running range anew from page 0.
    fn first_page(&mut self) {
        self.page = 0;
        self.guard = range_guard(self.query.page_size);
    }

    async fn fetch(&mut self) -> Result<()> {
        let mut filters = self.query.filters.clone();
        filters.date_range.from = self.from;
        filters.date_range.to = self.to;
        let (page, size, sort) = (self.page, self.query.page_size, self.query.sort.clone());
        let filters = &filters;
        let r = self
            .auth
            .call(op::INVOICE_METADATA_QUERY, Idempotency::Safe, |api| {
                api.invoice_metadata_query()
                    .page_offset(page)
                    .page_size(size)
                    .sort_order(sort.clone())
                    .body(filters.clone())
                    .send()
            })
            .await
            .map_err(|e| e.into_flow(|source| FlowError::QueryMetadata { source }))?
            .into_inner();
        let date_type = self.query.filters.date_range.date_type.clone();
        let first = r.invoices.first().map(|m| date_of(m, &date_type));
        let last = r.invoices.last().map(|m| date_of(m, &date_type));
        let fetched = r.invoices.len();
        for m in r.invoices {
            let d = date_of(&m, &date_type);
            if self.recent.insert(m.ksef_number.0.clone(), d).is_none() {
                self.buffer.push_back(m);
            }
        }
        if let Some(first) = first {
            let desc = self.descending;
            self.recent
                .retain(|_, d| if desc { *d <= first } else { *d >= first });
        }
        tracing::debug!(
            page,
            fetched,
            has_more = r.has_more,
            truncated = r.is_truncated,
            "metadata page"
        );
        let next = (fetched > 0 && r.has_more).then_some(self.page.saturating_add(1));
        if let Some(next) = self.guard.next(fetched, next)? {
            self.page = next;
            return Ok(());
        }
        match (r.is_truncated, last) {
            (true, Some(last)) => {
                // The API stops at its cap: go on from the last record's date, from page 0.
                let stuck = if self.descending {
                    self.to == Some(last)
                } else {
                    self.from == last
                };
                if stuck {
                    return Err(FlowError::QueryStalled { date: last });
                }
                tracing::debug!(%last, "metadata query truncated; moving the range to the last record");
                if self.descending {
                    self.to = Some(last);
                } else {
                    self.from = last;
                }
                self.first_page();
            }
            _ => {
                if !self.next_window() {
                    self.done = true;
                }
            }
        }
        Ok(())
    }
}

impl AuthSession {
    /// The metadata of every invoice `query` selects, as a stream: pages of up to 250, a range
    /// longer than the API allows split into windows, a truncated result (the API reaches at most
    /// 10 000 records per filter set) continued from the last record's date, and every KSeF
    /// number yielded once. Records come in the query's sort order; the stream is boxed (`Unpin`,
    /// `Send`).
    ///
    /// With [`DateType::PermanentStorage`] and [`InvoiceQuery::restrict_to_hwm`] the set is
    /// stable and the stream exact. With other date types invoices arriving during the query may
    /// shift pages: none is missed, repeats are dropped.
    ///
    /// KSeF allows 20 metadata queries an hour per context (the client's rate limiter waits for
    /// them): for large or regular retrieval use exports.
    pub fn query_metadata(
        &self,
        query: InvoiceQuery,
    ) -> BoxStream<'static, Result<InvoiceMetadata>> {
        let now = self.ksef().now();
        let descending = query.sort == SortOrder::Desc;
        let invalid = query.validate().err();
        let range = &query.filters.date_range;
        let mut windows = windows(range.from, range.to, now);
        if descending {
            windows = windows.into_iter().rev().collect();
        }
        let mut state = MetadataState {
            auth: self.clone(),
            descending,
            windows,
            from: range.from,
            to: range.to,
            page: 0,
            guard: range_guard(query.page_size),
            buffer: VecDeque::new(),
            recent: HashMap::new(),
            failed: invalid,
            done: false,
            query,
        };
        state.next_window();
        let stream = futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(m) = st.buffer.pop_front() {
                    return Some((Ok(m), st));
                }
                if let Some(e) = st.failed.take() {
                    st.done = true;
                    return Some((Err(e), st));
                }
                if st.done {
                    return None;
                }
                if let Err(e) = st.fetch().await {
                    // Yield what the failing page brought first.
                    st.failed = Some(e);
                }
            }
        });
        stream.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeDelta;

    fn utc(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, h, 0, 0).unwrap()
    }

    #[test]
    fn long_ranges_split_into_contiguous_windows() {
        let from = utc(1, 0);
        let to = from + TimeDelta::days(250);
        let w: Vec<_> = windows(from, Some(to), to).into_iter().collect();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], (from, Some(from + MAX_RANGE)));
        assert_eq!(w[1].0, from + MAX_RANGE);
        assert_eq!(w[2], (from + MAX_RANGE * 2, Some(to)));
        // open end: the last window stays open
        let w = windows(from, None, from + TimeDelta::days(150));
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].1, None);
        assert_eq!(windows(from, None, from).len(), 1);
    }

    #[test]
    fn bad_filters_are_refused_before_sending() {
        let q = InvoiceQuery::new(SubjectType::Subject2, DateType::Issue, utc(2, 0)).to(utc(1, 0));
        assert!(matches!(
            q.validate(),
            Err(FlowError::InvalidArgument {
                field: "dateRange",
                ..
            })
        ));
        let q = InvoiceQuery::new(SubjectType::Subject2, DateType::Issue, utc(1, 0))
            .restrict_to_hwm(true);
        assert!(q.validate().is_err());
        let q = InvoiceQuery::new(SubjectType::Subject2, DateType::PermanentStorage, utc(1, 0))
            .page_size(251);
        assert!(matches!(
            q.validate(),
            Err(FlowError::InvalidArgument {
                field: "pageSize",
                ..
            })
        ));
        let q = InvoiceQuery::new(SubjectType::Subject2, DateType::PermanentStorage, utc(1, 0));
        assert!(
            q.to_api_filters_at(utc(1, 0) + TimeDelta::days(100))
                .is_ok()
        );
        assert!(
            q.to_api_filters_at(utc(1, 1) + TimeDelta::days(100))
                .is_err()
        );
    }
}
