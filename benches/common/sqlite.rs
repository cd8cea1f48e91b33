//! The SQLite baseline: what a straightforward SQL-backed store would do.
//!
//! One table with the inquiry's filter and sort columns plus its JSON body, indexes on
//! `(status, ts)`, `(status, department, ts)` and `(status, name)`, a file in WAL mode in a
//! temporary directory. A page is `SELECT body … ORDER BY … LIMIT 50 OFFSET ?` plus
//! `SELECT COUNT(*) … WHERE …`, and every body is decoded into an [`Inquiry`], as a store must.
//! Ties are broken by `rowid` (creation order), which the indexes carry, so SQLite walks the
//! index and never sorts.

use lobby_core::{Agent, Inquiry, InquiryId, InquiryStatus, Page, ServedBy, Timestamp, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use super::{Dataset, LOAD_BATCH};

/// The orders the benchmarks ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlOrder {
    TsDesc,
    TsAsc,
    Name,
}

/// Rows per transaction when bulk-loading.
const SQL_LOAD_BATCH: usize = 100_000;

pub struct Sql {
    conn: Connection,
    dir: tempfile::TempDir,
}

impl Sql {
    /// Creates the database file and bulk-loads `data` (100,000 rows per transaction, the three
    /// listing indexes built after the load).
    pub fn create(data: &Dataset) -> Sql {
        let dir = tempfile::Builder::new().prefix("lobby-bench-sqlite-").tempdir().unwrap();
        let conn = Connection::open(dir.path().join("lobby.sqlite3")).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        // A big page cache for the load only (random-key inserts into the id and rid indexes thrash
        // the default 2 MB); measurements run with SQLite's default cache, as an application would.
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL;
             PRAGMA cache_size=-1048576;
             CREATE TABLE inquiries (
                 id TEXT NOT NULL PRIMARY KEY,
                 rid TEXT NOT NULL UNIQUE,
                 status TEXT NOT NULL,
                 department TEXT,
                 name TEXT NOT NULL,
                 ts INTEGER NOT NULL,
                 queued_at INTEGER,
                 updated_at INTEGER NOT NULL,
                 version INTEGER NOT NULL,
                 body TEXT NOT NULL
             );
             CREATE TABLE agents (id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL);
             CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, inquiry TEXT, body TEXT NOT NULL);",
        )
        .unwrap();
        for agent in &data.agents {
            conn.execute(
                "INSERT INTO agents (id, version, body) VALUES (?1, 1, ?2)",
                params![agent.id.as_str(), serde_json::to_string(agent).unwrap()],
            )
            .unwrap();
        }
        // Big transactions: every commit writes each page it dirtied to the WAL, and random ids
        // dirty a page per row, so 1,000-row commits would write the database many times over.
        for chunk in data.inquiries.chunks(SQL_LOAD_BATCH) {
            conn.execute_batch("BEGIN").unwrap();
            {
                let mut insert = conn
                    .prepare_cached(
                        "INSERT INTO inquiries (id, rid, status, department, name, ts, queued_at, updated_at, version, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)",
                    )
                    .unwrap();
                for i in chunk {
                    insert
                        .execute(params![
                            i.id.as_str(),
                            i.rid.as_str(),
                            i.status.as_str(),
                            i.department.as_ref().map(|d| d.as_str()),
                            i.name,
                            i.ts.as_millis(),
                            i.queued_at.map(|t| t.as_millis()),
                            i.updated_at.as_millis(),
                            serde_json::to_string(i).unwrap(),
                        ])
                        .unwrap();
                }
            }
            conn.execute_batch("COMMIT").unwrap();
        }
        conn.execute_batch(
            "CREATE INDEX inquiries_status_ts ON inquiries (status, ts);
             CREATE INDEX inquiries_status_department_ts ON inquiries (status, department, ts);
             CREATE INDEX inquiries_status_name ON inquiries (status, name);
             ANALYZE;
             PRAGMA wal_checkpoint(TRUNCATE);
             PRAGMA cache_size=-2000;",
        )
        .unwrap();
        Sql { conn, dir }
    }

    /// `FULL`: every commit is fsynced (what sled's `FlushEveryCommit` promises); `NORMAL` in
    /// WAL mode: commits are fsynced only at checkpoints (like sled's `Periodic`).
    pub fn set_synchronous_full(&self, full: bool) {
        let value = if full { "FULL" } else { "NORMAL" };
        self.conn.execute_batch(&format!("PRAGMA synchronous={value}")).unwrap();
        let now: i64 = self.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(now, if full { 2 } else { 1 });
    }

    fn shape(order: SqlOrder, department: bool) -> (String, String) {
        let filter = if department { "status = ?1 AND department = ?2" } else { "status = ?1" };
        let order = match order {
            SqlOrder::TsDesc => "ts DESC, rowid DESC",
            SqlOrder::TsAsc => "ts ASC, rowid ASC",
            SqlOrder::Name => "name ASC, rowid ASC",
        };
        let limit = if department { "?3 OFFSET ?4" } else { "?2 OFFSET ?3" };
        (
            format!("SELECT body FROM inquiries WHERE {filter} ORDER BY {order} LIMIT {limit}"),
            format!("SELECT COUNT(*) FROM inquiries WHERE {filter}"),
        )
    }

    /// The query plans, to check that no shape sorts (no `TEMP B-TREE`).
    pub fn plans(&self, order: SqlOrder, department: bool) -> Vec<String> {
        let (page, count) = Self::shape(order, department);
        [page, count]
            .iter()
            .flat_map(|sql| {
                let mut stmt = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let args: Vec<Box<dyn rusqlite::ToSql>> = if department {
                    vec![Box::new("open"), Box::new("x"), Box::new(50), Box::new(0)]
                } else {
                    vec![Box::new("open"), Box::new(50), Box::new(0)]
                };
                let n = stmt.parameter_count();
                let rows: Vec<String> = stmt
                    .query_map(rusqlite::params_from_iter(args.iter().take(n)), |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                rows
            })
            .collect()
    }

    /// One page of open inquiries and the total.
    pub fn page(&self, order: SqlOrder, department: Option<&str>, offset: usize, limit: usize) -> Page<Inquiry> {
        let (page_sql, count_sql) = Self::shape(order, department.is_some());
        let status = InquiryStatus::Open.as_str();
        let decode = |r: &rusqlite::Row| -> rusqlite::Result<Inquiry> {
            let body: String = r.get(0)?;
            Ok(serde_json::from_str(&body).expect("inquiry JSON"))
        };
        let mut page = self.conn.prepare_cached(&page_sql).unwrap();
        let mut count = self.conn.prepare_cached(&count_sql).unwrap();
        let (items, total): (Vec<Inquiry>, i64) = match department {
            Some(d) => (
                page.query_map(params![status, d, limit as i64, offset as i64], decode)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                count.query_row(params![status, d], |r| r.get(0)).unwrap(),
            ),
            None => (
                page.query_map(params![status, limit as i64, offset as i64], decode)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                count.query_row(params![status], |r| r.get(0)).unwrap(),
            ),
        };
        Page { items, total: total as usize }
    }

    /// Bytes of the database file and its WAL.
    #[allow(dead_code)] // for examples/footprint.rs, not the benchmarks
    pub fn size_on_disk(&self) -> u64 {
        ["lobby.sqlite3", "lobby.sqlite3-wal"]
            .iter()
            .filter_map(|name| std::fs::metadata(self.dir.path().join(name)).ok())
            .map(|meta| meta.len())
            .sum()
    }

    /// Another connection to the same file with `synchronous=FULL`, for a writer thread of its
    /// own (SQLite lets one writer in at a time; the others wait up to 10 s).
    pub fn writer(&self) -> Connection {
        let conn = Connection::open(self.dir.path().join("lobby.sqlite3")).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        conn.execute_batch("PRAGMA synchronous=FULL").unwrap();
        conn
    }

    /// What `Engine::take` does, in one `BEGIN IMMEDIATE` transaction: read the inquiry and the
    /// agent, check, write both back under their versions (compare-and-set), append an event.
    pub fn take(&self, id: &InquiryId, agent_id: &UserId, now: Timestamp) -> Inquiry {
        Self::take_on(&self.conn, id, agent_id, now)
    }

    /// [`Sql::take`] on a connection of [`Sql::writer`].
    pub fn take_on(conn: &Connection, id: &InquiryId, agent_id: &UserId, now: Timestamp) -> Inquiry {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (version, body): (i64, String) = conn
            .prepare_cached("SELECT version, body FROM inquiries WHERE id = ?1")
            .unwrap()
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .unwrap()
            .expect("inquiry exists");
        let mut inquiry: Inquiry = serde_json::from_str(&body).unwrap();
        assert_eq!(inquiry.status, InquiryStatus::Open, "take of a non-open inquiry");
        let (agent_version, agent_body): (i64, String) = conn
            .prepare_cached("SELECT version, body FROM agents WHERE id = ?1")
            .unwrap()
            .query_row([agent_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let mut agent: Agent = serde_json::from_str(&agent_body).unwrap();
        agent.active_chats += 1;
        agent.assigned_total += 1;
        agent.last_routed_at = Some(now);
        agent.updated_at = now;
        inquiry.status = InquiryStatus::Taken;
        inquiry.served_by = Some(ServedBy { id: agent.id.clone(), username: agent.username.clone(), ts: now });
        inquiry.taken_at = Some(now);
        inquiry.updated_at = now;
        let changed = conn
            .prepare_cached(
                "UPDATE inquiries SET status = ?1, updated_at = ?2, body = ?3, version = version + 1
                 WHERE id = ?4 AND version = ?5",
            )
            .unwrap()
            .execute(params![
                inquiry.status.as_str(),
                now.as_millis(),
                serde_json::to_string(&inquiry).unwrap(),
                id.as_str(),
                version
            ])
            .unwrap();
        assert_eq!(changed, 1);
        let changed = conn
            .prepare_cached("UPDATE agents SET body = ?1, version = version + 1 WHERE id = ?2 AND version = ?3")
            .unwrap()
            .execute(params![serde_json::to_string(&agent).unwrap(), agent_id.as_str(), agent_version])
            .unwrap();
        assert_eq!(changed, 1);
        let event = serde_json::json!({
            "at": now, "actor": {"type": "user", "id": agent_id}, "inquiry": id,
            "kind": {"what": "transition", "transition": "take", "agent": agent_id},
        });
        conn.prepare_cached("INSERT INTO events (inquiry, body) VALUES (?1, ?2)")
            .unwrap()
            .execute(params![id.as_str(), event.to_string()])
            .unwrap();
        conn.execute_batch("COMMIT").unwrap();
        inquiry
    }

    /// Puts taken inquiries back as they were (untimed bookkeeping between measured takes).
    pub fn restore(&self, originals: &[Inquiry]) {
        for chunk in originals.chunks(LOAD_BATCH) {
            self.conn.execute_batch("BEGIN").unwrap();
            {
                let mut update = self
                    .conn
                    .prepare_cached(
                        "UPDATE inquiries SET status = ?1, updated_at = ?2, body = ?3, version = version + 1
                         WHERE id = ?4",
                    )
                    .unwrap();
                for i in chunk {
                    update
                        .execute(params![
                            i.status.as_str(),
                            i.updated_at.as_millis(),
                            serde_json::to_string(i).unwrap(),
                            i.id.as_str()
                        ])
                        .unwrap();
                }
            }
            self.conn.execute_batch("COMMIT").unwrap();
        }
    }
}
