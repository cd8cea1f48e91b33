//! Offer mode on a `ManualClock`: dispatch offers a conversation to one agent, whose slot it
//! holds; the agent accepts or declines; an offer that lapses at its deadline (not a millisecond
//! before) goes to the next agent, never back; missed offers in a row set an agent away.

mod common;

use std::time::Duration;

use lobby_core::machine::TransitionKind;
use lobby_core::*;
use lobby_memory::MemoryStore;

use common::*;

fn offers(seconds: u64) -> TimerConfig {
    TimerConfig { offer_timeout: Some(Duration::from_secs(seconds)), ..TimerConfig::default() }
}

fn load(engine: &Engine<MemoryStore>, agent: &UserId) -> (u32, usize, usize, u32) {
    let agent = engine.agent(agent).unwrap().unwrap();
    (agent.active_chats, agent.chats.len(), agent.offers.len(), agent.missed_offers)
}

fn transitions(engine: &Engine<MemoryStore>, inquiry: &Inquiry) -> Vec<TransitionKind> {
    engine
        .history(&Actor::System, &inquiry.id)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::Transition { transition, .. } => Some(transition),
            _ => None,
        })
        .collect()
}

fn healthy(engine: &Engine<MemoryStore>) {
    let report = engine.store().check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");
}

#[test]
fn dispatch_offers_and_a_lapsed_offer_goes_to_the_next_agent_at_its_deadline() {
    let setup = setup(RoutingMethod::AutoSelection, offers(30));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let inquiry = conversation(engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    let offered = current(engine, &inquiry);
    assert_eq!((offered.status, offered.offered_to()), (InquiryStatus::Offered, Some(&ana)));
    assert_eq!(offered.offer.as_ref().unwrap().expires_at, Timestamp::from_millis(START + 30 * SECOND));
    assert_eq!(load(engine, &ana), (1, 0, 1, 0), "the offer holds a slot");
    let pending = engine.pending_offers(&Actor::User(ana.clone()), None).unwrap();
    assert_eq!(pending.iter().map(|i| &i.id).collect::<Vec<_>>(), [&inquiry.id]);
    // bob arrives while the offer is pending: nothing changes for it.
    let bob = agent(engine, "bob", &[]);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &inquiry).offered_to(), Some(&ana));

    assert_eq!(fire_at(&setup, 30 * SECOND - 1).fired, 0, "not a millisecond early");
    assert_eq!(fire_at(&setup, 30 * SECOND).fired, 1);
    let moved = current(engine, &inquiry);
    assert_eq!((moved.status, moved.offered_to()), (InquiryStatus::Offered, Some(&bob)));
    assert_eq!(moved.offer.as_ref().unwrap().expires_at, Timestamp::from_millis(START + 60 * SECOND));
    assert_eq!(moved.excluded_agents, std::slice::from_ref(&ana));
    assert_eq!(moved.queued_at, inquiry.queued_at, "it keeps its queue age");
    assert_eq!(load(engine, &ana), (0, 0, 0, 1), "ana's slot is free; one missed offer");
    assert_eq!(load(engine, &bob), (1, 0, 1, 0));
    assert_eq!(
        timer_outcomes(engine, &inquiry),
        [(TimerRule::OfferTimeout, "ana did not answer the offer in time".into())]
    );

    // bob lets it lapse too: nobody else may have it, so it waits in the queue.
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    engine.dispatch(&Actor::System).unwrap();
    let waiting = current(engine, &inquiry);
    assert_eq!((waiting.status, waiting.offer.is_none()), (InquiryStatus::Open, true));
    use TransitionKind::*;
    assert_eq!(transitions(engine, &inquiry), [Offer, ExpireOffer, Offer, ExpireOffer, Release]);
    healthy(engine);
}

#[test]
fn accepting_serves_it_and_a_lapsed_offer_can_no_longer_be_accepted() {
    let setup = setup(RoutingMethod::AutoSelection, offers(30));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let first = conversation(engine, 1, None);
    let second = conversation(engine, 2, None);
    engine.dispatch(&Actor::System).unwrap();
    let as_ana = Actor::User(ana.clone());

    setup.clock.advance(30 * SECOND - 1);
    let taken = engine.accept_offer(&as_ana, &first.id).unwrap();
    assert_eq!((taken.status, taken.served_by_id(), taken.offer.is_none()), (InquiryStatus::Taken, Some(&ana), true));
    assert!(matches!(engine.accept_offer(&as_ana, &first.id), Err(CoreError::NoPendingOffer)));
    // At its deadline, even before the timer loop runs, the second one cannot be accepted.
    setup.clock.advance(1);
    assert!(matches!(engine.accept_offer(&as_ana, &second.id), Err(CoreError::OfferExpired)));
    assert!(matches!(engine.take(&as_ana, &second.id, None), Err(CoreError::OfferExpired)));
    assert_eq!(engine.fire_due().unwrap().fired, 1);
    assert_eq!(load(engine, &ana), (1, 1, 0, 1));
    healthy(engine);
}

#[test]
fn the_offered_agent_may_take_it_and_nobody_else_may() {
    let setup = setup(RoutingMethod::AutoSelection, offers(30));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let inquiry = conversation(engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    let bob = agent(engine, "bob", &[]);
    let as_bob = Actor::User(bob.clone());
    assert!(matches!(engine.take(&as_bob, &inquiry.id, None), Err(CoreError::OfferedToAnotherAgent)));
    assert!(matches!(engine.accept_offer(&as_bob, &inquiry.id), Err(CoreError::OfferedToAnotherAgent)));
    assert!(matches!(engine.reject_offer(&as_bob, &inquiry.id, ""), Err(CoreError::OfferedToAnotherAgent)));
    // A manager taking it on bob's behalf is refused the same way; on ana's behalf it is ana's accept.
    assert!(matches!(engine.take(&Actor::System, &inquiry.id, Some(&bob)), Err(CoreError::OfferedToAnotherAgent)));
    let taken = engine.take(&Actor::System, &inquiry.id, Some(&ana)).unwrap();
    assert_eq!(taken.served_by_id(), Some(&ana));
    assert_eq!(load(engine, &ana), (1, 1, 0, 0));
    healthy(engine);
}

#[test]
fn a_declined_offer_goes_to_the_next_agent_at_once_and_never_back() {
    let setup = setup(RoutingMethod::AutoSelection, offers(30));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let bob = agent(engine, "bob", &[]);
    let inquiry = conversation(engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    let first = current(engine, &inquiry).offered_to().cloned().unwrap();
    let second = if first == ana { bob.clone() } else { ana.clone() };
    setup.clock.advance(5 * SECOND);
    let next = engine.reject_offer(&Actor::User(first.clone()), &inquiry.id, "busy").unwrap();
    assert_eq!(next.offered_to(), Some(&second));
    assert_eq!(next.offer.as_ref().unwrap().expires_at, Timestamp::from_millis(START + 35 * SECOND));
    assert_eq!(load(engine, &first), (0, 0, 0, 0), "declining is not missing");
    engine.reject_offer(&Actor::User(second.clone()), &inquiry.id, "").unwrap();
    engine.dispatch(&Actor::System).unwrap();
    let waiting = current(engine, &inquiry);
    assert_eq!(waiting.status, InquiryStatus::Open, "both declined: it waits for someone new");
    assert_eq!(waiting.excluded_agents.len(), 2);
    // Someone new gets it.
    let cid = agent(engine, "cid", &[]);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &inquiry).offered_to(), Some(&cid));
    healthy(engine);
}

#[test]
fn missed_offers_in_a_row_set_an_agent_away_and_an_accept_ends_the_run() {
    let timers = TimerConfig { missed_offers_before_away: 2, ..offers(10) };
    let setup = setup(RoutingMethod::AutoSelection, timers);
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    for n in 0..3 {
        conversation(engine, n, None);
    }
    engine.dispatch(&Actor::System).unwrap();
    // ana holds all three offers; she accepts one, then lets two lapse.
    let offered = engine.pending_offers(&Actor::User(ana.clone()), None).unwrap();
    assert_eq!(offered.len(), 3);
    engine.accept_offer(&Actor::User(ana.clone()), &offered[0].id).unwrap();
    assert_eq!(fire_at(&setup, 10 * SECOND).fired, 2);
    let after = engine.agent(&ana).unwrap().unwrap();
    assert_eq!((after.availability, after.missed_offers), (AgentAvailability::NotAvailable, 0));
    let reasons: Vec<String> = engine
        .store()
        .events(&EventQuery::all())
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::AgentChanged { reason, .. } if !reason.is_empty() => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["missed 2 offers in a row"]);
    healthy(engine);
}

#[test]
fn queue_overflow_during_an_offer_withdraws_it() {
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..offers(120) };
    let setup = setup(RoutingMethod::AutoSelection, timers);
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let inquiry = conversation(engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(current(engine, &inquiry).status, InquiryStatus::Closed);
    assert_eq!(load(engine, &ana), (0, 0, 0, 0));
    healthy(engine);
}

#[test]
fn without_offer_mode_nothing_is_offered() {
    let setup = setup(RoutingMethod::AutoSelection, TimerConfig::default());
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let inquiry = conversation(engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &inquiry).served_by_id(), Some(&ana));
    assert!(matches!(engine.accept_offer(&Actor::User(ana), &inquiry.id), Err(CoreError::NoPendingOffer)));
}
