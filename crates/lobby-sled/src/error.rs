//! This crate's errors, and how they meet the store contract's.

use std::path::PathBuf;

use lobby_core::StoreError;

use crate::FORMAT_VERSION;

/// Everything that can go wrong in this crate. At the [`Store`](lobby_core::Store) boundary these become
/// [`StoreError::Corrupt`] (bad data), [`StoreError::Unavailable`] (disk full, or commits refused
/// after an earlier failure until the store is reopened) or [`StoreError::Backend`] (everything
/// else).
#[derive(Debug, thiserror::Error)]
pub enum SledError {
    /// sled takes an exclusive file lock: only one process (one open store) per database.
    #[error("the database at {} is in use by another process (sled allows one process per database): {detail}", path.display())]
    Locked { path: PathBuf, detail: String },
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sled failed: {0}")]
    Sled(#[source] sled::Error),
    /// A stored value that cannot be decoded, or that contradicts its key.
    #[error("corrupt data at {location}: {reason}")]
    Corrupt { location: String, reason: String },
    /// Stored values decode, but disagree with each other or with the in-memory index.
    #[error("inconsistent store: {0}")]
    Inconsistent(String),
    /// The on-disk layout is from an unknown (newer) version of this crate.
    #[error("unsupported database format {found} (this build reads format {FORMAT_VERSION})")]
    UnsupportedFormat { found: u64 },
    /// A commit was applied but its flush failed, so whether it is durable is unknown; the
    /// store refuses further commits until it is reopened.
    #[error("the store stopped accepting commits after an earlier failure; reopen it: {0}")]
    Failed(String),
    /// A read through the [`Store`](lobby_core::Store) trait failed (during an integrity check).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for SledError {
    fn from(error: sled::Error) -> Self {
        match error {
            sled::Error::Corruption { at, .. } => SledError::Corrupt {
                location: at.map_or_else(|| "sled log".to_owned(), |at| format!("sled log at {at:?}")),
                reason: "sled detected corruption".to_owned(),
            },
            other => SledError::Sled(other),
        }
    }
}

impl From<SledError> for StoreError {
    fn from(error: SledError) -> Self {
        match error {
            SledError::Store(error) => error,
            SledError::Corrupt { .. } | SledError::Inconsistent(_) | SledError::UnsupportedFormat { .. } => {
                StoreError::Corrupt(error.to_string())
            }
            // Nothing more is written until the store is reopened: the service is unavailable
            // (503), not broken.
            SledError::Failed(_) => StoreError::Unavailable(error.to_string()),
            SledError::Sled(ref sled) if is_disk_full(sled) => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Backend(error.to_string()),
        }
    }
}

/// Whether sled failed for want of space (disk full, quota, file too large).
pub(crate) fn is_disk_full(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::StorageFull || matches!(io.raw_os_error(), Some(27 | 28 | 122))
        }
        _ => false,
    }
}
