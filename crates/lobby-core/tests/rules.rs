//! Routing rules end to end on the memory store with a manual clock: dispatch follows the
//! current target and relaxes on time, every operator routes by its documented meaning, manual
//! takes and agents' queues respect the rules, boosts reorder dispatch, and explain's verdicts
//! are what dispatch then does.

mod common;

use std::sync::Arc;
use std::time::Duration;

use lobby_core::*;
use lobby_memory::MemoryStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use common::{current, START};

fn engine_with(
    method: RoutingMethod,
    rules: RoutingRules,
    timers: TimerConfig,
) -> (Engine<MemoryStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let config = EngineConfig {
        routing: RoutingConfig { method, rules, ..RoutingConfig::default() },
        timers,
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    (Engine::with_config(MemoryStore::new(), config), clock)
}

fn attributes(value: Value) -> Attributes {
    Attributes::new(value).unwrap()
}

/// An available agent with these attributes and limit, in these departments.
fn agent(
    engine: &Engine<MemoryStore>,
    name: &str,
    attrs: Value,
    max_chats: u32,
    departments: &[&DepartmentId],
) -> UserId {
    let user = engine.create_user(&Actor::System, NewUser::new(name, name, [Role::livechat_agent()])).unwrap();
    let update = AgentUpdate {
        max_chats: Some(max_chats),
        departments: Some(departments.iter().map(|d| (*d).clone()).collect()),
        attributes: Some(attributes(attrs)),
    };
    engine.update_agent(&Actor::System, &user.id, &update).unwrap();
    user.id
}

fn department(engine: &Engine<MemoryStore>, name: &str, rules: RoutingRules) -> DepartmentId {
    let mut settings = DepartmentSettings::named(name);
    settings.routing_rules = rules;
    engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id
}

fn enqueue(engine: &Engine<MemoryStore>, n: usize, department: Option<&DepartmentId>, attrs: Value) -> Inquiry {
    let visitor =
        VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("token-{n}"));
    let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
    new.department = department.cloned();
    new.attributes = attributes(attrs);
    engine.enqueue(&Actor::System, new).unwrap()
}

fn served_by(engine: &Engine<MemoryStore>, inquiry: &Inquiry) -> Option<UserId> {
    current(engine, inquiry).served_by_id().cloned()
}

fn target(expression: &str, timeout_secs: Option<u64>) -> RoutingTarget {
    let target = RoutingTarget::parse(expression).unwrap();
    match timeout_secs {
        Some(secs) => target.with_timeout(Duration::from_secs(secs)),
        None => target,
    }
}

fn billing_rules() -> RoutingRules {
    RoutingRules::new(vec![
        target("skills HAS task.topic AND level >= 3", Some(60)),
        target("skills HAS task.topic", Some(120)),
    ])
    .unwrap()
}

fn verdict_of<'a>(explanation: &'a RoutingExplanation, agent: &UserId) -> &'a Verdict {
    &explanation.agents.iter().find(|v| &v.agent == agent).expect("every agent is in the explanation").verdict
}

#[test]
fn dispatch_follows_the_current_target_and_relaxes_exactly_on_time() {
    let (engine, clock) = engine_with(RoutingMethod::LoadBalancing, RoutingRules::none(), TimerConfig::default());
    let billing = department(&engine, "Billing", billing_rules());
    let senior = agent(&engine, "senior", json!({"skills": ["billing"], "level": 4}), 1, &[&billing]);
    engine.set_agent_availability(&Actor::System, &senior, Some(AgentAvailability::NotAvailable)).unwrap();
    let junior = agent(&engine, "junior", json!({"skills": ["billing"], "level": 2}), 1, &[&billing]);
    let anyone = agent(&engine, "anyone", json!({}), 1, &[&billing]);

    let first = enqueue(&engine, 1, Some(&billing), json!({"topic": "billing"}));
    assert_eq!(engine.dispatch(&Actor::System).unwrap().assigned, 0, "only a senior matches target 1");
    clock.advance(59_999);
    assert_eq!(engine.dispatch(&Actor::System).unwrap().assigned, 0, "target 1 holds until 60 s");
    clock.advance(1);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &first), Some(junior.clone()), "at 60 s target 2 lets the junior in");
    let routed: Vec<RoutingDecision> = engine
        .history(&Actor::System, &first.id)
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.event.kind {
            EventKind::Routed(decision) => Some(decision),
            _ => None,
        })
        .collect();
    assert_eq!(routed.len(), 1, "one routing decision: {routed:?}");
    assert_eq!(routed[0].target, Some(1), "the decision names the target it matched");
    assert!(routed[0].reason.contains("target 2 `skills HAS task.topic`"), "{}", routed[0].reason);

    // The junior is full now; a second conversation waits for the rule to relax completely.
    let second = enqueue(&engine, 2, Some(&billing), json!({"topic": "billing"}));
    clock.advance(179_999);
    assert_eq!(engine.dispatch(&Actor::System).unwrap().assigned, 0, "60 + 120 s not yet over");
    clock.advance(1);
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(served_by(&engine, &second), Some(anyone), "after the last timeout anyone in the department");
}

/// Each operator, through dispatch: one agent, one inquiry, one target; assigned exactly when
/// the expression is true.
#[test]
fn every_operator_routes_by_its_meaning() {
    let worker = json!({"skills": ["billing", "es"], "level": 3, "region": "EU", "bio": "speaks spanish", "team": {"name": "A"}});
    let task = json!({"topic": "billing", "language": "es", "vip": true, "regions": ["EU", "UK"]});
    let cases: &[(&str, bool)] = &[
        ("level == 3", true),
        ("level == 4", false),
        ("region != 'US'", true),
        ("region != 'EU'", false),
        ("missing != 'EU'", false),
        ("level < 4", true),
        ("level < 3", false),
        ("level <= 3", true),
        ("level <= 2", false),
        ("level > 2", true),
        ("level > 3", false),
        ("level >= 3", true),
        ("level >= 4", false),
        ("skills HAS task.topic", true),
        ("skills HAS 'sales'", false),
        ("region IN task.regions", true),
        ("region IN ['US', 'CA']", false),
        ("region NOT IN ['US', 'CA']", true),
        ("region NOT IN task.regions", false),
        ("bio CONTAINS 'spanish'", true),
        ("skills CONTAINS task.language", true),
        ("bio CONTAINS 'french'", false),
        ("level >= 3 AND task.vip == true", true),
        ("level >= 3 AND task.vip == false", false),
        ("level >= 9 OR worker.team.name == 'A'", true),
        ("level >= 9 OR task.missing == 1", false),
        ("NOT region == 'US'", true),
        ("NOT (region == 'EU' AND level == 3)", false),
        ("(level > 9 OR region == 'EU') AND skills HAS 'es'", true),
    ];
    for &(expression, expected) in cases {
        let rules = RoutingRules::new(vec![target(expression, None)]).unwrap();
        let (engine, _) = engine_with(RoutingMethod::AutoSelection, rules, TimerConfig::default());
        let ana = agent(&engine, "ana", worker.clone(), 0, &[]);
        let inquiry = enqueue(&engine, 1, None, task.clone());
        engine.dispatch(&Actor::System).unwrap();
        let assigned = served_by(&engine, &inquiry) == Some(ana);
        assert_eq!(assigned, expected, "`{expression}` for worker {worker} and task {task}");
    }
}

#[test]
fn a_take_outside_the_rules_is_refused_unless_the_taker_may_override() {
    let (engine, clock) = engine_with(RoutingMethod::ManualSelection, RoutingRules::none(), TimerConfig::default());
    let billing = department(&engine, "Billing", billing_rules());
    let senior = agent(&engine, "senior", json!({"skills": ["billing"], "level": 4}), 0, &[&billing]);
    let junior = agent(&engine, "junior", json!({"skills": ["billing"], "level": 2}), 0, &[&billing]);
    let manager = engine
        .create_user(&Actor::System, NewUser::new("boss", "Boss", [Role::livechat_manager(), Role::livechat_agent()]))
        .unwrap()
        .id;
    let inquiries: Vec<Inquiry> =
        (0..3).map(|n| enqueue(&engine, n, Some(&billing), json!({"topic": "billing"}))).collect();
    engine.dispatch(&Actor::System).unwrap();

    let queue = |agent: &UserId| {
        let page = engine.queued_for_user(&Actor::User(agent.clone()), &QueueRequest::default()).unwrap();
        (page.total, page.items.len())
    };
    assert_eq!(queue(&senior), (3, 3), "the senior matches target 1");
    assert_eq!(queue(&junior), (0, 0), "the junior sees nothing it may not take");

    let refused = engine.take(&Actor::User(junior.clone()), &inquiries[0].id, None).unwrap_err();
    let CoreError::RoutingRuleMismatch { explanation } = &refused else {
        panic!("expected a rule mismatch: {refused:?}")
    };
    assert_eq!(
        explanation,
        "target 1 `skills HAS task.topic AND level >= 3`: expression false: `level >= 3` (level = 2)"
    );
    assert_eq!(refused.code(), "error-routing-rule-mismatch");
    assert_eq!(current(&engine, &inquiries[0]).status, InquiryStatus::Open, "a refused take changes nothing");

    let taken = engine.take(&Actor::User(manager.clone()), &inquiries[0].id, Some(&junior)).unwrap();
    assert_eq!(taken.served_by_id(), Some(&junior), "a manager may override the rules");
    assert_eq!(
        engine.take(&Actor::User(senior.clone()), &inquiries[1].id, None).unwrap().served_by_id(),
        Some(&senior)
    );

    clock.advance(60_000);
    assert_eq!(queue(&junior), (1, 1), "target 2 admits the junior");
    let page = engine
        .queued_for_user(
            &Actor::User(senior.clone()),
            &QueueRequest { paging: Paging { offset: 1, count: 5 }, ..QueueRequest::default() },
        )
        .unwrap();
    assert_eq!((page.total, page.items.len()), (1, 0), "offset applies after the rule filter");
    assert_eq!(
        engine.take(&Actor::User(junior.clone()), &inquiries[2].id, None).unwrap().served_by_id(),
        Some(&junior)
    );
}

#[test]
fn a_boost_dispatches_its_inquiries_first_while_its_target_applies() {
    for boost in [0, 2] {
        let (engine, clock) = engine_with(RoutingMethod::LoadBalancing, RoutingRules::none(), TimerConfig::default());
        let vip_rules = RoutingRules::new(vec![target("1 == 1", Some(30)).with_boost(boost)]).unwrap();
        let normal = department(&engine, "Normal", RoutingRules::none());
        let vip = department(&engine, "VIP", vip_rules);
        let ana = agent(&engine, "ana", json!({}), 1, &[&normal, &vip]);
        let older = enqueue(&engine, 1, Some(&normal), json!({}));
        clock.advance(1_000);
        let newer = enqueue(&engine, 2, Some(&vip), json!({}));
        engine.dispatch(&Actor::System).unwrap();
        let (first, second) = if boost > 0 { (&newer, &older) } else { (&older, &newer) };
        assert_eq!(served_by(&engine, first), Some(ana.clone()), "boost {boost}: who is served first");
        assert_eq!(served_by(&engine, second), None, "boost {boost}: who waits");
    }
    // Once the boosted target times out, the queue order is back.
    let (engine, clock) = engine_with(RoutingMethod::LoadBalancing, RoutingRules::none(), TimerConfig::default());
    let vip = department(&engine, "VIP", RoutingRules::new(vec![target("1 == 1", Some(30)).with_boost(2)]).unwrap());
    let normal = department(&engine, "Normal", RoutingRules::none());
    let ana = agent(&engine, "ana", json!({}), 1, &[&normal, &vip]);
    let boosted_long_ago = enqueue(&engine, 1, Some(&vip), json!({}));
    clock.advance(30_000);
    let older_normal = enqueue(&engine, 2, Some(&normal), json!({}));
    clock.advance(1_000);
    let report = engine.dispatch(&Actor::System).unwrap();
    assert_eq!(report, DispatchReport { released: 1, assigned: 1, unassigned: 1 });
    assert_eq!(served_by(&engine, &boosted_long_ago), Some(ana), "oldest first: its boost has expired");
    assert_eq!(served_by(&engine, &older_normal), None);
}

#[test]
fn explain_names_the_target_its_relaxation_and_each_agents_first_reason() {
    let timers = TimerConfig { offer_timeout: Some(Duration::from_secs(30)), ..TimerConfig::default() };
    let (engine, clock) = engine_with(RoutingMethod::LoadBalancing, RoutingRules::none(), timers);
    let billing = department(&engine, "Billing", billing_rules());
    let sales = department(&engine, "Sales", RoutingRules::none());
    let senior = agent(&engine, "senior", json!({"skills": ["billing"], "level": 4}), 2, &[&billing]);
    let busy = agent(&engine, "busy", json!({"skills": ["billing"], "level": 5}), 1, &[&billing]);
    let junior = agent(&engine, "junior", json!({"skills": ["billing"], "level": 2}), 2, &[&billing]);
    let away = agent(&engine, "away", json!({"skills": ["billing"], "level": 5}), 2, &[&billing]);
    let gone = agent(&engine, "gone", json!({"skills": ["billing"], "level": 5}), 2, &[&billing]);
    let outsider = agent(&engine, "outsider", json!({"skills": ["billing"], "level": 5}), 2, &[&sales]);
    let decliner = agent(&engine, "decliner", json!({"skills": ["billing"], "level": 5}), 2, &[&billing]);
    engine.set_agent_availability(&Actor::System, &away, Some(AgentAvailability::NotAvailable)).unwrap();
    engine.set_agent_availability(&Actor::System, &gone, Some(AgentAvailability::Offline)).unwrap();

    // `busy` fills up with one conversation; `decliner` turns one down and is excluded from it.
    let for_busy = enqueue(&engine, 0, Some(&billing), json!({"topic": "billing"}));
    engine.release(&Actor::System, &for_busy.id).unwrap();
    engine.take(&Actor::System, &for_busy.id, Some(&busy)).unwrap();
    let inquiry = enqueue(&engine, 1, Some(&billing), json!({"topic": "billing"}));
    for other in [&senior, &junior] {
        engine.set_agent_availability(&Actor::System, other, Some(AgentAvailability::NotAvailable)).unwrap();
    }
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(&engine, &inquiry).offered_to(), Some(&decliner));
    engine.reject_offer(&Actor::User(decliner.clone()), &inquiry.id, "").unwrap();
    for other in [&senior, &junior] {
        engine.set_agent_availability(&Actor::System, other, Some(AgentAvailability::Available)).unwrap();
    }
    clock.advance(10_000);

    let explanation = engine.explain(&Actor::System, &inquiry.id).unwrap();
    assert_eq!(
        explanation.target,
        CurrentTarget::Target {
            index: 0,
            expression: "skills HAS task.topic AND level >= 3".into(),
            priority_boost: PriorityBoost::NONE,
            relaxes_at: Some(inquiry.age_key().plus(Duration::from_secs(60))),
        }
    );
    assert_eq!(explanation.queue_position, Some(1));
    assert_eq!(verdict_of(&explanation, &senior), &Verdict::Eligible { rank: Some(1) });
    let reason = |agent: &UserId| match verdict_of(&explanation, agent) {
        Verdict::Ineligible { reason } => reason.to_string(),
        eligible => panic!("{agent} should not be eligible: {eligible:?}"),
    };
    assert_eq!(reason(&busy), "at capacity (1 of 1)");
    assert_eq!(reason(&junior), "expression false: `level >= 3` (level = 2)");
    assert_eq!(reason(&away), "not available");
    assert_eq!(reason(&gone), "offline");
    assert_eq!(reason(&outsider), "not in the department");
    assert_eq!(reason(&decliner), "excluded after a missed offer");
    let Verdict::Ineligible { reason: Ineligible::ExpressionFalse { terms, .. } } = verdict_of(&explanation, &junior)
    else {
        panic!("junior fails the expression")
    };
    assert_eq!(terms, &["level >= 3"]);

    clock.advance(50_000);
    let relaxed = engine.explain(&Actor::System, &inquiry.id).unwrap();
    assert!(matches!(relaxed.target, CurrentTarget::Target { index: 1, .. }), "{:?}", relaxed.target);
    assert!(matches!(verdict_of(&relaxed, &junior), Verdict::Eligible { rank: Some(_) }));

    let agent_actor = Actor::User(junior.clone());
    assert!(matches!(engine.explain(&agent_actor, &inquiry.id), Err(CoreError::Unauthorized { .. })));
}

/// Random agents (attributes, availability, loads, departments) and inquiries; before each
/// dispatch, explain ranks the agents; dispatch must then assign exactly the agent ranked 1,
/// or nobody when explain found no one eligible.
#[test]
fn dispatch_right_after_explain_assigns_the_agent_it_ranked_first() {
    for (seed, method) in [RoutingMethod::AutoSelection, RoutingMethod::LoadBalancing, RoutingMethod::LoadRotation]
        .into_iter()
        .enumerate()
    {
        let mut rng = StdRng::seed_from_u64(seed as u64);
        let global = RoutingRules::new(vec![
            target("skills HAS task.topic AND level >= task.level", Some(40)),
            target("skills HAS task.topic", Some(40)),
        ])
        .unwrap();
        let (engine, clock) = engine_with(method.clone(), global, TimerConfig::default());
        let own_rules = RoutingRules::new(vec![target("region == task.region", Some(20))]).unwrap();
        let departments = [department(&engine, "A", own_rules), department(&engine, "B", RoutingRules::none())];
        let topics = ["billing", "sales", "tech"];
        for n in 0..12 {
            let skills: Vec<&str> = topics.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
            let region = ["EU", "US"][rng.gen_range(0..2)];
            let attrs = json!({"skills": skills, "level": rng.gen_range(1..5), "region": region});
            let member_of: Vec<&DepartmentId> = departments.iter().filter(|_| rng.gen_bool(0.6)).collect();
            let id = agent(&engine, &format!("agent{n:02}"), attrs, rng.gen_range(1..3), &member_of);
            if rng.gen_bool(0.2) {
                engine.set_agent_availability(&Actor::System, &id, Some(AgentAvailability::NotAvailable)).unwrap();
            }
        }
        let mut assigned = 0;
        for n in 0..60 {
            let department = [None, Some(&departments[0]), Some(&departments[1])][rng.gen_range(0..3)];
            let attrs = json!({"topic": topics[rng.gen_range(0..3)], "level": rng.gen_range(1..5), "region": "EU"});
            enqueue(&engine, n, department, attrs);
            // Distinct queue ages, so "oldest" is one inquiry.
            clock.advance(rng.gen_range(1..30) * 1_000);
            // Dispatch routes the oldest waiting inquiry first.
            let next = oldest_waiting(&engine);
            let explanation = engine.explain(&Actor::System, &next.id).unwrap();
            let ranked_first = explanation
                .agents
                .iter()
                .find(|v| v.verdict == Verdict::Eligible { rank: Some(1) })
                .map(|v| v.agent.clone());
            let eligible = explanation.agents.iter().filter(|v| matches!(v.verdict, Verdict::Eligible { .. })).count();
            let ranks: Vec<usize> = explanation
                .agents
                .iter()
                .filter_map(|v| match v.verdict {
                    Verdict::Eligible { rank } => rank,
                    _ => None,
                })
                .collect();
            assert_eq!(ranks.len(), eligible, "every eligible agent is ranked under {}", method.name());
            engine.dispatch(&Actor::System).unwrap();
            let served = served_by(&engine, &next);
            if ranked_first.is_some() {
                assigned += 1;
                assert_eq!(
                    served,
                    ranked_first,
                    "dispatch under {} chose explain's rank 1: {explanation:#?}",
                    method.name()
                );
                // Free the slot now and then, so loads vary and agents keep coming back.
                if rng.gen_bool(0.5) {
                    engine.close(&Actor::System, &next.rid, "").unwrap();
                }
            } else {
                assert_eq!(served, None, "explain found no one eligible: {explanation:#?}");
                // Out of the way, so the next round looks at another conversation.
                engine.close(&Actor::System, &next.rid, "").unwrap();
            }
        }
        assert!(assigned >= 10, "the scenario exercises assignments ({assigned} under {})", method.name());
    }
}

/// The waiting inquiry dispatch routes first: the oldest (timestamp order, no boosts).
fn oldest_waiting(engine: &Engine<MemoryStore>) -> Inquiry {
    let mut waiting: Vec<Inquiry> = [InquiryStatus::Queued, InquiryStatus::Open]
        .into_iter()
        .flat_map(|status| {
            let request = ListRequest { status, paging: Paging { offset: 0, count: 100 }, ..ListRequest::default() };
            engine.list(&Actor::System, &request).unwrap().items
        })
        .collect();
    waiting.sort_by_key(|i| (i.age_key(), i.id.clone()));
    waiting.into_iter().next().expect("an inquiry waits")
}
