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
    /// `sslmode`/`sslrootcert` are not usable (unknown mode, missing or unreadable root
    /// certificate, TLS set-up failure).
    #[error("invalid TLS settings: {0}")]
    InvalidTls(String),
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
            PostgresError::Database(e) => backend(&e),
            PostgresError::Pool(_) | PostgresError::ConnectionClosed => StoreError::Unavailable(e.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// A database failure as the contract reports it: [`StoreError::Unavailable`] when the
/// connection is the problem (the same call can work once the database is back), else
/// [`StoreError::Backend`].
pub(crate) fn backend(e: &postgres::Error) -> StoreError {
    if is_connection_error(e) {
        StoreError::Unavailable(format!("postgres: {e}"))
    } else {
        StoreError::Backend(format!("postgres: {e}"))
    }
}

/// Whether `e` says the connection failed rather than the statement: closed or reset, refused,
/// timed out, or ended by the server (shut down, restarting, backend terminated, out of
/// connections, out of disk).
pub(crate) fn is_connection_error(e: &postgres::Error) -> bool {
    if e.is_closed() || std::error::Error::source(e).is_some_and(|source| source.is::<std::io::Error>()) {
        return true;
    }
    match e.code() {
        Some(code) => {
            let code = code.code();
            // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
            // 53: insufficient resources (disk full, out of memory, too many connections).
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") || code.starts_with("53")
        }
        // The client's own timeout waiting for the server.
        None => e.to_string().starts_with("timeout"),
    }
}
