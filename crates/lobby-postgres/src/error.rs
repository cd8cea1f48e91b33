//! This crate's errors, and how they meet the store contract's.

use lobby_core::StoreError;

/// Everything that can go wrong outside the [`Store`](lobby_core::Store) contract (which reports
/// [`StoreError`]s: a database failure there is [`StoreError::Backend`]).
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The URL does not parse as a PostgreSQL connection string.
    #[error("invalid PostgreSQL connection URL: {0}")]
    InvalidUrl(#[source] postgres::Error),
    /// The schema name is not a plain lower-case identifier.
    #[error(
        "invalid schema name {0:?}: use lower-case letters, digits and _ (at most 48, not starting with a digit or pg_)"
    )]
    InvalidSchema(String),
    /// A `PostgresConfig` value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// No connection could be had from the pool (the server is unreachable, refuses us, or
    /// every connection stayed busy for `acquire_timeout`).
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] postgres::Error),
    /// The schema was migrated by a newer build of this crate.
    #[error(
        "schema {schema:?} is at migration {found}, newer than this build knows ({known}); upgrade lobby-postgres"
    )]
    SchemaTooNew { schema: String, found: i32, known: i32 },
    /// The connection closed under us (the feed listener reconnects on this).
    #[error("the database connection closed")]
    ConnectionClosed,
    /// A read through the [`Store`](lobby_core::Store) trait failed (during an integrity check).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PostgresError> for StoreError {
    fn from(e: PostgresError) -> Self {
        match e {
            PostgresError::Store(e) => e,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// A database failure as the contract reports it.
pub(crate) fn backend(e: &postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgres: {e}"))
}
