//! Query strings read by hand, where a key may repeat (`statuses=A&statuses=B`).

use crate::error::ApiError;

/// Decodes `%XX` and `+` in a query component; a `%` not followed by two hex digits stays as it
/// is.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let hex = |k: usize| bytes.get(k).and_then(|b| char::from(*b).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                // two hex digits: at most 0xFF
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Parses a raw query (`None` is an empty one).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` as an integer; 21405 when it is not one.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.first(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::validation(format!("{key} must be an integer.")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_repeat_and_decode() {
        let p = QueryPairs::parse(Some(
            "sessionType=Online&statuses=Failed&statuses=Succeeded&d=2025-01-01T00%3A00%3A00%2B01%3A00&x=%zz&y=a+b&z=%4",
        ));
        assert_eq!(p.first("sessionType"), Some("Online"));
        assert_eq!(
            p.all("statuses").collect::<Vec<_>>(),
            ["Failed", "Succeeded"]
        );
        assert_eq!(p.first("d"), Some("2025-01-01T00:00:00+01:00"));
        assert_eq!(p.first("x"), Some("%zz"));
        assert_eq!(p.first("y"), Some("a b"));
        assert_eq!(p.first("z"), Some("%4"));
        assert_eq!(percent_decode("%C5%BC%+1"), "ż% 1");
        assert!(p.int("sessionType").is_err());
        assert_eq!(p.int("missing").unwrap(), None);
    }
}
