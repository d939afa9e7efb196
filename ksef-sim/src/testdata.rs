//! Test data (`/testdata/*`).

use std::collections::HashSet;
use std::sync::Mutex;

/// Test data of one simulator.
#[derive(Debug, Default)]
pub(crate) struct TestData {
    pub(crate) blocked_contexts: Mutex<HashSet<String>>,
}
