//! Conversations in time, on a `ManualClock`: each timer fires at its deadline and not a
//! millisecond before, does what its rule says, records why, and never fires twice — whatever
//! the clock does.

mod common;

use std::sync::Arc;
use std::time::Duration;

use lobby_core::machine::TransitionKind;
use lobby_core::*;
use lobby_memory::MemoryStore;

use common::*;

#[test]
fn queue_overflow_closes_a_conversation_at_its_deadline_and_not_a_millisecond_before() {
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(600)), ..TimerConfig::default() };
    let setup = setup(RoutingMethod::ManualSelection, timers);
    let inquiry = conversation(&setup.engine, 1, None);
    let due = Timestamp::from_millis(START + 600 * SECOND);
    assert_eq!(setup.engine.next_deadline().unwrap(), Some(due));
    assert_eq!(fire_at(&setup, 600 * SECOND - 1).fired, 0);
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Queued);
    assert_eq!(fire_at(&setup, 600 * SECOND).fired, 1);
    let closed = current(&setup.engine, &inquiry);
    assert_eq!(closed.status, InquiryStatus::Closed);
    assert_eq!(
        timer_outcomes(&setup.engine, &inquiry),
        [(TimerRule::QueueOverflow, "closed: waited 600 s, longer than the queue allows".to_owned())]
    );
    let visitor = setup.engine.visitor_by_token("token-1").unwrap().unwrap();
    assert_eq!(visitor.open_room, None, "the visitor can open a new conversation");
    assert_eq!(setup.engine.next_deadline().unwrap(), None);
}

#[test]
fn queue_overflow_counts_from_the_first_queueing_not_the_last_change() {
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..TimerConfig::default() };
    let setup = setup(RoutingMethod::ManualSelection, timers);
    let alice = agent(&setup.engine, "alice", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    fire_at(&setup, 40 * SECOND);
    setup.engine.take(&Actor::User(alice.clone()), &inquiry.id, None).unwrap();
    fire_at(&setup, 50 * SECOND);
    // Returned at 50 s: it has waited since 0 s, so it overflows at 60 s, not 110 s.
    setup.engine.return_to_queue(&Actor::User(alice), &inquiry.rid).unwrap();
    assert_eq!(fire_at(&setup, 60 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Closed);
}

#[test]
fn queue_overflow_moves_along_the_fallback_chain_keeping_the_queue_age() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let last = department(&setup.engine, "Last", None, TimerSetting::from_seconds(300));
    // Its limit (60 s) is passed by the time the conversation gets there: skipped.
    let short = department(&setup.engine, "Short", Some(&last), TimerSetting::from_seconds(60));
    let first = department(&setup.engine, "First", Some(&short), TimerSetting::from_seconds(120));
    let inquiry = conversation(&setup.engine, 1, Some(&first));
    assert_eq!(fire_at(&setup, 120 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 120 * SECOND).fired, 1);
    let moved = current(&setup.engine, &inquiry);
    assert_eq!((moved.status, moved.department.as_ref()), (InquiryStatus::Queued, Some(&last)));
    assert_eq!(moved.queued_at, inquiry.queued_at, "queue age is kept");
    assert_eq!(fire_at(&setup, 300 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 300 * SECOND).fired, 1, "Last's 300 s count from the first queueing");
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Closed);
    let outcomes = timer_outcomes(&setup.engine, &inquiry);
    assert_eq!(outcomes[0].1, "moved to department Last after waiting 120 s");
    assert_eq!(outcomes[1].1, "closed: waited 300 s, longer than the queue allows");
}

#[test]
fn queue_overflow_closes_when_the_fallbacks_cycle() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let a = department(&setup.engine, "A", None, TimerSetting::from_seconds(60));
    let b = department(&setup.engine, "B", Some(&a), TimerSetting::from_seconds(30));
    let mut settings = DepartmentSettings::named("A");
    settings.fallback = Some(b.clone());
    settings.timers.max_queue_wait = TimerSetting::from_seconds(60);
    setup.engine.update_department(&Actor::System, &a, &settings).unwrap();
    let inquiry = conversation(&setup.engine, 1, Some(&a));
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Closed, "B's limit passed, A was seen");
}

fn auto_transfer(max_hops: u32) -> TimerConfig {
    TimerConfig {
        auto_transfer: Some(Duration::from_secs(30)),
        auto_transfer_max_hops: max_hops,
        ..TimerConfig::default()
    }
}

#[test]
fn an_unanswered_chat_moves_to_the_next_agent_and_never_back_to_a_silent_one() {
    let setup = setup(RoutingMethod::LoadBalancing, auto_transfer(5));
    let (ana, bob, cid) =
        (agent(&setup.engine, "ana", &[]), agent(&setup.engine, "bob", &[]), agent(&setup.engine, "cid", &[]));
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    let first = current(&setup.engine, &inquiry).served_by_id().cloned().unwrap();
    assert_eq!(first, ana, "load balancing, ties by username");
    assert_eq!(fire_at(&setup, 30 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 30 * SECOND).fired, 1);
    let moved = current(&setup.engine, &inquiry);
    assert_eq!(moved.served_by_id(), Some(&bob));
    assert_eq!(moved.excluded_agents, vec![ana.clone()]);
    assert_eq!(setup.engine.agent(&ana).unwrap().unwrap().active_chats, 0, "the silent agent's slot is freed");
    // bob is silent too: the next is cid, counted from when bob got it.
    assert_eq!(fire_at(&setup, 60 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(current(&setup.engine, &inquiry).served_by_id(), Some(&cid));
    // cid answers in time: nothing more happens.
    setup.engine.agent_message(&Actor::User(cid.clone()), &inquiry.rid, "Hello!").unwrap();
    assert_eq!(fire_at(&setup, 200 * SECOND).fired, 0);
    assert_eq!(current(&setup.engine, &inquiry).served_by_id(), Some(&cid));
    let outcomes: Vec<String> = timer_outcomes(&setup.engine, &inquiry).into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        outcomes,
        ["ana did not answer: moved to bob".to_owned(), "bob did not answer: moved to cid".to_owned()]
    );
}

#[test]
fn with_no_other_agent_free_the_chat_goes_back_to_the_queue_keeping_its_age() {
    let setup = setup(RoutingMethod::AutoSelection, auto_transfer(5));
    let ana = agent(&setup.engine, "ana", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(&setup.engine, &inquiry).served_by_id(), Some(&ana));
    assert_eq!(fire_at(&setup, 30 * SECOND).fired, 1);
    let back = current(&setup.engine, &inquiry);
    assert_eq!((back.status, back.served_by_id(), back.queued_at), (InquiryStatus::Queued, None, inquiry.queued_at));
    // Dispatch does not hand it back to the agent who let it time out.
    setup.engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Open);
    assert_eq!(
        timer_outcomes(&setup.engine, &inquiry)[0].1,
        "ana did not answer, and no other agent can take it: back in the queue"
    );
}

#[test]
fn under_manual_selection_an_unanswered_chat_returns_to_the_queue() {
    let setup = setup(RoutingMethod::ManualSelection, auto_transfer(5));
    let ana = agent(&setup.engine, "ana", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    fire_at(&setup, 10 * SECOND);
    setup.engine.take(&Actor::User(ana.clone()), &inquiry.id, None).unwrap();
    assert_eq!(fire_at(&setup, 40 * SECOND - 1).fired, 0, "30 s from the take, not from the queueing");
    assert_eq!(fire_at(&setup, 40 * SECOND).fired, 1);
    let back = current(&setup.engine, &inquiry);
    assert_eq!((back.status, back.queued_at), (InquiryStatus::Queued, inquiry.queued_at));
    assert_eq!(timer_outcomes(&setup.engine, &inquiry)[0].1, "ana did not answer: back in the queue");
}

#[test]
fn auto_transfer_gives_up_after_its_hops_and_says_so() {
    let setup = setup(RoutingMethod::AutoSelection, auto_transfer(1));
    let ana = agent(&setup.engine, "ana", &[]);
    agent(&setup.engine, "bob", &[]);
    agent(&setup.engine, "cid", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    assert_eq!(fire_at(&setup, 30 * SECOND).fired, 1, "hop 1: to another agent");
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Taken);
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1, "the next firing gives up");
    let given_up = current(&setup.engine, &inquiry);
    assert_eq!((given_up.status, given_up.auto_transfers), (InquiryStatus::Queued, 2));
    setup.engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Open, "released, not assigned");
    let outcomes = timer_outcomes(&setup.engine, &inquiry);
    assert!(outcomes[1].1.ends_with("gave up after 1 transfers: back in the queue"), "{outcomes:?}");
    // Taken by hand, it is not timed again.
    setup.engine.take(&Actor::User(ana), &inquiry.id, None).unwrap();
    assert_eq!(current(&setup.engine, &inquiry).deadlines, vec![]);
}

#[test]
fn an_agent_who_stays_away_has_its_chats_forwarded_and_coming_back_cancels_it() {
    let timers = TimerConfig {
        agent_leave: AgentLeave { action: AgentLeaveAction::Forward, timeout: Duration::from_secs(60) },
        ..TimerConfig::default()
    };
    let setup = setup(RoutingMethod::LoadBalancing, timers);
    let ana = agent(&setup.engine, "ana", &[]);
    let first = conversation(&setup.engine, 1, None);
    let second = conversation(&setup.engine, 2, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    assert_eq!(setup.engine.agent(&ana).unwrap().unwrap().chats.len(), 2);
    let bob = agent(&setup.engine, "bob", &[]);
    let away = Some(AgentAvailability::NotAvailable);
    setup.engine.set_agent_availability(&Actor::System, &ana, away).unwrap();
    fire_at(&setup, 30 * SECOND);
    // Back before the timeout: nothing happens, and a new absence starts a new count.
    setup.engine.set_agent_availability(&Actor::System, &ana, Some(AgentAvailability::Available)).unwrap();
    assert_eq!(fire_at(&setup, 90 * SECOND).fired, 0);
    setup.engine.set_agent_availability(&Actor::System, &ana, away).unwrap();
    assert_eq!(fire_at(&setup, 150 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 150 * SECOND).fired, 1, "one action for the agent, covering both chats");
    for inquiry in [&first, &second] {
        let moved = current(&setup.engine, inquiry);
        assert_eq!(moved.served_by_id(), Some(&bob), "{} forwarded", inquiry.rid);
    }
    let left = setup.engine.agent(&ana).unwrap().unwrap();
    assert_eq!((left.active_chats, left.chats.len(), left.deadlines.len()), (0, 0, 0));
    assert_eq!(setup.engine.agent(&bob).unwrap().unwrap().active_chats, 2);
    assert!(setup.engine.store().check_integrity().unwrap().is_healthy());
}

#[test]
fn an_agent_who_stays_away_can_have_its_chats_closed() {
    let timers = TimerConfig {
        agent_leave: AgentLeave { action: AgentLeaveAction::Close, timeout: Duration::from_secs(60) },
        ..TimerConfig::default()
    };
    let setup = setup(RoutingMethod::AutoSelection, timers);
    let ana = agent(&setup.engine, "ana", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    setup.engine.dispatch(&Actor::System).unwrap();
    setup.engine.set_agent_availability(&Actor::System, &ana, Some(AgentAvailability::Offline)).unwrap();
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(current(&setup.engine, &inquiry).status, InquiryStatus::Closed);
    assert_eq!(setup.engine.visitor_by_token("token-1").unwrap().unwrap().open_room, None);
    let history = setup.engine.history(&Actor::System, &inquiry.id).unwrap();
    let closes = history
        .iter()
        .filter(|e| matches!(e.event.kind, EventKind::Transition { transition: TransitionKind::Close, .. }))
        .count();
    assert_eq!(closes, 1);
}

#[test]
fn after_a_long_pause_every_overdue_deadline_fires_once_and_a_clock_going_back_fires_nothing() {
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..TimerConfig::default() };
    let setup = setup(RoutingMethod::ManualSelection, timers);
    let inquiries: Vec<Inquiry> = (0..20)
        .map(|n| {
            setup.clock.advance(SECOND);
            conversation(&setup.engine, n, None)
        })
        .collect();
    assert_eq!(fire_at(&setup, 3_600 * SECOND).fired, 20, "an hour later: all of them, once");
    assert!(inquiries.iter().all(|i| current(&setup.engine, i).status == InquiryStatus::Closed));
    assert_eq!(fire_at(&setup, 0).fired, 0, "the clock jumped back");
    assert_eq!(fire_at(&setup, 7_200 * SECOND).fired, 0, "and forward again");
    assert!(inquiries.iter().all(|i| timer_outcomes(&setup.engine, i).len() == 1));
}

#[test]
fn changed_settings_reschedule_instead_of_firing() {
    let store = MemoryStore::new();
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let short = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..TimerConfig::default() };
    let engine =
        Engine::with_config(&store, EngineConfig { timers: short, clock: clock.clone(), ..EngineConfig::default() });
    let inquiry = engine
        .enqueue(&Actor::System, NewInquiry::new(VisitorSummary::new(VisitorId::new("v").unwrap(), "g", "t"), "V"))
        .unwrap();
    // The server restarts with a longer max wait: the stored deadline is stale.
    let long = TimerConfig { max_queue_wait: Some(Duration::from_secs(600)), ..TimerConfig::default() };
    let engine =
        Engine::with_config(&store, EngineConfig { timers: long, clock: clock.clone(), ..EngineConfig::default() });
    clock.advance(60 * SECOND);
    assert_eq!(engine.fire_due().unwrap(), FireReport { fired: 0, rescheduled: 1 });
    let due = Timestamp::from_millis(START + 600 * SECOND);
    assert_eq!(engine.next_deadline().unwrap(), Some(due));
    assert_eq!(engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap().status, InquiryStatus::Queued);
}

#[test]
fn messages_keep_the_last_message_and_the_first_response() {
    let setup = setup(RoutingMethod::AutoSelection, auto_transfer(3));
    let ana = agent(&setup.engine, "ana", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    let sent = setup.engine.visitor_message("token-1", &inquiry.rid, "Is anyone there?").unwrap();
    assert_eq!(sent.token.as_deref(), Some("token-1"));
    let waiting = current(&setup.engine, &inquiry);
    assert!(waiting.waiting_response);
    assert_eq!(waiting.last_message.as_ref().map(|m| m.msg.as_str()), Some("Is anyone there?"));
    setup.engine.dispatch(&Actor::System).unwrap();
    fire_at(&setup, 5 * SECOND);
    setup.engine.agent_message(&Actor::User(ana.clone()), &inquiry.rid, "Hi, I'm Ana").unwrap();
    fire_at(&setup, 9 * SECOND);
    setup.engine.agent_message(&Actor::User(ana.clone()), &inquiry.rid, "How can I help?").unwrap();
    let answered = current(&setup.engine, &inquiry);
    let response = answered.response_by.clone().unwrap();
    assert_eq!((response.id, response.first_response_ts), (ana.clone(), Timestamp::from_millis(START + 5 * SECOND)));
    assert_eq!(response.last_message_ts, Timestamp::from_millis(START + 9 * SECOND));
    assert!(!answered.waiting_response);
    assert_eq!(answered.deadlines, vec![], "answered: no auto-transfer");
    let firsts: Vec<bool> = setup
        .engine
        .history(&Actor::System, &inquiry.id)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::MessageSent { first_response } => Some(first_response),
            _ => None,
        })
        .collect();
    assert_eq!(firsts, [false, true, false]);
}

#[test]
fn messages_are_refused_for_the_wrong_visitor_a_closed_room_or_a_stranger() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let ana = agent(&setup.engine, "ana", &[]);
    let bob = agent(&setup.engine, "bob", &[]);
    let inquiry = conversation(&setup.engine, 1, None);
    conversation(&setup.engine, 2, None);
    let engine = &setup.engine;
    assert_eq!(engine.visitor_message("nobody", &inquiry.rid, "hi"), Err(CoreError::VisitorNotFound));
    assert_eq!(engine.visitor_message("token-2", &inquiry.rid, "hi"), Err(CoreError::RoomNotFound));
    let nowhere = RoomId::new("nowhere").unwrap();
    assert_eq!(engine.visitor_message("token-1", &nowhere, "hi"), Err(CoreError::RoomNotFound));
    assert!(matches!(engine.visitor_message("token-1", &inquiry.rid, "  "), Err(CoreError::InvalidInput { .. })));
    assert_eq!(
        engine.agent_message(&Actor::User(ana.clone()), &inquiry.rid, "hi"),
        Err(CoreError::NotAllowed),
        "not taken"
    );
    engine.dispatch(&Actor::System).unwrap();
    engine.take(&Actor::User(ana.clone()), &inquiry.id, None).unwrap();
    assert_eq!(engine.agent_message(&Actor::User(bob), &inquiry.rid, "hi"), Err(CoreError::NotAllowed), "not bob's");
    engine.close(&Actor::System, &inquiry.rid, "done").unwrap();
    assert_eq!(engine.visitor_message("token-1", &inquiry.rid, "hi"), Err(CoreError::RoomClosed));
    assert_eq!(engine.agent_message(&Actor::User(ana), &inquiry.rid, "hi"), Err(CoreError::NotAllowed));
}
