//! The SQL the store runs: fixed statements, qualified with the schema once at connect, and
//! the listing queries, built per filter shape.
//!
//! Listing order is [`lobby_core::SortKey`]'s: `(primary, age, id)` ascending, or the exact
//! reverse. Text columns are `COLLATE "C"` (byte order, as Rust compares `str`), `name` is
//! `bytea` (byte order too), and a missing department sorts first ascending (`NULLS FIRST`)
//! and last descending (`NULLS LAST`), so PostgreSQL's order is the reference order.

use std::collections::BTreeSet;

use lobby_core::{DepartmentFilter, Direction, InquiryFilter, InquirySort, ReservationFilter, SortField};
use postgres::types::ToSql;

use crate::codec::{bucket, ALL_BUCKET};
use crate::schema::quote;

/// Fixed statements, with the schema filled in.
pub(crate) struct Statements {
    pub schema: String,
    pub channel: String,
    pub get_record: String,
    pub get_inquiry: String,
    pub find: String,
    pub scan_records: String,
    pub scan_inquiries: String,
    pub lock: String,
    pub next_version: String,
    pub owners: String,
    pub release_keys: String,
    pub claim_keys: String,
    pub apply: String,
    pub finish: String,
    pub record_outcome: String,
    pub resolve_outcome: String,
    pub end_session: String,
    pub prune_outcomes: String,
    pub last_seq: String,
    pub due: String,
    pub events_after: String,
    pub events_of_inquiry: String,
    pub feed_after: String,
    pub lock_loose_events: String,
    pub retire: String,
    pub archived_by_id: String,
    pub archived_by_room: String,
    pub archived_after: String,
    pub archived_events_after: String,
    pub archived_events_of_inquiry: String,
}

const INQUIRY_COLUMNS: &str =
    "id, version, body, status, department, reserved_for, ts, name, updated_at, priority_weight, sla, age";

impl Statements {
    pub fn new(schema: &str) -> Self {
        let s = quote(schema);
        Self {
            schema: schema.to_owned(),
            channel: format!("{schema}_events"),
            get_record: format!("SELECT version, body FROM {s}.records WHERE kind = $1 AND id = $2"),
            get_inquiry: format!("SELECT version, body FROM {s}.inquiries WHERE id = $1"),
            find: format!(
                "SELECT u.owner_kind, u.owner_id, coalesce(i.version, r.version), coalesce(i.body, r.body)
                 FROM {s}.unique_keys u
                 LEFT JOIN {s}.inquiries i ON u.owner_kind = 'inquiry' AND i.id = u.owner_id
                 LEFT JOIN {s}.records r ON u.owner_kind <> 'inquiry' AND r.kind = u.owner_kind AND r.id = u.owner_id
                 WHERE u.key = $1"
            ),
            // The commit's version stamp (see `lobby_core::plan_versions`), taken after its rows
            // are locked, so a key's versions increase in commit order.
            // It also records the commit's id (`$1`): see `commit_outcomes` in the migrations.
            next_version: format!(
                "WITH outcome AS (INSERT INTO {s}.commit_outcomes (id) VALUES ($1))
                 SELECT nextval('{s}.version_stamps')"
            ),
            scan_records: format!("SELECT id, version, body FROM {s}.records WHERE kind = $1 ORDER BY id"),
            scan_inquiries: format!("SELECT id, version, body FROM {s}.inquiries ORDER BY id"),
            // Locks every written row that exists, inquiries first (by id), then other records
            // (by kind, id). ORDER BY puts each lock under its sort and the UNION ALL runs its
            // branches in order, so every committer locks in one global order.
            lock: format!(
                "WITH li AS (
                     SELECT 'inquiry'::text COLLATE \"C\" AS kind, id, version, body FROM {s}.inquiries
                     WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
                 ), lr AS (
                     SELECT r.kind, r.id, r.version, r.body
                     FROM {s}.records r JOIN unnest($2::text[], $3::text[]) AS w(kind, id)
                       ON r.kind = w.kind AND r.id = w.id
                     ORDER BY r.kind, r.id FOR UPDATE OF r
                 )
                 SELECT kind, id, version, body FROM li UNION ALL SELECT kind, id, version, body FROM lr"
            ),
            owners: format!("SELECT key, owner_kind, owner_id FROM {s}.unique_keys WHERE key = ANY($1::text[])"),
            release_keys: format!("DELETE FROM {s}.unique_keys WHERE key = ANY($1::text[])"),
            // Waits for a concurrent claimant of the same key to finish; if it committed, the
            // key is not inserted (and not returned): taken.
            claim_keys: format!(
                "INSERT INTO {s}.unique_keys (key, owner_kind, owner_id)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (key) DO NOTHING RETURNING key"
            ),
            // Every row write of a commit in one statement. Updates and deletes act on rows the
            // commit holds locked; an insert that finds the key taken (a concurrent create) is
            // skipped and missing from the returned ids, which the caller turns into a conflict.
            apply: format!(
                "WITH iw AS (
                     SELECT * FROM unnest($1::text[], $2::bool[], $3::bigint[], $4::text[], $5::text[],
                                          $6::text[], $7::text[], $8::bigint[], $9::bytea[], $10::bigint[],
                                          $11::smallint[], $12::bigint[], $13::bigint[])
                       AS u(id, existed, version, body, status, department, reserved_for, ts, name,
                            updated_at, priority_weight, sla, age)
                 ), inserted_i AS (
                     INSERT INTO {s}.inquiries ({INQUIRY_COLUMNS})
                     SELECT {INQUIRY_COLUMNS} FROM iw WHERE NOT existed
                     ON CONFLICT (id) DO NOTHING RETURNING id
                 ), updated_i AS (
                     UPDATE {s}.inquiries t SET version = iw.version, body = iw.body, status = iw.status,
                       department = iw.department, reserved_for = iw.reserved_for, ts = iw.ts,
                       name = iw.name, updated_at = iw.updated_at, priority_weight = iw.priority_weight,
                       sla = iw.sla, age = iw.age
                     FROM iw WHERE iw.existed AND t.id = iw.id RETURNING t.id
                 ), deleted_i AS (
                     DELETE FROM {s}.inquiries WHERE id = ANY($14::text[]) RETURNING id
                 ), rw AS (
                     SELECT * FROM unnest($15::text[], $16::text[], $17::bool[], $18::bigint[], $19::text[])
                       AS u(kind, id, existed, version, body)
                 ), inserted_r AS (
                     INSERT INTO {s}.records (kind, id, version, body)
                     SELECT kind, id, version, body FROM rw WHERE NOT existed
                     ON CONFLICT (kind, id) DO NOTHING RETURNING kind || '/' || id AS path
                 ), updated_r AS (
                     UPDATE {s}.records t SET version = rw.version, body = rw.body
                     FROM rw WHERE rw.existed AND t.kind = rw.kind AND t.id = rw.id RETURNING 1
                 ), deleted_r AS (
                     DELETE FROM {s}.records t USING unnest($20::text[], $21::text[]) AS d(kind, id)
                     WHERE t.kind = d.kind AND t.id = d.id RETURNING 1
                 ), dw AS (
                     SELECT * FROM unnest($22::text[], $23::text[], $24::smallint[], $25::bigint[])
                       AS d(kind, id, rank, due)
                 ), set_d AS (
                     INSERT INTO {s}.deadlines (kind, id, rank, due)
                     SELECT kind, id, rank, due FROM dw WHERE due IS NOT NULL
                     ON CONFLICT (kind, id) DO UPDATE SET due = EXCLUDED.due RETURNING 1
                 ), cleared_d AS (
                     DELETE FROM {s}.deadlines t USING dw
                     WHERE dw.due IS NULL AND t.kind = dw.kind AND t.id = dw.id RETURNING 1
                 )
                 SELECT (SELECT coalesce(array_agg(id::text), '{{}}') FROM inserted_i),
                        (SELECT count(*) FROM updated_i) + (SELECT count(*) FROM deleted_i)
                          + (SELECT count(*) FROM updated_r) + (SELECT count(*) FROM deleted_r),
                        (SELECT coalesce(array_agg(path), '{{}}') FROM inserted_r)"
            ),
            // The tail of every commit, in one round trip: the counter rows, then the event
            // counter, then the events, then the notification (delivered at COMMIT).
            //
            // Count rows arrive sorted by (status, bucket), so committers lock them in one
            // order. `counted` is forced to run first by the event-counter UPDATE's condition,
            // so every committer takes the counters before the event counter. The event counter
            // is the last lock a commit takes and it is held until COMMIT: that serialises the
            // event writers, and seq N+1 is handed out only after the transaction that got N has
            // committed (or rolled back, giving N back). With no events ($4 = 0) the counter row
            // is neither locked nor changed, and no row comes back.
            finish: format!(
                "WITH counted AS (
                     INSERT INTO {s}.inquiry_counts AS ic (status, bucket, n)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                     ON CONFLICT (status, bucket) DO UPDATE SET n = ic.n + EXCLUDED.n
                     RETURNING 1
                 ), numbered AS (
                     UPDATE {s}.event_counter SET last = last + $4::bigint
                     WHERE singleton AND $4::bigint > 0 AND (SELECT count(*) FROM counted) >= 0
                     RETURNING last
                 ), appended AS (
                     INSERT INTO {s}.events (seq, inquiry, body)
                     SELECT numbered.last - $4 + e.ord, e.inquiry, e.body
                     FROM numbered, unnest($5::text[], $6::text[]) WITH ORDINALITY AS e(inquiry, body, ord)
                 )
                 SELECT numbered.last, pg_notify($7, numbered.last::text)::text FROM numbered"
            ),
            // For commits without writes (they skip `next_version`).
            record_outcome: format!("INSERT INTO {s}.commit_outcomes (id) VALUES ($1)"),
            // Waits for a transaction that inserted the same id to end; inserts nothing (0 rows)
            // when it committed.
            resolve_outcome: format!("INSERT INTO {s}.commit_outcomes (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"),
            end_session: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                          WHERE pid = $1 AND backend_start::text = $2"
                .to_owned(),
            prune_outcomes: format!("DELETE FROM {s}.commit_outcomes WHERE at < now() - interval '10 minutes'"),
            last_seq: format!("SELECT last FROM {s}.event_counter"),
            // Ties by (kind rank, id): `RecordKey`'s order, so every store lists the same.
            due: format!("SELECT due, kind, id FROM {s}.deadlines WHERE due <= $1 ORDER BY due, rank, id LIMIT $2"),
            events_after: format!("SELECT seq, body FROM {s}.events WHERE seq > $1 ORDER BY seq LIMIT $2"),
            events_of_inquiry: format!(
                "SELECT seq, body FROM {s}.events WHERE inquiry = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            // The feed reads both logs in one statement, so one snapshot: an event retired into the
            // archive before the feed got to it is still delivered, and never twice (see feed.rs).
            feed_after: format!(
                "SELECT seq, body FROM {s}.events WHERE seq > $1
                 UNION ALL SELECT seq, body FROM {s}.archived_events WHERE seq > $1
                 ORDER BY seq LIMIT $2"
            ),
            // Locks the named events still in the hot log, by number (so concurrent retirers lock in
            // one order), with whether their inquiry is in the hot set. One that another retirer
            // takes meanwhile is skipped once it commits: READ COMMITTED re-reads a locked row.
            lock_loose_events: format!(
                "SELECT e.seq, e.body, i.id IS NOT NULL FROM {s}.events e
                 LEFT JOIN {s}.inquiries i ON i.id = e.inquiry
                 WHERE e.seq = ANY($1::bigint[]) ORDER BY e.seq FOR UPDATE OF e"
            ),
            // A retirement, once checked, in one statement: the inquiries ($1, rooms $2, locked by
            // the caller) leave with their unique keys ($4), deadlines and counts ($5-$7), every
            // event about them and the named events ($8) leave the hot log, into the archive when
            // $3, else counted as deleted. Upserting an archived id makes a re-used id's last
            // retirement win, as `archive_order` does for rooms.
            retire: format!(
                "WITH gone_i AS (
                     DELETE FROM {s}.inquiries WHERE id = ANY($1::text[]) RETURNING id, version, body
                 ), archived_i AS (
                     INSERT INTO {s}.archived_inquiries AS a (id, rid, version, body)
                     SELECT g.id, r.rid, g.version, g.body
                     FROM gone_i g JOIN unnest($1::text[], $2::text[]) AS r(id, rid) ON r.id = g.id
                     WHERE $3::bool
                     ON CONFLICT (id) DO UPDATE SET rid = EXCLUDED.rid, version = EXCLUDED.version,
                       body = EXCLUDED.body, archived = nextval('{s}.archive_order')
                 ), keys AS (
                     DELETE FROM {s}.unique_keys
                     WHERE key = ANY($4::text[]) AND owner_kind = 'inquiry' AND owner_id = ANY($1::text[])
                 ), due AS (
                     DELETE FROM {s}.deadlines WHERE kind = 'inquiry' AND id = ANY($1::text[])
                 ), counted AS (
                     INSERT INTO {s}.inquiry_counts AS ic (status, bucket, n)
                     SELECT * FROM unnest($5::text[], $6::text[], $7::bigint[])
                     ON CONFLICT (status, bucket) DO UPDATE SET n = ic.n + EXCLUDED.n
                 ), gone_e AS (
                     DELETE FROM {s}.events WHERE inquiry = ANY($1::text[]) OR seq = ANY($8::bigint[])
                     RETURNING seq, inquiry, body
                 ), archived_e AS (
                     INSERT INTO {s}.archived_events (seq, inquiry, body)
                     SELECT seq, inquiry, body FROM gone_e WHERE $3::bool
                 ), deleted_e AS (
                     UPDATE {s}.deleted_events SET n = n + (SELECT count(*) FROM gone_e)
                     WHERE singleton AND NOT $3::bool AND EXISTS (SELECT FROM gone_e)
                 )
                 SELECT (SELECT count(*) FROM gone_i), (SELECT count(*) FROM gone_e)"
            ),
            archived_by_id: format!("SELECT id, version, body FROM {s}.archived_inquiries WHERE id = $1"),
            archived_by_room: format!(
                "SELECT id, version, body FROM {s}.archived_inquiries WHERE rid = $1 ORDER BY archived DESC LIMIT 1"
            ),
            // Ids are never empty, so '' is before every one of them.
            archived_after: format!(
                "SELECT id, version, body FROM {s}.archived_inquiries WHERE id > $1 ORDER BY id LIMIT $2"
            ),
            archived_events_after: format!(
                "SELECT seq, body FROM {s}.archived_events WHERE seq > $1 ORDER BY seq LIMIT $2"
            ),
            archived_events_of_inquiry: format!(
                "SELECT seq, body FROM {s}.archived_events WHERE inquiry = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
        }
    }
}

/// A query text and its parameters, built together so placeholders stay numbered right.
#[derive(Default)]
pub(crate) struct Query {
    pub sql: String,
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    pub fn param_refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// The column a sort field orders by, on a row aliased `t`.
fn primary_column(field: SortField) -> &'static str {
    match field {
        SortField::Ts => "ts",
        SortField::Name => "name",
        SortField::Status => "status",
        SortField::Department => "department",
        SortField::UpdatedAt => "updated_at",
        SortField::PriorityWeight => "priority_weight",
        SortField::EstimatedWaitingTime => "sla",
        SortField::QueuedAt => "age",
    }
}

/// `ORDER BY` terms for `sort` over columns named `p` (primary), `age` and `id` in `prefix`.
fn order_terms(sort: InquirySort, primary: &str) -> String {
    let (dir, nulls) = match sort.direction {
        Direction::Ascending => ("ASC", "NULLS FIRST"),
        Direction::Descending => ("DESC", "NULLS LAST"),
    };
    // Only `department` is nullable; spelling NULLS on the others would stop PostgreSQL from
    // matching the (default-ordered) indexes.
    let primary_term = match sort.field {
        SortField::QueuedAt => String::new(), // the primary *is* the age
        SortField::Department => format!("{primary} {dir} {nulls}, "),
        _ => format!("{primary} {dir}, "),
    };
    format!("{primary_term}age {dir}, id {dir}")
}

fn status_literals(filter: &InquiryFilter) -> Vec<&'static str> {
    filter.statuses.iter().map(|s| s.as_str()).collect()
}

/// The department and reservation conditions (statuses are handled by the caller), as SQL
/// over unqualified columns, or `None` when they match everything.
fn other_conditions(query: &mut Query, filter: &InquiryFilter, prefix: &str) -> Vec<String> {
    let mut conditions = Vec::new();
    if let DepartmentFilter::In(set) = &filter.departments {
        conditions.push(department_condition(query, set, prefix));
    }
    if let ReservationFilter::AvailableTo(agent) = &filter.reservation {
        let p = query.param(agent.as_str().to_owned());
        conditions.push(format!("({prefix}reserved_for IS NULL OR {prefix}reserved_for = {p})"));
    }
    conditions
}

fn department_condition(query: &mut Query, set: &BTreeSet<Option<lobby_core::DepartmentId>>, prefix: &str) -> String {
    let ids: Vec<String> = set.iter().flatten().map(|d| d.as_str().to_owned()).collect();
    let mut alternatives = Vec::new();
    match ids.as_slice() {
        [] => {}
        // One department (the usual case): a plain equality lets the planner walk the
        // (status, department, age, id) index in order, even with a generic plan.
        [one] => {
            let p = query.param(one.clone());
            alternatives.push(format!("{prefix}department = {p}"));
        }
        _ => {
            let p = query.param(ids);
            alternatives.push(format!("{prefix}department = ANY({p})"));
        }
    }
    if set.contains(&None) {
        alternatives.push(format!("{prefix}department IS NULL"));
    }
    if alternatives.is_empty() {
        "false".to_owned()
    } else {
        format!("({})", alternatives.join(" OR "))
    }
}

/// `status IN (…)` with the statuses inlined: they are a fixed set of words, and literals let
/// the planner pick the matching index range even for a generic plan.
fn status_condition(statuses: &[&str], prefix: &str) -> String {
    match statuses {
        [] => "false".to_owned(),
        [one] => format!("{prefix}status = '{one}'"),
        many => {
            let list: Vec<String> = many.iter().map(|s| format!("'{s}'")).collect();
            format!("{prefix}status IN ({})", list.join(", "))
        }
    }
}

fn and(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "true".to_owned()
    } else {
        conditions.join(" AND ")
    }
}

/// Whether `filter`'s total comes from the counters (no reservation filter) rather than COUNT.
pub(crate) fn total_from_counters(filter: &InquiryFilter) -> bool {
    matches!(filter.reservation, ReservationFilter::Any)
}

/// The listing query: one row with the total and the page's bodies in order, read in one
/// statement so both come from the same snapshot.
pub(crate) fn listing(schema: &str, filter: &InquiryFilter, sort: InquirySort, offset: usize, limit: usize) -> Query {
    let s = quote(schema);
    let mut query = Query::default();
    let statuses = status_literals(filter);

    // The total: from the counters when there is no reservation filter, else COUNT(*).
    let total = if total_from_counters(filter) {
        let buckets: Vec<String> = match &filter.departments {
            DepartmentFilter::Any => vec![ALL_BUCKET.to_owned()],
            DepartmentFilter::In(set) => set.iter().map(|d| bucket(d.as_ref().map(|d| d.as_str()))).collect(),
        };
        if statuses.is_empty() || buckets.is_empty() {
            "0::bigint".to_owned()
        } else {
            let p = query.param(buckets);
            format!(
                "SELECT coalesce(sum(n), 0)::bigint FROM {s}.inquiry_counts WHERE {} AND bucket = ANY({p})",
                status_condition(&statuses, "")
            )
        }
    } else {
        let mut conditions = vec![status_condition(&statuses, "")];
        conditions.extend(other_conditions(&mut query, filter, ""));
        format!("SELECT count(*) FROM {s}.inquiries WHERE {}", and(&conditions))
    };

    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let primary = primary_column(sort.field);
    let inner_order = order_terms(sort, primary);
    let outer_order = order_terms(sort, "p");
    let rest = other_conditions(&mut query, filter, "");
    let branch = |status_sql: String, limit_sql: &str| {
        let mut conditions = vec![status_sql];
        conditions.extend(rest.iter().cloned());
        format!(
            "SELECT body, {primary} AS p, age, id FROM {s}.inquiries WHERE {} ORDER BY {inner_order} {limit_sql}",
            and(&conditions)
        )
    };
    let page = if statuses.len() <= 1 || sort.field == SortField::Status {
        // One index range already delivers the order (for `status` order, (status, age, id)).
        let (o, l) = (query.param(offset), query.param(limit));
        branch(status_condition(&statuses, ""), &format!("LIMIT {l} OFFSET {o}"))
    } else {
        // Several statuses: take the first offset+limit of each status's index range and merge,
        // instead of sorting every waiting inquiry.
        let n = query.param(offset.saturating_add(limit));
        let branches: Vec<String> = statuses
            .iter()
            .map(|status| format!("({})", branch(status_condition(&[status], ""), &format!("LIMIT {n}"))))
            .collect();
        let (o, l) = (query.param(offset), query.param(limit));
        format!(
            "SELECT body, p, age, id FROM ({}) AS merged ORDER BY {outer_order} LIMIT {l} OFFSET {o}",
            branches.join(" UNION ALL ")
        )
    };
    query.sql = format!(
        "SELECT ({total}) AS total, (SELECT array_agg(body ORDER BY {outer_order}) FROM ({page}) AS page) AS bodies"
    );
    query
}

/// The `count_before` query: one row (if the inquiry exists) with its status, department and
/// reservation (to check the filter) and the number of matching inquiries before it.
pub(crate) fn count_before(schema: &str, filter: &InquiryFilter, sort: InquirySort, id: &str) -> Query {
    let s = quote(schema);
    let mut query = Query::default();
    let target = query.param(id.to_owned());
    let statuses = status_literals(filter);
    let mut conditions = vec![status_condition(&statuses, "i.")];
    conditions.extend(other_conditions(&mut query, filter, "i."));
    let tie = match sort.direction {
        Direction::Ascending => "(i.age, i.id) < (t.age, t.id)",
        Direction::Descending => "(i.age, i.id) > (t.age, t.id)",
    };
    let before = match (sort.field, sort.direction) {
        (SortField::QueuedAt, _) => tie.to_owned(),
        // NULL (no department) is the smallest department.
        (SortField::Department, Direction::Ascending) => format!(
            "((i.department IS NULL AND t.department IS NOT NULL) OR i.department < t.department
              OR (i.department IS NOT DISTINCT FROM t.department AND {tie}))"
        ),
        (SortField::Department, Direction::Descending) => format!(
            "((i.department IS NOT NULL AND t.department IS NULL) OR i.department > t.department
              OR (i.department IS NOT DISTINCT FROM t.department AND {tie}))"
        ),
        (field, direction) => {
            let c = primary_column(field);
            let op = if direction == Direction::Ascending { "<" } else { ">" };
            format!("(i.{c}, i.age, i.id) {op} (t.{c}, t.age, t.id)")
        }
    };
    conditions.push(before);
    query.sql = format!(
        "SELECT t.status, t.department, t.reserved_for,
                (SELECT count(*) FROM {s}.inquiries i WHERE {}) AS before
         FROM {s}.inquiries t WHERE t.id = {target}",
        and(&conditions)
    );
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use lobby_core::{InquiryStatus, StatusSet};

    #[test]
    fn placeholders_are_numbered_in_order() {
        let filter = InquiryFilter {
            statuses: StatusSet::waiting(),
            departments: DepartmentFilter::only(lobby_core::DepartmentId::new("d").unwrap()),
            reservation: ReservationFilter::AvailableTo(lobby_core::UserId::new("a").unwrap()),
        };
        let q = listing("lobby", &filter, InquirySort::ascending(SortField::QueuedAt), 0, 10);
        let highest = (1..=q.params.len()).rev().find(|n| q.sql.contains(&format!("${n}")));
        assert_eq!(highest, Some(q.params.len()));
        assert!(!q.sql.contains(&format!("${}", q.params.len() + 1)));
    }

    #[test]
    fn empty_status_sets_match_nothing() {
        let filter = InquiryFilter { statuses: StatusSet::of([]), ..InquiryFilter::status(InquiryStatus::Open) };
        let q = listing("lobby", &filter, InquirySort::default(), 0, 10);
        assert!(q.sql.contains("0::bigint") && q.sql.contains("false"));
    }
}
