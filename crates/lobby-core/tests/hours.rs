//! Business hours on a `ManualClock`: a department opens and closes on the minute of its
//! schedule, in its own time zone across daylight-saving changes; while it is closed its agents
//! are not available and cannot make themselves so, new conversations are refused or wait, and
//! routing passes it over.

mod common;

use chrono::{DateTime, Weekday};
use lobby_core::hours::{BusinessHours, TimeOfDay, WeeklyInterval, WhenClosed};
use lobby_core::*;
use lobby_memory::MemoryStore;

use common::*;

/// An instant given in RFC 3339, relative to the test clock's start.
fn at(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis() - START
}

/// Monday to Friday, 09:00 to 17:00, in `timezone`.
fn weekdays(timezone: &str, when_closed: WhenClosed) -> BusinessHours {
    let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
    let intervals = days
        .into_iter()
        .map(|day| WeeklyInterval { day, open: TimeOfDay::hm(9, 0).unwrap(), close: TimeOfDay::hm(17, 0).unwrap() })
        .collect();
    BusinessHours::new(timezone, intervals, when_closed).unwrap()
}

fn department_with_hours(engine: &Engine<MemoryStore>, name: &str, hours: BusinessHours) -> DepartmentId {
    let mut settings = DepartmentSettings::named(name);
    settings.business_hours = Some(hours);
    engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id
}

fn availability(engine: &Engine<MemoryStore>, agent: &UserId) -> AgentAvailability {
    engine.agent(agent).unwrap().unwrap().availability
}

fn next_deadline(setup: &Setup) -> Option<i64> {
    setup.engine.next_deadline().unwrap().map(|due| due.as_millis() - START)
}

fn enqueue(engine: &Engine<MemoryStore>, n: usize, department: &DepartmentId) -> Result<Inquiry, CoreError> {
    let visitor = VisitorSummary::new(VisitorId::new(format!("v{n}")).unwrap(), format!("guest-{n}"), format!("t{n}"));
    let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
    new.department = Some(department.clone());
    engine.enqueue(&Actor::System, new)
}

// The clock starts on Tuesday 2023-11-14 at 22:13:20 UTC; Lisbon is on UTC+0 then.

#[test]
fn a_department_closes_its_agents_and_opens_them_again_on_the_minute() {
    let setup = setup(RoutingMethod::AutoSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    let ana = agent(engine, "ana", &[&support]);
    assert_eq!(next_deadline(&setup), Some(0), "a new schedule applies at once");
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable, "she joined it closed");
    assert_eq!(fire_at(&setup, 0).fired, 1);
    let opening = at("2023-11-15T09:00:00Z");
    assert_eq!(next_deadline(&setup), Some(opening), "Wednesday 09:00 in Lisbon");

    let as_ana = Actor::User(ana.clone());
    let refused = engine.set_agent_availability(&as_ana, &ana, Some(AgentAvailability::Available));
    assert_eq!(refused.unwrap_err().code(), "error-business-hours-are-closed");
    assert_eq!(enqueue(engine, 1, &support).unwrap_err(), CoreError::NoAgentOnline);

    assert_eq!(fire_at(&setup, opening - 1).fired, 0, "not a millisecond early");
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable);
    assert_eq!(fire_at(&setup, opening).fired, 1);
    assert_eq!(availability(engine, &ana), AgentAvailability::Available, "opened at 09:00");
    let inquiry = enqueue(engine, 2, &support).unwrap();
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &inquiry).served_by_id(), Some(&ana));

    assert_eq!(next_deadline(&setup), Some(at("2023-11-15T17:00:00Z")));
    assert_eq!(fire_at(&setup, at("2023-11-15T17:00:00Z")).fired, 1);
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable, "closed at 17:00");
    assert_eq!(current(engine, &inquiry).served_by_id(), Some(&ana), "closing keeps her open chats");
    let reasons: Vec<String> = engine
        .store()
        .events(&EventQuery::all())
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::AgentChanged { reason, .. } if reason.starts_with("business hours") => Some(reason),
            _ => None,
        })
        .collect();
    // She joined after the closing (set away then, by the join); the deadlines did the rest.
    assert_eq!(reasons, ["business hours: Support opened", "business hours: Support closed"]);
}

#[test]
fn an_agent_who_set_her_own_status_is_left_alone_at_opening() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    let ana = agent(engine, "ana", &[&support]);
    let bob = agent(engine, "bob", &[&support]);
    fire_at(&setup, 0);
    engine.set_agent_availability(&Actor::User(bob.clone()), &bob, Some(AgentAvailability::Offline)).unwrap();
    fire_at(&setup, at("2023-11-15T09:00:00Z"));
    assert_eq!(availability(engine, &ana), AgentAvailability::Available);
    assert_eq!(availability(engine, &bob), AgentAvailability::Offline, "bob signed off by hand");
}

#[test]
fn an_agent_of_an_open_department_stays_available_but_is_not_given_the_closed_ones_chats() {
    let setup = setup(RoutingMethod::AutoSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Queue));
    let sales = department(engine, "Sales", None, TimerSetting::Inherit);
    let ana = agent(engine, "ana", &[&support, &sales]);
    fire_at(&setup, 0);
    assert_eq!(availability(engine, &ana), AgentAvailability::Available, "Sales has no hours: always open");

    let waiting = enqueue(engine, 1, &support).expect("a closed department that queues takes the conversation");
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &waiting).served_by_id(), None, "it waits for the opening");
    fire_at(&setup, at("2023-11-15T09:00:00Z"));
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &waiting).served_by_id(), Some(&ana), "routed once Support opened");
}

#[test]
fn a_closed_departments_conversations_go_to_its_open_fallback() {
    let setup = setup(RoutingMethod::AutoSelection, TimerConfig::default());
    let engine = &setup.engine;
    let night = department(engine, "Night shift", None, TimerSetting::Inherit);
    let mut settings = DepartmentSettings::named("Support");
    settings.business_hours = Some(weekdays("Europe/Lisbon", WhenClosed::Queue));
    settings.fallback = Some(night.clone());
    let support = engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id;
    let owl = agent(engine, "owl", &[&night]);
    fire_at(&setup, 0);
    let inquiry = enqueue(engine, 1, &support).unwrap();
    engine.dispatch(&Actor::System).unwrap();
    let served = current(engine, &inquiry);
    assert_eq!((served.served_by_id(), served.department.as_ref()), (Some(&owl), Some(&night)));
}

#[test]
fn openings_follow_the_time_zone_across_daylight_saving() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    // Friday 2024-03-29, after closing; Lisbon moves to UTC+1 on Sunday 2024-03-31.
    setup.clock.advance(at("2024-03-29T18:00:00Z"));
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    let ana = agent(engine, "ana", &[&support]);
    fire_at(&setup, at("2024-03-29T18:00:00Z"));
    assert_eq!(next_deadline(&setup), Some(at("2024-04-01T08:00:00Z")), "Monday 09:00 summer time is 08:00 UTC");
    fire_at(&setup, at("2024-04-01T08:00:00Z"));
    assert_eq!(availability(engine, &ana), AgentAvailability::Available);
    assert_eq!(next_deadline(&setup), Some(at("2024-04-01T16:00:00Z")));
}

#[test]
fn a_deadline_missed_while_no_server_ran_applies_the_state_of_now() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    let ana = agent(engine, "ana", &[&support]);
    fire_at(&setup, 0);
    // Down from Tuesday night until Thursday 10:00, open: Wednesday's opening and closing were
    // missed; the firing applies what holds now, once.
    let report = fire_at(&setup, at("2023-11-16T10:00:00Z"));
    assert_eq!(report.fired, 1);
    assert_eq!(availability(engine, &ana), AgentAvailability::Available);
    assert_eq!(next_deadline(&setup), Some(at("2023-11-16T17:00:00Z")));
}

#[test]
fn removing_the_schedule_opens_the_department_once_more_then_ends_its_deadlines() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    let ana = agent(engine, "ana", &[&support]);
    fire_at(&setup, 0);
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable);
    fire_at(&setup, 60 * SECOND);
    engine.update_department(&Actor::System, &support, &DepartmentSettings::named("Support")).unwrap();
    assert_eq!(next_deadline(&setup), Some(60 * SECOND), "once more, to open it for the agents it closed");
    assert_eq!(fire_at(&setup, 60 * SECOND).fired, 1);
    assert_eq!(availability(engine, &ana), AgentAvailability::Available, "always open now");
    assert_eq!(next_deadline(&setup), None);
}

#[test]
fn an_agent_joining_a_closed_department_waits_for_its_opening() {
    let setup = setup(RoutingMethod::ManualSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Refuse));
    fire_at(&setup, 0);
    let ana = agent(engine, "ana", &[&support]);
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable, "joined after closing");
    let again = engine.set_agent_availability(&Actor::User(ana.clone()), &ana, Some(AgentAvailability::NotAvailable));
    assert!(again.is_ok(), "staying away is not refused");
    fire_at(&setup, at("2023-11-15T09:00:00Z"));
    assert_eq!(availability(engine, &ana), AgentAvailability::NotAvailable, "she said so herself");
    let back = engine.set_agent_availability(&Actor::User(ana.clone()), &ana, Some(AgentAvailability::Available));
    assert_eq!(back.unwrap().availability, AgentAvailability::Available, "open now");
    let bob = agent(engine, "bob", &[&support]);
    fire_at(&setup, at("2023-11-15T17:00:00Z"));
    let carol = agent(engine, "carol", &[&support]);
    fire_at(&setup, at("2023-11-16T09:00:00Z"));
    assert_eq!(
        (availability(engine, &bob), availability(engine, &carol)),
        (AgentAvailability::Available, AgentAvailability::Available),
        "one was closed with the department, the other joined it closed: both open with it"
    );
}

#[test]
fn a_reserved_agent_is_not_given_a_closed_departments_conversation() {
    let setup = setup(RoutingMethod::AutoSelection, TimerConfig::default());
    let engine = &setup.engine;
    let support = department_with_hours(engine, "Support", weekdays("Europe/Lisbon", WhenClosed::Queue));
    let sales = department(engine, "Sales", None, TimerSetting::Inherit);
    let ana = agent(engine, "ana", &[&support, &sales]);
    fire_at(&setup, 0);
    let visitor = VisitorSummary::new(VisitorId::new("v1").unwrap(), "guest-1", "t1");
    let mut new = NewInquiry::new(visitor, "Visitor 1");
    new.department = Some(support.clone());
    new.default_agent = Some(ana.clone());
    let reserved = engine.enqueue(&Actor::System, new).unwrap();
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &reserved).served_by_id(), None, "Support is closed, even for ana");
    fire_at(&setup, at("2023-11-15T09:00:00Z"));
    engine.dispatch(&Actor::System).unwrap();
    assert_eq!(current(engine, &reserved).served_by_id(), Some(&ana));
}
