//! [`Engine`]: every operation, as read → decide (pure) → versioned commit, retried when another
//! writer got there first.
//!
//! The children split the operations by what they act on — [`inquiries`] (the life of one
//! conversation), [`dispatch`] (routing many at once, the agent's queue, positions) and
//! [`directory`] (users, agents, departments, visitors) — while the steps they all share live
//! here, private to the engine: [`Engine::retry`], [`Engine::authorize`],
//! [`Engine::transition`] and the capacity helpers.

mod directory;
mod dispatch;
mod explain;
mod holds;
mod hours;
mod inquiries;
mod messages;
mod offers;
mod retention;
mod timers;

use crate::limits::MAX_RECORDED_CANDIDATES;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub use directory::{AgentUpdate, DepartmentSettings, NewUser, VisitorDetails};
pub use dispatch::{DispatchReport, QueuePosition, QueueRequest};
pub use inquiries::{ListRequest, NewInquiry, OpenedRoom, TransferTarget};
pub use messages::Message;
pub use retention::{RetentionPass, RetentionPolicy, RetentionReport};
pub use timers::FireReport;

use crate::event::{Actor, EventKind, NewEvent, RoutingDecision};
use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::machine::{self, Transition, TransitionKind};
use crate::model::{Agent, Department, Inquiry, ServedBy, User};
use crate::permissions::{Permission, PermissionPolicy};
use crate::routing::{has_room, Candidate, RoutingConfig};
use crate::rules::{queue_age, Stage};
use crate::store::{Commit, CommitReceipt, Record, Store, StoreError, StoreExt, Versioned, Write};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::timers::TimerConfig;
use crate::CoreError;

/// How the engine behaves; every field has a Rocket.Chat-like default.
#[derive(Clone)]
pub struct EngineConfig {
    /// Which roles grant which permission.
    pub permissions: PermissionPolicy,
    /// Routing method, queue order and limits.
    pub routing: RoutingConfig,
    /// Auto-transfer, queue overflow, agent leave: every timer is off by default.
    pub timers: TimerConfig,
    /// How many times an operation re-reads and retries after losing a race before giving up
    /// with [`CoreError::Contention`].
    pub max_commit_attempts: u32,
    /// Where "now" comes from; a [`ManualClock`](crate::ManualClock) in tests and simulations.
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            permissions: PermissionPolicy::default(),
            routing: RoutingConfig::default(),
            timers: TimerConfig::default(),
            max_commit_attempts: 200,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("permissions", &self.permissions)
            .field("routing", &self.routing)
            .field("timers", &self.timers)
            .field("max_commit_attempts", &self.max_commit_attempts)
            .finish_non_exhaustive()
    }
}

/// The routing engine over a store. Cheap to share behind an `Arc`; every method takes `&self`
/// and is safe to call from many threads (and, with a shared store, many processes) at once.
pub struct Engine<S> {
    store: S,
    config: EngineConfig,
}

impl<S: Store> Engine<S> {
    /// An engine with the default configuration (manual selection, the system clock).
    pub fn new(store: S) -> Self {
        Self::with_config(store, EngineConfig::default())
    }

    /// An engine with its own configuration.
    pub fn with_config(store: S, config: EngineConfig) -> Self {
        Self { store, config }
    }

    /// The store underneath, for reads the engine does not offer.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether `user` holds `permission` under this engine's policy.
    pub fn allows(&self, user: &User, permission: Permission) -> bool {
        self.config.permissions.allows(user, permission)
    }

    /// The chat limit that applies to `agent` for a conversation of `department`; 0 = none.
    pub fn chat_limit(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<u32, CoreError> {
        let department = self.department_record(department)?;
        Ok(self.config.routing.chat_limit(agent, department.as_ref()))
    }

    // ---- the steps every operation shares ------------------------------------------------------

    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// Runs `attempt` until it does not lose a race: a version conflict means someone else
    /// changed what it read, so it reads again. Backs off to let the winner finish.
    fn retry<T>(&self, mut attempt: impl FnMut() -> Result<T, CoreError>) -> Result<T, CoreError> {
        for round in 0..self.config.max_commit_attempts {
            match attempt() {
                Err(CoreError::Store(StoreError::Conflict { .. })) => backoff(round),
                other => return other,
            }
        }
        Err(CoreError::Contention)
    }

    /// Loads the acting user and checks one permission. The system actor may do anything;
    /// a user id that does not exist is refused like a missing permission.
    fn authorize(&self, actor: &Actor, permission: Permission) -> Result<Option<Versioned<User>>, CoreError> {
        match actor {
            Actor::System => Ok(None),
            Actor::User(id) => {
                let user = self.store.user(id)?.ok_or(CoreError::Unauthorized { permission })?;
                if self.config.permissions.allows(&user.value, permission) {
                    Ok(Some(user))
                } else {
                    Err(CoreError::Unauthorized { permission })
                }
            }
            Actor::Visitor(_) => Err(CoreError::Unauthorized { permission }),
        }
    }

    /// Applies `transition` and commits it with `extra` writes and one event, all-or-nothing.
    fn transition(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        transition: Transition,
        extra: Vec<Write>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        self.transition_after(vec![], actor, inquiry, transition, extra, reason)
    }

    /// [`Engine::transition`], with `causes` recorded before the transition's own event (a
    /// timer that fired, a routing decision).
    fn transition_after(
        &self,
        causes: Vec<NewEvent>,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        transition: Transition,
        extra: Vec<Write>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let now = self.now();
        let next = machine::apply(&inquiry.value, &transition, now)?;
        let mut events = causes;
        events.push(self.transition_event(actor, &inquiry.value, &next, transition.kind(), reason));
        let mut writes = vec![Write::update(inquiry.version, Record::Inquiry(next.clone()))];
        writes.extend(extra);
        let committed = self.commit(Commit { writes, events })?;
        Ok(committed.first_inquiry.unwrap_or(next))
    }

    /// The event that records `before` becoming `after` by a transition of `kind`.
    fn transition_event(
        &self,
        actor: &Actor,
        before: &Inquiry,
        after: &Inquiry,
        kind: TransitionKind,
        reason: String,
    ) -> NewEvent {
        NewEvent {
            at: after.updated_at,
            actor: actor.clone(),
            inquiry: Some(after.id.clone()),
            kind: EventKind::Transition {
                transition: kind,
                agent: after.holder().or(after.served_by_id()).cloned(),
                previous_agent: before.holder().or(before.served_by_id()).cloned(),
                department: after.department.clone(),
                reason,
            },
        }
    }

    /// The write that clears the visitor's open room when `inquiry`, its open conversation,
    /// closes.
    fn visitor_release_writes(&self, inquiry: &Inquiry) -> Result<Vec<Write>, CoreError> {
        let Some(visitor) = self.store.visitor_by_token(&inquiry.visitor.token)? else { return Ok(vec![]) };
        if visitor.value.open_room.as_ref() != Some(&inquiry.rid) {
            return Ok(vec![]);
        }
        let mut closed = visitor.value;
        closed.open_room = None;
        closed.updated_at = self.now();
        Ok(vec![Write::update(visitor.version, Record::Visitor(closed))])
    }

    /// Commits through the store after giving every inquiry and agent written the deadlines its
    /// state calls for ([`TimerConfig`]): the one place every engine write passes, so no path
    /// can leave a stale timer behind. Returns the receipt and the first inquiry written as
    /// committed.
    fn commit(&self, mut commit: Commit) -> Result<Committed, CoreError> {
        let mut first_inquiry = None;
        for write in &mut commit.writes {
            match &mut write.value {
                Some(Record::Inquiry(inquiry)) => {
                    let department = self.department_record(inquiry.department.as_ref())?;
                    inquiry.deadlines = self.config.timers.inquiry_deadlines(inquiry, department.as_ref());
                    if first_inquiry.is_none() {
                        first_inquiry = Some(inquiry.clone());
                    }
                }
                Some(Record::Agent(agent)) => agent.deadlines = self.config.timers.agent_deadlines(agent),
                Some(Record::Department(department)) => {
                    department.deadlines = self.config.timers.department_deadlines(department)
                }
                _ => {}
            }
        }
        let receipt = self.store.commit(commit)?;
        Ok(Committed { receipt, first_inquiry })
    }

    fn department_record(&self, id: Option<&DepartmentId>) -> Result<Option<Department>, CoreError> {
        match id {
            Some(id) => Ok(self.store.department(id)?.map(|found| found.value)),
            None => Ok(None),
        }
    }

    /// Available, a member of `department`, and within capacity for one more of its
    /// conversations.
    fn check_can_serve(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<(), CoreError> {
        if !agent.can_serve(None) {
            return Err(CoreError::AgentNotAvailable);
        }
        let limit = self.chat_limit(agent, department)?;
        if !has_room(agent, limit) {
            return Err(CoreError::AgentAtCapacity { limit });
        }
        Ok(())
    }

    /// Refuses `agent` for `inquiry` when it does not match the current target of the
    /// inquiry's department's rules ([`CoreError::RoutingRuleMismatch`]), naming the term
    /// that failed.
    fn check_rules(&self, agent: &Agent, inquiry: &Inquiry) -> Result<(), CoreError> {
        let department = self.department_record(inquiry.department.as_ref())?;
        let stage = self.config.routing.rules_for(department.as_ref()).stage(queue_age(inquiry, self.now()));
        match stage.mismatch(agent, inquiry) {
            Some(why) => Err(CoreError::RoutingRuleMismatch { explanation: format!("{stage}: {why}") }),
            None => Ok(()),
        }
    }

    fn served_by(&self, agent: &Agent) -> ServedBy {
        ServedBy { id: agent.id.clone(), username: agent.username.clone(), ts: self.now() }
    }

    /// The agent routing would give `inquiry` to now: its reserved agent if that one can take
    /// it and matches the current routing target, else the method's choice among the
    /// department's agents that match it, else along the department's fallback chain (each
    /// department by its own rules, at the inquiry's queue age).
    /// Agents the inquiry lets time out (`excludedAgents`) are never picked.
    fn pick_agent(&self, inquiry: &Inquiry, agents: &[Versioned<Agent>]) -> Result<Option<Assignment>, CoreError> {
        let routing = &self.config.routing;
        let now = self.now();
        let age = queue_age(inquiry, now);
        let allowed = |agent: &&Versioned<Agent>| !inquiry.excluded_agents.contains(&agent.value.id);
        let own_department = self.department_record(inquiry.department.as_ref())?;
        let own_open = own_department.as_ref().is_none_or(|d| d.is_open(now));
        let own_stage = routing.rules_for(own_department.as_ref()).stage(age);
        if let Some(reserved) = inquiry.default_agent.as_ref().filter(|_| own_open) {
            if let Some(agent) = agents.iter().filter(allowed).find(|a| a.value.id == reserved.agent_id) {
                if self.check_can_serve(&agent.value, inquiry.department.as_ref()).is_ok()
                    && own_stage.admits(&agent.value, inquiry)
                {
                    let limit = self.chat_limit(&agent.value, inquiry.department.as_ref())?;
                    return Ok(Some(Assignment {
                        agent: agent.clone(),
                        department: inquiry.department.clone(),
                        decision: self.decision(
                            &agent.value,
                            inquiry.department.clone(),
                            (vec![], 1),
                            limit,
                            "reserved agent",
                            &own_stage,
                        ),
                    }));
                }
            }
        }
        let mut department = inquiry.department.clone();
        let mut visited = BTreeSet::new();
        loop {
            // A department that no longer exists ends the search, as would the end of the chain.
            let settings = self.department_record(department.as_ref())?;
            if department.is_some() && settings.is_none() {
                return Ok(None);
            }
            // A department closed by its business hours serves no one; its fallback may.
            let open = settings.as_ref().is_none_or(|d| d.is_open(now));
            let stage = routing.rules_for(settings.as_ref()).stage(age);
            let candidates = match open {
                true => routing.candidates(
                    agents.iter().filter(allowed).map(|a| &a.value).filter(|agent| stage.admits(agent, inquiry)),
                    settings.as_ref(),
                ),
                false => vec![],
            };
            if let Some((index, reason)) = routing.method.choose(inquiry, &candidates) {
                let chosen = &candidates[index];
                if let Some(versioned) = agents.iter().find(|a| a.value.id == chosen.agent.id) {
                    let loads = recorded_candidates(&candidates, index);
                    let reason = match department != inquiry.department {
                        true => format!("{reason}; department fallback"),
                        false => reason,
                    };
                    return Ok(Some(Assignment {
                        decision: self.decision(
                            &chosen.agent,
                            department.clone(),
                            loads,
                            chosen.limit,
                            &reason,
                            &stage,
                        ),
                        agent: versioned.clone(),
                        department,
                    }));
                }
            }
            let Some(current) = department else { return Ok(None) };
            visited.insert(current);
            match settings.and_then(|s| s.fallback) {
                Some(next) if !visited.contains(&next) => department = Some(next),
                _ => return Ok(None),
            }
        }
    }

    fn decision(
        &self,
        agent: &Agent,
        department: Option<DepartmentId>,
        (candidates, considered): (Vec<(UserId, u32, u32)>, usize),
        limit: u32,
        reason: &str,
        stage: &Stage<'_>,
    ) -> RoutingDecision {
        let reason = with_stage(reason, stage);
        RoutingDecision {
            strategy: self.config.routing.method.name().to_owned(),
            agent: agent.id.clone(),
            department,
            candidates,
            considered,
            target: match stage {
                Stage::Target { index, .. } => Some(*index),
                Stage::NoRules | Stage::Relaxed => None,
            },
            reason: format!("{reason}; {} of {} chats in use", agent.active_chats, limit_text(limit)),
        }
    }

    /// The agent after `inquiry` was assigned to it (or taken by it).
    fn with_assignment(&self, agent: Agent, inquiry: &InquiryId) -> Agent {
        let mut agent = self.with_routed(agent);
        agent.chats.insert(inquiry.clone());
        agent
    }

    /// The agent after `inquiry` was offered to it.
    fn with_offer(&self, agent: Agent, inquiry: &InquiryId) -> Agent {
        let mut agent = self.with_routed(agent);
        agent.offers.insert(inquiry.clone());
        agent
    }

    /// The agent given `handover`: an offer or a conversation to serve.
    fn with_handover(&self, agent: Agent, inquiry: &InquiryId, handover: &Transition) -> Agent {
        match handover {
            Transition::Offer { .. } => self.with_offer(agent, inquiry),
            _ => self.with_assignment(agent, inquiry),
        }
    }

    /// One more slot in use, and the routing counters moved on.
    fn with_routed(&self, mut agent: Agent) -> Agent {
        let now = self.now();
        agent.active_chats += 1;
        agent.assigned_total += 1;
        agent.last_routed_at = Some(now);
        agent.updated_at = now;
        agent
    }

    /// The agent after `inquiry` (as it was while the agent held it) left it: out of its chats,
    /// and its slot freed if it took one (an on-hold conversation did not).
    fn with_release(&self, mut agent: Agent, inquiry: &Inquiry) -> Agent {
        let held = agent.chats.remove(&inquiry.id) | agent.offers.remove(&inquiry.id);
        if held && inquiry.uses_a_slot() {
            agent.active_chats = agent.active_chats.saturating_sub(1);
        }
        agent.updated_at = self.now();
        agent
    }

    /// The write that frees the slot of the agent holding `inquiry` (serving it, or offered
    /// it), if the agent still exists.
    fn release_agent_writes(&self, inquiry: &Inquiry) -> Result<Vec<Write>, CoreError> {
        let Some(agent_id) = inquiry.holder() else { return Ok(vec![]) };
        let Some(agent) = self.store.agent(agent_id)? else { return Ok(vec![]) };
        Ok(vec![Write::update(agent.version, Record::Agent(self.with_release(agent.value, inquiry)))])
    }

    /// How routing hands `inquiry` to a chosen agent: an offer in offer mode, else an
    /// assignment.
    fn hand_over(&self, agent: &Agent) -> Transition {
        let agent = self.served_by(agent);
        match self.config.timers.offer_timeout {
            Some(timeout) => Transition::Offer { expires_at: agent.ts.plus(timeout), agent },
            None => Transition::Assign { agent },
        }
    }
}

/// An agent routing chose for an inquiry, with the decision to record.
struct Assignment {
    agent: Versioned<Agent>,
    /// The department the inquiry is served in (differs from its own after a fallback).
    department: Option<DepartmentId>,
    decision: RoutingDecision,
}

/// A routing reason with the rule stage that allowed it, when rules apply.
fn with_stage(reason: &str, stage: &Stage<'_>) -> String {
    match stage {
        Stage::NoRules => reason.to_owned(),
        _ => format!("{reason}; {stage}"),
    }
}

fn limit_text(limit: u32) -> String {
    if limit == 0 {
        "unlimited".to_owned()
    } else {
        limit.to_string()
    }
}

/// The candidates a decision records, and how many there were: the chosen one first, then the
/// least loaded others (by active chats, then username: an order that does not depend on
/// generated ids, so simulated logs stay reproducible), at most [`MAX_RECORDED_CANDIDATES`].
fn recorded_candidates(candidates: &[Candidate], chosen: usize) -> (Vec<(UserId, u32, u32)>, usize) {
    let mut others: Vec<&Candidate> =
        candidates.iter().enumerate().filter(|&(i, _)| i != chosen).map(|(_, c)| c).collect();
    let order = |a: &&Candidate, b: &&Candidate| {
        (a.agent.active_chats, &a.agent.username).cmp(&(b.agent.active_chats, &b.agent.username))
    };
    // Dispatch does this per assignment: pick the few to record in linear time, sort only them.
    let keep = MAX_RECORDED_CANDIDATES - 1;
    if others.len() > keep {
        others.select_nth_unstable_by(keep, order);
        others.truncate(keep);
    }
    others.sort_by(order);
    let recorded = std::iter::once(&candidates[chosen]).chain(others).take(MAX_RECORDED_CANDIDATES);
    (recorded.map(Candidate::load).collect(), candidates.len())
}

/// What [`Engine::commit`] gives back.
struct Committed {
    receipt: CommitReceipt,
    /// The first inquiry of the commit as written (with its deadlines).
    first_inquiry: Option<Inquiry>,
}

fn backoff(round: u32) {
    if round < 3 {
        std::thread::yield_now();
    } else {
        // Up to ~1 ms, randomised so that colliding writers spread out.
        let ceiling = 1u64 << round.min(10);
        std::thread::sleep(Duration::from_micros(rand::Rng::gen_range(&mut rand::thread_rng(), 1..=ceiling)));
    }
}
