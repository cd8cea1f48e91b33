//! The connection pool: `r2d2_postgres` connections, each with a cache of prepared statements
//! so that a query costs one round trip instead of two (parse, then execute).

use std::collections::HashMap;

use postgres::{Client, GenericClient, NoTls, Statement};
use r2d2::ManageConnection;
use r2d2_postgres::PostgresConnectionManager;

/// A pooled connection and the statements prepared on it.
pub(crate) struct Conn {
    pub client: Client,
    statements: StatementCache,
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
#[derive(Debug)]
pub(crate) struct Manager {
    inner: PostgresConnectionManager<NoTls>,
}

impl Manager {
    pub fn new(config: postgres::Config) -> Self {
        Self { inner: PostgresConnectionManager::new(config, NoTls) }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        Ok(Conn { client: self.inner.connect()?, statements: StatementCache::default() })
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
