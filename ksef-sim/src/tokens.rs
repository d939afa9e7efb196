//! KSeF tokens (`/tokens`).

use std::collections::HashMap;
use std::sync::Mutex;

/// One KSeF token.
#[derive(Debug, Clone)]
pub(crate) struct KsefToken {
    pub reference: String,
    pub secret: String,
}

/// Store of KSeF tokens.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    pub(crate) tokens: Mutex<HashMap<String, KsefToken>>,
}
