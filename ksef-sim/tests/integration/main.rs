//! The simulator's integration tests over real HTTP, one test binary: each module is one area
//! (auth, invoicing, permissions, platform). One binary instead of one per file keeps the test
//! build short and the target directory small (every binary links the whole simulator and an
//! HTTP client). A new area is a new module here, `tests/integration/AREA.rs`, that reaches the
//! shared harness with `use crate::harness;`. Tests that need a process of their own (they
//! re-run their binary or read its peak memory) stay separate files in `tests/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../harness/mod.rs"]
mod harness;

mod auth_flow;
mod auth_ksef_token;
mod auth_xades;
mod certificates_state;
mod collective_identifiers_state;
mod dates_at_hard_instants;
mod invoicing_batch;
mod invoicing_online;
mod invoicing_real_auth;
mod invoicing_retrieval;
mod invoicing_schemas;
mod invoicing_seed_and_download_faults;
mod invoicing_spec_shapes;
mod limits_state;
mod operation_coverage;
mod peppol_state;
mod permissions_roles;
mod permissions_state;
mod platform_all_operations;
mod platform_binary;
mod platform_cross;
mod platform_hostile_input;
mod platform_keys;
mod platform_problem_instance;
