//! KSeF 2.0 workflows over `ksef-api` and `ksef-crypto` (skeleton; see issue 5).
