//! One page of a KSeF list that pages with `x-continuation-token`.

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
) -> crate::Result<Option<i32>> {
    match size {
        None => Ok(None),
        Some(n) if (min..=max).contains(&n) => Ok(i32::try_from(n).ok()),
        Some(n) => Err(crate::FlowError::InvalidArgument {
            field,
            rule: format!("{n} is outside {min}..={max}"),
        }),
    }
}
