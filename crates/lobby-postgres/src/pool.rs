//! The connection pool: `r2d2_postgres` connections, each with a cache of prepared statements
//! so that a query costs one round trip instead of two (parse, then execute).

use std::collections::HashMap;

use postgres::{Client, GenericClient, Statement};
use postgres_native_tls::MakeTlsConnector;
use r2d2::ManageConnection;
use r2d2_postgres::PostgresConnectionManager;

/// A pooled connection and the statements prepared on it.
pub(crate) struct Conn {
    pub client: Client,
    statements: StatementCache,
    /// The server process behind this connection, to make sure it is gone when a `COMMIT`'s
    /// answer was lost.
    pub session: Session,
}

/// A server process: its pid and start time (together unique, pids are reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub pid: i32,
    pub started: String,
}

impl Session {
    /// The session `client` talks to.
    pub fn of(client: &mut Client) -> Result<Self, postgres::Error> {
        let row = client.query_one(
            "SELECT pg_backend_pid(), (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid())",
            &[],
        )?;
        Ok(Self { pid: row.get(0), started: row.get::<_, Option<String>>(1).unwrap_or_default() })
    }
}

impl Conn {
    /// Splits the connection so a transaction can borrow the client while the cache is used.
    pub fn parts(&mut self) -> (&mut Client, &mut StatementCache) {
        (&mut self.client, &mut self.statements)
    }
}

/// Prepared statements by SQL text. The texts are few (fixed statements plus one per listing
/// shape), so the cache is unbounded.
#[derive(Default)]
pub(crate) struct StatementCache {
    statements: HashMap<String, Statement>,
}

impl StatementCache {
    /// The statement for `sql`, preparing it on `client` the first time.
    pub fn get(&mut self, client: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Opens connections through `r2d2_postgres` and wraps each with a statement cache.
pub(crate) struct Manager {
    inner: PostgresConnectionManager<MakeTlsConnector>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    pub fn new(config: postgres::Config, tls: MakeTlsConnector) -> Self {
        Self { inner: PostgresConnectionManager::new(config, tls) }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let mut client = self.inner.connect()?;
        let session = Session::of(&mut client)?;
        Ok(Conn { client, statements: StatementCache::default(), session })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        self.inner.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.inner.has_broken(&mut conn.client)
    }
}

pub(crate) type Pool = r2d2::Pool<Manager>;
pub(crate) type PooledConn = r2d2::PooledConnection<Manager>;
