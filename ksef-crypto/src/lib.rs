//! KSeF 2.0 cryptography and identifier rules (skeleton; see issue 3).
