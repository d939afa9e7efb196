//! Paged listings: one page of a listing ([`Page`]), the check of a requested page size, and the
//! one loop ([`listing`]) that follows a listing to its end, page after page, whether it pages
//! with `x-continuation-token` or with `pageOffset`/`hasMore`. The loop gives up with
//! [`FlowError::EndlessPaging`] when the server never stops paging ([`PageGuard`]).

use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, Hash, RandomState};

use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::error::{FlowError, Result};

/// Most invoices one session can hold (online or batch).
pub(crate) const MAX_SESSION_INVOICES: usize = 10_000;

/// The bound of a listing whose length KSeF does not limit (sessions, tokens, authentication
/// sessions): a listing still going after this many entries is given up as endless.
pub(crate) const MAX_OPEN_LISTING: usize = 1_000_000;

/// A page of results and the token that fetches the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Send it back verbatim to get the next page; `None` when this is the last page.
    pub continuation_token: Option<String>,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, continuation_token: Option<String>) -> Self {
        Self {
            items,
            continuation_token: continuation_token.filter(|t| !t.is_empty()),
        }
    }

    /// Whether another page follows.
    pub fn has_more(&self) -> bool {
        self.continuation_token.is_some()
    }
}

/// Checks a page size against the operation's range before anything is sent.
pub(crate) fn check_page_size(
    field: &'static str,
    size: Option<u32>,
    min: u32,
    max: u32,
) -> Result<Option<i32>> {
    match size {
        None => Ok(None),
        Some(n) if (min..=max).contains(&n) => Ok(i32::try_from(n).ok()),
        Some(n) => Err(FlowError::InvalidArgument {
            field,
            rule: format!("{n} is outside {min}..={max}"),
        }),
    }
}

/// A request builder of a listing that pages with `x-continuation-token`.
pub(crate) trait ContinuationRequest: Sized {
    /// Sets `pageSize` and `x-continuation-token`, each when given.
    fn page(self, page_size: Option<i32>, continuation_token: Option<&str>) -> Self;
}

macro_rules! continuation_requests {
    ($($builder:ident),* $(,)?) => {$(
        impl ContinuationRequest for ksef_api::builder::$builder<'_> {
            fn page(self, page_size: Option<i32>, continuation_token: Option<&str>) -> Self {
                let b = match page_size {
                    Some(n) => self.page_size(n),
                    None => self,
                };
                match continuation_token {
                    Some(t) => b.x_continuation_token(t.to_string()),
                    None => b,
                }
            }
        }
    )*};
}

continuation_requests!(
    AuthSessionsList,
    KsefTokensList,
    SessionsList,
    SessionInvoices,
    SessionFailedInvoices,
);

/// Watches one listing page by page and ends it, with [`FlowError::EndlessPaging`], when the
/// server names the same next page twice (a continuation token handed out again), or hands out
/// more pages than a listing of at most `max_items` entries can have at the requested page
/// size, or more entries than that.
#[derive(Debug)]
pub(crate) struct PageGuard {
    operation: &'static str,
    max_items: usize,
    page_size: usize,
    pages: u32,
    items: usize,
    /// Hashes of the cursors handed out so far (a token can be long; its hash is enough).
    seen: HashSet<u64>,
    hasher: RandomState,
}

impl PageGuard {
    /// A listing of `operation` with at most `max_items` entries, read `page_size` at a time
    /// (`None`, the server's default: counted as 10, the smallest page size KSeF allows).
    pub(crate) fn new(operation: &'static str, max_items: usize, page_size: Option<u32>) -> Self {
        Self {
            operation,
            max_items,
            page_size: page_size.map_or(10, |n| usize::try_from(n).unwrap_or(usize::MAX).max(1)),
            pages: 0,
            items: 0,
            seen: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    fn max_pages(&self) -> u32 {
        u32::try_from(self.max_items.div_ceil(self.page_size) + 2).unwrap_or(u32::MAX)
    }

    /// Records a page of `items` entries that named `next` as the following page: that cursor,
    /// or `None` at the end of the listing.
    pub(crate) fn next<C: Hash>(&mut self, items: usize, next: Option<C>) -> Result<Option<C>> {
        self.pages = self.pages.saturating_add(1);
        self.items = self.items.saturating_add(items);
        let fail = |reason| FlowError::EndlessPaging {
            operation: self.operation,
            pages: self.pages,
            reason,
        };
        if self.items > self.max_items.saturating_add(self.page_size) {
            return Err(fail("more entries than the listing can have"));
        }
        let Some(next) = next else {
            return Ok(None);
        };
        if self.pages >= self.max_pages() {
            return Err(fail("more pages than the listing can have"));
        }
        if !self.seen.insert(self.hasher.hash_one(&next)) {
            return Err(fail("the same continuation token came back"));
        }
        Ok(Some(next))
    }
}

/// The entries of a whole listing as a stream: `fetch(None)` reads the first page, `fetch(Some(c))`
/// the page at cursor `c` (a continuation token, a page offset); each answer is the page's
/// entries and the cursor of the next page, `None` on the last one. `guard` ends a listing that
/// never ends. Every entry received comes out before the error that ends the stream.
pub(crate) fn listing<'a, T, C, F, Fut>(guard: PageGuard, fetch: F) -> BoxStream<'a, Result<T>>
where
    T: Send + 'a,
    C: Hash + Send + 'a,
    F: FnMut(Option<C>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<(Vec<T>, Option<C>)>> + Send + 'a,
{
    /// What the stream reads next.
    enum Step<C> {
        Page(Option<C>),
        Fail(FlowError),
        End,
    }
    futures::stream::unfold(
        (guard, fetch, Step::Page(None::<C>)),
        |(mut guard, mut fetch, step)| async move {
            let (items, next) = match step {
                Step::End => return None,
                Step::Fail(e) => return Some((vec![Err(e)], (guard, fetch, Step::End))),
                Step::Page(cursor) => match fetch(cursor).await {
                    Ok(page) => page,
                    Err(e) => return Some((vec![Err(e)], (guard, fetch, Step::End))),
                },
            };
            let step = match guard.next(items.len(), next) {
                Ok(Some(c)) => Step::Page(Some(c)),
                Ok(None) => Step::End,
                Err(e) => Step::Fail(e),
            };
            let items: Vec<Result<T>> = items.into_iter().map(Ok).collect();
            Some((items, (guard, fetch, step)))
        },
    )
    .flat_map(futures::stream::iter)
    .boxed()
}

/// [`listing`] of a listing that pages with `x-continuation-token`, read through a function that
/// fetches one [`Page`].
pub(crate) fn continuation_listing<'a, T, F, Fut>(
    guard: PageGuard,
    mut fetch_page: F,
) -> BoxStream<'a, Result<T>>
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    listing(guard, move |token: Option<String>| {
        let page = fetch_page(token);
        async move { page.await.map(|p| (p.items, p.continuation_token)) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt as _;

    #[test]
    fn a_listing_ends_at_the_first_page_without_a_token() {
        let mut p = PageGuard::new("session_invoices", 100, Some(10));
        assert_eq!(p.next(10, Some("a")).unwrap(), Some("a"));
        assert_eq!(p.next(10, None::<&str>).unwrap(), None);
        let mut p = PageGuard::new("session_invoices", 100, Some(10));
        assert_eq!(p.next(3, None::<&str>).unwrap(), None);
    }

    #[test]
    fn a_repeated_token_ends_the_listing() {
        let mut p = PageGuard::new("session_invoices", 100, Some(10));
        p.next(1, Some("a")).unwrap();
        p.next(1, Some("b")).unwrap();
        let e = p.next(1, Some("a")).unwrap_err();
        assert!(
            matches!(e, FlowError::EndlessPaging { pages: 3, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn fresh_tokens_for_ever_end_at_the_page_bound() {
        let mut p = PageGuard::new("session_invoices", 100, Some(10));
        let mut pages = 0;
        let e = loop {
            pages += 1;
            match p.next(0, Some(format!("t{pages}"))) {
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(pages, 12);
        assert!(e.to_string().contains("more pages"), "{e}");
        // too many entries end it sooner
        let mut p = PageGuard::new("session_invoices", 100, Some(10));
        p.next(100, Some("a")).unwrap();
        assert!(p.next(11, Some("b")).is_err());
    }

    #[test]
    fn an_empty_token_is_the_last_page() {
        assert!(!Page::new(vec![1], Some(String::new())).has_more());
        assert!(Page::new(vec![1], Some("t".into())).has_more());
    }

    #[tokio::test]
    async fn a_listing_streams_every_page_in_order() {
        let guard = PageGuard::new("test", 25, Some(10));
        let all: Vec<u32> = listing(guard, |offset: Option<u32>| async move {
            let page = offset.unwrap_or(0);
            let items: Vec<u32> = (page * 10..((page + 1) * 10).min(25)).collect();
            Ok((items, ((page + 1) * 10 < 25).then_some(page + 1)))
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all, (0..25).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_listing_yields_the_entries_before_the_error_and_stops() {
        let guard = PageGuard::new("test", 100, Some(10));
        let mut calls = 0;
        let out: Vec<Result<u32>> = continuation_listing(guard, |token: Option<String>| {
            calls += 1;
            async move {
                match token.as_deref() {
                    None => Ok(Page::new(vec![1, 2], Some("again".into()))),
                    // the server names the same token once more
                    Some(_) => Ok(Page::new(vec![3], Some("again".into()))),
                }
            }
        })
        .collect()
        .await;
        assert_eq!(calls, 2);
        assert_eq!(out.len(), 4);
        assert!(out[..3].iter().all(Result::is_ok));
        assert!(
            matches!(out[3], Err(FlowError::EndlessPaging { pages: 2, .. })),
            "{:?}",
            out[3]
        );
    }
}
