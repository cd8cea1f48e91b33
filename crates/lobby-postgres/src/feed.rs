//! The live event feed: a background thread with its own connection LISTENs on the schema's
//! channel and, on every notification, on every (re)connect and every `poll_interval` as a
//! safety net, reads the events after the last one it published and hands them to the
//! [`FeedHub`]. The event table is the source of truth and notifications only say "look now",
//! so nothing is lost while disconnected and a cursor keeps anything from being sent twice.
//!
//! Why reading "after the cursor" never misses an event and never has to wait for a number:
//! a commit takes the event counter row last and holds it until `COMMIT`, so number N+1 is
//! handed out only after the transaction that got N has ended. A snapshot that sees N+1
//! therefore sees every number below it that will ever exist, and the cursor can jump to the
//! highest number read, holes or not.
//!
//! Retention ([`Store::retire`](lobby_core::Store::retire)) leaves holes in `events` but keeps
//! that reasoning intact: it hands out no number and never takes the counter, so a hole it makes
//! is never an in-flight commit, and the cursor moving past it skips nothing. What it could do is
//! take an event out of `events` before the listener got to it (a listener lagging, or
//! reconnecting, while a retirement runs). So the feed reads `events` and `archived_events` in
//! one statement: one snapshot, in which a retirement is either not yet or wholly committed, so
//! each number is in exactly one of the two tables and comes out once, in order. Events retired
//! after the feed published them are at or below the cursor and are not read again. An event
//! *deleted* for good (`RetentionAction::Delete`) before any listener read it is not delivered:
//! retention only takes events older than its age, which a connected listener has long
//! published.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fallible_iterator_shim::next_notification;
use lobby_core::{Event, FeedHub, Subscription};
use parking_lot::Mutex;
use postgres::{Client, GenericClient};
use postgres_native_tls::MakeTlsConnector;

use crate::codec;
use crate::pool::StatementCache;
use crate::sql::Statements;
use crate::PostgresError;

/// How many events one catch-up query reads.
const BATCH: i64 = 1_000;
/// How often the listener wakes to check whether the store is being dropped.
const SLICE: Duration = Duration::from_millis(100);

/// The fan-out state shared by the store and its listener thread.
pub(crate) struct Feed {
    hub: FeedHub,
    /// The seq of the last event published; `None` until the first subscription.
    published: Mutex<Option<u64>>,
    listener: Mutex<Option<JoinHandle<()>>>,
    stop: AtomicBool,
    /// Events skipped because they could not be decoded (never expected; see `catch_up`).
    undecodable: std::sync::atomic::AtomicU64,
}

impl Feed {
    pub fn new() -> Self {
        Self {
            hub: FeedHub::default(),
            published: Mutex::new(None),
            listener: Mutex::new(None),
            stop: AtomicBool::new(false),
            undecodable: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Subscribes so that the feed carries exactly the events after `last_committed`, the
    /// counter's value read just before: older events are published to earlier subscribers
    /// first, while the new one is not yet listening.
    pub fn subscribe(
        &self,
        client: &mut impl GenericClient,
        cache: &mut StatementCache,
        sql: &Statements,
        last_committed: u64,
    ) -> Result<Subscription, postgres::Error> {
        let mut published = self.published.lock();
        match *published {
            None => *published = Some(last_committed),
            Some(at) if at < last_committed => catch_up_locked(&mut published, &self.hub, client, cache, sql, self)?,
            Some(_) => {}
        }
        Ok(self.hub.subscribe())
    }

    /// Reads and publishes every event after the cursor.
    fn catch_up(
        &self,
        client: &mut impl GenericClient,
        cache: &mut StatementCache,
        sql: &Statements,
    ) -> Result<(), postgres::Error> {
        let mut published = self.published.lock();
        catch_up_locked(&mut published, &self.hub, client, cache, sql, self)
    }

    pub fn undecodable(&self) -> u64 {
        self.undecodable.load(Ordering::Relaxed)
    }

    /// Starts the listener thread unless it runs already, and waits (at most `wait`) until it
    /// listens, so that a subscription made right after gets its notifications promptly.
    pub fn ensure_listener(self: &Arc<Self>, config: ListenerConfig, wait: Duration) {
        let mut slot = self.listener.lock();
        if slot.is_some() {
            return;
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let feed = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("lobby-pg-feed-{}", config.sql.schema))
            .spawn(move || listen(&feed, &config, &ready_tx));
        if let Ok(handle) = spawned {
            *slot = Some(handle);
            // If it cannot connect yet it keeps trying; the caller's own query reports a dead
            // server, and the periodic poll covers the gap.
            let _ = ready_rx.recv_timeout(wait);
        }
    }

    /// Stops the listener thread and waits for it (at most about one `SLICE`).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.listener.lock().take() {
            let _ = handle.join();
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn catch_up_locked(
    published: &mut Option<u64>,
    hub: &FeedHub,
    client: &mut impl GenericClient,
    cache: &mut StatementCache,
    sql: &Statements,
    feed: &Feed,
) -> Result<(), postgres::Error> {
    let Some(mut cursor) = *published else { return Ok(()) };
    let statement = cache.get(client, &sql.feed_after)?;
    loop {
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        let rows = client.query(&statement, &[&after, &BATCH])?;
        let mut batch: Vec<Event> = Vec::with_capacity(rows.len());
        for row in &rows {
            let (seq, body): (i64, String) = (row.get(0), row.get(1));
            match codec::decode_event(seq, &body) {
                Ok(event) => batch.push(event),
                // An event we cannot decode cannot be delivered; stalling the feed on it
                // would starve every later one, so skip it and count it.
                Err(_) => {
                    feed.undecodable.fetch_add(1, Ordering::Relaxed);
                }
            }
            cursor = cursor.max(u64::try_from(seq).unwrap_or(0));
        }
        hub.publish(&batch);
        *published = Some(cursor);
        if (rows.len() as i64) < BATCH {
            return Ok(());
        }
    }
}

/// What the listener thread needs to connect on its own.
pub(crate) struct ListenerConfig {
    pub pg: postgres::Config,
    pub tls: MakeTlsConnector,
    pub sql: Arc<Statements>,
    pub poll_interval: Duration,
}

fn listen(feed: &Feed, config: &ListenerConfig, ready: &mpsc::Sender<()>) {
    let mut backoff = Duration::from_millis(100);
    while !feed.stopping() {
        match connect(config) {
            Ok(mut client) => {
                let _ = ready.send(());
                backoff = Duration::from_millis(100);
                let mut cache = StatementCache::default();
                if serve(feed, config, &mut client, &mut cache).is_ok() {
                    return; // stopped
                }
            }
            Err(_) => {
                let _ = ready.send(()); // don't keep a subscriber waiting for a dead server
            }
        }
        // Disconnected: wait, then reconnect and catch up from the cursor.
        let until = Instant::now() + backoff;
        while Instant::now() < until && !feed.stopping() {
            std::thread::sleep(SLICE.min(until.saturating_duration_since(Instant::now())));
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn connect(config: &ListenerConfig) -> Result<Client, postgres::Error> {
    let mut client = config.pg.connect(config.tls.clone())?;
    // The channel name is the validated schema name plus a suffix: a plain identifier.
    client.batch_execute(&format!("LISTEN \"{}\"", config.sql.channel))?;
    Ok(client)
}

/// Serves one connection until it fails (`Err`) or the store is dropped (`Ok`).
fn serve(
    feed: &Feed,
    config: &ListenerConfig,
    client: &mut Client,
    cache: &mut StatementCache,
) -> Result<(), PostgresError> {
    // Catch up on whatever was committed while we were not listening.
    feed.catch_up(client, cache, &config.sql)?;
    let mut last_poll = Instant::now();
    loop {
        if feed.stopping() {
            return Ok(());
        }
        let notified = next_notification(client, SLICE)?;
        if client.is_closed() {
            return Err(PostgresError::ConnectionClosed);
        }
        if notified || last_poll.elapsed() >= config.poll_interval {
            // One read covers every notification queued so far.
            while next_notification(client, Duration::ZERO)? {}
            feed.catch_up(client, cache, &config.sql)?;
            last_poll = Instant::now();
        }
    }
}

/// The `fallible_iterator` calls on `postgres`'s notification iterators, kept in one place.
mod fallible_iterator_shim {
    use std::time::Duration;

    use postgres::fallible_iterator::FallibleIterator;
    use postgres::Client;

    /// Waits up to `timeout` for a notification (zero: only take one already received).
    pub fn next_notification(client: &mut Client, timeout: Duration) -> Result<bool, postgres::Error> {
        let mut notifications = client.notifications();
        let next = if timeout.is_zero() {
            notifications.iter().next()?
        } else {
            notifications.timeout_iter(timeout).next()?
        };
        Ok(next.is_some())
    }
}
