//! The end-to-end tests: ksef-flows (and the `ksef` binary) against the simulator over real
//! HTTP, one test binary with one module per area. One binary instead of one per file keeps the
//! test build short and the target directory small (every binary links the client, the
//! simulator and the HTTP stack). A new area is a new module here, `e2e/AREA.rs`, that reaches
//! the shared helpers with `use crate::e2e_common;`. Tests that need a process of their own
//! (a global log subscriber, re-running their binary, reading its peak memory) stay separate
//! `[[test]]` targets in Cargo.toml.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../e2e_common/mod.rs"]
mod e2e_common;

mod e2e_batch;
mod e2e_certificates;
mod e2e_cli_flows;
mod e2e_date_windows;
mod e2e_export;
mod e2e_fault_matrix;
mod e2e_flows;
mod e2e_hostile_server;
mod e2e_resilience;
mod e2e_sample_invoice;
mod operation_tables;
