//! Live operations: one thread per server follows the store's feed (every server's commits, on
//! PostgreSQL), turns each event into a [`LiveEvent`] once, keeps the present ([`NowState`]) and
//! the recent past ([`WindowLog`]) current, and broadcasts the event to the streams.
//!
//! The broadcast channel is bounded. Sending never waits, so a commit never waits for a
//! stream; a stream that falls more than [`LiveConfig::buffer`] events behind finds out on its
//! next receive and is disconnected, and its client resumes from the durable log.

pub mod event;
pub mod now;
pub mod window;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lobby_core::{
    Clock, EventQuery, EventSeq, InquiryFilter, InquiryQuery, InquirySort, InquiryStatus, SortField, StatusSet,
    StoreError, StoreExt, Timestamp,
};
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use tokio::sync::broadcast;

pub use self::event::{Change, LiveEvent};
pub use self::now::NowState;
pub use self::window::{Fact, Point, WindowLog, WindowSummary};
use crate::SharedStore;

/// How the live views behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Events a stream may fall behind before it is disconnected.
    pub buffer: usize,
    /// How often a stream sends a heartbeat when nothing else happens.
    pub heartbeat: Duration,
    /// The longest gap a resuming stream replays from the log; beyond it the stream says
    /// `reset` and the client reloads its view.
    pub replay_limit: u64,
    /// Takes within this wait meet the service level (`inquiries.stats`).
    pub service_level: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            buffer: 1024,
            heartbeat: Duration::from_secs(15),
            replay_limit: 100_000,
            service_level: Duration::from_secs(20),
        }
    }
}

/// Events read per query when the hub or a stream reads the log.
pub const LOG_PAGE: usize = 500;

/// The live views of one server. Dropping it stops its thread and waits for it, so that the
/// store is released (sled allows one process per directory).
pub struct LiveHub {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    store: SharedStore,
    clock: Arc<dyn Clock>,
    config: LiveConfig,
    sender: broadcast::Sender<Arc<LiveEvent>>,
    now: RwLock<NowState>,
    window: Mutex<WindowLog>,
    stop: AtomicBool,
    /// Set once the present and the recent past have been read.
    ready: AtomicBool,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl LiveHub {
    /// Starts following `store`.
    pub fn start(store: SharedStore, clock: Arc<dyn Clock>, config: LiveConfig) -> Self {
        let (sender, _) = broadcast::channel(config.buffer.max(1));
        let shared = Arc::new(Shared {
            store,
            clock,
            config,
            sender,
            now: RwLock::new(NowState::default()),
            window: Mutex::new(WindowLog::default()),
            stop: AtomicBool::new(false),
            ready: AtomicBool::new(false),
        });
        let following = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name("lobby-live".into()).spawn(move || follow(&following));
        let thread = spawned
            .map_err(|error| tracing::error!(%error, "cannot start the live thread: streams and statistics stay empty"))
            .ok();
        Self { shared, thread }
    }

    /// The configuration.
    pub fn config(&self) -> LiveConfig {
        self.shared.config
    }

    /// Every event from now on (subscribe before reading the log, then skip what was read).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.shared.sender.subscribe()
    }

    /// How many streams are connected.
    pub fn subscribers(&self) -> usize {
        self.shared.sender.receiver_count()
    }

    /// The present.
    pub fn now(&self) -> RwLockReadGuard<'_, NowState> {
        self.shared.now.read()
    }

    /// Whether the present and the recent past have been read from the store.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }

    /// Summaries of `[from, to]`, one per window.
    pub fn summaries(&self, windows: &[(Timestamp, Timestamp)], threshold: Duration) -> Vec<WindowSummary> {
        let window = self.shared.window.lock();
        let threshold_ms = threshold.as_millis() as u64;
        windows.iter().map(|(from, to)| window.summary(*from, *to, threshold_ms)).collect()
    }

    /// The last `minutes` minutes, one point a minute.
    pub fn series(&self, now: Timestamp, minutes: usize, threshold: Duration) -> Vec<Point> {
        let waiting = self.shared.now.read().waiting();
        self.shared.window.lock().series(now, waiting, minutes, threshold.as_millis() as u64)
    }
}

impl Drop for LiveHub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The sequence number of the newest event (0 for an empty log): O(log n) probes of
/// `events(after(x).limit(1))`, each O(log n) on every store.
pub fn head(store: &SharedStore) -> Result<u64, StoreError> {
    let exists = |seq: u64| -> Result<bool, StoreError> {
        if seq == 0 {
            return Ok(true);
        }
        Ok(!store.events(&EventQuery::all().after(EventSeq(seq - 1)).limit(1))?.is_empty())
    };
    // Invariant: `low` exists (0 always does), `high` does not.
    let mut low = 0u64;
    let mut high = 1u64;
    while exists(high)? {
        low = high;
        high = high.saturating_mul(2);
        if high == u64::MAX {
            break;
        }
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if exists(middle)? {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// The sequence number of the last event before `at` (0 if none): a binary search over
/// sequence numbers, O(log² n). Event times follow sequence order up to clock differences
/// between servers, which only blur the edge.
pub fn last_before(store: &SharedStore, at: Timestamp, head: u64) -> Result<u64, StoreError> {
    let time_of = |seq: u64| -> Result<Option<Timestamp>, StoreError> {
        let found = store.events(&EventQuery::all().after(EventSeq(seq - 1)).limit(1))?;
        Ok(found.first().map(|event| event.event.at))
    };
    // Invariant: events up to `low` are before `at` (0: none), from `high` on they are not.
    let (mut low, mut high) = (0u64, head + 1);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        match time_of(middle)? {
            Some(time) if time < at => low = middle,
            _ => high = middle,
        }
    }
    Ok(low)
}

/// The hub's thread: subscribe, read the present and the recent past, then follow the feed.
fn follow(shared: &Shared) {
    let feed = loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        match shared.store.subscribe() {
            Ok(feed) => break feed,
            Err(error) => {
                tracing::warn!(%error, "live views cannot subscribe yet; retrying");
                pause(shared);
            }
        }
    };
    // Subscribed first: whatever the reads below miss arrives on the feed, and applying an
    // event twice leaves the same state.
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        match load(shared) {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, "reading the live state failed; retrying");
                pause(shared);
            }
        }
    }
    shared.ready.store(true, Ordering::Release);
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(event) = feed.next_timeout(Duration::from_millis(100)) else { continue };
        let seq = event.seq.0;
        let live = match LiveEvent::load(&shared.store, event) {
            Ok(live) => Arc::new(live),
            Err(error) => {
                tracing::warn!(%error, seq, "reading what an event names failed; streams get it from the log");
                continue;
            }
        };
        shared.now.write().apply(&live);
        {
            let mut window = shared.window.lock();
            let queued_at = live.inquiry.as_ref().map(|inquiry| inquiry.age_key());
            window.push(seq, Fact::of(&live.event, || queued_at));
            window.trim(retention_start(shared.clock.now()));
        }
        // No subscriber is not an error.
        let _ = shared.sender.send(live);
    }
}

/// Waits a second before retrying, waking early to stop.
fn pause(shared: &Shared) {
    for _ in 0..10 {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The earlier of today's midnight (UTC) and an hour ago.
pub fn retention_start(now: Timestamp) -> Timestamp {
    today_start(now).min(now.plus_millis(-3_600_000))
}

/// Midnight (UTC) of `now`'s day.
pub fn today_start(now: Timestamp) -> Timestamp {
    now.plus_millis(-now.as_millis().rem_euclid(86_400_000))
}

/// Reads agents, departments, every conversation not closed, and the facts of the retention.
fn load(shared: &Shared) -> Result<(), StoreError> {
    let store = &shared.store;
    let mut now = NowState::default();
    for agent in store.agents()? {
        now.set_agent(&agent.value.id.clone(), Some(agent.value));
    }
    for department in store.departments()? {
        now.set_department(&department.value.id.clone(), Some(department.value));
    }
    let mut offset = 0;
    loop {
        let query = InquiryQuery {
            filter: InquiryFilter {
                statuses: StatusSet::of([
                    InquiryStatus::Queued,
                    InquiryStatus::Open,
                    InquiryStatus::Offered,
                    InquiryStatus::Taken,
                ]),
                ..InquiryFilter::all()
            },
            sort: InquirySort::ascending(SortField::Ts),
            offset,
            limit: 1000,
        };
        let page = store.list_inquiries(&query)?;
        for inquiry in &page.items {
            now.set_inquiry(inquiry);
        }
        offset += page.items.len();
        if page.items.is_empty() || offset >= page.total {
            break;
        }
    }
    *shared.now.write() = now;

    let head = head(store)?;
    let start = last_before(store, retention_start(shared.clock.now()), head)?;
    let mut window = WindowLog::default();
    let mut after = start;
    loop {
        let events = store.events(&EventQuery::all().after(EventSeq(after)).limit(LOG_PAGE))?;
        let Some(last) = events.last() else { break };
        after = last.seq.0;
        for event in events {
            let fact = Fact::of(&event, || {
                let id = event.event.inquiry.as_ref()?;
                store.inquiry(id).ok().flatten().map(|found| found.value.age_key())
            });
            window.push(event.seq.0, fact);
        }
    }
    window.trim(retention_start(shared.clock.now()));
    // The feed is read only after this returns, so nothing newer is lost by replacing.
    *shared.window.lock() = window;
    Ok(())
}

#[cfg(test)]
mod tests {
    use lobby_core::{Actor, Engine, NewInquiry, VisitorId, VisitorSummary};
    use lobby_memory::MemoryStore;

    use super::*;

    #[test]
    fn head_and_time_search_find_their_events() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        assert_eq!(head(&store).unwrap(), 0);
        let clock = Arc::new(lobby_core::ManualClock::new(Timestamp::from_millis(1_000_000), 0));
        let config = lobby_core::EngineConfig { clock: clock.clone(), ..lobby_core::EngineConfig::default() };
        let engine = Engine::with_config(Arc::clone(&store), config);
        for n in 0..37 {
            let visitor = VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), "guest", format!("t{n}"));
            engine.enqueue(&Actor::System, NewInquiry::new(visitor, "x")).unwrap();
            clock.advance(1000);
        }
        assert_eq!(head(&store).unwrap(), 37);
        // Event n (1-based) happened at 1_000_000 + (n-1) s.
        assert_eq!(last_before(&store, Timestamp::from_millis(1_010_000), 37).unwrap(), 10);
        assert_eq!(last_before(&store, Timestamp::from_millis(1_010_001), 37).unwrap(), 11);
        assert_eq!(last_before(&store, Timestamp::from_millis(0), 37).unwrap(), 0);
        assert_eq!(last_before(&store, Timestamp::from_millis(9_000_000), 37).unwrap(), 37);
    }

    #[test]
    fn midnight_is_the_start_of_the_utc_day() {
        let noon = Timestamp::from_millis(86_400_000 * 3 + 43_200_000);
        assert_eq!(today_start(noon), Timestamp::from_millis(86_400_000 * 3));
        assert_eq!(retention_start(noon), Timestamp::from_millis(86_400_000 * 3));
        let early = Timestamp::from_millis(86_400_000 * 3 + 60_000);
        assert_eq!(retention_start(early), early.plus_millis(-3_600_000));
    }
}
