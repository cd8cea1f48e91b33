//! The event log: numbered 1, 2, 3, … in commit order without gaps, and read back by position,
//! by inquiry and with a limit.

use lobby_core::{Commit, EventQuery, EventSeq, InquiryId, NewEvent, Record, Store, StoreError, Version, Write};

use super::{event, MakeStore};
use crate::fixtures::agent_record;

/// The first event is number 1; every next one is one more, within a commit and across
/// commits, and a failed commit uses up no number.
pub fn events_are_numbered_from_one_without_gaps<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut numbers = Vec::new();
    for (n, size) in [1usize, 3, 0, 2, 1].into_iter().enumerate() {
        let events = (0..size).map(|k| event(&format!("{n}-{k}"))).collect();
        let receipt = store.commit(Commit { writes: vec![], events }).unwrap();
        numbers.extend(receipt.events.iter().map(|e| e.seq.0));
        // A commit that fails must not consume numbers.
        let stale = Write::update(Version(u64::MAX - 1), Record::Agent(agent_record("nobody")));
        let failed = store.commit(Commit { writes: vec![stale], events: vec![event("failed")] });
        assert!(matches!(failed, Err(StoreError::Conflict { .. })), "a stale write: {failed:?}");
    }
    assert_eq!(numbers, (1..=7).collect::<Vec<u64>>(), "event numbers, in commit order");
    let stored: Vec<u64> = store.events(&EventQuery::all()).unwrap().iter().map(|e| e.seq.0).collect();
    assert_eq!(stored, numbers, "the numbers the log holds");
}

/// Events read back in sequence order by position (`after`), by inquiry and with a limit;
/// `limit: 0` returns none.
pub fn events_read_back_by_position_inquiry_and_limit<S: Store>(make: MakeStore<S>) {
    let store = make();
    let about = |id: &str, label: &str| NewEvent { inquiry: Some(InquiryId::new(id).unwrap()), ..event(label) };
    store.commit(Commit { writes: vec![], events: vec![about("i1", "a"), about("i2", "b")] }).unwrap();
    store.commit(Commit { writes: vec![], events: vec![about("i1", "c"), event("d")] }).unwrap();
    let seqs = |query: EventQuery| -> Vec<u64> { store.events(&query).unwrap().iter().map(|e| e.seq.0).collect() };
    let all = store.events(&EventQuery::all()).unwrap();
    assert_eq!(all.iter().map(|e| e.seq.0).collect::<Vec<_>>(), vec![1, 2, 3, 4], "every event");
    assert_eq!(all[0].event, about("i1", "a"), "an event reads back as committed");
    assert_eq!(seqs(EventQuery::all().after(EventSeq(2))), vec![3, 4], "after 2");
    assert_eq!(seqs(EventQuery::all().after(EventSeq(4))), Vec::<u64>::new(), "after the last");
    assert_eq!(seqs(EventQuery::all().about(InquiryId::new("i1").unwrap())), vec![1, 3], "about i1");
    assert_eq!(seqs(EventQuery::all().about(InquiryId::new("i1").unwrap()).after(EventSeq(1))), vec![3], "i1 after 1");
    assert_eq!(seqs(EventQuery::all().limit(3)), vec![1, 2, 3], "limit 3");
    assert_eq!(seqs(EventQuery::all().after(EventSeq(1)).limit(1)), vec![2], "after 1, limit 1");
    assert_eq!(seqs(EventQuery::all().limit(0)), Vec::<u64>::new(), "limit 0 means no events");
    assert_eq!(seqs(EventQuery::all().after(EventSeq(u64::MAX))), Vec::<u64>::new(), "after u64::MAX");
}
