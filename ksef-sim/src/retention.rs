//! Retention: what the simulator forgets, so that memory and disk stay bounded however long it
//! runs. A background sweeper (every `SimConfig::retention_sweep_interval`) removes
//!
//! - challenges past their validity (the store also keeps at most `SimConfig::max_challenges`),
//! - authentication operations none of whose tokens can be used any more,
//! - the uploaded parts of batch sessions never closed within their validity (the session ends
//!   as 440 "Sesja anulowana"),
//! - the files of export packages past their download validity (their status is 210 already).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::auth::store::AuthOperation;
use crate::clock::after;
use crate::invoicing::store::{Phase, SessionKind, Status};
use crate::state::AppState;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Swept {
    pub(crate) challenges: usize,
    pub(crate) auth_operations: usize,
    pub(crate) batch_sessions: usize,
    pub(crate) export_files: usize,
}

/// Whether no token of `op` can be used at `now`: the authentication token expired unredeemed,
/// or the refresh token (and the last access token issued from it) expired.
fn auth_operation_expired(state: &AppState, op: &AuthOperation, now: DateTime<Utc>) -> bool {
    let config = &state.config;
    let last_use = if op.redeemed {
        let refresh_end = op.refresh_valid_until.unwrap_or(op.start);
        after(refresh_end, config.access_token_lifetime)
    } else {
        after(op.start, config.authentication_token_lifetime)
    };
    now > last_use
}

/// Removes what is no longer needed at the simulator's current instant.
pub(crate) fn sweep(state: &AppState) -> Swept {
    let now = state.now();
    let validity = chrono::Duration::from_std(state.config.challenge_validity)
        .unwrap_or(chrono::Duration::minutes(10));
    let (challenges, auth_operations) = state
        .auth
        .evict(now, validity, |op| auth_operation_expired(state, op, now));
    let export_validity = state.invoicing.config.export_package_validity;
    let (batch_dirs, files) = state.invoicing.with(|s| {
        let mut dirs = Vec::new();
        for sess in s.sessions.values_mut() {
            if sess.kind == SessionKind::Batch
                && matches!(sess.phase, Phase::Open)
                && now > sess.valid_until
                && let Some(batch) = &sess.batch
            {
                dirs.push(batch.dir.clone());
                sess.phase = Phase::Failed(
                    Status::new(440, "Sesja anulowana").with_detail("Przekroczono czas wysyłki"),
                );
            }
        }
        let mut files = Vec::new();
        for export in s.exports.values_mut() {
            let expired = export
                .result
                .as_ref()
                .is_some_and(|(_, _, completed)| now >= after(*completed, export_validity));
            if !expired {
                continue;
            }
            if let Some((_, Some(package), _)) = &mut export.result
                && !package.parts.is_empty()
            {
                files.extend(package.parts.iter().map(|p| p.path.clone()));
                package.parts.clear();
            }
        }
        (dirs, files)
    });
    for dir in &batch_dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    let mut export_files = 0;
    for file in &files {
        if std::fs::remove_file(file).is_ok() {
            export_files += 1;
        }
        if let Some(parent) = file.parent() {
            // Removes the package's directory once it is empty.
            let _ = std::fs::remove_dir(parent);
        }
    }
    Swept {
        challenges,
        auth_operations,
        batch_sessions: batch_dirs.len(),
        export_files,
    }
}

/// Sweeps every `interval` (real time) until the returned task is aborted.
pub(crate) fn spawn_sweeper(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    let interval = interval.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let st = state.clone();
            let swept = tokio::task::spawn_blocking(move || sweep(&st)).await;
            if let Ok(s) = swept
                && s != Swept::default()
            {
                tracing::debug!(?s, "ksef-sim retention sweep");
            }
        }
    })
}
