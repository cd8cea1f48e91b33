//! The embedded schema migrations and the code that applies them.
//!
//! Each migration is plain SQL written without a schema prefix; it runs with `search_path` set
//! to the configured schema, inside one transaction that holds a transaction-scoped advisory
//! lock keyed on the schema name, so servers that start at the same time apply each migration
//! exactly once and none of them sees a half-built schema.

use postgres::Client;

use crate::PostgresError;

/// One schema change. Versions start at 1 and never change once released.
pub(crate) struct Migration {
    pub version: i32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// The advisory-lock class for migrations (`pg_advisory_xact_lock(class, hashtext(schema))`):
/// "LOBY" in ASCII, so it is unlikely to collide with an application's own advisory locks.
const MIGRATION_LOCK_CLASS: i32 = 0x4c4f_4259;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "records, inquiries, unique keys, totals, event log",
        sql: r#"
-- Agents, users, departments and visitors: small kinds, read by key or scanned by kind.
-- `body` is the record's JSON as text: jsonb would reject "\u0000", which a name may hold.
CREATE TABLE records (
    kind    text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    body    text NOT NULL,
    PRIMARY KEY (kind, id)
);

-- Inquiries, with the fields that filters and sort orders read extracted into columns.
-- Text compares by bytes (COLLATE "C"), as Rust's `str` does; `name` is bytea because a
-- visitor's name may contain a NUL byte, which `text` cannot hold, and bytea compares by bytes.
CREATE TABLE inquiries (
    id              text COLLATE "C" PRIMARY KEY,
    version         bigint NOT NULL CHECK (version > 0),
    body            text NOT NULL,
    status          text COLLATE "C" NOT NULL,
    department      text COLLATE "C",
    reserved_for    text COLLATE "C",
    ts              bigint NOT NULL,
    name            bytea NOT NULL,
    updated_at      bigint NOT NULL,
    priority_weight smallint NOT NULL,
    sla             bigint NOT NULL,
    age             bigint NOT NULL
);
-- One index per queue order, each led by status (every listing filters on it) and ending with
-- the (age, id) tie-break, so a page is an index range scan and count_before a range count.
CREATE INDEX inquiries_by_age ON inquiries (status, age, id);
CREATE INDEX inquiries_by_department ON inquiries (status, department NULLS FIRST, age, id);
CREATE INDEX inquiries_by_ts ON inquiries (status, ts, age, id);
CREATE INDEX inquiries_by_priority ON inquiries (status, priority_weight, age, id);
CREATE INDEX inquiries_by_sla ON inquiries (status, sla, age, id);

-- Secondary keys ("room/…", "username/…", …) and the record that holds each.
CREATE TABLE unique_keys (
    key        text COLLATE "C" PRIMARY KEY,
    owner_kind text COLLATE "C" NOT NULL,
    owner_id   text COLLATE "C" NOT NULL
);

-- How many inquiries have each status, in all ('all'), without a department ('none') and per
-- department ('dep:<id>'). Maintained by every commit, so totals need no COUNT.
CREATE TABLE inquiry_counts (
    status text COLLATE "C" NOT NULL,
    bucket text COLLATE "C" NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (status, bucket)
);

-- The last event sequence number handed out. Committers update this one row, so they take
-- numbers one transaction at a time, in commit order, without gaps.
CREATE TABLE event_counter (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last      bigint NOT NULL
);
INSERT INTO event_counter (singleton, last) VALUES (true, 0);

CREATE TABLE events (
    seq     bigint PRIMARY KEY,
    inquiry text COLLATE "C",
    body    text NOT NULL
);
CREATE INDEX events_by_inquiry ON events (inquiry, seq) WHERE inquiry IS NOT NULL;
"#,
    },
    Migration {
        version: 2,
        description: "store-wide version stamps: a key never sees a version twice",
        sql: r#"
-- One stamp per commit, greater than every version given before (nextval never goes back, even
-- when a transaction rolls back). Starts above every version already stored.
CREATE SEQUENCE version_stamps;
SELECT setval('version_stamps', greatest(
    (SELECT coalesce(max(version), 0) FROM records),
    (SELECT coalesce(max(version), 0) FROM inquiries),
    1));
"#,
    },
    Migration {
        version: 3,
        description: "the deadline index: each record with a deadline, by its earliest one",
        sql: r#"
-- Maintained by every commit that writes the record. `rank` is the kind's place in the
-- engine's key order (inquiry 0, user 1, agent 2, department 3, visitor 4), for ties.
CREATE TABLE deadlines (
    kind text COLLATE "C" NOT NULL,
    id   text COLLATE "C" NOT NULL,
    rank smallint NOT NULL,
    due  bigint NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX deadlines_by_due ON deadlines (due, rank, id);
"#,
    },
    Migration {
        version: 4,
        description: "commit outcomes: which commits took effect, for answers lost on the way",
        sql: r#"
-- Every commit inserts its random id in its own transaction, so the row exists exactly when the
-- commit took effect. When the answer to a COMMIT is lost, the store looks the id up (after
-- making sure the old session is gone) instead of guessing. Rows older than a few minutes are
-- deleted now and then.
CREATE TABLE commit_outcomes (
    id text COLLATE "C" PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commit_outcomes_by_age ON commit_outcomes (at);
"#,
    },
    Migration {
        version: 5,
        description: "the archive: retired inquiries and events, out of the hot tables",
        sql: r#"
-- Retention moves closed inquiries here, out of every index, listing and counter; `archived`
-- orders them as they arrived, so a room id reused by a later conversation finds the one archived
-- last. Only the columns reads need: by id, by room, and in id order for export.
CREATE SEQUENCE archive_order;
CREATE TABLE archived_inquiries (
    id       text COLLATE "C" PRIMARY KEY,
    rid      text COLLATE "C" NOT NULL,
    version  bigint NOT NULL CHECK (version > 0),
    body     text NOT NULL,
    archived bigint NOT NULL DEFAULT nextval('archive_order')
);
CREATE INDEX archived_inquiries_by_room ON archived_inquiries (rid, archived);

-- Events under the numbers they had in `events`; a number is in one of the two tables, never
-- both (retirement moves rows in one transaction).
CREATE TABLE archived_events (
    seq     bigint PRIMARY KEY,
    inquiry text COLLATE "C",
    body    text NOT NULL
);
CREATE INDEX archived_events_by_inquiry ON archived_events (inquiry, seq) WHERE inquiry IS NOT NULL;

-- How many events retention deleted for good, so the integrity check can still prove that every
-- number up to the event counter is accounted for (hot + archived + deleted = counter). A row of
-- its own, not a column of event_counter, so deleting never waits on committers' counter lock.
CREATE TABLE deleted_events (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    n         bigint NOT NULL
);
INSERT INTO deleted_events (singleton, n) VALUES (true, 0);
"#,
    },
    Migration {
        version: 6,
        description: "closed inquiries by their last change, for retention",
        sql: r#"
-- Each retention batch asks for the oldest closed conversations by `_updatedAt`; without an
-- index that is a sort of every closed row per batch.
CREATE INDEX inquiries_by_updated_at ON inquiries (status, updated_at, age, id);
"#,
    },
];

/// The newest migration this build knows.
pub(crate) fn latest_version() -> i32 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

#[test]
fn the_latest_migration_is_published() {
    assert_eq!(latest_version(), crate::SCHEMA_VERSION);
}

/// `"schema"`, quoted. The name was validated, so it holds no quote.
pub(crate) fn quote(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// Lower-case letters, digits and `_`, not starting with a digit or `pg_`, at most 48 bytes
/// (the notification channel name adds a suffix and must stay under PostgreSQL's 63).
pub(crate) fn validate_schema_name(schema: &str) -> Result<(), PostgresError> {
    let ok = !schema.is_empty()
        && schema.len() <= 48
        && !schema.starts_with("pg_")
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(PostgresError::InvalidSchema(schema.to_owned()))
    }
}

/// Creates the schema if needed and applies every migration it lacks, all in one transaction
/// under the schema's advisory lock. Returns the versions applied now.
pub(crate) fn migrate(client: &mut Client, schema: &str) -> Result<Vec<i32>, PostgresError> {
    let q = quote(schema);
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&MIGRATION_LOCK_CLASS, &schema])?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {q};
         CREATE TABLE IF NOT EXISTS {q}.schema_migrations (
             version     integer PRIMARY KEY,
             description text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );"
    ))?;
    let applied: Vec<i32> = tx
        .query(&format!("SELECT version FROM {q}.schema_migrations ORDER BY version"), &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known = latest_version();
    if let Some(&found) = applied.iter().max() {
        if found > known {
            return Err(PostgresError::SchemaTooNew { schema: schema.to_owned(), found, known });
        }
    }
    let mut now_applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(&format!("SET LOCAL search_path TO {q}"))?;
        tx.batch_execute(migration.sql)?;
        tx.execute(
            &format!("INSERT INTO {q}.schema_migrations (version, description) VALUES ($1, $2)"),
            &[&migration.version, &migration.description],
        )?;
        now_applied.push(migration.version);
    }
    tx.commit()?;
    Ok(now_applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["lobby", "t_0123abcd", "_x", "a1"] {
            assert!(validate_schema_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Lobby", "1abc", "pg_lobby", "a-b", "a\"b", "a b", &"x".repeat(49)] {
            assert!(validate_schema_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn migration_versions_are_increasing_from_one() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
    }
}
