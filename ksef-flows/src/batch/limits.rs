//! The limits of one batch session.

/// Largest part of the archive before encryption (100 MB).
pub const MAX_PART_SIZE: u64 = 100_000_000;
/// Most parts of one archive.
pub const MAX_PARTS: u32 = 50;
/// Largest archive before encryption (5 GB).
pub const MAX_ARCHIVE_SIZE: u64 = 5_000_000_000;
/// Most invoices in one session.
pub const MAX_INVOICES: u64 = 10_000;

/// A limit of batch sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchLimit {
    /// At most 10 000 invoices per session.
    Invoices,
    /// At most 5 000 000 000 bytes of archive (before encryption).
    ArchiveSize,
    /// At most 50 parts.
    Parts,
    /// At most 100 000 000 bytes per part (before encryption).
    PartSize,
}

impl std::fmt::Display for BatchLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Invoices => "invoices per batch session",
            Self::ArchiveSize => "archive size in bytes (before encryption)",
            Self::Parts => "parts per archive",
            Self::PartSize => "part size in bytes (before encryption)",
        })
    }
}

/// Carried through `io::Error` out of the archive pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{limit}: at most {max}, the batch needs at least {at_least}")]
pub(crate) struct LimitExceeded {
    pub(crate) limit: BatchLimit,
    pub(crate) max: u64,
    pub(crate) at_least: u64,
}
