//! The bearer tokens a client holds.

use std::sync::{Arc, RwLock};

use crate::operations::TokenKind;

/// A bearer token (JWT). Redacted in `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(zeroize::Zeroizing<String>);

impl BearerToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(zeroize::Zeroizing::new(token.into()))
    }

    /// The token text, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

#[derive(Default)]
struct Tokens {
    authentication_operation: Option<BearerToken>,
    refresh: Option<BearerToken>,
    access: Option<BearerToken>,
}

/// The tokens of a [`Client`](crate::Client), shared by its clones. The client hook puts the one an
/// operation needs (see [`crate::operations`]) into the `Authorization` header.
#[derive(Clone, Default)]
pub struct ClientState {
    tokens: Arc<RwLock<Tokens>>,
}

impl std::fmt::Debug for ClientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, r, o) = self
            .tokens
            .read()
            .map(|t| {
                (
                    t.access.is_some(),
                    t.refresh.is_some(),
                    t.authentication_operation.is_some(),
                )
            })
            .unwrap_or_default();
        f.debug_struct("ClientState")
            .field("access_token", &if a { "[redacted]" } else { "none" })
            .field("refresh_token", &if r { "[redacted]" } else { "none" })
            .field(
                "authentication_token",
                &if o { "[redacted]" } else { "none" },
            )
            .finish()
    }
}

impl ClientState {
    /// A state with no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or with `None` clears) the token of a kind. `TokenKind::None` is ignored.
    pub fn set(&self, kind: TokenKind, token: Option<BearerToken>) {
        let mut guard = match self.tokens.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match kind {
            TokenKind::None => {}
            TokenKind::AuthenticationOperation => guard.authentication_operation = token,
            TokenKind::Refresh => guard.refresh = token,
            TokenKind::Access => guard.access = token,
        }
    }

    /// The token of a kind, if the client has one.
    pub fn get(&self, kind: TokenKind) -> Option<BearerToken> {
        let guard = match self.tokens.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match kind {
            TokenKind::None => None,
            TokenKind::AuthenticationOperation => guard.authentication_operation.clone(),
            TokenKind::Refresh => guard.refresh.clone(),
            TokenKind::Access => guard.access.clone(),
        }
    }

    /// Forgets every token.
    pub fn clear(&self) {
        for kind in [
            TokenKind::AuthenticationOperation,
            TokenKind::Refresh,
            TokenKind::Access,
        ] {
            self.set(kind, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_token() {
        let s = ClientState::new();
        s.set(TokenKind::Access, Some(BearerToken::new("eyJsecret")));
        let text = format!("{s:?} {:?}", s.get(TokenKind::Access));
        assert!(!text.contains("eyJsecret"), "{text}");
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn clones_share_tokens() {
        let a = ClientState::new();
        let b = a.clone();
        a.set(TokenKind::Refresh, Some(BearerToken::new("r")));
        assert_eq!(
            b.get(TokenKind::Refresh).map(|t| t.expose().to_string()),
            Some("r".into())
        );
        b.clear();
        assert!(a.get(TokenKind::Refresh).is_none());
        assert!(a.get(TokenKind::None).is_none());
    }
}
