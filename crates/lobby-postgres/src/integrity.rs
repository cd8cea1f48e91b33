//! [`PostgresStore::check_integrity`](crate::PostgresStore::check_integrity)'s own checks, in one
//! repeatable-read snapshot: what this store keeps beside the records and must agree with them.

use lobby_core::IntegrityReport;

use crate::pool::Pool;
use crate::{schema, PostgresError};

/// The totals counters against the inquiries they count, unique keys against their owners, and
/// the event counter against the log (numbered 1 to the counter, without gaps).
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
    let row = tx.query_one(
        &format!("SELECT (SELECT last FROM {s}.event_counter), count(*), coalesce(max(seq), 0) FROM {s}.events"),
        &[],
    )?;
    let (counter, stored, highest): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    report.add_count("event table rows", u64::try_from(stored).unwrap_or(0));
    if counter != highest {
        report.problem(format!("the event counter is at {counter}, the highest stored event is {highest}"));
    }
    if stored != highest {
        report.problem(format!("{stored} events are stored, numbered up to {highest}: the log has gaps"));
    }
    tx.commit()?;
    Ok(report)
}
