//! The background dispatcher: calls [`lobby_core::Engine::dispatch`] every interval and whenever
//! woken (a new inquiry, an agent became available, a conversation was closed or returned), so
//! queued inquiries are released to agents, or assigned under an automatic routing method,
//! without anyone asking. Dispatch is safe to run concurrently with requests (and with other
//! servers on a shared store): every assignment is one atomic commit.

use std::sync::Arc;
use std::time::Duration;

use lobby_core::Actor;
use tokio::sync::{watch, Notify};

use crate::SharedEngine;

/// Runs until `stop` turns true (or its sender is dropped).
pub async fn run(engine: SharedEngine, wake: Arc<Notify>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            () = wake.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
        if *stop.borrow() {
            break;
        }
        let engine = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || engine.dispatch(&Actor::System)).await {
            Ok(Ok(report)) if report.released + report.assigned > 0 => {
                metrics::counter!("lobby_dispatch_assignments_total").increment(report.assigned as u64);
                metrics::counter!("lobby_dispatch_releases_total").increment(report.released as u64);
                tracing::info!(
                    released = report.released,
                    assigned = report.assigned,
                    waiting = report.unassigned,
                    "dispatch"
                )
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "dispatch failed"),
            Err(error) => tracing::error!(%error, "dispatch panicked"),
        }
    }
    tracing::debug!("dispatcher stopped");
}
