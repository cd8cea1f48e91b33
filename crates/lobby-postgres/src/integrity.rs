//! [`PostgresStore::check_integrity`](crate::PostgresStore::check_integrity)'s own checks, in one
//! repeatable-read snapshot: what this store keeps beside the records and must agree with them.

use lobby_core::IntegrityReport;

use crate::pool::Pool;
use crate::{schema, PostgresError};

/// The totals counters against the inquiries they count, unique keys against their owners, and the
/// event counter against the logs (every number from 1 to the counter hot, archived or deleted,
/// once).
pub(crate) fn check_tables(pool: &Pool, schema_name: &str) -> Result<IntegrityReport, PostgresError> {
    let s = schema::quote(schema_name);
    let mut conn = pool.get()?;
    let mut tx = conn.client.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start()?;
    let mut report = IntegrityReport::default();
    let wrong_counts = tx.query(
        &format!(
            "WITH actual AS (
                 SELECT status, 'all' AS bucket, count(*) AS n FROM {s}.inquiries GROUP BY status
                 UNION ALL
                 SELECT status, CASE WHEN department IS NULL THEN 'none' ELSE 'dep:' || department END,
                        count(*)
                 FROM {s}.inquiries GROUP BY 1, 2
             )
             SELECT coalesce(c.status, a.status), coalesce(c.bucket, a.bucket),
                    coalesce(c.n, 0), coalesce(a.n, 0)
             FROM {s}.inquiry_counts c FULL JOIN actual a ON a.status = c.status AND a.bucket = c.bucket
             WHERE coalesce(c.n, 0) <> coalesce(a.n, 0)
             ORDER BY 1, 2"
        ),
        &[],
    )?;
    for row in wrong_counts {
        let (status, bucket, counter, actual): (String, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        report.problem(format!("the {status}/{bucket} counter says {counter}, the inquiries {actual}"));
    }
    let orphans = tx.query(
        &format!(
            "SELECT u.key FROM {s}.unique_keys u
             WHERE NOT EXISTS (SELECT 1 FROM {s}.inquiries i
                               WHERE u.owner_kind = 'inquiry' AND i.id = u.owner_id)
               AND NOT EXISTS (SELECT 1 FROM {s}.records r
                               WHERE r.kind = u.owner_kind AND r.id = u.owner_id)
             ORDER BY 1"
        ),
        &[],
    )?;
    for row in orphans {
        let key: String = row.get(0);
        report.problem(format!("{key} belongs to a record that does not exist"));
    }
    // Retention leaves holes in the hot log, so the log is checked as a whole: every number up to
    // the counter is in the hot log, in the archive, or counted as deleted, and none is in both.
    let row = tx.query_one(
        &format!(
            "SELECT (SELECT last FROM {s}.event_counter),
                    (SELECT count(*) FROM {s}.events),
                    (SELECT count(*) FROM {s}.archived_events),
                    (SELECT n FROM {s}.deleted_events),
                    greatest((SELECT max(seq) FROM {s}.events), (SELECT max(seq) FROM {s}.archived_events), 0),
                    (SELECT count(*) FROM {s}.events JOIN {s}.archived_events USING (seq))"
        ),
        &[],
    )?;
    let (counter, hot, archived, deleted, highest, both): (i64, i64, i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
    report.add_count("event table rows", u64::try_from(hot).unwrap_or(0));
    report.add_count("archived event table rows", u64::try_from(archived).unwrap_or(0));
    if highest > counter {
        report.problem(format!("the event counter is at {counter}, below the highest stored event {highest}"));
    }
    if both > 0 {
        report.problem(format!("{both} events are both in the hot log and in the archive"));
    }
    if hot + archived + deleted != counter {
        report.problem(format!(
            "{hot} events are hot, {archived} archived and {deleted} deleted, but the counter handed out {counter}: \
             the log has gaps"
        ));
    }
    tx.commit()?;
    Ok(report)
}
