//! The crate's error type.

use std::path::PathBuf;

/// An error of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store's directory or database could not be opened.
    #[error("opening the store at {path}: {source}")]
    Open {
        /// The store's root directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer version of this crate.
    #[error(
        "the database has schema version {found}; this version of ksef-store knows up to {known}"
    )]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version known here.
        known: i64,
    },
    /// A schema migration failed (the database stays at its previous version).
    #[error("migrating the database to schema version {version}: {source}")]
    Migrate {
        /// The version being applied.
        version: i64,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A database operation failed.
    #[error("{step}: {source}")]
    Sqlite {
        /// What was being done.
        step: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("{step} ({path}): {source}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored record cannot be read back.
    #[error("stored record of {ksef_number} is unreadable: {reason}")]
    Corrupt {
        /// The invoice.
        ksef_number: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument breaks a rule.
    #[error("invalid {field}: {rule}")]
    InvalidArgument {
        /// The argument.
        field: &'static str,
        /// The rule.
        rule: String,
    },
    /// The store's worker thread is gone (the store was closed, or it panicked).
    #[error("the store's database thread has stopped")]
    Stopped,
}

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ksef_flows::sync::StoreError {
    fn from(e: Error) -> Self {
        ksef_flows::sync::StoreError::with_source("SQLite store", e)
    }
}

pub(crate) fn sql(step: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Sqlite { step, source }
}

pub(crate) fn io(
    step: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { step, path, source }
}
