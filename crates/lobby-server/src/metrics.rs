//! Prometheus metrics at `GET /metrics`, through the `metrics` facade and its Prometheus
//! exporter (text format; no listener of its own: the route is served on the API's address).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `lobby_http_request_duration_seconds` | histogram | `method`, `route` (the route's pattern), `status` |
//! | `lobby_queue_waiting` | gauge | `department` (name; `(public)` for the public queue) |
//! | `lobby_queue_oldest_wait_seconds` | gauge | |
//! | `lobby_agents` | gauge | `status` (`available`, `not-available`, `offline`) |
//! | `lobby_takes_total` | counter | |
//! | `lobby_store_conflicts_total` | counter | (a lost race: the engine re-reads and retries) |
//! | `lobby_dispatch_assignments_total`, `lobby_dispatch_releases_total` | counter | |
//! | `lobby_timer_firings_total` | counter | |
//! | `lobby_retired_inquiries_total`, `lobby_retired_events_total` | counter | |
//! | `lobby_store_commit_duration_seconds` | histogram | `outcome` (`ok`, `conflict`, `error`) |
//! | `lobby_stream_clients` | gauge | |
//! | `lobby_stream_slow_disconnects_total` | counter | |
//!
//! Counters and histograms count this process's own work, so they add up across servers;
//! the queue and agent gauges describe the shared queue, the same on every server.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lobby_core::{
    AgentAvailability, ArchiveKey, Commit, CommitReceipt, DueRecord, Event, EventQuery, Inquiry, InquiryFilter,
    InquiryId, InquiryQuery, InquirySort, IntegrityReport, Page, Record, RecordKey, RecordKind, Retirement,
    RetirementReceipt, Store, StoreError, Subscription, Timestamp, UniqueKey, Versioned,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::{AppState, SharedStore};

/// Histogram buckets for latencies, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder, once. If the embedding
/// program installed another recorder first, `/metrics` stays empty and says why in the log.
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("the buckets are not empty");
        match builder.install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "another metrics recorder is installed: /metrics stays empty");
                None
            }
        }
    });
}

/// Drains histogram samples into their buckets every few seconds (the exporter's own HTTP
/// listener would; ours is the API's), until `stop` turns true.
pub async fn upkeep(mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        if let Some(Some(handle)) = HANDLE.get() {
            handle.run_upkeep();
        }
    }
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render(State(state): State<AppState>) -> Response {
    update_gauges(&state);
    let text = match HANDLE.get() {
        Some(Some(handle)) => {
            handle.run_upkeep();
            handle.render()
        }
        _ => String::new(),
    };
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Sets the gauges that describe the present from the live state.
fn update_gauges(state: &AppState) {
    let live = state.live();
    let now = live.now();
    // Every known department, so that an emptied queue reads 0 rather than its last value.
    for (id, department) in now.departments() {
        let waiting = now.waiting_by_department().get(&Some(id.clone())).copied().unwrap_or(0);
        metrics::gauge!("lobby_queue_waiting", "department" => department.name.clone()).set(waiting as f64);
    }
    let public = now.waiting_by_department().get(&None).copied().unwrap_or(0);
    metrics::gauge!("lobby_queue_waiting", "department" => "(public)").set(public as f64);
    let clock_now = state.engine().config().clock.now();
    let oldest = now.oldest_waiting_since().map(|since| clock_now.millis_since(since) as f64 / 1000.0);
    metrics::gauge!("lobby_queue_oldest_wait_seconds").set(oldest.unwrap_or(0.0));
    for status in [AgentAvailability::Available, AgentAvailability::NotAvailable, AgentAvailability::Offline] {
        let count = now.agents().values().filter(|agent| agent.availability == status).count();
        metrics::gauge!("lobby_agents", "status" => status.as_str()).set(count as f64);
    }
    drop(now);
    metrics::gauge!("lobby_stream_clients").set(live.subscribers() as f64);
}

/// Times every request by route pattern (never the raw path: ids would make a label per
/// conversation) and status.
pub async fn track_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::histogram!("lobby_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A store that times its commits and counts lost races, and otherwise passes every call on.
pub struct MeteredStore {
    inner: SharedStore,
}

impl MeteredStore {
    /// Wraps `inner`.
    pub fn new(inner: SharedStore) -> Self {
        Self { inner }
    }
}

impl Store for MeteredStore {
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.inner.get(key)
    }
    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
        self.inner.find(key)
    }
    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
        self.inner.scan(kind)
    }
    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
        self.inner.list_inquiries(query)
    }
    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError> {
        self.inner.count_before(filter, sort, inquiry)
    }
    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
        self.inner.due(at, limit)
    }
    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        let started = Instant::now();
        let result = self.inner.commit(commit);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(StoreError::Conflict { .. }) => {
                metrics::counter!("lobby_store_conflicts_total").increment(1);
                "conflict"
            }
            Err(_) => "error",
        };
        metrics::histogram!("lobby_store_commit_duration_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        result
    }
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.inner.events(query)
    }
    fn subscribe(&self) -> Result<Subscription, StoreError> {
        self.inner.subscribe()
    }
    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        self.inner.retire(retirement)
    }
    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        self.inner.archived_inquiry(key)
    }
    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        self.inner.archived_inquiries(after, limit)
    }
    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.inner.archived_events(query)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        self.inner.check_integrity()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every metric the code records, by scanning the sources for the `metrics` macros.
    fn recorded_metrics() -> Vec<String> {
        fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut names = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for macro_name in ["counter!(", "gauge!(", "histogram!("] {
                for (at, _) in text.match_indices(macro_name) {
                    let rest = text[at + macro_name.len()..].trim_start();
                    let name = rest.strip_prefix('"').and_then(|r| r.split('"').next()).unwrap_or_default();
                    // (This test's own list of macro names is not a metric.)
                    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        names.push(name.to_owned());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The metrics table in docs/operations.md and this module's doc must name every metric
    /// the code records: users build dashboards from the table.
    #[test]
    fn every_recorded_metric_is_documented() {
        let names = recorded_metrics();
        assert!(names.len() >= 10, "the scan found too few metrics: {names:?}");
        let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md"))
            .expect("docs/operations.md");
        let module = include_str!("metrics.rs");
        for name in &names {
            let cell = format!("`{name}`");
            assert!(guide.contains(&cell), "{name} is recorded but not in docs/operations.md's metrics table");
            assert!(
                module.contains(&format!("//! | {cell}")) || module.contains(&format!(", {cell}")),
                "{name} is recorded but not in the metrics module's table"
            );
        }
    }
}
