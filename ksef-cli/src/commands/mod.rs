//! One module per command group.

pub mod auth;
pub mod limits;
pub mod profile;
pub mod qr;
pub mod send;
pub mod send_batch;
pub mod session;
pub mod token;
pub mod tools;
pub mod validate;
