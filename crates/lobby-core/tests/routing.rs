//! Routing scenarios: each strategy picks the documented agent, round robin spreads evenly,
//! reservations and department fallbacks are honoured, and queue position and wait estimates
//! are right on known queues.

use std::sync::Arc;
use std::time::Duration;

use lobby_core::*;
use lobby_memory::MemoryStore;

const START: i64 = 1_700_000_000_000;

struct Setup {
    engine: Engine<MemoryStore>,
    clock: Arc<ManualClock>,
}

/// Time stands still unless a test advances it, so durations are exact.
fn setup(method: RoutingMethod, queue_order: QueueOrder) -> Setup {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let config = EngineConfig {
        routing: RoutingConfig { method, queue_order, ..RoutingConfig::default() },
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    Setup { engine: Engine::with_config(MemoryStore::new(), config), clock }
}

fn agent(engine: &Engine<MemoryStore>, name: &str, max_chats: u32, departments: &[&DepartmentId]) -> UserId {
    let roles = [Role::livechat_agent()];
    let user = engine.create_user(&Actor::System, NewUser::new(name, name, roles)).unwrap();
    engine.add_agent(&Actor::System, name).unwrap();
    let update = AgentUpdate {
        max_chats: Some(max_chats),
        departments: Some(departments.iter().map(|d| (*d).clone()).collect()),
        ..AgentUpdate::default()
    };
    engine.update_agent(&Actor::System, &user.id, &update).unwrap();
    user.id
}

fn department(engine: &Engine<MemoryStore>, name: &str, fallback: Option<&DepartmentId>) -> DepartmentId {
    let mut settings = DepartmentSettings::named(name);
    settings.fallback = fallback.cloned();
    engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id
}

fn enqueue(engine: &Engine<MemoryStore>, n: usize, department: Option<&DepartmentId>) -> Inquiry {
    let visitor =
        VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("token-{n}"));
    let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
    new.department = department.cloned();
    engine.enqueue(&Actor::System, new).unwrap()
}

fn served_by(engine: &Engine<MemoryStore>, inquiry: &Inquiry) -> Option<UserId> {
    engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap().served_by_id().cloned()
}

fn load(engine: &Engine<MemoryStore>, agent: &UserId) -> u32 {
    engine.agent(agent).unwrap().unwrap().active_chats
}

#[test]
fn manual_selection_only_releases() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    agent(&engine, "ana", 0, &[]);
    let inquiry = enqueue(&engine, 1, None);
    let report = engine.dispatch(&Actor::System).unwrap();
    assert_eq!(report, DispatchReport { released: 1, assigned: 0, unassigned: 0 });
    assert_eq!(engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap().status, InquiryStatus::Open);
}

#[test]
fn round_robin_spreads_a_thousand_inquiries_over_ten_agents_within_one() {
    let Setup { engine, .. } = setup(RoutingMethod::AutoSelection, QueueOrder::Timestamp);
    let agents: Vec<UserId> = (0..10).map(|n| agent(&engine, &format!("agent{n}"), 0, &[])).collect();
    for n in 0..1_000 {
        enqueue(&engine, n, None);
    }
    let report = engine.dispatch(&Actor::System).unwrap();
    assert_eq!(report.assigned, 1_000);
    let counts: Vec<u64> = agents.iter().map(|a| engine.agent(a).unwrap().unwrap().assigned_total).collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "round robin within ±1: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 1_000);
}

#[test]
fn load_balancing_picks_the_least_loaded_then_the_longest_idle() {
    let Setup { engine, clock } = setup(RoutingMethod::LoadBalancing, QueueOrder::Timestamp);
    let busy = agent(&engine, "busy", 0, &[]);
    let idle_long = agent(&engine, "idle-long", 0, &[]);
    let idle_short = agent(&engine, "idle-short", 0, &[]);
    // busy: 2 chats; idle-long routed first, idle-short later, both with 1 chat.
    for (n, who) in [(0, &busy), (1, &busy), (2, &idle_long)].into_iter() {
        let inquiry = enqueue(&engine, n, None);
        engine.release(&Actor::System, &inquiry.id).unwrap();
        engine.take(&Actor::System, &inquiry.id, Some(who)).unwrap();
        clock.advance(1_000);
    }
    let inquiry = enqueue(&engine, 3, None);
    engine.release(&Actor::System, &inquiry.id).unwrap();
    engine.take(&Actor::System, &inquiry.id, Some(&idle_short)).unwrap();
    clock.advance(1_000);

    let next = enqueue(&engine, 4, None);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &next), Some(idle_long.clone()), "fewest chats, then longest since routed");
    let history = engine.history(&Actor::System, &next.id).unwrap();
    let decision = history
        .iter()
        .find_map(|e| match &e.event.kind {
            EventKind::Routed(decision) => Some(decision.clone()),
            _ => None,
        })
        .expect("a routing decision is recorded");
    assert_eq!(decision.strategy, "load-balancing");
    assert_eq!(decision.candidates.len(), 3, "every available agent with room was considered");
    assert_eq!(decision.considered, 3);
    assert!(decision.reason.contains("fewest active conversations (1)"), "{}", decision.reason);
}

/// With many agents a decision records a bounded sample, the chosen agent first, and how many
/// there were: recording every agent made each routing event grow with the team.
#[test]
fn decisions_record_at_most_twenty_candidates_and_count_them_all() {
    let Setup { engine, .. } = setup(RoutingMethod::LoadBalancing, QueueOrder::Timestamp);
    for n in 0..30 {
        agent(&engine, &format!("agent-{n:02}"), 0, &[]);
    }
    let inquiry = enqueue(&engine, 0, None);
    engine.dispatch(&Actor::System).unwrap();
    let chosen = served_by(&engine, &inquiry).expect("assigned");
    let decision = engine
        .history(&Actor::System, &inquiry.id)
        .unwrap()
        .into_iter()
        .find_map(|e| match e.event.kind {
            EventKind::Routed(decision) => Some(decision),
            _ => None,
        })
        .expect("a routing decision is recorded");
    assert_eq!(decision.considered, 30);
    assert_eq!(decision.candidates.len(), limits::MAX_RECORDED_CANDIDATES);
    assert_eq!(decision.candidates[0].0, chosen, "the chosen agent comes first");
    // All are equally loaded, so the others are the first usernames: the same whatever ids the
    // store generated.
    let username = |id: &UserId| engine.store().agent(id).unwrap().unwrap().value.username;
    let others: Vec<String> = decision.candidates[1..].iter().map(|(id, _, _)| username(id)).collect();
    let mut expected: Vec<String> =
        (0..30).map(|n| format!("agent-{n:02}")).filter(|name| *name != username(&chosen)).collect();
    expected.truncate(limits::MAX_RECORDED_CANDIDATES - 1);
    assert_eq!(others, expected);
}

#[test]
fn load_rotation_picks_the_longest_since_routed_whatever_the_load() {
    let Setup { engine, clock } = setup(RoutingMethod::LoadRotation, QueueOrder::Timestamp);
    let first = agent(&engine, "first", 0, &[]);
    let second = agent(&engine, "second", 0, &[]);
    for (n, who) in [(0, &first), (1, &first), (2, &second)] {
        let inquiry = enqueue(&engine, n, None);
        engine.release(&Actor::System, &inquiry.id).unwrap();
        engine.take(&Actor::System, &inquiry.id, Some(who)).unwrap();
        clock.advance(1_000);
    }
    let next = enqueue(&engine, 3, None);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &next), Some(first), "routed longest ago, although it has more chats");
}

#[test]
fn a_custom_strategy_decides_and_its_choice_is_committed() {
    struct LastByName;
    impl RoutingStrategy for LastByName {
        fn name(&self) -> &str {
            "last-by-name"
        }
        fn choose(&self, _: &Inquiry, candidates: &[Candidate]) -> Option<usize> {
            (0..candidates.len()).max_by_key(|&i| candidates[i].agent.username.clone())
        }
    }
    let Setup { engine, .. } = setup(RoutingMethod::Custom(Arc::new(LastByName)), QueueOrder::Timestamp);
    agent(&engine, "anna", 0, &[]);
    let zed = agent(&engine, "zed", 0, &[]);
    let inquiry = enqueue(&engine, 0, None);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &inquiry), Some(zed));
}

#[test]
fn the_reserved_agent_is_preferred_when_it_can_take_it() {
    let Setup { engine, clock } = setup(RoutingMethod::AutoSelection, QueueOrder::Timestamp);
    agent(&engine, "anna", 0, &[]);
    let reserved = agent(&engine, "zoe", 1, &[]);
    let visitor =
        |n: usize| VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("t{n}"));
    let mut new = NewInquiry::new(visitor(1), "Reserved");
    new.default_agent = Some(reserved.clone());
    let first = engine.enqueue(&Actor::System, new.clone()).unwrap();
    clock.advance(1_000);
    new.visitor = visitor(2);
    let second = engine.enqueue(&Actor::System, new).unwrap();
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &first), Some(reserved.clone()));
    // zoe is now full (limit 1): the second reserved inquiry goes to another agent.
    assert_ne!(served_by(&engine, &second), Some(reserved));
    assert!(served_by(&engine, &second).is_some());
}

#[test]
fn reserved_inquiries_stay_out_of_other_agents_queues() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let anna = agent(&engine, "anna", 0, &[]);
    let zoe = agent(&engine, "zoe", 0, &[]);
    let visitor = VisitorSummary::new(VisitorId::new("v1").unwrap(), "guest-1", "t1");
    let mut new = NewInquiry::new(visitor, "For zoe");
    new.default_agent = Some(zoe.clone());
    engine.enqueue(&Actor::System, new).unwrap();
    enqueue(&engine, 2, None);
    engine.dispatch(&Actor::System).unwrap();
    let queue =
        |who: &UserId| engine.queued_for_user(&Actor::User(who.clone()), &QueueRequest::default()).unwrap().total;
    assert_eq!((queue(&anna), queue(&zoe)), (1, 2));
}

#[test]
fn queued_for_user_shows_own_departments_and_the_public_queue() {
    let Setup { engine, clock } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let sales = department(&engine, "Sales", None);
    let support = department(&engine, "Support", None);
    let seller = agent(&engine, "seller", 0, &[&sales]);
    let a = enqueue(&engine, 1, Some(&sales));
    clock.advance(1_000);
    enqueue(&engine, 2, Some(&support));
    clock.advance(1_000);
    let c = enqueue(&engine, 3, None);
    engine.dispatch(&Actor::System).unwrap();
    let page = engine.queued_for_user(&Actor::User(seller.clone()), &QueueRequest::default()).unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![a.id.clone(), c.id]);
    // Narrowed to one of its departments, by name.
    let request = QueueRequest { department: Some("Sales".into()), ..QueueRequest::default() };
    let only_sales = engine.queued_for_user(&Actor::User(seller.clone()), &request).unwrap();
    assert_eq!(only_sales.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![a.id]);
    // Not one it does not serve.
    let request = QueueRequest { department: Some("Support".into()), ..QueueRequest::default() };
    assert!(matches!(engine.queued_for_user(&Actor::User(seller), &request), Err(CoreError::Unauthorized { .. })));
}

#[test]
fn the_department_fallback_chain_is_followed_when_no_agent_can_serve() {
    let Setup { engine, clock } = setup(RoutingMethod::AutoSelection, QueueOrder::Timestamp);
    let backup = department(&engine, "Backup", None);
    let middle = department(&engine, "Middle", Some(&backup));
    let front = department(&engine, "Front", Some(&middle));
    let helper = agent(&engine, "helper", 0, &[&backup]);
    agent(&engine, "front-desk", 1, &[&front]);
    let first = enqueue(&engine, 1, Some(&front));
    clock.advance(1_000);
    let second = enqueue(&engine, 2, Some(&front));
    engine.dispatch(&Actor::System).unwrap();
    assert_ne!(served_by(&engine, &first), Some(helper.clone()), "the department's own agent goes first");
    let moved = engine.inquiry(&Actor::System, &second.id).unwrap().unwrap();
    assert_eq!((moved.served_by_id(), moved.department.as_ref()), (Some(&helper), Some(&backup)));
}

#[test]
fn capacity_falls_back_from_agent_to_department_to_global() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 1));
    let config = EngineConfig {
        routing: RoutingConfig {
            method: RoutingMethod::AutoSelection,
            max_chats_per_agent: 3,
            ..RoutingConfig::default()
        },
        clock,
        ..EngineConfig::default()
    };
    let engine = Engine::with_config(MemoryStore::new(), config);
    let mut settings = DepartmentSettings::named("Limited");
    settings.max_chats_per_agent = 2;
    let limited = engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id;
    let own = agent(&engine, "own-limit", 1, &[&limited]);
    let by_department = agent(&engine, "dept-limit", 0, &[&limited]);
    let global = agent(&engine, "global-limit", 0, &[]);
    let as_agent = |id: &UserId| engine.agent(id).unwrap().unwrap();
    assert_eq!(engine.chat_limit(&as_agent(&own), Some(&limited)).unwrap(), 1);
    assert_eq!(engine.chat_limit(&as_agent(&by_department), Some(&limited)).unwrap(), 2);
    assert_eq!(engine.chat_limit(&as_agent(&by_department), None).unwrap(), 3);
    assert_eq!(engine.chat_limit(&as_agent(&global), None).unwrap(), 3);
    for n in 0..10 {
        enqueue(&engine, n, Some(&limited));
    }
    let report = engine.dispatch(&Actor::System).unwrap();
    assert_eq!((report.assigned, report.unassigned), (3, 7));
    assert_eq!((load(&engine, &own), load(&engine, &by_department)), (1, 2));
}

#[test]
fn queue_orders_serve_by_time_priority_and_sla() {
    for (order, expected) in
        [(QueueOrder::Timestamp, [0, 1, 2]), (QueueOrder::Priority, [2, 0, 1]), (QueueOrder::Sla, [1, 2, 0])]
    {
        let Setup { engine, clock } = setup(RoutingMethod::ManualSelection, order);
        let mut ids = Vec::new();
        for (n, (priority, sla)) in [(5u8, 30u64), (99, 5), (1, 10)].into_iter().enumerate() {
            let visitor =
                VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("t{n}"));
            let mut new = NewInquiry::new(visitor, format!("V{n}"));
            new.priority = PriorityWeight::new(priority).unwrap();
            new.sla_minutes = Some(sla);
            ids.push(engine.enqueue(&Actor::System, new).unwrap().id);
            clock.advance(1_000);
        }
        let positions: Vec<usize> =
            ids.iter().map(|id| engine.queue_position(&Actor::System, id).unwrap().position).collect();
        let mut by_position = [0usize; 3];
        for (n, position) in positions.iter().enumerate() {
            by_position[position - 1] = n;
        }
        assert_eq!(by_position, expected, "{order:?}");
    }
}

#[test]
fn position_and_wait_on_a_known_queue() {
    let Setup { engine, clock } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let sales = department(&engine, "Sales", None);
    // Nobody serves Sales yet: no estimate, not a made-up number.
    let waiting: Vec<Inquiry> = (0..6)
        .map(|n| {
            clock.advance(1_000);
            enqueue(&engine, n, Some(&sales))
        })
        .collect();
    enqueue(&engine, 99, None); // another queue, never counted
    let third = engine.queue_position(&Actor::System, &waiting[2].id).unwrap();
    assert_eq!((third.position, third.estimated_wait), (3, None));

    // Two agents with 1 slot each; close two conversations handled for 4 and 6 minutes: h = 5 min.
    let a = agent(&engine, "a", 1, &[&sales]);
    let b = agent(&engine, "b", 1, &[&sales]);
    for (inquiry, agent_id, minutes) in [(&waiting[0], &a, 4), (&waiting[1], &b, 6)] {
        engine.release(&Actor::System, &inquiry.id).unwrap();
        engine.take(&Actor::System, &inquiry.id, Some(agent_id)).unwrap();
        clock.advance(minutes * 60_000);
        engine.close(&Actor::System, &inquiry.rid, "done").unwrap();
    }
    // Both agents free (2 free slots of 2): positions 1 and 2 wait 0; the 2 slots free up one
    // every 5 min / 2, so position 3 waits (3 - 2) × 5 min / 2 = 2.5 min and position 4 5 min.
    let wait = |inquiry: &Inquiry| engine.queue_position(&Actor::System, &inquiry.id).unwrap();
    assert_eq!(wait(&waiting[2]), QueuePosition { position: 1, estimated_wait: Some(Duration::ZERO) });
    assert_eq!(wait(&waiting[3]).estimated_wait, Some(Duration::ZERO));
    assert_eq!(wait(&waiting[4]), QueuePosition { position: 3, estimated_wait: Some(Duration::from_secs(150)) });
    assert_eq!(wait(&waiting[5]).estimated_wait, Some(Duration::from_secs(300)));

    // Agent a becomes busy with the next conversation: 1 free slot; position 3 → (3 - 1) × 5 / 2
    // = 5 min, and the inquiry a took has no position any more.
    engine.release(&Actor::System, &waiting[2].id).unwrap();
    engine.take(&Actor::System, &waiting[2].id, Some(&a)).unwrap();
    assert_eq!(wait(&waiting[3]).position, 1);
    assert_eq!(wait(&waiting[5]), QueuePosition { position: 3, estimated_wait: Some(Duration::from_secs(300)) });
    assert!(engine.queue_position(&Actor::System, &waiting[2].id).is_err());

    // Nobody available: no estimate.
    engine.set_agent_availability(&Actor::System, &a, Some(AgentAvailability::NotAvailable)).unwrap();
    engine.set_agent_availability(&Actor::System, &b, Some(AgentAvailability::NotAvailable)).unwrap();
    assert_eq!(wait(&waiting[3]).estimated_wait, None);
}

#[test]
fn returned_inquiries_keep_their_place() {
    let Setup { engine, clock } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let ana = agent(&engine, "ana", 0, &[]);
    let first = enqueue(&engine, 0, None);
    clock.advance(1_000);
    let second = enqueue(&engine, 1, None);
    engine.dispatch(&Actor::System).unwrap();
    engine.take(&Actor::System, &first.id, Some(&ana)).unwrap();
    clock.advance(60_000);
    engine.return_to_queue(&Actor::User(ana), &first.rid).unwrap();
    assert_eq!(engine.queue_position(&Actor::System, &first.id).unwrap().position, 1);
    assert_eq!(engine.queue_position(&Actor::System, &second.id).unwrap().position, 2);
}

#[test]
fn the_feed_carries_every_transition_live() {
    let Setup { engine, .. } = setup(RoutingMethod::AutoSelection, QueueOrder::Timestamp);
    agent(&engine, "ana", 0, &[]);
    let feed = engine.subscribe().unwrap();
    let inquiry = enqueue(&engine, 0, None);
    engine.dispatch(&Actor::System).unwrap();
    let kinds: Vec<String> = feed
        .drain()
        .into_iter()
        .filter(|e| e.event.inquiry.as_ref() == Some(&inquiry.id))
        .map(|e| match e.event.kind {
            EventKind::Enqueued { .. } => "enqueued".into(),
            EventKind::Routed(d) => format!("routed:{}", d.strategy),
            EventKind::Transition { transition, .. } => transition.phrase().into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["enqueued", "routed:auto-selection", "assign"]);
}

#[test]
fn permissions_are_checked_for_every_actor() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let ana = agent(&engine, "ana", 0, &[]);
    let as_ana = Actor::User(ana.clone());
    let forged = Actor::User(UserId::new("no-such-user").unwrap());
    let denied = |result: Result<_, CoreError>| matches!(result, Err(CoreError::Unauthorized { .. }));
    assert!(denied(engine.list(&as_ana, &ListRequest::default()).map(|_| ())));
    assert!(denied(engine.list(&forged, &ListRequest::default()).map(|_| ())));
    assert!(denied(engine.create_department(&as_ana, &DepartmentSettings::named("X"), &[]).map(|_| ())));
    assert!(denied(engine.set_agent_availability(&forged, &ana, None).map(|_| ())));
    // An agent may toggle its own status.
    assert_eq!(
        engine.set_agent_availability(&as_ana, &ana, None).unwrap().availability,
        AgentAvailability::NotAvailable
    );
    // Nobody can take for a user without view-l-room.
    let roles = [Role::user()];
    let plain = engine.create_user(&Actor::System, NewUser::new("plain", "P", roles)).unwrap();
    let inquiry = enqueue(&engine, 0, None);
    engine.release(&Actor::System, &inquiry.id).unwrap();
    assert_eq!(engine.take(&Actor::System, &inquiry.id, Some(&plain.id)), Err(CoreError::InvalidUser));
    let unknown = UserId::new("ghost").unwrap();
    assert_eq!(engine.take(&Actor::System, &inquiry.id, Some(&unknown)), Err(CoreError::InvalidUser));
}

#[test]
fn an_agent_serving_conversations_cannot_be_removed() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let ana = agent(&engine, "ana", 1, &[]);
    let inquiry = enqueue(&engine, 0, None);
    engine.release(&Actor::System, &inquiry.id).unwrap();
    engine.take(&Actor::System, &inquiry.id, Some(&ana)).unwrap();
    assert_eq!(engine.remove_agent(&Actor::System, &ana), Err(CoreError::AgentStillServing { conversations: 1 }));
    engine.close(&Actor::System, &inquiry.rid, "").unwrap();
    engine.remove_agent(&Actor::System, &ana).unwrap();
    assert!(engine.agent(&ana).unwrap().is_none());
    // Re-added, it starts from a true load of 0.
    assert_eq!(engine.add_agent(&Actor::System, "ana").unwrap().active_chats, 0);
}

#[test]
fn users_are_found_by_email_and_tokens_can_be_revoked() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let new = NewUser { email: Some("Eve@Example.com".into()), ..NewUser::new("eve", "Eve", [Role::user()]) };
    let eve = engine.create_user(&Actor::System, new).unwrap();
    assert_eq!(engine.user_by_email("eve@example.COM").unwrap().map(|u| u.id), Some(eve.id.clone()));
    assert_eq!(engine.user_by_email("nobody@example.com").unwrap(), None);
    engine.add_login_token(&eve.id, "hash-1".into()).unwrap();
    engine.add_login_token(&eve.id, "hash-2".into()).unwrap();
    let after = engine.remove_login_token(&eve.id, "hash-1").unwrap();
    assert_eq!(after.login_token_hashes, vec!["hash-2".to_owned()]);
    assert_eq!(engine.add_agent(&Actor::System, "nobody"), Err(CoreError::InvalidUser));
}

#[test]
fn an_agent_listed_twice_joins_a_department_once() {
    let Setup { engine, .. } = setup(RoutingMethod::ManualSelection, QueueOrder::Timestamp);
    let ana = agent(&engine, "ana", 0, &[]);
    let (department, members) = engine
        .create_department(&Actor::System, &DepartmentSettings::named("Twice"), &[ana.clone(), ana.clone()])
        .unwrap();
    assert_eq!(members.len(), 1);
    assert!(engine.agent(&ana).unwrap().unwrap().departments.contains(&department.id));
}
