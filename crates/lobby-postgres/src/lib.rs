//! # lobby-postgres
//!
//! A Lobby [`Store`] on PostgreSQL, for deployments where several servers share one queue.
//! Every server connects to the same database and schema; the database arbitrates every race,
//! so an inquiry is taken at most once and no agent goes over its limit no matter which server
//! handles the request, and each server's [`Store::subscribe`] feed carries every server's
//! events, in one order, without gaps or repeats.
//!
//! * **Schema.** [`PostgresStore::connect`] creates the configured schema (default `lobby`)
//!   and applies the embedded migrations, recorded in `schema_migrations`, in one transaction
//!   under an advisory lock, so servers starting together do not race.
//! * **Commits** are one transaction each: written rows are locked (`SELECT … FOR UPDATE`, in
//!   a fixed order) and their versions checked, unique keys are claimed against a primary key,
//!   events are numbered from a counter row taken last and held until `COMMIT`, and a
//!   `NOTIFY` tells every server's feed to look. Lost races come back as
//!   [`StoreError::Conflict`], and the engine retries.
//! * **Lost answers.** Each commit records a random id in its transaction; when the connection
//!   fails at `COMMIT`, the store ends the old session and looks the id up, so the commit is
//!   reported done or not done, not guessed. Connection failures are
//!   [`StoreError::Unavailable`].
//! * **TLS** by the URL's `sslmode` (`require`, `verify-ca`, `verify-full` with `sslrootcert`):
//!   see [`TlsMode`].
//! * **Listings** are SQL in exactly [`InquiryQuery::reference_page`]'s order (byte-wise text,
//!   no department first), served by per-order indexes; totals without a reservation filter
//!   come from counters kept by every commit, so they cost no `COUNT`.
//! * **Retention** ([`Store::retire`]) is one transaction that locks what it moves as a commit
//!   does and moves rows into `archived_inquiries` and `archived_events` (or deletes them); event
//!   numbers stay where they were, the feed reads both logs (see `feed.rs`).
//!
//! `docs/postgres.md` in the repository has the details and the reasoning.
//!
//! ```no_run
//! use lobby_core::{Actor, Engine, Store};
//! use lobby_postgres::{PostgresConfig, PostgresStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::connect(
//!     "postgres://lobby@127.0.0.1:5432/lobby",
//!     PostgresConfig { pool_size: 32, ..PostgresConfig::default() },
//! )?;
//! let feed = store.subscribe()?; // sees commits from every server on this schema
//! let engine = Engine::new(store);
//! engine.dispatch(&Actor::System)?;
//! for event in feed.drain() {
//!     println!("{} {:?}", event.seq.0, event.event.kind);
//! }
//! # Ok(())
//! # }
//! ```

mod archive;
mod codec;
mod commit;
mod error;
mod feed;
mod integrity;
mod pool;
mod schema;
mod snapshot;
mod sql;
mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lobby_core::{
    check_store_contents, ArchiveKey, Commit, CommitReceipt, DepartmentId, DueRecord, Event, EventQuery, Inquiry,
    InquiryFilter, InquiryId, InquiryQuery, InquirySort, IntegrityReport, Page, Record, RecordKey, RecordKind,
    Retirement, RetirementReceipt, Store, StoreError, Subscription, Timestamp, UniqueKey, UserId, Versioned,
};

pub use crate::error::PostgresError;
pub use crate::snapshot::PostgresSnapshot;
pub use crate::tls::TlsMode;

/// The schema migration this build brings a database to (`schema_migrations.version`).
pub const SCHEMA_VERSION: i32 = 6;

use crate::error::{backend, is_connection_error};

use crate::commit::Failure;
use crate::feed::{Feed, ListenerConfig};
use crate::pool::{Manager, Pool, PooledConn, Session};
use crate::sql::Statements;

/// How to connect and where the tables live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// The schema that holds every table: lower-case letters, digits and `_`, at most 48
    /// bytes, not starting with a digit or `pg_`. Default `lobby`.
    pub schema: String,
    /// Most connections the pool opens (the feed's listener has one more of its own).
    /// Default 16.
    pub pool_size: u32,
    /// How long to wait for a new connection to be established, unless the URL sets
    /// `connect_timeout`. Default 10 s.
    pub connect_timeout: Duration,
    /// How long an operation waits for a free pooled connection before failing with
    /// [`StoreError::Backend`]. Default 10 s.
    pub acquire_timeout: Duration,
    /// How often the feed re-reads the event table even without a notification: a safety net
    /// for lost notifications. Default 1 s.
    pub feed_poll_interval: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            schema: "lobby".to_owned(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
            feed_poll_interval: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL store. Share it between threads with an `Arc` (or through the `Engine`);
/// open one per process, and as many processes on one schema as you like.
pub struct PostgresStore {
    pool: Pool,
    sql: Arc<Statements>,
    feed: Arc<Feed>,
    pg: postgres::Config,
    tls: postgres_native_tls::MakeTlsConnector,
    tls_mode: TlsMode,
    config: PostgresConfig,
    /// Commits made, to prune `commit_outcomes` every so often.
    commits: AtomicU64,
    /// Drop the schema when the store is dropped (temporary stores).
    drop_on_drop: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.config.schema)
            .field("pool_size", &self.config.pool_size)
            .field("temporary", &self.drop_on_drop)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form), creating the schema and applying migrations as needed. Connections
    /// are plain unless the URL sets `sslmode` (`prefer`, `require`, or with
    /// `sslrootcert=<PEM file>` `verify-ca` and `verify-full`; see [`TlsMode`]).
    pub fn connect(url: &str, config: PostgresConfig) -> Result<PostgresStore, PostgresError> {
        schema::validate_schema_name(&config.schema)?;
        if config.pool_size == 0 {
            return Err(PostgresError::InvalidConfig("pool_size must be at least 1".into()));
        }
        if config.feed_poll_interval.is_zero() {
            return Err(PostgresError::InvalidConfig("feed_poll_interval must be above zero".into()));
        }
        let tls_url = tls::split_url(url)?;
        let (tls, ssl_mode) = tls::connector(&tls_url)?;
        let mut pg: postgres::Config = tls_url.rest.parse().map_err(PostgresError::InvalidUrl)?;
        pg.ssl_mode(ssl_mode);
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(config.connect_timeout);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("lobby");
        }
        // Every statement is prepared once per connection and its shape does not depend on the
        // values bound (arrays through `unnest`, ids): with PostgreSQL's default the commit's
        // `apply` and `lock` statements were planned again on every take (0.5-0.7 ms of the
        // server's 2.1 ms per take), and a plan cached while a table was nearly empty stayed bad
        // until an ANALYZE. A URL that sets `options` keeps its own.
        if pg.get_options().is_none() {
            pg.options("-c plan_cache_mode=force_generic_plan");
        }
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            .min_idle(Some(0))
            .connection_timeout(config.acquire_timeout)
            // A broken connection fails its first query and is then discarded (`has_broken`);
            // testing every checkout would cost a round trip per operation.
            .test_on_check_out(false)
            .build(Manager::new(pg.clone(), tls.clone()))?;
        {
            let mut conn = pool.get()?;
            schema::migrate(&mut conn.client, &config.schema)?;
        }
        Ok(PostgresStore {
            pool,
            sql: Arc::new(Statements::new(&config.schema)),
            feed: Arc::new(Feed::new()),
            pg,
            tls,
            tls_mode: tls_url.mode,
            config,
            commits: AtomicU64::new(0),
            drop_on_drop: false,
        })
    }

    /// A store in a fresh, randomly named schema (`lobby_tmp_…`) that is dropped with the
    /// store: for tests.
    pub fn temporary(url: &str) -> Result<PostgresStore, PostgresError> {
        let suffix: u64 = rand::Rng::gen(&mut rand::thread_rng());
        let config = PostgresConfig { schema: format!("lobby_tmp_{suffix:016x}"), ..PostgresConfig::default() };
        let mut store = Self::connect(url, config)?;
        store.drop_on_drop = true;
        Ok(store)
    }

    /// The schema this store uses.
    pub fn schema(&self) -> &str {
        &self.config.schema
    }

    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    /// How this store's connections are secured (from the URL's `sslmode`).
    pub fn tls_mode(&self) -> TlsMode {
        self.tls_mode
    }

    /// Whether the connections this store has open right now are encrypted (asks the
    /// database about one of them).
    pub fn connection_encrypted(&self) -> Result<bool, StoreError> {
        self.read(|client, _| {
            let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?;
            Ok(row.get(0))
        })
    }

    /// Drops the schema with every table in it (`DROP SCHEMA … CASCADE`): all data is gone.
    /// Other stores still connected to it fail from then on.
    pub fn drop_schema(mut self) -> Result<(), PostgresError> {
        self.drop_on_drop = false;
        self.feed.stop();
        self.drop_schema_now()
    }

    fn drop_schema_now(&self) -> Result<(), PostgresError> {
        let mut conn = self.pool.get()?;
        conn.client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema::quote(&self.config.schema)))?;
        Ok(())
    }

    /// Reads everything and reports every inconsistency: the checks every store gets from
    /// [`Store::check_integrity`], plus this store's own, in one snapshot: the totals counters
    /// against the inquiries, unique keys without an owner, and the event counter against the
    /// log. `Err` only when the check cannot run. The trait's checks read outside that snapshot,
    /// so run it on a quiet store (commits in flight can show as passing problems).
    pub fn check_integrity(&self) -> Result<IntegrityReport, PostgresError> {
        let mut report = integrity::check_tables(&self.pool, &self.config.schema)?;
        let contents = check_store_contents(self)?;
        report.counted.extend(contents.counted);
        report.problems.extend(contents.problems);
        Ok(report)
    }

    /// Events the feed skipped because they could not be decoded (0 unless the event table
    /// was written by something else).
    pub fn feed_skipped_events(&self) -> u64 {
        self.feed.undecodable()
    }

    fn conn(&self) -> Result<PooledConn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }

    /// After a `COMMIT` whose answer was lost: whether it took effect. Ends the session that sent
    /// it (so it cannot commit later), then claims the commit's id, which waits until that
    /// session's transaction is over and fails only if it committed. Tries for up to
    /// `acquire_timeout` while the database is unreachable; then the outcome is unknown.
    fn resolve_commit(&self, outcome_id: &str, session: &Session) -> Result<bool, StoreError> {
        let deadline = Instant::now() + self.config.acquire_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            let attempt = self.conn().and_then(|mut conn| {
                let (client, cache) = conn.parts();
                let found = (|| -> Result<u64, postgres::Error> {
                    let end = cache.get(client, &self.sql.end_session)?;
                    client.query(&end, &[&session.pid, &session.started])?;
                    let mut tx = client.transaction()?;
                    // Bounded: a session stuck past termination leaves the outcome unknown.
                    tx.batch_execute("SET LOCAL lock_timeout = '5s'")?;
                    let claim = tx.prepare(&self.sql.resolve_outcome)?;
                    let inserted = tx.execute(&claim, &[&outcome_id])?;
                    tx.commit()?;
                    Ok(inserted)
                })();
                found.map_err(|e| backend(&e))
            });
            match attempt {
                Ok(inserted) => return Ok(inserted == 0),
                Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(error) => {
                    return Err(StoreError::Unavailable(format!(
                        "commit outcome unknown: the answer to COMMIT was lost and the database could not be asked ({error})"
                    )))
                }
            }
        }
    }

    /// Deletes outcome rows too old to matter, every few thousand commits (best effort).
    fn prune_outcomes_now_and_then(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % 4096 != 4095 {
            return;
        }
        if let Ok(mut conn) = self.pool.get() {
            let (client, cache) = conn.parts();
            if let Ok(statement) = cache.get(client, &self.sql.prune_outcomes) {
                let _ = client.execute(&statement, &[]);
            }
        }
    }

    /// Runs `run` in a transaction of its own and commits it. `run` gets a fresh outcome id to
    /// record in the transaction (see `commit_outcomes`): when the connection fails around
    /// `COMMIT`, it may or may not have taken effect, and the id tells which, so a change that
    /// was applied but not acknowledged is reported done and never retried, and one that was not
    /// applied is reported not done. `map` turns a failure before `COMMIT` into the contract's
    /// error; the transaction then rolls back (or died with its connection).
    fn transact<T>(
        &self,
        run: impl FnOnce(&mut postgres::Transaction<'_>, &mut pool::StatementCache, &str) -> Result<T, Failure>,
        map: impl Fn(Failure) -> StoreError,
    ) -> Result<T, StoreError> {
        let outcome_id = commit::new_outcome_id();
        let mut conn = self.conn()?;
        let session = conn.session.clone();
        let (client, cache) = conn.parts();
        let mut tx = client.transaction().map_err(|e| backend(&e))?;
        let done = run(&mut tx, cache, &outcome_id).map_err(&map)?;
        match tx.commit() {
            Ok(()) => {
                drop(conn);
                self.prune_outcomes_now_and_then();
                Ok(done)
            }
            Err(e) if is_connection_error(&e) => {
                drop(conn);
                if self.resolve_commit(&outcome_id, &session)? {
                    Ok(done)
                } else {
                    Err(StoreError::Unavailable(format!("the connection failed before COMMIT took effect: {e}")))
                }
            }
            Err(e) => Err(map(Failure::Db(e))),
        }
    }

    /// The events `query` asks for from one log, by the statements that read it.
    fn query_events(
        &self,
        query: &EventQuery,
        after_sql: &str,
        of_inquiry_sql: &str,
    ) -> Result<Vec<Event>, StoreError> {
        let after = i64::try_from(query.after.0).unwrap_or(i64::MAX);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.read(|client, cache| {
            let rows = match &query.inquiry {
                Some(id) => {
                    let statement = cache.get(client, of_inquiry_sql)?;
                    client.query(&statement, &[&id.as_str(), &after, &limit])?
                }
                None => {
                    let statement = cache.get(client, after_sql)?;
                    client.query(&statement, &[&after, &limit])?
                }
            };
            rows.iter().map(|row| codec::decode_event(row.get(0), row.get(1)).map_err(Failure::Store)).collect()
        })
    }

    /// Runs `f` on a pooled connection, mapping database errors to [`StoreError::Backend`].
    fn read<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client, &mut pool::StatementCache) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let (client, cache) = conn.parts();
        f(client, cache).map_err(|failure| match failure {
            Failure::Store(e) => e,
            Failure::Db(e) => backend(&e),
        })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.feed.stop();
        if self.drop_on_drop {
            // Best effort: a temporary schema left behind is garbage, not damage.
            let _ = self.drop_schema_now();
        }
    }
}

fn versioned(kind: RecordKind, id: &str, version: i64, body: &str) -> Result<Versioned<Record>, StoreError> {
    Ok(Versioned { version: codec::version_from_db(version)?, value: codec::decode_record(kind, id, body)? })
}

impl Store for PostgresStore {
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.read(|client, cache| {
            let row = match key {
                RecordKey::Inquiry(id) => {
                    let statement = cache.get(client, &self.sql.get_inquiry)?;
                    client.query_opt(&statement, &[&id.as_str()])?
                }
                other => {
                    let statement = cache.get(client, &self.sql.get_record)?;
                    client.query_opt(&statement, &[&other.kind().as_str(), &other.id()])?
                }
            };
            let Some(row) = row else { return Ok(None) };
            Ok(Some(versioned(key.kind(), key.id(), row.get(0), row.get(1))?))
        })
    }

    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.read(|client, cache| {
            let statement = cache.get(client, &self.sql.find)?;
            let Some(row) = client.query_opt(&statement, &[&key.to_path()])? else { return Ok(None) };
            let (kind, id): (String, String) = (row.get(0), row.get(1));
            let (version, body): (Option<i64>, Option<String>) = (row.get(2), row.get(3));
            match (version, body) {
                (Some(version), Some(body)) => Ok(Some(versioned(codec::kind_from_str(&kind)?, &id, version, &body)?)),
                _ => Err(StoreError::Corrupt(format!("{key} belongs to {kind}/{id}, which does not exist")).into()),
            }
        })
    }

    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
        self.read(|client, cache| {
            let rows = if kind == RecordKind::Inquiry {
                let statement = cache.get(client, &self.sql.scan_inquiries)?;
                client.query(&statement, &[])?
            } else {
                let statement = cache.get(client, &self.sql.scan_records)?;
                client.query(&statement, &[&kind.as_str()])?
            };
            rows.iter()
                .map(|row| {
                    let id: &str = row.get(0);
                    versioned(kind, id, row.get(1), row.get(2)).map_err(Failure::Store)
                })
                .collect()
        })
    }

    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
        let q = sql::listing(&self.config.schema, &query.filter, query.sort, query.offset, query.limit);
        self.read(|client, cache| {
            let statement = cache.get(client, &q.sql)?;
            let row = client.query_one(&statement, &q.param_refs())?;
            let total: i64 = row.get(0);
            let bodies: Option<Vec<String>> = row.get(1);
            let total =
                usize::try_from(total).map_err(|_| StoreError::Corrupt(format!("negative inquiry total {total}")))?;
            let items = bodies
                .unwrap_or_default()
                .iter()
                .map(|body| codec::decode_listed_inquiry(body))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page { items, total })
        })
    }

    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError> {
        let q = sql::count_before(&self.config.schema, filter, sort, inquiry.as_str());
        self.read(|client, cache| {
            let statement = cache.get(client, &q.sql)?;
            let Some(row) = client.query_opt(&statement, &q.param_refs())? else { return Ok(None) };
            let status: &str = row.get(0);
            let department: Option<&str> = row.get(1);
            let reserved_for: Option<&str> = row.get(2);
            let before: i64 = row.get(3);
            let corrupt = |what: &str| StoreError::Corrupt(format!("inquiry {inquiry} has an invalid {what}"));
            let department = department.map(DepartmentId::new).transpose().map_err(|_| corrupt("department"))?;
            let reserved_for = reserved_for.map(UserId::new).transpose().map_err(|_| corrupt("reservation"))?;
            let matches = filter.statuses.contains(codec::status_from_str(status)?)
                && filter.departments.matches(department.as_ref())
                && filter.reservation.matches(reserved_for.as_ref());
            if !matches {
                return Ok(None);
            }
            let before =
                usize::try_from(before).map_err(|_| StoreError::Corrupt(format!("negative count {before}")))?;
            Ok(Some(before))
        })
    }

    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|client, cache| {
            let statement = cache.get(client, &self.sql.due)?;
            let rows = client.query(&statement, &[&at.as_millis(), &limit])?;
            rows.iter()
                .map(|row| {
                    let (due, kind, id): (i64, &str, &str) = (row.get(0), row.get(1), row.get(2));
                    let key = codec::record_key_from(kind, id)?;
                    Ok(DueRecord { due: Timestamp::from_millis(due), key })
                })
                .collect::<Result<_, StoreError>>()
                .map_err(Failure::Store)
        })
    }

    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        commit.validate()?;
        self.transact(
            |tx, cache, outcome_id| commit::run(tx, cache, &self.sql, &commit, outcome_id),
            |failure| commit::map_failure(failure, &commit),
        )
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.query_events(query, &self.sql.events_after, &self.sql.events_of_inquiry)
    }

    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        retirement.validate()?;
        self.transact(
            |tx, cache, outcome_id| archive::run(tx, cache, &self.sql, retirement, outcome_id),
            |failure| archive::map_failure(failure, retirement),
        )
    }

    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        let (sql, value) = match key {
            ArchiveKey::Inquiry(id) => (&self.sql.archived_by_id, id.as_str()),
            ArchiveKey::Room(rid) => (&self.sql.archived_by_room, rid.as_str()),
        };
        self.read(|client, cache| {
            let statement = cache.get(client, sql)?;
            let row = client.query_opt(&statement, &[&value])?;
            Ok(row.as_ref().map(archive::archived_inquiry).transpose()?)
        })
    }

    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        let after = after.map_or("", InquiryId::as_str);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|client, cache| {
            let statement = cache.get(client, &self.sql.archived_after)?;
            let rows = client.query(&statement, &[&after, &limit])?;
            Ok(rows.iter().map(archive::archived_inquiry).collect::<Result<_, _>>()?)
        })
    }

    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.query_events(query, &self.sql.archived_events_after, &self.sql.archived_events_of_inquiry)
    }

    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        Ok(PostgresStore::check_integrity(self)?)
    }

    fn subscribe(&self) -> Result<Subscription, StoreError> {
        // Named apart from the pool's connections, so an operator can tell it in
        // pg_stat_activity.
        let mut pg = self.pg.clone();
        pg.application_name(&format!("{}-feed", self.pg.get_application_name().unwrap_or("lobby")));
        let listener = ListenerConfig {
            pg,
            tls: self.tls.clone(),
            sql: Arc::clone(&self.sql),
            poll_interval: self.config.feed_poll_interval,
        };
        self.feed.ensure_listener(listener, self.config.connect_timeout);
        self.read(|client, cache| {
            let statement = cache.get(client, &self.sql.last_seq)?;
            let last: i64 = client.query_one(&statement, &[])?.get(0);
            let last = u64::try_from(last).map_err(|_| StoreError::Corrupt(format!("event counter at {last}")))?;
            Ok(self.feed.subscribe(client, cache, &self.sql, last)?)
        })
    }
}
