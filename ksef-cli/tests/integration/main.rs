//! The CLI's integration tests, one test binary: each module is one area of `ksef` run as a
//! process against the embedded simulator (`common` starts both). One binary instead of one per
//! file keeps the test build short and the target directory small (every binary links the
//! simulator and the HTTP stack). A new area is a new module here, `tests/integration/AREA.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod cli_auth;
mod cli_batch;
mod cli_batch_tty;
mod cli_cert;
mod cli_interrupt;
mod cli_permissions;
mod cli_profiles;
mod cli_receive;
mod cli_secrets;
mod cli_send;
mod cli_tools;
mod demo_at_hard_instants;
mod e2e_session;
