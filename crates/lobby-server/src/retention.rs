//! The retention loop (`--retention`, `--retention-action`): every [`PASS_INTERVAL`] it runs a
//! [`RetentionPass`](lobby_core::RetentionPass) in small batches, one store commit each, pausing
//! between batches so takes and other commits are never held up by more than one batch.
//! Several servers on one PostgreSQL store may all run it: a batch that loses a race to another
//! server's retries or finds nothing left.

use std::time::Duration;

use lobby_core::RetentionPolicy;
use tokio::sync::watch;

use crate::SharedEngine;

/// How often a pass starts.
pub const PASS_INTERVAL: Duration = Duration::from_secs(60);

/// The pause between two batches of one pass.
pub const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Runs until `stop` turns true; does nothing when `policy` keeps everything.
pub async fn run(engine: SharedEngine, policy: RetentionPolicy, mut stop: watch::Receiver<bool>) {
    if policy.age.age().is_none() {
        return;
    }
    loop {
        let (inquiries, events) = pass(&engine, policy, &mut stop).await;
        if inquiries + events > 0 {
            tracing::info!(inquiries, events, action = policy.action.as_str(), "retention pass");
        }
        tokio::select! {
            biased;
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            () = tokio::time::sleep(PASS_INTERVAL) => {}
        }
    }
}

/// One pass, batch by batch; returns what it retired.
async fn pass(engine: &SharedEngine, policy: RetentionPolicy, stop: &mut watch::Receiver<bool>) -> (usize, usize) {
    let mut pass = engine.retention_pass(policy);
    let (mut inquiries, mut events) = (0, 0);
    loop {
        if *stop.borrow() {
            return (inquiries, events);
        }
        let batch = {
            let engine = std::sync::Arc::clone(engine);
            let mut current = pass.clone();
            tokio::task::spawn_blocking(move || engine.retire_batch(&mut current).map(|report| (report, current))).await
        };
        match batch {
            Ok(Ok((report, next))) => {
                pass = next;
                inquiries += report.inquiries;
                events += report.events;
                metrics::counter!("lobby_retired_inquiries_total").increment(report.inquiries as u64);
                metrics::counter!("lobby_retired_events_total").increment(report.events as u64);
                if report.finished {
                    return (inquiries, events);
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "retention batch failed; the next pass tries again");
                return (inquiries, events);
            }
            Err(error) => {
                tracing::error!(%error, "retention batch panicked");
                return (inquiries, events);
            }
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}
