//! QR
