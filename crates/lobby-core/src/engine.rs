//! [`Engine`]: every operation on inquiries, as read → decide (pure) → versioned commit, retried
//! when another writer got there first.

use std::sync::Arc;
use std::time::Duration;

use crate::event::{Actor, Event, EventKind, EventQuery, NewEvent};
use crate::ids::{DepartmentId, InquiryId, RoomId, UserId};
use crate::machine::{self, Transition, TransitionKind};
use crate::model::{
    Agent, AgentAvailability, DefaultAgent, Department, Inquiry, InquirySource, InquiryStatus, PriorityWeight,
    ServedBy, SourceType, User, VisitorSummary, NO_SLA_MINUTES,
};
use crate::permissions::{Permission, PermissionPolicy};
use crate::query::{DepartmentFilter, InquiryFilter, InquiryQuery, InquirySort, Page, ReservationFilter, StatusSet};
use crate::routing::RoutingConfig;
use crate::store::{Commit, Record, Store, StoreError, StoreExt, Subscription, Versioned, Write};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::CoreError;

/// Rocket.Chat's default page size.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Larger `count`s are capped to this.
pub const MAX_PAGE_SIZE: usize = 100;
/// Longest visitor name and first message we accept.
pub const MAX_NAME_LEN: usize = 256;
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// How the engine behaves; every field has a Rocket.Chat-like default.
#[derive(Clone)]
pub struct EngineConfig {
    pub permissions: PermissionPolicy,
    pub routing: RoutingConfig,
    /// How many times an operation re-reads and retries after losing a race before giving up
    /// with [`CoreError::Contention`].
    pub max_commit_attempts: u32,
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            permissions: PermissionPolicy::default(),
            routing: RoutingConfig::default(),
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
            .field("max_commit_attempts", &self.max_commit_attempts)
            .finish_non_exhaustive()
    }
}

/// The routing engine over a store. Cheap to share behind an `Arc`; every method takes `&self`
/// and is safe to call from many threads (and, with a shared store, many processes) at once.
pub struct Engine<S> {
    pub(crate) store: S,
    pub(crate) config: EngineConfig,
}

/// A new conversation for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInquiry {
    pub visitor: VisitorSummary,
    /// The visitor's display name (`name`).
    pub name: String,
    /// The first message (`message`).
    pub message: String,
    pub department: Option<DepartmentId>,
    /// Reserve it for this agent.
    pub default_agent: Option<UserId>,
    pub priority: PriorityWeight,
    /// SLA minutes (`estimatedWaitingTimeQueue`); `None` for no SLA.
    pub sla_minutes: Option<u64>,
    pub source: SourceType,
    /// The room id to use; a new one is generated when `None`.
    pub room: Option<RoomId>,
}

impl NewInquiry {
    pub fn new(visitor: VisitorSummary, name: impl Into<String>) -> Self {
        Self {
            visitor,
            name: name.into(),
            message: String::new(),
            department: None,
            default_agent: None,
            priority: PriorityWeight::UNSET,
            sla_minutes: None,
            source: SourceType::Widget,
            room: None,
        }
    }
}

/// A request for one page of inquiries (`inquiries.list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Defaults to `open`: what agents can take.
    pub status: InquiryStatus,
    /// A department id or name.
    pub department: Option<String>,
    pub sort: InquirySort,
    pub offset: usize,
    /// Capped at [`MAX_PAGE_SIZE`].
    pub count: usize,
}

impl Default for ListRequest {
    fn default() -> Self {
        Self {
            status: InquiryStatus::Open,
            department: None,
            sort: InquirySort::default(),
            offset: 0,
            count: DEFAULT_PAGE_SIZE,
        }
    }
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(UserId),
    Department(DepartmentId),
}

impl<S: Store> Engine<S> {
    pub fn new(store: S) -> Self {
        Self::with_config(store, EngineConfig::default())
    }

    pub fn with_config(store: S, config: EngineConfig) -> Self {
        Self { store, config }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// Puts a new inquiry in the queue (status `queued`). Routing releases or assigns it on the
    /// next [`Engine::dispatch`].
    pub fn enqueue(&self, actor: &Actor, new: NewInquiry) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let (inquiry, commit) = self.plan_enqueue(actor, &new)?;
            self.store.commit(commit)?;
            Ok(inquiry)
        })
    }

    /// The inquiry and commit that enqueue `new`, checked but not applied.
    pub(crate) fn plan_enqueue(&self, actor: &Actor, new: &NewInquiry) -> Result<(Inquiry, Commit), CoreError> {
        if new.name.trim().is_empty() || new.name.chars().count() > MAX_NAME_LEN {
            return Err(CoreError::invalid("name", format!("must be 1 to {MAX_NAME_LEN} characters")));
        }
        if new.message.len() > MAX_MESSAGE_LEN {
            return Err(CoreError::invalid("message", format!("longer than {MAX_MESSAGE_LEN} bytes")));
        }
        if let Some(department) = &new.department {
            let department = self.store.department(department)?.ok_or(CoreError::DepartmentNotFound)?;
            if !department.value.enabled {
                return Err(CoreError::DepartmentDisabled);
            }
        }
        let default_agent = match &new.default_agent {
            Some(id) => {
                let agent = self.store.agent(id)?.ok_or(CoreError::NotAnAgent)?;
                Some(DefaultAgent { agent_id: agent.value.id, username: agent.value.username })
            }
            None => None,
        };
        if !self.config.routing.queue_without_agents && !self.any_agent_available(new.department.as_ref())? {
            return Err(CoreError::NoAgentOnline);
        }
        let now = self.now();
        let mut rng = rand::thread_rng();
        let id = InquiryId::generate(&mut rng);
        let rid = new.room.clone().unwrap_or_else(|| RoomId::generate(&mut rng));
        let inquiry = Inquiry {
            message: new.message.clone(),
            department: new.department.clone(),
            default_agent,
            priority_weight: new.priority,
            estimated_waiting_time_queue: new.sla_minutes.unwrap_or(NO_SLA_MINUTES),
            source: Some(InquirySource { kind: new.source }),
            ..Inquiry::new(id, rid, new.visitor.clone(), new.name.clone(), now)
        };
        let event = NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: Some(inquiry.id.clone()),
            kind: EventKind::Enqueued { department: inquiry.department.clone() },
        };
        let commit = Commit { writes: vec![Write::create(Record::Inquiry(inquiry.clone()))], events: vec![event] };
        Ok((inquiry, commit))
    }

    /// Releases a queued inquiry to agents (queued → open).
    pub fn release(&self, actor: &Actor, id: &InquiryId) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::ViewLivechatQueue)?;
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            self.transition(actor, inquiry, Transition::Release, vec![], String::new())
        })
    }

    /// One page of inquiries and the total (`inquiries.list`). Needs `view-livechat-manager`.
    pub fn list(&self, actor: &Actor, request: &ListRequest) -> Result<Page<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLivechatManager)?;
        let departments = match &request.department {
            Some(text) => DepartmentFilter::only(self.resolve_department(text)?.id),
            None => DepartmentFilter::Any,
        };
        let query = InquiryQuery {
            filter: InquiryFilter {
                statuses: StatusSet::only(request.status),
                departments,
                reservation: ReservationFilter::Any,
            },
            sort: request.sort,
            offset: request.offset,
            limit: request.count.min(MAX_PAGE_SIZE),
        };
        Ok(self.store.list_inquiries(&query)?)
    }

    /// A department by id, or else by name.
    pub fn resolve_department(&self, id_or_name: &str) -> Result<Department, CoreError> {
        if let Ok(id) = DepartmentId::new(id_or_name) {
            if let Some(found) = self.store.department(&id)? {
                return Ok(found.value);
            }
        }
        Ok(self.store.department_by_name(id_or_name)?.ok_or(CoreError::DepartmentNotFound)?.value)
    }

    /// The inquiry of a room (`inquiries.getOne`); `None` when there is none. Needs `view-l-room`.
    pub fn get_by_room(&self, actor: &Actor, rid: &RoomId) -> Result<Option<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        Ok(self.store.inquiry_by_room(rid)?.map(|found| found.value))
    }

    /// An inquiry by id. Needs `view-l-room`.
    pub fn get(&self, actor: &Actor, id: &InquiryId) -> Result<Option<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        Ok(self.store.inquiry(id)?.map(|found| found.value))
    }

    /// Takes an open inquiry for the acting user or, with `on_behalf_of`, for another user who
    /// must exist and hold `view-l-room` (`inquiries.take`). The serving agent must be available
    /// and within capacity. Exactly one of any number of concurrent takes succeeds; the others
    /// get [`CoreError::InquiryAlreadyTaken`].
    pub fn take(&self, actor: &Actor, id: &InquiryId, on_behalf_of: Option<&UserId>) -> Result<Inquiry, CoreError> {
        let acting = self.authorize(actor, Permission::ViewLRoom)?;
        let agent_id = match (on_behalf_of, &acting) {
            (Some(other), _) => {
                let user = self.store.user(other)?.ok_or(CoreError::InvalidUser)?;
                if !self.config.permissions.allows(&user.value, Permission::ViewLRoom) {
                    return Err(CoreError::InvalidUser);
                }
                other.clone()
            }
            (None, Some(user)) => user.value.id.clone(),
            (None, None) => return Err(CoreError::InvalidUser),
        };
        let reason = match on_behalf_of {
            Some(_) => format!("taken on behalf of {agent_id}"),
            None => String::new(),
        };
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            if inquiry.value.status == InquiryStatus::Taken {
                return Err(CoreError::InquiryAlreadyTaken);
            }
            let agent = self.store.agent(&agent_id)?.ok_or(CoreError::NotAnAgent)?;
            self.check_can_serve(&agent.value, inquiry.value.department.as_ref())?;
            let served = self.served_by(&agent.value);
            let agent_write = Write::update(agent.version, Record::Agent(self.with_assignment(agent.value)));
            self.transition(actor, inquiry, Transition::Take { agent: served }, vec![agent_write], reason.clone())
        })
    }

    /// Puts a taken conversation back in the queue (`inquiries.returnAsInquiry`); it keeps its
    /// place by age. The serving agent needs `view-l-room`; anyone else
    /// `transfer-livechat-guest`.
    pub fn return_to_queue(&self, actor: &Actor, rid: &RoomId) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            let own = matches!(actor, Actor::User(id) if inquiry.value.served_by_id() == Some(id));
            self.authorize(actor, if own { Permission::ViewLRoom } else { Permission::TransferLivechatGuest })?;
            let released = self.release_agent_writes(&inquiry.value)?;
            self.transition(actor, inquiry, Transition::ReturnToQueue, released, String::new())
        })
    }

    /// Hands a taken conversation to another agent, or back to a department's queue. Needs
    /// `transfer-livechat-guest`.
    pub fn transfer(
        &self,
        actor: &Actor,
        rid: &RoomId,
        target: &TransferTarget,
        comment: &str,
    ) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::TransferLivechatGuest)?;
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            if inquiry.value.status != InquiryStatus::Taken {
                let kind = match target {
                    TransferTarget::Agent(_) => TransitionKind::TransferToAgent,
                    TransferTarget::Department(_) => TransitionKind::TransferToDepartment,
                };
                return Err(CoreError::IllegalTransition { from: inquiry.value.status, transition: kind });
            }
            let mut writes = self.release_agent_writes(&inquiry.value)?;
            let transition = match target {
                TransferTarget::Agent(agent_id) => {
                    if inquiry.value.served_by_id() == Some(agent_id) {
                        return Err(CoreError::invalid("agent", "the conversation is already served by this agent"));
                    }
                    let agent = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
                    self.check_can_serve(&agent.value, inquiry.value.department.as_ref())?;
                    let served = self.served_by(&agent.value);
                    writes.push(Write::update(agent.version, Record::Agent(self.with_assignment(agent.value))));
                    Transition::TransferToAgent { agent: served }
                }
                TransferTarget::Department(department_id) => {
                    let department = self.store.department(department_id)?.ok_or(CoreError::DepartmentNotFound)?;
                    if !department.value.enabled {
                        return Err(CoreError::DepartmentDisabled);
                    }
                    Transition::TransferToDepartment { department: department_id.clone() }
                }
            };
            self.transition(actor, inquiry, transition, writes, comment.to_owned())
        })
    }

    /// Closes a conversation. A user needs `close-livechat-room` for one it serves and
    /// `close-others-livechat-room` otherwise; a visitor may close its own.
    pub fn close(&self, actor: &Actor, rid: &RoomId, comment: &str) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            match actor {
                Actor::System => {}
                Actor::User(user_id) => {
                    let own = inquiry.value.served_by_id() == Some(user_id);
                    let needed = if own { Permission::CloseLivechatRoom } else { Permission::CloseOthersLivechatRoom };
                    self.authorize(actor, needed)?;
                }
                Actor::Visitor(token) => {
                    if &inquiry.value.v.token != token {
                        return Err(CoreError::RoomNotFound);
                    }
                }
            }
            let mut writes = if inquiry.value.status == InquiryStatus::Taken {
                self.release_agent_writes(&inquiry.value)?
            } else {
                vec![]
            };
            if let Some(visitor) = self.store.visitor_by_token(&inquiry.value.v.token)? {
                if visitor.value.open_room.as_ref() == Some(rid) {
                    let mut closed = visitor.value;
                    closed.open_room = None;
                    closed.updated_at = self.now();
                    writes.push(Write::update(visitor.version, Record::Visitor(closed)));
                }
            }
            self.transition(actor, inquiry, Transition::Close, writes, comment.to_owned())
        })
    }

    /// Everything recorded about one inquiry, oldest first. Needs `view-l-room`.
    pub fn history(&self, actor: &Actor, id: &InquiryId) -> Result<Vec<Event>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        let query = EventQuery { inquiry: Some(id.clone()), limit: usize::MAX, ..EventQuery::default() };
        Ok(self.store.events(&query)?)
    }

    /// A live feed of everything committed from now on.
    pub fn subscribe(&self) -> Result<Subscription, CoreError> {
        Ok(self.store.subscribe()?)
    }

    // ---- shared steps -------------------------------------------------------------------------

    /// Applies `transition` and commits it with `extra` writes and one event, all-or-nothing.
    pub(crate) fn transition(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        transition: Transition,
        extra: Vec<Write>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let now = self.now();
        let next = machine::apply(&inquiry.value, &transition, now)?;
        let event = NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: Some(next.id.clone()),
            kind: EventKind::Transition {
                transition: transition.kind(),
                agent: next.served_by_id().cloned(),
                previous_agent: inquiry.value.served_by_id().cloned(),
                department: next.department.clone(),
                reason,
            },
        };
        let mut writes = vec![Write::update(inquiry.version, Record::Inquiry(next.clone()))];
        writes.extend(extra);
        self.store.commit(Commit { writes, events: vec![event] })?;
        Ok(next)
    }

    /// Loads the acting user and checks one permission. The system actor may do anything;
    /// a user id that does not exist is refused like a missing permission.
    pub(crate) fn authorize(
        &self,
        actor: &Actor,
        permission: Permission,
    ) -> Result<Option<Versioned<User>>, CoreError> {
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

    /// Whether `user` holds `permission` under this engine's policy.
    pub fn allows(&self, user: &User, permission: Permission) -> bool {
        self.config.permissions.allows(user, permission)
    }

    /// The chat limit that applies to `agent` for a conversation of `department`; 0 = none.
    pub fn chat_limit(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<u32, CoreError> {
        if agent.max_chats > 0 {
            return Ok(agent.max_chats);
        }
        let department = match department {
            Some(id) => self.store.department(id)?.map(|d| d.value),
            None => None,
        };
        Ok(self.limit_with(agent, department.as_ref()))
    }

    /// [`Engine::chat_limit`] with the department already read: agent, else department, else
    /// global.
    pub(crate) fn limit_with(&self, agent: &Agent, department: Option<&Department>) -> u32 {
        [agent.max_chats, department.map_or(0, |d| d.max_chats_per_agent), self.config.routing.max_chats_per_agent]
            .into_iter()
            .find(|&limit| limit > 0)
            .unwrap_or(0)
    }

    /// Available and within capacity for one more conversation of `department`.
    pub(crate) fn check_can_serve(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<(), CoreError> {
        if agent.availability != AgentAvailability::Available {
            return Err(CoreError::AgentNotAvailable);
        }
        let limit = self.chat_limit(agent, department)?;
        if limit > 0 && agent.active_chats >= limit {
            return Err(CoreError::AgentAtCapacity { limit });
        }
        Ok(())
    }

    pub(crate) fn served_by(&self, agent: &Agent) -> ServedBy {
        ServedBy { id: agent.id.clone(), username: agent.username.clone(), ts: self.now() }
    }

    /// The agent after one more conversation was assigned to it.
    pub(crate) fn with_assignment(&self, mut agent: Agent) -> Agent {
        let now = self.now();
        agent.active_chats += 1;
        agent.assigned_total += 1;
        agent.last_routed_at = Some(now);
        agent.updated_at = now;
        agent
    }

    /// The write that frees the serving agent's slot, if the agent still exists.
    pub(crate) fn release_agent_writes(&self, inquiry: &Inquiry) -> Result<Vec<Write>, CoreError> {
        let Some(agent_id) = inquiry.served_by_id() else { return Ok(vec![]) };
        let Some(agent) = self.store.agent(agent_id)? else { return Ok(vec![]) };
        let mut freed = agent.value;
        freed.active_chats = freed.active_chats.saturating_sub(1);
        freed.updated_at = self.now();
        Ok(vec![Write::update(agent.version, Record::Agent(freed))])
    }

    fn any_agent_available(&self, department: Option<&DepartmentId>) -> Result<bool, CoreError> {
        Ok(self.store.agents()?.iter().any(|agent| {
            agent.value.availability == AgentAvailability::Available
                && department.is_none_or(|d| agent.value.departments.contains(d))
        }))
    }

    /// Runs `attempt` until it does not lose a race: a version conflict means someone else
    /// changed what it read, so it reads again. Backs off to let the winner finish.
    pub(crate) fn retry<T>(&self, mut attempt: impl FnMut() -> Result<T, CoreError>) -> Result<T, CoreError> {
        for round in 0..self.config.max_commit_attempts {
            match attempt() {
                Err(CoreError::Store(StoreError::Conflict { .. })) => backoff(round),
                other => return other,
            }
        }
        Err(CoreError::Contention)
    }
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
