//! Paging: page sizes and `x-continuation-token`.
//!
//! Lists paged by continuation token read the token from the `x-continuation-token` request
//! header and answer the next one in `continuationToken`; a token this simulator did not issue
//! answers 400 with 21418. Lists paged by `pageOffset` (a page number) answer one page and
//! `hasMore` ([`OffsetPage`]).

use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::http::query_string::QueryPairs;

/// The page sizes an operation allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageSizes {
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) default: i64,
}

impl PageSizes {
    pub(crate) const fn new(min: i64, max: i64, default: i64) -> Self {
        Self { min, max, default }
    }

    /// The requested page size (the default when none); 21405 outside `[min, max]`.
    pub(crate) fn check(self, requested: Option<i64>) -> Result<usize, ApiError> {
        let (min, max) = (self.min, self.max);
        let n = requested.unwrap_or(self.default);
        if n < min || n > max {
            return Err(ApiError::validation(format!(
                "pageSize must be between {min} and {max}."
            )));
        }
        usize::try_from(n).map_err(|_| ApiError::validation("Invalid pageSize."))
    }
}

const TOKEN_PREFIX: &str = "sim-";

/// One page of a list paged by continuation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContinuationPage {
    offset: usize,
    size: usize,
}

impl ContinuationPage {
    /// Reads the page size (`requested`, checked against `sizes`) and the continuation token.
    pub(crate) fn read(
        headers: &HeaderMap,
        requested: Option<i64>,
        sizes: PageSizes,
    ) -> Result<Self, ApiError> {
        let size = sizes.check(requested)?;
        let offset = match headers
            .get("x-continuation-token")
            .and_then(|v| v.to_str().ok())
        {
            None | Some("") => 0,
            Some(t) => t
                .strip_prefix(TOKEN_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(invalid_token)?,
        };
        Ok(Self { offset, size })
    }

    /// This page of `items` and the continuation token of the next page, if any.
    pub(crate) fn of<'a, T>(&self, items: &'a [T]) -> (&'a [T], Option<String>) {
        let start = self.offset.min(items.len());
        let end = self.offset.saturating_add(self.size).min(items.len());
        let next = (end < items.len()).then(|| format!("{TOKEN_PREFIX}{end}"));
        (items.get(start..end).unwrap_or_default(), next)
    }
}

/// One page of a list paged by `pageOffset` (the page number, from 0) and `pageSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetPage {
    number: usize,
    size: usize,
}

impl OffsetPage {
    /// Reads `pageOffset` and `pageSize` (checked against `sizes`) from the query string.
    pub(crate) fn read(query: &QueryPairs, sizes: PageSizes) -> Result<Self, ApiError> {
        let number = query
            .first("pageOffset")
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| ApiError::validation("pageOffset must be a non-negative integer."))
            })
            .transpose()?
            .unwrap_or(0);
        let size = sizes.check(query.int("pageSize")?)?;
        Ok(Self { number, size })
    }

    /// This page of `items` and whether more pages follow.
    pub(crate) fn of<'a, T>(&self, items: &'a [T]) -> (&'a [T], bool) {
        let start = self.number.saturating_mul(self.size).min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        (items.get(start..end).unwrap_or_default(), end < items.len())
    }
}

/// 21418: the continuation token was not issued by this list.
fn invalid_token() -> ApiError {
    ApiError::bad_request(
        21418,
        "Przekazany token kontynuacji ma nieprawidłowy format.",
        Vec::<String>::new(),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const SIZES: PageSizes = PageSizes::new(10, 100, 10);

    #[test]
    fn pages_follow_their_continuation_tokens() {
        let items: Vec<u32> = (0..25).collect();
        let mut h = HeaderMap::new();
        let mut seen = Vec::new();
        loop {
            let page = ContinuationPage::read(&h, None, SIZES).unwrap();
            let (slice, next) = page.of(&items);
            seen.extend_from_slice(slice);
            let Some(next) = next else { break };
            h.insert(
                "x-continuation-token",
                HeaderValue::from_str(&next).unwrap(),
            );
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn offset_pages_cover_the_list_once_and_say_when_more_follow() {
        let items: Vec<u32> = (0..25).collect();
        let mut seen = Vec::new();
        for n in 0.. {
            let q = QueryPairs::parse(Some(&format!("pageOffset={n}&pageSize=10")));
            let (slice, more) = OffsetPage::read(&q, SIZES).unwrap().of(&items);
            seen.extend_from_slice(slice);
            if !more {
                break;
            }
        }
        assert_eq!(seen, items);
        let far = QueryPairs::parse(Some("pageOffset=18446744073709551615"));
        let (slice, more) = OffsetPage::read(&far, SIZES).unwrap().of(&items);
        assert!(slice.is_empty() && !more);
        for bad in ["pageOffset=-1", "pageSize=9", "pageSize=x"] {
            assert!(
                OffsetPage::read(&QueryPairs::parse(Some(bad)), SIZES).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn sizes_and_foreign_tokens_are_refused() {
        let h = HeaderMap::new();
        assert!(ContinuationPage::read(&h, Some(9), SIZES).is_err());
        assert!(ContinuationPage::read(&h, Some(101), SIZES).is_err());
        assert_eq!(SIZES.check(Some(100)).unwrap(), 100);
        let mut h = HeaderMap::new();
        h.insert("x-continuation-token", HeaderValue::from_static("garbage"));
        let e = ContinuationPage::read(&h, None, SIZES).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(format!("{e:?}").contains("21418"), "{e:?}");
    }
}
