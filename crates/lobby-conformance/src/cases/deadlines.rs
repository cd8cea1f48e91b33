//! Deadlines: every store indexes each record by its earliest deadline, lists what is due in
//! order, follows reschedules, cancels and deletes in the same commit, and — through the real
//! engine — lets any number of firers act on each deadline exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lobby_core::hours::{BusinessHours, TimeOfDay, Weekday, WeeklyInterval, WhenClosed};
use lobby_core::{
    Actor, AgentAvailability, AgentUpdate, Commit, Deadline, DepartmentSettings, DueRecord, Engine, EngineConfig,
    EventKind, EventQuery, InquiryId, InquiryStatus, ManualClock, NewInquiry, NewUser, Record, RecordKey, Role, Store,
    StoreError, StoreExt, TimerConfig, TimerRule, Timestamp, UserId, Version, Write,
};

use super::{put, MakeStore};
use crate::fixtures::{agent_record, race, visitor};

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + millis)
}

fn deadline(millis: i64) -> Deadline {
    Deadline { rule: TimerRule::AgentLeave, due: at(millis) }
}

/// An agent record with these deadlines.
fn agent_due(id: &str, dues: &[i64]) -> Record {
    let mut agent = agent_record(id);
    agent.deadlines = dues.iter().map(|&d| deadline(d)).collect();
    Record::Agent(agent)
}

fn due_keys<S: Store>(store: &S, until: i64, limit: usize) -> Vec<(i64, String)> {
    let due = store.due(at(until), limit).unwrap();
    due.into_iter().map(|DueRecord { due, key }| (due.as_millis() - at(0).as_millis(), key.to_path())).collect()
}

/// `due(at, limit)` lists each record with a deadline at or before `at` once, at its earliest
/// deadline, earliest first and by key on ties, at most `limit`; records without deadlines never.
pub fn due_lists_the_earliest_deadlines_first<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut inquiry = crate::fixtures::random_inquiry(1, &mut crate::fixtures::rng(1));
    inquiry.deadlines = vec![Deadline { rule: TimerRule::QueueOverflow, due: at(20) }];
    put(
        &store,
        vec![
            Write::create(agent_due("c", &[30, 10])),
            Write::create(agent_due("a", &[20])),
            Write::create(agent_due("b", &[])),
            Write::create(agent_due("d", &[40])),
            Write::create(Record::Inquiry(inquiry.clone())),
        ],
    )
    .unwrap();
    let inquiry_path = RecordKey::Inquiry(inquiry.id.clone()).to_path();
    let all = vec![
        (10, "agent/c".to_owned()),
        (20, inquiry_path.clone()),
        (20, "agent/a".to_owned()),
        (40, "agent/d".to_owned()),
    ];
    assert_eq!(due_keys(&store, 1_000, 100), all, "every due record, earliest first, inquiries before agents on ties");
    assert_eq!(due_keys(&store, 20, 100), all[..3].to_vec(), "due at or before 20");
    assert_eq!(due_keys(&store, 19, 100), all[..1].to_vec(), "due at or before 19");
    assert_eq!(due_keys(&store, 9, 100), Vec::<(i64, String)>::new(), "nothing due before the first");
    assert_eq!(due_keys(&store, 1_000, 2), all[..2].to_vec(), "limit 2");
    assert_eq!(due_keys(&store, 1_000, 0), Vec::<(i64, String)>::new(), "limit 0");
    let far = store.due(Timestamp::MAX, usize::MAX).unwrap().len();
    assert_eq!(far, 4, "Timestamp::MAX lists every record with a deadline");
}

/// The index follows its records in the same commit: a new deadline moves a record, an empty
/// list takes it out, a delete takes it out, and a failed commit changes nothing.
pub fn deadlines_follow_their_records<S: Store>(make: MakeStore<S>) {
    let store = make();
    let versions =
        put(&store, vec![Write::create(agent_due("a", &[10])), Write::create(agent_due("b", &[20]))]).unwrap();
    let (a, b) = (versions[0], versions[1]);
    let a = put(&store, vec![Write::update(a, agent_due("a", &[30]))]).unwrap()[0];
    assert_eq!(due_keys(&store, 100, 10), vec![(20, "agent/b".into()), (30, "agent/a".into())], "rescheduled");
    let b = put(&store, vec![Write::update(b, agent_due("b", &[]))]).unwrap()[0];
    assert_eq!(due_keys(&store, 100, 10), vec![(30, "agent/a".into())], "cancelled");
    // A commit that fails must not move the index.
    let stale = Write::update(Version(b.0 + 1_000), agent_due("b", &[5]));
    let failed = store.commit(Commit { writes: vec![Write::update(a, agent_due("a", &[1])), stale], events: vec![] });
    assert!(matches!(failed, Err(StoreError::Conflict { .. })), "a stale write: {failed:?}");
    assert_eq!(due_keys(&store, 100, 10), vec![(30, "agent/a".into())], "after a failed commit");
    put(&store, vec![Write::delete(RecordKey::Agent(UserId::new("a").unwrap()), a)]).unwrap();
    assert_eq!(due_keys(&store, 100, 10), Vec::<(i64, String)>::new(), "deleted with its record");
    put(&store, vec![Write::create(agent_due("a", &[50]))]).unwrap();
    assert_eq!(due_keys(&store, 100, 10), vec![(50, "agent/a".into())], "re-created");
}

/// 4 threads fire due deadlines at once, round after round: each overdue conversation is acted
/// on exactly once (one timer event in its history, closed once), whoever gets there first.
pub fn racing_firers_act_on_each_deadline_once<S: Store>(make: MakeStore<S>) {
    const FIRERS: usize = 4;
    const ROUNDS: usize = 8;
    const INQUIRIES: usize = 25;
    let clock = Arc::new(ManualClock::new(at(0), 0));
    let timers = TimerConfig { max_queue_wait: Some(Duration::from_secs(60)), ..TimerConfig::default() };
    let engine = Engine::with_config(make(), EngineConfig { timers, clock: clock.clone(), ..EngineConfig::default() });
    for round in 0..ROUNDS {
        let ids: Vec<InquiryId> = (0..INQUIRIES)
            .map(|n| engine.enqueue(&Actor::System, NewInquiry::new(visitor(round * INQUIRIES + n), "V")).unwrap().id)
            .collect();
        clock.advance(59_999);
        let early: usize = engine.fire_due().unwrap().fired;
        assert_eq!(early, 0, "round {round}: nothing is due a millisecond early");
        clock.advance(1);
        let fired: usize = race(FIRERS, |_| engine.fire_due().unwrap().fired).into_iter().sum();
        assert_eq!(fired, INQUIRIES, "round {round}: deadlines acted on, across all firers");
        let mut timer_events: BTreeMap<InquiryId, usize> = BTreeMap::new();
        for id in &ids {
            let inquiry = engine.store().inquiry(id).unwrap().unwrap().value;
            assert_eq!(inquiry.status, InquiryStatus::Closed, "round {round}: {id} overflowed with no fallback");
            assert_eq!(inquiry.deadlines, vec![], "round {round}: {id} has nothing left pending");
            let history = engine.store().events(&EventQuery::all().about(id.clone())).unwrap();
            let fired = history.iter().filter(|e| matches!(e.event.kind, EventKind::TimerFired { .. })).count();
            timer_events.insert(id.clone(), fired);
        }
        assert!(timer_events.values().all(|&n| n == 1), "round {round}: timer events per inquiry: {timer_events:?}");
        assert_eq!(engine.fire_due().unwrap().fired, 0, "round {round}: nothing left to fire");
        assert_eq!(engine.next_deadline().unwrap(), None, "round {round}: no deadline pending");
    }
}

/// A department's opening and closing are deadlines like any other: 4 threads firing at its
/// closing act once (one timer event, every agent set not-available once), not a millisecond
/// early, and the next opening is pending after it.
pub fn racing_firers_close_a_department_once<S: Store>(make: MakeStore<S>) {
    const FIRERS: usize = 4;
    let clock = Arc::new(ManualClock::new(at(0), 0));
    let engine = Engine::with_config(make(), EngineConfig { clock: clock.clone(), ..EngineConfig::default() });
    // at(0) is Tuesday 2023-11-14, 22:13:20 UTC: open until 23:00.
    let tuesday_evening =
        WeeklyInterval { day: Weekday::Tue, open: TimeOfDay::hm(22, 0).unwrap(), close: TimeOfDay::hm(23, 0).unwrap() };
    let mut settings = DepartmentSettings::named("Evening");
    settings.business_hours = Some(BusinessHours::new("UTC", vec![tuesday_evening], WhenClosed::Refuse).unwrap());
    let department = engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id;
    let agents: Vec<UserId> = (0..3)
        .map(|n| {
            let name = format!("agent{n}");
            let user =
                engine.create_user(&Actor::System, NewUser::new(&name, &name, [Role::livechat_agent()])).unwrap();
            let update = AgentUpdate {
                max_chats: None,
                departments: Some([department.clone()].into()),
                ..AgentUpdate::default()
            };
            engine.update_agent(&Actor::System, &user.id, &update).unwrap();
            user.id
        })
        .collect();
    let business_hours_events = || {
        let events = engine.store().events(&EventQuery::all()).unwrap();
        let fired = |e: &&lobby_core::Event| {
            matches!(e.event.kind, EventKind::TimerFired { rule: TimerRule::BusinessHours, .. })
        };
        events.iter().filter(fired).count()
    };
    let opened: usize = race(FIRERS, |_| engine.fire_due().unwrap().fired).into_iter().sum();
    assert_eq!((opened, business_hours_events()), (1, 1), "the new schedule applied once");
    let closing = 46 * 60_000 + 40_000;
    assert_eq!(engine.next_deadline().unwrap(), Some(at(closing)), "closes at 23:00");
    clock.advance(closing - 1);
    assert_eq!(engine.fire_due().unwrap().fired, 0, "not a millisecond early");
    clock.advance(1);
    let closed: usize = race(FIRERS, |_| engine.fire_due().unwrap().fired).into_iter().sum();
    assert_eq!((closed, business_hours_events()), (1, 2), "closed once across firers");
    for agent in &agents {
        let agent = engine.agent(agent).unwrap().unwrap();
        assert_eq!(agent.availability, AgentAvailability::NotAvailable, "{} after closing", agent.username);
    }
    let week = 7 * 24 * 3_600_000;
    assert_eq!(engine.next_deadline().unwrap(), Some(at(closing - 3_600_000 + week)), "opens next Tuesday 22:00");
}
