//! One module per command group.

pub mod auth;
pub mod cert;
pub mod export;
pub mod invoice;
pub mod limits;
pub mod permissions;
pub mod profile;
pub mod qr;
pub mod send;
pub mod send_batch;
pub mod session;
pub mod sync;
pub mod token;
pub mod tools;
pub mod validate;
