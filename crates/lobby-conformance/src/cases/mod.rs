//! The conformance cases, one module per promise area. Every `pub fn` in these files is a case
//! (the build script lists them for the test macro); each takes a function that makes a fresh,
//! empty store, and panics — naming what it expected and what it got — when the store breaks a
//! promise.

pub mod deadlines;
pub mod events;
pub mod feed;
pub mod lifecycle;
pub mod listing;
pub mod offers;
pub mod races;
pub mod records;
pub mod retention;

use lobby_core::{Actor, Commit, EventKind, Inquiry, NewEvent, Record, Store, StoreError, Timestamp, Version, Write};

use crate::fixtures::{random_inquiry, rng};

/// A store maker, as the macro passes it.
pub type MakeStore<'a, S> = &'a dyn Fn() -> S;

/// An event that is about nothing in particular, told apart by `label`.
fn event(label: &str) -> NewEvent {
    NewEvent {
        at: Timestamp::from_millis(1),
        actor: Actor::System,
        inquiry: None,
        kind: EventKind::NoAgentFound { strategy: label.into(), department: None, reason: String::new() },
    }
}

/// Commits `writes` without events and returns their new versions.
fn put(store: &impl Store, writes: Vec<Write>) -> Result<Vec<Version>, StoreError> {
    store.commit(Commit { writes, events: vec![] }).map(|r| r.versions)
}

/// Commits `count` random inquiries, 50 per commit, and returns them.
fn seed_inquiries(store: &impl Store, count: usize, seed: u64) -> Vec<Inquiry> {
    let mut rng = rng(seed);
    let inquiries: Vec<Inquiry> = (0..count).map(|n| random_inquiry(n, &mut rng)).collect();
    for chunk in inquiries.chunks(50) {
        put(store, chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect()).expect("seed");
    }
    inquiries
}
