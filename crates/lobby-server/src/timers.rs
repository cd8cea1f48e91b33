//! The timer loop: sleeps until the next deadline any record holds, fires what is due
//! ([`Engine::fire_due`](lobby_core::Engine::fire_due)), and starts over. Deadlines live in the
//! store, not here, so a restart loses nothing and several servers on one PostgreSQL store can
//! all run this loop: each deadline acts once.
//!
//! The loop also wakes on the store's feed — any commit, from this server or another, may have
//! set an earlier deadline — and at least every [`BACKSTOP`], which only matters if the wall
//! clock jumps (sleeps are measured on the monotonic clock, deadlines on the wall clock).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::SharedEngine;

/// The longest the loop sleeps without looking at the next deadline again.
pub const BACKSTOP: Duration = Duration::from_secs(60);

/// Runs until `stop` turns true (or its sender is dropped). `fired` is notified after every
/// firing that acted, so the dispatcher can route what came back to the queue.
pub async fn run(engine: SharedEngine, fired: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let woken = Arc::new(Notify::new());
    let listening = Arc::new(AtomicBool::new(true));
    // Subscribing may read the store (PostgreSQL's blocking client), which must not run on a
    // runtime thread: it panicked there, and the panic ended this loop.
    let listener = {
        let (engine, woken, listening) = (Arc::clone(&engine), Arc::clone(&woken), Arc::clone(&listening));
        tokio::task::spawn_blocking(move || spawn_feed_listener(&engine, woken, listening)).await.ok().flatten()
    };
    loop {
        let next = {
            let engine = Arc::clone(&engine);
            tokio::task::spawn_blocking(move || engine.next_deadline()).await
        };
        let sleep = match next {
            Ok(Ok(Some(due))) => {
                let now = engine.config().clock.now();
                Duration::from_millis(due.millis_since(now)).min(BACKSTOP)
            }
            Ok(Ok(None)) => BACKSTOP,
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading the next deadline failed");
                Duration::from_secs(1)
            }
            Err(error) => {
                tracing::error!(%error, "reading the next deadline panicked");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            () = woken.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
        if *stop.borrow() {
            break;
        }
        let engine = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || engine.fire_due()).await {
            Ok(Ok(report)) if report.fired > 0 => {
                metrics::counter!("lobby_timer_firings_total").increment(report.fired as u64);
                tracing::info!(fired = report.fired, rescheduled = report.rescheduled, "timers fired");
                fired.notify_one();
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "firing timers failed"),
            Err(error) => tracing::error!(%error, "firing timers panicked"),
        }
    }
    listening.store(false, Ordering::Relaxed);
    if let Some(listener) = listener {
        let _ = tokio::task::spawn_blocking(move || listener.join()).await;
    }
    tracing::debug!("timer loop stopped");
}

/// A thread that wakes the loop on every committed event. Without a feed the loop still runs
/// on deadlines and the backstop.
fn spawn_feed_listener(
    engine: &SharedEngine,
    woken: Arc<Notify>,
    listening: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let feed = match engine.subscribe() {
        Ok(feed) => feed,
        Err(error) => {
            tracing::warn!(%error, "no feed for the timer loop; it wakes on deadlines only");
            return None;
        }
    };
    let spawned = std::thread::Builder::new().name("lobby-timer-feed".into()).spawn(move || {
        while listening.load(Ordering::Relaxed) {
            if feed.next_timeout(Duration::from_millis(500)).is_some() {
                feed.drain();
                woken.notify_one();
            }
        }
    });
    spawned.map_err(|error| tracing::warn!(%error, "no feed thread for the timer loop")).ok()
}
