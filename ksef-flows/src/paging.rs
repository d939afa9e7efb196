//! Paged listings (`x-continuation-token`) that end even when the server never stops paging.

use std::collections::HashSet;

use crate::error::{FlowError, Result};

/// Most invoices one session can hold (online or batch).
pub(crate) const MAX_SESSION_INVOICES: usize = 10_000;

/// Follows the continuation tokens of one listing and gives up, with
/// [`FlowError::EndlessPaging`], when the server hands out the same token twice, more pages than
/// a listing of at most `max_items` entries can have at the requested page size, or more
/// entries than that.
#[derive(Debug)]
pub(crate) struct Pages {
    operation: &'static str,
    max_items: usize,
    page_size: usize,
    pages: u32,
    items: usize,
    seen: HashSet<String>,
}

impl Pages {
    /// A listing of `operation` with at most `max_items` entries, read `page_size` at a time.
    pub(crate) fn new(operation: &'static str, max_items: usize, page_size: usize) -> Self {
        Self {
            operation,
            max_items,
            page_size: page_size.max(1),
            pages: 0,
            items: 0,
            seen: HashSet::new(),
        }
    }

    fn max_pages(&self) -> u32 {
        u32::try_from(self.max_items.div_ceil(self.page_size) + 2).unwrap_or(u32::MAX)
    }

    /// Records a page of `items` entries that came with `token`: the token of the next page,
    /// `None` at the end of the listing.
    pub(crate) fn next(&mut self, items: usize, token: Option<String>) -> Result<Option<String>> {
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
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if self.pages >= self.max_pages() {
            return Err(fail("more pages than the listing can have"));
        }
        if !self.seen.insert(token.clone()) {
            return Err(fail("the same continuation token came back"));
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_at_the_first_page_without_a_token() {
        let mut p = Pages::new("session_invoices", 100, 10);
        assert_eq!(p.next(10, Some("a".into())).unwrap(), Some("a".into()));
        assert_eq!(p.next(10, Some(String::new())).unwrap(), None);
        let mut p = Pages::new("session_invoices", 100, 10);
        assert_eq!(p.next(3, None).unwrap(), None);
    }

    #[test]
    fn a_repeated_token_ends_the_listing() {
        let mut p = Pages::new("session_invoices", 100, 10);
        p.next(1, Some("a".into())).unwrap();
        p.next(1, Some("b".into())).unwrap();
        let e = p.next(1, Some("a".into())).unwrap_err();
        assert!(
            matches!(e, FlowError::EndlessPaging { pages: 3, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn fresh_tokens_for_ever_end_at_the_page_bound() {
        let mut p = Pages::new("session_invoices", 100, 10);
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
        let mut p = Pages::new("session_invoices", 100, 10);
        p.next(100, Some("a".into())).unwrap();
        assert!(p.next(11, Some("b".into())).is_err());
    }
}
