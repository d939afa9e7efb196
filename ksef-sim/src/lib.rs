//! A local KSeF 2.0 simulator (skeleton; see issue 4).
