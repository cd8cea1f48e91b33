//! Routing many conversations at once: dispatch (release and assign in queue order), an agent's
//! own queue, and where a waiting conversation stands. The policy — who may take what, and whom
//! each method picks — is [`crate::routing`]'s; this module reads, asks it, and commits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use crate::event::{Actor, EventKind, NewEvent};
use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::machine::{self, Transition, TransitionKind};
use crate::model::{Agent, Department, Inquiry, InquiryStatus};
use crate::permissions::Permission;
use crate::query::{DepartmentFilter, Direction, InquiryFilter, InquiryQuery, InquirySort, Page, Paging};
use crate::query::{ReservationFilter, SortField, StatusSet};
use crate::rules::{boosted_order, queue_age, PriorityBoost};
use crate::store::{Commit, Record, Store, StoreError, StoreExt, Versioned, Write};
use crate::CoreError;

use super::{Assignment, Engine};

/// What one [`Engine::dispatch`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Queued inquiries released to agents (queued → open) without an agent.
    pub released: usize,
    /// Inquiries assigned to an agent.
    pub assigned: usize,
    /// Waiting inquiries that no agent could take.
    pub unassigned: usize,
}

/// Where a waiting inquiry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    /// 1 = next to be served, among waiting inquiries of the same department.
    pub position: usize,
    /// See [`Engine::queue_position`] for the formula; `None` when there is no data to base it on.
    pub estimated_wait: Option<Duration>,
}

/// Which agent's queue, and which page of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueRequest {
    /// Whose queue; `None` for the acting user's own.
    pub agent: Option<UserId>,
    /// Narrow to one of the agent's departments (id or name).
    pub department: Option<String>,
    /// `None` for the configured queue order.
    pub sort: Option<InquirySort>,
    /// Which page.
    pub paging: Paging,
}

/// Inquiries handled per listing batch during dispatch.
const DISPATCH_BATCH: usize = 100;
/// Inquiries read per listing call when a whole list is needed (boosts, rule-filtered queues).
const LISTING_BATCH: usize = 1_000;

/// What dispatch does with a waiting inquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DispatchMode {
    /// Manual selection: release queued inquiries so agents can take them.
    ReleaseOnly,
    /// An automatic method: assign to an agent, else release.
    Assign,
}

impl<S: Store> Engine<S> {
    /// Releases queued inquiries and, under an auto routing method, assigns waiting ones in queue
    /// order. Each release or assignment is its own atomic commit, so any number of threads or
    /// servers may dispatch at once: an inquiry is assigned at most once and no agent goes over
    /// its limit. Needs `view-livechat-queue`.
    pub fn dispatch(&self, actor: &Actor) -> Result<DispatchReport, CoreError> {
        self.authorize(actor, Permission::ViewLivechatQueue)?;
        let mut report = DispatchReport::default();
        let mode = if self.config.routing.method.assigns() { DispatchMode::Assign } else { DispatchMode::ReleaseOnly };
        let statuses = match mode {
            DispatchMode::Assign => StatusSet::waiting(),
            DispatchMode::ReleaseOnly => StatusSet::only(InquiryStatus::Queued),
        };
        // Inquiries that stay waiting keep their place, so the next batch starts after them.
        let mut skip = 0;
        // Read once and kept current from our own commits; reloaded after a lost race.
        let mut agents = AgentCache::default();
        // Inquiries whose current routing target boosts them go first; the pass in queue order
        // below then passes over them.
        let boosted = match mode {
            DispatchMode::Assign => self.boosted_inquiries(statuses)?,
            DispatchMode::ReleaseOnly => Vec::new(),
        };
        for id in &boosted {
            match self.route_one(actor, id, mode, &mut agents)? {
                Routed::Assigned => report.assigned += 1,
                Routed::Released => {
                    report.released += 1;
                    report.unassigned += 1;
                }
                Routed::StillWaiting => report.unassigned += 1,
                Routed::Gone => {}
            }
        }
        let boosted: HashSet<InquiryId> = boosted.into_iter().collect();
        loop {
            let query = InquiryQuery {
                filter: InquiryFilter {
                    statuses,
                    departments: DepartmentFilter::Any,
                    reservation: ReservationFilter::Any,
                },
                sort: self.config.routing.queue_order.sort(),
                offset: skip,
                limit: DISPATCH_BATCH,
            };
            let batch = self.store.list_inquiries(&query)?.items;
            if batch.is_empty() {
                return Ok(report);
            }
            for inquiry in &batch {
                if boosted.contains(&inquiry.id) {
                    // Routed (and counted) above; still waiting, so it keeps its place.
                    skip += 1;
                    continue;
                }
                match self.route_one(actor, &inquiry.id, mode, &mut agents)? {
                    Routed::Assigned => report.assigned += 1,
                    Routed::Released => {
                        report.released += 1;
                        if mode == DispatchMode::Assign {
                            report.unassigned += 1;
                            skip += 1;
                        }
                    }
                    Routed::StillWaiting => {
                        report.unassigned += 1;
                        skip += 1;
                    }
                    Routed::Gone => {}
                }
            }
        }
    }

    /// The waiting inquiries whose current routing target boosts them, in dispatch order
    /// ([`boosted_order`]); none, without reading the queue, when no rule boosts.
    fn boosted_inquiries(&self, statuses: StatusSet) -> Result<Vec<InquiryId>, CoreError> {
        let departments = self.departments_by_id()?;
        let routing = &self.config.routing;
        if !routing.rules.boosts() && !departments.values().any(|d| d.routing_rules.boosts()) {
            return Ok(Vec::new());
        }
        let filter =
            InquiryFilter { statuses, departments: DepartmentFilter::Any, reservation: ReservationFilter::Any };
        let waiting = self.list_every(filter, routing.queue_order.sort())?;
        let now = self.now();
        let boosts: Vec<PriorityBoost> = waiting
            .iter()
            .map(|inquiry| {
                let department = inquiry.department.as_ref().and_then(|id| departments.get(id));
                routing.rules_for(department).stage(queue_age(inquiry, now)).boost()
            })
            .collect();
        Ok(boosted_order(&boosts)
            .into_iter()
            .take_while(|&i| !boosts[i].is_none())
            .map(|i| waiting[i].id.clone())
            .collect())
    }

    /// Every department, by id.
    fn departments_by_id(&self) -> Result<HashMap<DepartmentId, Department>, CoreError> {
        Ok(self.store.departments()?.into_iter().map(|d| (d.value.id.clone(), d.value)).collect())
    }

    /// Every inquiry `filter` lets through, in `sort` order, read a batch at a time.
    fn list_every(&self, filter: InquiryFilter, sort: InquirySort) -> Result<Vec<Inquiry>, CoreError> {
        let mut all = Vec::new();
        loop {
            let query = InquiryQuery { filter: filter.clone(), sort, offset: all.len(), limit: LISTING_BATCH };
            let batch = self.store.list_inquiries(&query)?.items;
            let done = batch.len() < LISTING_BATCH;
            all.extend(batch);
            if done {
                return Ok(all);
            }
        }
    }

    /// Routes one inquiry: assign it if an agent can take it, else release it if queued.
    fn route_one(
        &self,
        actor: &Actor,
        id: &InquiryId,
        mode: DispatchMode,
        agents: &mut AgentCache,
    ) -> Result<Routed, CoreError> {
        self.retry(|| {
            let Some(inquiry) = self.store.inquiry(id)? else { return Ok(Routed::Gone) };
            if !inquiry.value.status.is_waiting() {
                return Ok(Routed::Gone);
            }
            // Auto-transfer gave up on it: it waits for someone to take it by hand.
            let gave_up = self.config.timers.auto_transfer_exhausted(&inquiry.value);
            if mode == DispatchMode::Assign && !gave_up {
                if let Some(assignment) = self.pick_agent(&inquiry.value, agents.get(&self.store)?)? {
                    let outcome = self.commit_assignment(actor, inquiry, assignment);
                    match &outcome {
                        Ok(assigned) => agents.update(assigned.clone()),
                        // An agent may have changed under us: read them all again.
                        Err(CoreError::Store(StoreError::Conflict { .. })) => agents.invalidate(),
                        Err(_) => {}
                    }
                    outcome?;
                    return Ok(Routed::Assigned);
                }
            }
            if inquiry.value.status == InquiryStatus::Queued {
                let reason = match mode {
                    DispatchMode::Assign => "no agent can take it now",
                    DispatchMode::ReleaseOnly => "manual selection",
                };
                self.transition(actor, inquiry, Transition::Release, vec![], reason.to_owned())?;
                return Ok(Routed::Released);
            }
            Ok(Routed::StillWaiting)
        })
    }

    /// Commits routing's choice: the inquiry assigned to the agent, or in offer mode offered
    /// to it; either way the agent's slot is taken in the same commit.
    fn commit_assignment(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        assignment: Assignment,
    ) -> Result<Versioned<Agent>, CoreError> {
        let now = self.now();
        let mut current = inquiry.value.clone();
        current.department = assignment.department.clone();
        let transition = self.hand_over(&assignment.agent.value);
        let handed = machine::apply(&current, &transition, now)?;
        let agent = self.with_handover(assignment.agent.value, &inquiry.value.id, &transition);
        let routed = NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: Some(handed.id.clone()),
            kind: EventKind::Routed(assignment.decision),
        };
        let reason = match transition.kind() {
            TransitionKind::Offer => format!("offered to {}", agent.username),
            _ => String::new(),
        };
        let transition = self.transition_event(actor, &current, &handed, transition.kind(), reason);
        let committed = self.commit(Commit {
            writes: vec![
                Write::update(inquiry.version, Record::Inquiry(handed)),
                Write::update(assignment.agent.version, Record::Agent(agent.clone())),
            ],
            events: vec![routed, transition],
        })?;
        Ok(Versioned { version: committed.receipt.versions[1], value: agent })
    }

    /// What an agent may take now (`inquiries.queuedForUser`): open inquiries of its departments
    /// and of the public queue (no department), minus those reserved for other agents and those
    /// whose current routing target it does not match, in queue order unless another sort is
    /// asked for. An agent sees its own queue with `view-l-room`;
    /// another's needs `view-livechat-manager`.
    pub fn queued_for_user(&self, actor: &Actor, request: &QueueRequest) -> Result<Page<Inquiry>, CoreError> {
        let agent_id = self.queue_owner(actor, request.agent.as_ref())?;
        let agent = self.store.agent(&agent_id)?.ok_or(CoreError::NotAnAgent)?.value;
        let mut departments: BTreeSet<Option<DepartmentId>> = agent.departments.iter().cloned().map(Some).collect();
        departments.insert(None);
        if let Some(text) = &request.department {
            let department = self.resolve_department(text)?;
            if !agent.departments.contains(&department.id) {
                return Err(CoreError::Unauthorized { permission: Permission::ViewLivechatManager });
            }
            departments = BTreeSet::from([Some(department.id)]);
        }
        let filter = InquiryFilter {
            statuses: StatusSet::only(InquiryStatus::Open),
            departments: DepartmentFilter::In(departments.clone()),
            reservation: ReservationFilter::AvailableTo(agent_id),
        };
        let sort = request.sort.unwrap_or_else(|| self.config.routing.queue_order.sort());
        let by_id = self.departments_by_id()?;
        let routing = &self.config.routing;
        let rules_apply =
            departments.iter().any(|d| !routing.rules_for(d.as_ref().and_then(|d| by_id.get(d))).is_empty());
        if !rules_apply {
            let query = InquiryQuery { filter, sort, offset: request.paging.offset, limit: request.paging.limit() };
            return Ok(self.store.list_inquiries(&query)?);
        }
        // Rules depend on attributes and queue age, which no store index knows: filter the
        // whole queue here, then cut the page, so the total counts only what the agent may take.
        let now = self.now();
        let takeable: Vec<Inquiry> = self
            .list_every(filter, sort)?
            .into_iter()
            .filter(|inquiry| {
                let department = inquiry.department.as_ref().and_then(|id| by_id.get(id));
                routing.rules_for(department).stage(queue_age(inquiry, now)).admits(&agent, inquiry)
            })
            .collect();
        let total = takeable.len();
        let items = takeable.into_iter().skip(request.paging.offset).take(request.paging.limit()).collect();
        Ok(Page { items, total })
    }

    /// Whose queue `actor` asks for: `agent`, or its own. Its own needs `view-l-room`; another
    /// agent's `view-livechat-manager` too.
    pub(super) fn queue_owner(&self, actor: &Actor, agent: Option<&UserId>) -> Result<UserId, CoreError> {
        let agent_id = match (agent, actor) {
            (Some(agent), Actor::User(me)) if agent == me => agent.clone(),
            (Some(agent), _) => {
                self.authorize(actor, Permission::ViewLivechatManager)?;
                agent.clone()
            }
            (None, Actor::User(me)) => me.clone(),
            (None, _) => return Err(CoreError::InvalidUser),
        };
        self.authorize(actor, Permission::ViewLRoom)?;
        Ok(agent_id)
    }

    /// Where a waiting inquiry stands in its department's queue, and how long it may wait.
    ///
    /// Position: 1 + the waiting (queued or open) inquiries of the same department ahead of it in
    /// queue order, in O(log n) on stores with counted indexes.
    ///
    /// Estimated wait, from data only: let `h` be the mean handling time (taken → closed) of the
    /// most recently closed conversations of that department
    /// ([`RoutingConfig::wait_estimate_sample`](crate::RoutingConfig::wait_estimate_sample)),
    /// `slots` the total chat capacity of available agents who serve it and `free` the unused part.
    /// Inquiries up to `free` wait 0; beyond that, `slots` busy slots free up at a rate of
    /// `slots / h`, so the wait is `(position - free) × h / slots`. (Exact in expectation for
    /// exponential handle times without abandonment; the simulator scores it against the waits
    /// that happened, see docs/simulation.md.) An agent without a limit makes the wait 0. `None`
    /// when no agent is available or no conversation was closed yet.
    pub fn queue_position(&self, actor: &Actor, id: &InquiryId) -> Result<QueuePosition, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?.value;
        if !inquiry.status.is_waiting() {
            return Err(CoreError::IllegalTransition { from: inquiry.status, transition: TransitionKind::Assign });
        }
        let position = self.position_in_queue(&inquiry)?;
        Ok(QueuePosition { position, estimated_wait: self.estimate_wait(&inquiry, position)? })
    }

    /// 1 + the waiting inquiries of the same department ahead of `inquiry` in queue order.
    pub(super) fn position_in_queue(&self, inquiry: &Inquiry) -> Result<usize, CoreError> {
        let filter = InquiryFilter {
            statuses: StatusSet::waiting(),
            departments: DepartmentFilter::In(BTreeSet::from([inquiry.department.clone()])),
            reservation: ReservationFilter::Any,
        };
        let ahead = self
            .store
            .count_before(&filter, self.config.routing.queue_order.sort(), &inquiry.id)?
            .ok_or(CoreError::InquiryNotFound)?;
        Ok(ahead + 1)
    }

    fn estimate_wait(&self, inquiry: &Inquiry, position: usize) -> Result<Option<Duration>, CoreError> {
        let department = self.department_record(inquiry.department.as_ref())?;
        let mut slots = 0u64;
        let mut free = 0u64;
        for agent in self.store.agents()? {
            let agent = &agent.value;
            if !agent.can_serve(inquiry.department.as_ref()) {
                continue;
            }
            let limit = self.config.routing.chat_limit(agent, department.as_ref());
            if limit == 0 {
                return Ok(Some(Duration::ZERO));
            }
            slots += u64::from(limit);
            free += u64::from(limit.saturating_sub(agent.active_chats));
        }
        if slots == 0 {
            return Ok(None);
        }
        if position as u64 <= free {
            return Ok(Some(Duration::ZERO));
        }
        let Some(mean) = self.mean_handling_time(inquiry.department.as_ref())? else { return Ok(None) };
        let ahead = u128::from(position as u64 - free);
        let millis = ahead.saturating_mul(mean.as_millis()) / u128::from(slots);
        Ok(Some(Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))))
    }

    /// Mean taken → closed time of the most recently closed conversations of a department.
    fn mean_handling_time(&self, department: Option<&DepartmentId>) -> Result<Option<Duration>, CoreError> {
        let query = InquiryQuery {
            filter: InquiryFilter {
                statuses: StatusSet::only(InquiryStatus::Closed),
                departments: DepartmentFilter::In(BTreeSet::from([department.cloned()])),
                reservation: ReservationFilter::Any,
            },
            sort: InquirySort { field: SortField::UpdatedAt, direction: Direction::Descending },
            offset: 0,
            limit: self.config.routing.wait_estimate_sample,
        };
        let closed = self.store.list_inquiries(&query)?.items;
        let durations: Vec<u64> =
            closed.iter().filter_map(|i| i.taken_at.map(|taken| i.updated_at.millis_since(taken))).collect();
        if durations.is_empty() {
            return Ok(None);
        }
        let mean = durations.iter().sum::<u64>() / durations.len() as u64;
        Ok(Some(Duration::from_millis(mean)))
    }
}

/// The agents as dispatch last saw them.
#[derive(Default)]
struct AgentCache {
    agents: Option<Vec<Versioned<Agent>>>,
}

impl AgentCache {
    fn get(&mut self, store: &impl Store) -> Result<&[Versioned<Agent>], CoreError> {
        if self.agents.is_none() {
            self.agents = Some(store.agents()?);
        }
        Ok(self.agents.as_deref().unwrap_or_default())
    }

    fn update(&mut self, agent: Versioned<Agent>) {
        if let Some(slot) = self.agents.iter_mut().flatten().find(|a| a.value.id == agent.value.id) {
            *slot = agent;
        }
    }

    fn invalidate(&mut self) {
        self.agents = None;
    }
}

enum Routed {
    Assigned,
    Released,
    StillWaiting,
    Gone,
}
