//! What the scenario tests share: an engine on the memory store with a manual clock, agents,
//! departments and visitors, and reading back what timers did.
#![allow(dead_code)]

use std::sync::Arc;

use lobby_core::*;
use lobby_memory::MemoryStore;

pub const START: i64 = 1_700_000_000_000;
pub const SECOND: i64 = 1_000;

pub struct Setup {
    pub engine: Engine<MemoryStore>,
    pub clock: Arc<ManualClock>,
}

pub fn setup(method: RoutingMethod, timers: TimerConfig) -> Setup {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START), 0));
    let config = EngineConfig {
        routing: RoutingConfig { method, ..RoutingConfig::default() },
        timers,
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    Setup { engine: Engine::with_config(MemoryStore::new(), config), clock }
}

pub fn agent(engine: &Engine<MemoryStore>, name: &str, departments: &[&DepartmentId]) -> UserId {
    let user = engine.create_user(&Actor::System, NewUser::new(name, name, [Role::livechat_agent()])).unwrap();
    let update = AgentUpdate {
        max_chats: None,
        departments: Some(departments.iter().map(|d| (*d).clone()).collect()),
        ..AgentUpdate::default()
    };
    engine.update_agent(&Actor::System, &user.id, &update).unwrap();
    user.id
}

pub fn department(
    engine: &Engine<MemoryStore>,
    name: &str,
    fallback: Option<&DepartmentId>,
    wait: TimerSetting,
) -> DepartmentId {
    let mut settings = DepartmentSettings::named(name);
    settings.fallback = fallback.cloned();
    settings.timers.max_queue_wait = wait;
    engine.create_department(&Actor::System, &settings, &[]).unwrap().0.id
}

/// A visitor with an open room (so closing it also frees the visitor).
pub fn conversation(engine: &Engine<MemoryStore>, n: usize, department: Option<&DepartmentId>) -> Inquiry {
    let token = format!("token-{n}");
    let details = VisitorDetails {
        token: token.clone(),
        name: Some(format!("Visitor {n}")),
        department: department.map(|d| d.to_string()),
        ..VisitorDetails::default()
    };
    engine.register_visitor(&details).unwrap();
    engine.open_room(&token, None).unwrap().inquiry
}

pub fn current(engine: &Engine<MemoryStore>, inquiry: &Inquiry) -> Inquiry {
    engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap()
}

pub fn timer_outcomes(engine: &Engine<MemoryStore>, inquiry: &Inquiry) -> Vec<(TimerRule, String)> {
    engine
        .history(&Actor::System, &inquiry.id)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            EventKind::TimerFired { rule, outcome, .. } => Some((rule, outcome)),
            _ => None,
        })
        .collect()
}

/// Moves the clock to `at` (relative to the start) and fires what is due.
pub fn fire_at(setup: &Setup, at: i64) -> FireReport {
    let now = setup.engine.config().clock.now().as_millis() - START;
    setup.clock.advance(at - now);
    setup.engine.fire_due().unwrap()
}
