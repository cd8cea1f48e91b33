//! Races, through the real engine: whatever the interleaving, an inquiry is served at most
//! once, an agent never goes over its limit, dispatchers assign each free slot once and a
//! visitor gets one room. Each case runs many short rounds on fresh data, every round starting
//! its threads together, so that a store whose compare-and-set has a gap between the check and
//! the write is caught on every run, not once in a while.

use std::collections::{BTreeMap, HashSet};

use lobby_core::{
    Actor, AgentAvailability, CoreError, Engine, EngineConfig, InquiryFilter, InquiryId, InquiryQuery, InquirySort,
    InquiryStatus, NewInquiry, RoomId, RoutingConfig, RoutingMethod, Store, StoreExt, UserId, VisitorDetails,
};

use super::MakeStore;
use crate::fixtures::{add_agents, add_named_agents, engine, open_inquiries_from, race, visitor};

/// 8 agents, each on its own thread, race to take the same open inquiry, round after round:
/// exactly one wins each round, the others are told "Inquiry already taken", and every agent's
/// load equals what it won.
pub fn concurrent_takes_take_each_inquiry_once<S: Store>(make: MakeStore<S>) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 250;
    let engine = engine(make());
    let agents = add_agents(&engine, THREADS, 0);
    let mut won: BTreeMap<UserId, u32> = BTreeMap::new();
    for round in 0..ROUNDS {
        let id = open_inquiries_from(&engine, round, 1).remove(0);
        let outcomes = race(THREADS, |thread| engine.take(&Actor::User(agents[thread].clone()), &id, None));
        let mut winners = Vec::new();
        for (thread, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(inquiry) => {
                    assert_eq!(inquiry.served_by_id(), Some(&agents[thread]), "round {round}: the winner's inquiry");
                    winners.push(agents[thread].clone());
                }
                Err(CoreError::InquiryAlreadyTaken) => {}
                Err(other) => panic!("round {round}: a racing take failed with {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} takes of one inquiry succeeded: {winners:?}", winners.len());
        let stored = engine.store().inquiry(&id).unwrap().unwrap().value;
        assert_eq!(stored.served_by_id(), Some(&winners[0]), "round {round}: who serves it");
        *won.entry(winners.remove(0)).or_default() += 1;
    }
    for agent in &agents {
        let load = engine.agent(agent).unwrap().unwrap().active_chats;
        assert_eq!(load, won.get(agent).copied().unwrap_or(0), "the load of {agent} against what it won");
    }
}

/// 8 threads take 8 different inquiries at once for one agent whose limit is 2, round after
/// round with a fresh agent: exactly 2 succeed, the rest are refused for capacity, and the
/// agent's load is 2.
pub fn racing_takes_never_exceed_capacity<S: Store>(make: MakeStore<S>) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 60;
    const LIMIT: u32 = 2;
    let engine = engine(make());
    for round in 0..ROUNDS {
        let agent = add_named_agents(&engine, &format!("round{round}-agent"), 1, LIMIT).remove(0);
        let inquiries = open_inquiries_from(&engine, round * THREADS, THREADS);
        let outcomes = race(THREADS, |thread| engine.take(&Actor::System, &inquiries[thread], Some(&agent)));
        let mut taken = 0;
        for outcome in outcomes {
            match outcome {
                Ok(_) => taken += 1,
                Err(CoreError::AgentAtCapacity { limit }) => assert_eq!(limit, LIMIT, "round {round}: the limit"),
                Err(other) => panic!("round {round}: a racing take failed with {other:?}"),
            }
        }
        assert_eq!(taken, LIMIT, "round {round}: takes that succeeded for an agent limited to {LIMIT}");
        let load = engine.agent(&agent).unwrap().unwrap().active_chats;
        assert_eq!(load, LIMIT, "round {round}: the agent's load");
    }
}

/// 4 threads dispatch at once under auto selection, round after round: 5 fresh agents with one
/// slot each get exactly 5 of the 12 fresh queued inquiries, none twice and none over its limit.
pub fn concurrent_dispatch_assigns_once_within_capacity<S: Store>(make: MakeStore<S>) {
    const DISPATCHERS: usize = 4;
    const ROUNDS: usize = 12;
    const AGENTS: usize = 5;
    const INQUIRIES: usize = 12;
    let config = EngineConfig {
        routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
        ..EngineConfig::default()
    };
    let engine = Engine::with_config(make(), config);
    for round in 0..ROUNDS {
        let agents = add_named_agents(&engine, &format!("round{round}-agent"), AGENTS, 1);
        let ids: Vec<InquiryId> = (0..INQUIRIES)
            .map(|n| engine.enqueue(&Actor::System, NewInquiry::new(visitor(round * INQUIRIES + n), "V")).unwrap().id)
            .collect();
        let assigned: usize =
            race(DISPATCHERS, |_| engine.dispatch(&Actor::System).unwrap().assigned).into_iter().sum();
        assert_eq!(assigned, AGENTS, "round {round}: the dispatchers together assign each free slot once");
        let mut served: BTreeMap<UserId, u32> = BTreeMap::new();
        let mut statuses: BTreeMap<InquiryStatus, usize> = BTreeMap::new();
        for id in &ids {
            let inquiry = engine.store().inquiry(id).unwrap().unwrap().value;
            *statuses.entry(inquiry.status).or_default() += 1;
            if let Some(agent) = inquiry.served_by_id() {
                *served.entry(agent.clone()).or_default() += 1;
            }
        }
        let expected = BTreeMap::from([(InquiryStatus::Open, INQUIRIES - AGENTS), (InquiryStatus::Taken, AGENTS)]);
        assert_eq!(statuses, expected, "round {round}: the inquiries' statuses");
        for agent in &agents {
            let load = engine.agent(agent).unwrap().unwrap();
            assert_eq!(load.active_chats, 1, "round {round}: {agent} is full");
            assert_eq!(served.get(agent), Some(&1), "round {round}: {agent}'s load equals what it serves");
        }
        // Leave nothing waiting and no one available for the next round.
        for id in &ids {
            let rid = engine.store().inquiry(id).unwrap().unwrap().value.rid;
            engine.close(&Actor::System, &rid, "round over").unwrap();
        }
        for agent in &agents {
            engine.set_agent_availability(&Actor::System, agent, Some(AgentAvailability::NotAvailable)).unwrap();
        }
    }
}

/// 8 threads open a room for the same visitor at once, round after round with a fresh visitor:
/// one room is created each time and all of them get it.
pub fn concurrent_room_opening_opens_one_room<S: Store>(make: MakeStore<S>) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 40;
    let engine = engine(make());
    for round in 0..ROUNDS {
        let token = format!("visitor-token-{round}");
        let details = VisitorDetails { token: token.clone(), name: Some("Marcos".into()), ..VisitorDetails::default() };
        engine.register_visitor(&details).unwrap();
        let opened = race(THREADS, |_| engine.open_room(&token, None).unwrap());
        let rooms: HashSet<RoomId> = opened.iter().map(|o| o.inquiry.rid.clone()).collect();
        assert_eq!(rooms.len(), 1, "round {round}: rooms opened for one visitor: {rooms:?}");
        let new_rooms = opened.iter().filter(|o| o.new_room).count();
        assert_eq!(new_rooms, 1, "round {round}: callers told they opened a new room");
    }
    let all = InquiryQuery { filter: InquiryFilter::all(), sort: InquirySort::default(), offset: 0, limit: 0 };
    assert_eq!(engine.store().list_inquiries(&all).unwrap().total, ROUNDS, "one inquiry per visitor in all");
}
