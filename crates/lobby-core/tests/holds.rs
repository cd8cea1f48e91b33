//! On hold and visitor inactivity on a `ManualClock`: a held conversation frees its agent's slot
//! and comes back when the visitor writes (or goes back to the queue if the agent is full); it
//! closes after the on-hold timeout; a visitor who does not answer the agent is closed or put on
//! hold at the inactivity deadline, not a millisecond before.

mod common;

use std::time::Duration;

use lobby_core::*;
use lobby_memory::MemoryStore;

use common::*;

fn limited_agent(engine: &Engine<MemoryStore>, name: &str, limit: u32) -> UserId {
    let id = agent(engine, name, &[]);
    let update = AgentUpdate { max_chats: Some(limit), departments: None, ..AgentUpdate::default() };
    engine.update_agent(&Actor::System, &id, &update).unwrap();
    id
}

fn taken_by(engine: &Engine<MemoryStore>, n: usize, agent: &UserId) -> Inquiry {
    let inquiry = conversation(engine, n, None);
    engine.dispatch(&Actor::System).unwrap();
    engine.take(&Actor::User(agent.clone()), &inquiry.id, None).unwrap()
}

fn slots(engine: &Engine<MemoryStore>, agent: &UserId) -> (u32, usize) {
    let agent = engine.agent(agent).unwrap().unwrap();
    (agent.active_chats, agent.chats.len())
}

fn healthy(engine: &Engine<MemoryStore>) {
    let report = engine.store().check_integrity().unwrap();
    assert!(report.is_healthy(), "{report}");
}

#[test]
fn a_held_chat_frees_its_slot_and_resuming_needs_one() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let ana = limited_agent(engine, "ana", 1);
    let as_ana = Actor::User(ana.clone());
    let first = taken_by(engine, 1, &ana);
    let held = engine.hold(&as_ana, &first.rid).unwrap();
    assert_eq!((held.status, held.on_hold_since), (InquiryStatus::Taken, Some(Timestamp::from_millis(START))));
    assert_eq!(slots(engine, &ana), (0, 1), "still hers, but not counted");
    let second = taken_by(engine, 2, &ana);
    assert!(matches!(engine.resume(&as_ana, &first.rid), Err(CoreError::AgentAtCapacity { limit: 1 })));
    engine.close(&as_ana, &second.rid, "").unwrap();
    let resumed = engine.resume(&as_ana, &first.rid).unwrap();
    assert_eq!(resumed.on_hold_since, None);
    assert_eq!(slots(engine, &ana), (1, 1));
    healthy(engine);
}

#[test]
fn holding_is_refused_with_rocket_chat_reasons() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let bob = agent(engine, "bob", &[]);
    let as_ana = Actor::User(ana.clone());
    let waiting = conversation(engine, 1, None);
    // As in Rocket.Chat, an agent who does not serve it is refused first; a manager hears why.
    assert!(matches!(engine.hold(&as_ana, &waiting.rid), Err(CoreError::NotAllowed)));
    assert!(matches!(engine.hold(&Actor::System, &waiting.rid), Err(CoreError::UnservedCannotHold)));
    assert!(matches!(engine.hold(&as_ana, &RoomId::new("nowhere").unwrap()), Err(CoreError::RoomNotFound)));

    let served = taken_by(engine, 2, &ana);
    engine.visitor_message("token-2", &served.rid, "Hello?").unwrap();
    assert!(matches!(engine.hold(&as_ana, &served.rid), Err(CoreError::ContactSentLastMessage)));
    engine.agent_message(&as_ana, &served.rid, "One moment").unwrap();
    // bob neither serves it nor may hold others' chats.
    assert!(matches!(engine.hold(&Actor::User(bob.clone()), &served.rid), Err(CoreError::NotAllowed)));
    assert!(matches!(engine.resume(&as_ana, &served.rid), Err(CoreError::NotOnHold)));
    engine.hold(&as_ana, &served.rid).unwrap();
    assert!(matches!(engine.hold(&as_ana, &served.rid), Err(CoreError::AlreadyOnHold)));
    engine.close(&as_ana, &served.rid, "").unwrap();
    assert!(matches!(engine.hold(&as_ana, &served.rid), Err(CoreError::RoomClosed)));
    assert!(matches!(engine.resume(&as_ana, &served.rid), Err(CoreError::RoomClosed)));
    healthy(engine);
}

#[test]
fn a_visitor_message_resumes_a_held_chat_or_requeues_it_when_the_agent_is_full() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let ana = limited_agent(engine, "ana", 1);
    let as_ana = Actor::User(ana.clone());
    let first = taken_by(engine, 1, &ana);
    engine.hold(&as_ana, &first.rid).unwrap();
    engine.visitor_message("token-1", &first.rid, "I'm back").unwrap();
    let back = current(engine, &first);
    assert_eq!((back.status, back.on_hold_since, back.served_by_id()), (InquiryStatus::Taken, None, Some(&ana)));
    assert_eq!(slots(engine, &ana), (1, 1));

    // The visitor wrote last: ana answers before she may hold it again.
    engine.agent_message(&as_ana, &first.rid, "Let me check").unwrap();
    engine.hold(&as_ana, &first.rid).unwrap();
    let second = taken_by(engine, 2, &ana);
    engine.visitor_message("token-1", &first.rid, "Hello again").unwrap();
    let requeued = current(engine, &first);
    assert_eq!((requeued.status, requeued.served_by_id()), (InquiryStatus::Queued, None));
    assert_eq!(requeued.queued_at, first.queued_at, "it keeps its queue age");
    assert_eq!(slots(engine, &ana), (1, 1), "only the second one is hers now");
    assert_eq!(current(engine, &second).served_by_id(), Some(&ana));
    healthy(engine);
}

#[test]
fn a_chat_on_hold_too_long_closes_at_its_deadline() {
    let timers = TimerConfig { on_hold_auto_close: Some(Duration::from_secs(300)), ..TimerConfig::default() };
    let setup = setup(RoutingMethod::ManualSelection, timers);
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let inquiry = taken_by(engine, 1, &ana);
    setup.clock.advance(10 * SECOND);
    engine.hold(&Actor::User(ana.clone()), &inquiry.rid).unwrap();
    assert_eq!(fire_at(&setup, 310 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 310 * SECOND).fired, 1);
    assert_eq!(current(engine, &inquiry).status, InquiryStatus::Closed);
    assert_eq!(timer_outcomes(engine, &inquiry), [(TimerRule::OnHoldAutoClose, "closed: on hold for 300 s".into())]);
    assert_eq!(slots(engine, &ana), (0, 0));
    healthy(engine);
}

fn inactivity(action: AbandonedRoomsAction) -> TimerConfig {
    TimerConfig {
        abandoned_rooms: action,
        visitor_inactivity: Some(Duration::from_secs(120)),
        on_hold_auto_close: Some(Duration::from_secs(600)),
        ..TimerConfig::default()
    }
}

#[test]
fn a_visitor_who_does_not_answer_the_agent_is_closed_at_the_deadline() {
    let setup = setup(RoutingMethod::ManualSelection, inactivity(AbandonedRoomsAction::Close));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let as_ana = Actor::User(ana.clone());
    let inquiry = taken_by(engine, 1, &ana);
    assert_eq!(fire_at(&setup, 1_000 * SECOND).fired, 0, "nobody wrote: nothing to wait for");
    engine.agent_message(&as_ana, &inquiry.rid, "How can I help?").unwrap();
    // The visitor answers in time: the clock starts again from the agent's next message.
    setup.clock.advance(100 * SECOND);
    engine.visitor_message("token-1", &inquiry.rid, "My order").unwrap();
    assert_eq!(fire_at(&setup, 1_300 * SECOND).fired, 0);
    engine.agent_message(&as_ana, &inquiry.rid, "Which one?").unwrap();
    assert_eq!(fire_at(&setup, 1_420 * SECOND - 1).fired, 0);
    assert_eq!(fire_at(&setup, 1_420 * SECOND).fired, 1);
    assert_eq!(current(engine, &inquiry).status, InquiryStatus::Closed);
    let outcomes = timer_outcomes(engine, &inquiry);
    assert_eq!(outcomes, [(TimerRule::VisitorInactivity, "closed: the visitor did not answer for 120 s".into())]);
    healthy(engine);
}

#[test]
fn with_the_on_hold_action_a_silent_visitor_puts_the_chat_on_hold_and_a_department_can_opt_out() {
    let setup = setup(RoutingMethod::ManualSelection, inactivity(AbandonedRoomsAction::OnHold));
    let engine = &setup.engine;
    let ana = agent(engine, "ana", &[]);
    let as_ana = Actor::User(ana.clone());
    let inquiry = taken_by(engine, 1, &ana);
    engine.agent_message(&as_ana, &inquiry.rid, "Anything else?").unwrap();
    assert_eq!(fire_at(&setup, 120 * SECOND).fired, 1);
    let held = current(engine, &inquiry);
    assert_eq!(
        (held.status, held.on_hold_since),
        (InquiryStatus::Taken, Some(Timestamp::from_millis(START + 120 * SECOND)))
    );
    assert_eq!(slots(engine, &ana), (0, 1));
    // Then the on-hold timeout closes it.
    assert_eq!(fire_at(&setup, 720 * SECOND).fired, 1);
    assert_eq!(current(engine, &inquiry).status, InquiryStatus::Closed);

    // A department with its own value 0 turns the timer off for its conversations.
    let mut settings = DepartmentSettings::named("VIP");
    settings.timers.visitor_inactivity = TimerSetting::Off;
    let vip = engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id;
    let update = AgentUpdate { max_chats: None, departments: Some([vip.clone()].into()), ..AgentUpdate::default() };
    engine.update_agent(&Actor::System, &ana, &update).unwrap();
    let quiet = conversation(engine, 2, Some(&vip));
    engine.dispatch(&Actor::System).unwrap();
    engine.take(&as_ana, &quiet.id, None).unwrap();
    engine.agent_message(&as_ana, &quiet.rid, "Hello").unwrap();
    assert_eq!(fire_at(&setup, 100_000 * SECOND).fired, 0);
    healthy(engine);
}
