//! Group commit for [`Durability::FlushEveryCommit`](crate::Durability): a commit is applied to
//! sled under the commit lock, then waits *outside* it for a flush that covers it. The first
//! committer to find no flush running leads the next one: it first waits for every commit that
//! was already under way when it got there (entered, not yet applied or refused), then flushes
//! once for all of them. One flush per commit became one flush per group, so durable takes
//! scale with the number of committers instead of queueing behind one fsync each.
//!
//! Waiting for those already under way is not optional with sled 0.34: its `flush` holds a
//! lock that its transactions need, so nothing is applied while a flush runs, and a leader that
//! flushed at once would mostly flush for itself alone.
//!
//! sled's log is written in order, so a flush makes every commit applied before it durable, and
//! a crash can only lose a suffix of unacknowledged commits. Events reach the live feed only
//! after the flush that made them durable, in sequence order: a subscriber never sees an event
//! that a crash could take back.

use lobby_core::{Event, FeedHub};
use parking_lot::{Condvar, Mutex, MutexGuard};

/// Why a commit could not be made durable.
#[derive(Debug, Clone)]
pub(crate) struct FlushFailed {
    pub(crate) reason: String,
    pub(crate) disk_full: bool,
}

#[derive(Default)]
pub(crate) struct GroupFlush {
    state: Mutex<State>,
    flushed: Condvar,
}

#[derive(Default)]
struct State {
    /// Commits that have begun (see [`GroupFlush::enter`]).
    entered: u64,
    /// Commits that have been applied or refused since they began.
    settled: u64,
    /// Commits applied to sled so far; a commit's ticket is the count that includes it.
    applied: u64,
    /// Commits a finished flush covers.
    durable: u64,
    flushing: bool,
    /// Events of applied commits not yet published, in sequence order.
    unpublished: Vec<Event>,
    /// Set by a failed flush: what was applied may not be on disk, so nothing after it is
    /// acknowledged.
    failed: Option<FlushFailed>,
}

/// A commit under way, from [`GroupFlush::enter`] until it is applied or refused (dropped).
pub(crate) struct UnderWay<'a> {
    group: &'a GroupFlush,
}

impl Drop for UnderWay<'_> {
    fn drop(&mut self) {
        self.group.state.lock().settled += 1;
        self.group.flushed.notify_all();
    }
}

impl GroupFlush {
    /// Marks a commit as under way: a flush that starts before it is applied or refused waits
    /// for it. Call before taking the commit lock; drop the guard right after [`applied`] (or
    /// on any error), before waiting for durability.
    ///
    /// [`applied`]: GroupFlush::applied
    pub(crate) fn enter(&self) -> UnderWay<'_> {
        self.state.lock().entered += 1;
        UnderWay { group: self }
    }

    /// Records a commit just applied to sled and returns its ticket. Call under the commit lock,
    /// so tickets (and the events queued with them) follow commit order.
    pub(crate) fn applied(&self, events: Vec<Event>) -> u64 {
        let mut state = self.state.lock();
        state.applied += 1;
        state.unpublished.extend(events);
        state.applied
    }

    /// Publishes at once, without a flush (`Periodic`). Call under the commit lock.
    pub(crate) fn publish_now(&self, events: &[Event], feed: &FeedHub) {
        let _state = self.state.lock();
        feed.publish(events);
    }

    /// Returns once a flush that began after commit `ticket` was applied has succeeded, flushing
    /// itself when no flush is running, and publishing the events that flush made durable.
    pub(crate) fn wait_durable(
        &self,
        ticket: u64,
        flush: impl Fn() -> Result<(), sled::Error>,
        feed: &FeedHub,
    ) -> Result<(), FlushFailed> {
        let mut state = self.state.lock();
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if let Some(failed) = &state.failed {
                return Err(failed.clone());
            }
            if state.flushing {
                self.flushed.wait(&mut state);
                continue;
            }
            state.flushing = true;
            let under_way = state.entered;
            while state.settled < under_way {
                self.flushed.wait(&mut state);
            }
            let covers = state.applied;
            let events = std::mem::take(&mut state.unpublished);
            let flushed = MutexGuard::unlocked(&mut state, &flush);
            state.flushing = false;
            match flushed {
                Ok(()) => {
                    state.durable = covers;
                    // Under the state lock: groups publish one after another, in order.
                    feed.publish(&events);
                }
                Err(error) => {
                    state.failed = Some(FlushFailed {
                        disk_full: crate::error::is_disk_full(&error),
                        reason: format!("flush after a commit failed, so it may not be durable: {error}"),
                    });
                }
            }
            self.flushed.notify_all();
        }
    }

    /// Why the store stopped acknowledging commits, if a flush failed.
    pub(crate) fn failure(&self) -> Option<FlushFailed> {
        self.state.lock().failed.clone()
    }

    /// Whether a leader is waiting for commits under way before it flushes (for tests).
    #[cfg(test)]
    fn leader_waiting(&self) -> bool {
        let state = self.state.lock();
        state.flushing && state.settled < state.entered
    }

    /// Holds publishing still: a feed subscribed meanwhile starts between two published groups.
    pub(crate) fn hold_publishing(&self) -> impl Drop + '_ {
        self.state.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use lobby_core::{Actor, EventKind, EventSeq, NewEvent, Timestamp};

    use super::*;

    fn event(seq: u64) -> Event {
        let kind = EventKind::Enqueued { department: None };
        Event {
            seq: EventSeq(seq),
            event: NewEvent { at: Timestamp::epoch(), actor: Actor::System, inquiry: None, kind },
        }
    }

    /// Four commits applied while a flush runs are all made durable by the one flush after it,
    /// and the feed gets every event once, in order, only after its flush.
    #[test]
    fn committers_waiting_on_a_flush_share_the_next_one() {
        let group = GroupFlush::default();
        let feed = FeedHub::default();
        let subscription = feed.subscribe();
        let flushes = AtomicUsize::new(0);
        let (entered, first_flush_running) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        let flush = || {
            if flushes.fetch_add(1, Ordering::SeqCst) == 0 {
                entered.send(()).unwrap();
                released.lock().recv().unwrap();
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let first = group.applied(vec![event(1)]);
            let (group, flush, feed) = (&group, &flush, &feed);
            let leader = scope.spawn(move || group.wait_durable(first, flush, feed));
            first_flush_running.recv().unwrap();
            let waiters: Vec<_> = (2..=5)
                .map(|seq| {
                    let ticket = group.applied(vec![event(seq)]);
                    scope.spawn(move || group.wait_durable(ticket, flush, feed))
                })
                .collect();
            assert!(subscription.drain().is_empty(), "nothing is published before its flush");
            release.send(()).unwrap();
            leader.join().unwrap().unwrap();
            for waiter in waiters {
                waiter.join().unwrap().unwrap();
            }
        });
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        let seqs: Vec<u64> =
            std::iter::from_fn(|| subscription.next_timeout(Duration::ZERO)).map(|e| e.seq.0).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
    }

    /// A leader waits for a commit that was under way when it came, so one flush covers both.
    #[test]
    fn a_leader_waits_for_commits_under_way() {
        let group = GroupFlush::default();
        let feed = FeedHub::default();
        let flushes = AtomicUsize::new(0);
        let flush = || {
            flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let first = group.applied(vec![event(1)]);
        let second_under_way = group.enter();
        std::thread::scope(|scope| {
            let (group, flush, feed) = (&group, &flush, &feed);
            let leader = scope.spawn(move || group.wait_durable(first, flush, feed));
            while !group.leader_waiting() {
                assert!(!leader.is_finished(), "the leader flushed without waiting for the commit under way");
                std::thread::yield_now();
            }
            let second = group.applied(vec![event(2)]);
            drop(second_under_way);
            leader.join().unwrap().unwrap();
            group.wait_durable(second, flush, feed).unwrap();
        });
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
    }

    /// A failed flush fails every commit it was to cover and every commit after it, and
    /// publishes nothing.
    #[test]
    fn a_failed_flush_fails_its_commits_and_all_later_ones() {
        let group = GroupFlush::default();
        let feed = FeedHub::default();
        let subscription = feed.subscribe();
        let failing = || Err(sled::Error::Io(std::io::Error::from_raw_os_error(28)));
        let ticket = group.applied(vec![event(1)]);
        let failed = group.wait_durable(ticket, failing, &feed).unwrap_err();
        assert!(failed.disk_full, "{failed:?}");
        assert!(group.failure().is_some());
        let later = group.applied(vec![event(2)]);
        assert!(group.wait_durable(later, || Ok(()), &feed).is_err());
        assert!(subscription.drain().is_empty());
    }
}
