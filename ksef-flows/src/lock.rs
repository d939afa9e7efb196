//! Locking a `std::sync::Mutex` without failing on poison.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`. A poisoned mutex means a panic elsewhere; what this crate guards with one (caches,
/// counters, limiter windows) stays usable, so the guard is taken as is instead of spreading the
/// panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
