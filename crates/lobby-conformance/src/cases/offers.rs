//! Offers under contention, through the real engine: the offered agent accepting, the offer's
//! timeout firing and another agent taking the conversation, all at once, end in exactly one
//! outcome with consistent agent loads.

use std::sync::Arc;
use std::time::Duration;

use lobby_core::{
    Actor, CoreError, Engine, EngineConfig, InquiryStatus, ManualClock, NewInquiry, RoutingConfig, RoutingMethod,
    Store, StoreExt, TimerConfig, Timestamp,
};

use super::MakeStore;
use crate::fixtures::{add_named_agents, race, visitor};

/// What one racing thread saw.
#[derive(Debug)]
enum Outcome {
    Accepted,
    AcceptRefused,
    Fired(usize),
    Took,
    TakeRefused,
}

/// 8 threads race, round after round, over one conversation offered to ana: 3 accept it as
/// ana, 2 fire due deadlines on a server whose clock says the offer lapsed (servers' clocks
/// differ), and 3 take it as bob. Exactly one of "ana accepted" and "the offer lapsed"
/// happens; bob's take succeeds only when the lapsed offer went on to bob (who then accepts by
/// taking), at most once; refusals are the documented errors; and at the end every agent's load
/// equals what it holds.
pub fn accept_timeout_and_take_race_to_one_outcome<S: Store>(make: MakeStore<S>) {
    const ROUNDS: usize = 30;
    const OFFER: Duration = Duration::from_secs(30);
    let store = Arc::new(make());
    let start = Timestamp::from_millis(1_700_000_000_000);
    let server = |now: Timestamp| {
        let config = EngineConfig {
            routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
            timers: TimerConfig { offer_timeout: Some(OFFER), ..TimerConfig::default() },
            clock: Arc::new(ManualClock::new(now, 0)),
            ..EngineConfig::default()
        };
        Engine::with_config(Arc::clone(&store), config)
    };
    // Before the offer lapses, and after: the last millisecond of the offer, and its deadline.
    let early = server(start.plus_millis(OFFER.as_millis() as i64 - 1));
    let late = server(start.plus_millis(OFFER.as_millis() as i64));
    let ana = add_named_agents(&early, "ana", 1, 0).remove(0);
    let bob = add_named_agents(&early, "bob", 1, 0).remove(0);
    add_named_agents(&early, "cid", 1, 0);
    let offering = server(start);
    for round in 0..ROUNDS {
        let mut new = NewInquiry::new(visitor(round), format!("Visitor {round}"));
        new.default_agent = Some(ana.clone());
        let id = offering.enqueue(&Actor::System, new).unwrap().id;
        offering.dispatch(&Actor::System).unwrap();
        let offered = store.inquiry(&id).unwrap().unwrap().value;
        assert_eq!(offered.offered_to(), Some(&ana), "round {round}: offered to the reserved agent");

        let outcomes = race(8, |thread| match thread {
            0..=2 => match early.accept_offer(&Actor::User(ana.clone()), &id) {
                Ok(_) => Outcome::Accepted,
                Err(CoreError::NoPendingOffer | CoreError::OfferedToAnotherAgent) => Outcome::AcceptRefused,
                Err(other) => panic!("round {round}: accept failed with {other:?}"),
            },
            3..=4 => Outcome::Fired(late.fire_due().unwrap().fired),
            _ => match early.take(&Actor::User(bob.clone()), &id, None) {
                Ok(_) => Outcome::Took,
                Err(CoreError::OfferedToAnotherAgent | CoreError::InquiryAlreadyTaken | CoreError::NoPendingOffer) => {
                    Outcome::TakeRefused
                }
                Err(other) => panic!("round {round}: bob's take failed with {other:?}"),
            },
        });
        let accepted = outcomes.iter().filter(|o| matches!(o, Outcome::Accepted)).count();
        let fired: usize = outcomes.iter().map(|o| if let Outcome::Fired(n) = o { *n } else { 0 }).sum();
        let took = outcomes.iter().filter(|o| matches!(o, Outcome::Took)).count();
        assert_eq!(accepted + fired, 1, "round {round}: one of accept and lapse, not {outcomes:?}");
        assert!(took <= 1, "round {round}: bob took it {took} times: {outcomes:?}");
        let after = store.inquiry(&id).unwrap().unwrap().value;
        match (accepted, took) {
            (1, _) => {
                assert_eq!(took, 0, "round {round}: bob took what ana accepted: {outcomes:?}");
                assert_eq!((after.status, after.served_by_id()), (InquiryStatus::Taken, Some(&ana)), "round {round}");
            }
            (_, 1) => {
                assert_eq!((after.status, after.served_by_id()), (InquiryStatus::Taken, Some(&bob)), "round {round}");
            }
            _ => {
                assert_eq!(after.status, InquiryStatus::Offered, "round {round}: offered on after the lapse");
                assert_ne!(after.offered_to(), Some(&ana), "round {round}: never back to ana");
            }
        }
    }
    let report = store.check_integrity().unwrap();
    assert!(report.is_healthy(), "agent loads after the races: {report}");
}
