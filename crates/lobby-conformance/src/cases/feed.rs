//! Feeds: a subscription carries exactly the events of the commits not yet acknowledged when
//! `subscribe` returned, in sequence order, each once — whether it subscribes before, after or
//! while others commit, and however many subscribe.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lobby_core::{Commit, Store, Subscription};

use super::{event, MakeStore};
use crate::fixtures::race;

/// How long a feed may take to deliver an event it owes: only bounds a hang.
const DELIVERY_CEILING: Duration = Duration::from_secs(60);
/// How long to watch for an event a feed must not deliver, after everything it owes arrived.
const QUIET: Duration = Duration::from_millis(50);

/// Commits one event and returns its number.
fn commit_one<S: Store>(store: &S, label: &str) -> u64 {
    store.commit(Commit { writes: vec![], events: vec![event(label)] }).unwrap().events[0].seq.0
}

/// Everything `feed` delivers until it has delivered `last` (or the ceiling passes), then
/// whatever else arrives within [`QUIET`].
fn read_feed(feed: &Subscription, last: Option<u64>) -> Vec<u64> {
    let mut seen = Vec::new();
    if let Some(last) = last {
        while !seen.contains(&last) {
            match feed.next_timeout(DELIVERY_CEILING) {
                Some(event) => seen.push(event.seq.0),
                None => panic!("the feed never delivered event {last} ({DELIVERY_CEILING:?}); it delivered {seen:?}"),
            }
        }
    }
    while let Some(event) = feed.next_timeout(QUIET) {
        seen.push(event.seq.0);
    }
    seen
}

/// Many threads commit at once, over several rounds: a subscriber sees every event, in
/// sequence order, once.
pub fn feeds_deliver_every_commit_once_in_order<S: Store>(make: MakeStore<S>) {
    const ROUNDS: usize = 10;
    const THREADS: usize = 4;
    const COMMITS: usize = 25;
    let store = make();
    for round in 0..ROUNDS {
        let feed = store.subscribe().unwrap();
        let committed: Vec<Vec<u64>> = race(THREADS, |thread| {
            (0..COMMITS).map(|n| commit_one(&store, &format!("{round}-{thread}-{n}"))).collect()
        });
        let mut expected: Vec<u64> = committed.into_iter().flatten().collect();
        expected.sort_unstable();
        let seen = read_feed(&feed, expected.last().copied());
        assert_eq!(seen, expected, "round {round}: the feed's events, against the commits' (sorted)");
    }
}

/// A subscriber never sees the events of commits acknowledged before `subscribe` returned.
pub fn subscribers_do_not_see_earlier_commits<S: Store>(make: MakeStore<S>) {
    let store = make();
    for n in 0..5 {
        commit_one(&store, &format!("before-{n}"));
    }
    let feed = store.subscribe().unwrap();
    let after: Vec<u64> = (0..3).map(|n| commit_one(&store, &format!("after-{n}"))).collect();
    let seen = read_feed(&feed, after.last().copied());
    assert_eq!(seen, after, "a late subscriber's events: only those committed after it subscribed");
}

/// Subscribers that come at different times each see exactly the commits after their own
/// subscription.
pub fn several_subscribers_each_see_their_own_suffix<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut feeds = Vec::new();
    let mut committed = Vec::new();
    for wave in 0..3 {
        feeds.push(store.subscribe().unwrap());
        committed.extend((0..3).map(|n| commit_one(&store, &format!("{wave}-{n}"))));
    }
    for (wave, feed) in feeds.iter().enumerate() {
        let expected = &committed[wave * 3..];
        let seen = read_feed(feed, expected.last().copied());
        assert_eq!(seen, expected, "the subscriber of wave {wave}");
    }
}

/// One commit of [`subscribing_while_others_commit_starts_between_two_commits`]: its event's
/// number, whether it finished before `subscribe` was called, and whether it started after
/// `subscribe` returned.
type Committed = (u64, bool, bool);

/// A subscription made while others commit starts exactly between two commits: it delivers
/// every commit started after `subscribe` returned, none that finished before it was called,
/// and no hole — the events it delivers are all of the log from its first one on.
pub fn subscribing_while_others_commit_starts_between_two_commits<S: Store>(make: MakeStore<S>) {
    const ROUNDS: usize = 20;
    const COMMITTERS: usize = 3;
    const COMMITS: usize = 20;
    let store = make();
    for round in 0..ROUNDS {
        let calling = AtomicBool::new(false);
        let returned = AtomicBool::new(false);
        let mut feed = None;
        let results: Vec<(Option<Subscription>, Vec<Committed>)> = race(COMMITTERS + 1, |thread| {
            if thread == COMMITTERS {
                // Subscribe once the committers are under way.
                for _ in 0..(round % 5) * 20 {
                    std::thread::yield_now();
                }
                calling.store(true, Ordering::SeqCst);
                let subscription = store.subscribe().unwrap();
                returned.store(true, Ordering::SeqCst);
                return (Some(subscription), vec![]);
            }
            let commits = (0..COMMITS)
                .map(|n| {
                    let started_after = returned.load(Ordering::SeqCst);
                    let seq = commit_one(&store, &format!("{round}-{thread}-{n}"));
                    let finished_before = !calling.load(Ordering::SeqCst);
                    (seq, finished_before, started_after)
                })
                .collect();
            (None, commits)
        });
        let mut commits = Vec::new();
        for (subscription, mine) in results {
            feed = feed.or(subscription);
            commits.extend(mine);
        }
        commits.sort_unstable();
        let feed = feed.expect("the subscriber thread subscribed");
        let must: BTreeSet<u64> = commits.iter().filter(|c| c.2).map(|c| c.0).collect();
        let must_not: BTreeSet<u64> = commits.iter().filter(|c| c.1).map(|c| c.0).collect();
        let seen = read_feed(&feed, must.last().copied());
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "round {round}: out of order or repeated: {seen:?}");
        for seq in &must {
            assert!(
                seen.contains(seq),
                "round {round}: event {seq}, committed after subscribe returned, is missing: {seen:?}"
            );
        }
        for seq in &seen {
            assert!(!must_not.contains(seq), "round {round}: event {seq} was acknowledged before subscribe was called");
        }
        if let Some(first) = seen.first() {
            let suffix: Vec<u64> = commits.iter().map(|c| c.0).filter(|s| s >= first).collect();
            assert_eq!(seen, suffix, "round {round}: the feed must carry every event from its first one on");
        }
    }
}
